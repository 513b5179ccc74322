// Command loop is a misbehaving test decoder whose feed never returns.
package main

import "hoop.dev/hoop/sdk"

type decoder struct{}

func (decoder) Open([]byte) (sdk.Stream, error) { return stream{}, nil }

type stream struct{}

var spins int

func (stream) Feed(_ sdk.Dir, data []byte, out []byte) ([]byte, error) {
	for len(data) > 0 {
		spins++
	}
	return out, nil
}

func (stream) Close() {}

func init() {
	sdk.RegisterDecoder(sdk.Manifest{Name: "loop", Version: "1.0.0", Protocols: []string{"line"},
		Description: "test decoder: loops forever in feed"}, decoder{})
}

func main() {}
