package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"hoop.dev/hoop/core/identity"
	"hoop.dev/hoop/core/store"
	"hoop.dev/hoop/internal/hooptest"
)

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func connect(t *testing.T, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(ctxT(t), dsn)
	if err != nil {
		t.Fatalf("connect through hoop: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// waitSession waits until the store shows the session in want status.
func waitSession(t *testing.T, env *hooptest.Env, ident, want string) store.Session {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		list, err := env.Gateway.Store().ListSessions(context.Background(), store.SessionFilter{Identity: ident})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range list {
			if s.Status == want {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no session of %s reached %s: %+v", ident, want, list)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestQueryAndRecord(t *testing.T) {
	env := hooptest.Start(t, hooptest.Options{})
	env.PG.ExecIn(t, "app", "create table t (id int primary key, name text)")
	env.PG.ExecIn(t, "app", "insert into t select g, 'n' || g from generate_series(1, 100) g")
	_, dsn := env.Credential(t, "etl-nightly", "readonly")
	ctx := ctxT(t)
	c := connect(t, dsn)

	var user, db string
	if err := c.QueryRow(ctx, "select current_user, current_database()").Scan(&user, &db); err != nil {
		t.Fatal(err)
	}
	if user != "app_ro" || db != "app" {
		t.Fatalf("upstream user/db = %s/%s, want app_ro/app", user, db)
	}
	// Extended protocol with parameters.
	var name string
	if err := c.QueryRow(ctx, "select name from t where id = $1", 42).Scan(&name); err != nil || name != "n42" {
		t.Fatalf("extended query = %q, %v", name, err)
	}
	// The role really is read-only upstream: the server's error comes through.
	if _, err := c.Exec(ctx, "delete from t"); pgCode(err) != "42501" {
		t.Fatalf("delete as app_ro: err = %v, want SQLSTATE 42501", err)
	}
	// The session is usable after a server error.
	var n int
	if err := c.QueryRow(ctx, "select count(*) from t").Scan(&n); err != nil || n != 100 {
		t.Fatalf("count = %d, %v", n, err)
	}
	s := waitSession(t, env, "etl-nightly", store.StatusLive)
	if s.Kind != store.KindMachine || s.Resource != "demo" || s.Role != "readonly" || s.Protocol != "postgres" {
		t.Fatalf("session metadata = %+v", s)
	}
	c.Close(ctx)
	s = waitSession(t, env, "etl-nightly", store.StatusEnded)
	if s.EndReason != store.EndClientClosed || s.BytesC2S == 0 || s.BytesS2C == 0 {
		t.Fatalf("ended session = %+v", s)
	}
	frames, err := env.Gateway.Store().Frames(ctx, s.ID, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	var c2s, s2c int64
	for i, f := range frames {
		if f.Seq != int64(i+1) {
			t.Fatalf("frame %d has seq %d", i, f.Seq)
		}
		if f.Dir == store.C2S {
			c2s += int64(len(f.Data))
		} else {
			s2c += int64(len(f.Data))
		}
	}
	if c2s != s.BytesC2S || s2c != s.BytesS2C {
		t.Fatalf("recorded bytes c2s=%d s2c=%d, session counters %d/%d", c2s, s2c, s.BytesC2S, s.BytesS2C)
	}
	// The consumer never sees the role's password, and neither does the record.
	for _, f := range frames {
		if strings.Contains(string(f.Data), env.PG.Password) {
			t.Fatalf("frame %d contains the upstream password", f.Seq)
		}
	}
}

func TestAuthFailures(t *testing.T) {
	env := hooptest.Start(t, hooptest.Options{})
	iss, dsn := env.Credential(t, "ci-job", "readonly")
	ctx := ctxT(t)
	tests := []struct {
		name, dsn, want string
	}{
		{"wrong secret", env.DSN("ci-job", identity.SecretPrefix+"wrong", "app"), "password authentication failed"},
		{"unknown identity", env.DSN("nobody", iss.Secret, "app"), "password authentication failed"},
		{"another identity's secret", env.DSN("ci-job2", iss.Secret, "app"), "password authentication failed"},
	}
	env.Credential(t, "ci-job2", "readonly")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pgx.Connect(ctx, tt.dsn)
			if pgCode(err) != "28P01" || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want 28P01 %q", err, tt.want)
			}
		})
	}
	connect(t, dsn).Close(ctx)

	if _, _, err := env.Identity().Revoke(ctx, "ci-job", identity.Selector{}); err != nil {
		t.Fatal(err)
	}
	_, err := pgx.Connect(ctx, dsn)
	if pgCode(err) != "28P01" || !strings.Contains(err.Error(), "credential revoked") {
		t.Fatalf("revoked credential: err = %v", err)
	}

	exp, err := env.Identity().Create(ctx, identity.CreateRequest{Name: "short-lived", Resource: "demo", Role: "readonly", Expires: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	connect(t, env.DSN("short-lived", exp.Secret, "app")).Close(ctx)
	time.Sleep(400 * time.Millisecond)
	_, err = pgx.Connect(ctx, env.DSN("short-lived", exp.Secret, "app"))
	if pgCode(err) != "28P01" || !strings.Contains(err.Error(), "credential expired") {
		t.Fatalf("expired credential: err = %v", err)
	}
}

func TestRevokeEndsLiveSessions(t *testing.T) {
	env := hooptest.Start(t, hooptest.Options{})
	iss, dsn := env.Credential(t, "agent", "readonly")
	_, otherDSN := env.Credential(t, "bystander", "readonly")
	ctx := ctxT(t)
	const n = 200
	conns := make([]*pgx.Conn, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := pgx.Connect(ctx, dsn)
			if err != nil {
				errs <- err
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("connect: %v", err)
	}
	other := connect(t, otherDSN)
	// A long statement in flight is cut off too, not only idle sessions.
	inflight := make(chan error, 1)
	go func() { _, err := conns[0].Exec(ctx, "select pg_sleep(30)"); inflight <- err }()
	time.Sleep(100 * time.Millisecond)

	start := time.Now()
	_, ended, err := env.Identity().Revoke(ctx, "agent", identity.Selector{})
	if err != nil {
		t.Fatal(err)
	}
	if ended != n {
		t.Fatalf("revoke ended %d sessions, want %d", ended, n)
	}
	select {
	case err := <-inflight:
		if pgCode(err) != "57P01" || !strings.Contains(err.Error(), "credential revoked") {
			t.Fatalf("in-flight statement: err = %v, want 57P01 credential revoked", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("in-flight statement was not cut off")
	}
	t.Logf("revocation of %d sessions took %v to reach the in-flight client", n, time.Since(start))
	for i, c := range conns[1:] {
		_, err := c.Exec(ctx, "select 1")
		if err == nil {
			t.Fatalf("session %d still works after revoke", i+1)
		}
		c.Close(ctx)
	}
	if _, err := other.Exec(ctx, "select 1"); err != nil {
		t.Fatalf("another identity's session was hurt: %v", err)
	}
	// Every upstream backend of the revoked sessions is gone.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var cnt int
		err := other.QueryRow(ctx, "select count(*) from pg_stat_activity where usename = 'app_ro' and pid <> pg_backend_pid()").Scan(&cnt)
		if err != nil {
			t.Fatal(err)
		}
		if cnt == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d upstream backends still open after revoke", cnt)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Each session's last frames are flushed before it is marked ended.
	for deadline := time.Now().Add(15 * time.Second); ; {
		list, _ := env.Gateway.Store().ListSessions(ctx, store.SessionFilter{Identity: "agent"})
		bad := ""
		for _, s := range list {
			if s.Status != store.StatusEnded || s.EndReason != store.EndRevoked {
				bad = fmt.Sprintf("session %s: status %s reason %s, want ended/revoked", s.ID, s.Status, s.EndReason)
			}
		}
		if len(list) != n {
			bad = fmt.Sprintf("%d sessions recorded, want %d", len(list), n)
		}
		if bad == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal(bad)
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = iss
}

func TestRotateEndsLiveSessions(t *testing.T) {
	env := hooptest.Start(t, hooptest.Options{})
	_, dsn := env.Credential(t, "bi-tool", "readonly")
	ctx := ctxT(t)
	c := connect(t, dsn)
	issued, ended, err := env.Identity().Rotate(ctx, "bi-tool", identity.Selector{})
	if err != nil || ended != 1 || len(issued) != 1 {
		t.Fatalf("rotate = %v, %d, %v", issued, ended, err)
	}
	if _, err := c.Exec(ctx, "select 1"); pgCode(err) != "57P01" {
		t.Fatalf("old session after rotate: err = %v, want 57P01", err)
	}
	if _, err := pgx.Connect(ctx, dsn); pgCode(err) != "28P01" {
		t.Fatalf("old secret after rotate: err = %v, want 28P01", err)
	}
	nc := connect(t, env.DSN("bi-tool", issued[0].Secret, "app"))
	if _, err := nc.Exec(ctx, "select 1"); err != nil {
		t.Fatal(err)
	}
	s := waitSession(t, env, "bi-tool", store.StatusEnded)
	if s.EndReason != store.EndRotated {
		t.Fatalf("end reason = %s, want rotated", s.EndReason)
	}
}

func TestSeveralRolesOneIdentity(t *testing.T) {
	env := hooptest.Start(t, hooptest.Options{})
	ctx := ctxT(t)
	ro, _ := env.Credential(t, "alice", "readonly")
	rw, err := env.Identity().Create(ctx, identity.CreateRequest{Name: "alice", Resource: "demo", Role: "readwrite"})
	if err != nil {
		t.Fatal(err)
	}
	for secret, want := range map[string]string{ro.Secret: "app_ro", rw.Secret: "app_rw"} {
		c := connect(t, env.DSN("alice", secret, "app"))
		var u string
		if err := c.QueryRow(ctx, "select current_user").Scan(&u); err != nil || u != want {
			t.Fatalf("secret selects role %s, want %s (%v)", u, want, err)
		}
	}
	if _, err := env.Identity().Create(ctx, identity.CreateRequest{Name: "alice", Resource: "demo", Role: "readonly"}); err == nil {
		t.Fatal("second active credential for the same role was issued")
	}
}

func TestConcurrentSessions(t *testing.T) {
	env := hooptest.Start(t, hooptest.Options{})
	_, dsn := env.Credential(t, "etl", "readonly")
	ctx := ctxT(t)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := pgx.Connect(ctx, dsn)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close(ctx)
			for j := range 50 {
				var got int
				if err := c.QueryRow(ctx, "select $1::int * 2", i*1000+j).Scan(&got); err != nil || got != (i*1000+j)*2 {
					errs <- fmt.Errorf("session %d query %d = %d, %v", i, j, got, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func identityReq(name, role string) identity.CreateRequest {
	return identity.CreateRequest{Name: name, Resource: "demo", Role: role}
}

func pgxConnect(ctx context.Context, dsn string) (*pgx.Conn, error) { return pgx.Connect(ctx, dsn) }
