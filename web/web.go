// Package web is the browser audit view: static assets embedded in the
// binary (no CDN, works offline) that list sessions, follow one live over
// SSE and decode its frames in a Web Worker with the same decoder .wasm the
// gateway runs. The API it calls is served by core/api; this package only
// serves files.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed static
var static embed.FS

// Assets returns the view's files (index.html, app.js, worker.js, wasi.js,
// ...) rooted at the top, for tools that reuse the Worker code, such as the
// browser parity runner.
func Assets() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed directive guarantees the directory
	}
	return sub
}

// Handler serves the audit view at /. Mount it at the root of the API
// listener; the view calls /api/... and /plugins/... on the same origin.
func Handler() http.Handler {
	files := http.FileServerFS(Assets())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache")
		h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'")
		h.Set("Referrer-Policy", "no-referrer")
		files.ServeHTTP(w, r)
	})
}
