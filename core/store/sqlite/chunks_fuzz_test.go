package sqlite

import (
	"testing"
	"time"

	"hoop.dev/hoop/core/store"
)

// FuzzChunks: a corrupt chunk row is an error, never a panic.
func FuzzChunks(f *testing.F) {
	fr := store.Frame{Seq: 1, Time: time.Unix(0, 5), Dir: store.C2S, Data: []byte("abc")}
	ev := store.Event{Seq: 1, FrameSeq: 1, Time: time.Unix(0, 5), Kind: "statement", Text: "select 1"}
	f.Add(appendFrame(nil, &fr))
	f.Add(appendEvent(nil, &ev))
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeFrames("s", b, func(store.Frame) bool { return true })
		decodeEvents("s", b, func(store.Event) bool { return true })
	})
}
