// Package stream fans a session's committed frames, status changes and
// policy events out to live subscribers, and serves them as Server-Sent
// Events with catch-up from the store.
//
// The recorder commits frames (and events) to the store first and then
// publishes them here. Publishing never blocks: every subscriber has a
// bounded channel, and a subscriber whose channel is full is marked lagged
// and later refills what it missed from the store, so nobody is silently
// dropped behind and a slow browser never slows the gateway. The hub keeps
// no history of its own: the store is the history, which keeps the cost of
// a publish independent of how long a session has run.
package stream

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"hoop.dev/hoop/core/store"
)

// DefaultKeepAlive is how often an idle stream gets a keep-alive comment.
const DefaultKeepAlive = 15 * time.Second

// DefaultBuffer is the number of pending messages a subscriber may queue
// before it is marked lagged.
const DefaultBuffer = 256

// Hub is the live fan-out of every session's stream. Its zero value is not
// usable; call NewHub. Set the exported fields before serving.
type Hub struct {
	// KeepAlive is the interval between keep-alive comments on an idle
	// stream (DefaultKeepAlive when zero).
	KeepAlive time.Duration
	// Buffer is the per-subscriber queue length (DefaultBuffer when zero).
	Buffer int
	// PageSize is how many frames or events one store read fetches during
	// catch-up (500 when zero).
	PageSize int

	st  store.Store
	log *slog.Logger

	mu   sync.RWMutex                        // deliveries share it; (un)subscribing takes it exclusively
	subs map[string]map[*subscriber]struct{} // session id -> subscribers
}

// msgKind tells a subscriber what a queued message carries.
type msgKind uint8

const (
	msgFrames msgKind = iota
	msgEvents
	msgStatus
)

// message is one published batch, shared read-only by every subscriber.
type message struct {
	kind   msgKind
	frames []store.Frame
	events []store.Event
	status string
	reason string
}

// subscriber is one open stream of one session.
type subscriber struct {
	session string
	ch      chan *message
	wake    chan struct{} // capacity 1: poked when the subscriber lagged
	lagged  atomic.Bool
}

// NewHub returns a hub that reads catch-up history from st.
func NewHub(st store.Store, log *slog.Logger) *Hub {
	if log == nil {
		log = slog.Default()
	}
	return &Hub{st: st, log: log, subs: make(map[string]map[*subscriber]struct{})}
}

func (h *Hub) buffer() int {
	if h.Buffer > 0 {
		return h.Buffer
	}
	return DefaultBuffer
}

func (h *Hub) keepAlive() time.Duration {
	if h.KeepAlive > 0 {
		return h.KeepAlive
	}
	return DefaultKeepAlive
}

func (h *Hub) pageSize() int {
	if h.PageSize > 0 {
		return h.PageSize
	}
	return 500
}

// subscribe registers a subscriber for session. It must happen before the
// subscriber reads history from the store, so nothing committed after the
// read can be missed.
func (h *Hub) subscribe(session string) *subscriber {
	s := &subscriber{
		session: session,
		ch:      make(chan *message, h.buffer()),
		wake:    make(chan struct{}, 1),
	}
	h.mu.Lock()
	set := h.subs[session]
	if set == nil {
		set = make(map[*subscriber]struct{})
		h.subs[session] = set
	}
	set[s] = struct{}{}
	h.mu.Unlock()
	return s
}

func (h *Hub) unsubscribe(s *subscriber) {
	h.mu.Lock()
	if set := h.subs[s.session]; set != nil {
		delete(set, s)
		if len(set) == 0 {
			delete(h.subs, s.session)
		}
	}
	h.mu.Unlock()
}

// Subscribers returns the number of open streams of session.
func (h *Hub) Subscribers(session string) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.subs[session])
}

// deliver queues m for every subscriber of session without blocking.
func (h *Hub) deliver(session string, m *message) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for s := range h.subs[session] {
		select {
		case s.ch <- m:
		default:
			if !s.lagged.Swap(true) {
				h.log.Debug("stream subscriber lagged", "session", session)
			}
			select {
			case s.wake <- struct{}{}:
			default:
			}
		}
	}
}

// PublishFrames announces frames already committed to the store, in seq
// order per session. It never blocks.
func (h *Hub) PublishFrames(frames []store.Frame) {
	for len(frames) > 0 {
		n := 1
		for n < len(frames) && frames[n].Session == frames[0].Session {
			n++
		}
		h.deliver(frames[0].Session, &message{kind: msgFrames, frames: frames[:n:n]})
		frames = frames[n:]
	}
}

// PublishEvents announces events already committed to the store. Statement
// events are not sent on the stream (the browser decodes statements from
// the frames itself) but keep the subscribers' event sequence contiguous.
func (h *Hub) PublishEvents(events []store.Event) {
	for len(events) > 0 {
		n := 1
		for n < len(events) && events[n].Session == events[0].Session {
			n++
		}
		h.deliver(events[0].Session, &message{kind: msgEvents, events: events[:n:n]})
		events = events[n:]
	}
}

// PublishStatus announces a session status change (connecting, live,
// ended) with its reason. It never blocks.
func (h *Hub) PublishStatus(session, status, reason string) {
	h.deliver(session, &message{kind: msgStatus, status: status, reason: reason})
}
