package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// scenario is one pgbench workload run against several targets.
type scenario struct {
	Name    string
	Mode    string // -M: simple, extended, prepared
	Clients int
	Threads int
	Connect bool // -C: a new connection per transaction
	// Targets are run in this order in every pair; Subject is the target
	// whose ratios against each of the others are reported.
	Targets []string
	Subject string
	Note    string
}

func scenarios() []scenario {
	abc := []string{"direct", "pgbouncer", "hoop"}
	var s []scenario
	for _, c := range []int{8, 1} {
		for _, m := range []string{"simple", "extended", "prepared"} {
			j := 2
			if c == 1 {
				j = 1
			}
			s = append(s, scenario{Name: fmt.Sprintf("select-%s-%dc", m, c), Mode: m, Clients: c, Threads: j, Targets: abc, Subject: "hoop"})
		}
	}
	s = append(s,
		scenario{Name: "connect-simple-8c", Mode: "simple", Clients: 8, Threads: 2, Connect: true, Targets: abc, Subject: "hoop",
			Note: fmt.Sprintf("pgbench -C; logins with SCRAM verifiers of %d iterations on every leg", fastIterations)},
		scenario{Name: "store-sync-simple-8c", Mode: "simple", Clients: 8, Threads: 2, Targets: []string{"hoop", "hoop-sync"}, Subject: "hoop-sync",
			Note: "hoop with [store] sync = false vs true (fsync per commit)"},
	)
	s = append(s, policyScenarios()...)
	return append(s, fanoutScenario())
}

// args are pgbench's arguments for one run of the scenario.
func (s scenario) args(d time.Duration, dsn string) []string {
	a := []string{"-n", "-S", "-M", s.Mode, "-c", strconv.Itoa(s.Clients), "-j", strconv.Itoa(s.Threads),
		"-T", strconv.Itoa(int(d.Round(time.Second) / time.Second))}
	if s.Connect {
		a = append(a, "-C")
	}
	return append(a, dsn)
}

// runResult is one pgbench run against one target.
type runResult struct {
	TPS       float64
	LatencyMS float64 // pgbench's "latency average"
	Txns      int64
	ProxyCPU  time.Duration // utime+stime of the proxy process during the run (0 for direct)
	HostCPU   time.Duration // non-idle CPU time of the whole machine during the run
	Elapsed   time.Duration
	Fanout    *fanoutStats // what the SSE subscribers received (nil without subscribers)
}

// ProxyCPUPerTx is the proxy's CPU time per transaction in µs.
func (r runResult) ProxyCPUPerTx() float64 {
	if r.Txns == 0 {
		return 0
	}
	return float64(r.ProxyCPU.Microseconds()) / float64(r.Txns)
}

// HostCPUPerTx is the machine's busy CPU time per transaction in µs.
func (r runResult) HostCPUPerTx() float64 {
	if r.Txns == 0 {
		return 0
	}
	return float64(r.HostCPU.Microseconds()) / float64(r.Txns)
}

var (
	reTPS     = regexp.MustCompile(`(?m)^tps = ([0-9.]+)`)
	reLatency = regexp.MustCompile(`(?m)^latency average = ([0-9.]+) ms`)
	reTxns    = regexp.MustCompile(`(?m)^number of transactions actually processed: ([0-9]+)`)
	reFailed  = regexp.MustCompile(`(?m)^number of failed transactions: ([0-9]+)`)
)

// parsePgbench reads TPS, average latency and the transaction count from
// pgbench's report.
func parsePgbench(out []byte) (runResult, error) {
	var r runResult
	m := reTPS.FindSubmatch(out)
	if m == nil {
		return r, fmt.Errorf("parse pgbench output: no tps line")
	}
	r.TPS, _ = strconv.ParseFloat(string(m[1]), 64)
	if m = reLatency.FindSubmatch(out); m == nil {
		return r, fmt.Errorf("parse pgbench output: no latency average line")
	}
	r.LatencyMS, _ = strconv.ParseFloat(string(m[1]), 64)
	if m = reTxns.FindSubmatch(out); m == nil {
		return r, fmt.Errorf("parse pgbench output: no transaction count")
	}
	r.Txns, _ = strconv.ParseInt(string(m[1]), 10, 64)
	if m = reFailed.FindSubmatch(out); m != nil && string(m[1]) != "0" {
		return r, fmt.Errorf("pgbench reports %s failed transactions", m[1])
	}
	if r.Txns == 0 {
		return r, fmt.Errorf("pgbench processed no transactions")
	}
	return r, nil
}

