// Package postgres is hoop's PostgreSQL front end. It speaks protocol 3.0
// to any native client, authenticates the client with a hoop credential
// (SCRAM-SHA-256 against the stored verifier), dials the credential's
// resource as the bound role with the role's real secret, then relays both
// ways: each client message batch is recorded and decoded before it is
// forwarded, server bytes are recorded as they pass. It depends on the core
// services and knows nothing of why a session is ended from outside: it
// watches the session's context.
package postgres

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"hoop.dev/hoop/core/config"
	"hoop.dev/hoop/core/identity"
	"hoop.dev/hoop/core/record"
	"hoop.dev/hoop/core/session"
)

// DecodeStream decodes one session's bytes (a decoder plugin stream).
type DecodeStream interface {
	// Feed returns the JSON Lines events decoded from data.
	Feed(ctx context.Context, dir int32, data []byte) ([]byte, error)
	Close()
}

// Decoder opens decode streams; nil disables server-side decoding.
type Decoder interface {
	Open(ctx context.Context) (DecodeStream, error)
}

// Deps are the core services the front end uses.
type Deps struct {
	Config   *config.Config
	Identity *identity.Service
	Sessions *session.Registry
	Recorder *record.Recorder
	Decoder  Decoder
	Log      *slog.Logger
}

// Server accepts PostgreSQL clients.
type Server struct {
	d      Deps
	tls    *tls.Config
	keys   *keyMap
	scram  *saltedCache
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu sync.Mutex
	ln net.Listener
}

// New returns a front end; it loads the TLS key pair when configured.
func New(d Deps) (*Server, error) {
	s := &Server{d: d, keys: newKeyMap(), scram: newSaltedCache()}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if c := d.Config.Postgres; c.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
		if err != nil {
			return nil, fmt.Errorf("load postgres tls key pair: %w", err)
		}
		s.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	return s, nil
}

// Serve accepts connections on ln until Close.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	for {
		c, err := ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return fmt.Errorf("accept postgres client: %w", err)
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.handle(c)
		}()
	}
}

// Close stops accepting new connections. Live sessions are ended through
// the session registry; Wait waits for their handlers.
func (s *Server) Close() error {
	s.cancel()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return s.ln.Close()
	}
	return nil
}

// Wait blocks until every connection handler has returned.
func (s *Server) Wait() { s.wg.Wait() }

// conn is one client connection during the startup phase.
type conn struct {
	s      *Server
	raw    net.Conn
	c      net.Conn // raw or its TLS wrapper
	isTLS  bool
	log    *slog.Logger
	params map[string]string
}

func (s *Server) handle(raw net.Conn) {
	defer raw.Close()
	c := &conn{s: s, raw: raw, c: raw, log: s.d.Log.With("client", raw.RemoteAddr().String())}
	// The whole startup phase, authentication included, has a deadline.
	raw.SetDeadline(time.Now().Add(30 * time.Second))
	if err := c.startup(); err != nil {
		c.log.Debug("postgres startup ended", "err", err)
		return
	}
}

// fatal sends a FATAL ErrorResponse; write errors are irrelevant since the
// connection closes next.
func (c *conn) fatal(code, msg string) {
	c.c.SetWriteDeadline(time.Now().Add(2 * time.Second))
	c.c.Write(appendMessage(nil, errorMessage("FATAL", code, msg)))
}

func (c *conn) startup() error {
	for {
		code, body, err := readStartup(c.c)
		if err != nil {
			var pe *ProtocolError
			if errors.As(err, &pe) {
				c.fatal("08P01", pe.Msg)
			}
			return err
		}
		switch code {
		case codeSSLRequest:
			if c.isTLS {
				c.fatal("08P01", "SSLRequest received on an encrypted connection")
				return errors.New("second SSLRequest")
			}
			if c.s.tls == nil {
				if _, err := c.c.Write([]byte{'N'}); err != nil {
					return err
				}
				continue
			}
			if _, err := c.c.Write([]byte{'S'}); err != nil {
				return err
			}
			tc := tls.Server(c.raw, c.s.tls)
			if err := tc.Handshake(); err != nil {
				return fmt.Errorf("tls handshake: %w", err)
			}
			c.c, c.isTLS = tc, true
		case codeGSSENCRequest:
			if _, err := c.c.Write([]byte{'N'}); err != nil {
				return err
			}
		case codeCancelRequest:
			c.s.cancelRequest(body)
			return nil
		case protocolV3:
			params, err := parseStartupParams(body)
			if err != nil {
				c.fatal("08P01", err.Error())
				return err
			}
			c.params = params
			return c.authenticate(body)
		default:
			major, minor := code>>16, code&0xffff
			c.fatal("0A000", fmt.Sprintf("unsupported frontend protocol %d.%d: server supports 3.0", major, minor))
			return fmt.Errorf("unsupported protocol %d.%d", major, minor)
		}
	}
}

