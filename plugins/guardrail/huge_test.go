package guardrail

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

// hugeConfig has deny phrases, a quoted-identifier deny and a regex, so
// every statement is lexed and matched in full.
const hugeConfig = `{"rules":[
	{"name":"no-drop","action":"block","deny":["drop table","truncate"]},
	{"name":"no-shadow","action":"block","deny":["pg_shadow","pg_read_file ("]},
	{"name":"sleep","action":"review","regex":"(?i)pg_sleep\\s*\\("}]}`

// hugeWant is each adversarial statement's decision with hugeConfig.
var hugeWant = map[string]string{
	"call-parens": sdk.Block, // pg_read_file (
}

// tail is appended to every adversarial statement: the guardrail must see
// it however much comes first.
const tail = "; DROP TABLE users"

func TestHugeInputs(t *testing.T) {
	p := New()
	if err := p.Configure([]byte(hugeConfig)); err != nil {
		t.Fatal(err)
	}
	for _, c := range bigsql.Cases(hugeSize) {
		t.Run(c.Name, func(t *testing.T) {
			in := &sdk.Input{Protocol: "postgres", Statement: sdk.Statement{Text: c.Text}}
			v, err := p.Evaluate(in)
			if err != nil {
				t.Fatal(err)
			}
			want := hugeWant[c.Name]
			if want == "" {
				want = sdk.Allow
			}
			if v.Decision != want {
				t.Errorf("decision %s (%s), want %s", v.Decision, v.Rule, want)
			}
			// Whatever the padding, a denied phrase after it is found,
			// unless the padding leaves a literal or comment open.
			in.Statement.Text = c.Text + tail
			v, err = p.Evaluate(in)
			if err != nil {
				t.Fatal(err)
			}
			open := c.Name == "comment-nesting" // an unclosed comment hides the rest from the server too
			if blocked := v.Decision == sdk.Block; blocked == open {
				t.Errorf("with %q appended: decision %s (%s), open literal %v", tail, v.Decision, v.Rule, open)
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
			want := hugeWant[name]
			if want == "" {
				want = sdk.Allow
			}
			if v.Decision != want {
				t.Errorf("decision %s (%s), want %s", v.Decision, v.Rule, want)
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
		})
	}
}
