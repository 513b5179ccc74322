// Package sdk is what a hoop plugin author imports. A plugin is a type that
// implements Decoder (protocol decoders) or Policy (statement policies); the
// author registers it from main's init and builds the package with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .
//
// The SDK supplies every export of ABI v1 (see ABI.md). The same types run
// natively under sdktest, so a plugin is unit-tested without a host.
package sdk

// Dir is the direction of the bytes fed to a decoder stream.
type Dir int32

const (
	// C2S is client to server (ABI value 0).
	C2S Dir = 0
	// S2C is server to client (ABI value 1).
	S2C Dir = 1
)

// String returns "c2s" or "s2c".
func (d Dir) String() string {
	if d == S2C {
		return "s2c"
	}
	return "c2s"
}

// Plugin kinds, as spelled in the manifest.
const (
	KindDecoder = "decoder"
	KindPolicy  = "policy"
)

// Manifest describes a plugin. It is returned as JSON by hoop_manifest.
type Manifest struct {
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	Kind        string   `json:"kind"`
	Protocols   []string `json:"protocols"`
	Description string   `json:"description"`
}

// Decoder opens decoding streams. One decoder instance serves many streams.
type Decoder interface {
	// Open starts a stream. config is the optional JSON config (may be empty).
	Open(config []byte) (Stream, error)
}

// Stream decodes one connection's bytes, both directions.
type Stream interface {
	// Feed consumes data (which the stream must not retain after returning;
	// copy what an incomplete message needs) and appends zero or more events
	// to out as JSON Lines (each line one JSON object ending in '\n').
	// Incomplete input is kept for the next Feed and is not an error.
	Feed(dir Dir, data []byte, out []byte) ([]byte, error)
	// Close releases the stream.
	Close()
}

// Policy decides on statements.
type Policy interface {
	// Configure receives the plugin's JSON config (may be empty: "{}").
	Configure(config []byte) error
	// Evaluate decides on one input.
	Evaluate(in *Input) (Verdict, error)
}

// Identity is who runs a statement.
type Identity struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
}

// Statement is what a policy decides on.
type Statement struct {
	Text string `json:"text"`
}

// Input is the policy input of ABI v1.
type Input struct {
	Identity  Identity  `json:"identity"`
	Resource  string    `json:"resource"`
	Role      string    `json:"role"`
	Protocol  string    `json:"protocol"`
	Session   string    `json:"session"`
	Statement Statement `json:"statement"`
}

// Decisions.
const (
	Allow  = "allow"
	Block  = "block"
	Review = "review"
)

// Verdict is a policy's answer.
type Verdict struct {
	Decision string `json:"decision"` // Allow, Block or Review
	Risk     int    `json:"risk"`     // 0-100
	Rule     string `json:"rule,omitempty"`
	Reason   string `json:"reason,omitempty"`
}
