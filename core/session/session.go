// Package session is the registry of live sessions and the one revocation
// primitive: every live session is indexed by the credential it holds, and
// ending a credential cancels each of its sessions' contexts with a cause.
// Protocol front ends watch their session's context and close the
// connection in their own protocol's way; they never need to know why a
// credential was revoked, nor does this package know any protocol.
package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"hoop.dev/hoop/core/store"
)

// EndCause is the cancellation cause of a session ended from outside
// (revocation, rotation, shutdown, policy). Front ends read it with
// context.Cause(l.Context()).
type EndCause struct{ Reason string }

func (e *EndCause) Error() string { return "session ended: " + e.Reason }

// Reason returns the end reason carried by err, or "" if err is not an EndCause.
func Reason(err error) string {
	var c *EndCause
	if errors.As(err, &c) {
		return c.Reason
	}
	return ""
}

// StatusPublisher receives status changes (the live stream hub).
type StatusPublisher interface {
	PublishStatus(session, status, reason string)
}

// Registry tracks live sessions.
type Registry struct {
	st  store.Store
	pub StatusPublisher
	log *slog.Logger

	mu     sync.Mutex
	byID   map[string]*Live
	byCred map[string]map[*Live]struct{}
	closed bool // no new sessions after shutdown began
}

// NewRegistry returns an empty registry. pub may be nil.
func NewRegistry(st store.Store, pub StatusPublisher, log *slog.Logger) *Registry {
	return &Registry{st: st, pub: pub, log: log, byID: map[string]*Live{}, byCred: map[string]map[*Live]struct{}{}}
}

// ErrShuttingDown refuses new sessions once shutdown has begun.
var ErrShuttingDown = errors.New("gateway is shutting down")

// Live is one registered session.
type Live struct {
	reg    *Registry
	ctx    context.Context
	cancel context.CancelCauseFunc

	BytesC2S   atomic.Int64
	BytesS2C   atomic.Int64
	Statements atomic.Int64

	mu    sync.Mutex
	meta  store.Session
	ended bool
	done  chan struct{}
}

// Start registers a session in status connecting. meta needs the
// credential, identity, resource, role, protocol and client address; ID
// and StartedAt are filled in when empty. The session's context is derived
// from parent.
func (r *Registry) Start(parent context.Context, meta store.Session) (*Live, error) {
	if meta.ID == "" {
		meta.ID = store.NewID("s")
	}
	if meta.StartedAt.IsZero() {
		meta.StartedAt = time.Now().UTC()
	}
	meta.Status = store.StatusConnecting
	ctx, cancel := context.WithCancelCause(parent)
	l := &Live{reg: r, ctx: ctx, cancel: cancel, meta: meta, done: make(chan struct{})}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		cancel(nil)
		return nil, ErrShuttingDown
	}
	r.byID[meta.ID] = l
	set := r.byCred[meta.CredentialID]
	if set == nil {
		set = map[*Live]struct{}{}
		r.byCred[meta.CredentialID] = set
	}
	set[l] = struct{}{}
	r.mu.Unlock()
	if err := r.st.CreateSession(context.WithoutCancel(parent), meta); err != nil {
		r.remove(l)
		cancel(nil)
		return nil, fmt.Errorf("register session: %w", err)
	}
	r.publish(meta.ID, store.StatusConnecting, "")
	return l, nil
}

func (r *Registry) publish(id, status, reason string) {
	if r.pub != nil {
		r.pub.PublishStatus(id, status, reason)
	}
}

func (r *Registry) remove(l *Live) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.byID, l.meta.ID)
	if set := r.byCred[l.meta.CredentialID]; set != nil {
		delete(set, l)
		if len(set) == 0 {
			delete(r.byCred, l.meta.CredentialID)
		}
	}
}

// ID returns the session id.
func (l *Live) ID() string { return l.meta.ID }

// Meta returns a snapshot of the session's metadata and counters.
func (l *Live) Meta() store.Session {
	l.mu.Lock()
	m := l.meta
	l.mu.Unlock()
	m.BytesC2S, m.BytesS2C, m.Statements = l.BytesC2S.Load(), l.BytesS2C.Load(), l.Statements.Load()
	return m
}

// Context is cancelled when the session must end; context.Cause carries an
// *EndCause when it was ended from outside.
func (l *Live) Context() context.Context { return l.ctx }

// Done is closed once End has completed.
func (l *Live) Done() <-chan struct{} { return l.done }

// SetLive marks the session live (upstream authenticated).
func (l *Live) SetLive(database string) error {
	l.mu.Lock()
	l.meta.Status = store.StatusLive
	l.meta.Database = database
	l.mu.Unlock()
	if err := l.reg.st.UpdateSession(context.Background(), l.Meta()); err != nil {
		return fmt.Errorf("mark session live: %w", err)
	}
	l.reg.publish(l.meta.ID, store.StatusLive, "")
	return nil
}

// MarkFault records a fault (e.g. a decoder trap) on the session.
func (l *Live) MarkFault(msg string) {
	l.mu.Lock()
	l.meta.Fault = msg
	l.mu.Unlock()
}

// Kill asks the session to end with reason; the front end then closes the
// connection and calls End.
func (l *Live) Kill(reason string) { l.cancel(&EndCause{Reason: reason}) }

// End ends the session with reason (the reason of an earlier Kill wins),
// unregisters it and writes its final state. It is idempotent.
func (l *Live) End(reason string) store.Session {
	if r := Reason(context.Cause(l.ctx)); r != "" {
		reason = r
	}
	l.mu.Lock()
	if l.ended {
		l.mu.Unlock()
		return l.Meta()
	}
	l.ended = true
	l.meta.Status = store.StatusEnded
	l.meta.EndReason = reason
	l.meta.EndedAt = time.Now().UTC()
	l.mu.Unlock()
	l.cancel(&EndCause{Reason: reason})
	l.reg.remove(l)
	m := l.Meta()
	if err := l.reg.st.UpdateSession(context.Background(), m); err != nil {
		l.reg.log.Error("write ended session", "session", m.ID, "err", err)
	}
	l.reg.publish(m.ID, store.StatusEnded, reason)
	close(l.done)
	return m
}

// EndCredential ends every live session holding credential id with reason
// and returns how many there were. It returns once each session's context
// is cancelled; the front ends close their connections concurrently.
func (r *Registry) EndCredential(id, reason string) int {
	r.mu.Lock()
	var ls []*Live
	for l := range r.byCred[id] {
		ls = append(ls, l)
	}
	r.mu.Unlock()
	for _, l := range ls {
		l.Kill(reason)
	}
	return len(ls)
}

// Get returns a live session by id.
func (r *Registry) Get(id string) (*Live, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	l, ok := r.byID[id]
	return l, ok
}

// Len returns the number of live sessions.
func (r *Registry) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byID)
}

// Shutdown refuses new sessions, kills every live one with reason
// shutdown and waits until they have ended or ctx is done.
func (r *Registry) Shutdown(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	var ls []*Live
	for _, l := range r.byID {
		ls = append(ls, l)
	}
	r.mu.Unlock()
	for _, l := range ls {
		l.Kill(store.EndShutdown)
	}
	for _, l := range ls {
		select {
		case <-l.done:
		case <-ctx.Done():
			return fmt.Errorf("wait for sessions to end: %w", ctx.Err())
		}
	}
	return nil
}
