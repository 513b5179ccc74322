package guardrail

import (
	"strings"
	"testing"

	"hoop.dev/hoop/sdk"
)

const testConfig = `{"rules":[
 {"name":"no-pg-catalog-writes","action":"review","regex":"(?i)update\\s+pg_","message":"writes to pg_ catalogs need review"},
 {"name":"no-drop","action":"block","deny":["drop table","truncate"],"message":"dropping tables is not allowed"},
 {"name":"no-shadow","action":"block","deny":["pg_shadow"],"message":"password hashes are off limits"},
 {"name":"no-read-file","action":"block","deny":["pg_read_file ("],"message":"server files are off limits"},
 {"name":"no-secret-literal","action":"review","deny":["'top secret'"],"message":"mentions a secret"}
]}`

func configured(t testing.TB, config string) *Policy {
	t.Helper()
	p := New()
	if err := p.Configure([]byte(config)); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return p
}

func input(protocol, text string) *sdk.Input {
	return &sdk.Input{
		Identity:  sdk.Identity{Name: "etl", Kind: "machine"},
		Resource:  "demo",
		Role:      "readonly",
		Protocol:  protocol,
		Session:   "s1",
		Statement: sdk.Statement{Text: text},
	}
}

func TestEvaluate(t *testing.T) {
	p := configured(t, testConfig)
	tests := []struct {
		name     string
		protocol string
		text     string
		decision string
		rule     string
	}{
		{"plain select", "postgres", "select * from t", sdk.Allow, ""},
		{"drop table", "postgres", "drop table t", sdk.Block, "no-drop"},
		{"upper case", "postgres", "DROP TABLE t", sdk.Block, "no-drop"},
		{"mixed case", "postgres", "dRoP tAbLe t", sdk.Block, "no-drop"},
		{"block comment between words", "postgres", "drop/**/table t", sdk.Block, "no-drop"},
		{"nested comment between words", "postgres", "drop/* /* x */ */table t", sdk.Block, "no-drop"},
		{"line comment and newline", "postgres", "drop -- nothing to see\ntable t", sdk.Block, "no-drop"},
		{"extra whitespace", "postgres", "drop \t\r\n  table t", sdk.Block, "no-drop"},
		{"leading comment", "postgres", "/* maintenance */ drop table t", sdk.Block, "no-drop"},
		{"second statement", "postgres", "select 1; drop table t", sdk.Block, "no-drop"},
		{"after empty statements", "postgres", ";;select 1;;DROP TABLE t;", sdk.Block, "no-drop"},
		{"truncate single word", "postgres", "TRUNCATE t", sdk.Block, "no-drop"},
		{"drop table if exists", "postgres", "drop table if exists t cascade", sdk.Block, "no-drop"},
		{"string literal", "postgres", "select 'drop table t'", sdk.Allow, ""},
		{"escaped string literal", "postgres", "select 'it''s drop table'", sdk.Allow, ""},
		{"e string", "postgres", `select E'\'drop table\''`, sdk.Allow, ""},
		{"dollar quoted", "postgres", "select $$drop table t$$", sdk.Allow, ""},
		{"tagged dollar quoted", "postgres", "select $x$ truncate $x$", sdk.Allow, ""},
		{"semicolon in string", "postgres", "select ';drop table t'", sdk.Allow, ""},
		{"comment holds the words", "postgres", "select 1 -- drop table t", sdk.Allow, ""},
		{"quoted keyword is an identifier", "postgres", `select "drop" from "table"`, sdk.Allow, ""},
		{"drop of another kind", "postgres", "drop view v", sdk.Allow, ""},
		{"identifier containing the word", "postgres", "select truncated from t", sdk.Allow, ""},
		{"split by semicolon", "postgres", "drop; table", sdk.Allow, ""},
		{"do block", "postgres", "do $$ begin drop table t; end $$", sdk.Block, "no-drop"},
		{"execute inside do block", "postgres", "do $$ begin execute 'drop table t'; end $$", sdk.Block, "no-drop"},
		{"function body", "postgres", "create function f() returns void language sql as 'truncate t'", sdk.Block, "no-drop"},
		{"quoted table name still denied", "postgres", `select * from "pg_shadow"`, sdk.Block, "no-shadow"},
		{"schema qualified", "postgres", "select * from pg_catalog.pg_shadow", sdk.Block, "no-shadow"},
		{"function call phrase", "postgres", "select pg_read_file ('/etc/passwd')", sdk.Block, "no-read-file"},
		{"function call without space", "postgres", "select pg_read_file('/etc/passwd')", sdk.Block, "no-read-file"},
		{"function name as column", "postgres", "select pg_read_file from t", sdk.Allow, ""},
		{"regex review", "postgres", "UPDATE  pg_settings set x = 1", sdk.Review, "no-pg-catalog-writes"},
		{"block beats earlier review", "postgres", "update pg_x set a=1; drop table t", sdk.Block, "no-drop"},
		{"string literal deny entry", "postgres", "select 'Top Secret'", sdk.Allow, ""},
		{"string literal deny entry exact", "postgres", "select * from t where tag = 'top secret'", sdk.Review, "no-secret-literal"},
		{"mysql backtick", "mysql", "DROP TABLE `t`", sdk.Block, "no-drop"},
		{"mysql hash comment", "mysql", "drop # x\n table t", sdk.Block, "no-drop"},
		{"mysql executable comment", "mysql", "/*!50000 drop */ table t", sdk.Block, "no-drop"},
		{"mysql double quoted string", "mysql", `select "drop table t"`, sdk.Allow, ""},
		{"mysql backslash escaped quote hides nothing", "mysql", `select 'a\'; drop table t; -- '`, sdk.Allow, ""},
		{"postgres backslash is literal", "postgres", `select 'a\'; drop table t; -- '`, sdk.Block, "no-drop"},
		{"empty", "postgres", "", sdk.Allow, ""},
		{"only comments", "postgres", "-- drop table t\n/* truncate */", sdk.Allow, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := p.Evaluate(input(tt.protocol, tt.text))
			if err != nil {
				t.Fatalf("Evaluate: %v", err)
			}
			if v.Decision != tt.decision || v.Rule != tt.rule {
				t.Fatalf("Evaluate(%q) = %s/%q, want %s/%q", tt.text, v.Decision, v.Rule, tt.decision, tt.rule)
			}
			wantRisk := map[string]int{sdk.Allow: 0, sdk.Review: reviewRisk, sdk.Block: blockRisk}[tt.decision]
			if v.Risk != wantRisk {
				t.Errorf("risk %d, want %d", v.Risk, wantRisk)
			}
		})
	}
}

