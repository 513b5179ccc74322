package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"hoop.dev/hoop/internal/testsrv"
)

// hoopIterations is hoop's own SCRAM iteration count for the bench
// credentials ([postgres] scram_iterations), so that pgbench -C measures
// the proxy and not the client's PBKDF2. It changes nothing once a
// connection is open.
const hoopIterations = 16

// hoopProc is a `hoop serve` child process with two credentials: "bench"
// (resource role rw, upstream user bench) and "bench-fast" (role fast,
// upstream user bench_fast, whose upstream verifier is cheap too).
type hoopProc struct {
	name    string
	cmd     *exec.Cmd
	dir     string
	addr    string // postgres listener
	api     string // HTTP API listener
	token   string // admin token, from <data_dir>/admin.token
	secrets map[bool]string
}

func (h *hoopProc) pid() int { return h.cmd.Process.Pid }

func (h *hoopProc) conn(fast bool) (string, string) {
	user := "bench"
	if fast {
		user = "bench-fast"
	}
	return fmt.Sprintf("postgresql://%s@%s/app?sslmode=disable", url.PathEscape(user), h.addr), h.secrets[fast]
}

// buildHoop runs `make build` when the binary is missing.
func buildHoop(ctx context.Context, bin string) error {
	if _, err := os.Stat(bin); err == nil {
		return nil
	}
	slog.Info("building hoop (make build)", "missing", bin)
	cmd := exec.CommandContext(ctx, "make", "build")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("make build: %v: %s", err, out)
	}
	return nil
}

// hoopConfig is the TOML of a bench gateway; extra (more top-level tables,
// such as [[policy]] blocks) is appended.
func hoopConfig(e *env, dir string, apiPort, pgPort int, sync bool, extra string) string {
	return fmt.Sprintf(`[gateway]
data_dir = %q
log_level = "info"

[store]
sync = %v

[api]
listen = "127.0.0.1:%d"

[postgres]
listen = "127.0.0.1:%d"
scram_iterations = %d

[plugins]
cache_dir = %q

[[resource]]
name = "bench"
protocol = "postgres"
address = %q

  [[resource.role]]
  name = "rw"
  user = %q
  password_file = %q

  [[resource.role]]
  name = "fast"
  user = %q
  password_file = %q
`, filepath.Join(dir, "data"), sync, apiPort, pgPort, hoopIterations, filepath.Join(os.TempDir(), "hoop-bench-wasm-cache"),
		e.pg.Addr(), benchUser, filepath.Join(dir, "bench.password"), benchFast, filepath.Join(dir, "bench.password")) + extra
}

// writeHoopConfig makes dir/hoop.toml (with the role's password file) on
// fresh ports and returns its path, the API and the postgres listen address.
func writeHoopConfig(e *env, dir string, sync bool, extra string) (string, string, string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", "", "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "bench.password"), []byte(e.password+"\n"), 0o600); err != nil {
		return "", "", "", err
	}
	apiPort, err := testsrv.FreePort()
	if err != nil {
		return "", "", "", err
	}
	pgPort, err := testsrv.FreePort()
	if err != nil {
		return "", "", "", err
	}
	path := filepath.Join(dir, "hoop.toml")
	if err := os.WriteFile(path, []byte(hoopConfig(e, dir, apiPort, pgPort, sync, extra)), 0o600); err != nil {
		return "", "", "", err
	}
	return path, fmt.Sprintf("127.0.0.1:%d", apiPort), fmt.Sprintf("127.0.0.1:%d", pgPort), nil
}

// startHoop starts `hoop serve` and creates the bench identities with the
// CLI (which reads the admin token from the data directory). extra is
// appended to the generated config.
func startHoop(ctx context.Context, cl *cleanups, e *env, bin, name string, sync bool, extra string) (*hoopProc, error) {
	dir := filepath.Join(e.dir, name)
	cfgPath, apiAddr, pgAddr, err := writeHoopConfig(e, dir, sync, extra)
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(dir, "hoop.log"))
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "serve", "--config", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start hoop: %w", err)
	}
	cl.add(func() { stopProcess(cmd, 15*time.Second); logf.Close() })
	h := &hoopProc{name: name, cmd: cmd, dir: dir, addr: pgAddr, api: apiAddr, secrets: map[bool]string{}}
	tokenFile := filepath.Join(dir, "data", "admin.token")
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(tokenFile); err == nil {
			break
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "hoop.log"))
			return nil, fmt.Errorf("hoop did not start: %s", log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		return nil, err
	}
	h.token = strings.TrimSpace(string(tok))
	for _, id := range []struct {
		name, role string
		fast       bool
	}{{"bench", "rw", false}, {"bench-fast", "fast", true}} {
		var out []byte
		var err error
		for try := 0; ; try++ { // the API may open a moment after the token is written
			c := exec.CommandContext(ctx, bin, "identity", "create", id.name, "--resource", "bench", "--role", id.role, "--json", "--config", cfgPath)
			c.Env = append(os.Environ(), "HOOP_TOKEN="+strings.TrimSpace(string(tok)))
			if out, err = c.Output(); err == nil || try == 50 || ctx.Err() != nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			return nil, fmt.Errorf("hoop identity create %s: %v: %s", id.name, err, out)
		}
		var iss struct{ Secret string }
		if err := json.Unmarshal(out, &iss); err != nil || iss.Secret == "" {
			return nil, fmt.Errorf("hoop identity create %s: no secret in %s", id.name, out)
		}
		h.secrets[id.fast] = iss.Secret
	}
	for _, fast := range []bool{false, true} {
		dsn, pw := h.conn(fast)
		u, _ := url.Parse(dsn)
		u.User = url.UserPassword(u.User.Username(), pw)
		if err := waitConnect(ctx, u.String(), 20*time.Second); err != nil {
			return nil, fmt.Errorf("%s: login through hoop: %w", name, err)
		}
	}
	slog.Info("hoop started", "name", name, "addr", pgAddr, "pid", h.pid(), "store_sync", sync, "policies", extra != "")
	return h, nil
}
