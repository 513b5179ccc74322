package web

import (
	"os/exec"
	"testing"
)

// TestModulesUnderNode runs e2e/unit.mjs: the SSE parser, the SHA-256
// fallback and the display helpers, tested without a browser.
func TestModulesUnderNode(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed (web/e2e/install.sh installs it)")
	}
	out, err := exec.Command(node, "e2e/unit.mjs").CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("unit.mjs: %v", err)
	}
}
