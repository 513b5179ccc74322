package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"hoop.dev/hoop/conformance/browser"
	"hoop.dev/hoop/internal/hooptest"
)

// execResult is what the client got for one statement.
type execResult struct {
	Done    bool   `json:"done"`
	Tag     string `json:"tag"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// TestReviewInBrowserEndToEnd runs the shipped policies (hoop.toml's
// [[policy]] blocks) in a real gateway in front of PostgreSQL, with a pgx
// client and the audit view in Chromium: `drop table t` is blocked (the
// view shows the verdict, the client gets 42501), `delete from t` is held,
// approved in the view and completes with its DELETE tag; a second one is
// rejected with a reason. The replay after the end puts every verdict on
// its statement again.
func TestReviewInBrowserEndToEnd(t *testing.T) {
	root := browser.RequireBrowser(t)
	cfg := postgresPlugin(t, root) + policyPlugins(t, root) + shippedPolicies(t, root) + "\n[review]\ntimeout = \"2m\"\n"
	env := hooptest.Start(t, hooptest.Options{TOML: cfg})
	requirePostgresDecoder(t, env)
	env.PG.ExecIn(t, "app", "create table t (id int primary key, note text)")
	env.PG.ExecIn(t, "app", "insert into t select g, 'n' || g from generate_series(1, 3) g")
	env.PG.ExecIn(t, "app", "grant select, insert, update, delete on t to app_rw")
	_, dsn := env.Credential(t, "deploy-agent", "readwrite")

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var (
		mu      sync.Mutex
		conn    *pgx.Conn
		results []chan execResult
		got     []execResult
	)
	t.Cleanup(func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	})
	// One statement at a time on the connection, in order, like a client.
	work := make(chan func(), 16)
	go func() {
		for f := range work {
			f()
		}
	}()
	defer close(work)

	ctrl := http.NewServeMux()
	ctrl.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) {
		before := sessionIDs(t, env)
		c, err := pgx.Connect(ctx, dsn)
		if err == nil {
			_, err = c.Exec(ctx, "select 'connected'")
		}
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		mu.Lock()
		conn = c
		mu.Unlock()
		for range 500 {
			for _, id := range sessionIDs(t, env) {
				if !slices.Contains(before, id) {
					json.NewEncoder(w).Encode(map[string]string{"id": id})
					return
				}
			}
			waitABit()
		}
		http.Error(w, "the pgx session never appeared", 500)
	})
	// /exec?sql=&mode=exec sends a statement (simple protocol, or the
	// extended protocol's unnamed statement with mode=exec) without
	// waiting for its answer.
	ctrl.HandleFunc("/exec", func(w http.ResponseWriter, r *http.Request) {
		sql, extended := r.URL.Query().Get("sql"), r.URL.Query().Get("mode") == "exec"
		ch := make(chan execResult, 1)
		mu.Lock()
		n := len(results)
		results = append(results, ch)
		got = append(got, execResult{})
		c := conn
		mu.Unlock()
		work <- func() {
			var res execResult
			var tag pgconn.CommandTag
			var err error
			if extended {
				var rows pgx.Rows
				rows, err = c.Query(ctx, sql, pgx.QueryExecModeExec)
				if err == nil {
					rows.Close()
					tag, err = rows.CommandTag(), rows.Err()
				}
			} else {
				tag, err = c.Exec(ctx, sql)
			}
			var pe *pgconn.PgError
			switch {
			case errors.As(err, &pe):
				res.Code, res.Message = pe.Code, pe.Message
			case err != nil:
				res.Message = err.Error()
			default:
				res.Tag = tag.String()
			}
			res.Done = true
			ch <- res
		}
		json.NewEncoder(w).Encode(map[string]int{"n": n})
	})
	// /result?n=&wait=1 is what the client got for statement n so far
	// (done=false while it waits), or, with wait, once it has an answer.
	ctrl.HandleFunc("/result", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		mu.Lock()
		if n < 0 || n >= len(results) {
			mu.Unlock()
			http.Error(w, "no such statement", 400)
			return
		}
		ch, res := results[n], got[n]
		mu.Unlock()
		if !res.Done {
			if r.URL.Query().Get("wait") != "" {
				select {
				case res = <-ch:
				case <-time.After(time.Minute):
					http.Error(w, "no answer within a minute", 500)
					return
				}
			} else {
				select {
				case res = <-ch:
				default:
				}
			}
			mu.Lock()
			if res.Done {
				got[n] = res
			}
			mu.Unlock()
		}
		json.NewEncoder(w).Encode(res)
	})
	ctrl.HandleFunc("/end", func(w http.ResponseWriter, r *http.Request) {
		done := make(chan struct{})
		work <- func() {
			conn.Close(ctx)
			close(done)
		}
		<-done
		w.Write([]byte("{}"))
	})
	csrv := httptest.NewServer(ctrl)
	defer csrv.Close()

	shots := t.TempDir()
	if *updateShots {
		shots = filepath.Join(root, "docs", "screenshots")
		os.MkdirAll(shots, 0o755)
	}
	t.Setenv("HOOP_URL", env.URL())
	t.Setenv("HOOP_TOKEN", env.Token)
	t.Setenv("CTRL_URL", csrv.URL)
	t.Setenv("SHOTS", shots)
	res := browser.RunNode(t, root, filepath.Join(root, "web", "e2e", "review.mjs"))
	t.Logf("review.mjs: %s", res)

	// The decisions the view made are the reviews' record.
	var list struct {
		Reviews []struct {
			Statement string `json:"statement"`
			Status    string `json:"status"`
			DecidedBy string `json:"decided_by"`
			Note      string `json:"note"`
		}
	}
	getJSON(t, env, "/api/reviews", &list)
	var decided []string
	for _, r := range list.Reviews {
		decided = append(decided, fmt.Sprintf("%s|%s|%s|%s", r.Statement, r.Status, r.DecidedBy, r.Note))
	}
	slices.Sort(decided)
	want := []string{"delete from t|approved|audit view|", "delete from t|rejected|audit view|not during the freeze"}
	if !slices.Equal(decided, want) {
		t.Errorf("reviews = %q, want %q", decided, want)
	}
	// Upstream: the approved delete ran, the rejected one and the drop did not.
	up, err := pgx.Connect(ctx, env.PG.DSN("postgres", env.PG.Password, "app"))
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close(ctx)
	var n int
	if err := up.QueryRow(ctx, "select count(*) from t").Scan(&n); err != nil || n != 1 {
		t.Errorf("rows in t = %d (%v), want 1: the row inserted after the approved delete", n, err)
	}
}

// policyPlugins returns hoop.toml lines loading freshly built guardrail and
// analyzer policy plugins, unless `make wasm` embedded them.
func policyPlugins(t *testing.T, root string) string {
	return pluginsTOML(t, root, "plugins/guardrail/wasm", "plugins/analyzer/wasm")
}

// shippedPolicies returns the [[policy]] blocks of the repository's
// hoop.toml, so the test runs the policies `make run` ships (on resource
// "demo", as hooptest names its resource).
func shippedPolicies(t *testing.T, root string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "hoop.toml"))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	in := false
	for _, line := range strings.Split(string(b), "\n") {
		if s := strings.TrimSpace(line); strings.HasPrefix(s, "[") {
			in = s == "[[policy]]" || strings.HasPrefix(s, "[policy.") || strings.HasPrefix(s, "[[policy.")
		}
		if in {
			out.WriteString(line + "\n")
		}
	}
	if !strings.Contains(out.String(), `"guardrail"`) || !strings.Contains(out.String(), `"analyzer"`) {
		t.Fatalf("hoop.toml has no guardrail and analyzer [[policy]] blocks:\n%s", out.String())
	}
	return "\n" + out.String()
}
