package sqltok

// maxInterned is the length of the longest interned word.
const maxInterned = 12

// interned holds common SQL keywords (lowercase, at most maxInterned bytes)
// that lower returns without allocating.
var interned = map[string]string{}

func init() {
	for _, w := range []string{
		"all", "alter", "and", "as", "asc", "begin", "between", "by", "case",
		"cast", "commit", "copy", "count", "create", "cross", "default", "delete",
		"desc", "distinct", "do", "drop", "else", "end", "exists", "false",
		"fetch", "first", "for", "from", "full", "function", "grant", "group",
		"having", "if", "ilike", "in", "index", "inner", "insert", "interval",
		"into", "is", "join", "key", "left", "like", "limit", "not", "now",
		"null", "offset", "on", "only", "or", "order", "outer", "primary",
		"references", "returning", "revoke", "right", "rollback", "rows",
		"select", "set", "table", "then", "to", "true", "truncate", "union",
		"update", "using", "values", "view", "when", "where", "with",
	} {
		if len(w) > maxInterned {
			panic("sqltok: interned word too long: " + w)
		}
		interned[w] = w
	}
}
