package analyzer

// signal identifies one risk signal. The order here is the order of the
// scoring table in docs/policies.md and breaks ties between equal weights.
type signal uint8

const (
	sigCopyProgram signal = iota
	sigServerAccess
	sigDrop
	sigTruncate
	sigServerConfig
	sigPrivilege
	sigDeleteWithoutWhere
	sigUpdateWithoutWhere
	sigAdminFunction
	sigSensitiveSelect
	sigAlter
	sigProcedural
	sigSensitiveTable
	sigMultiStatement
	sigDDL
	sigWrite
	numSignals
)

// signalInfo is a signal's name (used in config "weights" and as the
// verdict's Rule), its default weight and what it says in a reason.
type signalInfo struct {
	name   string
	weight int
	what   string
}

var signals = [numSignals]signalInfo{
	sigCopyProgram:        {"copy-program", 95, "COPY runs a program on the database server"},
	sigServerAccess:       {"server-access", 85, "reads or writes server files or opens connections from the server"},
	sigDrop:               {"drop", 80, "drops an object"},
	sigTruncate:           {"truncate", 80, "empties tables"},
	sigServerConfig:       {"server-config", 80, "changes server configuration"},
	sigPrivilege:          {"privilege", 75, "changes roles or privileges"},
	sigDeleteWithoutWhere: {"delete-without-where", 70, "DELETE without a WHERE clause"},
	sigUpdateWithoutWhere: {"update-without-where", 70, "UPDATE without a WHERE clause"},
	sigAdminFunction:      {"admin-function", 60, "calls a server administration function"},
	sigSensitiveSelect:    {"sensitive-select-without-limit", 55, "reads a sensitive table without LIMIT"},
	sigAlter:              {"alter", 50, "changes a schema object"},
	sigProcedural:         {"procedural", 40, "runs procedural code"},
	sigSensitiveTable:     {"sensitive-table", 40, "touches a sensitive table"},
	sigMultiStatement:     {"multi-statement", 30, "several statements in one string"},
	sigDDL:                {"ddl", 20, "creates a schema object"},
	sigWrite:              {"write", 10, "writes rows"},
}

// signalByName maps a config "weights" key to its signal.
func signalByName(name string) (signal, bool) {
	for s := range numSignals {
		if signals[s].name == name {
			return s, true
		}
	}
	return 0, false
}

// Function names, as called, that signal server access or administration.
var (
	serverAccessFuncs = map[string]bool{
		"pg_read_file": true, "pg_read_binary_file": true, "pg_ls_dir": true,
		"pg_stat_file": true, "pg_ls_logdir": true, "pg_ls_waldir": true,
		"pg_ls_tmpdir": true, "pg_ls_archive_statusdir": true,
		"lo_import": true, "lo_export": true, "pg_file_write": true,
		"pg_file_rename": true, "pg_file_unlink": true, "pg_logdir_ls": true,
		"dblink": true, "dblink_exec": true, "dblink_connect": true,
		"dblink_connect_u": true, "dblink_send_query": true, "load_file": true,
	}
	adminFuncs = map[string]bool{
		"pg_terminate_backend": true, "pg_cancel_backend": true,
		"pg_reload_conf": true, "pg_rotate_logfile": true, "pg_promote": true,
		"pg_switch_wal": true, "set_config": true, "pg_create_restore_point": true,
		"pg_drop_replication_slot": true, "pg_create_logical_replication_slot": true,
		"pg_create_physical_replication_slot": true,
	}
)
