package stream

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"hoop.dev/hoop/core/store"
)

// sseEvent is one parsed Server-Sent Event (or a comment).
type sseEvent struct {
	Event, ID, Data string
	Comment         bool
}

// readSSE parses events from r until EOF or an error, sending each to out.
func readSSE(r io.Reader, out chan<- sseEvent) {
	defer close(out)
	br := bufio.NewReader(r)
	var ev sseEvent
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case line == "":
			if ev != (sseEvent{}) {
				out <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"):
			out <- sseEvent{Comment: true, Data: line}
		default:
			k, v, _ := strings.Cut(line, ": ")
			switch k {
			case "event":
				ev.Event = v
			case "id":
				ev.ID = v
			case "data":
				ev.Data += v
			}
		}
	}
}

// next returns the next non-comment event or fails the test after a
// generous bound (a hang is a bug, not a timing assertion).
func next(t *testing.T, ch <-chan sseEvent) (sseEvent, bool) {
	t.Helper()
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				return ev, false
			}
			if ev.Comment {
				continue
			}
			return ev, true
		case <-time.After(10 * time.Second):
			t.Fatal("no SSE event within 10s")
		}
	}
}

// appendFrames commits n frames of session after seq `from` and returns them.
func appendFrames(t testing.TB, st store.Store, session string, from int64, n int) []store.Frame {
	t.Helper()
	frames := make([]store.Frame, n)
	base := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range frames {
		seq := from + int64(i) + 1
		frames[i] = store.Frame{
			Session: session, Seq: seq, Time: base.Add(time.Duration(seq) * time.Millisecond),
			Dir: store.Dir(seq % 2), Data: []byte(fmt.Sprintf("frame-%d", seq)),
		}
	}
	if err := st.Append(context.Background(), frames, nil); err != nil {
		t.Fatalf("append frames: %v", err)
	}
	return frames
}

// pipeWriter is an http.ResponseWriter whose writes go into a pipe, so a
// test can stall the "client" by not reading.
type pipeWriter struct {
	hdr http.Header
	pw  *io.PipeWriter
}

func (p *pipeWriter) Header() http.Header         { return p.hdr }
func (p *pipeWriter) WriteHeader(int)             {}
func (p *pipeWriter) Write(b []byte) (int, error) { return p.pw.Write(b) }
func (p *pipeWriter) Flush()                      {}
