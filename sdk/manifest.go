package sdk

import (
	"errors"
	"fmt"
)

// Validate reports the first way m breaks the ABI v1 manifest schema: a name
// of lowercase letters, digits, '.', '_' or '-'; a version; a kind of
// KindDecoder or KindPolicy; and, for a decoder, at least one protocol.
func (m Manifest) Validate() error {
	if m.Name == "" {
		return errors.New("validate manifest: name is empty")
	}
	if len(m.Name) > 64 {
		return fmt.Errorf("validate manifest: name %q is longer than 64 bytes", m.Name)
	}
	for _, c := range []byte(m.Name) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("validate manifest: name %q: only a-z, 0-9, '.', '_' and '-' are allowed", m.Name)
		}
	}
	if m.Version == "" {
		return fmt.Errorf("validate manifest %s: version is empty", m.Name)
	}
	switch m.Kind {
	case KindDecoder:
		if len(m.Protocols) == 0 {
			return fmt.Errorf("validate manifest %s: a decoder must name at least one protocol", m.Name)
		}
	case KindPolicy:
	default:
		return fmt.Errorf("validate manifest %s: kind %q is neither %q nor %q", m.Name, m.Kind, KindDecoder, KindPolicy)
	}
	for _, p := range m.Protocols {
		if p == "" {
			return fmt.Errorf("validate manifest %s: empty protocol name", m.Name)
		}
	}
	return nil
}

// AppendManifest appends m as the ABI v1 manifest JSON object.
func AppendManifest(dst []byte, m Manifest) []byte {
	dst = append(dst, `{"name":`...)
	dst = AppendString(dst, m.Name)
	dst = append(dst, `,"version":`...)
	dst = AppendString(dst, m.Version)
	dst = append(dst, `,"kind":`...)
	dst = AppendString(dst, m.Kind)
	dst = append(dst, `,"protocols":[`...)
	for i, p := range m.Protocols {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, p)
	}
	dst = append(dst, `],"description":`...)
	dst = AppendString(dst, m.Description)
	return append(dst, '}')
}
