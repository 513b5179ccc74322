package analyzer

import (
	"strings"

	"hoop.dev/hoop/plugins/internal/sqltok"
)

// maxDepth bounds how deeply code strings (DO bodies holding EXECUTE
// strings holding ...) are inspected.
const maxDepth = 4

// inspect adds the signals of one statement to sc.found, then those of the
// code strings it holds.
func (p *Policy) inspect(toks []sqltok.Token, d sqltok.Dialect, sc *scratch, depth int) {
	if len(toks) == 0 {
		return
	}
	f := &sc.found
	touched := p.sensitiveUse(toks, f)
	wrote := false
	for i, t := range toks {
		if t.Kind != sqltok.Word && t.Kind != sqltok.QuotedIdent {
			continue
		}
		next := at(toks, i+1)
		if next.IsPunct('(') {
			switch {
			case serverAccessFuncs[t.Text]:
				f.add(sigServerAccess, t.Text+"()")
			case adminFuncs[t.Text]:
				f.add(sigAdminFunction, t.Text+"()")
			}
		}
		if t.Kind != sqltok.Word {
			continue
		}
		if t.Text == "into" && (next.Is("outfile") || next.Is("dumpfile")) {
			f.add(sigServerAccess, "INTO "+strings.ToUpper(next.Text))
		}
		if !sqltok.CommandAt(toks, i) {
			continue
		}
		if p.command(toks, i, f) {
			wrote = true
		}
	}
	if touched && !wrote && isRead(toks) && !hasWord(toks, "limit") && !hasWord(toks, "fetch") {
		f.add(sigSensitiveSelect, "")
	}
	if depth >= maxDepth {
		return
	}
	start := len(sc.code)
	sc.code = sqltok.CodeStrings(sc.code, toks)
	for _, i := range sc.code[start:] {
		stmts, _ := sqltok.Split(nil, nil, d, toks[i].Value())
		for _, st := range stmts {
			p.inspect(st.Tokens, d, sc, depth+1)
		}
	}
	sc.code = sc.code[:start]
}

// command adds the signals of the command keyword toks[i] and reports
// whether it writes rows.
func (p *Policy) command(toks []sqltok.Token, i int, f *findings) (writes bool) {
	next := at(toks, i+1)
	switch toks[i].Text {
	case "insert", "merge":
		f.add(sigWrite, strings.ToUpper(toks[i].Text))
		return true
	case "replace":
		if next.Is("into") { // MySQL REPLACE INTO; replace(...) is a function
			f.add(sigWrite, "REPLACE")
			return true
		}
	case "update":
		if next.IsPunct('(') {
			return false
		}
		if cond, ok := whereClause(toks, i); ok && !tautology(cond) {
			f.add(sigWrite, "UPDATE")
		} else {
			f.add(sigUpdateWithoutWhere, whereDetail(ok))
		}
		return true
	case "delete":
		if cond, ok := whereClause(toks, i); ok && !tautology(cond) {
			f.add(sigWrite, "DELETE")
		} else {
			f.add(sigDeleteWithoutWhere, whereDetail(ok))
		}
		return true
	case "drop":
		f.add(sigDrop, "DROP "+upperWord(next))
		if next.Is("role") || next.Is("user") || next.Is("group") || next.Is("owned") {
			f.add(sigPrivilege, "DROP "+upperWord(next))
		}
	case "truncate":
		f.add(sigTruncate, "")
		return true
	case "alter":
		switch {
		case next.Is("role") || next.Is("user") || next.Is("group") || next.Is("default"):
			f.add(sigPrivilege, "ALTER "+upperWord(next))
		case next.Is("system"):
			f.add(sigServerConfig, "ALTER SYSTEM")
		default:
			f.add(sigAlter, "ALTER "+upperWord(next))
			if hasPhrase(toks, "owner", "to") {
				f.add(sigPrivilege, "OWNER TO")
			}
		}
	case "rename":
		f.add(sigAlter, "RENAME "+upperWord(next))
	case "create":
		kind := createKind(toks, i+1)
		switch kind.Text {
		case "role", "user", "group":
			f.add(sigPrivilege, "CREATE "+upperWord(kind))
		case "function", "procedure", "trigger", "rule", "event":
			f.add(sigProcedural, "CREATE "+upperWord(kind))
		default:
			f.add(sigDDL, "CREATE "+upperWord(kind))
		}
	case "grant", "revoke", "reassign":
		f.add(sigPrivilege, strings.ToUpper(toks[i].Text))
	case "set":
		p.set(toks, i, f)
	case "copy":
		return copySignals(toks, f)
	case "load":
		if hasWord(toks, "infile") {
			if hasWord(toks, "local") {
				f.add(sigWrite, "LOAD DATA LOCAL")
			} else {
				f.add(sigServerAccess, "LOAD DATA INFILE")
			}
			return true
		}
	case "do":
		if i == 0 { // elsewhere it is ON CONFLICT ... DO or CREATE RULE ... DO
			f.add(sigProcedural, "DO")
		}
	case "call":
		f.add(sigProcedural, "CALL")
	}
	return false
}

