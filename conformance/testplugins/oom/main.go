// Command oom is a misbehaving test decoder that keeps every byte it is
// fed, 1 MiB at a time, until the memory cap kills it.
package main

import "hoop.dev/hoop/sdk"

type decoder struct{}

func (decoder) Open([]byte) (sdk.Stream, error) { return &stream{}, nil }

type stream struct{ hoard [][]byte }

func (s *stream) Feed(_ sdk.Dir, data []byte, out []byte) ([]byte, error) {
	for range 64 {
		b := make([]byte, 1<<20)
		copy(b, data)
		s.hoard = append(s.hoard, b)
	}
	return out, nil
}

func (s *stream) Close() {}

func init() {
	sdk.RegisterDecoder(sdk.Manifest{Name: "oom", Version: "1.0.0", Protocols: []string{"line"},
		Description: "test decoder: exhausts memory"}, decoder{})
}

func main() {}
