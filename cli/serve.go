package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"hoop.dev/hoop/core/config"
	"hoop.dev/hoop/core/gateway"
)

// loadConfig loads --config, or ./hoop.toml when present, or the defaults.
func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		if _, err := os.Stat("hoop.toml"); err != nil {
			return config.Default(), nil
		}
		path = "hoop.toml"
	}
	return config.Load(path)
}

func cmdServe(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stderr)
	cfgPath := fs.String("config", "", "configuration file (default ./hoop.toml if present)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	var level slog.Level
	level.UnmarshalText([]byte(cfg.Gateway.LogLevel))
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctx := context.Background()
	g, err := gateway.New(ctx, cfg, log)
	if err != nil {
		return err
	}
	if err := g.Start(); err != nil {
		g.Shutdown(ctx)
		return err
	}
	if g.AdminToken() != "" {
		fmt.Fprintf(stderr, "\nhoop: admin token written to %s (mode 0600); the CLI reads it from there.\n", cfg.DataPath(gateway.AdminTokenFile))
	}
	fmt.Fprintf(stderr, "hoop: audit view at http://%s/  postgres clients at %s\n\n", g.APIAddr(), g.PostgresAddr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	var serveErr error
	select {
	case s := <-sig:
		log.Info("shutting down", "signal", s.String())
	case serveErr = <-g.Err():
		log.Error("listener failed, shutting down", "err", serveErr)
	}
	sctx, cancel := context.WithTimeout(ctx, cfg.Gateway.ShutdownTimeout.Duration)
	defer cancel()
	if err := g.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("hoop stopped")
	return serveErr
}

func cmdConfig(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		return fmt.Errorf("%w: hoop config check [--config FILE]", errUsage)
	}
	fs := newFlags("config check", stderr)
	cfgPath := fs.String("config", "", "configuration file (default ./hoop.toml)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	p := *cfgPath
	if p == "" {
		p = "hoop.toml"
	}
	cfg, err := config.Load(p)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok\n%s", p, cfg.Summary())
	return nil
}
