package sdk

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// The policy codec is hand-written so that a guest decodes its input and
// encodes its verdict without encoding/json's reflection on the hot path.
// It accepts exactly the JSON that encoding/json accepts for these types
// (escapes, surrogate pairs, invalid UTF-8 replaced by U+FFFD, unknown fields
// ignored, null leaves a field empty, keys matched exactly and then ASCII
// case-insensitively) and reports anything else as an error, with one
// deliberate difference: values nested deeper than MaxDepth are refused
// (encoding/json allows 10000), so hostile input fails after a few hundred
// bytes instead of recursing through the whole document.

// ErrSyntax is wrapped by every codec error caused by malformed JSON or by a
// value of the wrong JSON type.
var ErrSyntax = errors.New("invalid json")

// MaxDepth is the deepest nesting of arrays and objects the codec accepts;
// no ABI v1 document comes close.
const MaxDepth = 64

// ErrTooDeep is wrapped by the error for a document nested deeper than
// MaxDepth. It wraps ErrSyntax.
var ErrTooDeep = fmt.Errorf("%w: nested deeper than %d", ErrSyntax, MaxDepth)

// DecodeInput parses the ABI v1 policy input JSON into in, which is reset
// first. in's strings never alias data.
func DecodeInput(data []byte, in *Input) error {
	*in = Input{}
	s := scanner{b: data}
	if err := s.top(func(key []byte) error {
		switch {
		case keyIs(key, "identity"):
			return s.object(func(key []byte) error {
				switch {
				case keyIs(key, "name"):
					return s.str(&in.Identity.Name)
				case keyIs(key, "kind"):
					return s.str(&in.Identity.Kind)
				}
				return s.skip(0)
			})
		case keyIs(key, "resource"):
			return s.str(&in.Resource)
		case keyIs(key, "role"):
			return s.str(&in.Role)
		case keyIs(key, "protocol"):
			return s.str(&in.Protocol)
		case keyIs(key, "session"):
			return s.str(&in.Session)
		case keyIs(key, "statement"):
			return s.object(func(key []byte) error {
				if keyIs(key, "text") {
					return s.str(&in.Statement.Text)
				}
				return s.skip(0)
			})
		}
		return s.skip(0)
	}); err != nil {
		return fmt.Errorf("decode input: %w", err)
	}
	return nil
}

// DecodeVerdict parses a verdict JSON object into v, which is reset first. It
// checks syntax and types only; see Verdict.Validate for the schema.
func DecodeVerdict(data []byte, v *Verdict) error {
	*v = Verdict{}
	s := scanner{b: data}
	if err := s.top(func(key []byte) error {
		switch {
		case keyIs(key, "decision"):
			return s.str(&v.Decision)
		case keyIs(key, "risk"):
			return s.integer(&v.Risk)
		case keyIs(key, "rule"):
			return s.str(&v.Rule)
		case keyIs(key, "reason"):
			return s.str(&v.Reason)
		}
		return s.skip(0)
	}); err != nil {
		return fmt.Errorf("decode verdict: %w", err)
	}
	return nil
}

// Validate reports whether v is a verdict of ABI v1: a decision of Allow,
// Block or Review and a risk from 0 to 100.
func (v Verdict) Validate() error {
	switch v.Decision {
	case Allow, Block, Review:
	default:
		return fmt.Errorf("validate verdict: decision %q is not allow, block or review", v.Decision)
	}
	if v.Risk < 0 || v.Risk > 100 {
		return fmt.Errorf("validate verdict: risk %d is outside 0-100", v.Risk)
	}
	return nil
}

// AppendInput appends in as ABI v1 policy input JSON.
func AppendInput(dst []byte, in *Input) []byte {
	dst = append(dst, `{"identity":{"name":`...)
	dst = AppendString(dst, in.Identity.Name)
	dst = append(dst, `,"kind":`...)
	dst = AppendString(dst, in.Identity.Kind)
	dst = append(dst, `},"resource":`...)
	dst = AppendString(dst, in.Resource)
	dst = append(dst, `,"role":`...)
	dst = AppendString(dst, in.Role)
	dst = append(dst, `,"protocol":`...)
	dst = AppendString(dst, in.Protocol)
	dst = append(dst, `,"session":`...)
	dst = AppendString(dst, in.Session)
	dst = append(dst, `,"statement":{"text":`...)
	dst = AppendString(dst, in.Statement.Text)
	return append(dst, "}}"...)
}

