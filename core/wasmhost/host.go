// Package wasmhost runs ABI v1 plugins (see sdk/ABI.md) under wazero: it
// compiles a module once, checks its exports, imports and manifest, and
// serves decoder streams and policy evaluations from a bounded pool of
// sandboxed instances per plugin. Every call runs under a deadline and every
// instance under a memory cap; an instance that traps, times out or runs out
// of memory is thrown away and counted as a fault, and the next call gets a
// fresh one. The host knows nothing of protocols or policies' meaning.
package wasmhost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"hoop.dev/hoop/sdk"
)

// ErrFault is wrapped by every error caused by a misbehaving instance: a
// trap, a timeout, memory exhaustion, or an out-of-range result. It is
// distinct from a *PluginError, which the plugin reported on purpose.
var ErrFault = errors.New("plugin fault")

// ErrABI is wrapped by Load's error when a module does not implement ABI v1.
var ErrABI = errors.New("module breaks plugin ABI v1")

// PluginError is an error a plugin reported itself (the call returned -1 and
// hoop_error said why). The instance stays healthy.
type PluginError struct {
	Plugin  string // manifest name
	Op      string // "open", "feed", "configure", "evaluate"
	Message string // hoop_error's text
}

func (e *PluginError) Error() string {
	return fmt.Sprintf("plugin %s: %s: %s", e.Plugin, e.Op, e.Message)
}

// Limits bound every instance of every plugin of a Host. Zero fields take
// their defaults.
type Limits struct {
	// MemoryPages caps each instance's linear memory in 64 KiB pages
	// (default 2048 = 128 MiB).
	MemoryPages uint32
	// CallTimeout is the deadline of one call into a plugin (default 250ms).
	// Instantiation gets the larger of 20 × CallTimeout and 5s.
	CallTimeout time.Duration
	// PoolSize is the most instances kept per plugin (default 4).
	PoolSize int
}

func (l Limits) withDefaults() Limits {
	if l.MemoryPages == 0 {
		l.MemoryPages = 2048
	}
	if l.MemoryPages > 65536 {
		l.MemoryPages = 65536
	}
	if l.CallTimeout <= 0 {
		l.CallTimeout = 250 * time.Millisecond
	}
	if l.PoolSize <= 0 {
		l.PoolSize = 4
	}
	return l
}

// Host owns one wazero runtime and the plugins loaded into it.
type Host struct {
	rt    wazero.Runtime
	cache wazero.CompilationCache
	lim   Limits
	log   *slog.Logger

	mu      sync.Mutex
	plugins map[*Plugin]struct{}
}

// New starts a host. cacheDir, when not empty, keeps compiled modules on disk
// so a restart skips compilation; log receives faults and guest output (nil
// discards them).
func New(ctx context.Context, cacheDir string, lim Limits, log *slog.Logger) (*Host, error) {
	lim = lim.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg := wazero.NewRuntimeConfig().
		WithMemoryLimitPages(lim.MemoryPages).
		WithCloseOnContextDone(true)
	h := &Host{lim: lim, log: log, plugins: map[*Plugin]struct{}{}}
	if cacheDir != "" {
		cache, err := wazero.NewCompilationCacheWithDir(cacheDir)
		if err != nil {
			return nil, fmt.Errorf("open compilation cache %s: %w", cacheDir, err)
		}
		h.cache = cache
		cfg = cfg.WithCompilationCache(cache)
	}
	h.rt = wazero.NewRuntimeWithConfig(ctx, cfg)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, h.rt); err != nil {
		_ = h.Close(ctx)
		return nil, fmt.Errorf("instantiate wasi: %w", err)
	}
	return h, nil
}

// Limits returns the host's limits with defaults applied.
func (h *Host) Limits() Limits { return h.lim }

// Close stops every instance of every plugin and releases the runtime.
func (h *Host) Close(ctx context.Context) error {
	h.mu.Lock()
	ps := make([]*Plugin, 0, len(h.plugins))
	for p := range h.plugins {
		ps = append(ps, p)
	}
	h.mu.Unlock()
	for _, p := range ps {
		p.Close(ctx)
	}
	err := h.rt.Close(ctx)
	if h.cache != nil {
		err = errors.Join(err, h.cache.Close(ctx))
	}
	if err != nil {
		return fmt.Errorf("close wasm host: %w", err)
	}
	return nil
}

// Load compiles a module (from the disk cache when there is one), checks
// that it implements ABI v1, starts one instance and reads its manifest.
func (h *Host) Load(ctx context.Context, wasm []byte) (*Plugin, error) {
	sum := sha256.Sum256(wasm)
	digest := hex.EncodeToString(sum[:])
	cm, err := h.rt.CompileModule(ctx, wasm)
	if err != nil {
		return nil, fmt.Errorf("compile plugin %s: %w", digest[:12], err)
	}
	if problems := CheckABI(cm, ""); len(problems) > 0 {
		_ = cm.Close(ctx)
		return nil, fmt.Errorf("load plugin %s: %w: %s", digest[:12], ErrABI, strings.Join(problems, "; "))
	}
	p := &Plugin{h: h, cm: cm, digest: digest, manifest: sdk.Manifest{Name: digest[:12]}}
	inst, err := p.newInstance(ctx)
	if err != nil {
		_ = cm.Close(ctx)
		return nil, fmt.Errorf("load plugin %s: %w", digest[:12], err)
	}
	m, err := p.readManifest(ctx, inst)
	if err == nil {
		if problems := CheckABI(cm, m.Kind); len(problems) > 0 {
			err = fmt.Errorf("%w: %s", ErrABI, strings.Join(problems, "; "))
		}
	}
	if err != nil {
		inst.close()
		_ = cm.Close(ctx)
		return nil, fmt.Errorf("load plugin %s: %w", digest[:12], err)
	}
	p.manifest = m
	p.insts = []*instance{inst}
	h.mu.Lock()
	h.plugins[p] = struct{}{}
	h.mu.Unlock()
	h.log.Info("plugin loaded", "plugin", m.Name, "version", m.Version, "kind", m.Kind, "digest", digest[:12])
	return p, nil
}

func (p *Plugin) readManifest(ctx context.Context, inst *instance) (sdk.Manifest, error) {
	var m sdk.Manifest
	inst.mu.Lock()
	defer inst.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, p.h.lim.CallTimeout)
	defer cancel()
	raw, err := p.callPacked(ctx, inst, "manifest", inst.fnManifest)
	if err != nil {
		return m, fmt.Errorf("read manifest: %w", err)
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return m, fmt.Errorf("read manifest: %w: %v", ErrABI, err)
	}
	if err := m.Validate(); err != nil {
		return m, fmt.Errorf("%w: %v", ErrABI, err)
	}
	return m, nil
}
