package postgres

import "hoop.dev/hoop/sdk"

// backend decodes a typed server message.
func (s *Stream) backend(h *half, typ byte, b []byte, trunc bool, out []byte) []byte {
	d := h.dir
	switch typ {
	case 'R':
		return s.authRequest(d, b, out)
	case 'K':
		if len(b) < 8 {
			return malformed(out, d, "backend key data: short body")
		}
		// The secret key is not reported: it is what authorises a cancel.
		return end(num(other(out, d, "backend_key_data"), "pid", int64(be32(b))))
	case 'S':
		name, r, ok := cstring(b)
		value, _, ok2 := cstring(r)
		if !ok || !ok2 {
			return malformed(out, d, "parameter status: missing terminator")
		}
		return end(strCap(strCap(other(out, d, "parameter_status"), "name", name, maxValue), "value", value, maxValue))
	case 'Z':
		if len(b) < 1 {
			return malformed(out, d, "ready for query: short body")
		}
		return end(str(other(out, d, "ready"), "status", b[:1]))
	case 'T':
		return s.rowDescription(h, b, trunc, out)
	case 'C':
		tag, _, ok := cstring(b)
		if !ok {
			return malformed(out, d, "command complete: missing terminator")
		}
		out = num(strCap(begin(out, d, "result"), "tag", tag, maxValue), "rows", h.rows)
		h.rows = 0
		return end(out)
	case 'E', 'N':
		h.rows = 0
		return s.errorFields(d, typ, b, trunc, out)
	case 'I':
		h.rows = 0
		return end(other(out, d, "empty_query"))
	case '1':
		return end(other(out, d, "parse_complete"))
	case '2':
		return end(other(out, d, "bind_complete"))
	case '3':
		return end(other(out, d, "close_complete"))
	case 'n':
		return end(other(out, d, "no_data"))
	case 't':
		if len(b) < 2 {
			return malformed(out, d, "parameter description: short body")
		}
		return end(num(other(out, d, "parameter_description"), "params", int64(be16(b))))
	case 's':
		out = end(num(other(out, d, "portal_suspended"), "rows", h.rows))
		h.rows = 0
		return out
	case 'G', 'H', 'W':
		if len(b) < 3 {
			return malformed(out, d, "copy response: short body")
		}
		msg := "in"
		switch typ {
		case 'G':
			s.c2s.copyBytes = 0
		case 'H':
			msg = "out"
			h.copyBytes = 0
		case 'W':
			msg = "both"
			s.c2s.copyBytes, h.copyBytes = 0, 0
		}
		format := "text"
		if b[0] != 0 {
			format = "binary"
		}
		out = lit(lit(begin(out, d, "copy"), "msg", msg), "format", format)
		return end(num(out, "columns", int64(be16(b[1:]))))
	case 'c':
		out = end(num(lit(begin(out, d, "copy"), "msg", "done"), "bytes", h.copyBytes))
		h.copyBytes = 0
		return out
	case 'A':
		if len(b) < 4 {
			return malformed(out, d, "notification: short body")
		}
		channel, r, ok := cstring(b[4:])
		payload, _, ok2 := cstring(r)
		if !trunc && (!ok || !ok2) {
			return malformed(out, d, "notification: missing terminator")
		}
		out = num(other(out, d, "notification"), "pid", int64(be32(b)))
		out = strCap(strCap(out, "channel", channel, maxValue), "payload", payload, maxValue)
		return endTrunc(out, trunc)
	case 'V':
		if len(b) < 4 {
			return malformed(out, d, "function call response: short body")
		}
		// The result value is not reported: its type is unknown here.
		return end(num(other(out, d, "function_call_response"), "length", int64(int32(be32(b)))))
	case 'v':
		if len(b) < 8 {
			return malformed(out, d, "negotiate protocol version: short body")
		}
		out = num(other(out, d, "negotiate_protocol_version"), "minor", int64(be32(b)))
		return end(num(out, "unsupported_options", int64(be32(b[4:]))))
	}
	return malformed(out, d, "unexpected message"+typeName(typ))
}

