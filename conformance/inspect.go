package conformance

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sort"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"hoop.dev/hoop/core/wasmhost"
	"hoop.dev/hoop/sdk"
)

// Inspection is what a module claims and exposes, and whether that is ABI v1.
type Inspection struct {
	Size     int           `json:"size"`
	Digest   string        `json:"sha256"`
	Manifest *sdk.Manifest `json:"manifest"` // nil when it could not be read
	Exports  []Function    `json:"exports"`
	Memories []string      `json:"memories"`
	Imports  []Function    `json:"imports"`
	Conforms bool          `json:"abi_v1"`
	Problems []string      `json:"problems,omitempty"`
}

// Function is an exported or imported function.
type Function struct {
	Module    string `json:"module,omitempty"` // imports only
	Name      string `json:"name"`
	Signature string `json:"signature"`
}

// Inspect lists a module's exports and imports, reads its manifest and
// checks them against ABI v1. Only a module that does not compile is an
// error; ABI breaches are Problems.
func Inspect(wasm []byte) (*Inspection, error) {
	ctx := context.Background()
	h, err := wasmhost.New(ctx, "", wasmhost.Limits{PoolSize: 1}, nil)
	if err != nil {
		return nil, err
	}
	defer h.Close(ctx)
	in, _, err := inspect(ctx, h, wasm)
	return in, err
}

// inspect also returns the loaded plugin when the module conforms.
func inspect(ctx context.Context, h *wasmhost.Host, wasm []byte) (*Inspection, *wasmhost.Plugin, error) {
	sum := sha256.Sum256(wasm)
	in := &Inspection{Size: len(wasm), Digest: hex.EncodeToString(sum[:])}
	// The interpreter only parses and validates: listing needs no machine code.
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer rt.Close(ctx)
	cm, err := rt.CompileModule(ctx, wasm)
	if err != nil {
		return nil, nil, errors.New("inspect module: " + err.Error())
	}
	for name, def := range cm.ExportedFunctions() {
		in.Exports = append(in.Exports, Function{Name: name, Signature: signature(def)})
	}
	sort.Slice(in.Exports, func(i, j int) bool { return in.Exports[i].Name < in.Exports[j].Name })
	for name := range cm.ExportedMemories() {
		in.Memories = append(in.Memories, name)
	}
	sort.Strings(in.Memories)
	for _, def := range cm.ImportedFunctions() {
		mod, name, _ := def.Import()
		in.Imports = append(in.Imports, Function{Module: mod, Name: name, Signature: signature(def)})
	}
	in.Problems = wasmhost.CheckABI(cm, "")
	if len(in.Problems) > 0 {
		return in, nil, nil
	}
	p, err := h.Load(ctx, wasm)
	if err != nil {
		in.Problems = append(in.Problems, err.Error())
		return in, nil, nil
	}
	m := p.Manifest()
	in.Manifest = &m
	in.Conforms = true
	return in, p, nil
}

func signature(def api.FunctionDefinition) string {
	return wasmhost.Signature{Params: def.ParamTypes(), Results: def.ResultTypes()}.String()
}
