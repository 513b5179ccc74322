package stream

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"hoop.dev/hoop/core/store"
)

type frameJSON struct {
	Seq int64  `json:"seq"`
	T   string `json:"t"`
	Dir string `json:"dir"`
	B64 string `json:"b64"`
}

// fixture is a hub over a store with one session, served over HTTP.
type fixture struct {
	st   store.Store
	hub  *Hub
	srv  *httptest.Server
	sess store.Session
}

func newFixture(t *testing.T, status string) *fixture {
	t.Helper()
	st := openStore(t)
	sess := createSession(t, st, status)
	hub := NewHub(st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	f := &fixture{st: st, hub: hub, sess: sess}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := st.Session(r.Context(), sess.ID)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		hub.ServeSSE(w, r, s)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

// open connects a client; lastID is sent as Last-Event-ID when not empty.
func (f *fixture) open(t *testing.T, lastID string) <-chan sseEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.srv.URL, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("open stream: %v", err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	ch := make(chan sseEvent, 1024)
	go func() { defer resp.Body.Close(); readSSE(resp.Body, ch) }()
	return ch
}

func (f *fixture) end(t *testing.T) {
	t.Helper()
	s := f.sess
	s.Status, s.EndReason, s.EndedAt = store.StatusEnded, store.EndClientClosed, time.Now()
	if err := f.st.UpdateSession(context.Background(), s); err != nil {
		t.Fatalf("end session: %v", err)
	}
	f.hub.PublishStatus(s.ID, store.StatusEnded, store.EndClientClosed)
}

// waitSubscribed waits until n streams of the session are registered.
func (f *fixture) waitSubscribed(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for f.hub.Subscribers(f.sess.ID) != n {
		if time.Now().After(deadline) {
			t.Fatalf("subscribers = %d, want %d", f.hub.Subscribers(f.sess.ID), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func decodeFrame(t *testing.T, ev sseEvent) frameJSON {
	t.Helper()
	var fj frameJSON
	if err := json.Unmarshal([]byte(ev.Data), &fj); err != nil {
		t.Fatalf("frame data %q: %v", ev.Data, err)
	}
	if ev.ID != strconv.FormatInt(fj.Seq, 10) {
		t.Fatalf("frame id %q for seq %d", ev.ID, fj.Seq)
	}
	return fj
}

// collect reads until the stream closes and returns the frame seqs and the
// status values in order.
func collect(t *testing.T, ch <-chan sseEvent) (seqs []int64, statuses []string, other []sseEvent) {
	t.Helper()
	for {
		ev, ok := next(t, ch)
		if !ok {
			return
		}
		switch ev.Event {
		case "frame":
			seqs = append(seqs, decodeFrame(t, ev).Seq)
		case "status":
			var st struct{ Status, Reason string }
			if err := json.Unmarshal([]byte(ev.Data), &st); err != nil {
				t.Fatalf("status data %q: %v", ev.Data, err)
			}
			statuses = append(statuses, st.Status)
		default:
			other = append(other, ev)
		}
	}
}

func wantSeqs(t *testing.T, got []int64, from, to int64) {
	t.Helper()
	if int64(len(got)) != to-from+1 {
		t.Fatalf("got %d frames, want %d (%d..%d): %v", len(got), to-from+1, from, to, got)
	}
	for i, s := range got {
		if s != from+int64(i) {
			t.Fatalf("frame %d has seq %d, want %d (duplicate or gap)", i, s, from+int64(i))
		}
	}
}

func TestCatchUpThenLiveWithoutGapOrDuplicate(t *testing.T) {
	f := newFixture(t, store.StatusLive)
	appendFrames(t, f.st, f.sess.ID, 0, 30)
	ch := f.open(t, "")
	f.waitSubscribed(t, 1)
	// Published again although already in the history: must not duplicate.
	hist, _ := f.st.Frames(context.Background(), f.sess.ID, 20, 100)
	f.hub.PublishFrames(hist)
	for from := int64(30); from < 60; from += 5 {
		f.hub.PublishFrames(appendFrames(t, f.st, f.sess.ID, from, 5))
	}
	f.end(t)
	seqs, statuses, _ := collect(t, ch)
	wantSeqs(t, seqs, 1, 60)
	if len(statuses) < 2 || statuses[0] != "live" || statuses[len(statuses)-1] != "ended" {
		t.Fatalf("statuses %v: want live first, ended last", statuses)
	}
}

func TestFramePayloadRoundTrips(t *testing.T) {
	f := newFixture(t, store.StatusLive)
	data := []byte{0, 1, 2, 'Q', 0xff, '\n'}
	fr := store.Frame{Session: f.sess.ID, Seq: 1, Time: time.Date(2025, 5, 6, 7, 8, 9, 123456789, time.UTC), Dir: store.S2C, Data: data}
	if err := f.st.Append(context.Background(), []store.Frame{fr}, nil); err != nil {
		t.Fatal(err)
	}
	f.end(t)
	ch := f.open(t, "")
	for {
		ev, ok := next(t, ch)
		if !ok {
			t.Fatal("stream closed without a frame")
		}
		if ev.Event != "frame" {
			continue
		}
		fj := decodeFrame(t, ev)
		got, _ := base64.StdEncoding.DecodeString(fj.B64)
		if string(got) != string(data) || fj.Dir != "s2c" || fj.T != "2025-05-06T07:08:09.123456789Z" {
			t.Fatalf("frame %+v, bytes %x", fj, got)
		}
		return
	}
}

func TestResumeAfterLastEventID(t *testing.T) {
	for _, tc := range []struct {
		name, id string
		from     int64
	}{
		{"header", "7", 8},
		{"none", "", 1},
		{"garbage", "x", 1},
		{"past end", "25", 26},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, store.StatusLive)
			appendFrames(t, f.st, f.sess.ID, 0, 20)
			ch := f.open(t, tc.id)
			f.waitSubscribed(t, 1)
			f.hub.PublishFrames(appendFrames(t, f.st, f.sess.ID, 20, 10))
			f.end(t)
			seqs, _, _ := collect(t, ch)
			if tc.from > 30 {
				if len(seqs) != 0 {
					t.Fatalf("got %v, want nothing", seqs)
				}
				return
			}
			wantSeqs(t, seqs, tc.from, 30)
		})
	}
}

func TestResumeByQueryParameter(t *testing.T) {
	f := newFixture(t, store.StatusEnded)
	appendFrames(t, f.st, f.sess.ID, 0, 10)
	resp, err := http.Get(f.srv.URL + "?last_event_id=4")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan sseEvent, 100)
	go func() { defer resp.Body.Close(); readSSE(resp.Body, ch) }()
	seqs, _, _ := collect(t, ch)
	wantSeqs(t, seqs, 5, 10)
}

func TestEndedSessionReplaysAndCloses(t *testing.T) {
	f := newFixture(t, store.StatusEnded)
	appendFrames(t, f.st, f.sess.ID, 0, 1234) // several store pages
	f.hub.PageSize = 100
	ch := f.open(t, "")
	seqs, statuses, _ := collect(t, ch) // returns only when the server closes
	wantSeqs(t, seqs, 1, 1234)
	if statuses[0] != "ended" || statuses[len(statuses)-1] != "ended" {
		t.Fatalf("statuses %v", statuses)
	}
	f.waitSubscribed(t, 0)
}

func TestLiveGapIsFilledFromStore(t *testing.T) {
	f := newFixture(t, store.StatusLive)
	ch := f.open(t, "")
	f.waitSubscribed(t, 1)
	fr := appendFrames(t, f.st, f.sess.ID, 0, 10)
	f.hub.PublishFrames(fr[:2])
	f.hub.PublishFrames(fr[7:]) // 3..7 committed but never published
	f.end(t)
	seqs, _, _ := collect(t, ch)
	wantSeqs(t, seqs, 1, 10)
}

func TestSlowSubscriberIsCaughtUpNotDropped(t *testing.T) {
	st := openStore(t)
	sess := createSession(t, st, store.StatusLive)
	hub := NewHub(st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	hub.Buffer = 2
	pr, pw := io.Pipe()
	w := &pipeWriter{hdr: http.Header{}, pw: pw}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	done := make(chan struct{})
	go func() { defer close(done); defer pw.Close(); hub.ServeSSE(w, req, sess) }()
	deadline := time.Now().Add(10 * time.Second)
	for hub.Subscribers(sess.ID) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("never subscribed")
		}
		time.Sleep(time.Millisecond)
	}
	// Nobody reads the pipe: the server's first write blocks. Publishing
	// must still return, far past the subscriber's buffer.
	for from := int64(0); from < 500; from += 1 {
		hub.PublishFrames(appendFrames(t, st, sess.ID, from, 1))
	}
	s := sess
	s.Status, s.EndReason = store.StatusEnded, store.EndClientClosed
	if err := st.UpdateSession(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	hub.PublishStatus(sess.ID, store.StatusEnded, store.EndClientClosed)
	ch := make(chan sseEvent, 1024)
	go readSSE(pr, ch)
	seqs, statuses, _ := collect(t, ch)
	<-done
	wantSeqs(t, seqs, 1, 500)
	if statuses[len(statuses)-1] != "ended" {
		t.Fatalf("statuses %v", statuses)
	}
}

func TestStatusChangesAreSent(t *testing.T) {
	f := newFixture(t, store.StatusConnecting)
	ch := f.open(t, "")
	f.waitSubscribed(t, 1)
	s := f.sess
	s.Status = store.StatusLive
	if err := f.st.UpdateSession(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	f.hub.PublishStatus(s.ID, store.StatusLive, "")
	f.hub.PublishStatus(s.ID, store.StatusLive, "") // unchanged: not repeated
	f.end(t)
	_, statuses, _ := collect(t, ch)
	want := []string{"connecting", "live", "ended"}
	if fmt.Sprint(statuses) != fmt.Sprint(want) {
		t.Fatalf("statuses %v, want %v", statuses, want)
	}
}

func TestPolicyAndFaultEvents(t *testing.T) {
	f := newFixture(t, store.StatusLive)
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	hist := []store.Event{
		{Session: f.sess.ID, Seq: 1, FrameSeq: 1, Time: at, Kind: store.EventStatement, Text: "select 1"},
		{Session: f.sess.ID, Seq: 2, FrameSeq: 1, Time: at, Kind: store.EventAllowed, Rule: "r1", Risk: 5},
	}
	if err := f.st.Append(context.Background(), nil, hist); err != nil {
		t.Fatal(err)
	}
	ch := f.open(t, "")
	f.waitSubscribed(t, 1)
	live := []store.Event{
		{Session: f.sess.ID, Seq: 3, FrameSeq: 2, Time: at, Kind: store.EventStatement, Text: "drop table x"},
		{Session: f.sess.ID, Seq: 4, FrameSeq: 2, Time: at, Kind: store.EventBlocked, Text: "drop table x", Rule: "no-drop", Risk: 90, Detail: "guardrail"},
		{Session: f.sess.ID, Seq: 5, FrameSeq: 0, Time: at, Kind: store.EventFault, Text: "decoder trapped"},
	}
	if err := f.st.Append(context.Background(), nil, live); err != nil {
		t.Fatal(err)
	}
	f.hub.PublishEvents(live[1:]) // seq 3 never published: filled from the store
	f.end(t)
	_, _, other := collect(t, ch)
	var got []string
	for _, ev := range other {
		var e eventJSON
		if err := json.Unmarshal([]byte(ev.Data), &e); err != nil {
			t.Fatalf("event data %q: %v", ev.Data, err)
		}
		got = append(got, fmt.Sprintf("%s:%d:%s:%s:%d", ev.Event, e.Seq, e.Kind, e.Rule, e.Risk))
	}
	want := []string{"policy:2:allowed:r1:5", "policy:4:blocked:no-drop:90", "fault:5:fault::0"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %v, want %v", got, want)
	}
}

func TestKeepAliveComment(t *testing.T) {
	f := newFixture(t, store.StatusLive)
	f.hub.KeepAlive = 5 * time.Millisecond
	ch := f.open(t, "")
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-ch:
			if ev.Comment && ev.Data == ": keep-alive" {
				return
			}
		case <-deadline:
			t.Fatal("no keep-alive comment")
		}
	}
}

func TestDisconnectUnsubscribes(t *testing.T) {
	f := newFixture(t, store.StatusLive)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.srv.URL, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	f.waitSubscribed(t, 1)
	cancel()
	resp.Body.Close()
	f.waitSubscribed(t, 0)
}
