package postgres

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"hoop.dev/hoop/core/config"
	"hoop.dev/hoop/core/identity"
	"hoop.dev/hoop/core/record"
	"hoop.dev/hoop/core/session"
	"hoop.dev/hoop/core/store"
)

// maxBatch bounds how many bytes of already-received client messages are
// recorded and forwarded together.
const maxBatch = 256 << 10

// runSession registers the session, dials the resource and relays.
func (c *conn) runSession(br *bufio.Reader, m identity.Match, startupBody []byte) error {
	cfg := c.s.d.Config
	res := cfg.ResourceByName(m.Credential.Resource)
	var roleName = m.Credential.Role
	if res == nil || res.RoleByName(roleName) == nil || res.Protocol != "postgres" {
		c.fatal("28000", fmt.Sprintf("resource role %s/%s of this credential is not configured on this gateway", m.Credential.Resource, roleName))
		return errors.New("resource role not configured")
	}
	role := res.RoleByName(roleName)
	live, err := c.s.d.Sessions.Start(context.Background(), store.Session{
		CredentialID: m.Credential.ID, IdentityID: m.Identity.ID, Identity: m.Identity.Name, Kind: m.Identity.Kind,
		Resource: res.Name, Role: role.Name, Protocol: "postgres", ClientAddr: c.raw.RemoteAddr().String(),
		Database: c.params["database"],
	})
	if err != nil {
		if errors.Is(err, session.ErrShuttingDown) {
			c.fatal("57P01", "the gateway is shutting down")
		} else {
			c.fatal("XX000", "hoop could not register the session, try again")
		}
		return err
	}
	reason := store.EndUpstreamError
	rec := c.s.d.Recorder.Session(live.ID())
	defer func() {
		// The last frames are committed (and published) before the
		// session is marked ended, so a live viewer sees them all.
		fctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		rec.Flush(fctx)
		cancel()
		live.End(reason)
	}()
	log := c.log.With("session", live.ID())

	up, err := c.s.dialUpstream(res, role, c.params)
	if err != nil {
		var ue *UpstreamError
		if errors.As(err, &ue) && ue.Auth {
			reason = store.EndAuthFailed
		}
		log.Warn("postgres upstream login failed", "resource", res.Name, "role", role.Name, "err", err)
		msg := fmt.Sprintf("hoop could not open resource %s as role %s", res.Name, role.Name)
		if ue != nil && ue.Auth {
			msg += ": the resource refused the role's credentials (ask the gateway operator)"
		} else if ue != nil {
			msg += ": " + ue.Err.Error()
		}
		c.fatal("08006", msg)
		return err
	}
	defer up.c.Close()
	hpid, hkey := c.s.keys.add(res.Address, up.pid, up.key)
	defer c.s.keys.remove(hpid)

	// What the client sees of the login: AuthenticationOk, the server's
	// parameters, hoop's BackendKeyData, ReadyForQuery.
	hello := appendMessage(nil, &pgproto3.AuthenticationOk{})
	z := len(up.hello) - 6 // ReadyForQuery is always the last 6 bytes
	hello = append(hello, up.hello[:z]...)
	var kb [4]byte
	binary.BigEndian.PutUint32(kb[:], hkey)
	hello = appendMessage(hello, &pgproto3.BackendKeyData{ProcessID: hpid, SecretKey: kb[:]})
	hello = append(hello, up.hello[z:]...)

	startup := make([]byte, 8, 8+len(startupBody))
	binary.BigEndian.PutUint32(startup, uint32(8+len(startupBody)))
	binary.BigEndian.PutUint32(startup[4:], protocolV3)
	startup = append(startup, startupBody...)

	r := &relay{conn: c, live: live, rec: rec, up: up, res: res, br: br, log: log, startup: startup}
	if c.s.d.Policy.Active(res.Name) {
		r.enf = &enforcer{r: r}
	}
	r.openDecoder()
	defer r.closeDecoder()
	if err := r.record(store.C2S, startup); err != nil {
		reason = store.EndRecordError
		c.fatal("XX000", "hoop cannot record this session, so it will not relay it")
		return err
	}
	if err := rec.Queue(store.S2C, hello); err != nil {
		reason = store.EndRecordError
		return err
	}
	c.raw.SetDeadline(time.Time{})
	if _, err := c.c.Write(hello); err != nil {
		reason = store.EndClientClosed
		return err
	}
	live.BytesC2S.Add(int64(len(startup)))
	live.BytesS2C.Add(int64(len(hello)))
	if err := live.SetLive(up.database); err != nil {
		log.Error("mark session live", "err", err)
	}
	log.Info("postgres session live", "resource", res.Name, "role", role.Name, "database", up.database)
	reason = r.run()
	log.Info("postgres session ended", "reason", reason)
	return nil
}

