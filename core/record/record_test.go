package record

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"

	"hoop.dev/hoop/core/store"
	"hoop.dev/hoop/core/store/sqlite"
)

type published struct {
	mu     sync.Mutex
	frames []store.Frame
}

func (p *published) PublishFrames(f []store.Frame) {
	p.mu.Lock()
	p.frames = append(p.frames, f...)
	p.mu.Unlock()
}
func (p *published) PublishEvents([]store.Event) {}

// Frames from concurrent sessions keep their per-session order, are all
// committed, and are published only after they are in the store.
func TestGroupCommitOrder(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "r.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pub := &published{}
	r := New(st, pub, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{MaxPending: 4096})
	var wg sync.WaitGroup
	for s := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rs := r.Session(string(rune('a' + s)))
			for i := range 200 {
				data := []byte{byte(i), byte(s)}
				if i%2 == 0 {
					if err := rs.Commit(ctx, store.C2S, data, []store.Event{{Kind: store.EventStatement, Text: "q"}}); err != nil {
						t.Error(err)
					}
				} else if err := rs.Queue(store.S2C, data); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	r.Close()
	for s := range 8 {
		id := string(rune('a' + s))
		fs, err := st.Frames(ctx, id, 0, 1000)
		if err != nil || len(fs) != 200 {
			t.Fatalf("session %s: %d frames, %v", id, len(fs), err)
		}
		for i, f := range fs {
			if f.Seq != int64(i+1) || f.Data[0] != byte(i) {
				t.Fatalf("session %s frame %d: seq %d data %v", id, i, f.Seq, f.Data)
			}
		}
		evs, _ := st.Events(ctx, id, 0, 1000)
		if len(evs) != 100 || evs[0].FrameSeq != 1 || evs[99].FrameSeq != 199 {
			t.Fatalf("session %s: %d events", id, len(evs))
		}
	}
	if len(pub.frames) != 1600 {
		t.Fatalf("published %d frames, want 1600", len(pub.frames))
	}
	if err := r.Session("z").Queue(store.S2C, []byte("x")); err != ErrClosed {
		t.Fatalf("after Close: %v", err)
	}
}
