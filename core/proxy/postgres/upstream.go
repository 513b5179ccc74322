package postgres

import (
	"bufio"
	"crypto/md5"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"hoop.dev/hoop/core/config"
	"hoop.dev/hoop/core/identity"
)

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// upstream is an authenticated connection to the resource.
type upstream struct {
	c  net.Conn
	br *bufio.Reader
	// hello holds the server's ParameterStatus and notices up to and
	// including ReadyForQuery, re-encoded for the client (the server's
	// BackendKeyData is replaced by hoop's own).
	hello     []byte
	pid       uint32
	key       []byte
	database  string
	serverErr *pgproto3.ErrorResponse // set when the server refused the login
}

// UpstreamError is a failure to reach or log in to the resource.
type UpstreamError struct {
	Auth bool // the server refused the role's credentials
	Err  error
}

func (e *UpstreamError) Error() string { return "upstream: " + e.Err.Error() }
func (e *UpstreamError) Unwrap() error { return e.Err }

// dialUpstream connects to res and logs in as role with the client's
// startup parameters (user replaced, database pinned when configured).
func (s *Server) dialUpstream(res *config.Resource, role *config.Role, params map[string]string) (*upstream, error) {
	password, err := role.Password()
	if err != nil {
		return nil, &UpstreamError{Err: err}
	}
	c, err := net.DialTimeout("tcp", res.Address, 10*time.Second)
	if err != nil {
		return nil, &UpstreamError{Err: fmt.Errorf("dial %s: %w", res.Name, err)}
	}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	u := &upstream{c: c}
	fail := func(err error) (*upstream, error) {
		c.Close()
		return nil, err
	}
	if res.TLS == "require" || res.TLS == "verify" {
		if _, err := c.Write(appendMessage(nil, &pgproto3.SSLRequest{})); err != nil {
			return fail(&UpstreamError{Err: err})
		}
		var b [1]byte
		if _, err := c.Read(b[:]); err != nil {
			return fail(&UpstreamError{Err: err})
		}
		if b[0] != 'S' {
			return fail(&UpstreamError{Err: fmt.Errorf("resource %s does not offer TLS (tls = %q)", res.Name, res.TLS)})
		}
		host, _, _ := net.SplitHostPort(res.Address)
		tc := tls.Client(c, &tls.Config{ServerName: host, InsecureSkipVerify: res.TLS == "require", MinVersion: tls.VersionTLS12})
		if err := tc.Handshake(); err != nil {
			return fail(&UpstreamError{Err: fmt.Errorf("tls handshake with %s: %w", res.Name, err)})
		}
		u.c = tc
	}
	u.br = bufio.NewReaderSize(u.c, 64<<10)
	sp := map[string]string{}
	for k, v := range params {
		sp[k] = v
	}
	sp["user"] = role.User
	if sp["database"] == "" {
		sp["database"] = params["user"]
	}
	if res.Database != "" {
		sp["database"] = res.Database
	}
	u.database = sp["database"]
	if _, err := u.c.Write(appendMessage(nil, &pgproto3.StartupMessage{ProtocolVersion: protocolV3, Parameters: sp})); err != nil {
		return fail(&UpstreamError{Err: err})
	}
	if err := s.upstreamAuth(u, role.User, password); err != nil {
		return fail(err)
	}
	c.SetDeadline(time.Time{})
	return u, nil
}

