// Package testsrv starts real servers for hoop's tests and benchmarks:
// throwaway PostgreSQL clusters on free loopback ports, owned by the test
// and removed by t.Cleanup. It installs nothing that the machine image
// lacks; where a binary is missing the test is skipped with a clear message
// naming the package to install.
package testsrv

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PGBinDir is where Debian puts the PostgreSQL 15 server binaries.
const PGBinDir = "/usr/lib/postgresql/15/bin"

// Postgres is a running throwaway cluster.
type Postgres struct {
	Dir  string // cluster directory (data/, log, sock/)
	Host string // always 127.0.0.1
	Port int
	// Password is the password of every role the helper creates, including
	// the superuser "postgres" (SCRAM-SHA-256 over TCP).
	Password string
}

// Addr returns host:port.
func (p *Postgres) Addr() string { return net.JoinHostPort(p.Host, strconv.Itoa(p.Port)) }

// DSN returns a libpq URL for user/password on database db.
func (p *Postgres) DSN(user, password, db string) string {
	return fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable", user, password, p.Addr(), db)
}

// SuperDSN is the DSN of the superuser on database postgres.
func (p *Postgres) SuperDSN() string { return p.DSN("postgres", p.Password, "postgres") }

// Exec runs SQL as the superuser on database postgres, failing the test on error.
func (p *Postgres) Exec(t testing.TB, sql string, args ...any) {
	t.Helper()
	p.ExecIn(t, "postgres", sql, args...)
}

// ExecIn runs SQL as the superuser on database db, failing the test on error.
func (p *Postgres) ExecIn(t testing.TB, db, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, p.DSN("postgres", p.Password, db))
	if err != nil {
		t.Fatalf("connect to test postgres: %v", err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("exec %q: %v", sql, err)
	}
}

// Options tune StartPostgres.
type Options struct {
	// Settings are extra "-c name=value" server settings.
	Settings map[string]string
	// HBA lines appended before the default ones (e.g. "host all md5user 127.0.0.1/32 md5").
	HBA []string
}

// StartPostgres starts a cluster for the test, with superuser "postgres"
// whose password is p.Password, a database "app", and pg_hba requiring
// SCRAM-SHA-256 on 127.0.0.1. The cluster is stopped and removed by
// t.Cleanup.
func StartPostgres(t testing.TB, opt Options) *Postgres {
	t.Helper()
	p, stop, err := Start(opt)
	if err != nil {
		if strings.Contains(err.Error(), "not installed") {
			t.Skip(err.Error())
		}
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return p
}

var pgUser struct {
	once     sync.Once
	uid, gid int
	err      error
}

func lookupPostgresUser() (int, int, error) {
	pgUser.once.Do(func() {
		u, err := user.Lookup("postgres")
		if err != nil {
			pgUser.err = fmt.Errorf("look up user postgres: %w", err)
			return
		}
		pgUser.uid, _ = strconv.Atoi(u.Uid)
		pgUser.gid, _ = strconv.Atoi(u.Gid)
	})
	return pgUser.uid, pgUser.gid, pgUser.err
}

// Start is StartPostgres without a testing.TB, for benchmarks and tools.
// The returned stop function stops the server and removes its directory.
func Start(opt Options) (*Postgres, func(), error) {
	if _, err := os.Stat(filepath.Join(PGBinDir, "initdb")); err != nil {
		return nil, nil, fmt.Errorf("postgresql 15 server is not installed (apt-get install postgresql-15): %w", err)
	}
	dir, err := os.MkdirTemp("", "hoop-pg-")
	if err != nil {
		return nil, nil, fmt.Errorf("make cluster dir: %w", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return nil, nil, err
	}
	asPostgres := os.Geteuid() == 0
	if asPostgres {
		uid, gid, err := lookupPostgresUser()
		if err != nil {
			os.RemoveAll(dir)
			return nil, nil, err
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, nil, fmt.Errorf("chown cluster dir: %w", err)
		}
	}
	run := func(name string, args ...string) ([]byte, error) {
		bin := filepath.Join(PGBinDir, name)
		var cmd *exec.Cmd
		if asPostgres {
			cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", bin}, args...)...)
		} else {
			cmd = exec.Command(bin, args...)
		}
		cmd.Dir = dir // pg_ctl needs a readable working directory
		return cmd.CombinedOutput()
	}
	fail := func(err error) (*Postgres, func(), error) {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	password := "pw-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	pwfile := filepath.Join(dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(password+"\n"), 0o644); err != nil {
		return fail(err)
	}
	data := filepath.Join(dir, "data")
	if out, err := run("initdb", "-D", data, "-U", "postgres", "--pwfile", pwfile, "-A", "scram-sha-256",
		"--auth-local=trust", "-E", "UTF8", "--no-sync"); err != nil {
		return fail(fmt.Errorf("initdb: %v: %s", err, out))
	}
	os.Remove(pwfile)
	hba := strings.Join(append(opt.HBA, "local all all trust", "host all all 127.0.0.1/32 scram-sha-256", ""), "\n")
	if err := os.WriteFile(filepath.Join(data, "pg_hba.conf"), []byte(hba), 0o644); err != nil {
		return fail(err)
	}
	sock := filepath.Join(dir, "sock")
	if err := os.MkdirAll(sock, 0o755); err != nil {
		return fail(err)
	}
	if asPostgres {
		uid, gid, _ := lookupPostgresUser()
		os.Chown(sock, uid, gid)
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := FreePort()
		if err != nil {
			return fail(err)
		}
		o := fmt.Sprintf("-c listen_addresses=127.0.0.1 -p %d -k %s -c fsync=off -c max_connections=400", port, sock)
		for k, v := range opt.Settings {
			o += fmt.Sprintf(" -c %s=%s", k, v)
		}
		out, err := run("pg_ctl", "-D", data, "-l", filepath.Join(dir, "log"), "-w", "-t", "30", "-o", o, "start")
		if err != nil {
			lastErr = fmt.Errorf("pg_ctl start: %v: %s", err, out)
			continue
		}
		p := &Postgres{Dir: dir, Host: "127.0.0.1", Port: port, Password: password}
		stop := func() {
			run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
			os.RemoveAll(dir)
		}
		if err := p.createApp(); err != nil {
			stop()
			return nil, nil, err
		}
		return p, stop, nil
	}
	return fail(lastErr)
}

func (p *Postgres) createApp() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, p.SuperDSN())
	if err != nil {
		return fmt.Errorf("connect to new cluster: %w", err)
	}
	defer c.Close(ctx)
	if _, err := c.Exec(ctx, "create database app"); err != nil {
		return fmt.Errorf("create database app: %w", err)
	}
	return nil
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
