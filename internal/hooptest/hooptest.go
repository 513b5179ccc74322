// Package hooptest starts a whole hoop gateway in-process in front of a
// real PostgreSQL for integration tests, on free loopback ports, with its
// data directory in t.TempDir().
package hooptest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"hoop.dev/hoop/core/config"
	"hoop.dev/hoop/core/gateway"
	"hoop.dev/hoop/core/identity"
	"hoop.dev/hoop/internal/testsrv"
)

// Env is a running gateway with its upstream.
type Env struct {
	PG      *testsrv.Postgres
	Config  *config.Config
	Gateway *gateway.Gateway
	Token   string
	DataDir string
}

// Options tune Start.
type Options struct {
	// TOML is appended to the generated configuration (extra sections).
	TOML string
	// Edit may change the configuration text before it is parsed.
	Edit func(toml string) string
	// PG reuses a running server instead of starting one.
	PG *testsrv.Postgres
	// Log receives the gateway's log (default: discarded unless -v).
	Log io.Writer
}

// Start starts PostgreSQL (unless given), creates roles app_ro (SELECT on
// public tables of database app) and app_rw (all privileges), and starts
// a gateway with resource "demo" and roles "readonly" and "readwrite".
func Start(t testing.TB, opt Options) *Env {
	t.Helper()
	pg := opt.PG
	if pg == nil {
		pg = testsrv.StartPostgres(t, testsrv.Options{})
		SetupRoles(t, pg)
	}
	dir := t.TempDir()
	apiPort, _ := testsrv.FreePort()
	pgPort, _ := testsrv.FreePort()
	pwFile := filepath.Join(dir, "rw.password")
	os.WriteFile(pwFile, []byte(pg.Password+"\n"), 0o600)
	t.Setenv("HOOPTEST_RO_PASSWORD", pg.Password)
	toml := fmt.Sprintf(`
[gateway]
data_dir = %q
log_level = "debug"
[api]
listen = "127.0.0.1:%d"
[plugins]
cache_dir = %q
[postgres]
listen = "127.0.0.1:%d"
scram_iterations = 4096

[[resource]]
name = "demo"
protocol = "postgres"
address = %q
  [[resource.role]]
  name = "readonly"
  user = "app_ro"
  password_env = "HOOPTEST_RO_PASSWORD"
  [[resource.role]]
  name = "readwrite"
  user = "app_rw"
  password_file = %q
`, filepath.Join(dir, "data"), apiPort, filepath.Join(os.TempDir(), "hoop-test-wasm-cache"), pgPort, pg.Addr(), pwFile) + opt.TOML
	if opt.Edit != nil {
		toml = opt.Edit(toml)
	}
	cfgPath := filepath.Join(dir, "hoop.toml")
	os.WriteFile(cfgPath, []byte(toml), 0o600)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	w := opt.Log
	if w == nil {
		w = io.Discard
		if testing.Verbose() {
			w = os.Stderr
		}
	}
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()
	g, err := gateway.New(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Start(); err != nil {
		g.Shutdown(ctx)
		t.Fatal(err)
	}
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		g.Shutdown(sctx)
	})
	return &Env{PG: pg, Config: cfg, Gateway: g, Token: g.AdminToken(), DataDir: cfg.Gateway.DataDir}
}

// SetupRoles creates app_ro and app_rw with pg.Password as their password.
func SetupRoles(t testing.TB, pg *testsrv.Postgres) {
	t.Helper()
	for _, q := range []string{
		fmt.Sprintf("create role app_ro login password '%s'", pg.Password),
		fmt.Sprintf("create role app_rw login password '%s'", pg.Password),
		"grant all on database app to app_rw",
	} {
		pg.Exec(t, q)
	}
	for _, q := range []string{
		"grant all on schema public to app_rw",
		"alter default privileges for role app_rw in schema public grant select on tables to app_ro",
		"alter default privileges in schema public grant select on tables to app_ro",
	} {
		pg.ExecIn(t, "app", q)
	}
}

// Credential issues a credential through the API's service and returns its
// libpq URL on database app.
func (e *Env) Credential(t testing.TB, name, role string) (identity.Issued, string) {
	t.Helper()
	iss, err := e.Identity().Create(context.Background(), identity.CreateRequest{Name: name, Resource: "demo", Role: role})
	if err != nil {
		t.Fatal(err)
	}
	return iss, e.DSN(name, iss.Secret, "app")
}

// DSN is a libpq URL to the gateway.
func (e *Env) DSN(user, secret, db string) string {
	return fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable", user, secret, e.Gateway.PostgresAddr(), db)
}

// Identity returns the gateway's identity service.
func (e *Env) Identity() *identity.Service { return e.Gateway.Identity() }

// URL is the API base URL.
func (e *Env) URL() string { return "http://" + e.Gateway.APIAddr() }
