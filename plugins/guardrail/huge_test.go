package guardrail

import (
	"testing"

	"hoop.dev/hoop/plugins/internal/bigsql"
	"hoop.dev/hoop/plugins/internal/policytest"
	"hoop.dev/hoop/sdk"
)

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
	for _, c := range bigsql.Cases(policytest.HugeSize) {
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
	policytest.BenchHuge(b, p)
}

func TestHugeInputsWASM(t *testing.T) { policytest.CheckHugeWASM(t, hugeConfig, hugeWant) }

func BenchmarkHugeInputsWASM(b *testing.B) { policytest.BenchHugeWASM(b, hugeConfig) }
