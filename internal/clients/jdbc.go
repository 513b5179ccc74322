// Package clients runs real, non-Go database clients from tests, so that
// what the gateway promises ("native clients just work") is checked with
// the clients people use rather than with pgx alone.
package clients

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

//go:embed testdata/JdbcProbe.java
var probeSource []byte

// DefaultJDBCJar is where Debian's libpostgresql-jdbc-java puts the driver.
const DefaultJDBCJar = "/usr/share/java/postgresql.jar"

// JDBC runs scripts through the PostgreSQL JDBC driver in a JVM.
type JDBC struct {
	java string
	jar  string
	dir  string // holds JdbcProbe.class
}

var (
	jdbcOnce sync.Once
	jdbc     *JDBC
	jdbcErr  error
	jdbcSkip string
)

// NeedJDBC returns the JDBC runner, compiling the probe on first use in
// this test binary. It skips t, naming the Debian package to install, when
// java, javac or the driver is missing (HOOP_JDBC_JAR overrides the jar).
func NeedJDBC(t testing.TB) *JDBC {
	t.Helper()
	jdbcOnce.Do(func() { jdbc, jdbcSkip, jdbcErr = setupJDBC() })
	if jdbcSkip != "" {
		t.Skip(jdbcSkip)
	}
	if jdbcErr != nil {
		t.Fatal(jdbcErr)
	}
	return jdbc
}

func setupJDBC() (*JDBC, string, error) {
	java, err := exec.LookPath("java")
	if err != nil {
		return nil, "JDBC tests need java: apt-get install openjdk-17-jdk-headless (scripts/install-test-deps.sh)", nil
	}
	javac, err := exec.LookPath("javac")
	if err != nil {
		return nil, "JDBC tests need javac: apt-get install openjdk-17-jdk-headless (scripts/install-test-deps.sh)", nil
	}
	jar := os.Getenv("HOOP_JDBC_JAR")
	if jar == "" {
		jar = DefaultJDBCJar
	}
	jarData, err := os.ReadFile(jar)
	if err != nil {
		return nil, fmt.Sprintf("JDBC tests need the PostgreSQL JDBC driver at %s: apt-get install libpostgresql-jdbc-java (scripts/install-test-deps.sh)", jar), nil
	}
	// The compiled probe is cached by the hash of its source and of the
	// driver, so a test binary compiles it at most once and later runs
	// reuse it.
	h := sha256.New()
	h.Write(probeSource)
	h.Write(jarData)
	dir := filepath.Join(os.TempDir(), "hoop-jdbcprobe-"+hex.EncodeToString(h.Sum(nil))[:16])
	j := &JDBC{java: java, jar: jar, dir: dir}
	if _, err := os.Stat(filepath.Join(dir, "JdbcProbe.class")); err == nil {
		return j, "", nil
	}
	tmp, err := os.MkdirTemp(os.TempDir(), "hoop-jdbcprobe-build-")
	if err != nil {
		return nil, "", fmt.Errorf("create build dir: %w", err)
	}
	defer os.RemoveAll(tmp)
	src := filepath.Join(tmp, "JdbcProbe.java")
	if err := os.WriteFile(src, probeSource, 0o644); err != nil {
		return nil, "", fmt.Errorf("write probe source: %w", err)
	}
	out := filepath.Join(tmp, "classes")
	cmd := exec.Command(javac, "-nowarn", "-cp", jar, "-d", out, src)
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, "", fmt.Errorf("compile JdbcProbe: %w\n%s", err, b)
	}
	// Another test binary may have won the race: either copy is good.
	if err := os.Rename(out, dir); err != nil {
		if _, serr := os.Stat(filepath.Join(dir, "JdbcProbe.class")); serr != nil {
			return nil, "", fmt.Errorf("install compiled probe: %w", err)
		}
	}
	return j, "", nil
}

// Step is one line of a JDBC script; build steps with the functions below.
type Step []string

// Connect (re)connects, appending params ("prepareThreshold=1&...") to the URL.
func Connect(params string) Step { return Step{"connect", params} }

// Query runs sql with Statement.execute.
func Query(sql string) Step { return Step{"query", sql} }

// Prepare creates PreparedStatement name for sql (the driver sends nothing yet).
func Prepare(name, sql string) Step { return Step{"prepare", name, sql} }

// Exec binds args (int, int64, string, bool or nil) and executes name.
func Exec(name string, args ...any) Step { return append(Step{"exec", name}, params(args)...) }

// AddBatch binds args and adds them to name's batch.
func AddBatch(name string, args ...any) Step {
	return append(Step{"addbatch", name}, params(args)...)
}

// ExecBatch runs name's batch.
func ExecBatch(name string) Step { return Step{"execbatch", name} }

// StatementBatch runs sqls as one Statement batch.
func StatementBatch(sqls ...string) Step { return append(Step{"sbatch"}, sqls...) }

// Digest reads every row of sql and reports their count and a SHA-256 of
// the values (see DigestRows).
func Digest(sql string) Step { return Step{"digest", sql} }

