package identity

import (
	"strings"
	"testing"
)

// The client and server halves of SCRAM-SHA-256 agree, and a proof made
// from another secret fails.
func TestSCRAMRoundTrip(t *testing.T) {
	salt := []byte("0123456789abcdef")
	v := NewVerifier("hoop_cred_secret", salt, 16)
	cf, err := ParseClientFirst("n,,n=,r=clientnonce")
	if err != nil {
		t.Fatal(err)
	}
	nonce := cf.Nonce + NewNonce()
	sf := ServerFirst(nonce, salt, 16)
	for _, tt := range []struct {
		secret string
		ok     bool
	}{{"hoop_cred_secret", true}, {"hoop_cred_other", false}} {
		final, wantSig := ClientProof(SaltedPassword(tt.secret, salt, 16), cf.Bare, sf, "c=biws,r="+nonce)
		fin, err := ParseClientFinal(final)
		if err != nil {
			t.Fatal(err)
		}
		sig, ok := VerifyProof(v, cf.Bare+","+sf+","+fin.WithoutProof, fin.Proof)
		if ok != tt.ok {
			t.Fatalf("secret %q: ok = %v", tt.secret, ok)
		}
		if ok && string(sig) != string(wantSig) {
			t.Fatal("server signature differs from the client's expectation")
		}
	}
}

func TestParseClientFirstErrors(t *testing.T) {
	for msg, want := range map[string]string{
		"p=tls-server-end-point,,n=,r=x": "channel binding",
		"n,a=admin,n=,r=x":               "authzid",
		"n,,n=":                          "nonce",
		"garbage":                        "malformed",
		"n,,n=,r=a,b":                    "",
	} {
		_, err := ParseClientFirst(msg)
		if want == "" {
			if err != nil {
				t.Errorf("%q: %v", msg, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: err = %v, want %q", msg, err, want)
		}
	}
}
