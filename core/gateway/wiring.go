package gateway

import (
	"log/slog"
	"net/http"

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
