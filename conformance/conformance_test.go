package conformance_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"hoop.dev/hoop/conformance"
	"hoop.dev/hoop/sdk/sdktest"
)

func module(t testing.TB, name string) []byte {
	t.Helper()
	return sdktest.BuildWASM(t, "testplugins/"+name)
}

var cacheDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "conformance-test-cache-*")
	if err != nil {
		panic(err)
	}
	cacheDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func run(t *testing.T, name, cases string, feeds int) *conformance.Report {
	t.Helper()
	rep, err := conformance.Run(context.Background(), module(t, name),
		conformance.Options{CasesDir: cases, CacheDir: cacheDir, MemoryFeeds: feeds})
	if err != nil {
		t.Fatalf("run %s: %v", name, err)
	}
	return rep
}

func check(t *testing.T, rep *conformance.Report, name string) conformance.Check {
	t.Helper()
	for _, c := range rep.Checks {
		if c.Name == name {
			return c
		}
	}
	t.Fatalf("no check %q in %+v", name, rep.Checks)
	return conformance.Check{}
}

func TestWellBehavedPluginsPass(t *testing.T) {
	for _, c := range []struct {
		plugin, cases string
		feeds         int
	}{
		{"echo", "cases/line", 0}, // the full 100k feeds
		{"allow", "cases/policy/allow", 20000},
	} {
		t.Run(c.plugin, func(t *testing.T) {
			rep := run(t, c.plugin, "testdata/cases", c.feeds)
			for _, f := range rep.Failed() {
				t.Errorf("check %s failed: %s", f.Name, f.Detail)
			}
			if cc := check(t, rep, c.cases); cc.Skipped {
				t.Errorf("check %s was skipped: %s", c.cases, cc.Detail)
			}
			if len(rep.Checks) < 6 {
				t.Errorf("only %d checks ran", len(rep.Checks))
			}
		})
	}
}

func TestMisbehavingPluginsFail(t *testing.T) {
	for _, c := range []struct {
		plugin, check, why string
	}{
		{"loop", "robustness", "timeout"},
		{"loop", "memory-bounded", "timeout"},
		{"oom", "robustness", "oom"},
		{"forbidden", "abi", "forbidden import env.something"},
		{"garbage", "verdict-schema", `decision "perhaps"`},
		{"looppolicy", "verdict-schema", "timeout"},
	} {
		t.Run(c.plugin+"/"+c.check, func(t *testing.T) {
			rep := run(t, c.plugin, "testdata/cases", 1000)
			if rep.Pass() {
				t.Fatal("report passes")
			}
			cc := check(t, rep, c.check)
			if cc.Pass || !strings.Contains(cc.Detail, c.why) {
				t.Fatalf("check %s: pass=%v detail %q, want a failure saying %q", c.check, cc.Pass, cc.Detail, c.why)
			}
		})
	}
}

func TestWrongExpectedEventsFail(t *testing.T) {
	rep := run(t, "echo", "testdata/badcases", 100)
	cc := check(t, rep, "cases/line")
	if cc.Pass || !strings.Contains(cc.Detail, "event line 3") {
		t.Fatalf("cases/line: %+v", cc)
	}
}

func TestInspect(t *testing.T) {
	in, err := conformance.Inspect(module(t, "echo"))
	if err != nil {
		t.Fatal(err)
	}
	if !in.Conforms || in.Manifest == nil || in.Manifest.Name != "echo" || len(in.Digest) != 64 {
		t.Fatalf("inspection = %+v", in)
	}
	var feed string
	for _, e := range in.Exports {
		if e.Name == "hoop_feed" {
			feed = e.Signature
		}
	}
	if feed != "(i32, i32, i32) -> (i64)" {
		t.Errorf("hoop_feed signature = %q", feed)
	}
	bad, err := conformance.Inspect(module(t, "forbidden"))
	if err != nil {
		t.Fatal(err)
	}
	if bad.Conforms || !strings.Contains(strings.Join(bad.Problems, "\n"), "env.something") {
		t.Fatalf("forbidden inspection = %+v", bad)
	}
	if _, err := conformance.Inspect([]byte("not wasm")); err == nil {
		t.Fatal("inspect of garbage succeeded")
	}
}

func TestCertify(t *testing.T) {
	conformance.Certify(t, module(t, "echo"))
}
