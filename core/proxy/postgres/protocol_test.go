package postgres_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgproto3"

	"hoop.dev/hoop/core/store"
	"hoop.dev/hoop/internal/hooptest"
)

func TestCopyInOut(t *testing.T) {
	env := hooptest.Start(t, hooptest.Options{})
	env.PG.ExecIn(t, "app", "create table items (id int, label text)")
	env.PG.ExecIn(t, "app", "grant insert, select on items to app_rw")
	_, dsn := env.Credential(t, "loader", "readwrite")
	ctx := ctxT(t)
	c := connect(t, dsn)
	rows := make([][]any, 5000)
	for i := range rows {
		rows[i] = []any{int32(i), fmt.Sprintf("label-%d", i)}
	}
	n, err := c.CopyFrom(ctx, pgx.Identifier{"items"}, []string{"id", "label"}, pgx.CopyFromRows(rows))
	if err != nil || n != 5000 {
		t.Fatalf("copy from = %d, %v", n, err)
	}
	var buf bytes.Buffer
	tag, err := c.PgConn().CopyTo(ctx, &buf, "copy items to stdout")
	if err != nil || tag.RowsAffected() != 5000 {
		t.Fatalf("copy to = %v, %v", tag, err)
	}
	if !strings.Contains(buf.String(), "4999\tlabel-4999\n") {
		t.Fatal("copy out lost rows")
	}
}

func TestLargeResult(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MB result skipped in -short")
	}
	env := hooptest.Start(t, hooptest.Options{})
	_, dsn := env.Credential(t, "exporter", "readonly")
	ctx := ctxT(t)
	c := connect(t, dsn)
	// 100 MB: 100k rows of 1000 bytes.
	rows, err := c.Query(ctx, "select repeat('x', 1000) from generate_series(1, 100000)")
	if err != nil {
		t.Fatal(err)
	}
	var total, count int
	for rows.Next() {
		total += len(rows.RawValues()[0])
		count++
	}
	if err := rows.Err(); err != nil || count != 100000 || total != 100_000_000 {
		t.Fatalf("large result: %d rows, %d bytes, %v", count, total, err)
	}
	c.Close(ctx)
	s := waitSession(t, env, "exporter", store.StatusEnded)
	if s.BytesS2C < 100_000_000 {
		t.Fatalf("session recorded %d bytes server to client", s.BytesS2C)
	}
	var recorded int64
	for after := int64(0); ; {
		fs, err := env.Gateway.Store().Frames(ctx, s.ID, after, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(fs) == 0 {
			break
		}
		for _, f := range fs {
			if f.Dir == store.S2C {
				recorded += int64(len(f.Data))
			}
		}
		after = fs[len(fs)-1].Seq
	}
	if recorded != s.BytesS2C {
		t.Fatalf("recorded %d bytes s2c, relayed %d", recorded, s.BytesS2C)
	}
}

func TestCancelRequest(t *testing.T) {
	env := hooptest.Start(t, hooptest.Options{})
	_, dsn := env.Credential(t, "analyst", "readonly")
	ctx := ctxT(t)
	c := connect(t, dsn)
	done := make(chan error, 1)
	start := time.Now()
	go func() { _, err := c.Exec(ctx, "select pg_sleep(20)"); done <- err }()
	time.Sleep(200 * time.Millisecond)
	// pgx sends a CancelRequest with the BackendKeyData hoop gave it.
	if err := c.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if pgCode(err) != "57014" {
			t.Fatalf("cancelled statement: err = %v, want 57014", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("cancel request did not reach the upstream backend")
	}
	if time.Since(start) > 15*time.Second {
		t.Fatal("statement ran to completion")
	}
	// The session goes on.
	if _, err := c.Exec(ctx, "select 1"); err != nil {
		t.Fatal(err)
	}
}

func writeCert(t *testing.T, dir string) (certFile, keyFile string) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	return certFile, keyFile
}

func TestTLS(t *testing.T) {
	certFile, keyFile := writeCert(t, t.TempDir())
	env := hooptest.Start(t, hooptest.Options{Edit: func(s string) string {
		return strings.Replace(s, "[postgres]\n", fmt.Sprintf("[postgres]\ntls_cert = %q\ntls_key = %q\n", certFile, keyFile), 1)
	}})
	iss, _ := env.Credential(t, "secure", "readonly")
	ctx := ctxT(t)
	dsn := strings.Replace(env.DSN("secure", iss.Secret, "app"), "sslmode=disable", "sslmode=require", 1)
	c := connect(t, dsn)
	var one int
	if err := c.QueryRow(ctx, "select 1").Scan(&one); err != nil {
		t.Fatal(err)
	}
	if !isTLS(c.PgConn().Conn()) {
		t.Fatal("connection with sslmode=require is not TLS")
	}
}

