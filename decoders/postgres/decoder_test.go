package postgres

import (
	"bytes"
	"encoding/json"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hoop.dev/hoop/sdk"
)

// Message builders for hand-written cases.

func cstr(s string) []byte { return append([]byte(s), 0) }

func i16(n int) []byte { return []byte{byte(n >> 8), byte(n)} }

func i32(n int) []byte { return []byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)} }

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// msg is a typed message: type, length, body.
func msg(typ byte, body ...[]byte) []byte {
	b := cat(body...)
	return cat([]byte{typ}, i32(len(b)+4), b)
}

// untyped is a startup-phase packet: length, body.
func untyped(body ...[]byte) []byte {
	b := cat(body...)
	return cat(i32(len(b)+4), b)
}

func startupMsg(kv ...string) []byte {
	var b []byte
	for _, s := range kv {
		b = append(b, cstr(s)...)
	}
	return untyped(i32(3<<16), b, []byte{0})
}

func c2s(b ...[]byte) frame { return frame{sdk.C2S, cat(b...)} }
func s2c(b ...[]byte) frame { return frame{sdk.S2C, cat(b...)} }

var startup = c2s(startupMsg("user", "u"))

const startupEvent = `{"dir":"c2s","type":"startup","protocol":"3.0","user":"u","database":"","params":{}}` + "\n"

