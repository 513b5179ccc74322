package web_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"hoop.dev/hoop/conformance/browser"
	"hoop.dev/hoop/core/store"
	"hoop.dev/hoop/core/stream"
	"hoop.dev/hoop/web"
)

var updateShots = flag.Bool("update-screenshots", false, "write the end-to-end test's screenshots to docs/screenshots")

const token = "test-admin-token"

// memStore holds what the fake API and the hub read. The embedded nil
// interface panics on anything else.
type memStore struct {
	store.Store
	mu       sync.Mutex
	sessions map[string]store.Session
	frames   map[string][]store.Frame
	events   map[string][]store.Event
}

func (m *memStore) Session(_ context.Context, id string) (store.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sessions[id]
	if !ok {
		return s, store.ErrNotFound
	}
	return s, nil
}

func (m *memStore) Frames(_ context.Context, id string, after int64, limit int) ([]store.Frame, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	all := m.frames[id]
	i := sort.Search(len(all), func(i int) bool { return all[i].Seq > after })
	return append([]store.Frame(nil), all[i:min(len(all), i+limit)]...), nil
}

func (m *memStore) Events(_ context.Context, id string, after int64, limit int) ([]store.Event, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	all := m.events[id]
	i := sort.Search(len(all), func(i int) bool { return all[i].Seq > after })
	return append([]store.Event(nil), all[i:min(len(all), i+limit)]...), nil
}

// block commits a "blocked" verdict for frame seq and returns it.
func (m *memStore) block(id string, frame int64, rule, text string) []store.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := store.Event{Session: id, Seq: int64(len(m.events[id]) + 1), FrameSeq: frame, Time: time.Now().UTC(),
		Kind: store.EventBlocked, Text: text, Rule: rule, Risk: 90, Detail: "guardrail"}
	m.events[id] = append(m.events[id], e)
	return []store.Event{e}
}

// append commits frames (one per text) and returns them.
func (m *memStore) append(id string, dir store.Dir, texts ...string) []store.Frame {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.sessions[id]
	var out []store.Frame
	for _, t := range texts {
		f := store.Frame{Session: id, Seq: int64(len(m.frames[id]) + 1), Time: time.Now().UTC(), Dir: dir, Data: []byte(t)}
		m.frames[id] = append(m.frames[id], f)
		out = append(out, f)
		if dir == store.C2S {
			s.Statements += int64(strings.Count(t, "\n"))
		}
	}
	m.sessions[id] = s
	return out
}

func (m *memStore) setStatus(id, status, reason string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.sessions[id]
	s.Status, s.EndReason = status, reason
	if status == store.StatusEnded {
		s.EndedAt = time.Now().UTC()
	}
	m.sessions[id] = s
}

// sessionJSON is the API's session shape (what core/api serves).
func sessionJSON(s store.Session) map[string]any {
	ended := ""
	if !s.EndedAt.IsZero() {
		ended = s.EndedAt.Format(time.RFC3339Nano)
	}
	return map[string]any{
		"id": s.ID, "identity": s.Identity, "kind": s.Kind, "resource": s.Resource, "role": s.Role,
		"protocol": s.Protocol, "client_addr": s.ClientAddr, "database": s.Database, "status": s.Status,
		"end_reason": s.EndReason, "started_at": s.StartedAt.Format(time.RFC3339Nano), "ended_at": ended,
		"bytes_c2s": s.BytesC2S, "bytes_s2c": s.BytesS2C, "statements": s.Statements, "fault": s.Fault,
	}
}

