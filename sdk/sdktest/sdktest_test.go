package sdktest_test

import (
	"testing"

	"hoop.dev/hoop/sdk"
	"hoop.dev/hoop/sdk/sdktest"
)

// The same table must pass natively and as WASM. The echo test plugin's
// types live in a main package, so the native side here uses a local
// decoder and policy with the same behaviour as the wasm side.
func TestWASMDecoderAndPolicy(t *testing.T) {
	dec := sdktest.WASMDecoder(t, sdktest.BuildWASM(t, "../../conformance/testplugins/echo"))
	st, err := dec.Open(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, step := range []struct{ in, want string }{
		{"SELECT", ""},
		{" 1\n", `{"dir":"c2s","type":"statement","text":"SELECT 1"}` + "\n"},
	} {
		got, err := st.Feed(sdk.C2S, []byte(step.in))
		if err != nil || string(got) != step.want {
			t.Fatalf("feed %q = %q, %v; want %q", step.in, got, err, step.want)
		}
	}

	pol := sdktest.WASMPolicy(t, sdktest.BuildWASM(t, "../../conformance/testplugins/allow"))
	if err := pol.Configure([]byte(`{"deny":"DROP"}`)); err != nil {
		t.Fatal(err)
	}
	v, err := pol.Evaluate(&sdk.Input{Statement: sdk.Statement{Text: "DROP TABLE \"é\""}})
	if err != nil || v.Decision != sdk.Block || v.Rule != "deny-word" || v.Reason != `statement contains DROP` {
		t.Fatalf("verdict %+v, %v", v, err)
	}
}

type retainer struct{ kept []byte }

func (r *retainer) Open([]byte) (sdk.Stream, error) { return r, nil }
func (r *retainer) Feed(_ sdk.Dir, data []byte, out []byte) ([]byte, error) {
	if r.kept == nil {
		r.kept = data // a bug: keeps the host's buffer
	}
	return append(out, r.kept...), nil
}
func (r *retainer) Close() {}

// NativeDecoder scribbles over the input after each feed, so a decoder that
// keeps a reference to it sees garbage, as it would under the host.
func TestNativeDecoderExposesRetainedInput(t *testing.T) {
	st, _ := sdktest.NativeDecoder(&retainer{}).Open(nil)
	st.Feed(sdk.C2S, []byte("abc"))
	got, _ := st.Feed(sdk.C2S, nil)
	if string(got) == "abc" {
		t.Fatal("retained input survived the feed")
	}
}
