package postgres_test

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"hoop.dev/hoop/internal/clients"
	"hoop.dev/hoop/internal/hooptest"
)

// The JDBC tests run Debian's PostgreSQL JDBC driver (pgjdbc) through
// hoop: SCRAM-SHA-256 login with a credential, the driver's extended
// protocol with unnamed and, after prepareThreshold executions, named
// server-side statements, batches, transactions, portals with a fetch size,
// and the simple protocol. Each scenario is one JVM run.

// jdbcPolicyTOML is the guardrail block of policyTOML alone: JDBC's
// inserts and updates must not meet the analyzer's review threshold here.
const jdbcPolicyTOML = `
[[policy]]
plugin = "guardrail"
resources = ["demo"]
  [policy.config]
  [[policy.config.rules]]
  name = "no-drop"
  action = "block"
  deny = ["drop table", "truncate"]
  message = "dropping tables is not allowed"
`

// jdbcEnv starts a gateway (with toml appended), a table t of 10 rows
// writable by role readwrite, and returns the JDBC URL (without sslmode:
// scripts connect with clients.Connect(jdbcPlain...)) and credential.
func jdbcEnv(t *testing.T, toml string) (j *clients.JDBC, url, user, secret string) {
	j = clients.NeedJDBC(t)
	env := hooptest.Start(t, hooptest.Options{TOML: toml})
	env.PG.ExecIn(t, "app", "create table t (id int primary key, note text)")
	env.PG.ExecIn(t, "app", "insert into t select g, 'n' || g from generate_series(1, 10) g")
	env.PG.ExecIn(t, "app", "grant select, insert, update, delete on t to app_rw")
	iss, _ := env.Credential(t, "jdbc-app", "readwrite")
	url = fmt.Sprintf("jdbc:postgresql://%s/app?connectTimeout=10&socketTimeout=60&ApplicationName=jdbc-test",
		env.Gateway.PostgresAddr())
	return j, url, "jdbc-app", iss.Secret
}

// jdbcPlain are the connection parameters of a plaintext loopback test.
const jdbcPlain = "sslmode=disable"

// script collects steps under labels so that assertions name what they check.
type script struct {
	steps  []clients.Step
	labels map[string]int
}

func (s *script) add(label string, st clients.Step) {
	if s.labels == nil {
		s.labels = map[string]int{}
	}
	if label != "" {
		if _, dup := s.labels[label]; dup {
			panic("duplicate label " + label)
		}
		s.labels[label] = len(s.steps)
	}
	s.steps = append(s.steps, st)
}

// run runs the script in one JVM and fails the test on any step that
// failed without being labelled (labelled steps are checked by the caller).
func (s *script) run(t *testing.T, j *clients.JDBC, url, user, secret string) map[string]clients.Result {
	t.Helper()
	res, err := j.Run(ctxT(t), url, user, secret, s.steps...)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != len(s.steps) {
		t.Fatalf("%d results for %d steps", len(res), len(s.steps))
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("HOOP_JDBC_TRACE") != "" {
			for _, r := range res {
				t.Log(r)
			}
		}
	})
	out := map[string]clients.Result{}
	for label, i := range s.labels {
		out[label] = res[i]
	}
	for i, r := range res {
		if !r.OK && !s.labelled(i) {
			t.Errorf("step %d failed: %v", i+1, r)
		}
	}
	return out
}

func (s *script) labelled(i int) bool {
	for _, j := range s.labels {
		if j == i {
			return true
		}
	}
	return false
}

func wantRows(t *testing.T, label string, r clients.Result, want ...string) {
	t.Helper()
	var got []string
	for _, row := range r.Rows {
		got = append(got, strings.Join(row, "|"))
	}
	if !r.OK || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s: rows %q, want %q (%v)", label, got, want, r)
	}
}

func wantUpdate(t *testing.T, label string, r clients.Result, n int64) {
	t.Helper()
	if !r.OK || r.Update == nil || *r.Update != n {
		t.Errorf("%s: want update count %d: %v", label, n, r)
	}
}

func wantSQLState(t *testing.T, label string, r clients.Result, state, msg string) {
	t.Helper()
	if r.OK || r.SQLState != state || !strings.Contains(r.Message, msg) {
		t.Errorf("%s: want SQLException %s containing %q: %v", label, state, msg, r)
	}
}

// largeSQL returns 20000 rows of about 1 MB in all.
const largeSQL = "select g, md5(g::text), null from generate_series(1, 20000) g"

// largeRows is what largeSQL returns.
func largeRows() [][]*string {
	rows := make([][]*string, 20000)
	for i := range rows {
		id := strconv.Itoa(i + 1)
		sum := md5.Sum([]byte(id))
		h := hex.EncodeToString(sum[:])
		rows[i] = []*string{&id, &h, nil}
	}
	return rows
}

