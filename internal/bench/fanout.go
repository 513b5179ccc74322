package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// fanoutSubscribers is how many SSE streams the fan-out scenario attaches
// to the busy session.
const fanoutSubscribers = 50

// fanoutScenario runs one busy session (pgbench -S, 1 client) through hoop
// alone and with fanoutSubscribers live streams of it.
func fanoutScenario() scenario {
	return scenario{Name: "fanout-simple-1c", Mode: "simple", Clients: 1, Threads: 1,
		Targets: []string{"hoop", fmt.Sprintf("hoop+%dsse", fanoutSubscribers)}, Subject: fmt.Sprintf("hoop+%dsse", fanoutSubscribers),
		Note: fmt.Sprintf("one busy session (1 client) through hoop with 0 vs %d SSE subscribers of GET /api/sessions/{id}/stream, "+
			"attached once pgbench's session is live; proxy CPU includes serving the streams", fanoutSubscribers)}
}

// fanoutStats is what the subscribers of one run received.
type fanoutStats struct {
	Session     string
	Want        int           // subscribers asked for
	Attached    int           // streams that answered 200
	AttachAfter time.Duration // pgbench start to the last stream's response headers
	Recorded    int64         // frames of the session, counted in a replay after it ended
	MinFrames   int64         // fewest frames one subscriber received by the end of its stream
	MaxFrames   int64
	Ended       int   // streams that ended with `status ended` (they saw the whole session)
	Bytes       int64 // stream bytes over all subscribers
	BehindAtEnd int64 // recorded − fewest frames a subscriber had when pgbench exited
	Drain       time.Duration
}

// keptUp reports whether every subscriber attached and received every
// recorded frame.
func (f *fanoutStats) keptUp() bool {
	return f.Attached == f.Want && f.Ended == f.Want && f.MinFrames == f.Recorded && f.MaxFrames == f.Recorded
}

// subscriber is one SSE stream's counters.
type subscriber struct {
	frames atomic.Int64
	bytes  atomic.Int64
	ended  atomic.Bool
}

// fanout attaches subscribers to the session a pgbench run opens.
type fanout struct {
	h      *hoopProc
	n      int
	client *http.Client
	t0     time.Time
	before map[string]bool // live sessions before pgbench started
	subs   []*subscriber
	cancel context.CancelFunc
	done   chan error

	mu          sync.Mutex
	session     string
	attached    int
	attachAfter time.Duration
	lastEnd     time.Time
}

// startFanout notes the live sessions, then, in the background, waits for
// the new session and attaches n streams to it. Call it just before pgbench.
func startFanout(ctx context.Context, h *hoopProc, n int) (*fanout, error) {
	f := &fanout{h: h, n: n, done: make(chan error, 1),
		client: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n + 2, DisableCompression: true}}}
	live, err := f.live(ctx)
	if err != nil {
		return nil, err
	}
	f.before = map[string]bool{}
	for _, s := range live {
		f.before[s.ID] = true
	}
	for range n {
		f.subs = append(f.subs, &subscriber{})
	}
	ctx, f.cancel = context.WithCancel(ctx)
	f.t0 = time.Now()
	go func() { f.done <- f.run(ctx) }()
	return f, nil
}

type liveSession struct {
	ID       string `json:"id"`
	BytesC2S int64  `json:"bytes_c2s"`
}

func (f *fanout) get(ctx context.Context, path string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+f.h.api+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+f.h.token)
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("get %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("get %s: %s: %s", path, resp.Status, bytes.TrimSpace(b))
	}
	return resp, nil
}

func (f *fanout) live(ctx context.Context) ([]liveSession, error) {
	resp, err := f.get(ctx, "/api/sessions?status=live")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct{ Sessions []liveSession }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("decode sessions: %w", err)
	}
	return out.Sessions, nil
}

// findSession polls for a session that was not live before pgbench started
// and is still live 200 ms after it was first seen: pgbench's first, short
// connection (which reads the scale) is over by then.
func (f *fanout) findSession(ctx context.Context) (string, error) {
	first := map[string]time.Time{}
	deadline := time.Now().Add(20 * time.Second)
	for {
		live, err := f.live(ctx)
		if err != nil {
			return "", err
		}
		best, bestBytes := "", int64(-1)
		for _, s := range live {
			if f.before[s.ID] {
				continue
			}
			if _, ok := first[s.ID]; !ok {
				first[s.ID] = time.Now()
			}
			if time.Since(first[s.ID]) >= 200*time.Millisecond && s.BytesC2S > bestBytes {
				best, bestBytes = s.ID, s.BytesC2S
			}
		}
		if best != "" {
			return best, nil
		}
		if time.Now().After(deadline) {
			return "", errors.New("find session: no new live session within 20s")
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(25 * time.Millisecond):
		}
	}
}

