package postgres_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"hoop.dev/hoop/core/store"
	"hoop.dev/hoop/internal/hooptest"
	"hoop.dev/hoop/sdk/sdktest"
)

const policyTOML = `
[review]
timeout = "%s"

[[policy]]
plugin = "guardrail"
resources = ["demo"]
  [policy.config]
  [[policy.config.rules]]
  name = "no-drop"
  action = "block"
  deny = ["drop table", "truncate"]
  message = "dropping tables is not allowed"

[[policy]]
plugin = "analyzer"
resources = ["demo"]
  [policy.config]
  review_at = 50
  block_at = 90
`

func policyEnv(t *testing.T, timeout string, extra string) (*hooptest.Env, string) {
	requireBuiltins(t)
	env := hooptest.Start(t, hooptest.Options{TOML: fmt.Sprintf(policyTOML, timeout) + extra})
	env.PG.ExecIn(t, "app", "create table t (id int primary key, note text)")
	env.PG.ExecIn(t, "app", "insert into t select g, 'n' || g from generate_series(1, 10) g")
	env.PG.ExecIn(t, "app", "grant select, insert, update, delete on t to app_rw")
	_, dsn := env.Credential(t, "agent", "readwrite")
	return env, dsn
}

func tableExists(t *testing.T, c *pgx.Conn) bool {
	var ok bool
	if err := c.QueryRow(context.Background(), "select to_regclass('public.t') is not null").Scan(&ok); err != nil {
		t.Fatal(err)
	}
	return ok
}

func TestPolicyBlock(t *testing.T) {
	env, dsn := policyEnv(t, "5m", "")
	ctx := ctxT(t)
	simple := strings.Replace(dsn, "sslmode=disable", "sslmode=disable&default_query_exec_mode=simple_protocol", 1)
	for name, d := range map[string]string{"simple": simple, "extended": dsn} {
		t.Run(name, func(t *testing.T) {
			c := connect(t, d)
			for _, stmt := range []string{"drop table t", "DROP/**/TABLE t", "dRoP\n\t  table  t", "-- cleanup\ndrop table if exists t", "select 1; drop table t", "truncate t"} {
				_, err := c.Exec(ctx, stmt)
				if pgCode(err) != "42501" || !strings.Contains(err.Error(), "dropping tables is not allowed") {
					t.Fatalf("%q: err = %v, want 42501 with the rule's message", stmt, err)
				}
				if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Where != "" {
					t.Fatalf("%q: the refusal carries hoop's PL/pgSQL context %q", stmt, pe.Where)
				}
				// The session goes on.
				var n int
				if err := c.QueryRow(ctx, "select count(*) from t").Scan(&n); err != nil || n != 10 {
					t.Fatalf("after %q: count = %d, %v", stmt, n, err)
				}
			}
			if !tableExists(t, c) {
				t.Fatal("the table was dropped")
			}
			// A statement that only mentions the words in a literal is allowed.
			var s string
			if err := c.QueryRow(ctx, "select 'drop table t'").Scan(&s); err != nil || s != "drop table t" {
				t.Fatalf("literal: %q, %v", s, err)
			}
		})
	}
	// Inside a transaction the refusal fails the transaction like a server error.
	c := connect(t, dsn)
	tx, err := c.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "update t set note = 'x' where id = 1"); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, "drop table t"); pgCode(err) != "42501" {
		t.Fatalf("drop in transaction: %v", err)
	}
	if _, err := tx.Exec(ctx, "select 1"); pgCode(err) != "25P02" {
		t.Fatalf("statement after refusal in transaction: err = %v, want 25P02 (transaction aborted)", err)
	}
	tx.Rollback(ctx)
	var note string
	if err := c.QueryRow(ctx, "select note from t where id = 1").Scan(&note); err != nil || note != "n1" {
		t.Fatalf("after rollback: note = %q, %v", note, err)
	}
	// A pipeline (one Sync for several statements): the refusal lands on
	// its statement, the server discards the rest, and the session goes on.
	b := &pgx.Batch{}
	b.Queue("select 1")
	b.Queue("drop table t")
	b.Queue("select 3")
	// pgx prepares every statement of a batch in one pipeline first, so a
	// refused Parse fails the batch, exactly as a server-side Parse error
	// would.
	br := c.SendBatch(ctx, b)
	var one int
	if err := br.QueryRow().Scan(&one); pgCode(err) != "42501" {
		t.Fatalf("batch with a refused statement: %v", err)
	}
	br.Close()
	if err := c.QueryRow(ctx, "select 42").Scan(&one); err != nil || one != 42 {
		t.Fatalf("after batch: %d, %v", one, err)
	}
	// With describe-free execution the statements are pipelined as
	// Parse/Bind/Execute each, one Sync: the first runs, the refused one
	// errors, the server discards the rest.
	b = &pgx.Batch{}
	b.Queue("insert into t values (100, 'first')")
	b.Queue("drop table t")
	b.Queue("insert into t values (101, 'after')")
	br = c.SendBatch(ctx, b)
	_, err1 := br.Exec()
	_, err2 := br.Exec()
	_, err3 := br.Exec()
	br.Close()
	if pgCode(err2) != "42501" || err3 == nil {
		t.Fatalf("pipelined batch: %v / %v / %v", err1, err2, err3)
	}
	if !tableExists(t, c) {
		t.Fatal("the table was dropped by a pipelined batch")
	}
	if err := c.QueryRow(ctx, "select count(*) from t where id = 101").Scan(&one); err != nil || one != 0 {
		t.Fatalf("a statement after the refusal in the pipeline ran: %d, %v", one, err)
	}
	// Verdicts are on the session's record.
	c.Close(ctx)
	// A session's last events are in the store once it is marked ended.
	var list []store.Session
	for deadline := time.Now().Add(10 * time.Second); ; {
		list, _ = env.Gateway.Store().ListSessions(ctx, store.SessionFilter{Identity: "agent"})
		live, _ := env.Gateway.Store().ListSessions(ctx, store.SessionFilter{Identity: "agent", Status: store.StatusLive})
		if len(live) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	blocked := 0
	for _, s := range list {
		evs, _ := env.Gateway.Store().Events(ctx, s.ID, 0, 10000)
		for _, e := range evs {
			if e.Kind == store.EventBlocked {
				blocked++
				if e.Rule != "guardrail/no-drop" || e.Risk != 100 || e.Text == "" {
					t.Fatalf("blocked event = %+v", e)
				}
			}
		}
	}
	if blocked < 13 {
		t.Fatalf("%d blocked events recorded, want at least 13", blocked)
	}
}

