package record

import (
	"bufio"
	"bytes"
	"testing"
	"time"

	"hoop.dev/hoop/core/store"
)

// FuzzReadRecord: whatever a journal file holds after a crash, replay ends
// cleanly (a record or errTorn/EOF), never panics, and a valid record
// round-trips.
func FuzzReadRecord(f *testing.F) {
	fr := store.Frame{Session: "s_1", Seq: 7, Time: time.Unix(1, 2), Dir: store.S2C, Data: []byte("Q\x00\x00\x00\x0dselect 1\x00")}
	ev := store.Event{Session: "s_1", Seq: 3, FrameSeq: 7, Time: time.Unix(1, 2), Kind: "statement", Text: "select 1", Rule: "r", Risk: 5, Detail: "d"}
	f.Add(appendFrameRecord(nil, &fr))
	f.Add(appendEventRecord(nil, &ev))
	f.Add(appendEventRecord(appendFrameRecord(nil, &fr), &ev)[:40])
	f.Add([]byte{255, 255, 255, 255, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bufio.NewReader(bytes.NewReader(b))
		for range 1000 {
			fr, ev, err := readRecord(r)
			if err != nil {
				return
			}
			var again []byte
			if fr != nil {
				again = appendFrameRecord(nil, fr)
			} else {
				again = appendEventRecord(nil, ev)
			}
			if _, _, err := readRecord(bufio.NewReader(bytes.NewReader(again))); err != nil {
				t.Fatalf("re-encoded record does not read back: %v", err)
			}
		}
	})
}