func (f *fanout) run(ctx context.Context) error {
	id, err := f.findSession(ctx)
	if err != nil {
		return err
	}
	f.mu.Lock()
	f.session = id
	f.mu.Unlock()
	var wg sync.WaitGroup
	errs := make(chan error, f.n)
	for _, s := range f.subs {
		wg.Go(func() {
			if err := f.subscribe(ctx, id, s); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs // the first error, or nil
}

// subscribe reads one stream to its end, counting frames and bytes.
func (f *fanout) subscribe(ctx context.Context, id string, s *subscriber) error {
	resp, err := f.get(ctx, "/api/sessions/"+id+"/stream")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	f.mu.Lock()
	f.attached++
	f.attachAfter = time.Since(f.t0)
	f.mu.Unlock()
	frames, ended, n, err := readSSE(resp.Body, func(n int) { s.frames.Add(int64(n)) })
	s.bytes.Store(n)
	s.ended.Store(ended)
	f.mu.Lock()
	f.lastEnd = time.Now()
	f.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("read stream after %d frames: %w", frames, err)
	}
	return nil
}

// readSSE reads a session stream to EOF and returns the frame events, whether
// it ended with `status ended`, and the bytes read; onFrames is called with
// each batch of frames counted.
func readSSE(r io.Reader, onFrames func(int)) (frames int64, ended bool, n int64, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	status := false
	batch := 0
	for {
		line, rerr := br.ReadSlice('\n')
		n += int64(len(line))
		switch {
		case rerr == bufio.ErrBufferFull:
			// A long data line: the rest follows; it is no event header.
			continue
		case bytes.HasPrefix(line, []byte("event: frame")):
			frames++
			batch++
		case bytes.HasPrefix(line, []byte("event: status")):
			status = true
		case status && bytes.HasPrefix(line, []byte("data: ")):
			ended = bytes.Contains(line, []byte(`"status":"ended"`))
			status = false
		}
		if batch > 0 && (batch >= 64 || br.Buffered() == 0) {
			onFrames(batch)
			batch = 0
		}
		if rerr == io.EOF {
			return frames, ended, n, nil
		}
		if rerr != nil && rerr != bufio.ErrBufferFull {
			return frames, ended, n, rerr
		}
	}
}

// finish is called when pgbench has exited: it notes how far behind the
// subscribers are, waits for their streams to end (the session has), and
// counts the session's recorded frames in one more replay.
func (f *fanout) finish(ctx context.Context) (*fanoutStats, error) {
	exit := time.Now()
	atExit := int64(-1)
	for _, s := range f.subs {
		if v := s.frames.Load(); atExit < 0 || v < atExit {
			atExit = v
		}
	}
	defer f.cancel()
	var err error
	select {
	case err = <-f.done:
	case <-time.After(60 * time.Second):
		err = errors.New("subscribers still reading 60s after pgbench exited")
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("fan-out: %w", err)
	}
	st := &fanoutStats{Session: f.session, Want: f.n, Attached: f.attached, AttachAfter: f.attachAfter, MinFrames: -1}
	if f.lastEnd.After(exit) {
		st.Drain = f.lastEnd.Sub(exit)
	}
	for _, s := range f.subs {
		v := s.frames.Load()
		if st.MinFrames < 0 || v < st.MinFrames {
			st.MinFrames = v
		}
		st.MaxFrames = max(st.MaxFrames, v)
		st.Bytes += s.bytes.Load()
		if s.ended.Load() {
			st.Ended++
		}
	}
	rctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	resp, err := f.get(rctx, "/api/sessions/"+f.session+"/stream")
	if err != nil {
		return nil, fmt.Errorf("replay session: %w", err)
	}
	defer resp.Body.Close()
	rec, ended, _, err := readSSE(resp.Body, func(int) {})
	if err != nil || !ended {
		return nil, fmt.Errorf("replay session %s: ended %v after %d frames: %v", f.session, ended, rec, err)
	}
	st.Recorded = rec
	st.BehindAtEnd = rec - atExit
	slog.Debug("fan-out", "session", st.Session, "attached", st.Attached, "recorded", rec, "min", st.MinFrames, "max", st.MaxFrames,
		"behind_at_exit", st.BehindAtEnd, "drain", st.Drain)
	return st, nil
}

// text is one run's fan-out outcome in a sentence.
func (f *fanoutStats) text() string {
	kept := "kept up"
	if !f.keptUp() {
		kept = "DID NOT keep up"
	}
	return fmt.Sprintf("%d/%d streams attached %.2f s after pgbench started; each received %d–%d frames of the %d the session recorded (%d ended with `status ended`), %.1f MB in all; "+
		"at pgbench's exit the slowest was %d frame(s) behind, the last stream ended %s later: %s",
		f.Attached, f.Want, f.AttachAfter.Seconds(), f.MinFrames, f.MaxFrames, f.Recorded, f.Ended, float64(f.Bytes)/1e6,
		f.BehindAtEnd, f.Drain.Round(time.Millisecond), kept) + "."
}
