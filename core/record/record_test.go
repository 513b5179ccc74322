package record

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

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
	for _, sync := range []bool{false, true} {
		t.Run(fmt.Sprintf("sync=%v", sync), func(t *testing.T) { testGroupCommitOrder(t, sync) })
	}
}

func testGroupCommitOrder(t *testing.T, syncMode bool) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "r.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	pub := &published{}
	jdir := filepath.Join(t.TempDir(), "journal")
	r, err := New(st, pub, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{JournalDir: jdir, MaxPending: 4096, Sync: syncMode})
	if err != nil {
		t.Fatal(err)
	}
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
	if names, _, _ := segments(jdir); len(names) != 0 {
		t.Fatalf("journal segments left after a clean close: %v", names)
	}
}

// A process that dies after journaling client frames but before indexing
// them loses nothing: Recover puts them in the store, a torn tail aside.
func TestJournalRecovery(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "r.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	jdir := filepath.Join(dir, "journal")
	j, err := openJournal(jdir, false)
	if err != nil {
		t.Fatal(err)
	}
	var buf []byte
	for i := range 50 {
		f := store.Frame{Session: "s1", Seq: int64(i + 1), Time: time.Now(), Dir: store.C2S, Data: []byte(fmt.Sprintf("Q select %d", i))}
		buf = appendFrameRecord(buf, &f)
		e := store.Event{Session: "s1", Seq: int64(i + 1), FrameSeq: int64(i + 1), Time: time.Now(), Kind: store.EventStatement, Text: fmt.Sprintf("select %d", i)}
		buf = appendEventRecord(buf, &e)
	}
	// One frame already indexed before the crash: no duplicate.
	st.Append(ctx, []store.Frame{{Session: "s1", Seq: 1, Time: time.Now(), Data: []byte("Q select 0")}}, nil)
	j.write(buf)
	j.write([]byte{40, 0, 0, 0, recFrame, 2, 's'}) // torn tail
	// A crash: the mapping's pages are in the file, the rest is zeros.
	syscall.Munmap(j.m)
	j.f.Close()
	n, err := Recover(ctx, st, jdir)
	if err != nil || n != 50 {
		t.Fatalf("Recover = %d, %v", n, err)
	}
	fs, _ := st.Frames(ctx, "s1", 0, 100)
	evs, _ := st.Events(ctx, "s1", 0, 100)
	if len(fs) != 50 || len(evs) != 50 || evs[49].Text != "select 49" || string(fs[49].Data) != "Q select 49" {
		t.Fatalf("recovered %d frames, %d events", len(fs), len(evs))
	}
	if names, _, _ := segments(jdir); len(names) != 0 {
		t.Fatalf("segments left after recovery: %v", names)
	}
}

// Concurrent committers in sync mode across segment rotations: every
// frame ends up in the store, and nothing races on the mapping.
func TestSyncAcrossRotation(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "r.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r, err := New(st, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{JournalDir: filepath.Join(t.TempDir(), "j"), Sync: true})
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 1<<20)
	var wg sync.WaitGroup
	for s := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rs := r.Session(fmt.Sprint("s", s))
			for range 8 {
				if err := rs.Commit(ctx, store.C2S, big, nil); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	r.Close()
	for s := range 6 {
		fs, err := st.Frames(ctx, fmt.Sprint("s", s), 0, 100)
		if err != nil || len(fs) != 8 {
			t.Fatalf("session %d: %d frames, %v", s, len(fs), err)
		}
	}
}
