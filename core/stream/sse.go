package stream

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"hoop.dev/hoop/core/store"
)

// ServeSSE streams session s as Server-Sent Events: a status event first,
// then the persisted history, then live frames and policy/fault events, with
// no gap and no duplicate at the seam. Last-Event-ID (header, or the
// last_event_id query parameter for clients that cannot set headers) resumes
// after that frame seq. For an ended session it replays everything, sends
// `status ended` and returns. The caller has authenticated the request and
// looked the session up.
//
// Status changes must be written to the store before PublishStatus is
// called: a lagged subscriber re-reads the status from the store.
func (h *Hub) ServeSSE(w http.ResponseWriter, r *http.Request, s store.Session) {
	after := lastEventID(r)
	// Subscribe before reading anything from the store: whatever is
	// committed after the reads below arrives on the channel.
	sub := h.subscribe(s.ID)
	defer h.unsubscribe(sub)

	ctx := r.Context()
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Time{}) // a stream outlives any server write timeout
	hdr := w.Header()
	hdr.Set("Content-Type", "text/event-stream")
	hdr.Set("Cache-Control", "no-cache")
	hdr.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	c := &sseConn{
		h:          h,
		bw:         bufio.NewWriterSize(w, 32<<10),
		rc:         rc,
		session:    s.ID,
		lastFrame:  after,
		eventFloor: after,
	}
	cur, err := h.st.Session(ctx, s.ID)
	if err != nil {
		cur = s
	}
	c.writeStatus(cur.Status, cur.EndReason)
	if err := c.catchUp(ctx); err != nil {
		h.log.Warn("stream catch-up failed", "session", s.ID, "err", err)
		return
	}
	if cur.Status == store.StatusEnded {
		c.finish(cur.EndReason)
		return
	}
	if c.flush() != nil {
		return
	}

	tick := time.NewTicker(h.keepAlive())
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			c.bw.WriteString(": keep-alive\n\n")
		case m := <-sub.ch:
			if err := c.handle(ctx, m); err != nil {
				h.log.Warn("stream failed", "session", s.ID, "err", err)
				return
			}
			// Batch whatever else is already queued into one flush.
		drain:
			for i := 0; i < 64 && !c.ended; i++ {
				select {
				case m = <-sub.ch:
					if err := c.handle(ctx, m); err != nil {
						h.log.Warn("stream failed", "session", s.ID, "err", err)
						return
					}
				default:
					break drain
				}
			}
		case <-sub.wake:
		}
		if !c.ended && sub.lagged.Swap(false) {
			if err := c.recoverLag(ctx); err != nil {
				h.log.Warn("stream lag recovery failed", "session", s.ID, "err", err)
				return
			}
		}
		if c.ended {
			return
		}
		if c.flush() != nil {
			return
		}
	}
}