// authRequest decodes an Authentication* message and remembers its code so
// the client's next 'p' message can be named. Salts and SASL data are not
// reported.
func (s *Stream) authRequest(d sdk.Dir, b []byte, out []byte) []byte {
	if len(b) < 4 {
		return malformed(out, d, "authentication: short body")
	}
	code := int32(be32(b))
	s.auth = code
	out = begin(out, d, "auth")
	switch code {
	case authOK:
		return end(lit(out, "msg", "ok"))
	case authKerberos:
		return end(lit(out, "msg", "kerberos_v5"))
	case authClear:
		return end(lit(out, "msg", "cleartext"))
	case authMD5:
		return end(lit(out, "msg", "md5"))
	case authGSS:
		return end(lit(out, "msg", "gss"))
	case authGSSCont:
		return end(lit(out, "msg", "gss_continue"))
	case authSSPI:
		return end(lit(out, "msg", "sspi"))
	case authSASL:
		out = lit(out, "msg", "sasl")
		out = key(out, "mechanisms")
		out = append(out, '[')
		r := b[4:]
		for n := 0; n < maxParams; n++ {
			mech, rest, ok := cstring(r)
			if !ok || len(mech) == 0 {
				break
			}
			if n > 0 {
				out = append(out, ',')
			}
			out = quoteCap(out, mech, maxValue)
			r = rest
		}
		return end(append(out, ']'))
	case authSASLCont:
		return end(lit(out, "msg", "sasl_continue"))
	case authSASLFin:
		return end(lit(out, "msg", "sasl_final"))
	}
	return end(num(lit(out, "msg", "unknown"), "code", int64(code)))
}

// rowDescription lists the column names of a RowDescription and starts a
// new row count.
func (s *Stream) rowDescription(h *half, b []byte, trunc bool, out []byte) []byte {
	h.rows = 0
	if len(b) < 2 {
		return malformed(out, h.dir, "row description: short body")
	}
	n := be16(b)
	if !trunc {
		r := b[2:]
		for i := 0; i < n; i++ {
			_, rest, ok := cstring(r)
			if !ok || len(rest) < 18 {
				return malformed(out, h.dir, "row description: short field")
			}
			r = rest[18:]
		}
	}
	out = key(other(out, h.dir, "row_description"), "columns")
	out = append(out, '[')
	r := b[2:]
	i := 0
	for ; i < n && i < maxColumns; i++ {
		name, rest, ok := cstring(r)
		if !ok || len(rest) < 18 {
			break
		}
		if i > 0 {
			out = append(out, ',')
		}
		out = quoteCap(out, name, maxValue)
		r = rest[18:]
	}
	out = append(out, ']')
	if n > i {
		out = num(out, "more_columns", int64(n-i))
	}
	return endTrunc(out, trunc)
}

// errorFields decodes an ErrorResponse or NoticeResponse.
func (s *Stream) errorFields(d sdk.Dir, typ byte, b []byte, trunc bool, out []byte) []byte {
	var sev, sevV, code, msg, detail, hint, pos []byte
	r := b
	complete := false
	for len(r) > 0 {
		f := r[0]
		if f == 0 {
			complete = true
			break
		}
		v, rest, ok := cstring(r[1:])
		if !ok {
			break
		}
		switch f {
		case 'S':
			sev = v
		case 'V':
			sevV = v
		case 'C':
			code = v
		case 'M':
			msg = v
		case 'D':
			detail = v
		case 'H':
			hint = v
		case 'P':
			pos = v
		}
		r = rest
	}
	if !complete && !trunc {
		return malformed(out, d, "error fields: missing terminator")
	}
	if sevV != nil {
		sev = sevV // never localised
	}
	event := "error"
	if typ == 'N' {
		event = "notice"
	}
	out = str(begin(out, d, event), "severity", sev)
	out = str(out, "code", code)
	out = str(out, "message", msg)
	if detail != nil {
		out = str(out, "detail", detail)
	}
	if hint != nil {
		out = str(out, "hint", hint)
	}
	if pos != nil {
		out = str(out, "position", pos)
	}
	return endTrunc(out, trunc)
}