// set handles SET ROLE, SET SESSION AUTHORIZATION and MySQL's SET GLOBAL.
func (p *Policy) set(toks []sqltok.Token, i int, f *findings) {
	j := i + 1
	if w := at(toks, j); w.Is("session") || w.Is("local") {
		if at(toks, j+1).Is("authorization") {
			f.add(sigPrivilege, "SET SESSION AUTHORIZATION")
			return
		}
		j++
	}
	switch w := at(toks, j); {
	case w.Is("role"):
		f.add(sigPrivilege, "SET ROLE")
	case w.Is("global") || w.Is("persist") || w.Is("persist_only"):
		f.add(sigServerConfig, "SET "+upperWord(w))
	}
}

// copySignals scores COPY: TO/FROM PROGRAM runs a command on the server, a
// quoted path names a server file; FROM STDIN writes rows.
func copySignals(toks []sqltok.Token, f *findings) (writes bool) {
	if hasWord(toks, "program") {
		f.add(sigCopyProgram, "")
		return hasWord(toks, "from")
	}
	for i, t := range toks {
		if (t.Is("to") || t.Is("from")) && at(toks, i+1).Kind == sqltok.String {
			f.add(sigServerAccess, "COPY "+strings.ToUpper(t.Text)+" a server file")
			return t.Is("from")
		}
	}
	if hasWord(toks, "from") {
		f.add(sigWrite, "COPY FROM")
		return true
	}
	return false
}

// createKind returns the object word of CREATE [OR REPLACE] [modifiers] X.
func createKind(toks []sqltok.Token, j int) sqltok.Token {
	for ; j < len(toks); j++ {
		switch t := toks[j]; {
		case t.Is("or"), t.Is("replace"), t.Is("temp"), t.Is("temporary"),
			t.Is("unlogged"), t.Is("global"), t.Is("local"), t.Is("unique"),
			t.Is("materialized"), t.Is("recursive"), t.Is("constraint"),
			t.Is("trusted"), t.Is("procedural"), t.Is("definer"), t.Is("algorithm"):
		default:
			return t
		}
	}
	return sqltok.Token{}
}

// whereClause returns the condition of the WHERE that belongs to the
// command at toks[i] (at the same parenthesis depth, before RETURNING,
// ORDER BY or LIMIT), and whether there is one.
func whereClause(toks []sqltok.Token, i int) ([]sqltok.Token, bool) {
	depth, start := 0, -1
	for j := i + 1; j < len(toks); j++ {
		t := toks[j]
		switch {
		case t.IsPunct('('):
			depth++
		case t.IsPunct(')'):
			if depth == 0 {
				return cond(toks, start, j)
			}
			depth--
		case depth == 0 && start < 0 && t.Is("where"):
			start = j + 1
		case depth == 0 && start >= 0 && (t.Is("returning") || t.Is("order") || t.Is("limit")):
			return cond(toks, start, j)
		}
	}
	return cond(toks, start, len(toks))
}

func cond(toks []sqltok.Token, start, end int) ([]sqltok.Token, bool) {
	if start < 0 {
		return nil, false
	}
	return toks[start:end], true
}

func whereDetail(hasWhere bool) string {
	if hasWhere {
		return "its WHERE is always true"
	}
	return ""
}

