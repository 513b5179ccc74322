// Package sqltok is the SQL lexer shared by the first-party policy plugins.
//
// It exists so that policies decide on tokens, not on raw text: comments and
// whitespace are skipped and keywords are lowercased, so `drop/**/table`,
// `DROP  TABLE` and "dRoP\n table" all produce the words [drop table], while
// the contents of string literals and quoted identifiers stay distinct kinds
// that a keyword match never sees. It is a lexer, not a parser: it knows
// PostgreSQL's lexical rules (and MySQL's where they differ, see Dialect) and
// nothing about grammar beyond splitting on top-level semicolons.
//
// The lexer never fails: malformed input (an unterminated string or comment)
// lexes to the end of the input, which is the conservative reading for a
// policy because the server would reject the statement anyway. Every call to
// Next consumes at least one byte or returns EOF, so it cannot loop.
package sqltok

// Kind is the lexical class of a token.
type Kind uint8

// Token kinds.
const (
	// EOF ends the input.
	EOF Kind = iota
	// Word is a keyword or an unquoted identifier, lowercased (ASCII only,
	// as PostgreSQL folds).
	Word
	// QuotedIdent is a quoted identifier ("Foo" in PostgreSQL, `Foo` in
	// MySQL). Text is its content, lowercased, with doubled quotes undone.
	QuotedIdent
	// String is a string literal: '...', E'...', $tag$...$tag$ (PostgreSQL)
	// or "..." (MySQL). Text is the raw content between the delimiters; use
	// Token.Value for the unescaped content.
	String
	// Number is a numeric literal, as written.
	Number
	// Param is a positional parameter such as $1.
	Param
	// Punct is one byte of punctuation or an operator character, including
	// ";" (a top-level ";" also ends a Statement).
	Punct
)

// String names a kind, for test output.
func (k Kind) String() string {
	switch k {
	case EOF:
		return "eof"
	case Word:
		return "word"
	case QuotedIdent:
		return "qident"
	case String:
		return "string"
	case Number:
		return "number"
	case Param:
		return "param"
	case Punct:
		return "punct"
	}
	return "unknown"
}

// Dialect selects the lexical rules.
type Dialect uint8

const (
	// Postgres: "x" is an identifier, '' escapes a quote, E'' strings take
	// backslash escapes, $tag$ quoting, /* */ comments nest.
	Postgres Dialect = iota
	// MySQL: `x` is an identifier, "x" is a string, backslash escapes in all
	// strings, # starts a line comment, -- does only when followed by
	// whitespace, comments do not nest and the contents of executable
	// comments /*! ... */ are lexed as code.
	MySQL
)

// DialectFor maps an sdk.Input protocol name to a dialect; anything but
// "mysql" lexes as PostgreSQL.
func DialectFor(protocol string) Dialect {
	if protocol == "mysql" {
		return MySQL
	}
	return Postgres
}

// Token is one lexical token.
type Token struct {
	Kind Kind
	// Backslash is set on a String whose content takes backslash escapes
	// (E'...' in PostgreSQL, every string in MySQL).
	Backslash bool
	// Quote is the byte that delimits a String (' or ", or $ for dollar
	// quoting); zero for other kinds.
	Quote byte
	// Text is the token's text; see the kinds for what each holds. For Word
	// it is a substring of the input when the input was already lowercase.
	Text string
	// Off is the byte offset of the token's first byte in the input.
	Off int
}

// Value returns a String token's content with its escapes undone (” → ',
// and backslash escapes where they apply, reading \x as x); other kinds
// return Text.
func (t Token) Value() string {
	if t.Kind != String || t.Quote == '$' {
		return t.Text
	}
	if !needsUnescape(t.Text, t.Quote, t.Backslash) {
		return t.Text
	}
	b := make([]byte, 0, len(t.Text))
	for i := 0; i < len(t.Text); i++ {
		c := t.Text[i]
		switch {
		case t.Backslash && c == '\\' && i+1 < len(t.Text):
			i++
			b = append(b, t.Text[i])
		case c == t.Quote && i+1 < len(t.Text) && t.Text[i+1] == t.Quote:
			i++
			b = append(b, c)
		default:
			b = append(b, c)
		}
	}
	return string(b)
}

func needsUnescape(s string, quote byte, backslash bool) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == quote || (backslash && s[i] == '\\') {
			return true
		}
	}
	return false
}

// Is reports whether t is the Word w (w must be lowercase).
func (t Token) Is(w string) bool { return t.Kind == Word && t.Text == w }

// IsPunct reports whether t is the punctuation byte c.
func (t Token) IsPunct(c byte) bool {
	return t.Kind == Punct && len(t.Text) == 1 && t.Text[0] == c
}

// Lexer produces the tokens of one input. The zero value lexes the empty
// string; use Reset to start on an input.
type Lexer struct {
	src string
	pos int
	d   Dialect
	// inExec is set inside a MySQL executable comment, whose closing */ is
	// skipped rather than lexed.
	inExec bool
}

