package analyzer

import (
	"strings"

	"hoop.dev/hoop/plugins/internal/sqltok"
)

// Bounds that keep Evaluate linear in the statement's length whatever its
// shape.
const (
	// maxDepth bounds how deeply code strings (DO bodies holding EXECUTE
	// strings holding ...) are inspected.
	maxDepth = 4
	// maxWhereScans bounds the UPDATE and DELETE commands of one Evaluate
	// whose WHERE is looked for; later ones count as without WHERE.
	maxWhereScans = 32
	// maxOrDepth bounds the parenthesised OR nesting a tautology is looked
	// for in; a deeper term counts as a tautology, so nesting cannot hide
	// one.
	maxOrDepth = 8
)

// facts are the words of one statement that commands look at, gathered
// in one pass so that many commands in a statement cost no more.
type facts struct {
	program, from, limit, fetch, infile, local, ownerTo bool
	// fileDir is "TO" or "FROM" when one of them is followed by a string
	// (COPY to or from a server file), else "".
	fileDir string
}

func gather(toks []sqltok.Token) facts {
	var fs facts
	for i, t := range toks {
		if t.Kind != sqltok.Word {
			continue
		}
		switch t.Text {
		case "program":
			fs.program = true
		case "from", "to":
			fs.from = fs.from || t.Text == "from"
			if fs.fileDir == "" && at(toks, i+1).Kind == sqltok.String {
				fs.fileDir = strings.ToUpper(t.Text)
			}
		case "limit":
			fs.limit = true
		case "fetch":
			fs.fetch = true
		case "infile":
			fs.infile = true
		case "local":
			fs.local = true
		case "owner":
			fs.ownerTo = fs.ownerTo || at(toks, i+1).Is("to")
		}
	}
	return fs
}

// inspect adds the signals of one statement to sc.found, then those of the
// code strings it holds.
func (p *Policy) inspect(toks []sqltok.Token, d sqltok.Dialect, sc *scratch, depth int) {
	if len(toks) == 0 {
		return
	}
	f := &sc.found
	touched := p.sensitiveUse(toks, f)
	fs := gather(toks)
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
		if p.command(toks, i, &fs, sc) {
			wrote = true
		}
	}
	if touched && !wrote && isRead(toks) && !fs.limit && !fs.fetch {
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
func (p *Policy) command(toks []sqltok.Token, i int, fs *facts, sc *scratch) (writes bool) {
	f := &sc.found
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
		if mergeAction(toks, i) {
			return true
		}
		if cond, ok := sc.whereClause(toks, i); ok && !tautology(cond, 0) {
			f.add(sigWrite, "UPDATE")
		} else {
			f.add(sigUpdateWithoutWhere, whereDetail(ok))
		}
		return true
	case "delete":
		if mergeAction(toks, i) {
			return true
		}
		if cond, ok := sc.whereClause(toks, i); ok && !tautology(cond, 0) {
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
			if fs.ownerTo {
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
		return copySignals(fs, f)
	case "load":
		if fs.infile {
			if fs.local {
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
func copySignals(fs *facts, f *findings) (writes bool) {
	if fs.program {
		f.add(sigCopyProgram, "")
		return fs.from
	}
	if fs.fileDir != "" {
		f.add(sigServerAccess, "COPY "+fs.fileDir+" a server file")
		return fs.fileDir == "FROM"
	}
	if fs.from {
		f.add(sigWrite, "COPY FROM")
		return true
	}
	return false
}

// mergeAction reports whether toks[i] is the UPDATE or DELETE of a MERGE's
// WHEN MATCHED THEN clause, which acts on the matched rows only (the MERGE
// itself is scored as a write).
func mergeAction(toks []sqltok.Token, i int) bool {
	return toks[0].Is("merge") && at(toks, i-1).Is("then")
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
// ORDER BY or LIMIT), and whether there is one. Past maxWhereScans calls
// in one Evaluate it reports none.
func (sc *scratch) whereClause(toks []sqltok.Token, i int) ([]sqltok.Token, bool) {
	if sc.whereScans >= maxWhereScans {
		return nil, false
	}
	sc.whereScans++
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
// literals compared with <> or != — each possibly in parentheses, up to
// maxOrDepth nested ORs (deeper counts as true).
func tautology(c []sqltok.Token, depth int) bool {
	if depth > maxOrDepth {
		return true
	}
	parens, start := 0, 0
	for j := 0; j <= len(c); j++ {
		if j < len(c) {
			switch t := c[j]; {
			case t.IsPunct('('):
				parens++
				continue
			case t.IsPunct(')'):
				parens--
				continue
			case !(parens == 0 && t.Is("or")):
				continue
			}
		}
		if trueTerm(c[start:j], depth) {
			return true
		}
		start = j + 1
	}
	return false
}

func trueTerm(t []sqltok.Token, depth int) bool {
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
	return hasTopLevelOr(t) && tautology(t, depth+1)
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

func upperWord(t sqltok.Token) string {
	if t.Kind != sqltok.Word {
		return ""
	}
	return strings.ToUpper(t.Text)
}
