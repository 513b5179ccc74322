package analyzer

import (
	"context"
	"testing"
	"time"

	"hoop.dev/hoop/core/wasmhost"
	"hoop.dev/hoop/plugins/internal/bigsql"
	"hoop.dev/hoop/sdk"
	"hoop.dev/hoop/sdk/sdktest"
)

const hugeSize = 1 << 20

// hugeConfig turns on the per-token sensitive-table scan too.
const hugeConfig = `{"sensitive_tables":["orders","billing.cards","x"]}`

// hugeWant is the decision each adversarial statement must get with
// hugeConfig: the bounds that keep Evaluate linear must never make a
// statement look safer.
var hugeWant = map[string]string{
	"single-token":    sdk.Allow,
	"spaced-tokens":   sdk.Allow, // touches sensitive table x (40)
	"many-statements": sdk.Allow, // multi-statement (30) only
	"open-parens":     sdk.Allow,
	"quotes":          sdk.Allow,
	"comment-nesting": sdk.Allow,
	"dollar-tags":     sdk.Allow,
	"numbers":         sdk.Allow,
	"updates":         sdk.Review,
	"deletes-split":   sdk.Review,
	"where-or":        sdk.Allow, // a real WHERE: a write (10)
	"call-parens":     sdk.Review,
	"do-body":         sdk.Allow,
	"insert-values":   sdk.Allow,
}

func TestHugeInputs(t *testing.T) {
	p := New()
	if err := p.Configure([]byte(hugeConfig)); err != nil {
		t.Fatal(err)
	}
	for _, c := range bigsql.Cases(hugeSize) {
		t.Run(c.Name, func(t *testing.T) {
			v, err := p.Evaluate(&sdk.Input{Protocol: "postgres", Statement: sdk.Statement{Text: c.Text}})
			if err != nil {
				t.Fatal(err)
			}
			if want := hugeWant[c.Name]; v.Decision != want {
				t.Errorf("decision %s (%s), want %s", v.Decision, v.Reason, want)
			}
		})
	}
}

func BenchmarkHugeInputs(b *testing.B) {
	p := New()
	if err := p.Configure([]byte(hugeConfig)); err != nil {
		b.Fatal(err)
	}
	for _, c := range bigsql.Cases(hugeSize) {
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

// loadWASM builds the plugin and loads it under the gateway's sandbox with
// a generous deadline: timing is the benchmark's business, not the test's.
func loadWASM(tb testing.TB) *wasmhost.Plugin {
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
	if err := pl.Configure(ctx, []byte(hugeConfig)); err != nil {
		tb.Fatal(err)
	}
	return pl
}

// wasmInputs are the raw policy inputs of the sandbox runs: every
// adversarial statement, and deeply nested JSON the codec must reject.
func wasmInputs() (names []string, inputs [][]byte) {
	for _, c := range bigsql.Cases(hugeSize) {
		names = append(names, c.Name)
		inputs = append(inputs, sdk.AppendInput(nil, &sdk.Input{Protocol: "postgres", Statement: sdk.Statement{Text: c.Text}}))
	}
	return append(names, "deep-json"), append(inputs, bigsql.DeepJSON(5000))
}

func TestHugeInputsWASM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the plugin")
	}
	pl := loadWASM(t)
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
			if want := hugeWant[name]; v.Decision != want {
				t.Errorf("decision %s (%s), want %s", v.Decision, v.Reason, want)
			}
		})
	}
}

func BenchmarkHugeInputsWASM(b *testing.B) {
	pl := loadWASM(b)
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
