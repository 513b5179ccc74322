package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hoop.dev/hoop/core/config"
	"hoop.dev/hoop/internal/testsrv"
)

func TestShippedPolicies(t *testing.T) {
	pol, err := shippedPolicies(filepath.Join("..", "..", shippedConfig), "bench")
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(pol, "[[policy]]"); n != 2 {
		t.Fatalf("%d [[policy]] blocks, want 2 (guardrail, analyzer):\n%s", n, pol)
	}
	if strings.Contains(pol, `"demo"`) {
		t.Errorf("a resources list still names demo:\n%s", pol)
	}
	// The bench config with them must load, with both policies on "bench".
	e := &env{dir: t.TempDir(), pg: &testsrv.Postgres{Host: "127.0.0.1", Port: 5432}, password: "pw"}
	path, _, _, err := writeHoopConfig(e, filepath.Join(e.dir, "h"), false, pol)
	if err != nil {
		t.Fatal(err)
	}
	cfgText, _ := os.ReadFile(path)
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("load bench config with policies: %v\n%s", err, cfgText)
	}
	var plugins []string
	for _, p := range cfg.Policy {
		if len(p.Resources) != 1 || p.Resources[0] != "bench" {
			t.Errorf("policy %s on %v, want [bench]", p.Plugin, p.Resources)
		}
		plugins = append(plugins, p.Plugin)
	}
	if strings.Join(plugins, ",") != "guardrail,analyzer" {
		t.Errorf("policies %v, want guardrail, analyzer", plugins)
	}
}

func TestPolicyBlocksRejects(t *testing.T) {
	for name, in := range map[string]string{
		"none":         "[gateway]\ndata_dir = \"x\"\n",
		"no resources": "[gateway]\n\n[[policy]]\nplugin = \"guardrail\"\n",
	} {
		if _, err := policyBlocks(in, "bench"); err == nil {
			t.Errorf("%s: extracted without error", name)
		}
	}
}
