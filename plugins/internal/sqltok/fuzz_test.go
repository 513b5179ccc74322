package sqltok

import (
	"strings"
	"testing"
)

// FuzzTokenize checks that lexing never panics, always ends, and yields
// tokens in input order that lie inside the input; and that Split and
// CodeStrings agree with it.
func FuzzTokenize(f *testing.F) {
	for _, s := range []string{
		"drop/**/table t", "select 'a''b', E'\\'', $$x$$, $t$y$t$, $1",
		"/* /* */", "'", "$", "$a", "`x`", "/*!1 drop */", "# x\n", "1e-", "U&'x'",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, in string, mysql bool) {
		d := Postgres
		if mysql {
			d = MySQL
		}
		toks := Tokenize(nil, d, in)
		last := -1
		for _, tok := range toks {
			if tok.Off <= last || tok.Off >= len(in) {
				t.Fatalf("token %s:%q at %d after %d (input %d bytes)", tok.Kind, tok.Text, tok.Off, last, len(in))
			}
			if tok.Kind == EOF {
				t.Fatal("EOF token appended")
			}
			last = tok.Off
			_ = tok.Value()
		}
		stmts, _ := Split(nil, nil, d, in)
		n := 0
		for _, s := range stmts {
			if len(s.Tokens) == 0 {
				t.Fatalf("empty statement %q", s.Text)
			}
			if !strings.Contains(in, s.Text) {
				t.Fatalf("statement text %q not in input", s.Text)
			}
			n += len(s.Tokens) + 1
			for _, i := range CodeStrings(nil, s.Tokens) {
				if s.Tokens[i].Kind != String {
					t.Fatalf("code string %d is a %s", i, s.Tokens[i].Kind)
				}
			}
			for i := range s.Tokens {
				CommandAt(s.Tokens, i)
			}
		}
		if n-len(stmts) > len(toks) {
			t.Fatalf("statements hold %d tokens, input has %d", n-len(stmts), len(toks))
		}
	})
}
