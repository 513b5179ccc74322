package api_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"hoop.dev/hoop/internal/hooptest"
)

func do(t *testing.T, env *hooptest.Env, method, path, token, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, env.URL()+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestAuthRequired(t *testing.T) {
	env := hooptest.Start(t, hooptest.Options{})
	routes := [][2]string{{"GET", "/api/sessions"}, {"GET", "/api/sessions/s_x"}, {"GET", "/api/sessions/s_x/stream"},
		{"GET", "/api/sessions/s_x/events"}, {"GET", "/api/identities"}, {"POST", "/api/identities"},
		{"POST", "/api/identities/x/revoke"}, {"POST", "/api/identities/x/rotate"}, {"GET", "/api/plugins"},
		{"GET", "/plugins/postgres.wasm"}, {"GET", "/api/reviews"}, {"POST", "/api/reviews/r_x/approve"}}
	for _, r := range routes {
		for _, tok := range []string{"", "hoop_admin_wrong", env.Token + "x"} {
			if code, _ := do(t, env, r[0], r[1], tok, "{}"); code != http.StatusUnauthorized {
				t.Errorf("%s %s with token %q: %d, want 401", r[0], r[1], tok, code)
			}
		}
	}
	if code, _ := do(t, env, "GET", "/healthz", "", ""); code != 200 {
		t.Errorf("healthz: %d", code)
	}
}

func TestIdentityAPI(t *testing.T) {
	env := hooptest.Start(t, hooptest.Options{})
	tok := env.Token
	code, b := do(t, env, "POST", "/api/identities", tok, `{"name":"ci","resource":"demo","role":"readonly","expires":"1h"}`)
	if code != 201 {
		t.Fatalf("create: %d %s", code, b)
	}
	var iss map[string]string
	json.Unmarshal(b, &iss)
	if !strings.HasPrefix(iss["secret"], "hoop_cred_") || !strings.Contains(iss["dsn"], "ci:"+iss["secret"]+"@") || iss["expires_at"] == "" {
		t.Fatalf("issued = %s", b)
	}
	for body, want := range map[string]int{
		`{"name":"ci","resource":"demo","role":"readonly"}`:               409, // active credential exists
		`{"name":"x","resource":"nope","role":"readonly"}`:                400,
		`{"name":"bad name!","resource":"demo","role":"readonly"}`:        400,
		`{"name":"y","resource":"demo","role":"readonly","kind":"robot"}`: 400,
		`{"name":"z","resource":"demo","role":"readonly","bogus":1}`:      400,
		`not json`: 400,
	} {
		if code, b := do(t, env, "POST", "/api/identities", tok, body); code != want {
			t.Errorf("%s: %d %s, want %d", body, code, b, want)
		}
	}
	code, b = do(t, env, "GET", "/api/identities", tok, "")
	if code != 200 || bytes.Contains(b, []byte(iss["secret"])) || !bytes.Contains(b, []byte(`"status": "active"`)) {
		t.Fatalf("list: %d %s", code, b)
	}
	if code, _ := do(t, env, "POST", "/api/identities/nobody/revoke", tok, ""); code != 404 {
		t.Errorf("revoke unknown: %d", code)
	}
	if code, b := do(t, env, "POST", "/api/identities/ci/revoke", tok, ""); code != 200 || !bytes.Contains(b, []byte(`"sessions_ended": 0`)) {
		t.Errorf("revoke: %d %s", code, b)
	}
	if code, _ := do(t, env, "GET", "/api/sessions/s_nope", tok, ""); code != 404 {
		t.Errorf("unknown session: %d", code)
	}
	if code, _ := do(t, env, "GET", "/api/reviews/r_nope", tok, ""); code != 404 {
		t.Errorf("unknown review: %d", code)
	}
	if code, _ := do(t, env, "GET", "/api/sessions?status=weird", tok, ""); code != 400 {
		t.Errorf("bad status filter: %d", code)
	}
}
