package postgres

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"hoop.dev/hoop/sdk/sdktest"
)

// TestCorpusAsWASM runs the capture corpus through the
// built postgres.wasm, in the sandbox the gateway uses, and requires the
// same bytes as the native package.
func TestCorpusAsWASM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the module; skipped in -short")
	}
	dec := sdktest.WASMDecoder(t, sdktest.BuildWASM(t, "wasm"))
	for _, c := range loadCorpus(t) {
		t.Run(c.name, func(t *testing.T) {
			st, err := dec.Open(nil)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			var out []byte
			for _, f := range c.frames {
				b, err := st.Feed(f.Dir, f.B)
				if err != nil {
					t.Fatalf("feed: %v", err)
				}
				out = append(out, b...)
			}
			want, err := os.ReadFile(filepath.Join(corpusDir, c.name+".events.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			native, _ := decodeFrames(t, c.frames)
			if !bytes.Equal(out, want) || !bytes.Equal(out, native) {
				t.Fatalf("wasm output differs from the native decoder's:\nwasm:   %.400s\nnative: %.400s", out, native)
			}
		})
	}
}