// decodeCases are hand-written sessions with their exact expected output.
var decodeCases = []struct {
	name    string
	frames  []frame
	want    string
	wantErr bool
}{
	{"startup", []frame{c2s(startupMsg("user", "alice", "database", "app", "application_name", "psql", "options", "-c x=\"y\""))},
		`{"dir":"c2s","type":"startup","protocol":"3.0","user":"alice","database":"app","params":{"application_name":"psql","options":"-c x=\"y\""}}` + "\n", false},
	{"ssl refused then startup", []frame{c2s(untyped(i32(codeSSL))), s2c([]byte("N")), startup},
		`{"dir":"c2s","type":"other","msg":"ssl_request"}` + "\n" +
			`{"dir":"s2c","type":"other","msg":"ssl_response","accept":false}` + "\n" + startupEvent, false},
	{"ssl accepted hides the rest", []frame{c2s(untyped(i32(codeSSL))), s2c([]byte("S")), c2s([]byte{0x16, 3, 1, 0, 5, 1, 2, 3, 4, 5}), s2c([]byte{0x16, 3, 3})},
		`{"dir":"c2s","type":"other","msg":"ssl_request"}` + "\n" +
			`{"dir":"s2c","type":"other","msg":"ssl_response","accept":true}` + "\n", false},
	{"ssl answered by an old server's error", []frame{c2s(untyped(i32(codeSSL))), s2c(msg('E', cstr("SFATAL"), cstr("Mno ssl"), []byte{0}))},
		`{"dir":"c2s","type":"other","msg":"ssl_request"}` + "\n" +
			`{"dir":"s2c","type":"error","severity":"FATAL","code":"","message":"no ssl"}` + "\n", false},
	{"gssenc refused", []frame{c2s(untyped(i32(codeGSSENC))), s2c([]byte("N")), startup},
		`{"dir":"c2s","type":"other","msg":"gssenc_request"}` + "\n" +
			`{"dir":"s2c","type":"other","msg":"gssenc_response","accept":false}` + "\n" + startupEvent, false},
	{"cancel request hides the key", []frame{c2s(untyped(i32(codeCancel), i32(4242), i32(0x7777)))},
		`{"dir":"c2s","type":"other","msg":"cancel_request","pid":4242}` + "\n", false},
	{"direct tls", []frame{c2s([]byte{0x16, 3, 1, 2, 0, 1, 0, 1, 0xfc})},
		`{"dir":"c2s","type":"other","msg":"tls"}` + "\n", false},
	{"simple query with escapes", []frame{startup, c2s(msg('Q', cstr("select '\"\\\n\t\x01', 'caf\xc3\xa9', '\xff'")))},
		startupEvent + `{"dir":"c2s","type":"statement","proto":"simple","text":"select '\"\\\n\t\u0001', 'café', '\ufffd'"}` + "\n", false},
	{"auth md5 and password", []frame{startup, s2c(msg('R', i32(authMD5), []byte("salt"))), c2s(msg('p', cstr("md5secret"))), s2c(msg('R', i32(authOK)))},
		startupEvent + `{"dir":"s2c","type":"auth","msg":"md5"}` + "\n" + `{"dir":"c2s","type":"auth","msg":"password"}` + "\n" +
			`{"dir":"s2c","type":"auth","msg":"ok"}` + "\n", false},
	{"auth cleartext, gss, unknown", []frame{startup, s2c(msg('R', i32(authClear))), c2s(msg('p', cstr("hunter2"))), s2c(msg('R', i32(authGSS))), c2s(msg('p', []byte{1, 2})), s2c(msg('R', i32(99)))},
		startupEvent + `{"dir":"s2c","type":"auth","msg":"cleartext"}` + "\n" + `{"dir":"c2s","type":"auth","msg":"password"}` + "\n" +
			`{"dir":"s2c","type":"auth","msg":"gss"}` + "\n" + `{"dir":"c2s","type":"auth","msg":"gss_response"}` + "\n" +
			`{"dir":"s2c","type":"auth","msg":"unknown","code":99}` + "\n", false},
	{"auth sasl", []frame{startup, s2c(msg('R', i32(authSASL), cstr("SCRAM-SHA-256-PLUS"), cstr("SCRAM-SHA-256"), []byte{0})),
		c2s(msg('p', cstr("SCRAM-SHA-256"), i32(8), []byte("n,,n=,r="))), s2c(msg('R', i32(authSASLCont), []byte("r=x,s=y,i=4096"))),
		c2s(msg('p', []byte("c=biws,r=x,p=proof"))), s2c(msg('R', i32(authSASLFin), []byte("v=sig")))},
		startupEvent + `{"dir":"s2c","type":"auth","msg":"sasl","mechanisms":["SCRAM-SHA-256-PLUS","SCRAM-SHA-256"]}` + "\n" +
			`{"dir":"c2s","type":"auth","msg":"sasl_initial","mechanism":"SCRAM-SHA-256"}` + "\n" +
			`{"dir":"s2c","type":"auth","msg":"sasl_continue"}` + "\n" + `{"dir":"c2s","type":"auth","msg":"sasl_response"}` + "\n" +
			`{"dir":"s2c","type":"auth","msg":"sasl_final"}` + "\n", false},
	{"extended protocol", []frame{startup, c2s(
		msg('P', cstr("s1"), cstr("select $1, $2, $3, $4"), i16(0)),
		msg('D', []byte("S"), cstr("s1")),
		msg('B', cstr("p1"), cstr("s1"), i16(4), i16(0), i16(0), i16(1), i16(0), i16(4),
			i32(2), []byte("42"), i32(-1), i32(2), []byte{0, 1}, i32(300), bytes.Repeat([]byte("é"), 150), i16(0)),
		msg('D', []byte("P"), cstr("p1")),
		msg('E', cstr("p1"), i32(10)),
		msg('H'), msg('S'), msg('C', []byte("P"), cstr("p1")))},
		startupEvent + `{"dir":"c2s","type":"statement","proto":"extended","name":"s1","text":"select $1, $2, $3, $4"}` + "\n" +
			`{"dir":"c2s","type":"other","msg":"describe","target":"statement","name":"s1"}` + "\n" +
			`{"dir":"c2s","type":"bind","portal":"p1","statement":"s1","params":["42",null,"\\x0001","` + strings.Repeat("é", 128) + `…"]}` + "\n" +
			`{"dir":"c2s","type":"other","msg":"describe","target":"portal","name":"p1"}` + "\n" +
			`{"dir":"c2s","type":"execute","portal":"p1","max_rows":10}` + "\n" +
			`{"dir":"c2s","type":"other","msg":"flush"}` + "\n" + `{"dir":"c2s","type":"other","msg":"sync"}` + "\n" +
			`{"dir":"c2s","type":"other","msg":"close","target":"portal","name":"p1"}` + "\n", false},
	{"bind binary format for all, capped count", []frame{startup, c2s(msg('B', cstr(""), cstr(""), i16(1), i16(1), i16(66),
		bytes.Repeat(cat(i32(1), []byte{0xab}), 66), i16(0)))},
		startupEvent + `{"dir":"c2s","type":"bind","portal":"","statement":"","params":[` + strings.TrimSuffix(strings.Repeat(`"\\xab",`, 64), ",") + `],"more_params":2}` + "\n", false},
	{"copy in and fail", []frame{startup, c2s(msg('Q', cstr("copy t from stdin"))), s2c(msg('G', []byte{0}, i16(2), i16(0), i16(0))),
		c2s(msg('d', []byte("1\tx\n")), msg('d', []byte("2\ty\n"))), c2s(msg('c')),
		s2c(msg('G', []byte{1}, i16(1), i16(1))), c2s(msg('d', []byte("zz"))), c2s(msg('f', cstr("aborted by user")))},
		startupEvent + `{"dir":"c2s","type":"statement","proto":"simple","text":"copy t from stdin"}` + "\n" +
			`{"dir":"s2c","type":"copy","msg":"in","format":"text","columns":2}` + "\n" +
			`{"dir":"c2s","type":"copy","msg":"done","bytes":8}` + "\n" +
			`{"dir":"s2c","type":"copy","msg":"in","format":"binary","columns":1}` + "\n" +
			`{"dir":"c2s","type":"copy","msg":"fail","bytes":2,"message":"aborted by user"}` + "\n", false},
	{"copy out and both", []frame{s2c(msg('H', []byte{0}, i16(1), i16(0)), msg('d', []byte("abc\n")), msg('d', []byte("de\n")), msg('c'), msg('C', cstr("COPY 2")),
		msg('W', []byte{1}, i16(0)))},
		`{"dir":"s2c","type":"copy","msg":"out","format":"text","columns":1}` + "\n" +
			`{"dir":"s2c","type":"copy","msg":"done","bytes":7}` + "\n" +
			`{"dir":"s2c","type":"result","tag":"COPY 2","rows":0}` + "\n" +
			`{"dir":"s2c","type":"copy","msg":"both","format":"binary","columns":0}` + "\n", false},
	{"results", []frame{s2c(
		msg('T', i16(2), cstr("a"), make([]byte, 18), cstr("b"), make([]byte, 18)),
		msg('D', i16(2), i32(1), []byte("1"), i32(-1)), msg('D', i16(2), i32(1), []byte("2"), i32(-1)),
		msg('C', cstr("SELECT 2")), msg('I'), msg('D', i16(0)), msg('s'), msg('1'), msg('2'), msg('3'), msg('n'),
		msg('t', i16(2), i32(23), i32(25)), msg('Z', []byte("T")))},
		`{"dir":"s2c","type":"other","msg":"row_description","columns":["a","b"]}` + "\n" +
			`{"dir":"s2c","type":"result","tag":"SELECT 2","rows":2}` + "\n" +
			`{"dir":"s2c","type":"other","msg":"empty_query"}` + "\n" +
			`{"dir":"s2c","type":"other","msg":"portal_suspended","rows":1}` + "\n" +
			`{"dir":"s2c","type":"other","msg":"parse_complete"}` + "\n" + `{"dir":"s2c","type":"other","msg":"bind_complete"}` + "\n" +
			`{"dir":"s2c","type":"other","msg":"close_complete"}` + "\n" + `{"dir":"s2c","type":"other","msg":"no_data"}` + "\n" +
			`{"dir":"s2c","type":"other","msg":"parameter_description","params":2}` + "\n" +
			`{"dir":"s2c","type":"other","msg":"ready","status":"T"}` + "\n", false},
	{"errors and notices", []frame{s2c(
		msg('E', cstr("SERROR"), cstr("VERROR"), cstr("C42601"), cstr("Msyntax error"), cstr("Dsome detail"), cstr("Htry this"), cstr("P8"), cstr("Fscan.l"), []byte{0}),
		msg('N', cstr("SAVISO"), cstr("VWARNING"), cstr("C01000"), cstr("Mcareful"), []byte{0}))},
		`{"dir":"s2c","type":"error","severity":"ERROR","code":"42601","message":"syntax error","detail":"some detail","hint":"try this","position":"8"}` + "\n" +
			`{"dir":"s2c","type":"notice","severity":"WARNING","code":"01000","message":"careful"}` + "\n", false},
	{"server status messages", []frame{s2c(
		msg('S', cstr("TimeZone"), cstr("UTC")), msg('K', i32(77), i32(123456)), msg('A', i32(77), cstr("ch"), cstr("hi")),
		msg('V', i32(-1)), msg('v', i32(0), i32(1), cstr("_pq_.x")))},
		`{"dir":"s2c","type":"other","msg":"parameter_status","name":"TimeZone","value":"UTC"}` + "\n" +
			`{"dir":"s2c","type":"other","msg":"backend_key_data","pid":77}` + "\n" +
			`{"dir":"s2c","type":"other","msg":"notification","pid":77,"channel":"ch","payload":"hi"}` + "\n" +
			`{"dir":"s2c","type":"other","msg":"function_call_response","length":-1}` + "\n" +
			`{"dir":"s2c","type":"other","msg":"negotiate_protocol_version","minor":0,"unsupported_options":1}` + "\n", false},
	{"function call and terminate", []frame{startup, c2s(msg('F', i32(1598), i16(1), i16(0), i16(1), i32(1), []byte("x"), i16(0)), msg('X'))},
		startupEvent + `{"dir":"c2s","type":"other","msg":"function_call","oid":1598,"args":1}` + "\n" + `{"dir":"c2s","type":"terminate"}` + "\n", false},
	{"incomplete message is kept, not an error", []frame{startup, c2s([]byte("Q\x00\x00\x00\x10sel"))},
		startupEvent, false},
	{"bad body resynchronises", []frame{startup, c2s(msg('Q', []byte("no terminator")), msg('B', cstr("")), msg('E', cstr("")), msg('D', []byte("X"), cstr("")), msg('Q', cstr("select 1")))},
		startupEvent + `{"dir":"c2s","type":"other","msg":"malformed","reason":"query: missing terminator"}` + "\n" +
			`{"dir":"c2s","type":"other","msg":"malformed","reason":"bind: missing statement terminator"}` + "\n" +
			`{"dir":"c2s","type":"other","msg":"malformed","reason":"execute: short body"}` + "\n" +
			`{"dir":"c2s","type":"other","msg":"malformed","reason":"describe: bad target"}` + "\n" +
			`{"dir":"c2s","type":"statement","proto":"simple","text":"select 1"}` + "\n", false},
	{"bad bind parameter length", []frame{startup, c2s(msg('B', cstr(""), cstr(""), i16(0), i16(1), i32(50), []byte("x"), i16(0)))},
		startupEvent + `{"dir":"c2s","type":"other","msg":"malformed","reason":"bind: bad parameter length"}` + "\n", false},
	{"unknown type is skipped by its length", []frame{startup, c2s(msg('z', []byte("abc")), msg('Q', cstr("select 2")))},
		startupEvent + `{"dir":"c2s","type":"other","msg":"malformed","reason":"unknown message type for message 'z'"}` + "\n" +
			`{"dir":"c2s","type":"statement","proto":"simple","text":"select 2"}` + "\n", false},
	{"length below 4 loses the direction", []frame{startup, c2s([]byte{'Q', 0, 0, 0, 3}), c2s(msg('Q', cstr("select 3"))), s2c(msg('Z', []byte("I")))},
		startupEvent + `{"dir":"c2s","type":"other","msg":"malformed","reason":"bad length 3 for message 'Q'"}` + "\n" +
			`{"dir":"s2c","type":"other","msg":"ready","status":"I"}` + "\n", true},
	{"length above 1 GiB", []frame{s2c([]byte{'D', 0x40, 0, 0, 1})},
		`{"dir":"s2c","type":"other","msg":"malformed","reason":"bad length 1073741825 for message 'D'"}` + "\n", true},
	{"short startup packet", []frame{c2s(i32(7), []byte{0, 3, 0})},
		`{"dir":"c2s","type":"other","msg":"malformed","reason":"bad length 7 for startup packet"}` + "\n", true},
	{"unsupported protocol version", []frame{c2s(untyped(i32(2<<16), cstr("user"), cstr("u"), []byte{0}))},
		`{"dir":"c2s","type":"other","msg":"malformed","reason":"unsupported protocol version 2.0"}` + "\n", true},
	{"startup without terminator", []frame{c2s(untyped(i32(3<<16), cstr("user"), []byte("u")))},
		`{"dir":"c2s","type":"other","msg":"malformed","reason":"startup message: missing terminator"}` + "\n", false},
	{"server message type unknown to clients", []frame{startup, c2s(msg('T', i16(0)))},
		startupEvent + `{"dir":"c2s","type":"other","msg":"malformed","reason":"unknown message type for message 'T'"}` + "\n", false},
}

