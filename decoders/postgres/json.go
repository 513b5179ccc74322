package postgres

import (
	"strconv"

	"hoop.dev/hoop/sdk"
)

// The event writer is append-only and hand-written: every event is built by
// appending constant keys and escaped values to the caller's buffer, so the
// hot path has no reflection, no fmt and no allocation beyond out's growth.
// Field order is the order of the calls, which makes output byte-exact.

const hexDigits = "0123456789abcdef"

// ellipsis marks a value that was cut (U+2026).
const ellipsis = "\u2026"

// begin opens an event: {"dir":"c2s","type":"<typ>"
func begin(out []byte, d sdk.Dir, typ string) []byte {
	if d == sdk.S2C {
		out = append(out, `{"dir":"s2c","type":"`...)
	} else {
		out = append(out, `{"dir":"c2s","type":"`...)
	}
	out = append(out, typ...)
	return append(out, '"')
}

// other opens an event of type other with the given msg.
func other(out []byte, d sdk.Dir, msg string) []byte {
	return lit(begin(out, d, "other"), "msg", msg)
}

// end closes an event and its line.
func end(out []byte) []byte { return append(out, '}', '\n') }

// key appends ,"k": (keys are constants and need no escaping).
func key(out []byte, k string) []byte {
	out = append(out, ',', '"')
	out = append(out, k...)
	return append(out, '"', ':')
}

// lit appends a constant string value that needs no escaping.
func lit(out []byte, k, v string) []byte {
	out = key(out, k)
	out = append(out, '"')
	out = append(out, v...)
	return append(out, '"')
}

// str appends an escaped string value.
func str(out []byte, k string, v []byte) []byte {
	return quote(key(out, k), v)
}

// strCap appends an escaped string value cut to at most max bytes.
func strCap(out []byte, k string, v []byte, max int) []byte {
	return quoteCap(key(out, k), v, max)
}

// num appends an integer value.
func num(out []byte, k string, n int64) []byte {
	return strconv.AppendInt(key(out, k), n, 10)
}

// boolean appends a boolean value.
func boolean(out []byte, k string, b bool) []byte {
	return strconv.AppendBool(key(out, k), b)
}

// quote appends v as a JSON string. Invalid UTF-8 becomes U+FFFD so every
// line is valid JSON whatever the client sent.
func quote(out []byte, v []byte) []byte {
	out = append(out, '"')
	out = escape(out, v)
	return append(out, '"')
}

// quoteCap is quote for at most max bytes of v (cut on a rune boundary),
// followed by an ellipsis when v was longer.
func quoteCap(out []byte, v []byte, max int) []byte {
	if len(v) <= max {
		return quote(out, v)
	}
	out = append(out, '"')
	out = escape(out, v[:runeCut(v, max)])
	out = append(out, ellipsis...)
	return append(out, '"')
}

// runeCut returns n, moved back so that v[:n] does not end inside a UTF-8
// sequence (at most 3 bytes back).
func runeCut(v []byte, n int) int {
	for i := 0; i < 3 && n > 0 && n < len(v) && v[n]&0xC0 == 0x80; i++ {
		n--
	}
	return n
}

// escape appends the JSON string escaping of v (the SDK's, so every
// plugin escapes alike).
func escape(out []byte, v []byte) []byte { return sdk.AppendEscaped(out, v) }

// hexCap appends v as the JSON string "\\x<hex>" (PostgreSQL's bytea hex
// form), at most max bytes of v, with an ellipsis when v was longer.
func hexCap(out []byte, v []byte, max int) []byte {
	cut := false
	if len(v) > max {
		v, cut = v[:max], true
	}
	out = append(out, '"', '\\', '\\', 'x')
	for _, c := range v {
		out = append(out, hexDigits[c>>4], hexDigits[c&0xF])
	}
	if cut {
		out = append(out, ellipsis...)
	}
	return append(out, '"')
}
