// Command echo is a well-behaved test decoder for protocol "line": every
// newline-terminated line becomes a statement event (client to server) or a
// result event (server to client). A partial line is kept for the next feed;
// a line longer than 64 KiB is an error and is discarded.
package main

import (
	"bytes"
	"errors"

	"hoop.dev/hoop/sdk"
)

const maxLine = 64 << 10

type decoder struct{}

var _ sdk.Decoder = decoder{}

func (decoder) Open([]byte) (sdk.Stream, error) { return &stream{}, nil }

type stream struct{ partial [2][]byte }

func (s *stream) Feed(dir sdk.Dir, data []byte, out []byte) ([]byte, error) {
	buf := append(s.partial[dir&1], data...)
	for {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			break
		}
		out = appendEvent(out, dir, buf[:i])
		buf = buf[i+1:]
	}
	if len(buf) > maxLine {
		s.partial[dir&1] = s.partial[dir&1][:0]
		return out, errors.New("line longer than 64 KiB")
	}
	// Keep the partial line in a buffer of our own: data is the host's.
	s.partial[dir&1] = append(s.partial[dir&1][:0:0], buf...)
	return out, nil
}

func appendEvent(out []byte, dir sdk.Dir, line []byte) []byte {
	typ := "statement"
	if dir == sdk.S2C {
		typ = "result"
	}
	out = append(out, `{"dir":"`...)
	out = append(out, dir.String()...)
	out = append(out, `","type":"`...)
	out = append(out, typ...)
	out = append(out, `","text":`...)
	out = sdk.AppendString(out, string(line))
	return append(out, "}\n"...)
}

func (s *stream) Close() {}

func init() {
	sdk.RegisterDecoder(sdk.Manifest{Name: "echo", Version: "1.0.0", Protocols: []string{"line"},
		Description: "test decoder: one event per line"}, decoder{})
}

func main() {}