func TestDecode(t *testing.T) {
	for _, tc := range decodeCases {
		t.Run(tc.name, func(t *testing.T) {
			out, errs := decodeFrames(t, tc.frames)
			if string(out) != tc.want {
				t.Errorf("output:\n%s\nwant:\n%s", out, tc.want)
			}
			if (len(errs) > 0) != tc.wantErr || len(errs) > 1 {
				t.Errorf("errors %v, want error: %v (at most one)", errs, tc.wantErr)
			}
			for _, err := range errs {
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("error %v is not ErrMalformed", err)
				}
			}
			checkLines(t, out)
			checkSplits(t, tc.frames, out)
		})
	}
}

// TestCorpus decodes every capture of the conformance corpus, one Feed per
// frame, and compares with its .events.jsonl (rewritten by -update).
func TestCorpus(t *testing.T) {
	cases := loadCorpus(t)
	if len(cases) == 0 {
		t.Fatal("empty corpus at " + corpusDir)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, errs := decodeFrames(t, c.frames)
			if len(errs) > 0 {
				t.Errorf("feed errors: %v", errs)
			}
			path := filepath.Join(corpusDir, c.name+".events.jsonl")
			if *update {
				if err := os.WriteFile(path, out, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, want) {
				t.Errorf("output differs from %s (run with -update and review the diff):\n%s", path, out)
			}
			if bytes.Contains(out, []byte("malformed")) {
				t.Errorf("real traffic decoded as malformed:\n%s", out)
			}
			checkLines(t, out)
			checkSplits(t, c.frames, out)
		})
	}
}

