package postgres

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"hoop.dev/hoop/sdk"
)

var update = flag.Bool("update", false, "rewrite the expected .events.jsonl files and the fuzz seed corpus")

// corpusDir is the conformance corpus shared with the conformance runner.
const corpusDir = "../../conformance/cases/postgres"

// frame is one relayed read() chunk.
type frame struct {
	Dir sdk.Dir
	B   []byte
}

// frameLine is the on-disk form of a frame.
type frameLine struct {
	Dir string `json:"dir"`
	Hex string `json:"hex"`
}

func writeFrames(path string, frames []frame) error {
	var buf bytes.Buffer
	for _, f := range frames {
		line, err := json.Marshal(frameLine{Dir: f.Dir.String(), Hex: hex.EncodeToString(f.B)})
		if err != nil {
			return err
		}
		buf.Write(line)
		buf.WriteByte('\n')
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func readFrames(t testing.TB, path string) []frame {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var frames []frame
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<26)
	for sc.Scan() {
		var l frameLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		b, err := hex.DecodeString(l.Hex)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		d := sdk.C2S
		switch l.Dir {
		case "s2c":
			d = sdk.S2C
		case "c2s":
		default:
			t.Fatalf("%s: bad dir %q", path, l.Dir)
		}
		frames = append(frames, frame{d, b})
	}
	return frames
}

// corpusCase is one capture of the corpus.
type corpusCase struct {
	name   string
	frames []frame
}

func loadCorpus(t testing.TB) []corpusCase {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(corpusDir, "*.frames.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(paths)
	var cases []corpusCase
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".frames.jsonl")
		cases = append(cases, corpusCase{name, readFrames(t, p)})
	}
	return cases
}

// decodeFrames feeds frames to a new stream, one Feed per frame, and
// returns the concatenated output and the Feed errors.
func decodeFrames(t testing.TB, frames []frame) ([]byte, []error) {
	t.Helper()
	st, err := New().Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var out []byte
	var errs []error
	for _, f := range frames {
		out, err = st.Feed(f.Dir, f.B, out)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errs
}

// fuzzEncode is the fuzz input form of a frame sequence: per frame, one
// direction byte (low bit), a 2-byte big-endian length and the bytes.
func fuzzEncode(frames []frame, limit int) []byte {
	var b []byte
	for _, f := range frames {
		p := f.B
		for len(p) > 0 && len(b) < limit {
			n := min(len(p), 0xffff, limit-len(b))
			b = append(b, byte(f.Dir), byte(n>>8), byte(n))
			b = append(b, p[:n]...)
			p = p[n:]
		}
	}
	return b
}

// fuzzDecode is the inverse of fuzzEncode; a short tail becomes a last
// frame with what is there.
func fuzzDecode(b []byte) []frame {
	var frames []frame
	for len(b) > 0 {
		d := sdk.Dir(b[0] & 1)
		b = b[1:]
		n := len(b)
		if len(b) >= 2 {
			n = min(int(b[0])<<8|int(b[1]), len(b)-2)
			b = b[2:]
		} else {
			b = b[:0]
			n = 0
		}
		frames = append(frames, frame{d, b[:n]})
		b = b[n:]
	}
	return frames
}