// AppendVerdict appends v as verdict JSON (rule and reason omitted when empty).
func AppendVerdict(dst []byte, v Verdict) []byte {
	dst = append(dst, `{"decision":`...)
	dst = AppendString(dst, v.Decision)
	dst = append(dst, `,"risk":`...)
	dst = strconv.AppendInt(dst, int64(v.Risk), 10)
	if v.Rule != "" {
		dst = append(dst, `,"rule":`...)
		dst = AppendString(dst, v.Rule)
	}
	if v.Reason != "" {
		dst = append(dst, `,"reason":`...)
		dst = AppendString(dst, v.Reason)
	}
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// AppendString appends s as a quoted JSON string. Control characters,
// U+2028 and U+2029 are escaped and invalid UTF-8 becomes U+FFFD, so the
// result is valid JSON for any s. Decoders use it to build events.
func AppendString(dst []byte, s string) []byte {
	return append(AppendEscaped(append(dst, '"'), s), '"')
}

// AppendEscaped appends the JSON string escaping of s (as AppendString
// does) without the quotes, for a string or bytes (decoders escape slices
// of their input without copying them).
func AppendEscaped[T ~string | ~[]byte](dst []byte, s T) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		var buf [utf8.UTFMax]byte
		r, size := utf8.DecodeRune(buf[:copy(buf[:], s[i:min(i+utf8.UTFMax, len(s))])])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

// keyIs matches a key exactly or, failing that, ASCII case-insensitively, as
// encoding/json does for these lowercase field names.
func keyIs(key []byte, name string) bool {
	if string(key) == name {
		return true
	}
	if len(key) != len(name) {
		return false
	}
	for i := range len(key) {
		c := key[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != name[i] {
			return false
		}
	}
	return true
}

type scanner struct {
	b   []byte
	i   int
	tmp []byte
}

func (s *scanner) fail(what string) error {
	if s.i >= len(s.b) {
		return fmt.Errorf("%w: %s at end of input", ErrSyntax, what)
	}
	return fmt.Errorf("%w: %s at offset %d", ErrSyntax, what, s.i)
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// top parses a whole document that must be an object (or null) and nothing
// after it but whitespace.
func (s *scanner) top(field func(key []byte) error) error {
	if err := s.object(field); err != nil {
		return err
	}
	s.ws()
	if s.i != len(s.b) {
		return s.fail("data after the top-level value")
	}
	return nil
}

func (s *scanner) null() bool {
	if len(s.b)-s.i >= 4 && string(s.b[s.i:s.i+4]) == "null" {
		s.i += 4
		return true
	}
	return false
}

// object parses an object (or null), calling field for each key with the
// scanner positioned at the value; field must consume the value.
func (s *scanner) object(field func(key []byte) error) error {
	s.ws()
	if s.null() {
		return nil
	}
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		if s.i < len(s.b) && s.valueStart() {
			return s.fail("expected an object")
		}
		return s.fail("expected a value")
	}
	s.i++
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		return nil
	}
	for {
		s.ws()
		key, err := s.rawString()
		if err != nil {
			return err
		}
		// The key may live in s.tmp, which the value may reuse: copy it then.
		if len(s.tmp) > 0 && len(key) > 0 && &key[0] == &s.tmp[0] {
			key = append([]byte(nil), key...)
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return s.fail("expected ':'")
		}
		s.i++
		s.ws()
		if err := field(key); err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.b) {
			return s.fail("unterminated object")
		}
		switch s.b[s.i] {
		case ',':
			s.i++
		case '}':
			s.i++
			return nil
		default:
			return s.fail("expected ',' or '}'")
		}
	}
}

func (s *scanner) valueStart() bool {
	switch c := s.b[s.i]; c {
	case '"', '[', '{', 't', 'f', 'n', '-':
		return true
	default:
		return c >= '0' && c <= '9'
	}
}

// str parses a string (or null, which leaves *dst alone) into *dst.
func (s *scanner) str(dst *string) error {
	s.ws()
	if s.null() {
		return nil
	}
	if s.i < len(s.b) && s.b[s.i] != '"' && s.valueStart() {
		if err := s.skip(0); err != nil {
			return err
		}
		return fmt.Errorf("%w: expected a string before offset %d", ErrSyntax, s.i)
	}
	raw, err := s.rawString()
	if err != nil {
		return err
	}
	*dst = string(raw)
	return nil
}

// integer parses a JSON number that must be an integer fitting in int.
func (s *scanner) integer(dst *int) error {
	s.ws()
	if s.null() {
		return nil
	}
	start := s.i
	if s.i < len(s.b) && (s.b[s.i] == '-' || s.b[s.i] >= '0' && s.b[s.i] <= '9') {
		if err := s.number(); err != nil {
			return err
		}
		n, err := strconv.ParseInt(string(s.b[start:s.i]), 10, strconv.IntSize)
		if err != nil {
			return fmt.Errorf("%w: number %s is not an integer of this size", ErrSyntax, s.b[start:s.i])
		}
		*dst = int(n)
		return nil
	}
	if s.i < len(s.b) && s.valueStart() {
		if err := s.skip(0); err != nil {
			return err
		}
		return fmt.Errorf("%w: expected a number before offset %d", ErrSyntax, s.i)
	}
	return s.fail("expected a value")
}

