package sqltok

// Word-at-a-time byte tests. Under wasm with wazero's termination checks,
// every loop iteration exits to the host, so the lexer's loops over long
// runs (identifiers, the lowercase check) take eight bytes per iteration.
// Each function is exact: it never reports true for a word that the
// byte-wise test would reject.

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
	lows  = ^uint64(highs)
)

// load8 reads the eight bytes of s at i (i+8 <= len(s)).
func load8(s string, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// ge marks, in its high bit, each byte of v (7-bit bytes only) that is at
// least c (c <= 0x80).
func ge(v uint64, c byte) uint64 { return (v + ones*uint64(0x80-c)) & highs }

// in marks each 7-bit byte of v in lo..hi.
func in(v uint64, lo, hi byte) uint64 { return ge(v, lo) &^ ge(v, hi+1) }

// identCont8 reports whether all eight bytes of w continue an identifier:
// an ASCII letter, digit, '_' or '$', or any non-ASCII byte.
func identCont8(w uint64) bool {
	v := w & lows
	m := w&highs | in(v|ones*0x20, 'a', 'z') | in(v, '0', '9') | in(v, '_', '_') | in(v, '$', '$')
	return m == highs
}

// noUpper8 reports whether none of the eight bytes of w is an ASCII
// upper-case letter.
func noUpper8(w uint64) bool {
	return in(w&lows, 'A', 'Z')&^(w&highs) == 0
}
