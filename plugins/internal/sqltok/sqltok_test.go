package sqltok

import (
	"strings"
	"testing"
)

// render shows tokens as kind:text, one space apart.
func render(toks []Token) string {
	var b strings.Builder
	for i, t := range toks {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t.Kind.String())
		b.WriteByte(':')
		b.WriteString(t.Text)
	}
	return b.String()
}

func TestTokenize(t *testing.T) {
	tests := []struct {
		name string
		d    Dialect
		in   string
		want string
	}{
		{"plain", Postgres, "DROP TABLE t", "word:drop word:table word:t"},
		{"block comment", Postgres, "drop/**/table", "word:drop word:table"},
		{"nested comment", Postgres, "drop/* a /* b */ still comment */table", "word:drop word:table"},
		{"line comment", Postgres, "drop -- x\n table", "word:drop word:table"},
		{"whitespace and case", Postgres, "dRoP\n\t  TaBlE", "word:drop word:table"},
		{"string", Postgres, "select 'drop table'", "word:select string:drop table"},
		{"doubled quote", Postgres, "select 'it''s'", "word:select string:it''s"},
		{"e string", Postgres, `select E'a\'b' x`, `word:select string:a\'b word:x`},
		{"plain string keeps backslash", Postgres, `select 'a\' x`, `word:select string:a\ word:x`},
		{"dollar", Postgres, "select $$drop table$$, 1", "word:select string:drop table punct:, number:1"},
		{"tagged dollar", Postgres, "select $f$ $$ drop $f$ x", "word:select string: $$ drop  word:x"},
		{"param", Postgres, "select $1, $23", "word:select param:$1 punct:, param:$23"},
		{"dollar in ident", Postgres, "select a$b", "word:select word:a$b"},
		{"quoted ident", Postgres, `select "Drop" from "a""b"`, `word:select qident:drop word:from qident:a"b`},
		{"numbers", Postgres, "select 1.5e-3, .5, 0x1F", "word:select number:1.5e-3 punct:, number:.5 punct:, number:0x1F"},
		{"operators", Postgres, "1=1 and a<>b", "number:1 punct:= number:1 word:and word:a punct:< punct:> word:b"},
		{"prefixed strings", Postgres, "select B'101', X'ff', N'x', U&'d'", "word:select string:101 punct:, string:ff punct:, string:x punct:, string:d"},
		{"unterminated string", Postgres, "select 'abc", "word:select string:abc"},
		{"unterminated comment", Postgres, "drop /* table", "word:drop"},
		{"unterminated dollar", Postgres, "select $x$ drop", "word:select string: drop"},
		{"lone dollar", Postgres, "select $ x", "word:select punct:$ word:x"},
		{"semicolon", Postgres, "a;b", "word:a punct:; word:b"},
		{"unicode ident", Postgres, "select café", "word:select word:café"},
		{"mysql backtick", MySQL, "drop table `Users`", "word:drop word:table qident:users"},
		{"mysql double quote is string", MySQL, `select "drop table"`, "word:select string:drop table"},
		{"mysql backslash", MySQL, `select 'a\'; drop table t; --' x`, `word:select string:a\'; drop table t; -- word:x`},
		{"mysql hash comment", MySQL, "drop # x\n table", "word:drop word:table"},
		{"mysql dash comment needs a space", MySQL, "select 1--1; drop table t", "word:select number:1 punct:- punct:- number:1 punct:; word:drop word:table word:t"},
		{"mysql dash comment", MySQL, "drop -- x\n table --", "word:drop word:table"},
		{"postgres dash comment needs no space", Postgres, "select 1--1; drop table t", "word:select number:1"},
		{"mysql comments do not nest", MySQL, "a /* /* */ b", "word:a word:b"},
		{"mysql executable comment", MySQL, "/*!50000 drop */ table t", "word:drop word:table word:t"},
		{"mysql dollar is ident", MySQL, "select a$$x", "word:select word:a$$x"},
		{"postgres hash is punct", Postgres, "a # b", "word:a punct:# word:b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := render(Tokenize(nil, tt.d, tt.in))
			if got != tt.want {
				t.Errorf("Tokenize(%q)\n got %s\nwant %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestValue(t *testing.T) {
	tests := []struct {
		d    Dialect
		in   string
		want string
	}{
		{Postgres, "'it''s'", "it's"},
		{Postgres, `E'a\'b\\c'`, `a'b\c`},
		{Postgres, `'a\b'`, `a\b`},
		{Postgres, "$$it''s$$", "it''s"},
		{MySQL, `'a\'b'`, "a'b"},
		{MySQL, `"say ""hi"""`, `say "hi"`},
	}
	for _, tt := range tests {
		toks := Tokenize(nil, tt.d, tt.in)
		if len(toks) != 1 || toks[0].Kind != String {
			t.Fatalf("Tokenize(%q) = %s, want one string", tt.in, render(toks))
		}
		if got := toks[0].Value(); got != tt.want {
			t.Errorf("Value(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestOffsets(t *testing.T) {
	in := "select  'x', \"Y\" /* c */ from t"
	want := []int{0, 8, 11, 13, 25, 30}
	toks := Tokenize(nil, Postgres, in)
	if len(toks) != len(want) {
		t.Fatalf("got %d tokens (%s), want %d", len(toks), render(toks), len(want))
	}
	for i, tok := range toks {
		if tok.Off != want[i] {
			t.Errorf("token %d (%s) at %d, want %d", i, tok.Text, tok.Off, want[i])
		}
	}
}

func TestSplit(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"select 1", []string{"select 1"}},
		{"select 1;", []string{"select 1"}},
		{" select 1 ; drop table t ;; -- end", []string{"select 1", "drop table t"}},
		{"select ';'; select $$;$$", []string{"select ';'", "select $$;$$"}},
		{"select 1 /* ; */; select 2", []string{"select 1 /* ; */", "select 2"}},
		{"select (1; drop table t)", []string{"select (1", "drop table t)"}},
		{"", nil},
		{";", nil},
	}
	for _, tt := range tests {
		stmts, _ := Split(nil, nil, Postgres, tt.in)
		var got []string
		for _, s := range stmts {
			got = append(got, s.Text)
			for _, tok := range s.Tokens {
				if tok.IsPunct(';') {
					t.Errorf("Split(%q): statement %q holds a ';' token", tt.in, s.Text)
				}
			}
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("Split(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCodeStrings(t *testing.T) {
	tests := []struct {
		in   string
		want []string
	}{
		{"do $$begin drop table t; end$$", []string{"begin drop table t; end"}},
		{"do language plpgsql 'begin null; end'", []string{"begin null; end"}},
		{"create or replace function f() returns void as $b$ delete from t $b$ language sql", []string{" delete from t "}},
		{"create procedure p() language sql as 'truncate t'", []string{"truncate t"}},
		{"execute 'drop table ' || x", []string{"drop table "}},
		{"prepare s from 'drop table t'", []string{"drop table t"}},
		{"select 'drop table t'", nil},
		{"create table t (a text default 'x')", nil},
		{"insert into t values ('as', 'b')", nil},
	}
	for _, tt := range tests {
		toks := Tokenize(nil, Postgres, tt.in)
		var got []string
		for _, i := range CodeStrings(nil, toks) {
			got = append(got, toks[i].Value())
		}
		if strings.Join(got, "|") != strings.Join(tt.want, "|") {
			t.Errorf("CodeStrings(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestCommandAt(t *testing.T) {
	tests := []struct {
		in   string
		word string
		want bool
	}{
		{"update t set a = 1", "update", true},
		{"select * from t for update", "update", false},
		{"insert into t values (1) on conflict (a) do update set a = 2", "update", false},
		{"with x as (delete from t returning *) select * from x", "delete", true},
		{"with x as (select 1) delete from t", "delete", true},
		{"create table c (p int references t on delete cascade)", "delete", false},
		{"explain analyze delete from t", "delete", true},
		{"begin delete from t", "delete", true},
	}
	for _, tt := range tests {
		toks := Tokenize(nil, Postgres, tt.in)
		found := false
		for i, tok := range toks {
			if tok.Is(tt.word) {
				found = true
				if got := CommandAt(toks, i); got != tt.want {
					t.Errorf("CommandAt(%q, %s) = %v, want %v", tt.in, tt.word, got, tt.want)
				}
			}
		}
		if !found {
			t.Fatalf("%q has no %q", tt.in, tt.word)
		}
	}
}

func BenchmarkSplit(b *testing.B) {
	in := "SELECT id, name, email FROM users WHERE id = $1 AND status = 'active' /* app */ ORDER BY created_at DESC LIMIT 10"
	var stmts []Statement
	var buf []Token
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		stmts, buf = Split(stmts[:0], buf, Postgres, in)
	}
}
