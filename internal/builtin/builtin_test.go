package builtin_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"hoop.dev/hoop/conformance"
	"hoop.dev/hoop/internal/builtin"
)

// TestBuiltinsConform certifies every plugin embedded in the binary with the
// same suite third-party plugins face.
func TestBuiltinsConform(t *testing.T) {
	mods := builtin.Modules()
	if len(mods) == 0 {
		t.Fatal("no built-in plugins embedded: run `make wasm` (make test does) before go test")
	}
	for _, m := range mods {
		t.Run(m.Name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			rep, err := conformance.Run(context.Background(), m.Bytes, conformance.Options{
				CacheDir: filepath.Join(os.TempDir(), "hoop-test-wasm-cache")})
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range rep.Checks {
				if !c.Pass && !c.Skipped {
					t.Errorf("%s: %s", c.Name, c.Detail)
				}
			}
			t.Logf("%s: %d checks in %v", m.Name, len(rep.Checks), time.Since(start).Round(time.Millisecond))
		})
	}
}