// FetchSize sets the fetch size of later statements (0: all rows at once;
// otherwise, outside autocommit, the driver fetches through a portal).
func FetchSize(n int) Step { return Step{"fetchsize", strconv.Itoa(n)} }

// QueryTimeout sets the query timeout of later statements in seconds (0:
// none); the driver cancels a statement that runs longer with a
// CancelRequest on a new connection.
func QueryTimeout(seconds int) Step { return Step{"querytimeout", strconv.Itoa(seconds)} }

// AutoCommit switches auto-commit.
func AutoCommit(on bool) Step {
	if on {
		return Step{"autocommit", "on"}
	}
	return Step{"autocommit", "off"}
}

// Commit commits the transaction.
func Commit() Step { return Step{"commit"} }

// Rollback rolls the transaction back.
func Rollback() Step { return Step{"rollback"} }

// Close closes prepared statement name.
func Close(name string) Step { return Step{"close", name} }

func params(args []any) []string {
	out := make([]string, len(args))
	for i, a := range args {
		switch v := a.(type) {
		case int:
			out[i] = "i:" + strconv.Itoa(v)
		case int64:
			out[i] = "l:" + strconv.FormatInt(v, 10)
		case string:
			out[i] = "s:" + v
		case bool:
			out[i] = "b:" + strconv.FormatBool(v)
		case nil:
			out[i] = "n:"
		default:
			panic(fmt.Sprintf("clients: unsupported JDBC parameter %T", a))
		}
	}
	return out
}

// Result is what one step did.
type Result struct {
	Step     int    `json:"step"`
	Op       string `json:"op"`
	Name     string `json:"name,omitempty"`
	SQL      string `json:"sql,omitempty"`
	Arg      string `json:"arg,omitempty"`
	OK       bool   `json:"ok"`
	SQLState string `json:"sqlstate,omitempty"`
	Message  string `json:"message,omitempty"`
	// Cause is the exception's cause, when the driver wraps one.
	Cause string `json:"cause,omitempty"`
	// Columns and Rows are a result set (SQL NULL reads as "").
	Columns []string   `json:"columns,omitempty"`
	Rows    [][]string `json:"rows,omitempty"`
	// Update is the update count of a statement without rows.
	Update *int64 `json:"update,omitempty"`
	// Counts are a batch's update counts.
	Counts []int64 `json:"counts,omitempty"`
	// Count and SHA256 are a Digest's.
	Count  int64  `json:"count,omitempty"`
	SHA256 string `json:"sha256,omitempty"`
}

// String is the result as a test failure shows it.
func (r Result) String() string {
	b, _ := json.Marshal(r)
	return string(b)
}

// Run runs the script in one JVM and returns one Result per step; a
// failed step does not stop the script. A script that does not start with
// a Connect first connects to url as user (an error if that fails).
func (j *JDBC) Run(ctx context.Context, url, user, password string, script ...Step) ([]Result, error) {
	implicit := len(script) == 0 || script[0][0] != "connect"
	if implicit {
		script = append([]Step{Connect("")}, script...)
	}
	var in bytes.Buffer
	for _, s := range script {
		for i, f := range s {
			if i > 0 {
				in.WriteByte('\t')
			}
			in.WriteString(escape(f))
		}
		in.WriteByte('\n')
	}
	cmd := exec.CommandContext(ctx, j.java, "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss1m",
		"-cp", j.dir+string(os.PathListSeparator)+j.jar, "JdbcProbe", url, user, password)
	cmd.Stdin = &in
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var out []Result
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var r Result
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			return out, fmt.Errorf("decode probe output %q: %w", sc.Text(), err)
		}
		out = append(out, r)
	}
	if runErr != nil {
		return out, fmt.Errorf("run JdbcProbe: %w\n%s", runErr, stderr.Bytes())
	}
	if len(out) != len(script) {
		return out, fmt.Errorf("JdbcProbe answered %d of %d steps\n%s", len(out), len(script), stderr.Bytes())
	}
	if implicit {
		if !out[0].OK {
			return nil, fmt.Errorf("connect with JDBC: %s (SQLSTATE %s; cause: %s)", out[0].Message, out[0].SQLState, out[0].Cause)
		}
		out = out[1:]
	}
	return out, nil
}

var escaper = strings.NewReplacer(`\`, `\\`, "\t", `\t`, "\n", `\n`, "\r", `\r`)

func escape(s string) string { return escaper.Replace(s) }

// DigestRows is the digest a Digest step reports for rows: SHA-256 over
// each value (SQL NULL as \N), tab between values, newline after a row.
func DigestRows(rows [][]*string) string {
	h := sha256.New()
	for _, r := range rows {
		for i, v := range r {
			if v == nil {
				h.Write([]byte(`\N`))
			} else {
				h.Write([]byte(*v))
			}
			if i == len(r)-1 {
				h.Write([]byte{'\n'})
			} else {
				h.Write([]byte{'\t'})
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
