package postgres_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hoop.dev/hoop/core/store"
	"hoop.dev/hoop/internal/builtin"
	"hoop.dev/hoop/internal/hooptest"
	"hoop.dev/hoop/sdk/sdktest"
)

func requireBuiltins(t *testing.T) {
	if len(builtin.Modules()) == 0 {
		t.Fatal("no built-in plugins embedded: run `make wasm` (make test does) before go test")
	}
}

func TestStatementsRecorded(t *testing.T) {
	requireBuiltins(t)
	env := hooptest.Start(t, hooptest.Options{})
	_, dsn := env.Credential(t, "reporter", "readonly")
	ctx := ctxT(t)
	c := connect(t, dsn)
	want := []string{"select 1 as simple_one"}
	if _, err := c.Exec(ctx, want[0]); err != nil {
		t.Fatal(err)
	}
	// Extended protocol: the Parse carries the text.
	want = append(want, "select $1::int + 1 as extended_two")
	var n int
	if err := c.QueryRow(ctx, want[1], 1).Scan(&n); err != nil || n != 2 {
		t.Fatal(err)
	}
	c.Close(ctx)
	s := waitSession(t, env, "reporter", store.StatusEnded)
	evs, err := env.Gateway.Store().Events(ctx, s.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range evs {
		if e.Kind == store.EventStatement && (strings.Contains(e.Text, "simple_one") || strings.Contains(e.Text, "extended_two")) {
			got = append(got, e.Text)
			if e.FrameSeq == 0 || e.Time.IsZero() {
				t.Fatalf("statement event without frame or time: %+v", e)
			}
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("statements = %q, want %q", got, want)
	}
	if s.Statements < 2 || s.Fault != "" {
		t.Fatalf("session statements = %d, fault %q", s.Statements, s.Fault)
	}
}

func TestMisbehavingDecoder(t *testing.T) {
	mod := sdktest.BuildWASM(t, "testdata/baddecoder")
	path := filepath.Join(t.TempDir(), "bad.wasm")
	os.WriteFile(path, mod, 0o600)
	sum := sha256.Sum256(mod)
	env := hooptest.Start(t, hooptest.Options{TOML: fmt.Sprintf(`
[[plugin]]
path = %q
sha256 = %q
`, path, hex.EncodeToString(sum[:])), Edit: func(s string) string {
		return strings.Replace(s, "[plugins]\n", "[plugins]\ncall_timeout = \"300ms\"\nmemory_limit_mb = 64\n", 1)
	}})
	_, dsn := env.Credential(t, "chaos", "readonly")
	ctx := ctxT(t)
	c := connect(t, dsn)
	other := connect(t, dsn)
	for _, sabotage := range []string{"loop", "oom", "panic"} {
		start := time.Now()
		var got string
		if err := c.QueryRow(ctx, "select 'hoop:"+sabotage+"'").Scan(&got); err != nil || got != "hoop:"+sabotage {
			t.Fatalf("%s: statement through a faulting decoder = %q, %v", sabotage, got, err)
		}
		t.Logf("%s: statement relayed in %v despite the decoder fault", sabotage, time.Since(start))
		// Other sessions keep working, and decoding resumes after a fault.
		if _, err := other.Exec(ctx, "select 'after "+sabotage+"'"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Exec(ctx, "select 'decoded again'"); err != nil {
		t.Fatal(err)
	}
	c.Close(ctx)
	s := waitSession(t, env, "chaos", store.StatusEnded)
	if s.Fault == "" {
		t.Fatalf("decoder faults not marked on the session: %+v", s)
	}
	evs, _ := env.Gateway.Store().Events(ctx, s.ID, 0, 1000)
	faults, stmts := 0, 0
	for _, e := range evs {
		switch e.Kind {
		case store.EventFault:
			faults++
		case store.EventStatement:
			if strings.Contains(e.Text, "decoded again") {
				stmts++
			}
		}
	}
	if faults < 3 {
		t.Fatalf("%d fault events, want one per sabotage", faults)
	}
	if stmts == 0 {
		t.Fatal("decoding did not resume after faults")
	}
}

func TestPluginDigestMismatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.wasm")
	os.WriteFile(path, []byte("\x00asm\x01\x00\x00\x00"), 0o600)
	defer func() {
		if r := recover(); r != nil {
			t.Fatal(r)
		}
	}()
	ft := &fatalCatcher{TB: t}
	func() {
		defer func() { recover() }()
		hooptest.Start(ft, hooptest.Options{TOML: fmt.Sprintf("[[plugin]]\npath = %q\nsha256 = %q\n", path, strings.Repeat("ab", 32))})
	}()
	if !strings.Contains(ft.msg, "sha256 is") || !strings.Contains(ft.msg, "refusing to start") {
		t.Fatalf("digest mismatch: %q", ft.msg)
	}
}

// fatalCatcher records a Fatal instead of ending the test.
type fatalCatcher struct {
	testing.TB
	msg string
}

func (f *fatalCatcher) Fatal(args ...any) { f.msg = fmt.Sprint(args...); panic("fatal") }
