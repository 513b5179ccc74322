package main

import (
	"encoding/base64"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"hoop.dev/hoop/core/identity"
)

func TestParsePgbench(t *testing.T) {
	for _, c := range []struct {
		file    string
		tps     float64
		latency float64
		txns    int64
	}{
		{"select-simple-8c.txt", 9788.515920, 0.817, 18775},
		{"connect-simple-8c.txt", 111.941925, 71.466, 226},
	} {
		t.Run(c.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", c.file))
			if err != nil {
				t.Fatal(err)
			}
			r, err := parsePgbench(b)
			if err != nil {
				t.Fatal(err)
			}
			if r.TPS != c.tps || r.LatencyMS != c.latency || r.Txns != c.txns {
				t.Fatalf("got tps %v latency %v txns %d, want %v %v %d", r.TPS, r.LatencyMS, r.Txns, c.tps, c.latency, c.txns)
			}
		})
	}
}

func TestParsePgbenchRejects(t *testing.T) {
	good, err := os.ReadFile(filepath.Join("testdata", "select-simple-8c.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string]string{
		"empty":      "",
		"no latency": strings.ReplaceAll(string(good), "latency average", "latency avg"),
		"failed":     strings.Replace(string(good), "number of failed transactions: 0", "number of failed transactions: 3", 1),
		"no txns":    strings.Replace(string(good), "actually processed: 18775", "actually processed: 0", 1),
	} {
		if _, err := parsePgbench([]byte(in)); err == nil {
			t.Errorf("%s: parsed without error", name)
		}
	}
}

func TestParseProcStat(t *testing.T) {
	// A command name with spaces and a parenthesis must not shift fields.
	line := "4242 (ho op) x) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 9 0 100 1000000 500 18446744073709551615\n"
	d, err := parseProcStat([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if want := 3250 * time.Millisecond; d != want {
		t.Fatalf("cpu = %v, want %v", d, want)
	}
	if _, err := parseProcStat([]byte("4242 (x) S 1 2")); err == nil {
		t.Fatal("short line parsed")
	}
	self, err := procCPU(os.Getpid())
	if err != nil || self < 0 {
		t.Fatalf("procCPU(self) = %v, %v", self, err)
	}
}

func TestSCRAMSecret(t *testing.T) {
	s := scramSecret("pw", 16)
	rest, ok := strings.CutPrefix(s, "SCRAM-SHA-256$")
	if !ok {
		t.Fatalf("secret %q lacks the prefix", s)
	}
	iterSalt, keys, ok := strings.Cut(rest, "$")
	iter, saltB64, ok1 := strings.Cut(iterSalt, ":")
	storedB64, serverB64, ok2 := strings.Cut(keys, ":")
	if !ok || !ok1 || !ok2 {
		t.Fatalf("secret %q is not iter:salt$stored:server", s)
	}
	n, err := strconv.Atoi(iter)
	if err != nil || n != 16 {
		t.Fatalf("iterations %q", iter)
	}
	salt, err := base64.StdEncoding.DecodeString(saltB64)
	if err != nil || len(salt) != 16 {
		t.Fatalf("salt %q: %v", saltB64, err)
	}
	v := identity.NewVerifier("pw", salt, 16)
	if got := base64.StdEncoding.EncodeToString(v.StoredKey); got != storedB64 {
		t.Fatalf("stored key %s, want %s", storedB64, got)
	}
	if got := base64.StdEncoding.EncodeToString(v.ServerKey); got != serverB64 {
		t.Fatalf("server key %s, want %s", serverB64, got)
	}
	if scramSecret("pw", 16) == s {
		t.Fatal("two secrets share a salt")
	}
}

func TestRatiosArePerPairMedians(t *testing.T) {
	// Pair 2 is slow for every target (a noisy neighbour); per-pair ratios
	// cancel that, a ratio of medians would not.
	r := &scenarioResult{
		Scenario: scenario{Name: "x", Targets: []string{"direct", "pgbouncer", "hoop"}, Subject: "hoop"},
		Runs: map[string][]runResult{
			"direct":    {{TPS: 100, LatencyMS: 1.0, Txns: 100}, {TPS: 50, LatencyMS: 2.0, Txns: 50}, {TPS: 100, LatencyMS: 1.0, Txns: 100}},
			"pgbouncer": {{TPS: 80, LatencyMS: 1.2, Txns: 80, ProxyCPU: 800 * time.Microsecond}, {TPS: 40, LatencyMS: 2.4, Txns: 40, ProxyCPU: 400 * time.Microsecond}, {TPS: 80, LatencyMS: 1.2, Txns: 80, ProxyCPU: 800 * time.Microsecond}},
			"hoop":      {{TPS: 60, LatencyMS: 1.5, Txns: 60, ProxyCPU: 1200 * time.Microsecond}, {TPS: 30, LatencyMS: 3.0, Txns: 30, ProxyCPU: 600 * time.Microsecond}, {TPS: 80, LatencyMS: 1.1, Txns: 80, ProxyCPU: 1600 * time.Microsecond}},
		},
	}
	near := func(a, b float64) bool { return math.Abs(a-b) < 1e-9 }
	if got := r.TPSRatio("direct"); !near(got, 0.6) {
		t.Errorf("hoop/direct = %v, want 0.6", got)
	}
	if got := r.TPSRatio("pgbouncer"); !near(got, 0.75) {
		t.Errorf("hoop/pgbouncer = %v, want 0.75", got)
	}
	if got := r.AddedLatencyUS("direct"); !near(got, 500) {
		t.Errorf("added latency = %v µs, want 500", got)
	}
	if got := r.CPURatio("pgbouncer"); !near(got, 2) {
		t.Errorf("cpu ratio = %v, want 2", got)
	}
	md := (&report{Date: time.Unix(0, 0).UTC(), Scenarios: []*scenarioResult{r}}).markdown()
	if !strings.Contains(md, "| x | 100 | 80 | 60 | 0.60 | 0.75 |") {
		t.Errorf("markdown row missing:\n%s", md)
	}
}

func TestScenarioArgs(t *testing.T) {
	for _, s := range scenarios() {
		a := strings.Join(s.args(15*time.Second, "DSN"), " ")
		if !strings.Contains(a, "-S -M "+s.Mode) || !strings.HasSuffix(a, "-T 15 DSN") && !strings.HasSuffix(a, "-C DSN") {
			t.Errorf("%s: args %q", s.Name, a)
		}
		if s.Connect != strings.Contains(a, " -C ") {
			t.Errorf("%s: -C is %v in %q", s.Name, s.Connect, a)
		}
	}
}
