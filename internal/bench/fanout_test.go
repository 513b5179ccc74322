package main

import (
	"strings"
	"testing"
)

func TestReadSSE(t *testing.T) {
	long := strings.Repeat("A", 200<<10) // longer than the reader's buffer
	in := "event: status\ndata: {\"status\":\"live\"}\n\n" +
		"event: frame\nid: 1\ndata: {\"seq\":1,\"b64\":\"" + long + "\"}\n\n" +
		": keep-alive\n\n" +
		"event: policy\ndata: {\"seq\":1}\n\n" +
		"event: frame\nid: 2\ndata: {\"seq\":2,\"b64\":\"event: frame\"}\n\n" +
		"event: status\ndata: {\"status\":\"ended\",\"reason\":\"client_closed\"}\n\n"
	var counted int
	frames, ended, n, err := readSSE(strings.NewReader(in), func(k int) { counted += k })
	if err != nil {
		t.Fatal(err)
	}
	if frames != 2 || counted != 2 {
		t.Errorf("frames %d, counted %d, want 2", frames, counted)
	}
	if !ended {
		t.Error("ended status not seen")
	}
	if n != int64(len(in)) {
		t.Errorf("bytes %d, want %d", n, len(in))
	}
	if _, ended, _, _ := readSSE(strings.NewReader("event: status\ndata: {\"status\":\"live\"}\n\n"), func(int) {}); ended {
		t.Error("live stream reported ended")
	}
}

func TestFanoutKeptUp(t *testing.T) {
	ok := fanoutStats{Want: 50, Attached: 50, Ended: 50, Recorded: 900, MinFrames: 900, MaxFrames: 900}
	if !ok.keptUp() || !strings.Contains(ok.text(), ": kept up.") {
		t.Errorf("complete fan-out not kept up: %s", ok.text())
	}
	for name, f := range map[string]func(*fanoutStats){
		"one short":    func(s *fanoutStats) { s.MinFrames = 899 },
		"one detached": func(s *fanoutStats) { s.Attached = 49 },
		"one unended":  func(s *fanoutStats) { s.Ended = 49 },
	} {
		s := ok
		f(&s)
		if s.keptUp() || !strings.Contains(s.text(), "DID NOT keep up") {
			t.Errorf("%s: reported as kept up", name)
		}
	}
}