// Reset starts lexing src in dialect d.
func (l *Lexer) Reset(d Dialect, src string) {
	*l = Lexer{src: src, d: d}
}

// Tokenize appends every token of src to dst and returns it; the EOF token
// is not appended.
func Tokenize(dst []Token, d Dialect, src string) []Token {
	var l Lexer
	l.Reset(d, src)
	for {
		t := l.Next()
		if t.Kind == EOF {
			return dst
		}
		dst = append(dst, t)
	}
}

// Next returns the next token, or a token of kind EOF at the end.
func (l *Lexer) Next() Token {
	l.skipSpace()
	if l.pos >= len(l.src) {
		return Token{Kind: EOF, Off: len(l.src)}
	}
	start := l.pos
	c := l.src[start]
	switch {
	case isIdentStart(c):
		if t, ok := l.prefixedString(); ok {
			return t
		}
		return l.word()
	case isDigit(c) || (c == '.' && start+1 < len(l.src) && isDigit(l.src[start+1])):
		return l.number()
	case c == '\'':
		return l.quoted(String, '\'', l.d == MySQL, 1)
	case c == '"':
		if l.d == MySQL {
			return l.quoted(String, '"', true, 1)
		}
		return l.quoted(QuotedIdent, '"', false, 1)
	case c == '`' && l.d == MySQL:
		return l.quoted(QuotedIdent, '`', false, 1)
	case c == '$' && l.d == Postgres:
		if t, ok := l.dollar(); ok {
			return t
		}
	}
	l.pos++
	return Token{Kind: Punct, Text: l.src[start:l.pos], Off: start}
}

// skipSpace skips whitespace and comments.
func (l *Lexer) skipSpace() {
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		switch {
		case class[c]&clsSpace != 0:
			l.pos++
		case c == '-' && l.peek(1) == '-' && (l.d == Postgres || l.dashCommentMySQL()):
			l.skipLine()
		case c == '#' && l.d == MySQL:
			l.skipLine()
		case c == '/' && l.peek(1) == '*':
			if l.d == MySQL && l.peek(2) == '!' {
				// Executable comment: its content runs, so lex it. Skip
				// the optional version number that follows the '!'.
				l.pos += 3
				for l.pos < len(l.src) && isDigit(l.src[l.pos]) {
					l.pos++
				}
				l.inExec = true
				continue
			}
			l.skipBlock()
		case c == '*' && l.inExec && l.peek(1) == '/':
			l.inExec = false
			l.pos += 2
		default:
			return
		}
	}
}

// dashCommentMySQL reports whether the "--" at l.pos starts a comment in
// MySQL, which needs whitespace or a control character (or the end) after
// it: "1--1" is an expression there, and treating it as a comment would
// hide the rest of the line from a policy.
func (l *Lexer) dashCommentMySQL() bool {
	return l.pos+2 >= len(l.src) || l.src[l.pos+2] <= ' '
}

func (l *Lexer) peek(n int) byte {
	if l.pos+n < len(l.src) {
		return l.src[l.pos+n]
	}
	return 0
}

func (l *Lexer) skipLine() {
	for l.pos < len(l.src) && l.src[l.pos] != '\n' {
		l.pos++
	}
}

// skipBlock skips a /* */ comment; PostgreSQL's nest, MySQL's do not.
func (l *Lexer) skipBlock() {
	depth := 0
	for l.pos < len(l.src) {
		switch {
		case l.src[l.pos] == '/' && l.peek(1) == '*':
			if depth == 0 || l.d == Postgres {
				depth++
			}
			l.pos += 2
		case l.src[l.pos] == '*' && l.peek(1) == '/':
			depth--
			l.pos += 2
			if depth == 0 {
				return
			}
		default:
			l.pos++
		}
	}
}

func (l *Lexer) word() Token {
	start := l.pos
	for l.pos+8 <= len(l.src) && identCont8(load8(l.src, l.pos)) {
		l.pos += 8
	}
	for l.pos < len(l.src) && isIdentCont(l.src[l.pos]) {
		l.pos++
	}
	return Token{Kind: Word, Text: lower(l.src[start:l.pos]), Off: start}
}

// prefixedString lexes E'..', B'..', X'..', N'..' and U&'..' strings.
func (l *Lexer) prefixedString() (Token, bool) {
	c := l.src[l.pos] | 0x20
	switch {
	case (c == 'e' || c == 'b' || c == 'x' || c == 'n') && l.peek(1) == '\'':
		start := l.pos
		t := l.quoted(String, '\'', c == 'e' || l.d == MySQL, 2)
		t.Off = start
		return t, true
	case c == 'u' && l.peek(1) == '&' && l.peek(2) == '\'' && l.d == Postgres:
		start := l.pos
		t := l.quoted(String, '\'', false, 3)
		t.Off = start
		return t, true
	}
	return Token{}, false
}

