package stream

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"hoop.dev/hoop/core/store"
)

// FuzzStreamIsContiguous commits frames in batches, publishes only some of
// them (a plan byte per batch: skip, publish, publish twice, publish a
// stale earlier batch), with a tiny subscriber queue and a resume point,
// and checks the client sees every frame after the resume point exactly
// once, in order, whatever was published.
func FuzzStreamIsContiguous(f *testing.F) {
	f.Add([]byte{1, 1, 1, 1}, uint8(0), uint8(1))
	f.Add([]byte{0, 0, 2, 3, 1}, uint8(3), uint8(2))
	f.Add([]byte{3, 3, 3, 0, 1, 2, 2, 0, 1}, uint8(10), uint8(1))
	f.Add([]byte{}, uint8(0), uint8(4))
	st := openStore(f)
	hub := NewHub(st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var n atomic.Int64
	f.Fuzz(func(t *testing.T, plan []byte, resume, buffer uint8) {
		if len(plan) > 64 {
			plan = plan[:64]
		}
		hub.Buffer = int(buffer%8) + 1
		id := fmt.Sprintf("fuzz-%d", n.Add(1))
		sess := store.Session{ID: id, Identity: "f", Kind: store.KindMachine, Resource: "r", Role: "x", Protocol: "p",
			Status: store.StatusLive, StartedAt: time.Now().UTC()}
		if err := st.CreateSession(context.Background(), sess); err != nil {
			t.Fatal(err)
		}
		pr, pw := io.Pipe()
		w := &pipeWriter{hdr: http.Header{}, pw: pw}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Last-Event-ID", fmt.Sprint(resume))
		done := make(chan struct{})
		go func() { defer close(done); defer pw.Close(); hub.ServeSSE(w, req, sess) }()
		ch := make(chan sseEvent, 4096)
		go readSSE(pr, ch)
		for hub.Subscribers(id) != 1 {
			time.Sleep(time.Millisecond)
		}
		var batches [][]store.Frame
		var total int64
		for i, p := range plan {
			b := appendFrames(t, st, id, total, i%3+1)
			total += int64(len(b))
			batches = append(batches, b)
			switch p % 4 {
			case 1:
				hub.PublishFrames(b)
			case 2:
				hub.PublishFrames(b)
				hub.PublishFrames(b)
			case 3:
				hub.PublishFrames(batches[int(p)%len(batches)])
			}
		}
		s := sess
		s.Status, s.EndReason = store.StatusEnded, store.EndClientClosed
		if err := st.UpdateSession(context.Background(), s); err != nil {
			t.Fatal(err)
		}
		hub.PublishStatus(id, store.StatusEnded, store.EndClientClosed)
		seqs, statuses, _ := collect(t, ch)
		<-done
		from := min(int64(resume)+1, total+1)
		if total < from {
			if len(seqs) != 0 {
				t.Fatalf("resume %d past %d frames, got %v", resume, total, seqs)
			}
		} else {
			wantSeqs(t, seqs, from, total)
		}
		if statuses[len(statuses)-1] != "ended" {
			t.Fatalf("statuses %v", statuses)
		}
	})
}
