package wasmhost

import (
	"fmt"
	"sort"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"hoop.dev/hoop/sdk"
)

// WASIModule is the only import module ABI v1 allows.
const WASIModule = "wasi_snapshot_preview1"

// Signature is a function type, as the ABI spells it.
type Signature struct {
	Params  []api.ValueType
	Results []api.ValueType
}

// String renders s like "(i32, i32) -> i64".
func (s Signature) String() string {
	return "(" + types(s.Params) + ") -> (" + types(s.Results) + ")"
}

func types(ts []api.ValueType) string {
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = api.ValueTypeName(t)
	}
	return strings.Join(names, ", ")
}

func (s Signature) equal(p, r []api.ValueType) bool {
	return string(s.Params) == string(p) && string(s.Results) == string(r)
}

var (
	i32 = api.ValueTypeI32
	i64 = api.ValueTypeI64
)

// CommonExports are the functions every ABI v1 plugin exports (besides memory).
var CommonExports = map[string]Signature{
	"hoop_abi_v1":   {},
	"hoop_manifest": {Results: []api.ValueType{i64}},
	"hoop_buffer":   {Params: []api.ValueType{i32}, Results: []api.ValueType{i32}},
	"hoop_error":    {Results: []api.ValueType{i64}},
}

// KindExports are the functions a plugin of each kind exports in addition.
var KindExports = map[string]map[string]Signature{
	sdk.KindDecoder: {
		"hoop_open":  {Params: []api.ValueType{i32}, Results: []api.ValueType{i32}},
		"hoop_feed":  {Params: []api.ValueType{i32, i32, i32}, Results: []api.ValueType{i64}},
		"hoop_close": {Params: []api.ValueType{i32}},
	},
	sdk.KindPolicy: {
		"hoop_configure": {Params: []api.ValueType{i32}, Results: []api.ValueType{i32}},
		"hoop_evaluate":  {Params: []api.ValueType{i32}, Results: []api.ValueType{i64}},
	},
}

// WASIFunctions is every function of wasi_snapshot_preview1; a plugin may
// import any of them (the host grants no files, network or environment, so
// most of them fail harmlessly) and nothing else.
var WASIFunctions = map[string]bool{}

func init() {
	for _, f := range strings.Fields(`args_get args_sizes_get environ_get environ_sizes_get
		clock_res_get clock_time_get fd_advise fd_allocate fd_close fd_datasync fd_fdstat_get
		fd_fdstat_set_flags fd_fdstat_set_rights fd_filestat_get fd_filestat_set_size
		fd_filestat_set_times fd_pread fd_prestat_get fd_prestat_dir_name fd_pwrite fd_read
		fd_readdir fd_renumber fd_seek fd_sync fd_tell fd_write path_create_directory
		path_filestat_get path_filestat_set_times path_link path_open path_readlink
		path_remove_directory path_rename path_symlink path_unlink_file poll_oneoff proc_exit
		proc_raise sched_yield random_get sock_accept sock_recv sock_send sock_shutdown`) {
		WASIFunctions[f] = true
	}
}

// CheckABI lists how a compiled module breaks ABI v1's exports and imports
// for a plugin of the given kind ("" checks only what every plugin needs).
// An empty result means the module conforms.
func CheckABI(cm wazero.CompiledModule, kind string) []string {
	var problems []string
	exports := cm.ExportedFunctions()
	check := func(want map[string]Signature) {
		names := make([]string, 0, len(want))
		for n := range want {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, name := range names {
			sig := want[name]
			def, ok := exports[name]
			if !ok {
				problems = append(problems, fmt.Sprintf("missing export %s %s", name, sig))
				continue
			}
			if !sig.equal(def.ParamTypes(), def.ResultTypes()) {
				got := Signature{Params: def.ParamTypes(), Results: def.ResultTypes()}
				problems = append(problems, fmt.Sprintf("export %s has signature %s, want %s", name, got, sig))
			}
		}
	}
	check(CommonExports)
	if kind != "" {
		if want, ok := KindExports[kind]; ok {
			check(want)
		} else {
			problems = append(problems, fmt.Sprintf("unknown plugin kind %q", kind))
		}
	}
	if _, ok := cm.ExportedMemories()["memory"]; !ok {
		problems = append(problems, "missing export memory")
	}
	for _, def := range cm.ImportedFunctions() {
		mod, name, _ := def.Import()
		if mod != WASIModule || !WASIFunctions[name] {
			problems = append(problems, fmt.Sprintf("forbidden import %s.%s: plugins may import only %s", mod, name, WASIModule))
		}
	}
	for _, def := range cm.ImportedMemories() {
		mod, name, _ := def.Import()
		problems = append(problems, fmt.Sprintf("forbidden memory import %s.%s: a plugin exports its own memory", mod, name))
	}
	return problems
}
