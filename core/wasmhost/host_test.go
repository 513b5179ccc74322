package wasmhost_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"hoop.dev/hoop/core/wasmhost"
	"hoop.dev/hoop/sdk"
	"hoop.dev/hoop/sdk/sdktest"
)

// cacheDir is shared by the tests' hosts so each module compiles once.
var cacheDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "wasmhost-test-cache-*")
	if err != nil {
		panic(err)
	}
	cacheDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func module(t testing.TB, name string) []byte {
	t.Helper()
	return sdktest.BuildWASM(t, "../../conformance/testplugins/"+name)
}

// logBuffer collects the host's log for assertions.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newHost(t testing.TB, lim wasmhost.Limits) (*wasmhost.Host, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	h, err := wasmhost.New(context.Background(), cacheDir, lim, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.Close(context.Background()) })
	return h, logs
}

func load(t testing.TB, h *wasmhost.Host, name string) *wasmhost.Plugin {
	t.Helper()
	p, err := h.Load(context.Background(), module(t, name))
	if err != nil {
		t.Fatalf("load %s: %v", name, err)
	}
	return p
}

func TestDecoderStream(t *testing.T) {
	ctx := context.Background()
	h, _ := newHost(t, wasmhost.Limits{})
	p := load(t, h, "echo")
	if m := p.Manifest(); m.Name != "echo" || m.Kind != sdk.KindDecoder || len(m.Protocols) != 1 || m.Protocols[0] != "line" {
		t.Fatalf("manifest = %+v", m)
	}
	if len(p.Digest()) != 64 {
		t.Fatalf("digest = %q", p.Digest())
	}
	st, err := p.Open(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	steps := []struct {
		dir  sdk.Dir
		in   string
		want string
	}{
		{sdk.C2S, "SELECT ", ""},
		{sdk.S2C, "ok", ""},
		{sdk.C2S, "1;\nSEL", `{"dir":"c2s","type":"statement","text":"SELECT 1;"}` + "\n"},
		{sdk.S2C, "\n", `{"dir":"s2c","type":"result","text":"ok"}` + "\n"},
		{sdk.C2S, "ECT \"é\"\n\n", `{"dir":"c2s","type":"statement","text":"SELECT \"é\""}` + "\n" + `{"dir":"c2s","type":"statement","text":""}` + "\n"},
		{sdk.C2S, "", ""},
	}
	for i, s := range steps {
		got, err := st.Feed(ctx, s.dir, []byte(s.in))
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if string(got) != s.want {
			t.Errorf("step %d: got %q, want %q", i, got, s.want)
		}
	}
	if _, err := p.Evaluate(ctx, []byte("{}")); err == nil {
		t.Error("Evaluate on a decoder succeeded")
	}
}

func TestPluginErrorIsNotAFault(t *testing.T) {
	ctx := context.Background()
	h, _ := newHost(t, wasmhost.Limits{})
	p := load(t, h, "echo")
	st, err := p.Open(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.Feed(ctx, sdk.C2S, bytes.Repeat([]byte("x"), 70<<10))
	var pe *wasmhost.PluginError
	if !errors.As(err, &pe) || errors.Is(err, wasmhost.ErrFault) || !strings.Contains(pe.Message, "64 KiB") {
		t.Fatalf("err = %v, want a PluginError about the line length", err)
	}
	got, err := st.Feed(ctx, sdk.C2S, []byte("after\n"))
	if err != nil || !strings.Contains(string(got), `"after"`) {
		t.Fatalf("stream after a plugin error: %q, %v", got, err)
	}
	if p.Faults() != 0 {
		t.Fatalf("faults = %d, want 0", p.Faults())
	}
}

func TestLoadRejects(t *testing.T) {
	h, _ := newHost(t, wasmhost.Limits{})
	_, err := h.Load(context.Background(), module(t, "forbidden"))
	if !errors.Is(err, wasmhost.ErrABI) || !strings.Contains(err.Error(), "forbidden import env.something") {
		t.Fatalf("forbidden import: err = %v", err)
	}
	if _, err := h.Load(context.Background(), []byte("\x00asm garbage")); err == nil {
		t.Fatal("garbage module loaded")
	}
}

func TestPanicAndTrap(t *testing.T) {
	ctx := context.Background()
	h, logs := newHost(t, wasmhost.Limits{PoolSize: 1})
	p := load(t, h, "panic")
	victim, err := p.Open(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := p.Open(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.Feed(ctx, sdk.C2S, []byte("panic"))
	var pe *wasmhost.PluginError
	if !errors.As(err, &pe) || !strings.Contains(pe.Message, "asked to panic") {
		t.Fatalf("panic: err = %v, want a recovered PluginError", err)
	}
	if _, err := bad.Feed(ctx, sdk.C2S, []byte("trap")); !errors.Is(err, wasmhost.ErrFault) {
		t.Fatalf("trap: err = %v, want ErrFault", err)
	}
	if p.Faults() != 1 || !strings.Contains(logs.String(), "plugin fault") {
		t.Fatalf("faults = %d, log %q", p.Faults(), logs.String())
	}
	// The victim shared the dead instance (pool of one): one ErrFault, then
	// it is reopened on a fresh instance.
	if _, err := victim.Feed(ctx, sdk.C2S, []byte("hello")); !errors.Is(err, wasmhost.ErrFault) {
		t.Fatalf("victim's first feed: err = %v, want ErrFault", err)
	}
	for _, st := range []*wasmhost.Stream{victim, bad} {
		got, err := st.Feed(ctx, sdk.S2C, []byte("hello"))
		if err != nil || !strings.Contains(string(got), `"hello"`) {
			t.Fatalf("after reopen: %q, %v", got, err)
		}
	}
}

func TestTimeoutAndOOMDoNotStopOthers(t *testing.T) {
	ctx := context.Background()
	h, _ := newHost(t, wasmhost.Limits{CallTimeout: 200 * time.Millisecond, MemoryPages: 1024})
	echo := load(t, h, "echo")
	cases := []struct {
		plugin, kind string
	}{
		{"loop", "timeout"},
		{"oom", "oom"},
	}
	for _, c := range cases {
		t.Run(c.plugin, func(t *testing.T) {
			bad := load(t, h, c.plugin)
			done := make(chan error, 1)
			go func() {
				st, err := bad.Open(ctx, nil)
				if err == nil {
					for range 3 {
						if _, err = st.Feed(ctx, sdk.C2S, []byte("x")); err != nil {
							break
						}
					}
				}
				done <- err
			}()
			good, err := echo.Open(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer good.Close()
			for i := 0; ; i++ {
				got, err := good.Feed(ctx, sdk.C2S, fmt.Appendf(nil, "line %d\n", i))
				if err != nil || !strings.Contains(string(got), fmt.Sprintf(`"line %d"`, i)) {
					t.Fatalf("echo while %s misbehaves: %q, %v", c.plugin, got, err)
				}
				select {
				case err := <-done:
					if !errors.Is(err, wasmhost.ErrFault) || !strings.Contains(err.Error(), c.kind) {
						t.Fatalf("%s: err = %v, want ErrFault (%s)", c.plugin, err, c.kind)
					}
					if bad.Faults() != 1 {
						t.Fatalf("faults = %d, want 1", bad.Faults())
					}
					// A fresh instance serves the next stream.
					if st, err := bad.Open(ctx, nil); err != nil {
						t.Fatalf("open after fault: %v", err)
					} else {
						st.Close()
					}
					return
				default:
				}
			}
		})
	}
}

func TestPolicyConfigReachesEveryInstance(t *testing.T) {
	ctx := context.Background()
	h, _ := newHost(t, wasmhost.Limits{PoolSize: 3})
	p := load(t, h, "allow")
	if err := p.Configure(ctx, []byte(`{"deny":`)); err == nil {
		t.Fatal("bad config accepted")
	}
	if err := p.Configure(ctx, []byte(`{"deny":"DROP"}`)); err != nil {
		t.Fatal(err)
	}
	in := sdk.AppendInput(nil, &sdk.Input{Statement: sdk.Statement{Text: "DROP TABLE users"}})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			for range 25 {
				raw, err := p.Evaluate(ctx, in)
				var v sdk.Verdict
				if err == nil {
					err = sdk.DecodeVerdict(raw, &v)
				}
				if err == nil && (v.Decision != sdk.Block || v.Rule != "deny-word") {
					err = fmt.Errorf("verdict %s", raw)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Instances < 1 || st.Instances > 3 {
		t.Fatalf("instances = %d, want 1-3", st.Instances)
	}
}

func TestLoopingPolicy(t *testing.T) {
	ctx := context.Background()
	h, _ := newHost(t, wasmhost.Limits{CallTimeout: 100 * time.Millisecond})
	loop := load(t, h, "looppolicy")
	allow := load(t, h, "allow")
	in := sdk.AppendInput(nil, &sdk.Input{Statement: sdk.Statement{Text: "SELECT 1"}})
	if _, err := loop.Evaluate(ctx, in); !errors.Is(err, wasmhost.ErrFault) || !strings.Contains(err.Error(), "timeout") {
		t.Fatalf("looping policy: err = %v", err)
	}
	if raw, err := allow.Evaluate(ctx, in); err != nil || !bytes.Contains(raw, []byte(`"allow"`)) {
		t.Fatalf("allow after a loop: %s, %v", raw, err)
	}
}

func TestDiskCache(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for range 2 {
		h, err := wasmhost.New(ctx, dir, wasmhost.Limits{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.Load(ctx, module(t, "echo")); err != nil {
			t.Fatal(err)
		}
		if err := h.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("cache dir empty: %v", err)
	}
}