// relay moves bytes between one client and its upstream.
type relay struct {
	*conn
	live    *session.Live
	rec     *record.Session
	up      *upstream
	res     *config.Resource
	br      *bufio.Reader
	log     interface{ Warn(string, ...any) }
	startup []byte

	dec DecodeStream

	wmu     sync.Mutex // client writes; guards tracker and stopped
	tracker frameTracker
	stopped bool // server bytes are no longer forwarded

	enf      *enforcer
	refusals atomic.Int64 // injected refusals whose answer has not passed yet
	pend     []byte       // server bytes not yet a whole message (filtering only)
	held     []byte       // ParseComplete/BindComplete that may be hoop's
	filtered []byte
	deadline bool // a read deadline is set on the upstream

	terminated atomic.Bool // the client sent Terminate
}

type relayEnd struct {
	reason string
	err    error
}

func (r *relay) run() string {
	ctx := r.live.Context()
	ends := make(chan relayEnd, 2)
	go func() { ends <- r.serverToClient() }()
	go func() { ends <- r.clientToServer(ctx) }()

	var first relayEnd
	pending := 2
	select {
	case first = <-ends:
		pending--
	case <-ctx.Done():
	}
	cause := session.Reason(context.Cause(ctx))
	if cause != "" {
		// Ended from outside: nothing more from the server reaches the
		// client, which is told why; and no statement is left running
		// upstream (a closed socket alone is noticed by the server only
		// when it next writes), so cancel before closing.
		r.wmu.Lock()
		r.stopped = true
		r.wmu.Unlock()
		r.terminate(cause)
		r.s.cancelUpstream(r.res.Address, r.up.pid, r.up.key)
	}
	// Stop both directions: closing the upstream ends server reads and
	// upstream writes; a past deadline ends the client read.
	r.up.c.Close()
	r.c.SetReadDeadline(time.Now())
	for ; pending > 0; pending-- {
		<-ends
	}
	if first.reason == "" {
		first.reason = store.EndClientClosed
	}
	if cause != "" {
		first.reason = cause
	} else if errors.Is(first.err, ErrMessageTooLarge) {
		r.sendFatal("08P01", first.err.Error()+": hoop refuses messages above postgres.max_message_size")
	} else if pe := (*ProtocolError)(nil); errors.As(first.err, &pe) {
		r.sendFatal("08P01", pe.Msg)
	} else if first.reason == store.EndRecordError {
		r.sendFatal("XX000", "hoop cannot record this session, so it ended it")
	}
	return first.reason
}

// terminate tells the client why the session was ended from outside.
func (r *relay) terminate(reason string) {
	msg := map[string]string{
		store.EndRevoked:  "terminating connection: credential revoked",
		store.EndRotated:  "terminating connection: credential rotated, reconnect with the new secret",
		store.EndShutdown: "terminating connection: the gateway is shutting down",
	}[reason]
	if msg == "" {
		msg = "terminating connection: session ended by hoop (" + reason + ")"
	}
	r.sendFatal("57P01", msg)
}

// sendFatal writes a FATAL error if the client stream is at a message
// boundary (otherwise the connection is just closed).
func (r *relay) sendFatal(code, msg string) {
	r.wmu.Lock()
	defer r.wmu.Unlock()
	if !r.tracker.atBoundary() {
		return
	}
	r.c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	b := appendMessage(nil, errorMessage("FATAL", code, msg))
	r.c.Write(b)
	r.rec.Queue(store.S2C, b)
}

