// Package record persists every relayed frame incrementally. A frame
// recorded with Commit (client to server) is in the journal when Commit
// returns: one write(2) of an append-only file, which survives kill -9 of
// the gateway (and, with Options.Sync, fsync survives a machine crash).
// Front ends forward a client's bytes only after that. Every frame, with the
// events derived from it, is then indexed into the store in large
// transactions within FlushDelay, and published to the live stream hub
// after that commit, so a subscriber that catches up from the store and then
// follows the hub sees no gap.
package record

import (
	"context"
	"errors"
	"fmt"
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
	// JournalDir holds the journal segments. Required.
	JournalDir string
	// Sync makes each journal write wait for fsync.
	Sync bool
	// FlushDelay bounds how long a frame waits to be indexed in the store
	// and published. Default 20ms (the requirement is 100ms).
	FlushDelay time.Duration
	// MaxPending bounds the bytes waiting to be indexed; recording callers
	// block beyond it (backpressure instead of unbounded memory). Default 32 MiB.
	MaxPending int
}

// ErrClosed is returned after Close.
var ErrClosed = errors.New("recorder closed")

// Recorder is the journal writer and the store indexer.
type Recorder struct {
	st  store.Store
	pub Publisher
	log *slog.Logger
	opt Options

	mu     sync.Mutex
	cond   *sync.Cond // signalled when pending bytes drop
	j      *journal
	jbuf   []byte
	frames []store.Frame
	events []store.Event
	bytes  int
	urgent bool // a Flush waits
	batch  *batch
	closed bool
	err    error // a failed journal write or index: recording is broken

	wake     chan struct{}
	finished chan struct{}
}

type batch struct {
	done chan struct{}
	err  error
}

// New opens the journal and starts the indexer. pub may be nil.
func New(st store.Store, pub Publisher, log *slog.Logger, opt Options) (*Recorder, error) {
	if opt.FlushDelay <= 0 {
		opt.FlushDelay = 20 * time.Millisecond
	}
	if opt.MaxPending <= 0 {
		opt.MaxPending = 32 << 20
	}
	j, err := openJournal(opt.JournalDir, opt.Sync)
	if err != nil {
		return nil, err
	}
	r := &Recorder{st: st, pub: pub, log: log, opt: opt, j: j, batch: &batch{done: make(chan struct{})},
		wake: make(chan struct{}, 1), finished: make(chan struct{})}
	r.cond = sync.NewCond(&r.mu)
	go r.index()
	return r, nil
}

// Session is one session's recording handle: it numbers frames and events.
type Session struct {
	r        *Recorder
	id       string
	frameSeq int64
	eventSeq int64
}

// Session returns the recording handle for session id. Call it once per
// session.
func (r *Recorder) Session(id string) *Session { return &Session{r: r, id: id} }

// Commit records a frame (and events derived from it, whose Seq and
// FrameSeq it assigns) in the journal before it returns.
func (s *Session) Commit(ctx context.Context, dir store.Dir, data []byte, events []store.Event) error {
	_, err := s.add(dir, data, events, true, false)
	return err
}

// Queue records a frame without waiting and without the journal: it is in
// the store within FlushDelay (server frames take this path).
func (s *Session) Queue(dir store.Dir, data []byte) error {
	_, err := s.add(dir, data, nil, false, false)
	return err
}

// Event records events not tied to a new frame (a fault, a verdict); when
// wait is set it returns once they are in the store.
func (s *Session) Event(ctx context.Context, wait bool, events ...store.Event) error {
	b, err := s.add(0, nil, events, false, wait)
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

// Flush waits until everything this session recorded so far is in the
// store (and so published).
func (s *Session) Flush(ctx context.Context) error { return s.Event(ctx, true) }

func (s *Session) add(dir store.Dir, data []byte, events []store.Event, journal, flush bool) (*batch, error) {
	r := s.r
	now := time.Now().UTC()
	r.mu.Lock()
	for r.bytes > r.opt.MaxPending && !r.closed && r.err == nil {
		r.cond.Wait()
	}
	if r.closed {
		r.mu.Unlock()
		return nil, ErrClosed
	}
	if r.err != nil {
		err := r.err
		r.mu.Unlock()
		return nil, err
	}
	first := len(r.frames) == 0 && len(r.events) == 0
	if data != nil {
		s.frameSeq++
		f := store.Frame{Session: s.id, Seq: s.frameSeq, Time: now, Dir: dir, Data: append([]byte(nil), data...)}
		r.frames = append(r.frames, f)
		r.bytes += len(data)
		if journal {
			r.jbuf = appendFrameRecord(r.jbuf, &f)
		}
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
		if journal {
			r.jbuf = appendEventRecord(r.jbuf, &r.events[len(r.events)-1])
		}
	}
	var err error
	var seg int
	var end int64
	if journal && len(r.jbuf) > 0 {
		seg, end, err = r.j.write(r.jbuf)
		r.jbuf = r.jbuf[:0]
		if err != nil {
			r.err = fmt.Errorf("record: %w", err)
			r.log.Error("journal write failed: sessions can no longer be recorded", "err", err)
		}
	}
	if flush {
		r.urgent = true
	}
	b := r.batch
	r.mu.Unlock()
	if err == nil && end > 0 && r.opt.Sync {
		if err = r.j.syncTo(seg, end); err != nil {
			r.log.Error("journal sync failed", "err", err)
		}
	}
	if first || flush {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
	return b, err
}

// index moves what was recorded into the store, in one transaction per
// FlushDelay, then publishes it.
func (r *Recorder) index() {
	defer close(r.finished)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		<-r.wake
		r.mu.Lock()
		urgent, closed := r.urgent, r.closed
		r.mu.Unlock()
		if !urgent && !closed {
			// Let more gather, unless a Flush or Close arrives meanwhile.
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
		r.frames, r.events, r.urgent = nil, nil, false
		r.batch = &batch{done: make(chan struct{})}
		closed = r.closed
		// Every journal record written so far is in this batch, so the
		// segments closed before now can go once it is committed.
		var rotateErr error
		if r.j.full() && !closed {
			rotateErr = r.j.rotate(segmentSize)
		}
		doneSegments := len(r.j.done)
		r.mu.Unlock()
		if rotateErr != nil {
			r.log.Error("rotate journal", "err", rotateErr)
		}
		if len(frames) > 0 || len(events) > 0 {
			b.err = r.st.Append(context.Background(), frames, events)
		}
		r.mu.Lock()
		if b.err != nil {
			// The journal keeps the client frames for the next start; the
			// rest cannot be kept, so recording stops here.
			r.err = fmt.Errorf("record: %w", b.err)
			r.log.Error("index frames in the store failed: sessions can no longer be recorded", "frames", len(frames), "err", b.err)
		} else {
			r.j.removeDone(doneSegments)
		}
		for _, f := range frames {
			r.bytes -= len(f.Data)
		}
		r.cond.Broadcast()
		r.mu.Unlock()
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
			if empty {
				r.j.close()
				if r.err == nil {
					r.j.removeDone(len(r.j.done))
				}
			}
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

// Close indexes everything pending, closes the journal (deleting it once
// indexed) and stops the recorder.
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
