// Package gateway assembles hoop from its core services and front ends:
// it opens the store, creates the admin token on first start, loads the
// plugins, starts the listeners, and shuts everything down in order.
package gateway

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"hoop.dev/hoop/core/api"
	"hoop.dev/hoop/core/config"
	"hoop.dev/hoop/core/identity"
	"hoop.dev/hoop/core/policy"
	pgproxy "hoop.dev/hoop/core/proxy/postgres"
	"hoop.dev/hoop/core/record"
	"hoop.dev/hoop/core/review"
	"hoop.dev/hoop/core/session"
	"hoop.dev/hoop/core/store"
	"hoop.dev/hoop/core/store/sqlite"
)

// AdminTokenFile is the name of the admin token file in the data directory.
const AdminTokenFile = "admin.token"

// Gateway is a running hoop.
type Gateway struct {
	cfg *config.Config
	log *slog.Logger

	st       store.Store
	sessions *session.Registry
	rec      *record.Recorder
	ids      *identity.Service
	pg       *pgproxy.Server
	httpSrv  *http.Server
	plugins  *pluginSet
	policies *policy.Pipeline
	reviews  *review.Service

	pgLn, apiLn net.Listener
	tokenHash   []byte
	token       string // set only when created by this process
	serveErr    chan error
	closeOnce   sync.Once
	closeErr    error
}

// New opens the store and builds the services; nothing listens yet.
func New(ctx context.Context, cfg *config.Config, log *slog.Logger) (*Gateway, error) {
	if err := os.MkdirAll(cfg.Gateway.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	st, err := sqlite.Open(ctx, cfg.DataPath("hoop.db"), sqlite.Options{Sync: cfg.Store.Sync})
	if err != nil {
		return nil, err
	}
	g := &Gateway{cfg: cfg, log: log, st: st, serveErr: make(chan error, 2)}
	fail := func(err error) (*Gateway, error) {
		st.Close()
		return nil, err
	}
	// Client frames journaled by a previous process that died before they
	// were indexed go into the store first, so the sessions' counts are right.
	if n, err := record.Recover(ctx, st, cfg.DataPath("journal")); err != nil {
		return fail(err)
	} else if n > 0 {
		log.Warn("recovered journaled frames of a previous run", "frames", n)
	}
	if n, err := st.EndDangling(ctx, store.EndGatewayRestart, time.Now().UTC()); err != nil {
		return fail(err)
	} else if n > 0 {
		log.Warn("ended sessions left open by a previous run", "count", n)
	}
	if err := g.adminToken(ctx); err != nil {
		return fail(err)
	}
	g.plugins, err = loadPlugins(ctx, cfg, log)
	if err != nil {
		return fail(err)
	}
	hub := newHub(st, log)
	g.sessions = session.NewRegistry(st, hub, log)
	g.rec, err = record.New(st, hub, log, record.Options{JournalDir: cfg.DataPath("journal"), Sync: cfg.Store.Sync})
	if err != nil {
		g.plugins.close(ctx)
		return fail(err)
	}
	g.ids = identity.New(st, cfg, g.sessions)
	g.policies, err = policy.New(ctx, cfg.Policy, g.plugins.policy, log.With("component", "policy"))
	if err != nil {
		g.plugins.close(ctx)
		return fail(err)
	}
	g.reviews = review.New(st, cfg.Review.Timeout.Duration, log.With("component", "review"))
	if err := g.reviews.Recover(ctx); err != nil {
		g.plugins.close(ctx)
		return fail(err)
	}
	g.pg, err = pgproxy.New(pgproxy.Deps{Config: cfg, Identity: g.ids, Sessions: g.sessions, Recorder: g.rec,
		Decoder: g.plugins.decoder("postgres"), Policy: g.policies, Reviews: g.reviews, Log: log.With("frontend", "postgres")})
	if err != nil {
		g.plugins.close(ctx)
		return fail(err)
	}
	handler := api.Handler(api.Deps{Config: cfg, Store: st, Identity: g.ids, Sessions: g.sessions,
		Stream: hub, Web: webHandler(), Plugins: g.plugins.list, TokenHash: g.tokenHash, Log: log.With("component", "api"),
		Extra: func(mux *http.ServeMux) { api.ReviewRoutes(mux, g.reviews) }})
	g.httpSrv = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	return g, nil
}

// adminToken creates the admin token on first start (or when its file was
// deleted, which is how an operator resets it) and loads its hash.
func (g *Gateway) adminToken(ctx context.Context) error {
	path := g.cfg.DataPath(AdminTokenFile)
	if b, err := os.ReadFile(path); err == nil {
		h := sha256.Sum256([]byte(trimToken(b)))
		stored, err := g.st.AdminTokenHash(ctx)
		if err == nil && string(stored) == string(h[:]) {
			g.tokenHash = stored
			return nil
		}
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		// A token file whose hash is not the stored one is replaced below.
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return fmt.Errorf("generate admin token: %w", err)
	}
	tok := "hoop_admin_" + base64.RawURLEncoding.EncodeToString(raw)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(tok+"\n"), 0o600); err != nil {
		return fmt.Errorf("write admin token: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write admin token: %w", err)
	}
	h := sha256.Sum256([]byte(tok))
	if err := g.st.SetAdminTokenHash(ctx, h[:]); err != nil {
		return err
	}
	g.tokenHash, g.token = h[:], tok
	abs, _ := filepath.Abs(path)
	g.log.Info("created admin token", "file", abs)
	return nil
}

