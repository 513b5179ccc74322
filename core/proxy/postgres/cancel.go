package postgres

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"net"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"
)

// keyMap maps the BackendKeyData hoop gives each client to the upstream
// backend it stands for, so a CancelRequest reaches the right server
// process. The client never learns the upstream's process id or key.
type keyMap struct {
	mu sync.Mutex
	m  map[uint32]cancelTarget
}

type cancelTarget struct {
	key  uint32 // hoop's secret key given to the client
	addr string
	pid  uint32 // the upstream's process id
	sec  []byte // and secret key
}

func newKeyMap() *keyMap { return &keyMap{m: map[uint32]cancelTarget{}} }

func (k *keyMap) add(addr string, pid uint32, sec []byte) (uint32, uint32) {
	var b [8]byte
	k.mu.Lock()
	defer k.mu.Unlock()
	for {
		rand.Read(b[:])
		hpid := binary.BigEndian.Uint32(b[:4]) & 0x7fffffff
		if _, taken := k.m[hpid]; hpid != 0 && !taken {
			key := binary.BigEndian.Uint32(b[4:])
			k.m[hpid] = cancelTarget{key: key, addr: addr, pid: pid, sec: sec}
			return hpid, key
		}
	}
}

func (k *keyMap) remove(pid uint32) {
	k.mu.Lock()
	delete(k.m, pid)
	k.mu.Unlock()
}

// cancelRequest forwards a CancelRequest whose key matches a live session.
// As in PostgreSQL, nothing is sent back either way.
func (s *Server) cancelRequest(body []byte) {
	if len(body) != 8 {
		return
	}
	pid, key := binary.BigEndian.Uint32(body[:4]), binary.BigEndian.Uint32(body[4:])
	s.keys.mu.Lock()
	t, ok := s.keys.m[pid]
	s.keys.mu.Unlock()
	var a, b [4]byte
	binary.BigEndian.PutUint32(a[:], key)
	binary.BigEndian.PutUint32(b[:], t.key)
	if !ok || subtle.ConstantTimeCompare(a[:], b[:]) != 1 {
		s.d.Log.Warn("postgres cancel request with unknown key", "pid", pid)
		return
	}
	s.cancelUpstream(t.addr, t.pid, t.sec)
}

// cancelUpstream sends a CancelRequest for backend pid to addr.
func (s *Server) cancelUpstream(addr string, pid uint32, key []byte) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		s.d.Log.Warn("send cancel request", "err", err)
		return
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write(appendMessage(nil, &pgproto3.CancelRequest{ProcessID: pid, SecretKey: key}))
	// Wait for the server to close, so the cancel has been processed when
	// the client's own connection closes.
	var one [1]byte
	c.Read(one[:])
}
