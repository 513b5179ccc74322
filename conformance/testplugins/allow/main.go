// Command allow is a test policy that allows everything, except statements
// containing a configured word ({"deny":"word"}), which it blocks.
package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"hoop.dev/hoop/sdk"
)

type policy struct{ deny string }

var _ sdk.Policy = (*policy)(nil)

func (p *policy) Configure(cfg []byte) error {
	var c struct {
		Deny string `json:"deny"`
	}
	if err := json.Unmarshal(cfg, &c); err != nil {
		return fmt.Errorf("configure allow: %w", err)
	}
	p.deny = c.Deny
	return nil
}

func (p *policy) Evaluate(in *sdk.Input) (sdk.Verdict, error) {
	if p.deny != "" && strings.Contains(in.Statement.Text, p.deny) {
		return sdk.Verdict{Decision: sdk.Block, Risk: 90, Rule: "deny-word", Reason: "statement contains " + p.deny}, nil
	}
	return sdk.Verdict{Decision: sdk.Allow, Risk: 0, Rule: "allow-all"}, nil
}

func init() {
	sdk.RegisterPolicy(sdk.Manifest{Name: "allow", Version: "1.0.0", Description: "test policy: allow all"}, &policy{})
}

func main() {}