func buildEcho(t *testing.T, root string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "echo.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "./conformance/browser/testdata/echodecoder")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build echo decoder: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestAuditViewInBrowser signs in, follows a live session (statements,
// count, filter, a dropped stream, the end), replays it after a reload and
// opens a 100k-statement session, against a fake API with the real stream
// hub and the echo test decoder.
func TestAuditViewInBrowser(t *testing.T) {
	root := browser.RequireBrowser(t)
	wasm := buildEcho(t, root)
	sum := sha256.Sum256(wasm)
	digest := hex.EncodeToString(sum[:])

	st := &memStore{sessions: map[string]store.Session{}, frames: map[string][]store.Frame{}, events: map[string][]store.Event{}}
	hub := stream.NewHub(st, slog.New(slog.NewTextHandler(io.Discard, nil)))
	base := time.Now().UTC().Add(-time.Hour)
	const bigCount = 100000
	big := store.Session{ID: "big", Identity: "nightly-etl", Kind: store.KindMachine, Resource: "warehouse", Role: "reader",
		Protocol: "echo", Status: store.StatusEnded, EndReason: store.EndClientClosed, StartedAt: base, EndedAt: base.Add(20 * time.Minute)}
	st.sessions["big"] = big
	for i := 1; i <= bigCount; i++ {
		st.frames["big"] = append(st.frames["big"], store.Frame{Session: "big", Seq: int64(i), Time: base.Add(time.Duration(i) * 10 * time.Millisecond),
			Dir: store.C2S, Data: fmt.Appendf(nil, "select %d\n", i)})
	}
	big.Statements = bigCount
	st.sessions["big"] = big

	var (
		mu      sync.Mutex
		current string
		cancels []context.CancelFunc
	)
	api := http.NewServeMux()
	api.HandleFunc("GET /api/sessions", func(w http.ResponseWriter, r *http.Request) {
		st.mu.Lock()
		list := []map[string]any{}
		for _, s := range st.sessions {
			list = append(list, sessionJSON(s))
		}
		st.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]any{"sessions": list})
	})
	api.HandleFunc("GET /api/sessions/{id}", func(w http.ResponseWriter, r *http.Request) {
		s, err := st.Session(r.Context(), r.PathValue("id"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		json.NewEncoder(w).Encode(sessionJSON(s))
	})
	api.HandleFunc("GET /api/sessions/{id}/stream", func(w http.ResponseWriter, r *http.Request) {
		s, err := st.Session(r.Context(), r.PathValue("id"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		mu.Lock()
		cancels = append(cancels, cancel)
		mu.Unlock()
		hub.ServeSSE(w, r.WithContext(ctx), s)
	})
	api.HandleFunc("GET /api/plugins", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"plugins": []map[string]any{
			{"name": "echo", "kind": "decoder", "version": "0.0.1", "protocols": []string{"echo"}, "digest": digest},
		}})
	})
	api.HandleFunc("GET /plugins/echo.wasm", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/wasm")
		w.Header().Set("X-Hoop-Digest", digest)
		w.Write(wasm)
	})
	mux := http.NewServeMux()
	mux.Handle("/", web.Handler())
	mux.Handle("/api/", bearer(api))
	mux.Handle("/plugins/", bearer(api))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// The control API the script calls to make the session do things.
	ctrl := http.NewServeMux()
	ctrl.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) {
		id := fmt.Sprintf("s-%d", time.Now().UnixNano())
		st.mu.Lock()
		st.sessions[id] = store.Session{ID: id, Identity: "ci-deploy", Kind: store.KindMachine, Resource: "orders-db", Role: "readwrite",
			Protocol: "echo", ClientAddr: "127.0.0.1:50123", Database: "orders", Status: store.StatusLive, StartedAt: time.Now().UTC()}
		st.mu.Unlock()
		mu.Lock()
		current = id
		mu.Unlock()
		hub.PublishStatus(id, store.StatusLive, "")
		json.NewEncoder(w).Encode(map[string]string{"id": id})
	})
	ctrl.HandleFunc("/emit", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		id := current
		mu.Unlock()
		rule := r.URL.Query().Get("block")
		for _, sql := range r.URL.Query()["sql"] {
			fr := st.append(id, store.C2S, sql+"\n")
			if rule != "" {
				// The verdict is published before the frame: the view must
				// still put it on the right statement.
				hub.PublishEvents(st.block(id, fr[0].Seq, rule, sql))
			}
			hub.PublishFrames(fr)
			hub.PublishFrames(st.append(id, store.S2C, "SELECT 1\n"))
		}
		s, _ := st.Session(r.Context(), id)
		json.NewEncoder(w).Encode(map[string]any{"statements": s.Statements, "blocked": rule != ""})
	})
	ctrl.HandleFunc("/drop", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		for _, c := range cancels {
			c()
		}
		cancels = nil
		mu.Unlock()
		w.Write([]byte("{}"))
	})
	ctrl.HandleFunc("/end", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		id := current
		mu.Unlock()
		st.setStatus(id, store.StatusEnded, store.EndClientClosed)
		hub.PublishStatus(id, store.StatusEnded, store.EndClientClosed)
		w.Write([]byte("{}"))
	})
	csrv := httptest.NewServer(ctrl)
	defer csrv.Close()

	shots := t.TempDir() // the committed screenshots come from the gateway test
	t.Setenv("HOOP_URL", srv.URL)
	t.Setenv("HOOP_TOKEN", token)
	t.Setenv("CTRL_URL", csrv.URL)
	t.Setenv("SHOTS", shots)
	t.Setenv("BIG_ID", "big")
	t.Setenv("BIG_COUNT", fmt.Sprint(bigCount))
	out := browser.RunNode(t, root, filepath.Join(root, "web", "e2e", "audit.mjs"))
	t.Logf("measured: %s", out)
}

func bearer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, `{"error":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}
