package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"hoop.dev/hoop/core/identity"
	"hoop.dev/hoop/internal/testsrv"
)

// Bench roles on the server. Both have the same password; benchFast's
// SCRAM secret has fastIterations so that pgbench -C measures connection
// handling rather than the client's PBKDF2.
const (
	benchUser      = "bench"
	benchFast      = "bench_fast"
	fastIterations = 16
	pgbenchScale   = "10"
)

// env is everything the scenarios drive.
type env struct {
	dir      string
	pg       *testsrv.Postgres
	password string // of both bench roles

	bouncerAddr string
	bouncerPID  int

	hoop         *hoopProc // recording, [store] sync = false
	hoopSync     *hoopProc // recording, [store] sync = true; nil unless a scenario needs it
	hoopPolicies *hoopProc // hoop plus the shipped guardrail and analyzer policies; nil unless needed

	warmed map[string]bool // targets that had their warm-up run
}

// target is one way of reaching the server.
type target struct {
	Name string // "direct", "pgbouncer", "hoop", "hoop-sync", "hoop-policies", "hoop+50sse"
	pid  int    // the proxy process whose CPU is measured (0 for direct)
	// hoop is the gateway behind the target (nil for direct and pgbouncer);
	// subscribers > 0 attaches that many SSE streams to the run's session.
	hoop        *hoopProc
	subscribers int
	// conn returns the libpq URL (without password) and the password of
	// the bench login through this target; fast selects the login whose
	// SCRAM verifier has fastIterations.
	conn func(fast bool) (dsn, password string)
}

func (e *env) targets() map[string]target {
	direct := func(addr string) func(bool) (string, string) {
		return func(fast bool) (string, string) {
			u := benchUser
			if fast {
				u = benchFast
			}
			return fmt.Sprintf("postgresql://%s@%s/app?sslmode=disable", u, addr), e.password
		}
	}
	ts := map[string]target{
		"direct":    {Name: "direct", conn: direct(e.pg.Addr())},
		"pgbouncer": {Name: "pgbouncer", pid: e.bouncerPID, conn: direct(e.bouncerAddr)},
	}
	for name, h := range map[string]*hoopProc{"hoop": e.hoop, "hoop-sync": e.hoopSync, "hoop-policies": e.hoopPolicies} {
		if h != nil {
			ts[name] = target{Name: name, pid: h.pid(), conn: h.conn, hoop: h}
		}
	}
	if e.hoop != nil {
		name := fmt.Sprintf("hoop+%dsse", fanoutSubscribers)
		ts[name] = target{Name: name, pid: e.hoop.pid(), conn: e.hoop.conn, hoop: e.hoop, subscribers: fanoutSubscribers}
	}
	return ts
}

// needs reports whether any scenario runs against the target.
func needs(scs []scenario, target string) bool {
	for _, s := range scs {
		if slices.Contains(s.Targets, target) {
			return true
		}
	}
	return false
}

