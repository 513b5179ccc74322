// Command hoop is the gateway and its administration client.
//
//	hoop serve --config hoop.toml
//	hoop config check --config hoop.toml
//	hoop identity create|list|rotate|revoke ...
//	hoop session list|show ...
//	hoop plugin inspect FILE.wasm
//	hoop conformance FILE.wasm
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

const usage = `hoop: an access gateway for agents, jobs and people

Usage:
  hoop serve [--config FILE]                 run the gateway
  hoop config check [--config FILE]          validate a configuration
  hoop identity create NAME --resource R --role ROLE [--kind machine|human] [--expires DURATION] [--json]
  hoop identity list [--json]
  hoop identity rotate NAME [--resource R] [--role ROLE] [--json]
  hoop identity revoke NAME [--resource R] [--role ROLE] [--json]
  hoop session list [--live] [--identity NAME] [--resource R] [--json]
  hoop session show ID [--json]
  hoop plugin inspect FILE.wasm [--json]
  hoop conformance FILE.wasm [--json]

The client commands talk to the gateway's API at $HOOP_GATEWAY (default: the
api.listen of the config, or http://127.0.0.1:8009) with the admin token from
$HOOP_TOKEN or from <data_dir>/admin.token of the config (--config FILE, or
./hoop.toml when present).
`

// command is one subcommand.
type command func(args []string, stdout, stderr io.Writer) error

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks an error whose message is a usage hint.
var errUsage = errors.New("usage")

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprint(stdout, usage)
		return 0
	}
	cmds := map[string]command{
		"serve":       cmdServe,
		"config":      cmdConfig,
		"identity":    cmdIdentity,
		"session":     cmdSession,
		"plugin":      cmdPlugin,
		"conformance": cmdConformance,
	}
	for name, c := range extraCommands {
		cmds[name] = c
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "hoop: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if err := c(args[1:], stdout, stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(stderr, "hoop %s: %v\n", args[0], err)
		if errors.Is(err, errUsage) {
			return 2
		}
		return 1
	}
	return 0
}

// extraCommands lets later files register commands (review, ...).
var extraCommands = map[string]command{}

// newFlags returns a FlagSet that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("hoop "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseInterspersed parses flags that may come after positional
// arguments ("identity create NAME --resource R").
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
