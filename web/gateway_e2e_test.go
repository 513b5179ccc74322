package web_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"hoop.dev/hoop/conformance/browser"
	"hoop.dev/hoop/internal/builtin"
	"hoop.dev/hoop/internal/hooptest"
)

// TestAuditViewEndToEnd runs the whole thing: a gateway in front of a real
// PostgreSQL, psql connected through it, and the audit view in Chromium
// following the session live (statements, count, filter, end) and
// replaying it after a reload.
func TestAuditViewEndToEnd(t *testing.T) {
	root := browser.RequireBrowser(t)
	psql, err := exec.LookPath("psql")
	if err != nil {
		psql = "/usr/lib/postgresql/15/bin/psql"
	}
	env := hooptest.Start(t, hooptest.Options{TOML: postgresPlugin(t, root)})
	requirePostgresDecoder(t, env)
	_, dsn := env.Credential(t, "ci-deploy", "readonly")
	// Earlier sessions of other identities, already ended, for the list.
	for _, who := range []struct{ name, role, sql string }{
		{"nightly-etl", "readwrite", "create table if not exists orders(id int); insert into orders select generate_series(1, 50)"},
		{"alice", "readonly", "select count(*) from orders"},
	} {
		_, other := env.Credential(t, who.name, who.role)
		if b, err := exec.Command(psql, "-X", "-q", "-c", who.sql, other).CombinedOutput(); err != nil {
			t.Fatalf("psql as %s: %v\n%s", who.name, err, b)
		}
	}

	var (
		mu    sync.Mutex
		cmd   *exec.Cmd
		stdin io.WriteCloser
		out   bytes.Buffer
		n     int
	)
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		if cmd != nil && cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	ctrl := http.NewServeMux()
	ctrl.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		before := sessionIDs(t, env)
		cmd = exec.Command(psql, "-X", "-q", "-v", "ON_ERROR_STOP=0", dsn)
		cmd.Stdout, cmd.Stderr = &out, &out
		stdin, _ = cmd.StdinPipe()
		if err := cmd.Start(); err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		// The first statement makes sure the session is registered and live.
		fmt.Fprintln(stdin, "select 'connected';")
		n = 1
		for range 500 {
			for _, id := range sessionIDs(t, env) {
				if !slices.Contains(before, id) {
					json.NewEncoder(w).Encode(map[string]string{"id": id})
					return
				}
			}
			waitABit()
		}
		http.Error(w, "psql session never appeared: "+out.String(), 500)
	})
	ctrl.HandleFunc("/emit", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		for _, sql := range r.URL.Query()["sql"] {
			fmt.Fprintf(stdin, "%s;\n", sql)
			n++
		}
		json.NewEncoder(w).Encode(map[string]int{"statements": n})
	})
	ctrl.HandleFunc("/end", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		stdin.Close()
		cmd.Wait()
		w.Write([]byte("{}"))
	})
	csrv := httptest.NewServer(ctrl) // no /drop: the gateway's streams are not ours to cut
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
	t.Setenv("BIG_ID", "")
	t.Setenv("EXPECT_ERRORS", "1")
	res := browser.RunNode(t, root, filepath.Join(root, "web", "e2e", "audit.mjs"))
	t.Logf("measured: %s", res)
	t.Logf("psql output:\n%s", out.String())
}

// postgresPlugin returns hoop.toml lines loading a freshly built
// postgres.wasm as a third-party plugin, unless `make wasm` already
// embedded the built-in one.
func postgresPlugin(t *testing.T, root string) string {
	return pluginsTOML(t, root, "decoders/postgres/wasm")
}

// pluginsTOML returns [[plugin]] lines for the plugins built from pkgs
// (directories like plugins/<name>/wasm) that are not embedded as
// built-ins; it builds each into a temporary directory.
func pluginsTOML(t *testing.T, root string, pkgs ...string) string {
	t.Helper()
	var b strings.Builder
	for _, pkg := range pkgs {
		name := filepath.Base(filepath.Dir(pkg))
		if slices.ContainsFunc(builtin.Modules(), func(m builtin.Module) bool { return m.Name == name }) {
			continue
		}
		path := filepath.Join(t.TempDir(), name+".wasm")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", path, "./"+pkg)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build %s.wasm: %v\n%s", name, err, out)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&b, "\n[[plugin]]\npath = %q\nsha256 = %q\n", path, hex.EncodeToString(sum[:]))
	}
	return b.String()
}

// requirePostgresDecoder checks the gateway serves the browser a postgres
// decoder plugin: without it the view can only show raw frames.
func requirePostgresDecoder(t *testing.T, env *hooptest.Env) {
	t.Helper()
	var list struct {
		Plugins []struct {
			Kind      string
			Protocols []string
		}
	}
	getJSON(t, env, "/api/plugins", &list)
	for _, p := range list.Plugins {
		if p.Kind == "decoder" && slices.Contains(p.Protocols, "postgres") {
			return
		}
	}
	t.Fatalf("the gateway lists no postgres decoder plugin (GET /api/plugins): %+v", list)
}

func sessionIDs(t *testing.T, env *hooptest.Env) []string {
	var list struct{ Sessions []struct{ ID string } }
	getJSON(t, env, "/api/sessions", &list)
	var ids []string
	for _, s := range list.Sessions {
		ids = append(ids, s.ID)
	}
	return ids
}

func getJSON(t *testing.T, env *hooptest.Env, path string, v any) {
	req, _ := http.NewRequest(http.MethodGet, env.URL()+path, nil)
	req.Header.Set("Authorization", "Bearer "+env.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("GET %s: %v", path, err)
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s: %s", path, resp.Status)
		return
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Errorf("GET %s: %v", path, err)
	}
}

func waitABit() { time.Sleep(20 * time.Millisecond) }
