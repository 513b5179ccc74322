// Package sdktest lets a plugin author write one table test and run it both
// against the plugin's Go types natively and against the built .wasm under
// the real host, so the two can never drift apart. It needs no gateway.
package sdktest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"hoop.dev/hoop/core/wasmhost"
	"hoop.dev/hoop/sdk"
)

// DecoderUnderTest is a decoder run natively or as WASM.
type DecoderUnderTest interface {
	// Open starts a stream with an optional JSON config.
	Open(config []byte) (StreamUnderTest, error)
}

// StreamUnderTest is one stream of a DecoderUnderTest.
type StreamUnderTest interface {
	// Feed returns the JSON Lines the data completed; the caller owns them.
	Feed(dir sdk.Dir, data []byte) ([]byte, error)
	// Close ends the stream.
	Close()
}

// PolicyUnderTest is a policy run natively or as WASM. Both go through the
// ABI's JSON codec, so an input or verdict the codec mangles shows up
// natively too.
type PolicyUnderTest interface {
	Configure(config []byte) error
	Evaluate(in *sdk.Input) (sdk.Verdict, error)
}

// NativeDecoder runs d in-process. After each Feed it overwrites the input
// it passed, as the WASM buffer would be, so a stream that keeps a
// reference to data instead of a copy fails here as it would in the host.
func NativeDecoder(d sdk.Decoder) DecoderUnderTest { return nativeDecoder{d} }

type nativeDecoder struct{ d sdk.Decoder }

func (n nativeDecoder) Open(config []byte) (StreamUnderTest, error) {
	st, err := n.d.Open(bytes.Clone(config))
	if err != nil {
		return nil, err
	}
	return &nativeStream{st: st}, nil
}

type nativeStream struct {
	st  sdk.Stream
	buf []byte
	out []byte
}

func (n *nativeStream) Feed(dir sdk.Dir, data []byte) ([]byte, error) {
	n.buf = append(n.buf[:0], data...)
	var err error
	n.out, err = n.st.Feed(dir, n.buf, n.out[:0])
	for i := range n.buf {
		n.buf[i] = 0xAA
	}
	if err != nil {
		return nil, err
	}
	return bytes.Clone(n.out), nil
}

func (n *nativeStream) Close() { n.st.Close() }

// NativePolicy runs p in-process.
func NativePolicy(p sdk.Policy) PolicyUnderTest { return nativePolicy{p} }

type nativePolicy struct{ p sdk.Policy }

func (n nativePolicy) Configure(config []byte) error {
	if len(config) == 0 {
		config = []byte("{}")
	}
	return n.p.Configure(bytes.Clone(config))
}

func (n nativePolicy) Evaluate(in *sdk.Input) (sdk.Verdict, error) {
	var decoded sdk.Input
	if err := sdk.DecodeInput(sdk.AppendInput(nil, in), &decoded); err != nil {
		return sdk.Verdict{}, err
	}
	v, err := n.p.Evaluate(&decoded)
	if err != nil {
		return sdk.Verdict{}, err
	}
	var out sdk.Verdict
	if err := sdk.DecodeVerdict(sdk.AppendVerdict(nil, v), &out); err != nil {
		return sdk.Verdict{}, err
	}
	return out, nil
}

// load starts a host for the test and loads wasm into it.
func load(t testing.TB, wasm []byte, kind string) *wasmhost.Plugin {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	h, err := wasmhost.New(ctx, "", wasmhost.Limits{}, log)
	if err != nil {
		t.Fatalf("start wasm host: %v", err)
	}
	t.Cleanup(func() { _ = h.Close(ctx) })
	p, err := h.Load(ctx, wasm)
	if err != nil {
		t.Fatalf("load plugin: %v", err)
	}
	if k := p.Manifest().Kind; k != kind {
		t.Fatalf("plugin %s is a %s, want a %s", p.Manifest().Name, k, kind)
	}
	return p
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(b, "\n")))
	return len(b), nil
}

// WASMDecoder runs a decoder module under wasmhost with default limits.
func WASMDecoder(t testing.TB, wasm []byte) DecoderUnderTest {
	t.Helper()
	return wasmDecoder{load(t, wasm, sdk.KindDecoder)}
}

type wasmDecoder struct{ p *wasmhost.Plugin }

func (w wasmDecoder) Open(config []byte) (StreamUnderTest, error) {
	st, err := w.p.Open(context.Background(), config)
	if err != nil {
		return nil, err
	}
	return wasmStream{st}, nil
}

type wasmStream struct{ st *wasmhost.Stream }

func (w wasmStream) Feed(dir sdk.Dir, data []byte) ([]byte, error) {
	return w.st.Feed(context.Background(), dir, data)
}

func (w wasmStream) Close() { w.st.Close() }

// WASMPolicy runs a policy module under wasmhost with default limits.
func WASMPolicy(t testing.TB, wasm []byte) PolicyUnderTest {
	t.Helper()
	return wasmPolicy{load(t, wasm, sdk.KindPolicy)}
}

type wasmPolicy struct{ p *wasmhost.Plugin }

func (w wasmPolicy) Configure(config []byte) error {
	return w.p.Configure(context.Background(), config)
}

func (w wasmPolicy) Evaluate(in *sdk.Input) (sdk.Verdict, error) {
	raw, err := w.p.Evaluate(context.Background(), sdk.AppendInput(nil, in))
	if err != nil {
		return sdk.Verdict{}, err
	}
	var v sdk.Verdict
	if err := sdk.DecodeVerdict(raw, &v); err != nil {
		return sdk.Verdict{}, err
	}
	return v, nil
}

var builds sync.Map // absolute package dir -> *build

type build struct {
	once sync.Once
	wasm []byte
	err  error
}

// BuildWASM builds the plugin main package in pkgDir with GOOS=wasip1
// GOARCH=wasm -buildmode=c-shared and returns the module. Each package is
// built once per test binary; Go's build cache makes later runs cheap.
func BuildWASM(t testing.TB, pkgDir string) []byte {
	t.Helper()
	abs, err := filepath.Abs(pkgDir)
	if err != nil {
		t.Fatalf("build wasm: %v", err)
	}
	v, _ := builds.LoadOrStore(abs, &build{})
	b := v.(*build)
	b.once.Do(func() { b.wasm, b.err = buildWASM(abs, t.TempDir()) })
	if b.err != nil {
		t.Fatalf("build wasm %s: %v", pkgDir, b.err)
	}
	return b.wasm
}

func buildWASM(pkgDir, tmp string) ([]byte, error) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	out := filepath.Join(tmp, "plugin.wasm")
	cmd := exec.Command(goTool, "build", "-buildmode=c-shared", "-o", out, ".")
	cmd.Dir = pkgDir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("%w: %s", err, msg)
	}
	return os.ReadFile(out)
}