// startEnv starts PostgreSQL, pgbouncer and hoop, and the other gateways
// (hoop-sync, hoop-policies) only when one of scs runs against them.
func startEnv(ctx context.Context, cl *cleanups, o options, scs []scenario) (*env, error) {
	dir, err := os.MkdirTemp("", "hoop-bench-")
	if err != nil {
		return nil, fmt.Errorf("make bench dir: %w", err)
	}
	cl.add(func() { os.RemoveAll(dir) })
	// pgbouncer runs as postgres and reads its files from here.
	os.Chmod(dir, 0o755)
	e := &env{dir: dir, warmed: map[string]bool{}}

	t0 := time.Now()
	pg, stop, err := testsrv.Start(testsrv.Options{Settings: map[string]string{
		"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "autovacuum": "off",
		"shared_buffers": "512MB", "max_connections": "200",
	}})
	if err != nil {
		return nil, err
	}
	cl.add(stop)
	e.pg = pg
	slog.Info("postgres started", "addr", pg.Addr(), "took", time.Since(t0).Round(time.Millisecond))

	if err := e.initData(ctx); err != nil {
		return nil, err
	}
	if err := e.startBouncer(ctx, cl); err != nil {
		return nil, err
	}
	if err := buildHoop(ctx, o.hoopBin); err != nil {
		return nil, err
	}
	if e.hoop, err = startHoop(ctx, cl, e, o.hoopBin, "hoop", false, ""); err != nil {
		return nil, err
	}
	if needs(scs, "hoop-sync") {
		if e.hoopSync, err = startHoop(ctx, cl, e, o.hoopBin, "hoop-sync", true, ""); err != nil {
			return nil, err
		}
	}
	if needs(scs, "hoop-policies") {
		pol, err := shippedPolicies(shippedConfig, "bench")
		if err != nil {
			return nil, err
		}
		if e.hoopPolicies, err = startHoop(ctx, cl, e, o.hoopBin, "hoop-policies", false, pol); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// initData loads pgbench's tables at scale 10 and creates the bench roles.
func (e *env) initData(ctx context.Context) error {
	t0 := time.Now()
	cmd := exec.CommandContext(ctx, "/usr/bin/pgbench", "-i", "-q", "-s", pgbenchScale,
		"-h", e.pg.Host, "-p", strconv.Itoa(e.pg.Port), "-U", "postgres", "app")
	cmd.Env = append(os.Environ(), "PGPASSWORD="+e.pg.Password)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("pgbench -i: %v: %s", err, out)
	}
	e.password = "bench-" + randString(12)
	fast := scramSecret(e.password, fastIterations)
	stmts := []string{
		fmt.Sprintf("create role %s login password '%s'", benchUser, e.password),
		fmt.Sprintf("create role %s login password '%s'", benchFast, fast),
		"grant select, insert, update, delete on all tables in schema public to " + benchUser + ", " + benchFast,
		"vacuum analyze",
		"checkpoint",
	}
	c, err := pgx.Connect(ctx, e.pg.DSN("postgres", e.pg.Password, "app"))
	if err != nil {
		return fmt.Errorf("connect as superuser: %w", err)
	}
	defer c.Close(context.Background())
	for _, s := range stmts {
		if _, err := c.Exec(ctx, s); err != nil {
			return fmt.Errorf("exec %q: %w", strings.SplitN(s, " password", 2)[0], err)
		}
	}
	slog.Info("pgbench data loaded", "scale", pgbenchScale, "took", time.Since(t0).Round(time.Millisecond))
	return nil
}

// scramSecret is the pg_authid form of a SCRAM-SHA-256 verifier with the
// given iteration count: SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>.
func scramSecret(password string, iterations int) string {
	salt := make([]byte, 16)
	rand.Read(salt)
	v := identity.NewVerifier(password, salt, iterations)
	b64 := base64.StdEncoding.EncodeToString
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations, b64(v.Salt), b64(v.StoredKey), b64(v.ServerKey))
}

func randString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

