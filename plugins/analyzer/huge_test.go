package analyzer

import (
	"testing"

	"hoop.dev/hoop/plugins/internal/bigsql"
	"hoop.dev/hoop/plugins/internal/policytest"
	"hoop.dev/hoop/sdk"
)

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
	for _, c := range bigsql.Cases(policytest.HugeSize) {
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
	policytest.BenchHuge(b, p)
}

func TestHugeInputsWASM(t *testing.T) { policytest.CheckHugeWASM(t, hugeConfig, hugeWant) }

func BenchmarkHugeInputsWASM(b *testing.B) { policytest.BenchHugeWASM(b, hugeConfig) }
