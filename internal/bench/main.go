// Command bench is `make bench`: it starts its own PostgreSQL 15, pgbouncer
// and hoop (as a separate process, recording on), drives them with pgbench
// in interleaved runs (direct, pgbouncer, hoop, direct, ...), and reports
// TPS, latency and each proxy's CPU per transaction as medians of per-pair
// ratios. The "decoder" scenario measures the PostgreSQL decoder plugin in
// the production sandbox against the same Go code run natively.
//
//	go run ./internal/bench [-duration 15s] [-pairs 2] [-quick] [-only REGEXP] [-out FILE] [-profile FILE]
//
// Everything it starts is stopped on exit and on Ctrl-C. docs/benchmarks.md
// holds the method and the figures of a real run.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"regexp"
	"syscall"
	"time"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type options struct {
	duration time.Duration
	pairs    int
	only     *regexp.Regexp
	out      string
	profile  string
	profSc   string
	hoopBin  string
	wasm     string
	verbose  bool
}

func run() error {
	var o options
	quick := flag.Bool("quick", false, "smoke test: 2s runs, 1 pair")
	only := flag.String("only", "", "run only scenarios whose name matches this regexp (e.g. 'decoder|8c')")
	flag.DurationVar(&o.duration, "duration", 15*time.Second, "length of one pgbench run")
	flag.IntVar(&o.pairs, "pairs", 2, "interleaved rounds per scenario (each runs every target once)")
	flag.StringVar(&o.out, "out", "", "also write the results as Markdown to this file")
	flag.StringVar(&o.profile, "profile", "", "write a CPU profile of an in-process gateway under -profile-scenario to this file (an extra run)")
	flag.StringVar(&o.profSc, "profile-scenario", "select-simple-8c", "scenario of the -profile run")
	flag.StringVar(&o.hoopBin, "hoop", "bin/hoop", "hoop binary (built with `make build` when missing)")
	flag.StringVar(&o.wasm, "wasm", "bin/plugins/postgres.wasm", "decoder plugin for the decoder scenario")
	flag.BoolVar(&o.verbose, "v", false, "log every pgbench run")
	flag.Parse()
	if *quick {
		o.duration, o.pairs = 2*time.Second, 1
	}
	if o.pairs < 1 {
		return errors.New("-pairs must be at least 1")
	}
	if *only != "" {
		re, err := regexp.Compile(*only)
		if err != nil {
			return fmt.Errorf("parse -only: %w", err)
		}
		o.only = re
	}
	level := slog.LevelInfo
	if o.verbose {
		level = slog.LevelDebug
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var cl cleanups
	defer cl.run()
	go func() {
		// A second signal while cleaning up should still end the process.
		<-ctx.Done()
		stop()
	}()

	started := time.Now()
	rep := &report{Date: started.UTC(), Duration: o.duration, Pairs: o.pairs}
	rep.Machine = machine()

	scs := scenarios()
	var want []scenario
	for _, s := range scs {
		if o.only == nil || o.only.MatchString(s.Name) {
			want = append(want, s)
		}
	}
	wantDecoder := o.only == nil || o.only.MatchString("decoder")
	if len(want) == 0 && !wantDecoder && o.profile == "" {
		return fmt.Errorf("-only %q matches no scenario", *only)
	}

	if len(want) > 0 || o.profile != "" {
		env, err := startEnv(ctx, &cl, o, want)
		if err != nil {
			return err
		}
		for _, s := range want {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			res, err := runScenario(ctx, env, s, o)
			if err != nil {
				return fmt.Errorf("scenario %s: %w", s.Name, err)
			}
			rep.Scenarios = append(rep.Scenarios, res)
			fmt.Println(res.text())
		}
		if o.profile != "" {
			if err := profileGateway(ctx, env, o); err != nil {
				return fmt.Errorf("profile: %w", err)
			}
		}
	}
	if wantDecoder {
		d, err := benchDecoder(ctx, o)
		if err != nil {
			return fmt.Errorf("decoder: %w", err)
		}
		rep.Decoder = d
	}
	rep.Took = time.Since(started)
	fmt.Println()
	fmt.Println(rep.text())
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(rep.markdown()), 0o644); err != nil {
			return fmt.Errorf("write -out: %w", err)
		}
		slog.Info("wrote markdown", "file", o.out)
	}
	return nil
}

// cleanups runs stop functions in reverse order, once.
type cleanups struct{ fns []func() }

func (c *cleanups) add(f func()) { c.fns = append(c.fns, f) }

func (c *cleanups) run() {
	for i := len(c.fns) - 1; i >= 0; i-- {
		c.fns[i]()
	}
	c.fns = nil
}
