// Command looppolicy is a misbehaving test policy whose evaluate never
// returns.
package main

import "hoop.dev/hoop/sdk"

type policy struct{}

var spins int

func (policy) Configure([]byte) error { return nil }

func (policy) Evaluate(in *sdk.Input) (sdk.Verdict, error) {
	for in != nil {
		spins++
	}
	return sdk.Verdict{Decision: sdk.Allow}, nil
}

func init() {
	sdk.RegisterPolicy(sdk.Manifest{Name: "looppolicy", Version: "1.0.0",
		Description: "test policy: loops forever in evaluate"}, policy{})
}

func main() {}
