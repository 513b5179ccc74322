package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandlerServesEmbeddedAssets(t *testing.T) {
	srv := httptest.NewServer(Handler())
	defer srv.Close()
	for _, tc := range []struct {
		path, typ, contains string
		status              int
	}{
		{"/", "text/html", `id="main"`, 200},
		{"/", "text/html", `src="app.js"`, 200},
		{"/app.js", "text/javascript", "SessionView", 200},
		{"/worker.js", "text/javascript", "hoop_feed", 200},
		{"/wasi.js", "text/javascript", "wasi_snapshot_preview1", 200},
		{"/style.css", "text/css", ".vrow", 200},
		{"/nope.js", "", "", 404},
	} {
		resp, err := http.Get(srv.URL + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d", tc.path, resp.StatusCode, tc.status)
			continue
		}
		if tc.status != 200 {
			continue
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, tc.typ) {
			t.Errorf("%s: content type %q, want %s", tc.path, ct, tc.typ)
		}
		if !strings.Contains(string(body), tc.contains) {
			t.Errorf("%s: body lacks %q", tc.path, tc.contains)
		}
		if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Errorf("%s: CSP %q", tc.path, csp)
		}
	}
}

// The view must work offline: no asset may reference another origin.
func TestAssetsHaveNoExternalReferences(t *testing.T) {
	for _, name := range []string{"index.html", "app.js", "session.js", "worker.js", "wasi.js", "decoder.js", "sse.js", "api.js", "plugins.js", "vlist.js", "format.js", "sha256.js", "style.css"} {
		b, err := static.ReadFile("static/" + name)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, bad := range []string{"http://", "https://", "//cdn"} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s references %q", name, bad)
			}
		}
	}
}
