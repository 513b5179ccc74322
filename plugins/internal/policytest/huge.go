package policytest

import (
	"context"
	"testing"
	"time"

	"hoop.dev/hoop/core/wasmhost"
	"hoop.dev/hoop/plugins/internal/bigsql"
	"hoop.dev/hoop/sdk"
	"hoop.dev/hoop/sdk/sdktest"
)

// HugeSize is the size of the adversarial statements of bigsql.
const HugeSize = 1 << 20

// want returns the expected decision of case name (Allow if not listed).
func want(m map[string]string, name string) string {
	if w := m[name]; w != "" {
		return w
	}
	return sdk.Allow
}

// BenchHuge benchmarks a configured native policy on every adversarial
// statement.
func BenchHuge(b *testing.B, p sdk.Policy) {
	for _, c := range bigsql.Cases(HugeSize) {
		in := &sdk.Input{Protocol: "postgres", Statement: sdk.Statement{Text: c.Text}}
		b.Run(c.Name, func(b *testing.B) {
			b.SetBytes(int64(len(c.Text)))
			for b.Loop() {
				if _, err := p.Evaluate(in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// LoadWASM builds the plugin in ./wasm and loads it under the gateway's
// sandbox with a generous deadline (timing is the benchmark's business, not
// the test's), configured with config.
func LoadWASM(tb testing.TB, config string) *wasmhost.Plugin {
	tb.Helper()
	wasm := sdktest.BuildWASM(tb, "wasm")
	ctx := context.Background()
	h, err := wasmhost.New(ctx, "", wasmhost.Limits{CallTimeout: time.Minute, PoolSize: 1}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = h.Close(ctx) })
	pl, err := h.Load(ctx, wasm)
	if err != nil {
		tb.Fatal(err)
	}
	if err := pl.Configure(ctx, []byte(config)); err != nil {
		tb.Fatal(err)
	}
	return pl
}

// wasmInputs are the raw policy inputs of the sandbox runs: every
// adversarial statement, and deeply nested JSON the codec must reject.
func wasmInputs() (names []string, inputs [][]byte) {
	for _, c := range bigsql.Cases(HugeSize) {
		names = append(names, c.Name)
		inputs = append(inputs, sdk.AppendInput(nil, &sdk.Input{Protocol: "postgres", Statement: sdk.Statement{Text: c.Text}}))
	}
	return append(names, "deep-json"), append(inputs, bigsql.DeepJSON(5000))
}

// CheckHugeWASM runs every adversarial statement through the built plugin
// and requires the decisions in wants (Allow where not listed); deep JSON
// must be refused.
func CheckHugeWASM(t *testing.T, config string, wants map[string]string) {
	if testing.Short() {
		t.Skip("builds the plugin")
	}
	pl := LoadWASM(t, config)
	names, inputs := wasmInputs()
	for i, name := range names {
		t.Run(name, func(t *testing.T) {
			raw, err := pl.Evaluate(context.Background(), inputs[i])
			if name == "deep-json" {
				if err == nil {
					t.Fatalf("deep JSON accepted: %s", raw)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var v sdk.Verdict
			if err := sdk.DecodeVerdict(raw, &v); err != nil {
				t.Fatal(err)
			}
			if w := want(wants, name); v.Decision != w {
				t.Errorf("decision %s (%s: %s), want %s", v.Decision, v.Rule, v.Reason, w)
			}
		})
	}
}

// BenchHugeWASM benchmarks the built plugin on the adversarial inputs.
func BenchHugeWASM(b *testing.B, config string) {
	pl := LoadWASM(b, config)
	names, inputs := wasmInputs()
	for i, name := range names {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(inputs[i])))
			for b.Loop() {
				_, _ = pl.Evaluate(context.Background(), inputs[i])
			}
			st := pl.Stats()
			b.ReportMetric(float64(st.MemoryBytes>>20), "MiB-mem")
			b.ReportMetric(float64(st.Recycles), "recycles")
		})
	}
}
