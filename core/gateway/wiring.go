package gateway

import (
	"context"
	"log/slog"
	"net/http"

	"hoop.dev/hoop/core/api"
	"hoop.dev/hoop/core/config"
	pgproxy "hoop.dev/hoop/core/proxy/postgres"
	"hoop.dev/hoop/core/store"
)

// TODO(#4): replaced by core/stream.Hub when the live stream lands.
type hub struct{}

func newHub(store.Store, *slog.Logger) *hub       { return &hub{} }
func (*hub) PublishFrames([]store.Frame)          {}
func (*hub) PublishEvents([]store.Event)          {}
func (*hub) PublishStatus(string, string, string) {}
func (*hub) ServeSSE(w http.ResponseWriter, _ *http.Request, _ store.Session) {
	api.WriteError(w, http.StatusNotImplemented, "live stream is not available yet")
}

// TODO(#4): the embedded audit view.
func webHandler() http.Handler { return nil }

// TODO(#3): the WASM plugin host.
type pluginSet struct{}

func loadPlugins(context.Context, *config.Config, *slog.Logger) (*pluginSet, error) {
	return &pluginSet{}, nil
}
func (*pluginSet) decoder(string) pgproxy.Decoder { return nil }
func (*pluginSet) list() []api.Plugin             { return nil }
func (*pluginSet) close(context.Context)          {}