// postgresCred is the uid/gid of the postgres user, which pgbouncer runs as
// when the bench runs as root (pgbouncer refuses root).
func postgresCred() (*syscall.Credential, int, int, error) {
	if os.Geteuid() != 0 {
		return nil, -1, -1, nil
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, 0, 0, fmt.Errorf("look up user postgres: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, uid, gid, nil
}

// startBouncer writes a pgbouncer config whose auth_file holds the roles'
// SCRAM secrets copied from pg_authid (no plaintext anywhere) and starts it.
func (e *env) startBouncer(ctx context.Context, cl *cleanups) error {
	bin, err := exec.LookPath("pgbouncer")
	if err != nil {
		for _, p := range []string{"/usr/sbin/pgbouncer"} {
			if _, serr := os.Stat(p); serr == nil {
				bin, err = p, nil
			}
		}
	}
	if err != nil {
		slog.Info("pgbouncer missing: apt-get install -y pgbouncer")
		cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "pgbouncer")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("install pgbouncer: %v: %s", err, out)
		}
		bin = "/usr/sbin/pgbouncer"
	}
	c, err := pgx.Connect(ctx, e.pg.SuperDSN())
	if err != nil {
		return fmt.Errorf("connect as superuser: %w", err)
	}
	var auth strings.Builder
	rows, err := c.Query(ctx, "select rolname, rolpassword from pg_authid where rolname = any($1) order by rolname",
		[]string{benchUser, benchFast})
	if err == nil {
		for rows.Next() {
			var name, secret string
			if err = rows.Scan(&name, &secret); err != nil {
				break
			}
			fmt.Fprintf(&auth, "%q %q\n", name, secret)
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
	}
	c.Close(context.Background())
	if err != nil {
		return fmt.Errorf("read scram secrets: %w", err)
	}
	bdir := filepath.Join(e.dir, "pgbouncer")
	os.MkdirAll(bdir, 0o700)
	cred, uid, gid, err := postgresCred()
	if err != nil {
		return err
	}
	port, err := testsrv.FreePort()
	if err != nil {
		return err
	}
	ini := fmt.Sprintf(`[databases]
app = host=%s port=%d dbname=app

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %d
unix_socket_dir =
auth_type = scram-sha-256
auth_file = %s
pool_mode = session
max_client_conn = 1000
default_pool_size = 100
max_db_connections = 150
logfile = %s
pidfile = %s
log_connections = 0
log_disconnections = 0
`, e.pg.Host, e.pg.Port, port, filepath.Join(bdir, "userlist.txt"), filepath.Join(bdir, "pgbouncer.log"), filepath.Join(bdir, "pgbouncer.pid"))
	for name, body := range map[string]string{"userlist.txt": auth.String(), "pgbouncer.ini": ini} {
		if err := os.WriteFile(filepath.Join(bdir, name), []byte(body), 0o600); err != nil {
			return err
		}
	}
	if cred != nil {
		for _, p := range []string{bdir, filepath.Join(bdir, "userlist.txt"), filepath.Join(bdir, "pgbouncer.ini")} {
			os.Chown(p, uid, gid)
		}
	}
	cmd := exec.Command(bin, filepath.Join(bdir, "pgbouncer.ini"))
	cmd.Dir = bdir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Setpgid: true}
	stderr, _ := os.Create(filepath.Join(bdir, "stderr"))
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start pgbouncer: %w", err)
	}
	cl.add(func() { stopProcess(cmd, 5*time.Second) })
	e.bouncerAddr = fmt.Sprintf("127.0.0.1:%d", port)
	e.bouncerPID = cmd.Process.Pid
	if err := waitConnect(ctx, fmt.Sprintf("postgres://%s:%s@%s/app?sslmode=disable", benchUser, e.password, e.bouncerAddr), 10*time.Second); err != nil {
		log, _ := os.ReadFile(filepath.Join(bdir, "pgbouncer.log"))
		return fmt.Errorf("pgbouncer did not accept a login: %w\n%s", err, log)
	}
	slog.Info("pgbouncer started", "addr", e.bouncerAddr, "pid", e.bouncerPID)
	return nil
}

// waitConnect retries a login until it works or the timeout passes.
func waitConnect(ctx context.Context, dsn string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c, err := pgx.Connect(cctx, dsn)
		if err == nil {
			_, err = c.Exec(cctx, "select count(*) from pgbench_branches")
			c.Close(context.Background())
		}
		cancel()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// stopProcess sends SIGTERM to the process group, then SIGKILL after wait.
func stopProcess(cmd *exec.Cmd, wait time.Duration) {
	if cmd.Process == nil {
		return
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(wait):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// proxyLog returns the last warnings and errors of a hoop target's log,
// to explain a failed run ("" for other targets).
func (e *env) proxyLog(name string) string {
	h := e.targets()[name].hoop
	if h == nil {
		return ""
	}
	b, err := os.ReadFile(filepath.Join(h.dir, "hoop.log"))
	if err != nil {
		return ""
	}
	var bad []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") {
			bad = append(bad, l)
		}
	}
	if len(bad) > 5 {
		bad = bad[len(bad)-5:]
	}
	if len(bad) == 0 {
		return ""
	}
	return "\nhoop log:\n" + strings.Join(bad, "\n")
}
