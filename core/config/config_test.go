package config

import (
	"strings"
	"testing"
	"time"
)

func TestParseErrors(t *testing.T) {
	t.Setenv("HOOP_TEST_PW", "x")
	tests := []struct {
		name, toml, want string
	}{
		{"unknown key", "[api]\nlisten = \"127.0.0.1:1\"\nlistne = 3\n", `hoop.toml:3: unknown key "api.listne"`},
		{"unknown table", "[gatway]\ndata_dir = \"x\"\n", `hoop.toml:1: unknown key "gatway"`},
		{"bad type", "[api]\n\nlisten = 8009\n", "hoop.toml:3:"},
		{"bad duration", "[review]\ntimeout = \"5 minutes\"\n", "hoop.toml:2:"},
		{"bad listen", "[api]\nlisten = \"nope\"\n", "api.listen"},
		{"syntax", "[api\n", "hoop.toml:2:"},
		{"missing env", "[[resource]]\nname=\"a\"\nprotocol=\"postgres\"\naddress=\"127.0.0.1:5432\"\n[[resource.role]]\nname=\"r\"\nuser=\"u\"\npassword_env=\"HOOP_NOPE_UNSET\"\n", "HOOP_NOPE_UNSET is not set"},
		{"bad protocol", "[[resource]]\nname=\"a\"\nprotocol=\"pg\"\naddress=\"127.0.0.1:5432\"\n[[resource.role]]\nname=\"r\"\nuser=\"u\"\n", `protocol "pg" is not supported`},
		{"policy unknown resource", "[[policy]]\nplugin=\"guardrail\"\nresources=[\"zz\"]\n", `resource "zz" is not defined`},
		{"bad plugin digest", "[[plugin]]\npath=\"config.go\"\nsha256=\"abc\"\n", "sha256 must be 64 hex"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.toml), "hoop.toml")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseValid(t *testing.T) {
	t.Setenv("HOOP_TEST_PW", "secret")
	c, err := Parse([]byte(`
[gateway]
data_dir = "/tmp/x"
[review]
timeout = "30s"
[[resource]]
name = "demo"
protocol = "postgres"
address = "127.0.0.1:5432"
database = "app"
  [[resource.role]]
  name = "readonly"
  user = "ro"
  password_env = "HOOP_TEST_PW"
[[policy]]
plugin = "guardrail"
resources = ["demo"]
  [policy.config]
  anything = [1, 2]
`), "t.toml")
	if err != nil {
		t.Fatal(err)
	}
	if c.API.Listen != "127.0.0.1:8009" || c.Postgres.Listen != "127.0.0.1:15432" {
		t.Fatalf("defaults not applied: %+v", c)
	}
	if c.Review.Timeout.Duration != 30*time.Second {
		t.Fatalf("timeout = %v", c.Review.Timeout)
	}
	pw, err := c.ResourceByName("demo").RoleByName("readonly").Password()
	if err != nil || pw != "secret" {
		t.Fatalf("password = %q, %v", pw, err)
	}
	if c.Policy[0].Config["anything"] == nil {
		t.Fatal("policy config not decoded")
	}
}