// tautology reports whether a WHERE condition is trivially true: one of its
// top-level OR terms is TRUE, NOT FALSE, a nonzero number, X = X for one
// identical token on each side (1=1, 'a'='a', id=id) or two different
// literals compared with <> or != — each possibly in parentheses.
func tautology(c []sqltok.Token) bool {
	depth, start := 0, 0
	for j := 0; j <= len(c); j++ {
		if j < len(c) {
			switch t := c[j]; {
			case t.IsPunct('('):
				depth++
				continue
			case t.IsPunct(')'):
				depth--
				continue
			case !(depth == 0 && t.Is("or")):
				continue
			}
		}
		if trueTerm(c[start:j]) {
			return true
		}
		start = j + 1
	}
	return false
}

func trueTerm(t []sqltok.Token) bool {
	for len(t) >= 2 && t[0].IsPunct('(') && t[len(t)-1].IsPunct(')') {
		t = t[1 : len(t)-1]
	}
	switch len(t) {
	case 1:
		return t[0].Is("true") || (t[0].Kind == sqltok.Number && strings.Trim(t[0].Text, "0.") != "")
	case 2:
		return t[0].Is("not") && t[1].Is("false")
	case 3:
		return t[1].IsPunct('=') && same(t[0], t[2])
	case 4:
		ne := (t[1].IsPunct('<') && t[2].IsPunct('>')) || (t[1].IsPunct('!') && t[2].IsPunct('='))
		return ne && literal(t[0]) && literal(t[3]) && !same(t[0], t[3])
	}
	// A parenthesised OR: its terms are shorter than t, so this ends.
	return hasTopLevelOr(t) && tautology(t)
}

func hasTopLevelOr(t []sqltok.Token) bool {
	depth := 0
	for _, tok := range t {
		switch {
		case tok.IsPunct('('):
			depth++
		case tok.IsPunct(')'):
			depth--
		case depth == 0 && tok.Is("or"):
			return true
		}
	}
	return false
}

func same(a, b sqltok.Token) bool {
	return a.Kind == b.Kind && a.Text == b.Text && a.Kind != sqltok.Param && a.Kind != sqltok.Punct
}

func literal(t sqltok.Token) bool { return t.Kind == sqltok.Number || t.Kind == sqltok.String }

// sensitiveUse records the configured sensitive tables toks names and
// reports whether there was any. A bare name matches its table in any
// schema; "schema.name" in the config matches that qualified name and the
// bare name (which the search path may resolve to it), not other schemas.
func (p *Policy) sensitiveUse(toks []sqltok.Token, f *findings) bool {
	if len(p.sensitive) == 0 {
		return false
	}
	touched := false
	for i, t := range toks {
		if t.Kind != sqltok.Word && t.Kind != sqltok.QuotedIdent || at(toks, i+1).IsPunct('(') {
			continue
		}
		qualified := at(toks, i-1).IsPunct('.')
		for _, s := range p.sensitive {
			if t.Text != s.name {
				continue
			}
			if s.schema != "" && qualified && at(toks, i-2).Text != s.schema {
				continue
			}
			touched = true
			f.addTable(s)
			f.add(sigSensitiveTable, "")
		}
	}
	return touched
}

func (f *findings) addTable(s table) {
	name := s.name
	if s.schema != "" {
		name = s.schema + "." + s.name
	}
	for _, t := range f.tables {
		if t == name {
			return
		}
	}
	f.tables = append(f.tables, name)
}

// isRead reports whether a statement starts as a query.
func isRead(toks []sqltok.Token) bool {
	t := toks[0]
	return t.Is("select") || t.Is("with") || t.Is("table") || t.Is("values") || t.IsPunct('(')
}

func at(toks []sqltok.Token, i int) sqltok.Token {
	if i < 0 || i >= len(toks) {
		return sqltok.Token{}
	}
	return toks[i]
}

func hasWord(toks []sqltok.Token, w string) bool {
	for _, t := range toks {
		if t.Is(w) {
			return true
		}
	}
	return false
}

func hasPhrase(toks []sqltok.Token, a, b string) bool {
	for i := 0; i+1 < len(toks); i++ {
		if toks[i].Is(a) && toks[i+1].Is(b) {
			return true
		}
	}
	return false
}

func upperWord(t sqltok.Token) string {
	if t.Kind != sqltok.Word {
		return ""
	}
	return strings.ToUpper(t.Text)
}
