package sdk

import "fmt"

// registered is the one plugin of this module, set by RegisterDecoder or
// RegisterPolicy from main's init and read by the ABI exports.
var registered struct {
	manifest Manifest
	decoder  Decoder
	policy   Policy
}

// RegisterDecoder makes d the plugin's decoder. Call it once, from init in
// the plugin's main package; m.Kind is set to KindDecoder. It panics on a
// second registration or an invalid manifest, so a broken plugin fails at
// load time rather than on its first stream.
func RegisterDecoder(m Manifest, d Decoder) {
	m.Kind = KindDecoder
	register(m)
	registered.decoder = d
}

// RegisterPolicy makes p the plugin's policy. Call it once, from init in the
// plugin's main package; m.Kind is set to KindPolicy. It panics like
// RegisterDecoder.
func RegisterPolicy(m Manifest, p Policy) {
	m.Kind = KindPolicy
	register(m)
	registered.policy = p
}

func register(m Manifest) {
	if registered.manifest.Name != "" {
		panic(fmt.Sprintf("sdk: plugin %q registered twice (already %q)", m.Name, registered.manifest.Name))
	}
	if err := m.Validate(); err != nil {
		panic("sdk: " + err.Error())
	}
	registered.manifest = m
}
