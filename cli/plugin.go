package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"hoop.dev/hoop/conformance"
)

// cmdPlugin runs `hoop plugin inspect FILE.wasm [--json]`.
func cmdPlugin(args []string, stdout, stderr io.Writer) error {
	usage := "usage: hoop plugin inspect FILE.wasm [--json]"
	if len(args) == 0 || args[0] != "inspect" {
		fmt.Fprintln(stderr, usage)
		return errors.New("plugin: unknown or missing subcommand")
	}
	fs := flag.NewFlagSet("plugin inspect", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the inspection as JSON")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fmt.Fprintln(stderr, usage)
		return errors.New("plugin inspect: want exactly one FILE.wasm")
	}
	wasm, err := os.ReadFile(pos[0])
	if err != nil {
		return fmt.Errorf("plugin inspect: %w", err)
	}
	in, err := conformance.Inspect(wasm)
	if err != nil {
		return fmt.Errorf("plugin inspect %s: %w", pos[0], err)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(in)
	}
	printInspection(stdout, pos[0], in)
	if !in.Conforms {
		return fmt.Errorf("plugin inspect: %s does not implement ABI v1", pos[0])
	}
	return nil
}

func printInspection(w io.Writer, file string, in *conformance.Inspection) {
	fmt.Fprintf(w, "file:      %s\nsize:      %d bytes\nsha256:    %s\n", file, in.Size, in.Digest)
	if m := in.Manifest; m != nil {
		fmt.Fprintf(w, "name:      %s\nversion:   %s\nkind:      %s\nprotocols: %s\ndescription: %s\n",
			m.Name, m.Version, m.Kind, strings.Join(m.Protocols, ", "), m.Description)
	}
	fmt.Fprintln(w, "exports:")
	for _, e := range in.Exports {
		fmt.Fprintf(w, "  %s %s\n", e.Name, e.Signature)
	}
	for _, m := range in.Memories {
		fmt.Fprintf(w, "  %s (memory)\n", m)
	}
	fmt.Fprintln(w, "imports:")
	for _, i := range in.Imports {
		fmt.Fprintf(w, "  %s.%s %s\n", i.Module, i.Name, i.Signature)
	}
	if in.Conforms {
		fmt.Fprintln(w, "ABI v1:    ok")
		return
	}
	fmt.Fprintln(w, "ABI v1:    NOT conforming")
	for _, p := range in.Problems {
		fmt.Fprintf(w, "  - %s\n", p)
	}
}