func TestJDBC(t *testing.T) {
	j, url, user, secret := jdbcEnv(t, "")
	s := &script{}
	s.add("", clients.Connect(jdbcPlain))
	s.add("whoami", clients.Query("select current_user, current_database()"))
	s.add("select", clients.Query("select id, note from t where id <= 3 order by id"))
	// The driver switches to a named server-side statement after
	// prepareThreshold (default 5) executions of the same PreparedStatement.
	s.add("", clients.Prepare("byid", "select note, ?::int * 2 from t where id = ?"))
	for i := 1; i <= 8; i++ {
		s.add(fmt.Sprintf("byid%d", i), clients.Exec("byid", i, i))
	}
	s.add("server-prepared", clients.Query("select count(*) from pg_prepared_statements where statement like 'select note, $1::int * 2%'"))
	// A batch insert: one pipeline, one Sync.
	s.add("", clients.Prepare("ins", "insert into t (id, note) values (?, ?)"))
	for i := 100; i < 150; i++ {
		s.add("", clients.AddBatch("ins", i, fmt.Sprintf("batch %d", i)))
	}
	s.add("batch", clients.ExecBatch("ins"))
	s.add("after-batch", clients.Query("select count(*), min(note), max(note) from t where id >= 100"))
	s.add("sbatch", clients.StatementBatch("update t set note = 'sb' where id = 100", "delete from t where id = 149"))
	// Commit and rollback.
	s.add("", clients.AutoCommit(false))
	s.add("tx-update", clients.Query("update t set note = 'committed' where id = 1"))
	s.add("", clients.Exec("ins", 200, "committed"))
	s.add("", clients.Commit())
	s.add("tx-insert", clients.Query("insert into t values (201, 'rolled back')"))
	s.add("", clients.Query("update t set note = 'rolled back' where id = 2"))
	s.add("in-tx", clients.Query("select count(*) from t where id = 201"))
	s.add("", clients.Rollback())
	s.add("", clients.AutoCommit(true))
	s.add("after-tx", clients.Query("select id, note from t where id in (1, 2, 200, 201) order by id"))
	// A large result, all at once and then through a portal 100 rows at a
	// time (a fetch size outside autocommit).
	s.add("large", clients.Digest(largeSQL))
	s.add("", clients.AutoCommit(false))
	s.add("", clients.FetchSize(100))
	s.add("large-portal", clients.Digest(largeSQL))
	s.add("", clients.FetchSize(0))
	s.add("", clients.Commit())
	s.add("", clients.AutoCommit(true))
	// A query timeout: the driver cancels the statement through hoop.
	s.add("", clients.QueryTimeout(1))
	s.add("timeout", clients.Query("select pg_sleep(30)"))
	s.add("", clients.QueryTimeout(0))
	s.add("after-timeout", clients.Query("select 'still here'"))
	// prepareThreshold=1: named statements from the first execution.
	s.add("", clients.Connect(jdbcPlain+"&prepareThreshold=1"))
	s.add("", clients.Prepare("cnt", "select count(*) from t where id < ?"))
	for i := 1; i <= 3; i++ {
		s.add(fmt.Sprintf("t1-%d", i), clients.Exec("cnt", 3+i))
	}
	s.add("t1-server-prepared", clients.Query("select count(*) from pg_prepared_statements where statement like 'select count(*) from t where id < $1%'"))
	// The simple protocol, with parameters interpolated by the driver.
	s.add("", clients.Connect(jdbcPlain+"&preferQueryMode=simple"))
	s.add("", clients.Prepare("simple", "select note from t where id = ?"))
	s.add("simple", clients.Exec("simple", 3))
	s.add("simple-multi", clients.Query("select 1; select 2"))
	// The driver's default sslmode (prefer) asks for TLS, which this
	// gateway has not configured, and goes on in plaintext.
	s.add("", clients.Connect(""))
	s.add("sslmode-prefer", clients.Query("select 'plaintext'"))
	res := s.run(t, j, url, user, secret)

	wantRows(t, "whoami", res["whoami"], "app_rw|app")
	wantRows(t, "select", res["select"], "1|n1", "2|n2", "3|n3")
	for i := 1; i <= 8; i++ {
		l := fmt.Sprintf("byid%d", i)
		wantRows(t, l, res[l], fmt.Sprintf("n%d|%d", i, 2*i))
	}
	wantRows(t, "server-prepared", res["server-prepared"], "1")
	if r := res["batch"]; !r.OK || len(r.Counts) != 50 {
		t.Errorf("batch: %v", r)
	} else {
		for _, c := range r.Counts {
			if c != 1 {
				t.Errorf("batch: update counts %v, want 1 each", r.Counts)
				break
			}
		}
	}
	wantRows(t, "after-batch", res["after-batch"], "50|batch 100|batch 149")
	if r := res["sbatch"]; !r.OK || fmt.Sprint(r.Counts) != "[1 1]" {
		t.Errorf("statement batch: %v", r)
	}
	wantUpdate(t, "tx-update", res["tx-update"], 1)
	wantUpdate(t, "tx-insert", res["tx-insert"], 1)
	wantRows(t, "in-tx", res["in-tx"], "1")
	wantRows(t, "after-tx", res["after-tx"], "1|committed", "2|n2", "200|committed")
	want := clients.DigestRows(largeRows())
	for _, l := range []string{"large", "large-portal"} {
		if r := res[l]; !r.OK || r.Count != 20000 || r.SHA256 != want {
			t.Errorf("%s: %v, want 20000 rows with digest %s", l, r, want)
		}
	}
	wantSQLState(t, "timeout", res["timeout"], "57014", "canceling statement")
	wantRows(t, "after-timeout", res["after-timeout"], "still here")
	for i := 1; i <= 3; i++ {
		l := fmt.Sprintf("t1-%d", i)
		wantRows(t, l, res[l], strconv.Itoa(2+i))
	}
	wantRows(t, "t1-server-prepared", res["t1-server-prepared"], "1")
	wantRows(t, "simple", res["simple"], "n3")
	wantRows(t, "simple-multi", res["simple-multi"], "1")
	wantRows(t, "sslmode-prefer", res["sslmode-prefer"], "plaintext")
}

