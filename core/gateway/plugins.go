package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"hoop.dev/hoop/core/api"
	"hoop.dev/hoop/core/config"
	"hoop.dev/hoop/core/policy"
	pgproxy "hoop.dev/hoop/core/proxy/postgres"
	"hoop.dev/hoop/core/wasmhost"
	"hoop.dev/hoop/internal/builtin"
	"hoop.dev/hoop/sdk"
)

// pluginSet is every loaded plugin: the built-ins embedded in the binary
// and the third-party modules listed in hoop.toml.
type pluginSet struct {
	host    *wasmhost.Host
	byName  map[string]*loaded
	ordered []*loaded
}

type loaded struct {
	p      *wasmhost.Plugin
	module []byte
}

func loadPlugins(ctx context.Context, cfg *config.Config, log *slog.Logger) (*pluginSet, error) {
	lim := wasmhost.Limits{MemoryPages: uint32(cfg.Plugins.MemoryLimitMB) * 16, CallTimeout: cfg.Plugins.CallTimeout.Duration, PoolSize: cfg.Plugins.PoolSize}
	cache := cfg.Plugins.CacheDir
	if cache == "" {
		cache = cfg.DataPath("wasm-cache")
	}
	host, err := wasmhost.New(ctx, cache, lim, log.With("component", "wasmhost"))
	if err != nil {
		return nil, err
	}
	ps := &pluginSet{host: host, byName: map[string]*loaded{}}
	type source struct {
		origin string
		module []byte
	}
	var srcs []source
	mods := builtin.Modules()
	if len(mods) == 0 {
		log.Warn("no built-in plugins are embedded in this binary (build with `make build`): statements are not decoded")
	}
	for _, m := range mods {
		srcs = append(srcs, source{"builtin:" + m.Name, m.Bytes})
	}
	for _, pc := range cfg.Plugin {
		b, err := os.ReadFile(pc.Path)
		if err != nil {
			ps.close(ctx)
			return nil, fmt.Errorf("read plugin: %w", err)
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != pc.SHA256 {
			ps.close(ctx)
			return nil, fmt.Errorf("plugin %s: sha256 is %s, hoop.toml expects %s: refusing to start", pc.Path, got, pc.SHA256)
		}
		srcs = append(srcs, source{pc.Path, b})
	}
	// Compile in parallel (a cold compile takes about a second per module);
	// register in order, so the last decoder for a protocol still wins.
	plugins := make([]*wasmhost.Plugin, len(srcs))
	errs := make([]error, len(srcs))
	took := make([]time.Duration, len(srcs))
	var wg sync.WaitGroup
	for i, src := range srcs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			plugins[i], errs[i] = host.Load(ctx, src.module)
			took[i] = time.Since(start)
		}()
	}
	wg.Wait()
	for i, src := range srcs {
		if errs[i] != nil {
			ps.close(ctx)
			return nil, fmt.Errorf("load plugin %s: %w", src.origin, errs[i])
		}
		p := plugins[i]
		name := p.Manifest().Name
		if _, dup := ps.byName[name]; dup {
			ps.close(ctx)
			return nil, fmt.Errorf("load plugin %s: a plugin named %q is already loaded", src.origin, name)
		}
		l := &loaded{p: p, module: src.module}
		ps.byName[name] = l
		ps.ordered = append(ps.ordered, l)
		log.Info("plugin loaded", "name", name, "kind", p.Manifest().Kind, "version", p.Manifest().Version,
			"origin", src.origin, "sha256", p.Digest(), "took", took[i].Round(time.Millisecond))
	}
	return ps, nil
}

// decoder returns the decoder for protocol, or nil when none is loaded.
// The last loaded wins, so a decoder listed in hoop.toml replaces the
// built-in one for its protocol.
func (ps *pluginSet) decoder(protocol string) pgproxy.Decoder {
	for i := len(ps.ordered) - 1; i >= 0; i-- {
		l := ps.ordered[i]
		m := l.p.Manifest()
		if m.Kind != sdk.KindDecoder {
			continue
		}
		for _, pr := range m.Protocols {
			if pr == protocol {
				return decoderAdapter{l.p}
			}
		}
	}
	return nil
}

// policy looks up a policy plugin for the pipeline.
func (ps *pluginSet) policy(name string) (policy.Evaluator, string) {
	if l := ps.byName[name]; l != nil {
		return l.p, l.p.Manifest().Kind
	}
	return nil, ""
}

// plugin returns a loaded plugin by manifest name.
func (ps *pluginSet) plugin(name string) *wasmhost.Plugin {
	if l := ps.byName[name]; l != nil {
		return l.p
	}
	return nil
}

func (ps *pluginSet) list() []api.Plugin {
	out := make([]api.Plugin, 0, len(ps.ordered))
	for _, l := range ps.ordered {
		m := l.p.Manifest()
		out = append(out, api.Plugin{Name: m.Name, Kind: m.Kind, Version: m.Version, Protocols: m.Protocols, Digest: l.p.Digest(), Module: l.module})
	}
	return out
}

func (ps *pluginSet) close(ctx context.Context) {
	if ps != nil && ps.host != nil {
		ps.host.Close(ctx)
	}
}

// decoderAdapter gives the front ends the narrow view of a decoder plugin
// they need.
type decoderAdapter struct{ p *wasmhost.Plugin }

func (d decoderAdapter) Open(ctx context.Context) (pgproxy.DecodeStream, error) {
	s, err := d.p.Open(ctx, nil)
	if err != nil {
		return nil, err
	}
	return streamAdapter{s}, nil
}

type streamAdapter struct{ s *wasmhost.Stream }

func (s streamAdapter) Feed(ctx context.Context, dir int32, data []byte) ([]byte, error) {
	return s.s.Feed(ctx, sdk.Dir(dir), data)
}

func (s streamAdapter) Close() { s.s.Close() }