func trimToken(b []byte) string {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return string(b)
}

// Start opens the listeners and serves in the background.
func (g *Gateway) Start() error {
	var err error
	if g.apiLn, err = net.Listen("tcp", g.cfg.API.Listen); err != nil {
		return fmt.Errorf("listen api: %w", err)
	}
	if g.pgLn, err = net.Listen("tcp", g.cfg.Postgres.Listen); err != nil {
		g.apiLn.Close()
		return fmt.Errorf("listen postgres: %w", err)
	}
	go func() {
		if err := g.httpSrv.Serve(g.apiLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			g.serveErr <- fmt.Errorf("serve api: %w", err)
		}
	}()
	go func() {
		if err := g.pg.Serve(g.pgLn); err != nil {
			g.serveErr <- err
		}
	}()
	g.log.Info("hoop is serving", "api", "http://"+g.apiLn.Addr().String(), "postgres", g.pgLn.Addr().String())
	return nil
}

// Err reports a listener that failed while serving.
func (g *Gateway) Err() <-chan error { return g.serveErr }

// APIAddr is the API listener's address.
func (g *Gateway) APIAddr() string { return g.apiLn.Addr().String() }

// PostgresAddr is the PostgreSQL listener's address.
func (g *Gateway) PostgresAddr() string { return g.pgLn.Addr().String() }

// AdminToken returns the admin token if this process created it, else "".
func (g *Gateway) AdminToken() string { return g.token }

// Identity exposes the identity service (tests and tools).
func (g *Gateway) Identity() *identity.Service { return g.ids }

// Reviews exposes the review service (tests and tools).
func (g *Gateway) Reviews() *review.Service { return g.reviews }

// Store exposes the store (tests and tools).
func (g *Gateway) Store() store.Store { return g.st }

// Shutdown stops accepting, ends live sessions with reason shutdown,
// flushes the recorder and closes the store.
func (g *Gateway) Shutdown(ctx context.Context) error {
	g.closeOnce.Do(func() {
		var errs []error
		g.pg.Close()
		if err := g.sessions.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
		g.pg.Wait()
		hctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		if err := g.httpSrv.Shutdown(hctx); err != nil {
			g.httpSrv.Close()
		}
		cancel()
		g.rec.Close()
		g.plugins.close(ctx)
		if err := g.st.Close(); err != nil {
			errs = append(errs, err)
		}
		g.closeErr = errors.Join(errs...)
	})
	return g.closeErr
}