func TestJDBCPolicyBlock(t *testing.T) {
	requireBuiltins(t)
	j, url, user, secret := jdbcEnv(t, jdbcPolicyTOML)
	const msg = "dropping tables is not allowed"
	s := &script{}
	s.add("", clients.Connect(jdbcPlain))
	s.add("drop", clients.Query("drop table t"))
	s.add("after-drop", clients.Query("select count(*) from t"))
	s.add("", clients.Prepare("drop", "drop table t"))
	s.add("drop-prepared", clients.Exec("drop"))
	s.add("drop-prepared-again", clients.Exec("drop"))
	s.add("", clients.Prepare("byid", "select note from t where id = ?"))
	for i := 1; i <= 7; i++ {
		s.add(fmt.Sprintf("byid%d", i), clients.Exec("byid", i))
	}
	s.add("truncate-in-batch", clients.StatementBatch("insert into t values (50, 'batch')", "truncate t", "insert into t values (51, 'batch')"))
	s.add("after-batch", clients.Query("select count(*) from t where id in (50, 51)"))
	// In a transaction the refusal fails the transaction; rollback recovers.
	s.add("", clients.AutoCommit(false))
	s.add("tx-update", clients.Query("update t set note = 'x' where id = 1"))
	s.add("tx-drop", clients.Query("drop table t"))
	s.add("tx-next", clients.Query("select 1"))
	s.add("tx-next-prepared", clients.Exec("byid", 1))
	s.add("", clients.Rollback())
	s.add("tx-again", clients.Query("update t set note = 'y' where id = 2"))
	s.add("", clients.Commit())
	s.add("", clients.AutoCommit(true))
	s.add("after-tx", clients.Query("select id, note from t where id in (1, 2) order by id"))
	s.add("byid-after-tx", clients.Exec("byid", 3))
	// Named statements from the first execution: a refused named Parse.
	s.add("", clients.Connect(jdbcPlain+"&prepareThreshold=1"))
	s.add("", clients.Prepare("drop1", "drop table t"))
	s.add("t1-drop", clients.Exec("drop1"))
	s.add("", clients.Prepare("cnt", "select count(*) from t where id <= ?"))
	s.add("t1-count", clients.Exec("cnt", 5))
	s.add("t1-count-again", clients.Exec("cnt", 6))
	s.add("t1-drop-again", clients.Exec("drop1"))
	s.add("t1-count-last", clients.Exec("cnt", 7))
	// The simple protocol.
	s.add("", clients.Connect(jdbcPlain+"&preferQueryMode=simple"))
	s.add("simple-drop", clients.Query("drop table t"))
	s.add("simple-after", clients.Query("select count(*) from t"))
	s.add("exists", clients.Query("select to_regclass('public.t') is not null"))
	res := s.run(t, j, url, user, secret)

	for _, l := range []string{"drop", "drop-prepared", "drop-prepared-again", "tx-drop", "t1-drop", "t1-drop-again", "simple-drop"} {
		wantSQLState(t, l, res[l], "42501", msg)
	}
	wantRows(t, "after-drop", res["after-drop"], "10")
	for i := 1; i <= 7; i++ {
		l := fmt.Sprintf("byid%d", i)
		wantRows(t, l, res[l], fmt.Sprintf("n%d", i))
	}
	// The batch is one implicit transaction: the refusal undoes the insert
	// before it, as a server error would.
	wantSQLState(t, "truncate-in-batch", res["truncate-in-batch"], "42501", msg)
	wantRows(t, "after-batch", res["after-batch"], "0")
	wantUpdate(t, "tx-update", res["tx-update"], 1)
	wantSQLState(t, "tx-next", res["tx-next"], "25P02", "")
	wantSQLState(t, "tx-next-prepared", res["tx-next-prepared"], "25P02", "")
	wantUpdate(t, "tx-again", res["tx-again"], 1)
	wantRows(t, "after-tx", res["after-tx"], "1|n1", "2|y")
	wantRows(t, "byid-after-tx", res["byid-after-tx"], "n3")
	wantRows(t, "t1-count", res["t1-count"], "5")
	wantRows(t, "t1-count-again", res["t1-count-again"], "6")
	wantRows(t, "t1-count-last", res["t1-count-last"], "7")
	wantRows(t, "simple-after", res["simple-after"], "10")
	wantRows(t, "exists", res["exists"], "t")
}
