package guardrail

import (
	"regexp"
	"regexp/syntax"
	"unicode/utf8"
)

// matcher runs a rule's regex behind a cheap literal prefilter. Go's regexp
// tries every start position; under wasm that costs tens of microseconds
// per 100-byte statement, while most statements cannot match at all. When
// every match of the regex must contain some literal (the longest literal
// at the top level of a concatenation), a text without that literal is
// rejected without running the regex.
type matcher struct {
	re *regexp.Regexp
	// lit is the required literal (lowercased when fold is set), or empty
	// when the regex has none worth checking.
	lit  string
	fold bool
}

// minLiteral is the shortest literal worth a prefilter.
const minLiteral = 3

func newMatcher(expr string) (matcher, error) {
	re, err := regexp.Compile(expr)
	if err != nil {
		return matcher{}, err
	}
	m := matcher{re: re}
	tree, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return m, nil // regexp accepted it; just run without a prefilter
	}
	m.lit, m.fold = requiredLiteral(tree.Simplify())
	return m, nil
}

// requiredLiteral returns the longest ASCII literal that every match of re
// contains, and whether it is matched case-insensitively.
func requiredLiteral(re *syntax.Regexp) (string, bool) {
	for re.Op == syntax.OpCapture {
		re = re.Sub[0]
	}
	var subs []*syntax.Regexp
	switch re.Op {
	case syntax.OpLiteral:
		subs = []*syntax.Regexp{re}
	case syntax.OpConcat:
		subs = re.Sub
	default:
		return "", false
	}
	best, fold := "", false
	for _, s := range subs {
		if s.Op != syntax.OpLiteral {
			continue
		}
		lit, ok := asciiLiteral(s.Rune, s.Flags&syntax.FoldCase != 0)
		if ok && len(lit) > len(best) {
			best, fold = lit, s.Flags&syntax.FoldCase != 0
		}
	}
	if len(best) < minLiteral {
		return "", false
	}
	return best, fold
}

func asciiLiteral(runes []rune, fold bool) (string, bool) {
	b := make([]byte, 0, len(runes))
	for _, r := range runes {
		if r >= utf8.RuneSelf {
			return "", false
		}
		c := byte(r)
		if fold && c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b = append(b, c)
	}
	return string(b), true
}

// MatchString reports whether the regex matches s.
func (m *matcher) MatchString(s string) bool {
	if m.lit != "" && !containsLiteral(s, m.lit, m.fold) {
		return false
	}
	return m.re.MatchString(s)
}

// containsLiteral reports whether s may contain lit. With fold, ASCII case
// is ignored; a non-ASCII byte anywhere in s answers true, because Unicode
// case folding maps some non-ASCII runes to ASCII letters (K, ſ) and only
// the regex itself can tell.
func containsLiteral(s, lit string, fold bool) bool {
	if !fold {
		for i := 0; i+len(lit) <= len(s); i++ {
			if s[i] == lit[0] && s[i:i+len(lit)] == lit {
				return true
			}
		}
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return true
		}
	}
	for i := 0; i+len(lit) <= len(s); i++ {
		j := 0
		for j < len(lit) && lowerASCII(s[i+j]) == lit[j] {
			j++
		}
		if j == len(lit) {
			return true
		}
	}
	return false
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
