package clients_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"hoop.dev/hoop/internal/clients"
	"hoop.dev/hoop/internal/testsrv"
)

// TestJDBCProbe checks the probe itself against PostgreSQL directly: the
// script encoding survives awkward text, errors carry their SQLSTATE and do
// not stop the script, and a digest matches DigestRows.
func TestJDBCProbe(t *testing.T) {
	j := clients.NeedJDBC(t)
	pg := testsrv.StartPostgres(t, testsrv.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	url := fmt.Sprintf("jdbc:postgresql://%s/app?sslmode=disable", pg.Addr())
	awkward := "tab\there\nnew line \\ back'slash \"quote\" é"
	res, err := j.Run(ctx, url, "postgres", pg.Password,
		clients.Query("select $$"+awkward+"$$ as v, null as n"),
		clients.Prepare("p", "select ?::text || ?::int"),
		clients.Exec("p", awkward, 7),
		clients.Query("select 1/0"),
		clients.Query("create temp table x (a int)"),
		clients.Prepare("ins", "insert into x values (?)"),
		clients.AddBatch("ins", 1),
		clients.AddBatch("ins", 2),
		clients.ExecBatch("ins"),
		clients.Digest("select a, null from x order by a"),
		clients.Exec("missing"),
	)
	if err != nil {
		t.Fatal(err)
	}
	res = append([]clients.Result{{}}, res...) // number results as steps
	if r := res[1]; !r.OK || len(r.Rows) != 1 || r.Rows[0][0] != awkward || r.Columns[0] != "v" || r.Columns[1] != "n" {
		t.Fatalf("query: %v", r)
	}
	if r := res[3]; !r.OK || len(r.Rows) != 1 || r.Rows[0][0] != awkward+"7" {
		t.Fatalf("prepared: %v", r)
	}
	if r := res[4]; r.OK || r.SQLState != "22012" || r.Message == "" {
		t.Fatalf("division by zero: %v", r)
	}
	if r := res[5]; !r.OK || r.Update == nil || *r.Update != 0 {
		t.Fatalf("create after an error: %v", r)
	}
	if r := res[9]; !r.OK || len(r.Counts) != 2 || r.Counts[0] != 1 || r.Counts[1] != 1 {
		t.Fatalf("batch: %v", r)
	}
	one, two := "1", "2"
	if r := res[10]; !r.OK || r.Count != 2 || r.SHA256 != clients.DigestRows([][]*string{{&one, nil}, {&two, nil}}) {
		t.Fatalf("digest: %v", r)
	}
	if r := res[11]; r.OK || r.Message == "" {
		t.Fatalf("unknown statement name: %v", r)
	}
}
