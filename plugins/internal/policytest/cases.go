// Package policytest holds the test helpers the first-party policy plugins
// share.
package policytest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"hoop.dev/hoop/sdk"
)

// caseFile is the conformance runner's case format for policies.
type caseFile struct {
	Config json.RawMessage `json:"config"`
	Cases  []struct {
		Name     string    `json:"name"`
		Input    sdk.Input `json:"input"`
		Decision string    `json:"decision"`
		Rule     string    `json:"rule"`
	} `json:"cases"`
}

// CheckCases proves a policy's shipped conformance cases
// (conformance/cases/policy/<name>/*.json) right against the native
// package, before any .wasm exists. Call it from the plugin's directory.
func CheckCases(t *testing.T, name string, newPolicy func() sdk.Policy) {
	t.Helper()
	files, err := filepath.Glob("../../conformance/cases/policy/" + name + "/*.json")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no conformance case files")
	}
	total := 0
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var cf caseFile
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&cf); err != nil {
				t.Fatalf("decode %s: %v", file, err)
			}
			p := newPolicy()
			if err := p.Configure(cf.Config); err != nil {
				t.Fatalf("Configure: %v", err)
			}
			for _, c := range cf.Cases {
				total++
				v, err := p.Evaluate(&c.Input)
				if err != nil {
					t.Errorf("%s: Evaluate: %v", c.Name, err)
					continue
				}
				if v.Decision != c.Decision || (c.Rule != "" && v.Rule != c.Rule) {
					t.Errorf("%s: %q = %s/%q (%s), want %s/%q", c.Name, c.Input.Statement.Text, v.Decision, v.Rule, v.Reason, c.Decision, c.Rule)
				}
			}
		})
	}
	if total < 20 {
		t.Errorf("only %d conformance cases, want at least 20", total)
	}
}