// authenticate runs the client login and then the session.
func (c *conn) authenticate(startupBody []byte) error {
	user := c.params["user"]
	if user == "" {
		c.fatal("28000", "no user name specified in the startup packet: use the identity name as the user")
		return errors.New("no user")
	}
	if _, ok := c.params["replication"]; ok {
		c.fatal("0A000", "replication connections are not supported through hoop")
		return errors.New("replication requested")
	}
	ctx := c.s.ctx
	cand, err := c.s.d.Identity.Lookup(ctx, user)
	if err != nil {
		c.fatal("XX000", "hoop could not look up credentials, try again")
		return err
	}
	br := bufio.NewReaderSize(c.c, 64<<10)
	var m identity.Match
	if c.isTLS && c.s.d.Config.Postgres.AllowCleartextOverTLS {
		m, err = c.cleartextAuth(br, cand)
	} else {
		m, err = c.scramAuth(br, cand)
	}
	if err != nil {
		c.authFailed(user, err)
		return err
	}
	c.log = c.log.With("identity", m.Identity.Name, "credential", m.Credential.ID)
	return c.runSession(br, m, startupBody)
}

func (c *conn) authFailed(user string, err error) {
	switch {
	case errors.Is(err, identity.ErrRevoked):
		c.fatal("28P01", fmt.Sprintf("credential revoked for user %q: ask for a new credential", user))
	case errors.Is(err, identity.ErrExpired):
		c.fatal("28P01", fmt.Sprintf("credential expired for user %q: rotate it or ask for a new one", user))
	case errors.Is(err, identity.ErrAuthFailed):
		c.fatal("28P01", fmt.Sprintf("password authentication failed for user %q", user))
	default:
		var pe *ProtocolError
		if errors.As(err, &pe) {
			c.fatal("08P01", pe.Msg)
		}
	}
	c.log.Warn("postgres client authentication failed", "user", user, "err", err)
}

// scramAuth runs SCRAM-SHA-256 against the identity's credentials.
func (c *conn) scramAuth(br *bufio.Reader, cand identity.Candidates) (identity.Match, error) {
	out := appendMessage(nil, &pgproto3.AuthenticationSASL{AuthMechanisms: []string{"SCRAM-SHA-256"}})
	if _, err := c.c.Write(out); err != nil {
		return identity.Match{}, err
	}
	typ, body, err := readMessage(br, 8192)
	if err != nil {
		return identity.Match{}, err
	}
	if typ != 'p' {
		return identity.Match{}, &ProtocolError{fmt.Sprintf("expected SASLInitialResponse, got message type %q", typ)}
	}
	var init pgproto3.SASLInitialResponse
	if err := init.Decode(body); err != nil {
		return identity.Match{}, &ProtocolError{"malformed SASLInitialResponse"}
	}
	if init.AuthMechanism != "SCRAM-SHA-256" {
		return identity.Match{}, &ProtocolError{fmt.Sprintf("SASL mechanism %q is not supported (use SCRAM-SHA-256)", init.AuthMechanism)}
	}
	cf, err := identity.ParseClientFirst(string(init.Data))
	if err != nil {
		return identity.Match{}, &ProtocolError{err.Error()}
	}
	nonce := cf.Nonce + identity.NewNonce()
	sf := identity.ServerFirst(nonce, cand.Salt, cand.Iterations)
	if _, err := c.c.Write(appendMessage(nil, &pgproto3.AuthenticationSASLContinue{Data: []byte(sf)})); err != nil {
		return identity.Match{}, err
	}
	typ, body, err = readMessage(br, 8192)
	if err != nil {
		return identity.Match{}, err
	}
	if typ != 'p' {
		return identity.Match{}, &ProtocolError{fmt.Sprintf("expected SASLResponse, got message type %q", typ)}
	}
	fin, err := identity.ParseClientFinal(string(body))
	if err != nil {
		return identity.Match{}, &ProtocolError{err.Error()}
	}
	if fin.Nonce != nonce {
		return identity.Match{}, &ProtocolError{"SCRAM nonce mismatch"}
	}
	authMessage := cf.Bare + "," + sf + "," + fin.WithoutProof
	m, sig, err := c.s.d.Identity.VerifySCRAM(cand, authMessage, fin.Proof)
	if err != nil {
		return m, err
	}
	final := "v=" + b64(sig)
	if _, err := c.c.Write(appendMessage(nil, &pgproto3.AuthenticationSASLFinal{Data: []byte(final)})); err != nil {
		return m, err
	}
	return m, nil
}

// cleartextAuth asks for the secret itself (only over TLS).
func (c *conn) cleartextAuth(br *bufio.Reader, cand identity.Candidates) (identity.Match, error) {
	if _, err := c.c.Write(appendMessage(nil, &pgproto3.AuthenticationCleartextPassword{})); err != nil {
		return identity.Match{}, err
	}
	typ, body, err := readMessage(br, 8192)
	if err != nil {
		return identity.Match{}, err
	}
	if typ != 'p' {
		return identity.Match{}, &ProtocolError{fmt.Sprintf("expected PasswordMessage, got message type %q", typ)}
	}
	secret, _, ok := cstring(body)
	if !ok {
		return identity.Match{}, &ProtocolError{"malformed PasswordMessage"}
	}
	return c.s.d.Identity.VerifySecret(cand, secret)
}

var _ io.Reader = (*bufio.Reader)(nil)
