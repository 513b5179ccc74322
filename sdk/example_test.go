package sdk_test

import (
	"fmt"
	"strings"

	"hoop.dev/hoop/sdk"
	"hoop.dev/hoop/sdk/sdktest"
)

// words is a decoder that emits one statement event per space-separated
// word a client sends. A real plugin registers it from main's init with
// sdk.RegisterDecoder and builds with GOOS=wasip1 GOARCH=wasm.
type words struct{}

func (words) Open([]byte) (sdk.Stream, error) { return &wordStream{}, nil }

type wordStream struct{ partial []byte }

func (s *wordStream) Feed(dir sdk.Dir, data []byte, out []byte) ([]byte, error) {
	s.partial = append(s.partial, data...)
	for {
		i := strings.IndexByte(string(s.partial), ' ')
		if i < 0 {
			return out, nil
		}
		out = append(out, `{"dir":"`+dir.String()+`","type":"statement","text":`...)
		out = sdk.AppendString(out, string(s.partial[:i]))
		out = append(out, "}\n"...)
		s.partial = append(s.partial[:0], s.partial[i+1:]...)
	}
}

func (*wordStream) Close() {}

// A decoder tested natively with sdktest; sdktest.WASMDecoder runs the same
// table against the built module.
func Example_decoder() {
	st, _ := sdktest.NativeDecoder(words{}).Open(nil)
	for _, chunk := range []string{"SELE", "CT 1 ", "rest"} {
		out, _ := st.Feed(sdk.C2S, []byte(chunk))
		fmt.Print(string(out))
	}
	// Output:
	// {"dir":"c2s","type":"statement","text":"SELECT"}
	// {"dir":"c2s","type":"statement","text":"1"}
}

func ExampleDecodeInput() {
	var in sdk.Input
	err := sdk.DecodeInput([]byte(`{"identity":{"name":"ci","kind":"machine"},"statement":{"text":"DROP TABLE \"t\u00e9\""},"future":1}`), &in)
	fmt.Println(in.Identity.Name, in.Statement.Text, err)
	// Output: ci DROP TABLE "té" <nil>
}

func ExampleAppendVerdict() {
	v := sdk.Verdict{Decision: sdk.Block, Risk: 90, Rule: "no-drop", Reason: "DROP is not allowed\n"}
	fmt.Println(string(sdk.AppendVerdict(nil, v)))
	// Output: {"decision":"block","risk":90,"rule":"no-drop","reason":"DROP is not allowed\n"}
}

func ExampleAppendString() {
	fmt.Println(string(sdk.AppendString(nil, "tab\there \"quoted\" \x01")))
	// Output: "tab\there \"quoted\" \u0001"
}
