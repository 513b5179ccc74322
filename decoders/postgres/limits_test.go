package postgres

import (
	"bytes"
	"strings"
	"testing"

	"hoop.dev/hoop/sdk"
)

// TestLongQueryTruncated: a Query above MaxBuffered is reported with its
// first MaxBuffered bytes and "truncated":true, and the next message after
// it still decodes, whether fed whole or in pieces.
func TestLongQueryTruncated(t *testing.T) {
	text := "select '" + strings.Repeat("a", MaxBuffered) + "'"
	frames := []frame{startup, c2s(msg('Q', cstr(text)), msg('Q', cstr("select 1")))}
	want := startupEvent +
		`{"dir":"c2s","type":"statement","proto":"simple","text":"` + text[:MaxBuffered] + `","truncated":true}` + "\n" +
		`{"dir":"c2s","type":"statement","proto":"simple","text":"select 1"}` + "\n"
	out, errs := decodeFrames(t, frames)
	if string(out) != want || len(errs) > 0 {
		t.Fatalf("got %d bytes, errors %v; output starts %.200s", len(out), errs, out)
	}
	var pieces []frame
	for p := frames[1].B; len(p) > 0; p = p[min(len(p), 4096):] {
		pieces = append(pieces, c2s(p[:min(len(p), 4096)]))
	}
	out, _ = decodeFrames(t, append([]frame{startup}, pieces...))
	if string(out) != want {
		t.Fatalf("pieces: output differs; starts %.200s", out)
	}
}

// TestSkippedBodiesAreNotBuffered: DataRow and CopyData bodies fed across
// many Feeds are counted without growing the stream's buffers.
func TestSkippedBodiesAreNotBuffered(t *testing.T) {
	st := newStream()
	big := msg('D', i16(1), i32(4<<20), bytes.Repeat([]byte{'x'}, 4<<20))
	var out []byte
	for i := 0; i < 3; i++ {
		for p := big; len(p) > 0; p = p[min(len(p), 1000):] {
			var err error
			if out, err = st.Feed(sdk.S2C, p[:min(len(p), 1000)], out); err != nil {
				t.Fatal(err)
			}
			if cap(st.s2c.body) > 64 {
				t.Fatalf("body buffer grew to %d bytes while skipping a DataRow", cap(st.s2c.body))
			}
		}
	}
	out, _ = st.Feed(sdk.S2C, msg('C', cstr("SELECT 3")), out)
	if want := `{"dir":"s2c","type":"result","tag":"SELECT 3","rows":3}` + "\n"; string(out) != want {
		t.Fatalf("got %s want %s", out, want)
	}
}

func TestOpenConfig(t *testing.T) {
	for _, tc := range []struct {
		cfg string
		ok  bool
	}{{"", true}, {"{}", true}, {" \n", true}, {`{"nope":1}`, false}, {"[", false}} {
		_, err := New().Open([]byte(tc.cfg))
		if (err == nil) != tc.ok {
			t.Errorf("Open(%q) error %v, want ok=%v", tc.cfg, err, tc.ok)
		}
	}
}

func TestFeedUnknownDirection(t *testing.T) {
	st, _ := New().Open(nil)
	if _, err := st.Feed(sdk.Dir(7), []byte("x"), nil); err == nil {
		t.Fatal("Feed with direction 7 succeeded")
	}
}
