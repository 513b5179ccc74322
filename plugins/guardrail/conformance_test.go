package guardrail

import (
	"testing"

	"hoop.dev/hoop/plugins/internal/policytest"
	"hoop.dev/hoop/sdk"
)

// TestConformanceCases proves the shipped conformance cases right against
// the native package.
func TestConformanceCases(t *testing.T) {
	policytest.CheckCases(t, Manifest.Name, func() sdk.Policy { return New() })
}
