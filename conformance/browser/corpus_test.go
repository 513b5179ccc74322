package browser

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"hoop.dev/hoop/core/wasmhost"
	"hoop.dev/hoop/sdk"
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

// wazeroRun decodes frames with the server's host (core/wasmhost), one
// feed per frame as the gateway does.
func wazeroRun(t *testing.T, p *wasmhost.Plugin, frames []Frame) []byte {
	t.Helper()
	ctx := context.Background()
	st, err := p.Open(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var all []byte
	for i, f := range frames {
		dir := sdk.C2S
		if f.Dir == "s2c" {
			dir = sdk.S2C
		}
		out, err := st.Feed(ctx, dir, f.Data)
		if err != nil {
			t.Fatalf("wazero feed of frame %d: %v", i+1, err)
		}
		all = append(all, out...)
	}
	return all
}

// TestPostgresCorpusParity decodes every PostgreSQL conformance case in
// Chromium with the view's Worker and under wazero with the server's host,
// and requires both to equal the corpus' expected events byte for byte.
func TestPostgresCorpusParity(t *testing.T) {
	root := RequireBrowser(t)
	cases, err := filepath.Glob(filepath.Join(root, "conformance", "cases", "postgres", "*.frames.jsonl"))
	if err != nil || len(cases) == 0 {
		t.Fatalf("no postgres cases: %v", err)
	}
	wasm := buildPostgres(t, root)
	ctx := context.Background()
	host, err := wasmhost.New(ctx, "", wasmhost.Limits{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer host.Close(ctx)
	plugin, err := host.Load(ctx, wasm)
	if err != nil {
		t.Fatal(err)
	}
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
			if server := wazeroRun(t, plugin, frames); !bytes.Equal(server, want) {
				t.Fatalf("wazero output differs from the expected events: the corpus or the host is off, not the browser")
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