// lastEventID reads the resume point; anything unparsable means "from the
// start", which at worst replays frames the client already has.
func lastEventID(r *http.Request) int64 {
	v := r.Header.Get("Last-Event-ID")
	if v == "" {
		v = r.URL.Query().Get("last_event_id")
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// sseConn is the per-stream state of ServeSSE.
type sseConn struct {
	h       *Hub
	bw      *bufio.Writer
	rc      *http.ResponseController
	session string

	lastFrame  int64 // highest frame seq written
	lastEvent  int64 // highest event seq seen (written or skipped)
	eventFloor int64 // on resume: events of frames <= this were already seen
	status     string
	reason     string
	ended      bool
	buf        []byte
}

func (c *sseConn) flush() error {
	if err := c.bw.Flush(); err != nil {
		return fmt.Errorf("write stream: %w", err)
	}
	if err := c.rc.Flush(); err != nil {
		return fmt.Errorf("flush stream: %w", err)
	}
	return nil
}

// finish writes the final `status ended` and flushes; the caller has
// caught up first.
func (c *sseConn) finish(reason string) {
	c.writeStatusForce(store.StatusEnded, reason)
	c.ended = true
	_ = c.flush()
}

func (c *sseConn) handle(ctx context.Context, m *message) error {
	switch m.kind {
	case msgFrames:
		for _, f := range m.frames {
			if f.Seq <= c.lastFrame {
				continue
			}
			if f.Seq > c.lastFrame+1 {
				if err := c.fillFrames(ctx, f.Seq-1); err != nil {
					return err
				}
			}
			if f.Seq == c.lastFrame+1 {
				c.writeFrame(f)
			}
		}
	case msgEvents:
		for _, e := range m.events {
			if e.Seq <= c.lastEvent {
				continue
			}
			if e.Seq > c.lastEvent+1 {
				if err := c.fillEvents(ctx, e.Seq-1); err != nil {
					return err
				}
			}
			if e.Seq == c.lastEvent+1 {
				c.writeEvent(e)
			}
		}
	case msgStatus:
		if m.status == store.StatusEnded {
			// Everything committed before the end is in the store.
			if err := c.catchUp(ctx); err != nil {
				return err
			}
			c.finish(m.reason)
			return nil
		}
		c.writeStatus(m.status, m.reason)
	}
	return nil
}

// recoverLag refills from the store whatever a full queue made us miss,
// including a status change.
func (c *sseConn) recoverLag(ctx context.Context) error {
	if err := c.catchUp(ctx); err != nil {
		return err
	}
	cur, err := c.h.st.Session(ctx, c.session)
	if err != nil {
		return fmt.Errorf("read session: %w", err)
	}
	if cur.Status == store.StatusEnded {
		if err := c.catchUp(ctx); err != nil {
			return err
		}
		c.finish(cur.EndReason)
		return nil
	}
	c.writeStatus(cur.Status, cur.EndReason)
	return nil
}

// catchUp writes every committed frame and event past what was sent.
func (c *sseConn) catchUp(ctx context.Context) error {
	if err := c.fillFrames(ctx, -1); err != nil {
		return err
	}
	return c.fillEvents(ctx, -1)
}

// fillFrames pages frames from the store until upTo (or the end when
// upTo < 0), flushing between pages so a long replay streams.
func (c *sseConn) fillFrames(ctx context.Context, upTo int64) error {
	page := c.h.pageSize()
	for upTo < 0 || c.lastFrame < upTo {
		frames, err := c.h.st.Frames(ctx, c.session, c.lastFrame, page)
		if err != nil {
			return fmt.Errorf("read frames: %w", err)
		}
		for _, f := range frames {
			if f.Seq <= c.lastFrame || (upTo >= 0 && f.Seq > upTo) {
				continue
			}
			c.writeFrame(f)
		}
		if len(frames) < page {
			return nil
		}
		if err := c.flush(); err != nil {
			return err
		}
	}
	return nil
}

// fillEvents is fillFrames for events.
func (c *sseConn) fillEvents(ctx context.Context, upTo int64) error {
	page := c.h.pageSize()
	for upTo < 0 || c.lastEvent < upTo {
		events, err := c.h.st.Events(ctx, c.session, c.lastEvent, page)
		if err != nil {
			return fmt.Errorf("read events: %w", err)
		}
		for _, e := range events {
			if e.Seq <= c.lastEvent || (upTo >= 0 && e.Seq > upTo) {
				continue
			}
			c.writeEvent(e)
		}
		if len(events) < page {
			return nil
		}
	}
	return nil
}

func (c *sseConn) writeStatus(status, reason string) {
	if status == c.status && reason == c.reason {
		return
	}
	c.writeStatusForce(status, reason)
}

func (c *sseConn) writeStatusForce(status, reason string) {
	c.status, c.reason = status, reason
	b := append(c.buf[:0], "event: status\ndata: {\"status\":"...)
	b = strconv.AppendQuote(b, status)
	if reason != "" {
		b = append(b, ",\"reason\":"...)
		b = strconv.AppendQuote(b, reason)
	}
	b = append(b, "}\n\n"...)
	c.bw.Write(b)
	c.buf = b
}

// writeFrame writes one frame event. The JSON is appended by hand: frames
// are the bulk of the stream and their shape is fixed.
func (c *sseConn) writeFrame(f store.Frame) {
	b := append(c.buf[:0], "event: frame\nid: "...)
	b = strconv.AppendInt(b, f.Seq, 10)
	b = append(b, "\ndata: {\"seq\":"...)
	b = strconv.AppendInt(b, f.Seq, 10)
	b = append(b, ",\"t\":\""...)
	b = f.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, "\",\"dir\":\""...)
	b = append(b, f.Dir.String()...)
	b = append(b, "\",\"b64\":\""...)
	b = base64.StdEncoding.AppendEncode(b, f.Data)
	b = append(b, "\"}\n\n"...)
	c.bw.Write(b)
	c.buf = b
	c.lastFrame = f.Seq
}

// eventJSON is the wire shape of fault and policy events.
type eventJSON struct {
	Seq      int64  `json:"seq"`
	FrameSeq int64  `json:"frame_seq"`
	T        string `json:"t"`
	Kind     string `json:"kind"`
	Text     string `json:"text"`
	Rule     string `json:"rule"`
	Risk     int    `json:"risk"`
	Detail   string `json:"detail"`
}

// writeEvent writes a fault or policy event; statements only advance the
// sequence (the browser decodes them from the frames).
func (c *sseConn) writeEvent(e store.Event) {
	c.lastEvent = e.Seq
	if e.Kind == store.EventStatement {
		return
	}
	if e.FrameSeq != 0 && e.FrameSeq <= c.eventFloor {
		return // resumed: the client saw this with its frame
	}
	data, err := json.Marshal(eventJSON{
		Seq: e.Seq, FrameSeq: e.FrameSeq, T: e.Time.UTC().Format(time.RFC3339Nano),
		Kind: e.Kind, Text: e.Text, Rule: e.Rule, Risk: e.Risk, Detail: e.Detail,
	})
	if err != nil {
		return // cannot happen: only strings and ints
	}
	name := "policy"
	if e.Kind == store.EventFault {
		name = "fault"
	}
	c.bw.WriteString("event: " + name + "\ndata: ")
	c.bw.Write(data)
	c.bw.WriteString("\n\n")
}
