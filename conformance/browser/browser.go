// Package browser runs a decoder plugin inside headless Chromium through
// the audit view's own Worker code (web/static: decoder.js, worker.js,
// wasi.js), so a test can check that the browser decodes a conformance
// case byte for byte like the server host does.
//
// It needs Debian's chromium and web/node_modules (playwright-core);
// web/e2e/install.sh installs both, and the helpers run it when they are
// missing. Tests skip, with the reason, only when that install fails.
package browser

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"hoop.dev/hoop/web"
)

//go:embed page
var page embed.FS

// Frame is one recorded chunk, as in conformance/cases/*/*.frames.jsonl.
type Frame struct {
	Dir  string // "c2s" or "s2c"
	Data []byte
}

// Failure is a frame the browser host could not decode: the decoder
// returned -1, trapped or missed the deadline.
type Failure struct {
	Seq   int    `json:"seq"` // 1-based index into the frames
	Error string `json:"error"`
}

// Result is what one run in the browser produced.
type Result struct {
	Lines    []byte          // concatenated JSON Lines of every successful feed
	Failures []Failure       // frames whose feed failed
	Restarts int             // Worker restarts (traps and deadlines)
	Manifest json.RawMessage // the plugin's hoop_manifest
}

// Options tunes a run.
type Options struct {
	// Deadline is the Worker's per-call deadline (5 s when zero).
	Deadline time.Duration
}

// ReadFrames parses a .frames.jsonl file: lines {"dir":"c2s"|"s2c","hex":"..."}.
func ReadFrames(path string) ([]Frame, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read frames: %w", err)
	}
	var out []Frame
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 64<<20)
	for n := 1; sc.Scan(); n++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		var l struct{ Dir, Hex string }
		if err := json.Unmarshal(line, &l); err != nil {
			return nil, fmt.Errorf("parse %s:%d: %w", path, n, err)
		}
		data, err := hex.DecodeString(l.Hex)
		if err != nil {
			return nil, fmt.Errorf("parse %s:%d: hex: %w", path, n, err)
		}
		if l.Dir != "c2s" && l.Dir != "s2c" {
			return nil, fmt.Errorf("parse %s:%d: dir %q", path, n, l.Dir)
		}
		out = append(out, Frame{Dir: l.Dir, Data: data})
	}
	return out, sc.Err()
}

// RunInBrowser feeds frames one per call through the browser host and
// returns the concatenated JSON Lines. A failed frame fails the test; use
// Run to inspect failures.
func RunInBrowser(t testing.TB, wasm []byte, frames []Frame) []byte {
	t.Helper()
	r := Run(t, wasm, frames, Options{})
	if len(r.Failures) > 0 {
		t.Fatalf("browser decode failed: %+v", r.Failures)
	}
	return r.Lines
}

// Run feeds frames through the browser host and reports everything.
func Run(t testing.TB, wasm []byte, frames []Frame, opt Options) Result {
	t.Helper()
	root := RequireBrowser(t)
	type hexFrame struct {
		Dir string `json:"dir"`
		Hex string `json:"hex"`
	}
	hf := make([]hexFrame, len(frames))
	for i, f := range frames {
		hf[i] = hexFrame{f.Dir, hex.EncodeToString(f.Data)}
	}
	framesJSON, err := json.Marshal(hf)
	if err != nil {
		t.Fatalf("encode frames: %v", err)
	}
	pageFS, _ := fs.Sub(page, "page")
	mux := http.NewServeMux()
	mux.Handle("/", web.Handler())
	mux.Handle("/parity/", http.StripPrefix("/parity/", http.FileServerFS(pageFS)))
	mux.HandleFunc("/parity/module.wasm", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/wasm")
		w.Write(wasm)
	})
	mux.HandleFunc("/parity/frames.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(framesJSON)
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	url := srv.URL + "/parity/parity.html"
	if opt.Deadline > 0 {
		url += "?deadline=" + strconv.FormatInt(opt.Deadline.Milliseconds(), 10)
	}
	out := RunNode(t, root, filepath.Join(root, "conformance", "browser", "parity.mjs"), url)
	var res struct {
		B64      string          `json:"b64"`
		Failures []Failure       `json:"failures"`
		Restarts int             `json:"restarts"`
		Manifest json.RawMessage `json:"manifest"`
		Fatal    string          `json:"fatal"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("parity output %q: %v", out, err)
	}
	if res.Fatal != "" {
		t.Fatalf("browser host failed: %s", res.Fatal)
	}
	lines, err := base64.StdEncoding.DecodeString(res.B64)
	if err != nil {
		t.Fatalf("parity output: %v", err)
	}
	return Result{Lines: lines, Failures: res.Failures, Restarts: res.Restarts, Manifest: res.Manifest}
}

// RunNode runs a Node script (with the repo's web/node_modules in reach)
// and returns its stdout; stderr goes to the test log.
func RunNode(t testing.TB, root, script string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", append([]string{script}, args...)...)
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if stderr.Len() > 0 {
		t.Logf("%s stderr:\n%s", filepath.Base(script), stderr.String())
	}
	if err != nil {
		t.Fatalf("run %s: %v", filepath.Base(script), err)
	}
	return stdout.Bytes()
}

var (
	installOnce sync.Once
	installErr  error
)

// RequireBrowser makes sure chromium, node and playwright-core are there
// (running web/e2e/install.sh once if not) and returns the repository
// root. It skips the test, saying why, only if they cannot be installed.
func RequireBrowser(t testing.TB) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatalf("find repository root: %v", err)
	}
	ready := func() bool {
		_, e1 := os.Stat("/usr/bin/chromium")
		_, e2 := os.Stat(filepath.Join(root, "web", "node_modules", "playwright-core"))
		_, e3 := exec.LookPath("node")
		return e1 == nil && e2 == nil && e3 == nil
	}
	if ready() {
		return root
	}
	installOnce.Do(func() {
		out, err := exec.Command("sh", filepath.Join(root, "web", "e2e", "install.sh")).CombinedOutput()
		if err != nil {
			installErr = fmt.Errorf("web/e2e/install.sh: %w\n%s", err, out)
		}
	})
	if installErr != nil || !ready() {
		t.Skipf("headless chromium with playwright-core cannot be installed here: %v", installErr)
	}
	return root
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
		dir = parent
	}
}
