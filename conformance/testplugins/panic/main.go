// Command panic is a misbehaving test decoder: input starting with "panic"
// panics (the SDK recovers it into an error), input starting with "trap"
// overflows the stack (a fatal error no recover can catch); anything else
// echoes one other event.
package main

import (
	"bytes"

	"hoop.dev/hoop/sdk"
)

type decoder struct{}

func (decoder) Open([]byte) (sdk.Stream, error) { return stream{}, nil }

type stream struct{}

func recurse(n int) int { return recurse(n+1) + 1 }

func (stream) Feed(dir sdk.Dir, data []byte, out []byte) ([]byte, error) {
	switch {
	case bytes.HasPrefix(data, []byte("panic")):
		panic("asked to panic")
	case bytes.HasPrefix(data, []byte("trap")):
		recurse(0)
	}
	out = append(out, `{"dir":"`+dir.String()+`","type":"other","text":`...)
	out = sdk.AppendString(out, string(data))
	return append(out, "}\n"...), nil
}

func (stream) Close() {}

func init() {
	sdk.RegisterDecoder(sdk.Manifest{Name: "panic", Version: "1.0.0", Protocols: []string{"line"},
		Description: "test decoder: panics or traps on request"}, decoder{})
}

func main() {}
