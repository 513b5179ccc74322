package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"time"

	"hoop.dev/hoop/core/api"
	"hoop.dev/hoop/core/config"
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
	add := func(origin string, module []byte) error {
		start := time.Now()
		p, err := host.Load(ctx, module)
		if err != nil {
			return fmt.Errorf("load plugin %s: %w", origin, err)
		}
		name := p.Manifest().Name
		if _, dup := ps.byName[name]; dup {
			return fmt.Errorf("load plugin %s: a plugin named %q is already loaded", origin, name)
		}
		l := &loaded{p: p, module: module}
		ps.byName[name] = l
		ps.ordered = append(ps.ordered, l)
		log.Info("plugin loaded", "name", name, "kind", p.Manifest().Kind, "version", p.Manifest().Version,
			"origin", origin, "sha256", p.Digest(), "took", time.Since(start).Round(time.Millisecond))
		return nil
	}
	mods := builtin.Modules()
	if len(mods) == 0 {
		log.Warn("no built-in plugins are embedded in this binary (build with `make build`): statements are not decoded")
	}
	for _, m := range mods {
		if err := add("builtin:"+m.Name, m.Bytes); err != nil {
			ps.close(ctx)
			return nil, err
		}
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
		if err := add(pc.Path, b); err != nil {
			ps.close(ctx)
			return nil, err
		}
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