// checkLines asserts every line is one JSON object starting with dir, type.
func checkLines(t testing.TB, out []byte) {
	t.Helper()
	if len(out) > 0 && out[len(out)-1] != '\n' {
		t.Fatalf("output does not end in a newline: %q", out)
	}
	for _, line := range bytes.SplitAfter(out, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if !json.Valid(line) {
			t.Fatalf("invalid JSON line: %q", line)
		}
		if !bytes.HasPrefix(line, []byte(`{"dir":"c2s","type":"`)) && !bytes.HasPrefix(line, []byte(`{"dir":"s2c","type":"`)) {
			t.Fatalf("line does not start with dir and type: %q", line)
		}
	}
}

// checkSplits asserts that feeding the frames in 1-byte pieces and in
// random pieces gives the same output.
func checkSplits(t testing.TB, frames []frame, want []byte) {
	t.Helper()
	rng := rand.New(rand.NewSource(1))
	for _, mode := range []string{"1-byte", "random"} {
		var pieces []frame
		for _, f := range frames {
			for p := f.B; len(p) > 0; {
				n := 1
				if mode == "random" {
					n = 1 + rng.Intn(min(len(p), 64))
				}
				pieces = append(pieces, frame{f.Dir, p[:n]})
				p = p[n:]
			}
		}
		got, _ := decodeFrames(t, pieces)
		if !bytes.Equal(got, want) {
			t.Fatalf("%s pieces give different output:\n%s\nwant:\n%s", mode, got, want)
		}
	}
}

func TestTypeName(t *testing.T) {
	for typ, want := range map[byte]string{'Q': " for message 'Q'", 0: " for message 0x00", '"': " for message 0x22", 0xff: " for message 0xff"} {
		if got := typeName(typ); got != want {
			t.Errorf("typeName(%#x) = %q, want %q", typ, got, want)
		}
	}
}
