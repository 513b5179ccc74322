package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"time"

	"hoop.dev/hoop/core/config"
	"hoop.dev/hoop/core/gateway"
	"hoop.dev/hoop/core/identity"
)

// profileGateway runs the gateway in this process (hoop serve exposes no
// pprof), drives it with one run of the -profile-scenario under a CPU
// profile, and prints the top of the profile.
func profileGateway(ctx context.Context, e *env, o options) error {
	dir := filepath.Join(e.dir, "hoop-profile")
	cfgPath, _, _, err := writeHoopConfig(e, dir, false, "")
	if err != nil {
		return err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	logf, err := os.Create(filepath.Join(dir, "hoop.log"))
	if err != nil {
		return err
	}
	defer logf.Close()
	g, err := gateway.New(ctx, cfg, slog.New(slog.NewTextHandler(logf, nil)))
	if err != nil {
		return err
	}
	if err := g.Start(); err != nil {
		g.Shutdown(ctx)
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		g.Shutdown(sctx)
	}()
	iss, err := g.Identity().Create(ctx, identity.CreateRequest{Name: "bench", Resource: "bench", Role: "rw"})
	if err != nil {
		return err
	}
	fast, err := g.Identity().Create(ctx, identity.CreateRequest{Name: "bench-fast", Resource: "bench", Role: "fast"})
	if err != nil {
		return err
	}
	t := target{Name: "hoop-in-process", pid: os.Getpid(), conn: func(f bool) (string, string) {
		if f {
			return fmt.Sprintf("postgresql://bench-fast@%s/app?sslmode=disable", g.PostgresAddr()), fast.Secret
		}
		return fmt.Sprintf("postgresql://bench@%s/app?sslmode=disable", g.PostgresAddr()), iss.Secret
	}}
	var s scenario
	for _, sc := range scenarios() {
		if sc.Name == o.profSc {
			s = sc
		}
	}
	if s.Name == "" {
		return fmt.Errorf("-profile-scenario %q is not a scenario", o.profSc)
	}
	if _, err := pgbench(ctx, s, t, time.Second); err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	f, err := os.Create(o.profile)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return err
	}
	r, err := pgbench(ctx, s, t, o.duration)
	pprof.StopCPUProfile()
	f.Close()
	if err != nil {
		return err
	}
	fmt.Printf("\nprofile run (gateway in-process, %s): %.0f TPS, latency %.0f µs, process CPU %.1f µs/tx; profile in %s\n",
		s.Name, r.TPS, r.LatencyMS*1000, r.ProxyCPUPerTx(), o.profile)
	for _, args := range [][]string{{"-top", "-nodecount=30"}, {"-top", "-cum", "-nodecount=40"}} {
		cmd := exec.CommandContext(ctx, "go", append(append([]string{"tool", "pprof"}, args...), o.profile)...)
		cmd.Stdout, cmd.Stderr = os.Stdout, io.Discard
		if err := cmd.Run(); err != nil {
			slog.Warn("go tool pprof", "err", err)
		}
	}
	return nil
}
