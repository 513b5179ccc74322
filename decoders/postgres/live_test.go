package postgres

import (
	"bytes"
	"context"
	"testing"
	"time"

	"hoop.dev/hoop/internal/testsrv"
)

// TestLiveSession decodes a fresh pgx session recorded through the relay
// against a real server, so the decoder is checked against the server and
// client of today, not only against the committed corpus.
func TestLiveSession(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a PostgreSQL cluster")
	}
	pg := testsrv.StartPostgres(t, testsrv.Options{})
	rec := newRecorder(t, pg.Addr())
	host, port := rec.addr()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := pgxConnect(t, pg, host, port)
	var n int
	if err := c.QueryRow(ctx, "select count(*) from generate_series(1, $1::int)", 250).Scan(&n); err != nil || n != 250 {
		t.Fatalf("query: %d %v", n, err)
	}
	if _, err := c.Exec(ctx, "select * from generate_series(1, 40)"); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	rec.ln.Close()
	rec.wg.Wait()
	if len(rec.conns) != 1 {
		t.Fatalf("%d connections recorded, want 1", len(rec.conns))
	}
	out, errs := decodeFrames(t, rec.conns[0])
	if len(errs) > 0 || bytes.Contains(out, []byte("malformed")) {
		t.Fatalf("errors %v, output:\n%s", errs, out)
	}
	for _, want := range []string{
		`{"dir":"c2s","type":"startup","protocol":"3.0","user":"postgres","database":"app","params":{"application_name":"pgx"}}`,
		`{"dir":"s2c","type":"auth","msg":"ok"}`,
		`"type":"statement","proto":"extended","name":"stmtcache_`,
		`"text":"select count(*) from generate_series(1, $1::int)"}`,
		`"params":["\\x000000fa"]}`,
		`{"dir":"s2c","type":"result","tag":"SELECT 1","rows":1}`,
		`{"dir":"s2c","type":"result","tag":"SELECT 40","rows":40}`,
		`{"dir":"c2s","type":"terminate"}`,
	} {
		if !bytes.Contains(out, []byte(want)) {
			t.Errorf("output lacks %s:\n%s", want, out)
		}
	}
	checkLines(t, out)
	checkSplits(t, rec.conns[0], out)
}
