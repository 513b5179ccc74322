package guardrail

import (
	"regexp"
	"testing"
)

func TestRequiredLiteral(t *testing.T) {
	tests := []struct {
		expr string
		lit  string
		fold bool
	}{
		{`(?i)update\s+pg_`, "update", true},
		{`(?i)\bUPDATE\s+pg_catalog`, "pg_catalog", true},
		{`drop\s+table`, "table", false},
		{`(select)`, "select", false},
		{`^\s*delete`, "delete", false},
		{`(?i)(insert|update)\s+x`, "", false}, // a top-level alternation: none required
		{`ab`, "", false},                      // too short to help
		{`(?i)café\s+x`, "", false},            // non-ASCII literal
		{`a*`, "", false},
	}
	for _, tt := range tests {
		m, err := newMatcher(tt.expr)
		if err != nil {
			t.Fatalf("%s: %v", tt.expr, err)
		}
		if m.lit != tt.lit || (m.lit != "" && m.fold != tt.fold) {
			t.Errorf("%s: literal %q fold %v, want %q %v", tt.expr, m.lit, m.fold, tt.lit, tt.fold)
		}
	}
}

// The prefilter must never change an answer, including where Unicode case
// folding maps non-ASCII runes to ASCII letters (U+212A KELVIN SIGN folds
// to k, U+017F LONG S to s).
func TestPrefilterAgreesWithRegex(t *testing.T) {
	exprs := []string{`(?i)update\s+pg_`, `(?i)risk`, `(?i)mask`, `drop\s+table`, `(?i)^\s*delete\s+from`}
	texts := []string{
		"UPDATE pg_x", "update  PG_x", "select 1", "ri\u017fk", "ma\u017f\u212a", "MASK", "drop table",
		"DROP TABLE", " delete from t", "select 1; delete from t", "", "upd", "\u212aUPDATE pg_",
	}
	for _, e := range exprs {
		m, err := newMatcher(e)
		if err != nil {
			t.Fatal(err)
		}
		re := regexp.MustCompile(e)
		for _, s := range texts {
			if got, want := m.MatchString(s), re.MatchString(s); got != want {
				t.Errorf("%s on %q: prefiltered %v, regex %v", e, s, got, want)
			}
		}
	}
}

func FuzzPrefilter(f *testing.F) {
	f.Add(`(?i)update\s+pg_`, "UPDATE pg_settings")
	f.Add(`(?i)mask`, "ma\u017f\u212a")
	f.Add(`x(abc)+y`, "xabcabcy")
	f.Fuzz(func(t *testing.T, expr, s string) {
		m, err := newMatcher(expr)
		if err != nil {
			return
		}
		if got, want := m.MatchString(s), m.re.MatchString(s); got != want {
			t.Fatalf("%q on %q: prefiltered %v, regex %v (literal %q)", expr, s, got, want, m.lit)
		}
	})
}
