package postgres

import "hoop.dev/hoop/sdk"

// bind decodes a Bind message: portal, statement and the parameter values
// (text values as strings, binary values as \x hex, NULL as null), each cut
// to maxValue bytes and at most maxParams of them.
func (s *Stream) bind(d sdk.Dir, b []byte, trunc bool, out []byte) []byte {
	portal, r, ok := cstring(b)
	if !ok {
		return malformed(out, d, "bind: missing portal terminator")
	}
	stmt, r, ok := cstring(r)
	if !ok {
		return malformed(out, d, "bind: missing statement terminator")
	}
	if len(r) < 2 {
		return malformed(out, d, "bind: short body")
	}
	nfmt := be16(r)
	r = r[2:]
	if len(r) < 2*nfmt+2 {
		return malformed(out, d, "bind: short body")
	}
	fmts := r[:2*nfmt]
	r = r[2*nfmt:]
	nparams := be16(r)
	r = r[2:]
	if nfmt > 1 && nfmt != nparams {
		return malformed(out, d, "bind: format count does not match parameter count")
	}
	// Check the framing of every parameter before writing the event.
	if !trunc {
		q := r
		for i := 0; i < nparams; i++ {
			if len(q) < 4 {
				return malformed(out, d, "bind: short parameter")
			}
			l := int32(be32(q))
			q = q[4:]
			if l < -1 || int(l) > len(q) {
				return malformed(out, d, "bind: bad parameter length")
			}
			if l > 0 {
				q = q[l:]
			}
		}
		if len(q) < 2 || len(q) < 2+2*be16(q) {
			return malformed(out, d, "bind: short result formats")
		}
	}
	out = str(str(begin(out, d, "bind"), "portal", portal), "statement", stmt)
	out = key(out, "params")
	out = append(out, '[')
	i := 0
	for ; i < nparams && i < maxParams && len(r) >= 4; i++ {
		l := int32(be32(r))
		r = r[4:]
		if i > 0 {
			out = append(out, ',')
		}
		if l < 0 {
			out = append(out, "null"...)
			continue
		}
		v := r
		if int(l) <= len(r) {
			v, r = r[:l], r[l:]
		} else {
			r = nil // truncated body: the value is a prefix
		}
		binary := false
		switch {
		case nfmt == 1:
			binary = be16(fmts) == 1
		case nfmt > 1:
			binary = be16(fmts[2*i:]) == 1
		}
		if binary {
			out = hexCap(out, v, maxValue)
		} else {
			out = quoteCap(out, v, maxValue)
		}
	}
	out = append(out, ']')
	if nparams > i {
		out = num(out, "more_params", int64(nparams-i))
	}
	return endTrunc(out, trunc)
}

// authResponse decodes a client 'p' message, whose meaning depends on the
// server's last Authentication request. Its content (password, SASL data,
// GSS token) is never reported; only the SASL mechanism name is.
func (s *Stream) authResponse(d sdk.Dir, b []byte, out []byte) []byte {
	switch s.auth {
	case authSASL:
		mech, _, ok := cstring(b)
		if !ok {
			return malformed(out, d, "sasl initial response: missing mechanism terminator")
		}
		return end(strCap(lit(begin(out, d, "auth"), "msg", "sasl_initial"), "mechanism", mech, maxValue))
	case authSASLCont:
		return end(lit(begin(out, d, "auth"), "msg", "sasl_response"))
	case authClear, authMD5:
		return end(lit(begin(out, d, "auth"), "msg", "password"))
	case authGSS, authGSSCont, authSSPI:
		return end(lit(begin(out, d, "auth"), "msg", "gss_response"))
	}
	return end(lit(begin(out, d, "auth"), "msg", "response"))
}
