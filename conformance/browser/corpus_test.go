package browser

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildPostgres builds decoders/postgres/wasm the way `make wasm` does.
func buildPostgres(t *testing.T, root string) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "postgres.wasm")
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "./decoders/postgres/wasm")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		if bytes.Contains(b, []byte("undefined: sdk.")) {
			t.Skipf("postgres.wasm does not build yet: the SDK's wasm glue is not on this branch:\n%s", b)
		}
		t.Fatalf("build postgres.wasm: %v\n%s", err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPostgresCorpusParity decodes every PostgreSQL conformance case in
// Chromium with the view's Worker and compares the JSON Lines byte for
// byte with the corpus' expected events (which the native decoder and the
// wazero host are held to).
func TestPostgresCorpusParity(t *testing.T) {
	root := RequireBrowser(t)
	cases, err := filepath.Glob(filepath.Join(root, "conformance", "cases", "postgres", "*.frames.jsonl"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no postgres cases: %v", err)
	}
	wasm := buildPostgres(t, root)
	for _, path := range cases {
		name := strings.TrimSuffix(filepath.Base(path), ".frames.jsonl")
		t.Run(name, func(t *testing.T) {
			frames, err := ReadFrames(path)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(strings.TrimSuffix(path, ".frames.jsonl") + ".events.jsonl")
			if err != nil {
				t.Fatal(err)
			}
			got := RunInBrowser(t, wasm, frames)
			if !bytes.Equal(got, want) {
				gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
				for i := 0; i < min(len(gl), len(wl)); i++ {
					if gl[i] != wl[i] {
						t.Fatalf("line %d differs:\n got: %s\nwant: %s", i+1, gl[i], wl[i])
					}
				}
				t.Fatalf("got %d lines, want %d", len(gl), len(wl))
			}
		})
	}
}
