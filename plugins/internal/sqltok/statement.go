package sqltok

import "strings"

// Statement is one statement of a possibly multi-statement input.
type Statement struct {
	// Text is the statement's raw text between the surrounding semicolons,
	// trimmed of surrounding whitespace (comments inside are kept).
	Text string
	// Tokens are the statement's tokens, without the terminating ";".
	Tokens []Token
}

// Split lexes src and appends its statements to dst. Every ";" outside a
// literal, quoted identifier or comment ends a statement, whatever the
// parenthesis depth: splitting too often only makes a policy look at each
// piece as a statement of its own, while splitting too rarely could hide
// one. Statements without tokens (";;", a trailing comment) are dropped.
//
// The tokens are appended to buf, which backs every returned Statement's
// Tokens; the grown buf is returned for reuse by the caller.
func Split(dst []Statement, buf []Token, d Dialect, src string) ([]Statement, []Token) {
	buf = Tokenize(buf[:0], d, src)
	first, textStart := 0, 0
	emit := func(end, textEnd int) {
		if end > first {
			dst = append(dst, Statement{
				Text:   strings.TrimSpace(src[textStart:textEnd]),
				Tokens: buf[first:end:end],
			})
		}
	}
	for i, t := range buf {
		if t.IsPunct(';') {
			emit(i, t.Off)
			first, textStart = i+1, t.Off+1
		}
	}
	emit(len(buf), len(src))
	return dst, buf
}

// CodeStrings appends to dst the indexes of the String tokens of one
// statement whose content the server runs as SQL or procedural code: the
// body of DO, the AS body of CREATE FUNCTION or PROCEDURE, a string right
// after EXECUTE (PL/pgSQL dynamic SQL) and the string of PREPARE ... FROM
// (MySQL). A policy lexes these again so that wrapping a statement in a DO
// block does not hide it. Code built at run time (EXECUTE 'dr' || 'op') is
// beyond a lexer; the analyzer scores procedural code on its own for that.
func CodeStrings(dst []int, toks []Token) []int {
	if len(toks) == 0 {
		return dst
	}
	routine := false
	if toks[0].Is("create") {
		for i := 1; i < len(toks) && i < 8; i++ {
			if toks[i].Is("function") || toks[i].Is("procedure") {
				routine = true
				break
			}
		}
	}
	isDo, isPrepare := toks[0].Is("do"), toks[0].Is("prepare")
	for i, t := range toks {
		if t.Kind != String {
			continue
		}
		var prev Token
		if i > 0 {
			prev = toks[i-1]
		}
		switch {
		case isDo,
			prev.Is("execute"),
			routine && prev.Is("as"),
			isPrepare && prev.Is("from"):
			dst = append(dst, i)
		}
	}
	return dst
}

// CommandAt reports whether toks[i] stands where a statement's command
// keyword can: first in the statement; right after "(" or ")" (a subquery,
// or the statement after a WITH clause); after EXPLAIN [ANALYZE|VERBOSE],
// PREPARE name AS, or CREATE RULE ... DO ALSO|INSTEAD; or after the
// PL/pgSQL words that open a block of statements (BEGIN, THEN, ELSE, LOOP,
// ATOMIC). It tells "update t set" from "for update" or "on conflict do
// update", and "delete from" from "on delete cascade".
func CommandAt(toks []Token, i int) bool {
	if i == 0 {
		return true
	}
	p := toks[i-1]
	if p.Kind == Punct {
		return p.IsPunct('(') || p.IsPunct(')')
	}
	if p.Kind != Word {
		return false
	}
	switch p.Text {
	case "explain", "analyze", "verbose", "as", "also", "instead",
		"begin", "then", "else", "loop", "atomic":
		return true
	}
	return false
}
