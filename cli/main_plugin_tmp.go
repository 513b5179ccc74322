// Temporary entry point so package main builds on the plugin-system branch
// before cli/main.go exists. The integrator deletes this file.
package main

import (
	"fmt"
	"os"
)

func main() {
	var err error
	switch {
	case len(os.Args) > 1 && os.Args[1] == "plugin":
		err = cmdPlugin(os.Args[2:], os.Stdout, os.Stderr)
	case len(os.Args) > 1 && os.Args[1] == "conformance":
		err = cmdConformance(os.Args[2:], os.Stdout, os.Stderr)
	default:
		err = fmt.Errorf("usage: hoop plugin inspect FILE.wasm | hoop conformance FILE.wasm")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "hoop:", err)
		os.Exit(1)
	}
}
