//go:build wasip1

// Command baddecoder is the real PostgreSQL decoder with sabotage switches,
// for tests of the gateway under a misbehaving plugin: a client statement
// containing "hoop:loop" makes the feed spin forever, "hoop:oom" makes it
// allocate without bound, "hoop:panic" makes it trap.
package main

import (
	"bytes"

	"hoop.dev/hoop/decoders/postgres"
	"hoop.dev/hoop/sdk"
)

type decoder struct{ inner sdk.Decoder }

func (d decoder) Open(cfg []byte) (sdk.Stream, error) {
	s, err := d.inner.Open(cfg)
	return stream{s}, err
}

type stream struct{ sdk.Stream }

var sink [][]byte
var spins int

func (s stream) Feed(dir sdk.Dir, data []byte, out []byte) ([]byte, error) {
	switch {
	case bytes.Contains(data, []byte("hoop:loop")):
		for {
			spins++
		}
	case bytes.Contains(data, []byte("hoop:oom")):
		for {
			sink = append(sink, make([]byte, 1<<20))
		}
	case bytes.Contains(data, []byte("hoop:panic")):
		var m map[string]int
		m["x"] = 1
	}
	return s.Stream.Feed(dir, data, out)
}

func init() {
	m := postgres.Manifest
	m.Name = "baddecoder"
	sdk.RegisterDecoder(m, decoder{postgres.New()})
}

func main() {}