func isTLS(c net.Conn) bool {
	_, ok := c.(interface{ Handshake() error })
	return ok
}

func TestCleartextOnlyOverTLS(t *testing.T) {
	certFile, keyFile := writeCert(t, t.TempDir())
	env := hooptest.Start(t, hooptest.Options{Edit: func(s string) string {
		return strings.Replace(s, "[postgres]\n", fmt.Sprintf("[postgres]\ntls_cert = %q\ntls_key = %q\nallow_cleartext_over_tls = true\n", certFile, keyFile), 1)
	}})
	iss, _ := env.Credential(t, "legacy", "readonly")
	ctx := ctxT(t)
	// Over TLS the gateway asks for the secret itself.
	c := connect(t, strings.Replace(env.DSN("legacy", iss.Secret, "app"), "sslmode=disable", "sslmode=require", 1))
	c.Close(ctx)
	// Without TLS it still uses SCRAM, so the secret never crosses in clear.
	raw := dialRaw(t, env)
	raw.Write(startupPacket(map[string]string{"user": "legacy", "database": "app"}))
	typ, body := readMsg(t, raw)
	if typ != 'R' || binary.BigEndian.Uint32(body) != 10 {
		t.Fatalf("plaintext connection got auth request %q %v, want SASL (10)", typ, body[:4])
	}
}

func dialRaw(t *testing.T, env *hooptest.Env) net.Conn {
	c, err := net.DialTimeout("tcp", env.Gateway.PostgresAddr(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

func startupPacket(params map[string]string) []byte {
	b, _ := (&pgproto3.StartupMessage{ProtocolVersion: 196608, Parameters: params}).Encode(nil)
	return b
}

func readMsg(t *testing.T, c net.Conn) (byte, []byte) {
	t.Helper()
	var hdr [5]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		t.Fatalf("read message: %v", err)
	}
	body := make([]byte, binary.BigEndian.Uint32(hdr[1:])-4)
	if _, err := io.ReadFull(c, body); err != nil {
		t.Fatalf("read message body: %v", err)
	}
	return hdr[0], body
}

// readError reads messages until an ErrorResponse and returns it.
func readError(t *testing.T, c net.Conn) *pgproto3.ErrorResponse {
	t.Helper()
	for {
		typ, body := readMsg(t, c)
		if typ == 'E' {
			var e pgproto3.ErrorResponse
			if err := e.Decode(body); err != nil {
				t.Fatal(err)
			}
			return &e
		}
	}
}

func TestMalformedInput(t *testing.T) {
	env := hooptest.Start(t, hooptest.Options{})
	iss, dsn := env.Credential(t, "fuzzy", "readonly")
	tests := []struct {
		name  string
		send  []byte
		code  string
		match string
	}{
		{"startup length too small", []byte{0, 0, 0, 4, 0, 0, 0, 0}, "08P01", "invalid startup packet length"},
		{"startup length too large", []byte{0, 0, 0x40, 0, 0, 3, 0, 0}, "08P01", "invalid startup packet length"},
		{"unknown protocol", []byte{0, 0, 0, 8, 0, 9, 0, 0}, "0A000", "unsupported frontend protocol 9.0"},
		{"unterminated params", []byte{0, 0, 0, 12, 0, 3, 0, 0, 'u', 's', 'e', 'r'}, "08P01", "unterminated"},
		{"no user", startupPacket(map[string]string{"database": "app"}), "28000", "no user name"},
		{"garbage instead of SASL", append(startupPacket(map[string]string{"user": "fuzzy"}), 'Q', 0, 0, 0, 5, 0), "08P01", "expected SASLInitialResponse"},
		{"bad SASL mechanism", append(startupPacket(map[string]string{"user": "fuzzy"}), saslInitial("PLAIN", "x")...), "08P01", "not supported"},
		{"malformed client-first", append(startupPacket(map[string]string{"user": "fuzzy"}), saslInitial("SCRAM-SHA-256", "garbage")...), "08P01", "malformed SCRAM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := dialRaw(t, env)
			c.Write(tt.send)
			e := readError(t, c)
			if e.Severity != "FATAL" || e.Code != tt.code || !strings.Contains(e.Message, tt.match) {
				t.Fatalf("got %s %s %q, want FATAL %s containing %q", e.Severity, e.Code, e.Message, tt.code, tt.match)
			}
		})
	}
	// SSLRequest without TLS configured is answered 'N', GSSENCRequest too.
	c := dialRaw(t, env)
	c.Write([]byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f})
	c.Write([]byte{0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x30})
	var two [2]byte
	if _, err := io.ReadFull(c, two[:]); err != nil || two != [2]byte{'N', 'N'} {
		t.Fatalf("ssl/gss answers = %q, %v", two, err)
	}
	// The gateway still serves others.
	conn := connect(t, dsn)
	if _, err := conn.Exec(ctxT(t), "select 1"); err != nil {
		t.Fatal(err)
	}
	_ = iss
}

