package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"hoop.dev/hoop/sdk/sdktest"
)

func writeModule(t *testing.T, name string) string {
	t.Helper()
	wasm := sdktest.BuildWASM(t, "../conformance/testplugins/"+name)
	path := t.TempDir() + "/" + name + ".wasm"
	if err := os.WriteFile(path, wasm, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPluginInspect(t *testing.T) {
	var out, errs bytes.Buffer
	if err := cmdPlugin([]string{"inspect", writeModule(t, "echo"), "--json"}, &out, &errs); err != nil {
		t.Fatalf("%v: %s", err, errs.String())
	}
	if !strings.Contains(out.String(), `"abi_v1": true`) || !strings.Contains(out.String(), `"name": "echo"`) {
		t.Fatalf("output: %s", out.String())
	}
	out.Reset()
	err := cmdPlugin([]string{"inspect", writeModule(t, "forbidden")}, &out, &errs)
	if err == nil || !strings.Contains(out.String(), "forbidden import env.something") {
		t.Fatalf("forbidden: err %v, output %s", err, out.String())
	}
}

func TestConformanceRejectsWithReason(t *testing.T) {
	for _, c := range []struct{ plugin, why string }{
		{"loop", "timeout"},
		{"oom", "oom"},
		{"forbidden", "forbidden import env.something"},
	} {
		t.Run(c.plugin, func(t *testing.T) {
			var out, errs bytes.Buffer
			err := cmdConformance([]string{writeModule(t, c.plugin), "--feeds", "200", "--timeout", "300ms"}, &out, &errs)
			if err == nil {
				t.Fatalf("conformance passed: %s", out.String())
			}
			if !strings.Contains(errs.String(), "FAIL ") || !strings.Contains(errs.String(), c.why) {
				t.Fatalf("stderr does not say %q: %s", c.why, errs.String())
			}
		})
	}
	var out, errs bytes.Buffer
	if err := cmdConformance([]string{writeModule(t, "echo"), "--feeds", "2000"}, &out, &errs); err != nil {
		t.Fatalf("echo: %v\n%s%s", err, out.String(), errs.String())
	}
}
