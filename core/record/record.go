// Package record persists every relayed frame incrementally, with group
// commit across sessions. A frame recorded with Commit is in the store
// (committed to SQLite's WAL, so it survives kill -9 of the gateway) when
// Commit returns; front ends forward a client's bytes only after that.
// Frames recorded with Queue (server to client) are committed within
// FlushDelay. Committed frames and events are then published to the live
// stream hub, so a subscriber that catches up from the store and then
// follows the hub sees no gap.
package record

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"hoop.dev/hoop/core/store"
)

// Publisher receives what was committed (the stream hub).
type Publisher interface {
	PublishFrames(frames []store.Frame)
	PublishEvents(events []store.Event)
}

// Options tune the recorder.
type Options struct {
	// FlushDelay bounds how long a queued frame waits for its commit when
	// no client frame forces one sooner. Default 20ms (the requirement is
	// 100ms).
	FlushDelay time.Duration
	// MaxPending bounds the bytes waiting for a commit; recording callers
	// block beyond it (backpressure instead of unbounded memory). Default 32 MiB.
	MaxPending int
}

// ErrClosed is returned after Close.
var ErrClosed = errors.New("recorder closed")

// Recorder is the group-commit writer.
type Recorder struct {
	st  store.Store
	pub Publisher
	log *slog.Logger
	opt Options

	mu       sync.Mutex
	cond     *sync.Cond // signalled when pending bytes drop
	frames   []store.Frame
	events   []store.Event
	bytes    int
	urgent   bool
	batch    *batch
	closed   bool
	wake     chan struct{}
	finished chan struct{}
}

type batch struct {
	done chan struct{}
	err  error
}

// New starts a recorder. pub may be nil.
func New(st store.Store, pub Publisher, log *slog.Logger, opt Options) *Recorder {
	if opt.FlushDelay <= 0 {
		opt.FlushDelay = 20 * time.Millisecond
	}
	if opt.MaxPending <= 0 {
		opt.MaxPending = 32 << 20
	}
	r := &Recorder{st: st, pub: pub, log: log, opt: opt, batch: &batch{done: make(chan struct{})},
		wake: make(chan struct{}, 1), finished: make(chan struct{})}
	r.cond = sync.NewCond(&r.mu)
	go r.loop()
	return r
}

// Session is one session's recording handle: it numbers frames and events.
type Session struct {
	r        *Recorder
	id       string
	mu       sync.Mutex
	frameSeq int64
	eventSeq int64
}

// Session returns the recording handle for session id. Call it once per
// session.
func (r *Recorder) Session(id string) *Session { return &Session{r: r, id: id} }

// Commit records a frame (and events derived from it, whose Seq and
// FrameSeq it assigns) and waits until they are committed.
func (s *Session) Commit(ctx context.Context, dir store.Dir, data []byte, events []store.Event) error {
	b, err := s.add(dir, data, events, true)
	if err != nil {
		return err
	}
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Queue records a frame without waiting for its commit.
func (s *Session) Queue(dir store.Dir, data []byte) error {
	_, err := s.add(dir, data, nil, false)
	return err
}

// Event records events not tied to a new frame (a fault, a verdict). They
// are committed with the next batch; Event waits for that when wait is set.
func (s *Session) Event(ctx context.Context, wait bool, events ...store.Event) error {
	b, err := s.add(0, nil, events, wait)
	if err != nil || !wait {
		return err
	}
	select {
	case <-b.done:
		return b.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Flush waits until everything this session recorded so far is committed
// (and so published).
func (s *Session) Flush(ctx context.Context) error { return s.Event(ctx, true) }

// LastFrameSeq returns the seq of the last frame recorded.
func (s *Session) LastFrameSeq() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.frameSeq
}

func (s *Session) add(dir store.Dir, data []byte, events []store.Event, urgent bool) (*batch, error) {
	r := s.r
	now := time.Now().UTC()
	// The session lock orders frames: seq order is append order.
	s.mu.Lock()
	defer s.mu.Unlock()
	r.mu.Lock()
	for r.bytes > r.opt.MaxPending && !r.closed {
		r.cond.Wait()
	}
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	if data != nil {
		s.frameSeq++
		r.frames = append(r.frames, store.Frame{Session: s.id, Seq: s.frameSeq, Time: now, Dir: dir, Data: append([]byte(nil), data...)})
		r.bytes += len(data)
	}
	for _, e := range events {
		s.eventSeq++
		e.Session, e.Seq = s.id, s.eventSeq
		if data != nil {
			e.FrameSeq = s.frameSeq
		}
		if e.Time.IsZero() {
			e.Time = now
		}
		r.events = append(r.events, e)
	}
	if urgent {
		r.urgent = true
	}
	b := r.batch
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return b, nil
}

func (r *Recorder) loop() {
	defer close(r.finished)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		<-r.wake
		r.mu.Lock()
		urgent, closed := r.urgent, r.closed
		r.mu.Unlock()
		if !urgent && !closed {
			// Only queued frames: let more gather, unless a client frame
			// arrives meanwhile.
			timer.Reset(r.opt.FlushDelay)
		wait:
			for {
				select {
				case <-timer.C:
					break wait
				case <-r.wake:
					r.mu.Lock()
					u, c := r.urgent, r.closed
					r.mu.Unlock()
					if u || c {
						timer.Stop()
						break wait
					}
				}
			}
		}
		r.mu.Lock()
		frames, events, b := r.frames, r.events, r.batch
		r.frames, r.events, r.bytes, r.urgent = nil, nil, 0, false
		r.batch = &batch{done: make(chan struct{})}
		closed = r.closed
		r.cond.Broadcast()
		r.mu.Unlock()
		if len(frames) > 0 || len(events) > 0 {
			b.err = r.st.Append(context.Background(), frames, events)
			if b.err != nil {
				r.log.Error("record frames", "frames", len(frames), "events", len(events), "err", b.err)
			}
		}
		close(b.done)
		if b.err == nil && r.pub != nil {
			if len(frames) > 0 {
				r.pub.PublishFrames(frames)
			}
			if len(events) > 0 {
				r.pub.PublishEvents(events)
			}
		}
		if closed {
			r.mu.Lock()
			empty := len(r.frames) == 0 && len(r.events) == 0
			r.mu.Unlock()
			if empty {
				return
			}
			select {
			case r.wake <- struct{}{}:
			default:
			}
		}
	}
}

// Close commits everything pending and stops the recorder.
func (r *Recorder) Close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		<-r.finished
		return
	}
	r.closed = true
	r.cond.Broadcast()
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	<-r.finished
}