func saslInitial(mech, data string) []byte {
	b, _ := (&pgproto3.SASLInitialResponse{AuthMechanism: mech, Data: []byte(data)}).Encode(nil)
	return b
}

func TestOversizedMessage(t *testing.T) {
	env := hooptest.Start(t, hooptest.Options{Edit: func(s string) string {
		return strings.Replace(s, "[postgres]\n", "[postgres]\nmax_message_size = 65536\n", 1)
	}})
	_, dsn := env.Credential(t, "big", "readonly")
	ctx := ctxT(t)
	c := connect(t, dsn)
	_, err := c.Exec(ctx, "select '"+strings.Repeat("x", 100_000)+"'")
	if pgCode(err) != "08P01" || !strings.Contains(err.Error(), "message too large") {
		t.Fatalf("oversized query: err = %v, want 08P01 message too large", err)
	}
	s := waitSession(t, env, "big", store.StatusEnded)
	if s.EndReason != store.EndProtocolError {
		t.Fatalf("end reason = %s", s.EndReason)
	}
	// Others are served.
	c2 := connect(t, dsn)
	if _, err := c2.Exec(ctx, "select '"+strings.Repeat("x", 60_000)+"'"); err != nil {
		t.Fatal(err)
	}
}

func TestPsql(t *testing.T) {
	if _, err := exec.LookPath("psql"); err != nil {
		t.Skip("psql not installed (apt-get install postgresql-client)")
	}
	env := hooptest.Start(t, hooptest.Options{})
	env.PG.ExecIn(t, "app", "create table t (id int)")
	env.PG.ExecIn(t, "app", "insert into t values (1), (2), (3)")
	_, dsn := env.Credential(t, "person", "readonly")
	cmd := exec.Command("psql", strings.Replace(dsn, "?sslmode=disable", "", 1), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-c", "select count(*) from t", "-c", `\copy (select id from t order by id) to stdout`)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("psql: %v\n%s", err, out)
	}
	if got := string(out); got != "3\n1\n2\n3\n" {
		t.Fatalf("psql output = %q", got)
	}
	// A wrong password is a clean FATAL, not a dropped socket.
	bad := exec.Command("psql", env.DSN("person", "nope", "app"), "-X", "-c", "select 1")
	out, err = bad.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "password authentication failed for user \"person\"") {
		t.Fatalf("psql with a wrong secret: %v\n%s", err, out)
	}
}

// A client message larger than a journal segment (16 MiB) is journaled in
// a segment of its own and relayed intact.
func TestLargeClientMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("20 MB statement skipped in -short")
	}
	env := hooptest.Start(t, hooptest.Options{})
	_, dsn := env.Credential(t, "bulk", "readonly")
	ctx := ctxT(t)
	c := connect(t, dsn)
	big := strings.Repeat("x", 20<<20)
	for i := range 2 { // two different texts: pgx would reuse a prepared statement
		var n int
		if err := c.QueryRow(ctx, fmt.Sprintf("select length('%s') + %d", big, i)).Scan(&n); err != nil || n != 20<<20+i {
			t.Fatalf("length = %d, %v", n, err)
		}
	}
	c.Close(ctx)
	s := waitSession(t, env, "bulk", store.StatusEnded)
	if s.BytesC2S < 40<<20 {
		t.Fatalf("recorded %d client bytes", s.BytesC2S)
	}
}
