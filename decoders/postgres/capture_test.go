package postgres

import (
	"context"
	"errors"
	"flag"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"hoop.dev/hoop/internal/testsrv"
	"hoop.dev/hoop/sdk"
)

var capture = flag.Bool("capture", false, "record the conformance corpus from real clients and a real PostgreSQL (needs psql)")

// recorder is a TCP relay between a real client and a real server that
// records, per accepted connection, every read() chunk in relay order.
type recorder struct {
	ln       net.Listener
	upstream string
	mu       sync.Mutex
	conns    [][]frame
	wg       sync.WaitGroup
}

func newRecorder(t *testing.T, upstream string) *recorder {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{ln: ln, upstream: upstream}
	go r.accept()
	t.Cleanup(func() { ln.Close() })
	return r
}

func (r *recorder) addr() (string, int) {
	a := r.ln.Addr().(*net.TCPAddr)
	return a.IP.String(), a.Port
}

func (r *recorder) accept() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		u, err := net.DialTimeout("tcp", r.upstream, 10*time.Second)
		if err != nil {
			c.Close()
			continue
		}
		r.mu.Lock()
		idx := len(r.conns)
		r.conns = append(r.conns, nil)
		r.mu.Unlock()
		r.wg.Add(2)
		go r.pipe(idx, sdk.C2S, c, u)
		go r.pipe(idx, sdk.S2C, u, c)
	}
}

// pipe copies src to dst, recording each chunk before forwarding it, so the
// recorded order is causal across directions.
func (r *recorder) pipe(idx int, d sdk.Dir, src, dst net.Conn) {
	defer r.wg.Done()
	buf := make([]byte, 16<<10)
	for {
		src.SetReadDeadline(time.Now().Add(60 * time.Second))
		n, err := src.Read(buf)
		if n > 0 {
			r.mu.Lock()
			r.conns[idx] = append(r.conns[idx], frame{d, append([]byte(nil), buf[:n]...)})
			r.mu.Unlock()
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				src.Close()
			}
			if tc, ok := dst.(*net.TCPConn); ok {
				tc.CloseWrite()
			}
			return
		}
	}
}

// captureScenario is one recorded client session.
type captureScenario struct {
	name string
	run  func(t *testing.T, pg *testsrv.Postgres, host string, port int)
}

func psql(t *testing.T, pg *testsrv.Postgres, host string, port int, sslmode string, stdin string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/usr/bin/psql", append([]string{"-X", "-h", host, "-p", strconv.Itoa(port), "-U", "postgres", "-d", "app"}, args...)...)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+pg.Password, "PGSSLMODE="+sslmode, "PGGSSENCMODE=disable", "PGAPPNAME=psql")
	if stdin != "" {
		cmd.Stdin = stringReader(stdin)
	}
	out, err := cmd.CombinedOutput()
	t.Logf("psql %v:\n%s", args, out)
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("run psql: %v", err)
		}
	}
}

