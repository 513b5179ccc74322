package guardrail

import (
	"testing"

	"hoop.dev/hoop/sdk"
)

// FuzzEvaluate checks that Evaluate never panics or fails, and always
// returns one of the three decisions with its documented risk.
func FuzzEvaluate(f *testing.F) {
	for _, s := range []string{
		"drop table t", "select 'drop table'", "do $$ begin execute 'drop table t'; end $$",
		"drop/**/table", "update pg_x set a=1", "/*!50000 drop */ table t", "select \"pg_shadow\"",
		"do $a$ do $b$ do $c$ do $d$ do $e$ drop table t $e$ $d$ $c$ $b$ $a$",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	p := configured(f, testConfig)
	f.Fuzz(func(t *testing.T, text string, mysql bool) {
		protocol := "postgres"
		if mysql {
			protocol = "mysql"
		}
		v, err := p.Evaluate(input(protocol, text))
		if err != nil {
			t.Fatalf("Evaluate: %v", err)
		}
		switch {
		case v.Decision == sdk.Allow && v.Risk == 0 && v.Rule == "":
		case v.Decision == sdk.Review && v.Risk == reviewRisk && v.Rule != "":
		case v.Decision == sdk.Block && v.Risk == blockRisk && v.Rule != "":
		default:
			t.Fatalf("Evaluate(%q) = %+v", text, v)
		}
	})
}
