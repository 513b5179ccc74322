package stream

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"hoop.dev/hoop/core/store"
)

// countWriter is a ResponseWriter that discards bytes but notices when the
// final `status ended` has been written.
type countWriter struct {
	hdr   http.Header
	bytes atomic.Int64
}

func (c *countWriter) Header() http.Header { return c.hdr }
func (c *countWriter) WriteHeader(int)     {}
func (c *countWriter) Write(b []byte) (int, error) {
	c.bytes.Add(int64(len(b)))
	return len(b), nil
}
func (c *countWriter) Flush() {}

// BenchmarkPublish50Subscribers measures the publisher's cost per batch of
// 8 frames with 50 live subscribers streaming the same session
// (publish-ns/batch), and the time until every subscriber has written
// everything (ns/op, since the loop waits for all streams to end). "queued"
// gives subscribers room for every batch (pure fan-out); "lagging" uses the
// default queue, so a burst overflows it and subscribers catch up from
// SQLite.
func BenchmarkPublish50Subscribers(b *testing.B) {
	b.Run("queued", func(b *testing.B) { benchPublish(b, true) })
	b.Run("lagging", func(b *testing.B) { benchPublish(b, false) })
}

func benchPublish(b *testing.B, roomy bool) {
	const subs, batch = 50, 8
	st := openStore(b)
	sess := createSession(b, st, store.StatusLive)
	hub := NewHub(st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if roomy {
		hub.Buffer = b.N + 2
	}
	var wg sync.WaitGroup
	writers := make([]*countWriter, subs)
	for i := range writers {
		writers[i] = &countWriter{hdr: http.Header{}}
		wg.Add(1)
		go func(w *countWriter) {
			defer wg.Done()
			hub.ServeSSE(w, httptest.NewRequest(http.MethodGet, "/", nil), sess)
		}(writers[i])
	}
	for hub.Subscribers(sess.ID) != subs {
		runtime.Gosched() // wait for every stream to register
	}
	batches := make([][]store.Frame, b.N)
	for i := range batches {
		batches[i] = appendFrames(b, st, sess.ID, int64(i*batch), batch)
	}
	var publish int64
	b.ResetTimer()
	for _, fr := range batches {
		hub.PublishFrames(fr)
	}
	b.StopTimer()
	publish = b.Elapsed().Nanoseconds()
	b.StartTimer()
	s := sess
	s.Status = store.StatusEnded
	if err := st.UpdateSession(b.Context(), s); err != nil {
		b.Fatal(err)
	}
	hub.PublishStatus(sess.ID, store.StatusEnded, store.EndClientClosed)
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(publish)/float64(b.N), "publish-ns/batch")
	var total int64
	for _, w := range writers {
		total += w.bytes.Load()
	}
	b.ReportMetric(float64(total)/float64(subs), "bytes/subscriber")
}