// rawString parses a string at s.i and returns its decoded bytes, which alias
// either the input or s.tmp and are valid until the next rawString.
func (s *scanner) rawString() ([]byte, error) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, s.fail("expected a string")
	}
	s.i++
	start := s.i
	// Eight bytes at a time while none needs a look: under wasm every
	// iteration of a loop costs a termination check, so this is most of
	// the time spent on a long statement.
	for s.i+8 <= len(s.b) && plain8(binary.LittleEndian.Uint64(s.b[s.i:])) {
		s.i += 8
	}
	for s.i < len(s.b) {
		c := s.b[s.i]
		if c == '"' {
			s.i++
			return s.b[start : s.i-1], nil
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			return s.slowString(start)
		}
		s.i++
	}
	return nil, s.fail("unterminated string")
}

// SWAR constants: one bit or value repeated in each byte of a word.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plain8 reports whether none of the eight bytes of w (a string's content)
// is a quote, a backslash, a control character or non-ASCII.
func plain8(w uint64) bool {
	zero := func(v uint64) uint64 { return (v - ones) & ^v & highs } // any byte 0
	ctl := (w - ones*0x20) & ^w & highs                              // any byte < 0x20
	return (ctl | w&highs | zero(w^ones*'"') | zero(w^ones*'\\')) == 0
}

func (s *scanner) slowString(start int) ([]byte, error) {
	out := append(s.tmp[:0], s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			s.tmp = out
			return out, nil
		case c < 0x20:
			return nil, s.fail("control character in string")
		case c == '\\':
			s.i++
			if s.i >= len(s.b) {
				return nil, s.fail("unterminated escape")
			}
			e := s.b[s.i]
			s.i++
			switch e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, ok := s.hex4()
				if !ok {
					return nil, s.fail("bad \\u escape")
				}
				if utf16.IsSurrogate(r) {
					r2 := utf8.RuneError
					if len(s.b)-s.i >= 6 && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
						save := s.i
						s.i += 2
						lo, ok := s.hex4()
						if ok {
							r2 = utf16.DecodeRune(r, lo)
						}
						if r2 == utf8.RuneError {
							s.i = save
						}
					}
					r = r2
				}
				out = utf8.AppendRune(out, r)
			default:
				s.i--
				return nil, s.fail("bad escape")
			}
		case c < utf8.RuneSelf:
			out = append(out, c)
			s.i++
		default:
			r, size := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && size == 1 {
				out = append(out, "\ufffd"...)
			} else {
				out = append(out, s.b[s.i:s.i+size]...)
			}
			s.i += size
		}
	}
	return nil, s.fail("unterminated string")
}

func (s *scanner) hex4() (rune, bool) {
	if len(s.b)-s.i < 4 {
		return 0, false
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	s.i += 4
	return r, true
}

func (s *scanner) number() error {
	b := s.b
	if s.i < len(b) && b[s.i] == '-' {
		s.i++
	}
	if s.i >= len(b) {
		return s.fail("bad number")
	}
	switch {
	case b[s.i] == '0':
		s.i++
	case b[s.i] >= '1' && b[s.i] <= '9':
		for s.i < len(b) && b[s.i] >= '0' && b[s.i] <= '9' {
			s.i++
		}
	default:
		return s.fail("bad number")
	}
	if s.i < len(b) && b[s.i] == '.' {
		s.i++
		if s.i >= len(b) || b[s.i] < '0' || b[s.i] > '9' {
			return s.fail("bad number")
		}
		for s.i < len(b) && b[s.i] >= '0' && b[s.i] <= '9' {
			s.i++
		}
	}
	if s.i < len(b) && (b[s.i] == 'e' || b[s.i] == 'E') {
		s.i++
		if s.i < len(b) && (b[s.i] == '+' || b[s.i] == '-') {
			s.i++
		}
		if s.i >= len(b) || b[s.i] < '0' || b[s.i] > '9' {
			return s.fail("bad number")
		}
		for s.i < len(b) && b[s.i] >= '0' && b[s.i] <= '9' {
			s.i++
		}
	}
	return nil
}

// skip consumes any one value.
func (s *scanner) skip(depth int) error {
	if depth >= MaxDepth {
		return fmt.Errorf("%w at offset %d", ErrTooDeep, s.i)
	}
	s.ws()
	if s.i >= len(s.b) {
		return s.fail("expected a value")
	}
	switch c := s.b[s.i]; {
	case c == '"':
		_, err := s.rawString()
		return err
	case c == '{':
		return s.object(func([]byte) error { return s.skip(depth + 1) })
	case c == '[':
		s.i++
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == ']' {
			s.i++
			return nil
		}
		for {
			if err := s.skip(depth + 1); err != nil {
				return err
			}
			s.ws()
			if s.i >= len(s.b) {
				return s.fail("unterminated array")
			}
			switch s.b[s.i] {
			case ',':
				s.i++
			case ']':
				s.i++
				return nil
			default:
				return s.fail("expected ',' or ']'")
			}
		}
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	default:
		for _, lit := range [...]string{"true", "false", "null"} {
			if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
				s.i += len(lit)
				return nil
			}
		}
		return s.fail("expected a value")
	}
}
