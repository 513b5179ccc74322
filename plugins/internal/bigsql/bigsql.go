// Package bigsql builds the adversarial statements that the policy plugins'
// linearity tests and benchmarks run on: inputs of one size whose shapes
// (one huge token, many tiny tokens, many statements, deep nesting,
// unterminated literals) are the ones that would turn a careless lexer or
// analysis quadratic.
package bigsql

import (
	"strconv"
	"strings"
)

// Case is one named statement text.
type Case struct {
	Name string
	Text string
}

// Cases returns the adversarial statements of about size bytes each.
func Cases(size int) []Case {
	rep := func(unit string) string { return strings.Repeat(unit, max(size/len(unit), 1)) }
	return []Case{
		{"single-token", rep("x")},
		{"spaced-tokens", rep("x ")},
		{"many-statements", rep("select 1;")},
		{"open-parens", rep("(")},
		{"quotes", rep("'")},
		{"comment-nesting", rep("/*")},
		{"dollar-tags", rep("$a")},
		{"numbers", rep("1e")},
		{"updates", rep("update t set a = 1 ")},
		{"deletes-split", rep("delete from t;")},
		{"where-or", "delete from t where " + rep("(a = 1) or ")},
		{"call-parens", rep("pg_read_file(")},
		{"do-body", "DO $$ " + rep("execute 'x'; ") + " $$"},
		{"insert-values", Insert(size)},
	}
}

// Insert returns a realistic multi-row INSERT of about size bytes.
func Insert(size int) string {
	var b strings.Builder
	b.Grow(size + 64)
	b.WriteString("INSERT INTO orders (id, customer, note, amount, created_at) VALUES ")
	for i := 0; b.Len() < size; i++ {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("(")
		b.WriteString(strconv.Itoa(i))
		b.WriteString(", 'customer-")
		b.WriteString(strconv.Itoa(i % 977))
		b.WriteString("', E'it''s a \\n note', 12.50, now())")
	}
	b.WriteString(" ON CONFLICT (id) DO NOTHING")
	return b.String()
}

// DeepJSON returns malformed policy input: an object nested depth levels
// deep and never closed.
func DeepJSON(depth int) []byte {
	return []byte(strings.Repeat(`{"a":`, depth))
}
