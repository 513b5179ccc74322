// Package conformance certifies that a plugin .wasm implements ABI v1 and
// behaves: it checks the exports and manifest, then feeds or evaluates
// captured, split, truncated, mutated and random input under the host's
// real limits, and finally runs the data-driven cases of cases/. It is used
// by `hoop conformance` and, through Certify, by plugin authors' go test.
package conformance

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"hoop.dev/hoop/core/wasmhost"
	"hoop.dev/hoop/sdk"
)

// Options tune a run. The zero value runs the full suite.
type Options struct {
	// CasesDir is a directory laid out like cases/ (see cases/README.md);
	// empty uses the cases embedded in this package.
	CasesDir string
	// CacheDir is a wazero compilation cache directory ("" = none).
	CacheDir string
	// Limits are the host limits the plugin must live within. Zero fields
	// take the host's defaults, except CallTimeout, which defaults to
	// DefaultCallTimeout. PoolSize is always 1.
	Limits wasmhost.Limits
	// MemoryFeeds is how many feeds or evaluations the memory check makes
	// (default 100000).
	MemoryFeeds int
	// Seed drives the random pieces and random input (default 1).
	Seed uint64
	// Log receives the host's log (nil discards it).
	Log *slog.Logger
}

// DefaultCallTimeout is the per-call deadline of a run: four times the
// gateway's default, because a Go guest's garbage collector can pause a
// single call for tens of milliseconds, more on a loaded machine, and a
// certification must not fail by chance. A plugin that loops still fails.
const DefaultCallTimeout = time.Second

// Check is the outcome of one named check.
type Check struct {
	Name    string `json:"name"`
	Pass    bool   `json:"pass"`
	Skipped bool   `json:"skipped,omitempty"` // passed vacuously: nothing to check
	Detail  string `json:"detail,omitempty"`
}

// Report is the outcome of a run.
type Report struct {
	Inspection *Inspection `json:"inspection"`
	Checks     []Check     `json:"checks"`
	Duration   string      `json:"duration"`
}

// Pass reports whether every check passed.
func (r *Report) Pass() bool { return len(r.Failed()) == 0 }

// Failed returns the checks that did not pass.
func (r *Report) Failed() []Check {
	var failed []Check
	for _, c := range r.Checks {
		if !c.Pass {
			failed = append(failed, c)
		}
	}
	return failed
}

func (r *Report) add(name string, err error) {
	c := Check{Name: name, Pass: err == nil}
	if err != nil {
		c.Detail = err.Error()
	}
	r.Checks = append(r.Checks, c)
}

func (r *Report) skip(name, why string) {
	r.Checks = append(r.Checks, Check{Name: name, Pass: true, Skipped: true, Detail: why})
}

// Run certifies a module. The error is for a run that could not happen (the
// host did not start, the cases did not parse); a non-conforming plugin is a
// report with failed checks.
func Run(ctx context.Context, wasm []byte, opt Options) (*Report, error) {
	start := time.Now()
	if opt.MemoryFeeds <= 0 {
		opt.MemoryFeeds = 100000
	}
	if opt.Limits.CallTimeout <= 0 {
		opt.Limits.CallTimeout = DefaultCallTimeout
	}
	if opt.Seed == 0 {
		opt.Seed = 1
	}
	fsys, err := openCases(opt.CasesDir)
	if err != nil {
		return nil, err
	}
	// One instance per plugin: the memory check then sees the only heap.
	opt.Limits.PoolSize = 1
	h, err := wasmhost.New(ctx, opt.CacheDir, opt.Limits, opt.Log)
	if err != nil {
		return nil, fmt.Errorf("run conformance: %w", err)
	}
	defer h.Close(ctx)
	in, p, err := inspect(ctx, h, wasm)
	if err != nil {
		return nil, fmt.Errorf("run conformance: %w", err)
	}
	rep := &Report{Inspection: in}
	if !in.Conforms {
		rep.add("abi", fmt.Errorf("%d problem(s): %s", len(in.Problems), joinProblems(in.Problems)))
		rep.Duration = time.Since(start).Round(time.Millisecond).String()
		return rep, nil
	}
	rep.add("abi", nil)
	r := &runner{ctx: ctx, h: h, p: p, wasm: wasm, opt: opt, fsys: fsys, rep: rep}
	switch p.Manifest().Kind {
	case sdk.KindDecoder:
		err = r.decoder()
	case sdk.KindPolicy:
		err = r.policy()
	}
	rep.Duration = time.Since(start).Round(time.Millisecond).String()
	if err != nil {
		return nil, fmt.Errorf("run conformance: %w", err)
	}
	return rep, nil
}

func joinProblems(ps []string) string {
	s := ""
	for i, p := range ps {
		if i > 0 {
			s += "; "
		}
		s += p
	}
	return s
}

// Certify runs the suite with default options and fails t for every check
// that does not pass. Plugin authors call it from go test with the module
// sdktest.BuildWASM built.
func Certify(t testing.TB, wasm []byte) {
	t.Helper()
	rep, err := Run(context.Background(), wasm, Options{})
	if err != nil {
		t.Fatalf("conformance: %v", err)
	}
	for _, c := range rep.Failed() {
		t.Errorf("conformance check %s failed: %s", c.Name, c.Detail)
	}
}
