package postgres_test

import (
	"strings"
	"testing"

	"hoop.dev/hoop/internal/hooptest"
	"hoop.dev/hoop/internal/testsrv"
)

// The resource may ask hoop for md5 or a cleartext password instead of
// SCRAM; the client's login to hoop is SCRAM either way.
func TestUpstreamAuthMethods(t *testing.T) {
	pg := testsrv.StartPostgres(t, testsrv.Options{HBA: []string{
		"host all app_md5 127.0.0.1/32 md5",
		"host all app_plain 127.0.0.1/32 password",
	}})
	hooptest.SetupRoles(t, pg)
	pg.Exec(t, "set password_encryption = 'md5'; create role app_md5 login password '"+pg.Password+"'")
	pg.Exec(t, "create role app_plain login password '"+pg.Password+"'")
	env := hooptest.Start(t, hooptest.Options{PG: pg, TOML: `
  [[resource.role]]
  name = "md5"
  user = "app_md5"
  password_env = "HOOPTEST_RO_PASSWORD"
  [[resource.role]]
  name = "plain"
  user = "app_plain"
  password_env = "HOOPTEST_RO_PASSWORD"
`})
	ctx := ctxT(t)
	for _, role := range []string{"md5", "plain"} {
		iss, err := env.Identity().Create(ctx, identityReq("svc-"+role, role))
		if err != nil {
			t.Fatal(err)
		}
		c := connect(t, env.DSN("svc-"+role, iss.Secret, "app"))
		var u string
		if err := c.QueryRow(ctx, "select current_user").Scan(&u); err != nil || u != "app_"+role {
			t.Fatalf("%s: current_user = %q, %v", role, u, err)
		}
	}
	// A wrong role password is the resource refusing hoop: the client is
	// told so, and the session ends auth_failed.
	t.Setenv("HOOPTEST_RO_PASSWORD", "wrong")
	iss, _ := env.Identity().Create(ctx, identityReq("svc-bad", "md5"))
	_, err := pgxConnect(ctx, env.DSN("svc-bad", iss.Secret, "app"))
	if err == nil || !strings.Contains(err.Error(), "refused the role's credentials") {
		t.Fatalf("wrong upstream password: %v", err)
	}
	s := waitSession(t, env, "svc-bad", "ended")
	if s.EndReason != "auth_failed" {
		t.Fatalf("end reason %s", s.EndReason)
	}

}