func (r *relay) serverToClient() relayEnd {
	buf := make([]byte, 64<<10)
	for {
		n, err := r.up.br.Read(buf)
		if n > 0 {
			if rerr := r.rec.Queue(store.S2C, buf[:n]); rerr != nil {
				return relayEnd{reason: store.EndRecordError, err: rerr}
			}
			r.live.BytesS2C.Add(int64(n))
			data := buf[:n]
			if r.refusals.Load() > 0 || len(r.held) > 0 || len(r.pend) > 0 {
				data = r.filterRefusals(data)
			}
			if end, ok := r.toClient(data); !ok {
				return end
			}
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && len(r.held) > 0 {
				// Nothing followed a held ParseComplete: it was the client's.
				r.up.c.SetReadDeadline(time.Time{})
				r.deadline = false
				held := append([]byte(nil), r.held...)
				r.held = r.held[:0]
				if end, ok := r.toClient(held); !ok {
					return end
				}
				continue
			}
			if errors.Is(err, net.ErrClosed) || r.terminated.Load() {
				return relayEnd{reason: store.EndClientClosed}
			}
			return relayEnd{reason: store.EndUpstreamError, err: err}
		}
		if len(r.held) > 0 {
			// Wait briefly for the rest of a possible refusal.
			r.up.c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			r.deadline = true
		} else if r.deadline {
			r.up.c.SetReadDeadline(time.Time{})
			r.deadline = false
		}
	}
}

// toClient writes server bytes to the client unless the session was
// stopped from outside.
func (r *relay) toClient(data []byte) (relayEnd, bool) {
	if len(data) == 0 {
		return relayEnd{}, true
	}
	r.wmu.Lock()
	defer r.wmu.Unlock()
	if r.stopped {
		return relayEnd{}, false
	}
	_, err := r.c.Write(data)
	r.tracker.feed(data)
	if err != nil {
		return relayEnd{reason: store.EndClientClosed, err: err}, false
	}
	return relayEnd{}, true
}

func (r *relay) clientToServer(ctx context.Context) relayEnd {
	max := r.s.d.Config.Postgres.MaxMessageSize
	batch := make([]byte, 0, 16<<10)
	var out []byte
	for {
		var terminate bool
		var err error
		batch, terminate, err = readBatch(r.br, batch[:0], max)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, net.ErrClosed) {
				if len(batch) == 0 {
					return relayEnd{reason: store.EndClientClosed}
				}
			}
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return relayEnd{reason: store.EndClientClosed}
			}
			var pe *ProtocolError
			if errors.Is(err, ErrMessageTooLarge) || errors.As(err, &pe) {
				return relayEnd{reason: store.EndProtocolError, err: err}
			}
			return relayEnd{reason: store.EndClientClosed, err: err}
		}
		if terminate {
			// The server closes after Terminate: that is the client's doing.
			r.terminated.Store(true)
		}
		if err := r.record(store.C2S, batch); err != nil {
			if ctx.Err() != nil {
				return relayEnd{}
			}
			return relayEnd{reason: store.EndRecordError, err: err}
		}
		r.live.BytesC2S.Add(int64(len(batch)))
		fwd := batch
		if r.enf != nil {
			fwd, err = r.enf.enforce(ctx, batch, out[:0])
			if err != nil {
				if ctx.Err() != nil {
					return relayEnd{}
				}
				return relayEnd{reason: store.EndUpstreamError, err: err}
			}
			out = fwd
		}
		if _, err := r.up.c.Write(fwd); err != nil {
			return relayEnd{reason: store.EndUpstreamError, err: err}
		}
		if terminate {
			return relayEnd{reason: store.EndClientClosed}
		}
	}
}

