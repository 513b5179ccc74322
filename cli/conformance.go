package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"hoop.dev/hoop/conformance"
	"hoop.dev/hoop/core/wasmhost"
)

// cmdConformance runs `hoop conformance FILE.wasm [--json] [--cases DIR]`.
// It prints one line per failed check and returns an error when any failed.
func cmdConformance(args []string, stdout, stderr io.Writer) error {
	usage := "usage: hoop conformance FILE.wasm [--json] [--cases DIR] [--timeout D] [--feeds N]"
	fs := flag.NewFlagSet("conformance", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	cases := fs.String("cases", "", "a directory laid out like conformance/cases (default: the built-in cases)")
	timeout := fs.Duration("timeout", conformance.DefaultCallTimeout, "per-call deadline")
	feeds := fs.Int("feeds", 100000, "feeds or evaluations of the memory check")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, usage)
		return errors.New("conformance: want exactly one FILE.wasm")
	}
	wasm, err := os.ReadFile(pos[0])
	if err != nil {
		return fmt.Errorf("conformance: %w", err)
	}
	rep, err := conformance.Run(context.Background(), wasm, conformance.Options{
		CasesDir:    *cases,
		Limits:      wasmhost.Limits{CallTimeout: *timeout},
		MemoryFeeds: *feeds,
	})
	if err != nil {
		return fmt.Errorf("conformance %s: %w", pos[0], err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		name := pos[0]
		if m := rep.Inspection.Manifest; m != nil {
			name = fmt.Sprintf("%s %s (%s)", m.Name, m.Version, m.Kind)
		}
		fmt.Fprintf(stdout, "%s: %d checks in %s\n", name, len(rep.Checks), rep.Duration)
		for _, c := range rep.Checks {
			status := "ok  "
			switch {
			case !c.Pass:
				status = "FAIL"
			case c.Skipped:
				status = "skip"
			}
			fmt.Fprintf(stdout, "  %s %s", status, c.Name)
			if c.Detail != "" && (c.Skipped || c.Pass) {
				fmt.Fprintf(stdout, ": %s", c.Detail)
			}
			fmt.Fprintln(stdout)
		}
	}
	failed := rep.Failed()
	for _, c := range failed {
		fmt.Fprintf(stderr, "FAIL %s: %s\n", c.Name, c.Detail)
	}
	if len(failed) > 0 {
		return fmt.Errorf("conformance: %s failed %d of %d checks", pos[0], len(failed), len(rep.Checks))
	}
	return nil
}