func pgxConnect(t *testing.T, pg *testsrv.Postgres, host string, port int) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	dsn := "postgres://postgres:" + pg.Password + "@" + net.JoinHostPort(host, strconv.Itoa(port)) + "/app?sslmode=disable&application_name=pgx"
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var captureScenarios = []captureScenario{
	{"psql_simple", func(t *testing.T, pg *testsrv.Postgres, host string, port int) {
		psql(t, pg, host, port, "disable", "",
			"-c", "select 1 as a, 'x' as b",
			"-c", "select * from missing_table",
			"-c", "do $$ begin raise notice 'hello %', 42; end $$",
			"-c", "listen ch",
			"-c", "notify ch, 'payload \"quoted\"'",
			"-c", "select E'tab\\there', 'caf\u00e9'")
	}},
	{"psql_multi_statement", func(t *testing.T, pg *testsrv.Postgres, host string, port int) {
		psql(t, pg, host, port, "disable", "",
			"-c", "create temp table t(a int); insert into t values (1),(2),(3); select a from t order by a; ; drop table t")
	}},
	{"psql_copy", func(t *testing.T, pg *testsrv.Postgres, host string, port int) {
		psql(t, pg, host, port, "disable",
			"create temp table items(id int, name text);\n"+
				"copy items from stdin;\n1\tone\n2\ttwo\n3\tthree\n\\.\n"+
				"copy items to stdout;\n"+
				"copy items from stdin;\nnot-a-number\tbad\n\\.\n")
	}},
	{"psql_ssl_prefer", func(t *testing.T, pg *testsrv.Postgres, host string, port int) {
		psql(t, pg, host, port, "prefer", "", "-c", "select current_user")
	}},
	{"psql_large_result", func(t *testing.T, pg *testsrv.Postgres, host string, port int) {
		psql(t, pg, host, port, "disable", "", "-c", "select g from generate_series(1, 3000) g")
	}},
	{"pgx_extended", func(t *testing.T, pg *testsrv.Postgres, host string, port int) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c := pgxConnect(t, pg, host, port)
		defer c.Close(ctx)
		if _, err := c.Prepare(ctx, "stmt1", "select $1::int + 1 as n, $2::text as t, $3::bytea as b"); err != nil {
			t.Fatal(err)
		}
		var n int
		var s *string
		var b []byte
		if err := c.QueryRow(ctx, "stmt1", 41, nil, []byte{0, 1}).Scan(&n, &s, &b); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exec(ctx, "create temp table kv(k text primary key, v int)"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exec(ctx, "insert into kv values ($1, $2)", "answer", 42); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Exec(ctx, "insert into kv values ($1, $2)", "answer", 43); err == nil {
			t.Fatal("duplicate key insert succeeded")
		}
		rows, err := c.CopyFrom(ctx, pgx.Identifier{"kv"}, []string{"k", "v"}, pgx.CopyFromRows([][]any{{"a", 1}, {"b", 2}}))
		if err != nil || rows != 2 {
			t.Fatalf("copy from: %d %v", rows, err)
		}
		var total int
		if err := c.QueryRow(ctx, "select sum(v) from kv where k <> $1", "").Scan(&total); err != nil {
			t.Fatal(err)
		}
	}},
	{"pgx_cancel", func(t *testing.T, pg *testsrv.Postgres, host string, port int) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c := pgxConnect(t, pg, host, port)
		defer c.Close(ctx)
		done := make(chan error, 1)
		go func() { _, err := c.Exec(ctx, "select pg_sleep(20)"); done <- err }()
		// Wait until the query runs, asking the server directly.
		watch, err := pgx.Connect(ctx, pg.SuperDSN())
		if err != nil {
			t.Fatal(err)
		}
		defer watch.Close(ctx)
		for {
			var n int
			if err := watch.QueryRow(ctx, "select count(*) from pg_stat_activity where state = 'active' and query = 'select pg_sleep(20)'").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n > 0 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err := c.PgConn().CancelRequest(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err == nil {
			t.Fatal("cancelled query succeeded")
		}
	}},
}

// TestCapture records the corpus: go test ./decoders/postgres -run TestCapture -capture
// It rewrites the .frames.jsonl files and their .events.jsonl.
func TestCapture(t *testing.T) {
	if !*capture {
		t.Skip("run with -capture to record the corpus")
	}
	if _, err := os.Stat("/usr/bin/psql"); err != nil {
		t.Skip("psql is not installed (apt-get install postgresql-client)")
	}
	pg := testsrv.StartPostgres(t, testsrv.Options{})
	for _, sc := range captureScenarios {
		t.Run(sc.name, func(t *testing.T) {
			rec := newRecorder(t, pg.Addr())
			host, port := rec.addr()
			sc.run(t, pg, host, port)
			rec.ln.Close()
			rec.wg.Wait()
			for i, conn := range rec.conns {
				name := sc.name
				if i > 0 {
					name += "_conn" + strconv.Itoa(i+1)
				}
				if err := writeFrames(filepath.Join(corpusDir, name+".frames.jsonl"), conn); err != nil {
					t.Fatal(err)
				}
				out, _ := decodeFrames(t, conn)
				if err := os.WriteFile(filepath.Join(corpusDir, name+".events.jsonl"), out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

type stringReaderT struct {
	s string
}

func (r *stringReaderT) Read(p []byte) (int, error) {
	if r.s == "" {
		return 0, io.EOF
	}
	n := copy(p, r.s)
	r.s = r.s[n:]
	return n, nil
}

func stringReader(s string) io.Reader { return &stringReaderT{s} }