// readBatch reads at least one whole message and then every further whole
// message already buffered, up to maxBatch bytes. terminate reports a
// Terminate message in the batch.
func readBatch(br *bufio.Reader, dst []byte, max int) ([]byte, bool, error) {
	terminate := false
	for first := true; ; first = false {
		if !first {
			if br.Buffered() < 5 || len(dst) >= maxBatch {
				return dst, terminate, nil
			}
			hdr, _ := br.Peek(5)
			n := int(binary.BigEndian.Uint32(hdr[1:]))
			if br.Buffered() < 1+n || len(dst)+1+n > maxBatch {
				return dst, terminate, nil
			}
		}
		hdr, err := br.Peek(5)
		if err != nil {
			if len(hdr) > 0 && errors.Is(err, io.EOF) {
				return dst, terminate, io.ErrUnexpectedEOF
			}
			return dst, terminate, err
		}
		n := int(binary.BigEndian.Uint32(hdr[1:]))
		if n < 4 {
			return dst, terminate, &ProtocolError{fmt.Sprintf("invalid message length %d for message type %q", n, hdr[0])}
		}
		if n-4 > max {
			return dst, terminate, fmt.Errorf("%w: %d bytes (limit %d)", ErrMessageTooLarge, n-4, max)
		}
		if hdr[0] == 'X' {
			terminate = true
		}
		start := len(dst)
		dst = append(dst, make([]byte, 1+n)...)
		if _, err := io.ReadFull(br, dst[start:]); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return dst[:start], terminate, err
		}
		if terminate {
			return dst, true, nil
		}
	}
}

// record commits a client frame, with the statements the decoder finds
// in it, before it is forwarded.
func (r *relay) record(dir store.Dir, data []byte) error {
	events := r.decode(data)
	r.live.Statements.Add(int64(len(events)))
	return r.rec.Commit(r.live.Context(), dir, data, events)
}

func (r *relay) openDecoder() {
	if r.s.d.Decoder == nil {
		return
	}
	ds, err := r.s.d.Decoder.Open(r.live.Context())
	if err != nil {
		r.fault(fmt.Sprintf("open decoder: %v", err))
		return
	}
	r.dec = ds
}

func (r *relay) closeDecoder() {
	if r.dec != nil {
		r.dec.Close()
	}
}

func (r *relay) fault(msg string) {
	r.live.MarkFault(msg)
	r.log.Warn("postgres decoder fault", "err", msg)
	r.rec.Event(context.Background(), false, store.Event{Kind: store.EventFault, Text: msg})
}

// decode feeds client bytes to the decoder and returns statement events. A
// decoder fault never stops the relay: it is marked on the session and the
// decoder is reopened (and re-fed the startup packet, so it is in step).
func (r *relay) decode(data []byte) []store.Event {
	if r.dec == nil {
		return nil
	}
	ctx := r.live.Context()
	out, err := r.dec.Feed(ctx, int32(store.C2S), data)
	if err != nil {
		r.fault(fmt.Sprintf("decoder: %v", err))
		r.dec.Close()
		r.dec = nil
		r.openDecoder()
		if r.dec != nil && &data[0] != &r.startup[0] {
			if _, err := r.dec.Feed(ctx, int32(store.C2S), r.startup); err != nil {
				r.dec.Close()
				r.dec = nil
			}
		}
		return nil
	}
	return statements(out)
}

// statements picks the statement events out of decoder output. The
// decoder writes "type" before "text" (decoders/postgres/EVENTS.md), so a
// scan finds them; only the text string itself goes through the JSON
// decoder.
func statements(jsonl []byte) []store.Event {
	var evs []store.Event
	for len(jsonl) > 0 {
		line := jsonl
		if i := bytes.IndexByte(jsonl, '\n'); i >= 0 {
			line, jsonl = jsonl[:i], jsonl[i+1:]
		} else {
			jsonl = nil
		}
		if !bytes.Contains(line, []byte(`"type":"statement"`)) {
			continue
		}
		i := bytes.Index(line, []byte(`"text":"`))
		if i < 0 {
			continue
		}
		raw := line[i+7:]
		end := 1
		for end < len(raw) && raw[end] != '"' {
			if raw[end] == '\\' {
				end++
			}
			end++
		}
		if end >= len(raw) {
			continue
		}
		var text string
		if json.Unmarshal(raw[:end+1], &text) == nil {
			evs = append(evs, store.Event{Kind: store.EventStatement, Text: text})
		}
	}
	return evs
}