// quoted lexes a token delimited by q, starting skip bytes before the
// content; a doubled q is an escaped q, and so is \q when backslash is set.
func (l *Lexer) quoted(k Kind, q byte, backslash bool, skip int) Token {
	start := l.pos
	l.pos += skip
	body := l.pos
	end := len(l.src)
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		if backslash && c == '\\' {
			l.pos += 2
			continue
		}
		if c == q {
			if l.peek(1) == q {
				l.pos += 2
				continue
			}
			end = l.pos
			l.pos++
			break
		}
		l.pos++
	}
	if l.pos > len(l.src) {
		l.pos = len(l.src)
	}
	if end > len(l.src) || end < body {
		end = len(l.src)
	}
	t := Token{Kind: k, Text: l.src[body:end], Off: start}
	if k == QuotedIdent {
		t.Text = lower(undouble(t.Text, q))
		return t
	}
	t.Quote = q
	t.Backslash = backslash
	return t
}

// dollar lexes $1 parameters and $tag$...$tag$ strings.
func (l *Lexer) dollar() (Token, bool) {
	start := l.pos
	i := start + 1
	if i < len(l.src) && isDigit(l.src[i]) {
		for i < len(l.src) && isDigit(l.src[i]) {
			i++
		}
		l.pos = i
		return Token{Kind: Param, Text: l.src[start:i], Off: start}, true
	}
	if i < len(l.src) && isIdentStart(l.src[i]) {
		for i < len(l.src) && isIdentCont(l.src[i]) && l.src[i] != '$' {
			i++
		}
	}
	if i >= len(l.src) || l.src[i] != '$' {
		return Token{}, false
	}
	tag := l.src[start : i+1]
	body := i + 1
	end := indexFrom(l.src, tag, body)
	if end < 0 {
		l.pos = len(l.src)
		return Token{Kind: String, Quote: '$', Text: l.src[body:], Off: start}, true
	}
	l.pos = end + len(tag)
	return Token{Kind: String, Quote: '$', Text: l.src[body:end], Off: start}, true
}

func (l *Lexer) number() Token {
	start := l.pos
	for l.pos < len(l.src) {
		c := l.src[l.pos]
		if isDigit(c) || c == '.' || c == '_' || isLetter(c) {
			l.pos++
			continue
		}
		// An exponent sign: 1e-5, 2E+3.
		if (c == '+' || c == '-') && (l.src[l.pos-1]|0x20) == 'e' && isDigit(l.peek(1)) {
			l.pos++
			continue
		}
		break
	}
	return Token{Kind: Number, Text: l.src[start:l.pos], Off: start}
}

func indexFrom(s, sub string, from int) int {
	for i := from; i+len(sub) <= len(s); i++ {
		if s[i] == sub[0] && s[i:i+len(sub)] == sub {
			return i
		}
	}
	return -1
}

func isDigit(c byte) bool  { return c >= '0' && c <= '9' }
func isLetter(c byte) bool { return (c|0x20) >= 'a' && (c|0x20) <= 'z' }

// Byte classes, looked up in one load on the lexer's hot paths.
const (
	clsIdentStart = 1 << iota
	clsIdentCont
	clsSpace
)

var class = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		if isLetter(b) || b == '_' || b >= 0x80 {
			t[c] |= clsIdentStart | clsIdentCont
		}
		if isDigit(b) || b == '$' {
			t[c] |= clsIdentCont
		}
		switch b {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			t[c] |= clsSpace
		}
	}
	return t
}()

func isIdentStart(c byte) bool { return class[c]&clsIdentStart != 0 }
func isIdentCont(c byte) bool  { return class[c]&clsIdentCont != 0 }

// lower lowercases ASCII letters, returning s itself when it has none and
// an interned string for common keywords, so that upper-case SQL does not
// allocate per keyword.
func lower(s string) string {
	i := 0
	for i+8 <= len(s) && noUpper8(load8(s, i)) {
		i += 8
	}
	for i < len(s) && !(s[i] >= 'A' && s[i] <= 'Z') {
		i++
	}
	if i == len(s) {
		return s
	}
	if len(s) <= maxInterned {
		var buf [maxInterned]byte
		for j := 0; j < len(s); j++ {
			c := s[j]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			buf[j] = c
		}
		if w, ok := interned[string(buf[:len(s)])]; ok { // no allocation
			return w
		}
	}
	b := []byte(s)
	for ; i < len(b); i++ {
		if b[i] >= 'A' && b[i] <= 'Z' {
			b[i] += 'a' - 'A'
		}
	}
	return string(b)
}

// undouble turns each doubled q into one.
func undouble(s string, q byte) string {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == q && s[i+1] == q {
			b := make([]byte, 0, len(s))
			for j := 0; j < len(s); j++ {
				b = append(b, s[j])
				if s[j] == q && j+1 < len(s) && s[j+1] == q {
					j++
				}
			}
			return string(b)
		}
	}
	return s
}
