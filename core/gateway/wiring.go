package gateway

import (
	"context"
	"log/slog"
	"net/http"

	"hoop.dev/hoop/core/api"
	"hoop.dev/hoop/core/config"
	pgproxy "hoop.dev/hoop/core/proxy/postgres"
	"hoop.dev/hoop/core/store"
	"hoop.dev/hoop/core/stream"
	"hoop.dev/hoop/web"
)

// newHub is the live stream fan-out (SSE) shared by the recorder, the
// session registry and the API.
func newHub(st store.Store, log *slog.Logger) *stream.Hub {
	return stream.NewHub(st, log.With("component", "stream"))
}

// webHandler is the embedded audit view.
func webHandler() http.Handler { return web.Handler() }

// TODO(#3): the WASM plugin host.
type pluginSet struct{}

func loadPlugins(context.Context, *config.Config, *slog.Logger) (*pluginSet, error) {
	return &pluginSet{}, nil
}
func (*pluginSet) decoder(string) pgproxy.Decoder { return nil }
func (*pluginSet) list() []api.Plugin             { return nil }
func (*pluginSet) close(context.Context)          {}
