package guardrail

// keywords are the words that act as SQL keywords (PostgreSQL's reserved
// words and the command words of both dialects). A deny entry word in this
// set matches only the unquoted word: `"drop"` is an identifier and can never
// be the DROP command. Any other deny word also matches a quoted identifier
// of the same text, so quoting a table name (`"pg_shadow"`) does not evade
// a deny entry naming it. A keyword missing here errs on the safe side: its
// quoted form matches too.
var keywords = map[string]bool{}

func init() {
	for _, w := range []string{
		"all", "alter", "analyse", "analyze", "and", "any", "array", "as", "asc",
		"asymmetric", "begin", "between", "both", "by", "call", "cascade", "case",
		"cast", "check", "checkpoint", "close", "cluster", "collate", "column",
		"comment", "commit", "concurrently", "constraint", "copy", "create",
		"cross", "current_role", "current_user", "database", "deallocate",
		"declare", "default", "deferrable", "delete", "desc", "discard",
		"distinct", "do", "drop", "else", "end", "except", "execute", "explain",
		"false", "fetch", "for", "foreign", "from", "full", "function", "grant",
		"group", "handler", "having", "ilike", "import", "in", "index", "inner",
		"insert", "intersect", "into", "is", "join", "kill", "lateral", "left",
		"like", "limit", "listen", "load", "lock", "merge", "move", "natural",
		"not", "notify", "null", "offset", "on", "only", "or", "order", "outer",
		"owner", "prepare", "primary", "privileges", "procedure", "program",
		"purge", "reassign", "references", "refresh", "reindex", "release",
		"rename", "replace", "reset", "returning", "revoke", "right", "role",
		"rollback", "rule", "savepoint", "schema", "security", "select",
		"sequence", "session", "session_user", "set", "show", "shutdown", "some",
		"start", "symmetric", "system", "table", "tablespace", "temp", "temporary",
		"then", "to", "trigger", "true", "truncate", "union", "unique", "unlisten",
		"update", "use", "user", "using", "vacuum", "values", "variadic", "view",
		"when", "where", "window", "with",
	} {
		keywords[w] = true
	}
}
