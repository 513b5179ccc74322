package postgres

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Wire framing of PostgreSQL protocol 3.0
// (https://www.postgresql.org/docs/15/protocol-message-formats.html).
// Messages are a type byte, an int32 length that counts itself, and a
// body; the startup-phase packets have no type byte.

const (
	codeSSLRequest    = 80877103
	codeGSSENCRequest = 80877104
	codeCancelRequest = 80877102
	protocolV3        = 196608
	// maxStartupPacket is the limit PostgreSQL itself applies.
	maxStartupPacket = 10000
)

// ErrMessageTooLarge is returned for a message above the configured limit.
var ErrMessageTooLarge = errors.New("message too large")

// ProtocolError is a violation of the wire protocol by a peer.
type ProtocolError struct{ Msg string }

func (e *ProtocolError) Error() string { return "protocol violation: " + e.Msg }

// readStartup reads one untyped startup-phase packet and returns its code
// and body (after the code). The body is freshly allocated.
func readStartup(r io.Reader) (code uint32, body []byte, err error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:4])
	if n < 8 || n > maxStartupPacket {
		return 0, nil, &ProtocolError{fmt.Sprintf("invalid startup packet length %d", n)}
	}
	code = binary.BigEndian.Uint32(hdr[4:])
	body = make([]byte, n-8)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, err
	}
	return code, body, nil
}

// readMessage reads one typed message. The body is freshly allocated.
func readMessage(r *bufio.Reader, max int) (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := int(binary.BigEndian.Uint32(hdr[1:]))
	if n < 4 {
		return 0, nil, &ProtocolError{fmt.Sprintf("invalid message length %d", n)}
	}
	if n-4 > max {
		return 0, nil, fmt.Errorf("%w: %d bytes (limit %d)", ErrMessageTooLarge, n-4, max)
	}
	body := make([]byte, n-4)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, nil, err
	}
	return hdr[0], body, nil
}

// appendMessage appends the encoding of m to dst.
func appendMessage(dst []byte, m pgproto3.Message) []byte {
	b, err := m.Encode(dst)
	if err != nil {
		// Encoding fails only for values out of the protocol's range,
		// which hoop never builds.
		panic(fmt.Sprintf("encode %T: %v", m, err))
	}
	return b
}

// errorMessage builds an ErrorResponse.
func errorMessage(severity, code, msg string) *pgproto3.ErrorResponse {
	return &pgproto3.ErrorResponse{Severity: severity, SeverityUnlocalized: severity, Code: code, Message: msg}
}

// parseStartupParams parses the key/value pairs of a StartupMessage body.
func parseStartupParams(body []byte) (map[string]string, error) {
	params := map[string]string{}
	for len(body) > 0 {
		if body[0] == 0 {
			return params, nil
		}
		k, rest, ok := cstring(body)
		if !ok {
			return nil, &ProtocolError{"unterminated startup parameter name"}
		}
		v, rest, ok := cstring(rest)
		if !ok {
			return nil, &ProtocolError{"unterminated startup parameter value"}
		}
		params[k] = v
		body = rest
	}
	return nil, &ProtocolError{"startup packet not terminated"}
}

func cstring(b []byte) (string, []byte, bool) {
	for i, c := range b {
		if c == 0 {
			return string(b[:i]), b[i+1:], true
		}
	}
	return "", nil, false
}

// frameTracker follows message boundaries in a byte stream without
// buffering it, so the relay knows when it may inject a message of its own
// and what the last ReadyForQuery said.
type frameTracker struct {
	hdr    [5]byte
	hn     int
	remain int
	typ    byte
	// txStatus is the status byte of the last ReadyForQuery seen ('I', 'T', 'E').
	txStatus byte
	rfqBody  bool
}

func (t *frameTracker) feed(p []byte) {
	for len(p) > 0 {
		if t.remain > 0 {
			k := min(t.remain, len(p))
			if t.rfqBody && k > 0 {
				t.txStatus = p[0]
				t.rfqBody = false
			}
			p = p[k:]
			t.remain -= k
			continue
		}
		k := min(5-t.hn, len(p))
		copy(t.hdr[t.hn:], p[:k])
		t.hn += k
		p = p[k:]
		if t.hn == 5 {
			t.typ = t.hdr[0]
			t.remain = int(binary.BigEndian.Uint32(t.hdr[1:])) - 4
			t.rfqBody = t.typ == 'Z' && t.remain > 0
			t.hn = 0
			if t.remain < 0 {
				t.remain = 0
			}
		}
	}
}

func (t *frameTracker) atBoundary() bool { return t.hn == 0 && t.remain == 0 }
