package wasmhost_test

import (
	"context"
	"testing"

	"hoop.dev/hoop/core/wasmhost"
	"hoop.dev/hoop/sdk"
)

// BenchmarkFeed measures one Feed: the deadline context, hoop_buffer, the
// input copy, hoop_feed and the output copy.
func BenchmarkFeed(b *testing.B) {
	ctx := context.Background()
	h, _ := newHost(b, wasmhost.Limits{})
	p := load(b, h, "echo")
	st, err := p.Open(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"newline-1B", []byte("\n")},
		{"line-100B", []byte("SELECT id, name, email FROM users WHERE id = 42 AND status = 'active' ORDER BY created_at DESC;\n")},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.data)))
			for b.Loop() {
				if _, err := st.Feed(ctx, sdk.C2S, c.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEvaluate measures one policy evaluation of a small input.
func BenchmarkEvaluate(b *testing.B) {
	ctx := context.Background()
	h, _ := newHost(b, wasmhost.Limits{})
	p := load(b, h, "allow")
	in := sdk.AppendInput(nil, &sdk.Input{Identity: sdk.Identity{Name: "ci", Kind: "machine"}, Resource: "db",
		Role: "ro", Protocol: "postgres", Session: "s1", Statement: sdk.Statement{Text: "SELECT 1"}})
	for b.Loop() {
		if _, err := p.Evaluate(ctx, in); err != nil {
			b.Fatal(err)
		}
	}
}
