package postgres

import (
	"encoding/binary"
	"strings"
)

// The server's side of a refusal (see enforce.go): in the extended
// protocol hoop's injected Parse/Bind produce a ParseComplete and a
// BindComplete the client did not ask for, and every refusal carries the
// PL/pgSQL context of hoop's raise statement. The relay removes both from
// the server's answer; it parses server messages only while a refusal is
// outstanding.

// expectRefusal notes that an extended-protocol refusal was injected: the
// server will answer ParseComplete, BindComplete, ErrorResponse, and the
// first two are hoop's, not the client's.
func (r *relay) expectRefusal() { r.refusals.Add(1) }

// filterRefusals removes the ParseComplete and BindComplete that directly
// precede a refusal's ErrorResponse. It holds at most those two messages.
func (r *relay) filterRefusals(data []byte) []byte {
	r.pend = append(r.pend, data...)
	out := r.filtered[:0]
	p := r.pend
	for len(p) >= 5 {
		n := int(binary.BigEndian.Uint32(p[1:5]))
		if n < 4 || len(p) < 1+n {
			break
		}
		m := p[:1+n]
		p = p[1+n:]
		switch {
		case m[0] == '1' && len(r.held) == 0 && r.refusals.Load() > 0:
			r.held = append(r.held, m...)
		case m[0] == '2' && len(r.held) == 5:
			r.held = append(r.held, m...)
		case m[0] == 'E' && r.refusals.Load() > 0 && isRefusal(m[5:]):
			if len(r.held) != 10 { // a simple-protocol refusal: nothing of hoop's precedes it
				out = append(out, r.held...)
			}
			r.held = r.held[:0]
			out = appendWithoutWhere(out, m)
			r.refusals.Add(-1)
		default:
			out = append(out, r.held...)
			r.held = r.held[:0]
			if m[0] == '1' && r.refusals.Load() > 0 {
				r.held = append(r.held, m...)
			} else {
				out = append(out, m...)
			}
		}
	}
	r.pend = append(r.pend[:0], p...)
	r.filtered = out
	return out
}

// appendWithoutWhere appends an ErrorResponse without its Where field: the
// PL/pgSQL context of hoop's raise statement is hoop's, not the client's.
func appendWithoutWhere(dst []byte, m []byte) []byte {
	start := len(dst)
	dst = append(dst, 'E', 0, 0, 0, 0)
	body := m[5:]
	for len(body) > 1 && body[0] != 0 {
		f := body[0]
		_, rest, ok := cstring(body[1:])
		if !ok {
			return append(dst[:start], m...)
		}
		if f != 'W' {
			dst = append(dst, body[:len(body)-len(rest)]...)
		}
		body = rest
	}
	dst = append(dst, 0)
	binary.BigEndian.PutUint32(dst[start+1:], uint32(len(dst)-start-1))
	return dst
}

// isRefusal reports whether an ErrorResponse body is hoop's refusal.
func isRefusal(body []byte) bool {
	var code, msg string
	for len(body) > 1 && body[0] != 0 {
		f := body[0]
		v, rest, ok := cstring(body[1:])
		if !ok {
			return false
		}
		switch f {
		case 'C':
			code = v
		case 'M':
			msg = v
		}
		body = rest
	}
	return code == "42501" && strings.HasPrefix(msg, "hoop: ")
}
