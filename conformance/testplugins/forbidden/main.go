// Command forbidden is a test decoder that imports a host function outside
// WASI (see import_wasip1.go), which the host must refuse to load.
package main

import "hoop.dev/hoop/sdk"

type decoder struct{}

func (decoder) Open([]byte) (sdk.Stream, error) { return stream{}, nil }

type stream struct{}

func (stream) Feed(_ sdk.Dir, data []byte, out []byte) ([]byte, error) {
	something(int32(len(data)))
	return out, nil
}

func (stream) Close() {}

func init() {
	sdk.RegisterDecoder(sdk.Manifest{Name: "forbidden", Version: "1.0.0", Protocols: []string{"line"},
		Description: "test decoder: imports env.something"}, decoder{})
}

func main() {}
