// Package postgres decodes the PostgreSQL frontend/backend protocol 3.0 into
// hoop's decoder events (JSON Lines, see EVENTS.md). It is a normal Go
// package, tested natively, and the same code is built to a WASM decoder
// plugin by ./wasm.
//
// One Stream decodes one connection: both directions are fed to it in relay
// order, because the meaning of some bytes depends on the other direction
// (the single-byte answer to an SSLRequest, the kind of a 'p' password
// message). The decoder frames over the caller's bytes without copying; it
// buffers only the messages whose content it reports (at most MaxBuffered
// bytes of each) and skips the bodies of DataRow and CopyData without
// buffering them, even across Feeds. It never reports secrets: passwords,
// SASL payloads, MD5 salts and cancel keys are not in any event.
//
// Protocol reference: https://www.postgresql.org/docs/15/protocol.html
package postgres

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"hoop.dev/hoop/sdk"
)

// Manifest describes the decoder plugin.
var Manifest = sdk.Manifest{
	Name:        "postgres",
	Version:     "1.0.0",
	Kind:        sdk.KindDecoder,
	Protocols:   []string{"postgres"},
	Description: "PostgreSQL frontend/backend protocol 3.0: startup, auth, simple and extended queries, COPY, results and errors",
}

// Limits of the framing.
const (
	// MaxMessage is the largest message length accepted; a longer length
	// field means the stream is not (or no longer) PostgreSQL protocol.
	MaxMessage = 1 << 30
	// MaxBuffered is how many bytes of a reported message's body are kept;
	// the rest is skipped and the event says "truncated":true.
	MaxBuffered = 1 << 20
	// maxValue caps parameter values and startup values in events.
	maxValue = 256
	// maxParams caps the number of Bind parameters listed in an event.
	maxParams = 64
	// maxColumns caps the number of column names listed in an event.
	maxColumns = 256
)

// ErrMalformed is the category of every framing error Feed returns.
var ErrMalformed = errors.New("malformed postgres message")

// ProtocolError is returned once by Feed when a direction's framing is lost
// (a length field outside 4..MaxMessage); that direction is ignored after.
type ProtocolError struct {
	Dir    sdk.Dir
	Reason string
}

func (e *ProtocolError) Error() string {
	return "decode postgres " + e.Dir.String() + ": " + ErrMalformed.Error() + ": " + e.Reason
}

// Unwrap makes errors.Is(err, ErrMalformed) hold.
func (e *ProtocolError) Unwrap() error { return ErrMalformed }

// New returns the decoder. It holds no state; each Open is independent.
func New() sdk.Decoder { return decoder{} }

type decoder struct{}

var _ sdk.Decoder = decoder{}

// config is the decoder's configuration. It has no fields yet; Open rejects
// unknown keys so a typo is not silently ignored.
type config struct{}

// Open starts a stream for one connection. config may be empty or a JSON
// object without keys.
func (decoder) Open(cfg []byte) (sdk.Stream, error) {
	if len(trimSpace(cfg)) > 0 {
		var c config
		dec := json.NewDecoder(bytes.NewReader(cfg))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return nil, fmt.Errorf("decode postgres decoder config: %w", err)
		}
	}
	return newStream(), nil
}

// Stream is the decoding state of one connection. Feed and Close are not
// safe for concurrent use.
type Stream struct {
	c2s, s2c half
	// encrypted is set once TLS or GSS encryption was accepted: nothing
	// after that is readable, so both directions are ignored.
	encrypted bool
	// auth is the last Authentication request code from the server
	// (authNone before any): it tells what a client 'p' message is.
	auth int32
}

var _ sdk.Stream = (*Stream)(nil)

func newStream() *Stream {
	s := &Stream{auth: authNone}
	s.c2s.dir, s.c2s.untyped = sdk.C2S, true
	s.s2c.dir = sdk.S2C
	return s
}

// half is the framing state of one direction.
type half struct {
	dir sdk.Dir
	// untyped: the next message has no type byte (c2s before startup).
	untyped bool
	// answer is the pending single-byte answer ('s' SSL, 'g' GSS) the
	// server owes (s2c only).
	answer byte
	// dead: framing was lost; the direction is ignored.
	dead bool

	hdr  [5]byte // partial header
	nhdr int

	typ        byte
	collecting bool   // body is being collected across Feeds
	need       int    // body bytes still to collect
	trunc      bool   // the collected body is a prefix of the message
	body       []byte // collected body (at most MaxBuffered)
	skip       int    // body bytes still to skip

	rows      int64 // s2c DataRows since the last RowDescription/result
	copyBytes int64 // CopyData payload bytes since the COPY began
}

// Feed decodes data of direction dir and appends events to out. It keeps
// partial messages for the next Feed; data is not retained.
func (s *Stream) Feed(dir sdk.Dir, data []byte, out []byte) ([]byte, error) {
	switch dir {
	case sdk.C2S:
		return s.feed(&s.c2s, data, out)
	case sdk.S2C:
		return s.feed(&s.s2c, data, out)
	}
	return out, fmt.Errorf("feed postgres stream: unknown direction %d", dir)
}

// Close releases the stream's buffers.
func (s *Stream) Close() {
	s.c2s.body, s.s2c.body = nil, nil
}