// pending waits for one pending review and returns its id.
func pending(t *testing.T, env *hooptest.Env) store.Review {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		list, err := env.Gateway.Store().ListReviews(context.Background(), store.ReviewPending, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) > 0 {
			return list[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("no review became pending")
	return store.Review{}
}

func TestPolicyReview(t *testing.T) {
	env, dsn := policyEnv(t, "2s", "")
	ctx := ctxT(t)
	c := connect(t, dsn)

	// Approve: the held statement runs and the client gets its result.
	done := make(chan error, 1)
	var tag string
	go func() {
		ct, err := c.Exec(ctx, "delete from t")
		tag = ct.String()
		done <- err
	}()
	r := pending(t, env)
	if r.Statement != "delete from t" || r.Identity != "agent" || r.Rule == "" || r.Risk < 50 {
		t.Fatalf("pending review = %+v", r)
	}
	select {
	case err := <-done:
		t.Fatalf("held statement finished before a decision: %v", err)
	default:
	}
	other := connect(t, dsn)
	var n int
	if err := other.QueryRow(ctx, "select count(*) from t").Scan(&n); err != nil || n != 10 {
		t.Fatalf("held statement reached the server: count = %d, %v", n, err)
	}
	if _, err := env.Gateway.Reviews().Decide(ctx, r.ID, true, "alice", "planned cleanup"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil || tag != "DELETE 10" {
		t.Fatalf("approved statement: %q, %v", tag, err)
	}
	got, _ := env.Gateway.Store().Review(ctx, r.ID)
	if got.Status != store.ReviewApproved || got.DecidedBy != "alice" || got.DecidedAt.IsZero() {
		t.Fatalf("decided review = %+v", got)
	}

	// Reject: an error saying so; the session goes on.
	env.PG.ExecIn(t, "app", "insert into t values (1, 'a')")
	go func() { _, err := c.Exec(ctx, "update t set note = 'zzz'"); done <- err }()
	r = pending(t, env)
	env.Gateway.Reviews().Decide(ctx, r.ID, false, "bob", "not during business hours")
	if err := <-done; pgCode(err) != "42501" || !strings.Contains(err.Error(), "rejected by a reviewer") {
		t.Fatalf("rejected statement: %v", err)
	}
	if _, err := c.Exec(ctx, "select 1"); err != nil {
		t.Fatal(err)
	}

	// Timeout (2s here): refused with a message saying so.
	start := time.Now()
	_, err := c.Exec(ctx, "delete from t")
	if pgCode(err) != "42501" || !strings.Contains(err.Error(), "not approved in time") {
		t.Fatalf("timed out review: %v", err)
	}
	if time.Since(start) < 2*time.Second {
		t.Fatal("review timed out early")
	}
	if err := other.QueryRow(ctx, "select count(*) from t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("refused statements changed data: count = %d, %v", n, err)
	}

	// A client that disconnects while held cancels its review.
	c2 := connect(t, dsn)
	go func() { c2.Exec(ctx, "delete from t"); done <- nil }()
	r = pending(t, env)
	c2.PgConn().Conn().Close()
	<-done
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, _ = env.Gateway.Store().Review(ctx, r.ID)
		if got.Status == store.ReviewCancelled {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("review after client disconnect = %s", got.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestPolicyFaults(t *testing.T) {
	requireBuiltins(t)
	dir := t.TempDir()
	var extra strings.Builder
	for _, p := range []struct{ name, onFault, resource string }{{"looppolicy", "block", "demo"}, {"garbage", "allow", "demo"}} {
		mod := sdktest.BuildWASM(t, filepath.Join("../../../conformance/testplugins", p.name))
		path := filepath.Join(dir, p.name+".wasm")
		os.WriteFile(path, mod, 0o600)
		sum := sha256.Sum256(mod)
		fmt.Fprintf(&extra, "[[plugin]]\npath = %q\nsha256 = %q\n", path, hex.EncodeToString(sum[:]))
	}
	env := hooptest.Start(t, hooptest.Options{TOML: extra.String() + `
[[policy]]
plugin = "garbage"
on_fault = "allow"
[[policy]]
plugin = "looppolicy"
on_fault = "block"
`, Edit: func(s string) string {
		return strings.Replace(s, "[plugins]\n", "[plugins]\ncall_timeout = \"300ms\"\n", 1)
	}})
	_, dsn := env.Credential(t, "victim", "readonly")
	ctx := ctxT(t)
	c := connect(t, dsn)
	// garbage answers nonsense (allowed through by on_fault=allow), then
	// looppolicy never returns: fail closed, with an error naming the fault.
	for range 3 {
		_, err := c.Exec(ctx, "select 1")
		if pgCode(err) != "42501" || !strings.Contains(err.Error(), "policy looppolicy failed") {
			t.Fatalf("statement under a looping policy: %v", err)
		}
	}
	// The session survives the faults: each was a clean ERROR, the
	// connection is open, and the gateway serves other resources' policies.
	if c.PgConn().IsClosed() {
		t.Fatal("the session was closed by a policy fault")
	}
	s := waitSession(t, env, "victim", store.StatusLive)
	if s.EndReason != "" {
		t.Fatalf("session = %+v", s)
	}
}

func TestPolicyConfigErrors(t *testing.T) {
	requireBuiltins(t)
	ft := &fatalCatcher{TB: t}
	func() {
		defer func() { recover() }()
		hooptest.Start(ft, hooptest.Options{TOML: `
[[policy]]
plugin = "guardrail"
  [policy.config]
  [[policy.config.rules]]
  name = "bad-regex"
  action = "block"
  regex = "(unclosed"
`})
	}()
	if !strings.Contains(ft.msg, `bad-regex`) || !strings.Contains(ft.msg, "regex") {
		t.Fatalf("invalid regex at start-up: %q", ft.msg)
	}
	ft = &fatalCatcher{TB: t}
	func() {
		defer func() { recover() }()
		hooptest.Start(ft, hooptest.Options{TOML: "[[policy]]\nplugin = \"nosuch\"\n"})
	}()
	if !strings.Contains(ft.msg, `no plugin named "nosuch"`) {
		t.Fatalf("unknown policy plugin: %q", ft.msg)
	}
}

func TestPolicyPsql(t *testing.T) {
	if _, err := exec.LookPath("psql"); err != nil {
		t.Skip("psql not installed")
	}
	_, dsn := policyEnv(t, "5m", "")
	cmd := exec.Command("psql", strings.Replace(dsn, "?sslmode=disable", "", 1), "-X", "-A", "-t",
		"-c", "drop table t", "-c", "select count(*) from t")
	out, _ := cmd.CombinedOutput()
	if !strings.Contains(string(out), "ERROR:  hoop: statement blocked by policy (guardrail/no-drop): dropping tables is not allowed") ||
		!strings.Contains(string(out), "\n10\n") || strings.Contains(string(out), "CONTEXT") {
		t.Fatalf("psql output:\n%s", out)
	}
}
