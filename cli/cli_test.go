package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"hoop.dev/hoop/core/store/sqlite"

	"hoop.dev/hoop/internal/hooptest"
	"hoop.dev/hoop/internal/testsrv"
)

var hoopBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "hoop-cli-test-")
	if err != nil {
		panic(err)
	}
	hoopBin = filepath.Join(dir, "hoop")
	out, err := exec.Command("go", "build", "-o", hoopBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "build hoop: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is a `hoop serve` process.
type proc struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	dir    string
	cfg    string
	pgAddr string
	api    string
}

func writeConfig(t *testing.T, pg *testsrv.Postgres) (dir, cfg, pgAddr, apiAddr string) {
	dir = t.TempDir()
	apiPort, _ := testsrv.FreePort()
	pgPort, _ := testsrv.FreePort()
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte(pg.Password), 0o600)
	cfg = filepath.Join(dir, "hoop.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
[gateway]
data_dir = %q
[api]
listen = "127.0.0.1:%d"
[postgres]
listen = "127.0.0.1:%d"
[[resource]]
name = "demo"
protocol = "postgres"
address = %q
  [[resource.role]]
  name = "readonly"
  user = "app_ro"
  password_file = %q
`, filepath.Join(dir, "data"), apiPort, pgPort, pg.Addr(), pw)), 0o600)
	return dir, cfg, fmt.Sprintf("127.0.0.1:%d", pgPort), fmt.Sprintf("127.0.0.1:%d", apiPort)
}

func startServe(t *testing.T, dir, cfg, pgAddr, api string) *proc {
	t.Helper()
	p := &proc{stderr: &bytes.Buffer{}, dir: dir, cfg: cfg, pgAddr: pgAddr, api: api}
	p.cmd = exec.Command(hoopBin, "serve", "--config", cfg)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	deadline := time.Now().Add(20 * time.Second)
	for {
		if c, err := net.Dial("tcp", pgAddr); err == nil {
			c.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("hoop serve did not start:\n%s", p.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// hoop runs a client command against p and returns stdout.
func (p *proc) hoop(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(hoopBin, args...)
	cmd.Args = append(cmd.Args, "--config", p.cfg)
	cmd.Env = append(os.Environ(), "HOOP_GATEWAY=", "HOOP_TOKEN=")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String() + errb.String(), err
	}
	return out.String(), nil
}

func (p *proc) mustHoop(t *testing.T, args ...string) string {
	t.Helper()
	out, err := p.hoop(t, args...)
	if err != nil {
		t.Fatalf("hoop %v: %v\n%s", args, err, out)
	}
	return out
}

func TestQuickStartAndKill9(t *testing.T) {
	pg := testsrv.StartPostgres(t, testsrv.Options{})
	hooptest.SetupRoles(t, pg)
	dir, cfg, pgAddr, api := writeConfig(t, pg)
	p := startServe(t, dir, cfg, pgAddr, api)
	if !strings.Contains(p.stderr.String(), "admin token written to") {
		t.Fatalf("first start does not say where the admin token is:\n%s", p.stderr)
	}
	fi, err := os.Stat(filepath.Join(dir, "data", "admin.token"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("admin.token: %v, mode %v", err, fi.Mode())
	}

	// Without a token the API refuses.
	resp, err := httpGet("http://" + api + "/api/sessions")
	if err != nil || resp != 401 {
		t.Fatalf("unauthenticated GET /api/sessions = %d, %v", resp, err)
	}

	var iss struct {
		Identity, Kind, Secret, DSN string
		CredentialID                string `json:"credential_id"`
		Resource, Role              string
	}
	out := p.mustHoop(t, "identity", "create", "etl-nightly", "--resource", "demo", "--role", "readonly", "--json")
	if err := json.Unmarshal([]byte(out), &iss); err != nil {
		t.Fatalf("identity create --json: %v\n%s", err, out)
	}
	for k, v := range map[string]string{"identity": iss.Identity, "kind": iss.Kind, "credential_id": iss.CredentialID,
		"resource": iss.Resource, "role": iss.Role, "secret": iss.Secret, "dsn": iss.DSN} {
		if v == "" {
			t.Fatalf("identity create --json lacks %q: %s", k, out)
		}
	}
	if !strings.HasPrefix(iss.Secret, "hoop_cred_") || len(iss.Secret) < 40 {
		t.Fatalf("secret %q lacks the prefix or 32 random bytes", iss.Secret)
	}
	// The secret is not in the store in any form that matches it.
	db, _ := os.ReadFile(filepath.Join(dir, "data", "hoop.db"))
	if bytes.Contains(db, []byte(iss.Secret)) {
		t.Fatal("the store holds the secret in plaintext")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	dsn := strings.Replace(iss.DSN, "/postgres", "/app", 1)
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect with the printed DSN: %v", err)
	}
	for i := range 20 {
		if _, err := c.Exec(ctx, fmt.Sprintf("select %d as marker_%d", i, i)); err != nil {
			t.Fatal(err)
		}
	}
	live := p.mustHoop(t, "session", "list", "--live")
	if !strings.Contains(live, "etl-nightly") || !strings.Contains(live, "live") {
		t.Fatalf("session list --live:\n%s", live)
	}
	var sessions []struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	json.Unmarshal([]byte(p.mustHoop(t, "session", "list", "--live", "--json")), &sessions)
	if len(sessions) != 1 {
		t.Fatalf("live sessions: %+v", sessions)
	}
	sid := sessions[0].ID

	// kill -9: every client frame that reached upstream is in the store.
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
	c.Close(ctx)
	p2 := startServe(t, dir, cfg, pgAddr, api)
	var show struct {
		Status    string `json:"status"`
		EndReason string `json:"end_reason"`
		BytesC2S  int64  `json:"bytes_c2s"`
	}
	raw := p2.mustHoop(t, "session", "show", sid, "--json")
	json.Unmarshal([]byte(raw), &show)
	if show.Status != "ended" || show.EndReason != "gateway_restart" || show.BytesC2S == 0 {
		t.Fatalf("session after kill -9: %s", raw)
	}
	// The decoded statements survived too, in order.
	text := p2.mustHoop(t, "session", "show", sid)
	last := -1
	for i := range 20 {
		at := strings.Index(text, fmt.Sprintf("select %d as marker_%d", i, i))
		if at < 0 || at < last {
			t.Fatalf("session show after kill -9 lacks statement %d in order:\n%s", i, text)
		}
		last = at
	}
	st, err := openStore(filepath.Join(dir, "data", "hoop.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	frames, _ := st.Frames(ctx, sid, 0, 100000)
	var c2s bytes.Buffer
	for _, f := range frames {
		if f.Dir == 0 {
			c2s.Write(f.Data)
		}
	}
	for i := range 20 {
		if !bytes.Contains(c2s.Bytes(), []byte(fmt.Sprintf("marker_%d", i))) {
			t.Fatalf("statement %d reached upstream but is not recorded after kill -9", i)
		}
	}
	if !strings.Contains(p2.stderr.String(), "ended sessions left open by a previous run") {
		t.Fatalf("restart does not report the dangling session:\n%s", p2.stderr)
	}
	// A second start does not create a new token.
	if strings.Contains(p2.stderr.String(), "admin token written to") {
		t.Fatal("restart replaced the admin token")
	}

	// Revoke cuts a live psql-like session off at once.
	c2, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	out = p2.mustHoop(t, "identity", "revoke", "etl-nightly")
	if !strings.Contains(out, "1 live session(s) ended") {
		t.Fatalf("revoke output: %s", out)
	}
	if _, err := c2.Exec(ctx, "select 1"); err == nil || !strings.Contains(err.Error(), "credential revoked") {
		t.Fatalf("statement after revoke: %v", err)
	}
	list := p2.mustHoop(t, "identity", "list")
	if !strings.Contains(list, "etl-nightly") || !strings.Contains(list, "revoked") {
		t.Fatalf("identity list:\n%s", list)
	}
}

func TestSIGTERM(t *testing.T) {
	pg := testsrv.StartPostgres(t, testsrv.Options{})
	hooptest.SetupRoles(t, pg)
	dir, cfg, pgAddr, api := writeConfig(t, pg)
	p := startServe(t, dir, cfg, pgAddr, api)
	var iss struct{ Secret, DSN string }
	json.Unmarshal([]byte(p.mustHoop(t, "identity", "create", "job", "--resource", "demo", "--role", "readonly", "--json")), &iss)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, iss.DSN)
	if err != nil {
		t.Fatal(err)
	}
	var sessions []struct {
		ID string `json:"id"`
	}
	json.Unmarshal([]byte(p.mustHoop(t, "session", "list", "--json")), &sessions)
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("hoop serve exited with %v after SIGTERM:\n%s", err, p.stderr)
	}
	if _, err := c.Exec(ctx, "select 1"); err == nil || !strings.Contains(err.Error(), "shutting down") {
		t.Fatalf("live session after SIGTERM: %v", err)
	}
	st, err := openStore(filepath.Join(dir, "data", "hoop.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s, err := st.Session(ctx, sessions[0].ID)
	if err != nil || s.Status != "ended" || s.EndReason != "shutdown" {
		t.Fatalf("session after SIGTERM = %+v, %v", s, err)
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("[api]\nlisten = \"127.0.0.1:1\"\nlisen = 2\n"), 0o600)
	out, err := exec.Command(hoopBin, "config", "check", "--config", bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "bad.toml:3: unknown key \"api.lisen\"") {
		t.Fatalf("config check of a bad file: %v\n%s", err, out)
	}
	out, err = exec.Command(hoopBin, "serve", "--config", bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "unknown key") {
		t.Fatalf("serve with a bad file started: %v\n%s", err, out)
	}
	t.Setenv("DEMO_PW", "x")
	good := filepath.Join(dir, "good.toml")
	os.WriteFile(good, []byte("[[resource]]\nname=\"db\"\nprotocol=\"postgres\"\naddress=\"127.0.0.1:5432\"\n[[resource.role]]\nname=\"ro\"\nuser=\"u\"\npassword_env=\"DEMO_PW\"\n"), 0o600)
	out, err = exec.Command(hoopBin, "config", "check", "--config", good).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "ok") {
		t.Fatalf("config check of a good file: %v\n%s", err, out)
	}
	// The shipped example is valid once its demo password files exist.
	shipped, _ := os.ReadFile("../hoop.toml")
	ex := strings.ReplaceAll(string(shipped), "data/demo-pg/", dir+"/")
	os.WriteFile(filepath.Join(dir, "readonly.password"), []byte("x"), 0o600)
	os.WriteFile(filepath.Join(dir, "readwrite.password"), []byte("x"), 0o600)
	os.WriteFile(filepath.Join(dir, "hoop.toml"), []byte(ex), 0o600)
	out, err = exec.Command(hoopBin, "config", "check", "--config", filepath.Join(dir, "hoop.toml")).CombinedOutput()
	if err != nil {
		t.Fatalf("shipped hoop.toml does not validate: %v\n%s", err, out)
	}
}

func openStore(path string) (*sqlite.Store, error) {
	return sqlite.Open(context.Background(), path, sqlite.Options{})
}

func httpGet(url string) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
