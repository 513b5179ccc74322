package browser

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

var (
	echoOnce sync.Once
	echoWasm []byte
	echoErr  error
)

// echoModule builds testdata/echodecoder as a wasip1 c-shared reactor, the
// same way real decoders are built.
func echoModule(t *testing.T) []byte {
	t.Helper()
	echoOnce.Do(func() {
		dir, err := os.MkdirTemp("", "echowasm")
		if err != nil {
			echoErr = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "echo.wasm")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", out, "./testdata/echodecoder")
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if b, err := cmd.CombinedOutput(); err != nil {
			echoErr = err
			t.Logf("%s", b)
			return
		}
		echoWasm, echoErr = os.ReadFile(out)
	})
	if echoErr != nil {
		t.Fatalf("build echo decoder: %v", echoErr)
	}
	return echoWasm
}

// echoNative is what the echo decoder emits for frames, computed in Go:
// the reference the browser output must equal byte for byte.
func echoNative(frames []Frame) string {
	var pending [2]string
	var b strings.Builder
	for _, f := range frames {
		d := 0
		if f.Dir == "s2c" {
			d = 1
		}
		pending[d] += string(f.Data)
		for {
			i := strings.IndexByte(pending[d], '\n')
			if i < 0 {
				break
			}
			line := pending[d][:i]
			pending[d] = pending[d][i+1:]
			if strings.HasPrefix(line, "ALLOC ") {
				line += " " + line[len("ALLOC "):]
			}
			typ := "statement"
			if d == 1 {
				typ = "result"
			}
			b.WriteString(`{"dir":"` + f.Dir + `","type":"` + typ + `","text":` + strconv.Quote(line) + "}\n")
		}
	}
	return b.String()
}

func TestParityWithNativeOnEchoDecoder(t *testing.T) {
	frames := []Frame{
		{"c2s", []byte("select 1\n")},
		{"s2c", []byte("SELECT 1\n")},
		{"c2s", []byte("select 'split")}, // incomplete input is kept for the next feed
		{"c2s", []byte(" across frames'\nselect 3\n")},
		{"s2c", []byte("caf\xc3\xa9 \"quoted\"\n")},
		{"c2s", []byte("SLEEP\n")},          // poll_oneoff through the shim
		{"c2s", []byte("ALLOC 33554432\n")}, // grows guest memory: views must be recreated
		{"s2c", []byte("")},
	}
	got := RunInBrowser(t, echoModule(t), frames)
	want := echoNative(frames)
	if string(got) != want {
		t.Fatalf("browser output differs from native\n got: %q\nwant: %q", got, want)
	}
}

func TestParityFromFramesFile(t *testing.T) {
	frames, err := ReadFrames(filepath.Join("testdata", "echo.frames.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	got := RunInBrowser(t, echoModule(t), frames)
	want, err := os.ReadFile(filepath.Join("testdata", "echo.events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) || string(want) != echoNative(frames) {
		t.Fatalf("got %q\nwant %q", got, want)
	}
}

// A rejected frame (-1), a guest that loops forever and a guest panic are
// each reported for their frame; the Worker is replaced and brought back to
// the stream state it had (the partial "sel" survives), and decoding goes on.
func TestWorkerFaultsAreContained(t *testing.T) {
	frames := []Frame{
		{"c2s", []byte("select 1\n")},
		{"c2s", []byte("BAD\n")},
		{"c2s", []byte("sel")},
		{"s2c", []byte("LOOP\n")}, // its own direction: "sel" stays pending on c2s
		{"c2s", []byte("ect 2\n")},
		{"c2s", []byte("PANIC\n")},
		{"c2s", []byte("select 3\n")},
	}
	r := Run(t, echoModule(t), frames, Options{Deadline: 1500 * time.Millisecond})
	want := `{"dir":"c2s","type":"statement","text":"select 1"}` + "\n" +
		`{"dir":"c2s","type":"statement","text":"select 2"}` + "\n" +
		`{"dir":"c2s","type":"statement","text":"select 3"}` + "\n"
	if string(r.Lines) != want {
		t.Fatalf("lines %q, want %q", r.Lines, want)
	}
	var seqs []int
	for _, f := range r.Failures {
		seqs = append(seqs, f.Seq)
	}
	if len(seqs) != 3 || seqs[0] != 2 || seqs[1] != 4 || seqs[2] != 6 {
		t.Fatalf("failures %+v, want frames 2, 4 and 6", r.Failures)
	}
	if !strings.Contains(r.Failures[0].Error, "bad input") {
		t.Fatalf("rejected frame error %q should carry hoop_error", r.Failures[0].Error)
	}
	if r.Restarts < 2 {
		t.Fatalf("restarts = %d, want at least 2 (loop and panic)", r.Restarts)
	}
	if !strings.Contains(string(r.Manifest), `"kind":"decoder"`) {
		t.Fatalf("manifest %s", r.Manifest)
	}
}
