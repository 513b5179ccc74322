package postgres

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// FuzzFeed feeds arbitrary frame sequences (see fuzzEncode) and checks that
// the decoder does not panic, writes only valid JSON lines, gives the same
// output for 1-byte pieces, returns at most one error per direction and
// never buffers more than MaxBuffered bytes of a message.
// Seeds: testdata/fuzz/FuzzFeed (from the corpus and the hand-written
// cases; regenerate with -update).
func FuzzFeed(f *testing.F) {
	for _, tc := range decodeCases {
		f.Add(fuzzEncode(tc.frames, 1<<16))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		frames := fuzzDecode(data)
		st := newStream()
		var out []byte
		nerr := 0
		for _, fr := range frames {
			var err error
			out, err = st.Feed(fr.Dir, fr.B, out)
			if err != nil {
				nerr++
			}
			if cap(st.c2s.body) > MaxBuffered+MaxBuffered/2 || cap(st.s2c.body) > MaxBuffered+MaxBuffered/2 {
				t.Fatalf("buffer above the cap: %d, %d", cap(st.c2s.body), cap(st.s2c.body))
			}
		}
		if nerr > 2 {
			t.Fatalf("%d errors, want at most one per direction", nerr)
		}
		checkLines(t, out)
		checkSplits(t, frames, out)
	})
}

// TestWriteFuzzSeeds writes the corpus captures as fuzz seeds (first 4 KiB
// of each) when run with -update.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite testdata/fuzz/FuzzFeed")
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzFeed")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range loadCorpus(t) {
		var buf bytes.Buffer
		fmt.Fprintf(&buf, "go test fuzz v1\n[]byte(%q)\n", fuzzEncode(c.frames, 4096))
		if err := os.WriteFile(filepath.Join(dir, c.name), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
