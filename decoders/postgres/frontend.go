package postgres

import "hoop.dev/hoop/sdk"

// Codes of the untyped first packets (protocol.html, "Message Formats").
const (
	codeCancel   = 80877102
	codeSSL      = 80877103
	codeGSSENC   = 80877104
	protoMajor3  = 3
	authNone     = -1
	authOK       = 0
	authKerberos = 2
	authClear    = 3
	authMD5      = 5
	authGSS      = 7
	authGSSCont  = 8
	authSSPI     = 9
	authSASL     = 10
	authSASLCont = 11
	authSASLFin  = 12
)

// startup decodes an untyped packet: StartupMessage, SSLRequest,
// GSSENCRequest or CancelRequest.
func (s *Stream) startup(h *half, b []byte, trunc bool, out []byte) ([]byte, error) {
	code := be32(b)
	b = b[4:]
	switch code {
	case codeSSL:
		s.s2c.answer = 's'
		return end(other(out, h.dir, "ssl_request")), nil
	case codeGSSENC:
		s.s2c.answer = 'g'
		return end(other(out, h.dir, "gssenc_request")), nil
	case codeCancel:
		if len(b) < 8 {
			return malformed(out, h.dir, "cancel request: short body"), nil
		}
		// The secret key is not reported: it is what authorises a cancel.
		return end(num(other(out, h.dir, "cancel_request"), "pid", int64(be32(b)))), nil
	}
	if code>>16 != protoMajor3 {
		h.dead = true
		reason := "unsupported protocol version " + itoa(int64(code>>16)) + "." + itoa(int64(code&0xffff))
		out = malformed(out, h.dir, reason)
		return out, &ProtocolError{Dir: h.dir, Reason: reason}
	}
	h.untyped = false
	// First pass: find user and database, and check the framing.
	var user, database []byte
	complete := false
	for r := b; len(r) > 0; {
		k, rest, ok := cstring(r)
		if !ok {
			break
		}
		if len(k) == 0 {
			complete = true
			break
		}
		v, rest, ok := cstring(rest)
		if !ok {
			break
		}
		switch string(k) {
		case "user":
			user = v
		case "database":
			database = v
		}
		r = rest
	}
	if !complete && !trunc {
		return malformed(out, h.dir, "startup message: missing terminator"), nil
	}
	out = begin(out, h.dir, "startup")
	out = key(out, "protocol")
	out = append(out, '"')
	out = appendUint(out, code>>16)
	out = append(out, '.')
	out = appendUint(out, code&0xffff)
	out = append(out, '"')
	out = strCap(out, "user", user, maxValue)
	out = strCap(out, "database", database, maxValue)
	out = key(out, "params")
	out = append(out, '{')
	first := true
	for r, n := b, 0; len(r) > 0 && n < maxParams; n++ {
		k, rest, ok := cstring(r)
		if !ok || len(k) == 0 {
			break
		}
		v, rest, ok := cstring(rest)
		if !ok {
			break
		}
		r = rest
		if string(k) == "user" || string(k) == "database" {
			continue
		}
		if !first {
			out = append(out, ',')
		}
		first = false
		out = quoteCap(out, k, maxValue)
		out = append(out, ':')
		out = quoteCap(out, v, maxValue)
	}
	out = append(out, '}')
	if trunc {
		out = boolean(out, "truncated", true)
	}
	return end(out), nil
}

// frontend decodes a typed client message.
func (s *Stream) frontend(h *half, typ byte, b []byte, trunc bool, out []byte) []byte {
	d := h.dir
	switch typ {
	case 'Q':
		text, _, ok := cstring(b)
		if !ok && !trunc {
			return malformed(out, d, "query: missing terminator")
		}
		out = str(lit(begin(out, d, "statement"), "proto", "simple"), "text", text)
		return endTrunc(out, trunc)
	case 'P':
		name, r, ok := cstring(b)
		if !ok && !trunc {
			return malformed(out, d, "parse: missing statement name terminator")
		}
		text, r, ok := cstring(r)
		if !ok && !trunc {
			return malformed(out, d, "parse: missing query terminator")
		}
		if !trunc && len(r) < 2 {
			return malformed(out, d, "parse: missing parameter type count")
		}
		out = lit(begin(out, d, "statement"), "proto", "extended")
		out = str(str(out, "name", name), "text", text)
		return endTrunc(out, trunc)
	case 'B':
		return s.bind(d, b, trunc, out)
	case 'E':
		portal, r, ok := cstring(b)
		if !ok || len(r) < 4 {
			return malformed(out, d, "execute: short body")
		}
		out = str(begin(out, d, "execute"), "portal", portal)
		return end(num(out, "max_rows", int64(int32(be32(r)))))
	case 'D', 'C':
		msg := "describe"
		if typ == 'C' {
			msg = "close"
		}
		if len(b) < 1 {
			return malformed(out, d, msg+": short body")
		}
		target := "statement"
		switch b[0] {
		case 'S':
		case 'P':
			target = "portal"
		default:
			return malformed(out, d, msg+": bad target")
		}
		name, _, ok := cstring(b[1:])
		if !ok {
			return malformed(out, d, msg+": missing name terminator")
		}
		return end(str(lit(other(out, d, msg), "target", target), "name", name))
	case 'S':
		return end(other(out, d, "sync"))
	case 'H':
		return end(other(out, d, "flush"))
	case 'c':
		out = end(num(lit(begin(out, d, "copy"), "msg", "done"), "bytes", h.copyBytes))
		h.copyBytes = 0
		return out
	case 'f':
		reason, _, _ := cstring(b)
		out = num(lit(begin(out, d, "copy"), "msg", "fail"), "bytes", h.copyBytes)
		h.copyBytes = 0
		return end(strCap(out, "message", reason, maxValue))
	case 'F':
		// Arguments are not decoded: they need the function's types.
		if len(b) < 6 || (!trunc && len(b) < 8+2*be16(b[4:])) {
			return malformed(out, d, "function call: short body")
		}
		out = num(other(out, d, "function_call"), "oid", int64(be32(b)))
		if r := b[6:]; len(r) >= 2*be16(b[4:])+2 {
			out = num(out, "args", int64(be16(r[2*be16(b[4:]):])))
		}
		return endTrunc(out, trunc)
	case 'X':
		return end(begin(out, d, "terminate"))
	case 'p':
		return s.authResponse(d, b, out)
	}
	return malformed(out, d, "unexpected message"+typeName(typ))
}

// malformed appends a malformed event; the framing is intact.
func malformed(out []byte, d sdk.Dir, reason string) []byte {
	return end(lit(other(out, d, "malformed"), "reason", reason))
}

// endTrunc closes an event, marking it truncated if its body was cut.
func endTrunc(out []byte, trunc bool) []byte {
	if trunc {
		out = boolean(out, "truncated", true)
	}
	return end(out)
}

// cstring splits b at its first NUL: the string, the rest after the NUL,
// and whether a NUL was found (if not, the string is all of b).
func cstring(b []byte) ([]byte, []byte, bool) {
	for i, c := range b {
		if c == 0 {
			return b[:i], b[i+1:], true
		}
	}
	return b, nil, false
}

func appendUint(out []byte, n uint32) []byte {
	var tmp [10]byte
	i := len(tmp)
	for {
		i--
		tmp[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return append(out, tmp[i:]...)
}
