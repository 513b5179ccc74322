// Command garbage is a misbehaving test policy whose verdicts break the
// schema: an unknown decision and a risk outside 0-100.
package main

import "hoop.dev/hoop/sdk"

type policy struct{ n int }

func (*policy) Configure([]byte) error { return nil }

func (p *policy) Evaluate(*sdk.Input) (sdk.Verdict, error) {
	p.n++
	return sdk.Verdict{Decision: "perhaps", Risk: 100 + p.n}, nil
}

func init() {
	sdk.RegisterPolicy(sdk.Manifest{Name: "garbage", Version: "1.0.0",
		Description: "test policy: invalid verdicts"}, &policy{})
}

func main() {}