func (s *Stream) feed(h *half, p []byte, out []byte) ([]byte, error) {
	var err error
	for len(p) > 0 && !h.dead && !s.encrypted {
		switch {
		case h.collecting:
			n := min(h.need, len(p))
			h.body = append(h.body, p[:n]...)
			h.need -= n
			p = p[n:]
			if h.need == 0 {
				h.collecting = false
				out, err = s.message(h, h.typ, h.body, h.trunc, out)
				if cap(h.body) > 64<<10 {
					h.body = nil // do not hold a big buffer for the session's life
				} else {
					h.body = h.body[:0]
				}
				if err != nil {
					return out, err
				}
			}
		case h.skip > 0:
			n := min(h.skip, len(p))
			h.skip -= n
			p = p[n:]
		case h.answer != 0 && h.nhdr == 0:
			if s.answer(h, p[0]) {
				out = s.answerEvent(h, p[0], out)
				p = p[1:]
			}
		default:
			if out, p, err = s.header(h, p, out); err != nil {
				return out, err
			}
		}
	}
	return out, nil
}

// header reads a message header from p and starts the message: decodes it
// at once when its (capped) body is in p, or starts collecting or skipping.
func (s *Stream) header(h *half, p []byte, out []byte) ([]byte, []byte, error) {
	hl := 5
	if h.untyped {
		hl = 4
	}
	var hdr []byte
	if h.nhdr == 0 && len(p) >= hl {
		hdr, p = p[:hl], p[hl:]
	} else {
		n := copy(h.hdr[h.nhdr:hl], p)
		h.nhdr += n
		p = p[n:]
		if h.nhdr < hl {
			return out, p, nil
		}
		hdr, h.nhdr = h.hdr[:hl], 0
	}
	var typ byte
	if !h.untyped {
		typ, hdr = hdr[0], hdr[1:]
	}
	l := be32(hdr)
	if h.untyped && l>>24 == 0x16 {
		// A TLS record (handshake) where a startup packet belongs: direct
		// TLS negotiation. The rest of the connection is encrypted.
		s.encrypted = true
		return end(other(out, h.dir, "tls")), p, nil
	}
	minLen := uint32(4)
	if h.untyped {
		minLen = 8
	}
	if l < minLen || l > MaxMessage {
		h.dead = true
		what := typeName(typ)
		if h.untyped {
			what = " for startup packet"
		}
		reason := "bad length " + itoa(int64(l)) + what
		out = end(str(other(out, h.dir, "malformed"), "reason", []byte(reason)))
		return out, p, &ProtocolError{Dir: h.dir, Reason: reason}
	}
	n := int(l) - 4
	if !h.untyped {
		switch kind(h.dir, typ) {
		case unknownMsg:
			// The length is plausible: skip the message and go on.
			out = end(str(other(out, h.dir, "malformed"), "reason", []byte("unknown message type"+typeName(typ))))
			h.skip = n
			return out, p, nil
		case countedMsg:
			s.count(h, typ, n)
			h.skip = n
			return out, p, nil
		}
	}
	take := min(n, MaxBuffered)
	trunc := n > take
	h.skip = n - take
	if len(p) >= take {
		var err error
		out, err = s.message(h, typ, p[:take], trunc, out)
		return out, p[take:], err
	}
	h.typ, h.trunc, h.collecting = typ, trunc, true
	h.body = append(h.body[:0], p...)
	h.need = take - len(p)
	return out, p[len(p):], nil
}

// Message kinds for framing.
const (
	unknownMsg = iota
	decodedMsg // body buffered (capped) and decoded
	countedMsg // body skipped, only counted (DataRow, CopyData)
)

func kind(d sdk.Dir, typ byte) int {
	if typ == 'd' || (d == sdk.S2C && typ == 'D') {
		return countedMsg
	}
	if d == sdk.C2S {
		switch typ {
		case 'Q', 'P', 'B', 'E', 'D', 'C', 'S', 'H', 'c', 'f', 'F', 'X', 'p':
			return decodedMsg
		}
		return unknownMsg
	}
	switch typ {
	case 'R', 'K', 'S', 'Z', 'T', 'C', 'E', 'N', 'I', '1', '2', '3', 'n', 't', 's', 'G', 'H', 'W', 'c', 'A', 'V', 'v':
		return decodedMsg
	}
	return unknownMsg
}

// count accounts for a skipped message.
func (s *Stream) count(h *half, typ byte, n int) {
	if typ == 'D' {
		h.rows++
	} else {
		h.copyBytes += int64(n)
	}
}

// message decodes one (possibly truncated) message body.
func (s *Stream) message(h *half, typ byte, b []byte, trunc bool, out []byte) ([]byte, error) {
	if h.dir == sdk.C2S {
		if h.untyped {
			return s.startup(h, b, trunc, out)
		}
		return s.frontend(h, typ, b, trunc, out), nil
	}
	return s.backend(h, typ, b, trunc, out), nil
}

// answer reports whether c is the server's single-byte answer to a pending
// SSLRequest/GSSENCRequest; if not (an old server answers with an
// ErrorResponse), the answer is no longer expected.
func (s *Stream) answer(h *half, c byte) bool {
	if c == 'N' || (h.answer == 's' && c == 'S') || (h.answer == 'g' && c == 'G') {
		return true
	}
	h.answer = 0
	return false
}

func (s *Stream) answerEvent(h *half, c byte, out []byte) []byte {
	msg := "ssl_response"
	if h.answer == 'g' {
		msg = "gssenc_response"
	}
	h.answer = 0
	accept := c != 'N'
	if accept {
		s.encrypted = true
	}
	return end(boolean(other(out, h.dir, msg), "accept", accept))
}

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func be16(b []byte) int { return int(b[0])<<8 | int(b[1]) }

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// typeName is " for message 'X'" (or the hex of a non-printable type).
func typeName(typ byte) string {
	if typ >= 0x21 && typ < 0x7f && typ != '"' && typ != '\\' {
		return " for message '" + string(rune(typ)) + "'"
	}
	return " for message 0x" + string([]byte{hexDigits[typ>>4], hexDigits[typ&0xF]})
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}
