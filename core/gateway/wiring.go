package gateway

import (
	"log/slog"
	"net/http"

	"hoop.dev/hoop/core/api"
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
