package sdk_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"hoop.dev/hoop/sdk"
)

func TestDecodeInputMatchesEncodingJSON(t *testing.T) {
	for _, in := range []string{
		`{"identity":{"name":"ci","kind":"machine"},"resource":"db","role":"ro","protocol":"postgres","session":"s","statement":{"text":"SELECT 1"}}`,
		`{"statement":{"text":"a\"b\\c\/d\b\f\n\r\t\u00e9\u65e5\ud83d\ude80"}}`,
		`{"statement":{"text":"lone \ud800 high, \udc00 low, \ud800\u0041 pair-ish"}}`,
		"{\"statement\":{\"text\":\"raw \xe6\x97\xa5 and bad \xff\xfe\"}}",
		`  {"unknown":[1,{"x":[true,false,null]},-1.5e+3,"s"],"role":null,"identity":null,"Resource":"case"} `,
		`{"identity":{"name":"a","extra":{"deep":[[[]]]}},"identity":{"kind":"human"}}`,
		`null`, `{}`,
	} {
		var got, want sdk.Input
		if err := sdk.DecodeInput([]byte(in), &got); err != nil {
			t.Errorf("DecodeInput(%q): %v", in, err)
			continue
		}
		if err := json.Unmarshal([]byte(in), &want); err != nil {
			t.Fatalf("encoding/json rejects %q: %v", in, err)
		}
		if got != want {
			t.Errorf("DecodeInput(%q) = %+v, encoding/json says %+v", in, got, want)
		}
	}
}

func TestDecodeInputRejectsGarbage(t *testing.T) {
	for _, in := range []string{
		``, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[]`, `"x"`, `{"statement":5}`, `{"resource":1}`,
		`{"identity":"bob"}`, `{"statement":{"text":["a"]}}`, `{"a":tru}`, `{"a":01}`, `{"a":1.}`,
		`{"a":"\x"}`, `{"a":"\u12"}`, "{\"a\":\"ctl\x01\"}", `{} {}`, `{"a":"unterminated`,
		strings.Repeat("[", 20000),
	} {
		var got sdk.Input
		err := sdk.DecodeInput([]byte(in), &got)
		if err == nil || !errors.Is(err, sdk.ErrSyntax) {
			t.Errorf("DecodeInput(%.40q) = %v, want an ErrSyntax", in, err)
		}
	}
}

func TestVerdictRoundTrip(t *testing.T) {
	for _, v := range []sdk.Verdict{
		{Decision: sdk.Allow},
		{Decision: sdk.Block, Risk: 100, Rule: "deny", Reason: "contains \"DROP\"\n\u2028 ✓"},
		{Decision: sdk.Review, Risk: 55, Reason: "bad \xff utf8"},
	} {
		raw := sdk.AppendVerdict(nil, v)
		if !json.Valid(raw) {
			t.Fatalf("AppendVerdict wrote invalid JSON %s", raw)
		}
		var got, std sdk.Verdict
		if err := sdk.DecodeVerdict(raw, &got); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, &std); err != nil || got != std {
			t.Fatalf("DecodeVerdict(%s) = %+v, encoding/json %+v (%v)", raw, got, std, err)
		}
		if err := got.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	for _, bad := range []string{`{"decision":"allow","risk":1.5}`, `{"decision":"allow","risk":"7"}`, `{"decision":5}`} {
		var v sdk.Verdict
		if err := sdk.DecodeVerdict([]byte(bad), &v); err == nil {
			t.Errorf("DecodeVerdict(%s) succeeded", bad)
		}
	}
	for _, bad := range []sdk.Verdict{{Decision: "maybe"}, {Decision: sdk.Allow, Risk: 101}, {Decision: sdk.Block, Risk: -1}} {
		if bad.Validate() == nil {
			t.Errorf("Validate(%+v) = nil", bad)
		}
	}
}

func TestManifestValidate(t *testing.T) {
	good := sdk.Manifest{Name: "pg-decoder", Version: "1", Kind: sdk.KindDecoder, Protocols: []string{"postgres"}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	var m sdk.Manifest
	if err := json.Unmarshal(sdk.AppendManifest(nil, good), &m); err != nil || m.Name != good.Name || m.Protocols[0] != "postgres" {
		t.Fatalf("AppendManifest round trip: %+v, %v", m, err)
	}
	for _, bad := range []sdk.Manifest{
		{Version: "1", Kind: sdk.KindPolicy},
		{Name: "Bad Name", Version: "1", Kind: sdk.KindPolicy},
		{Name: "x", Kind: sdk.KindPolicy},
		{Name: "x", Version: "1", Kind: "filter"},
		{Name: "x", Version: "1", Kind: sdk.KindDecoder},
	} {
		if bad.Validate() == nil {
			t.Errorf("Validate(%+v) = nil", bad)
		}
	}
}

// FuzzDecodeInput checks the hand-written codec against encoding/json: it
// accepts exactly valid JSON (for well-typed documents it agrees on the
// result), and what AppendInput writes decodes back unchanged.
func FuzzDecodeInput(f *testing.F) {
	f.Add([]byte(`{"identity":{"name":"ci","kind":"machine"},"statement":{"text":"SELECT '\u00e9'"}}`))
	f.Add([]byte(`{"statement":{"text":"\ud800\udc00\ud800"},"x":[1,2,{"y":null}]}`))
	f.Add([]byte(`{"x":` + strings.Repeat("[", sdk.MaxDepth) + strings.Repeat("]", sdk.MaxDepth) + `}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var got sdk.Input
		err := sdk.DecodeInput(data, &got)
		if !json.Valid(data) {
			if err == nil {
				t.Fatalf("accepted invalid JSON %q", data)
			}
			return
		}
		if errors.Is(err, sdk.ErrTooDeep) {
			if d := depth(data); d <= sdk.MaxDepth {
				t.Fatalf("DecodeInput(%q): %v, but the nesting is only %d", data, err, d)
			}
			return // the codec's one deliberate difference from encoding/json
		}
		var want sdk.Input
		stdErr := json.Unmarshal(data, &want)
		if (err == nil) != (stdErr == nil) {
			t.Fatalf("DecodeInput(%q) err=%v, encoding/json err=%v", data, err, stdErr)
		}
		if err != nil {
			return
		}
		if got != want {
			t.Fatalf("DecodeInput(%q) = %+v, encoding/json %+v", data, got, want)
		}
		var again sdk.Input
		if err := sdk.DecodeInput(sdk.AppendInput(nil, &got), &again); err != nil || again != got {
			t.Fatalf("round trip of %+v: %+v, %v", got, again, err)
		}
	})
}

// depth returns the deepest nesting of arrays and objects in valid JSON.
func depth(data []byte) int {
	dec := json.NewDecoder(bytes.NewReader(data))
	d, deepest := 0, 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return deepest
		}
		switch tok {
		case json.Delim('['), json.Delim('{'):
			d++
			deepest = max(deepest, d)
		case json.Delim(']'), json.Delim('}'):
			d--
		}
	}
}