func TestVerdictReason(t *testing.T) {
	p := configured(t, testConfig)
	v, _ := p.Evaluate(input("postgres", "drop table t"))
	if v.Reason != "dropping tables is not allowed" {
		t.Errorf("reason %q, want the rule's message", v.Reason)
	}
	p = configured(t, `{"rules":[{"name":"quiet","action":"block","deny":["drop"]}]}`)
	v, _ = p.Evaluate(input("postgres", "drop table t"))
	if !strings.Contains(v.Reason, `"quiet"`) {
		t.Errorf("reason %q should name the rule when it has no message", v.Reason)
	}
}

func TestFirstReviewRuleWins(t *testing.T) {
	p := configured(t, `{"rules":[
		{"name":"a","action":"review","deny":["update"]},
		{"name":"b","action":"review","deny":["set"]}]}`)
	v, _ := p.Evaluate(input("postgres", "update t set a = 1"))
	if v.Rule != "a" {
		t.Errorf("rule %q, want the first matching review rule a", v.Rule)
	}
}

func TestConfigure(t *testing.T) {
	tests := []struct {
		name    string
		config  string
		wantErr string // substring; empty means success
	}{
		{"empty bytes", "", ""},
		{"empty object", "{}", ""},
		{"no rules", `{"rules":[]}`, ""},
		{"unknown top key", `{"rulez":[]}`, `unknown field "rulez"`},
		{"unknown rule key", `{"rules":[{"name":"a","action":"block","denny":["x"]}]}`, `unknown field "denny"`},
		{"not json", `rules`, "decode guardrail config"},
		{"trailing data", `{} {}`, "trailing data"},
		{"missing name", `{"rules":[{"action":"block","deny":["x"]}]}`, "rule 1: name is required"},
		{"duplicate name", `{"rules":[{"name":"a","action":"block","deny":["x"]},{"name":"a","action":"review","deny":["y"]}]}`, `rule "a": duplicate name`},
		{"missing action", `{"rules":[{"name":"a","deny":["x"]}]}`, `rule "a": action is required`},
		{"bad action", `{"rules":[{"name":"a","action":"deny","deny":["x"]}]}`, `rule "a": action "deny"`},
		{"nothing to match", `{"rules":[{"name":"a","action":"block"}]}`, `rule "a": needs at least one of deny or regex`},
		{"empty deny entry", `{"rules":[{"name":"a","action":"block","deny":[" -- "]}]}`, `rule "a": deny entry " -- " has no SQL tokens`},
		{"deny across statements", `{"rules":[{"name":"a","action":"block","deny":["a; b"]}]}`, `rule "a": deny entry "a; b" spans statements`},
		{"invalid regex", `{"rules":[{"name":"x","action":"review","regex":"(unclosed"}]}`, `rule "x": invalid regex: `},
		{"regex only", `{"rules":[{"name":"x","action":"review","regex":"^select"}]}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := New().Configure([]byte(tt.config))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Configure: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("Configure succeeded, want error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("Configure error %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestConfigureReplacesRules(t *testing.T) {
	p := configured(t, testConfig)
	if err := p.Configure([]byte(`{"rules":[{"name":"x","action":"block","deny":["("]}]}`)); err != nil {
		t.Fatal(err)
	}
	if v, _ := p.Evaluate(input("postgres", "drop table t")); v.Decision != sdk.Allow {
		t.Errorf("old rules still apply: %+v", v)
	}
	// A failed Configure keeps the previous rules.
	if err := p.Configure([]byte(`{"rules":[{"name":"x"}]}`)); err == nil {
		t.Fatal("want error")
	}
	if v, _ := p.Evaluate(input("postgres", "select f(1)")); v.Rule != "x" {
		t.Errorf("rules lost after a failed Configure: %+v", v)
	}
}

func TestManifest(t *testing.T) {
	if Manifest.Name != "guardrail" || Manifest.Kind != sdk.KindPolicy || Manifest.Version != "1.0.0" ||
		strings.Join(Manifest.Protocols, ",") != "postgres,mysql" || Manifest.Description == "" {
		t.Errorf("manifest %+v", Manifest)
	}
}

// denyOnlyConfig is the recommended set of docs/policies.md: no regex.
const denyOnlyConfig = `{"rules":[
 {"name":"no-drop","action":"block","deny":["drop table","drop database","drop schema","truncate"]},
 {"name":"no-password-hashes","action":"block","deny":["pg_shadow","pg_authid"]}]}`

func BenchmarkEvaluate(b *testing.B) {
	for _, cc := range []struct{ name, config string }{
		{"five-rules-one-regex", testConfig},
		{"deny-only", denyOnlyConfig},
	} {
		p := configured(b, cc.config)
		for _, bc := range []struct{ name, text string }{
			{"select", "SELECT id, name, email FROM users WHERE id = $1 AND status = 'active' ORDER BY created_at DESC LIMIT 10"},
			{"insert", "INSERT INTO events (kind, payload, at) VALUES ('login', '{\"ip\":\"10.0.0.1\"}', now())"},
			{"block", "/* cleanup */ DROP TABLE IF EXISTS staging_events"},
		} {
			b.Run(cc.name+"/"+bc.name, func(b *testing.B) {
				in := input("postgres", bc.text)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := p.Evaluate(in); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
