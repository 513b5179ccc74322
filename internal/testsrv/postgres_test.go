package testsrv

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestStartPostgres(t *testing.T) {
	p := StartPostgres(t, Options{})
	ctx := context.Background()
	c, err := pgx.Connect(ctx, p.DSN("postgres", p.Password, "app"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var db string
	if err := c.QueryRow(ctx, "select current_database()").Scan(&db); err != nil || db != "app" {
		t.Fatalf("current_database = %q, %v", db, err)
	}
	if _, err := pgx.Connect(ctx, p.DSN("postgres", "wrong", "app")); err == nil {
		t.Fatal("wrong password accepted: pg_hba must require scram-sha-256")
	}
}
