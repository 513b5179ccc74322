package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// shippedConfig is the repository's example configuration, whose
// [[policy]] blocks (guardrail, analyzer) the policies scenarios use as
// they ship.
const shippedConfig = "hoop.toml"

// reResources is a policy's resources line.
var reResources = regexp.MustCompile(`(?m)^(\s*)resources\s*=\s*\[.*\]\s*$`)

// shippedPolicies returns the [[policy]] blocks of the config at path (from
// the first [[policy]] header to the end of the file, where hoop.toml keeps
// them) with every resources list replaced by [resource].
func shippedPolicies(path, resource string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("read policies (run from the repository root): %w", err)
	}
	return policyBlocks(string(b), resource)
}

// policyBlocks is shippedPolicies on the config's text.
func policyBlocks(cfg, resource string) (string, error) {
	i := strings.Index(cfg, "\n[[policy]]")
	if i < 0 {
		return "", fmt.Errorf("extract policies: no [[policy]] block")
	}
	blocks := cfg[i:]
	n := strings.Count(blocks, "\n[[policy]]")
	if m := len(reResources.FindAllStringIndex(blocks, -1)); m != n {
		return "", fmt.Errorf("extract policies: %d [[policy]] blocks but %d resources lines", n, m)
	}
	return "\n" + reResources.ReplaceAllString(blocks, fmt.Sprintf("${1}resources = [%q]", resource)), nil
}

// policyScenarios compare hoop with and without the shipped policy
// pipeline on select-only at 8 clients.
func policyScenarios() []scenario {
	var s []scenario
	for _, m := range []struct{ mode, cache string }{
		{"simple", "literal aid values: nearly every statement text is new, so the verdict cache (4096 texts) mostly misses"},
		{"extended", "one statement text with $1: the verdict cache (same text, 1 min) answers nearly every statement"},
	} {
		s = append(s, scenario{Name: "policies-" + m.mode + "-8c", Mode: m.mode, Clients: 8, Threads: 2,
			Targets: []string{"hoop", "hoop-policies"}, Subject: "hoop-policies",
			Note: "hoop with no policies vs hoop with the shipped guardrail and analyzer policies; " + m.cache})
	}
	return s
}
