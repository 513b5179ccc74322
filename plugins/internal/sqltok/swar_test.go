package sqltok

import "testing"

// TestSWAR checks the word-at-a-time tests against the byte-wise rules for
// every byte value at every position of a word that passes both.
func TestSWAR(t *testing.T) {
	for pos := range 8 {
		for c := range 256 {
			w := []byte("abc_$9zq")
			w[pos] = byte(c)
			if got, want := identCont8(load8(string(w), 0)), isIdentCont(byte(c)); got != want {
				t.Fatalf("identCont8(%q) = %v, want %v", w, got, want)
			}
			if got, want := noUpper8(load8(string(w), 0)), !(c >= 'A' && c <= 'Z'); got != want {
				t.Fatalf("noUpper8(%q) = %v, want %v", w, got, want)
			}
		}
	}
}
