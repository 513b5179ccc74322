package sdk

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// TestPlain8 checks the word-at-a-time test against the byte-wise rule for
// every byte value at every position of a word of plain bytes.
func TestPlain8(t *testing.T) {
	plain := func(c byte) bool { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\' }
	base := []byte("abcdefgh")
	for pos := range 8 {
		for c := range 256 {
			w := append([]byte(nil), base...)
			w[pos] = byte(c)
			if got, want := plain8(binary.LittleEndian.Uint64(w)), plain(byte(c)); got != want {
				t.Fatalf("plain8(%q) = %v, want %v", w, got, want)
			}
		}
	}
}

// TestDeepNestingFailsFast: a document nested past MaxDepth is refused
// where the limit is crossed, not after the whole input is read.
func TestDeepNestingFailsFast(t *testing.T) {
	for _, doc := range []string{
		strings.Repeat(`{"a":`, 5000),
		`{"x":` + strings.Repeat("[", 20000),
		`{"x":` + strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1) + "}",
	} {
		var in Input
		err := DecodeInput([]byte(doc), &in)
		if !errors.Is(err, ErrTooDeep) || !errors.Is(err, ErrSyntax) {
			t.Fatalf("DecodeInput(%.20q...) = %v, want ErrTooDeep", doc, err)
		}
	}
	ok := `{"x":` + strings.Repeat("[", MaxDepth-2) + strings.Repeat("]", MaxDepth-2) + `,"statement":{"text":"t"}}`
	var in Input
	if err := DecodeInput([]byte(ok), &in); err != nil || in.Statement.Text != "t" {
		t.Fatalf("nesting within MaxDepth: %v, %+v", err, in)
	}
}

func BenchmarkDecodeLongStatement(b *testing.B) {
	for _, text := range []string{strings.Repeat("x", 1<<20), strings.Repeat("select 'é';", 1<<16)} {
		data := AppendInput(nil, &Input{Statement: Statement{Text: text}})
		b.Run(text[:6], func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			var in Input
			for b.Loop() {
				if err := DecodeInput(data, &in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
