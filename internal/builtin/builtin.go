// Package builtin embeds the first-party plugin modules (decoders and
// policies) that `make build` compiles into wasm/. A binary built without
// them (plain `go build` on a fresh clone) has no built-in plugins and says
// so at start-up.
package builtin

import (
	"embed"
	"io/fs"
	"sort"
	"strings"
)

//go:embed all:wasm
var files embed.FS

// Module is one embedded plugin module.
type Module struct {
	Name  string // file name without .wasm
	Bytes []byte
}

// Modules returns the embedded modules sorted by name.
func Modules() []Module {
	var out []Module
	entries, _ := fs.ReadDir(files, "wasm")
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".wasm")
		if !ok || e.IsDir() {
			continue
		}
		b, err := files.ReadFile("wasm/" + e.Name())
		if err == nil {
			out = append(out, Module{Name: name, Bytes: b})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