// pgbench runs one scenario run against a target and measures the
// proxy's CPU time around it.
func pgbench(ctx context.Context, s scenario, t target, d time.Duration) (runResult, error) {
	dsn, pw := t.conn(s.Connect)
	cmd := exec.CommandContext(ctx, "/usr/bin/pgbench", s.args(d, dsn)...)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+pw)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cpu0, err := procCPU(t.pid)
	if err != nil {
		return runResult{}, err
	}
	var fo *fanout
	if t.subscribers > 0 {
		if fo, err = startFanout(ctx, t.hoop, t.subscribers); err != nil {
			return runResult{}, err
		}
	}
	host0 := hostCPU()
	t0 := time.Now()
	err = cmd.Run()
	elapsed := time.Since(t0)
	cpu1, cerr := procCPU(t.pid)
	host1 := hostCPU()
	var fs *fanoutStats
	if fo != nil {
		var ferr error
		if fs, ferr = fo.finish(ctx); ferr != nil && err == nil {
			return runResult{}, ferr
		}
	}
	if err != nil {
		return runResult{}, fmt.Errorf("pgbench against %s: %v: %s", t.Name, err, lastLines(out.Bytes(), 8))
	}
	if cerr != nil {
		return runResult{}, cerr
	}
	r, err := parsePgbench(out.Bytes())
	if err != nil {
		return r, fmt.Errorf("%s: %w: %s", t.Name, err, lastLines(out.Bytes(), 8))
	}
	r.ProxyCPU, r.HostCPU, r.Elapsed, r.Fanout = cpu1-cpu0, host1-host0, elapsed, fs
	return r, nil
}

// lastLines returns pgbench's error lines and the last n lines of its output.
func lastLines(b []byte, n int) string {
	var errs []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "error") || strings.Contains(l, "FATAL") {
			errs = append(errs, l)
		}
	}
	if len(errs) > 5 {
		errs = errs[:5]
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(append(errs, lines...), "\n")
}

// clockTick is USER_HZ, the unit of /proc times (100 on every Linux
// architecture Go supports).
const clockTick = 100

// procCPU returns utime+stime of a process (its threads included) from
// /proc/<pid>/stat; pid 0 means none and returns 0.
func procCPU(pid int) (time.Duration, error) {
	if pid == 0 {
		return 0, nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, fmt.Errorf("read cpu time of pid %d: %w", pid, err)
	}
	return parseProcStat(b)
}

// parseProcStat reads fields 14 (utime) and 15 (stime) of /proc/<pid>/stat.
// The command name (field 2) may hold spaces and parentheses, so fields are
// counted from the last ')'.
func parseProcStat(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("parse /proc stat: no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("parse /proc stat: %d fields", len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parse /proc stat: utime %q stime %q", f[11], f[12])
	}
	return time.Duration(ut+st) * time.Second / clockTick, nil
}

// hostCPU is the machine's non-idle CPU time from /proc/stat (0 if unreadable).
func hostCPU() time.Duration {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0
	}
	fields := strings.Fields(sc.Text())
	if len(fields) < 5 || fields[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range fields[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i == 3 || i == 4 || i >= 7 { // idle, iowait, steal; guest times are already in user
			continue
		}
		busy += n
	}
	return time.Duration(busy) * time.Second / clockTick
}

// runScenario runs every target of s once per pair, in order.
func runScenario(ctx context.Context, e *env, s scenario, o options) (*scenarioResult, error) {
	ts := e.targets()
	for _, name := range s.Targets {
		if _, ok := ts[name]; !ok {
			return nil, fmt.Errorf("target %s was not started", name)
		}
	}
	res := &scenarioResult{Scenario: s, Runs: map[string][]runResult{}}
	slog.Info("scenario", "name", s.Name, "targets", strings.Join(s.Targets, ","), "pairs", o.pairs, "duration", o.duration)
	// A short unmeasured run per target, once per bench, warms the server's
	// caches and the gateway's plugin instances.
	for _, name := range s.Targets {
		if e.warmed[name] {
			continue
		}
		wt := ts[name]
		wt.subscribers = 0 // the warm-up is of the gateway, not of the streams
		if _, err := pgbench(ctx, s, wt, time.Second); err != nil {
			return nil, fmt.Errorf("warm-up: %w", err)
		}
		e.warmed[name] = true
	}
	for p := 0; p < o.pairs; p++ {
		for _, name := range s.Targets {
			r, err := pgbench(ctx, s, ts[name], o.duration)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				// One failed run spoils the pairing, not the other scenarios:
				// record why and move on.
				res.Err = fmt.Sprintf("pair %d, %s: %v%s", p+1, name, err, e.proxyLog(name))
				slog.Error("run failed", "scenario", s.Name, "err", res.Err)
				return res, nil
			}
			slog.Debug("run", "scenario", s.Name, "pair", p+1, "target", name, "tps", r.TPS, "latency_ms", r.LatencyMS,
				"proxy_cpu_us_per_tx", round(r.ProxyCPUPerTx(), 1))
			res.Runs[name] = append(res.Runs[name], r)
		}
	}
	return res, nil
}
