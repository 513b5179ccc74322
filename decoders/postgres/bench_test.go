package postgres

import (
	"testing"

	"hoop.dev/hoop/sdk"
)

// BenchmarkFeedQuery is the per-statement cost: one Feed of a ~100-byte
// Query on an established stream.
func BenchmarkFeedQuery(b *testing.B) {
	st := newStream()
	st.Feed(sdk.C2S, startup.B, nil)
	q := msg('Q', cstr("select id, name, email from users where id = 42 and tenant = 'acme' order by created_at desc limit 1"))
	out := make([]byte, 0, 4096)
	b.SetBytes(int64(len(q)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if out, err = st.Feed(sdk.C2S, q, out[:0]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCorpus is batched throughput over the whole recorded corpus
// (handshakes, queries, COPY, a 3000-row result), one Feed per frame and
// a new stream per capture.
func BenchmarkCorpus(b *testing.B) {
	cases := loadCorpus(b)
	var total int64
	for _, c := range cases {
		for _, f := range c.frames {
			total += int64(len(f.B))
		}
	}
	out := make([]byte, 0, 64<<10)
	b.SetBytes(total)
	b.ReportAllocs()
	for b.Loop() {
		for _, c := range cases {
			st := newStream()
			for _, f := range c.frames {
				out, _ = st.Feed(f.Dir, f.B, out[:0])
			}
		}
	}
}