func (s *Server) upstreamAuth(u *upstream, user, password string) error {
	var scram struct {
		clientFirstBare, serverFirst, finalNoProof, nonce string
		serverSig                                         []byte
	}
	for {
		typ, body, err := readMessage(u.br, 1<<20)
		if err != nil {
			return &UpstreamError{Err: fmt.Errorf("read login reply: %w", err)}
		}
		switch typ {
		case 'R':
			if len(body) < 4 {
				return &UpstreamError{Err: errors.New("malformed authentication request")}
			}
			kind := uint32(body[0])<<24 | uint32(body[1])<<16 | uint32(body[2])<<8 | uint32(body[3])
			var reply pgproto3.FrontendMessage
			switch kind {
			case 0: // AuthenticationOk
				continue
			case 3: // cleartext
				reply = &pgproto3.PasswordMessage{Password: password}
			case 5: // md5
				if len(body) < 8 {
					return &UpstreamError{Err: errors.New("malformed md5 request")}
				}
				inner := md5.Sum([]byte(password + user))
				outer := md5.Sum(append([]byte(hex.EncodeToString(inner[:])), body[4:8]...))
				reply = &pgproto3.PasswordMessage{Password: "md5" + hex.EncodeToString(outer[:])}
			case 10: // SASL
				var m pgproto3.AuthenticationSASL
				if err := m.Decode(body); err != nil {
					return &UpstreamError{Err: err}
				}
				ok := false
				for _, mech := range m.AuthMechanisms {
					ok = ok || mech == "SCRAM-SHA-256"
				}
				if !ok {
					return &UpstreamError{Err: fmt.Errorf("server offers no supported SASL mechanism: %v", m.AuthMechanisms)}
				}
				scram.nonce = identity.NewNonce()
				scram.clientFirstBare = "n=,r=" + scram.nonce
				reply = &pgproto3.SASLInitialResponse{AuthMechanism: "SCRAM-SHA-256", Data: []byte("n,," + scram.clientFirstBare)}
			case 11: // SASL continue
				scram.serverFirst = string(body[4:])
				nonce, salt, iter, err := identity.ParseServerFirst(scram.serverFirst)
				if err != nil {
					return &UpstreamError{Err: err}
				}
				if len(nonce) <= len(scram.nonce) || nonce[:len(scram.nonce)] != scram.nonce {
					return &UpstreamError{Err: errors.New("SCRAM server nonce does not extend ours")}
				}
				sp := s.scram.get(password, salt, iter)
				var final string
				final, scram.serverSig = identity.ClientProof(sp, scram.clientFirstBare, scram.serverFirst, "c=biws,r="+nonce)
				reply = &pgproto3.SASLResponse{Data: []byte(final)}
			case 12: // SASL final
				want := "v=" + b64(scram.serverSig)
				if scram.serverSig == nil || string(body[4:]) != want {
					return &UpstreamError{Err: errors.New("SCRAM server signature mismatch: the resource is not who it claims")}
				}
				continue
			default:
				return &UpstreamError{Err: fmt.Errorf("server asks for unsupported authentication method %d", kind)}
			}
			if _, err := u.c.Write(appendMessage(nil, reply)); err != nil {
				return &UpstreamError{Err: err}
			}
		case 'E':
			var e pgproto3.ErrorResponse
			if err := e.Decode(body); err != nil {
				return &UpstreamError{Err: err}
			}
			u.serverErr = &e
			auth := e.Code == "28P01" || e.Code == "28000"
			return &UpstreamError{Auth: auth, Err: fmt.Errorf("server refused login: %s (SQLSTATE %s)", e.Message, e.Code)}
		case 'K':
			var k pgproto3.BackendKeyData
			if err := k.Decode(body); err != nil {
				return &UpstreamError{Err: err}
			}
			u.pid, u.key = k.ProcessID, k.SecretKey
		case 'Z':
			u.hello = appendRaw(u.hello, typ, body)
			return nil
		default: // ParameterStatus, NoticeResponse, NegotiateProtocolVersion
			u.hello = appendRaw(u.hello, typ, body)
		}
	}
}

func appendRaw(dst []byte, typ byte, body []byte) []byte {
	n := len(body) + 4
	dst = append(dst, typ, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	return append(dst, body...)
}

// saltedCache remembers SCRAM salted passwords of upstream roles, so a new
// session does not pay PBKDF2 again (the server's salt and iteration count
// for a role only change with its password).
type saltedCache struct {
	mu sync.Mutex
	m  map[[32]byte][]byte
}

func newSaltedCache() *saltedCache { return &saltedCache{m: map[[32]byte][]byte{}} }

func (c *saltedCache) get(password string, salt []byte, iter int) []byte {
	h := sha256.New()
	fmt.Fprintf(h, "%d\x00%x\x00", iter, salt)
	h.Write([]byte(password))
	var k [32]byte
	h.Sum(k[:0])
	c.mu.Lock()
	v, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return v
	}
	v = identity.SaltedPassword(password, salt, iter)
	c.mu.Lock()
	if len(c.m) > 1024 {
		clear(c.m)
	}
	c.m[k] = v
	c.mu.Unlock()
	return v
}
