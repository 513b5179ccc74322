// Package config loads hoop's single TOML configuration file. Decoding is
// strict: an unknown key or a value of the wrong type is an error naming the
// key and its line, and Validate checks everything that can be checked
// before a listener opens. The doc comments of the fields are the reference
// for hoop.toml.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is the whole of hoop.toml.
type Config struct {
	Gateway  Gateway    `toml:"gateway"`
	Store    Store      `toml:"store"`
	API      API        `toml:"api"`
	Postgres Postgres   `toml:"postgres"`
	Plugins  PluginHost `toml:"plugins"`
	Review   ReviewCfg  `toml:"review"`
	// Resource lists the systems hoop gives access to.
	Resource []Resource `toml:"resource"`
	// Plugin lists third-party plugins loaded beside the built-ins.
	Plugin []Plugin `toml:"plugin"`
	// Policy lists the policies run before each statement, in order.
	Policy []Policy `toml:"policy"`

	// Path is the file the config was loaded from ("" if none).
	Path string `toml:"-"`
}

// Gateway holds process-wide settings.
type Gateway struct {
	// DataDir holds the store, the admin token and caches. Default "./data",
	// relative to the working directory.
	DataDir string `toml:"data_dir"`
	// LogLevel is debug, info, warn or error. Default info.
	LogLevel string `toml:"log_level"`
	// ShutdownTimeout bounds graceful shutdown. Default "10s".
	ShutdownTimeout Duration `toml:"shutdown_timeout"`
}

// Store configures the session store.
type Store struct {
	// Sync makes every store commit wait for fsync, so recorded frames also
	// survive a machine crash (not only a gateway crash). Default false:
	// commits reach the OS before a client frame is forwarded, which survives
	// kill -9 of the gateway. See docs/benchmarks.md for the measured cost.
	Sync bool `toml:"sync"`
}

// API configures the HTTP API and the audit view.
type API struct {
	// Listen is the address of the API and web view. Default "127.0.0.1:8009".
	Listen string `toml:"listen"`
}

// Postgres configures the PostgreSQL front end.
type Postgres struct {
	// Listen is where PostgreSQL clients connect. Default "127.0.0.1:15432".
	Listen string `toml:"listen"`
	// TLSCert and TLSKey are PEM files; when both are set, SSLRequest is
	// answered with TLS. Cleartext passwords are accepted only over TLS.
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`
	// AllowCleartextOverTLS asks TLS clients for the secret in cleartext
	// instead of SCRAM-SHA-256 (for clients without SCRAM). Never used on
	// unencrypted connections. Default false.
	AllowCleartextOverTLS bool `toml:"allow_cleartext_over_tls"`
	// MaxMessageSize bounds one protocol message from a client, in bytes.
	// Default 64 MiB.
	MaxMessageSize int `toml:"max_message_size"`
	// SCRAMIterations is the PBKDF2 iteration count of new credentials'
	// SCRAM verifiers. Default 4096, RFC 7677's minimum; the JDBC driver
	// refuses fewer. Secrets are random, so more iterations add nothing but
	// client CPU; fewer only make sense for benchmarks.
	SCRAMIterations int `toml:"scram_iterations"`
}

// PluginHost configures the WASM sandbox.
type PluginHost struct {
	// MemoryLimitMB caps each plugin instance's linear memory. Default 128.
	MemoryLimitMB int `toml:"memory_limit_mb"`
	// CallTimeout bounds one plugin call. Default "250ms".
	CallTimeout Duration `toml:"call_timeout"`
	// PoolSize is the number of instances per plugin. Default 4.
	PoolSize int `toml:"pool_size"`
	// CacheDir holds compiled modules so later starts skip compilation.
	// Default <data_dir>/wasm-cache.
	CacheDir string `toml:"cache_dir"`
}

// ReviewCfg configures held statements.
type ReviewCfg struct {
	// Timeout is how long a held statement waits for a decision. Default "5m".
	Timeout Duration `toml:"timeout"`
}

// Resource is one upstream system.
type Resource struct {
	// Name identifies the resource in credentials and sessions.
	Name string `toml:"name"`
	// Protocol is "postgres".
	Protocol string `toml:"protocol"`
	// Address is the upstream host:port.
	Address string `toml:"address"`
	// Database, when set, pins every session to this database whatever the
	// client asks for.
	Database string `toml:"database"`
	// TLS is "disable" (default), "require" or "verify" for the upstream leg.
	TLS string `toml:"tls"`
	// Role lists the upstream roles consumers can be bound to.
	Role []Role `toml:"role"`
}

// Role is an upstream account of a resource.
type Role struct {
	// Name identifies the role within its resource.
	Name string `toml:"name"`
	// User is the upstream user name.
	User string `toml:"user"`
	// PasswordEnv names an environment variable holding the password.
	PasswordEnv string `toml:"password_env"`
	// PasswordFile names a file holding the password (trailing newline trimmed).
	PasswordFile string `toml:"password_file"`
}

// Plugin is a third-party plugin module.
type Plugin struct {
	// Path is the .wasm file.
	Path string `toml:"path"`
	// SHA256 is the module's hex digest; a mismatch refuses to start.
	SHA256 string `toml:"sha256"`
}

// Policy applies a policy plugin to resources.
type Policy struct {
	// Plugin is the plugin name: "guardrail", "analyzer" or a third-party
	// plugin's manifest name.
	Plugin string `toml:"plugin"`
	// Resources the policy applies to; empty means all.
	Resources []string `toml:"resources"`
	// OnFault is "block" (default) or "allow": what happens to a statement
	// when the policy traps, times out or returns garbage.
	OnFault string `toml:"on_fault"`
	// Cache reuses the policy's verdict for an identical statement by the
	// same identity and role for up to a minute (default true). Set it to
	// false for a policy whose verdict depends on time or state.
	Cache *bool `toml:"cache"`
	// Config is passed to the plugin's hoop_configure as JSON.
	Config map[string]any `toml:"config"`
}

// Duration is a time.Duration written as a string ("250ms", "5m").
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("invalid duration %q (use e.g. \"250ms\", \"5m\")", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as a Go duration string.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Default returns the configuration used when a key is absent.
func Default() *Config {
	return &Config{
		Gateway:  Gateway{DataDir: "./data", LogLevel: "info", ShutdownTimeout: Duration{10 * time.Second}},
		API:      API{Listen: "127.0.0.1:8009"},
		Postgres: Postgres{Listen: "127.0.0.1:15432", MaxMessageSize: 64 << 20, SCRAMIterations: 4096},
		Plugins:  PluginHost{MemoryLimitMB: 128, CallTimeout: Duration{250 * time.Millisecond}, PoolSize: 4},
		Review:   ReviewCfg{Timeout: Duration{5 * time.Minute}},
	}
}

// Load reads, decodes and validates the file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	c, err := Parse(b, path)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// Parse decodes and validates TOML text; name is used in messages.
func Parse(b []byte, name string) (*Config, error) {
	c := Default()
	md, err := toml.NewDecoder(bytes.NewReader(b)).Decode(c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s:%d: %s", name, pe.Position.Line, pe.Message)
		}
		if m := typeErr.FindStringSubmatch(err.Error()); m != nil {
			return nil, fmt.Errorf("%s:%s: key %q: %s", name, m[1], m[2], m[3])
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		var msgs []string
		for _, k := range und {
			// Keys under a policy's config table belong to the plugin.
			if len(k) >= 3 && k[0] == "policy" && k[1] == "config" {
				continue
			}
			msgs = append(msgs, fmt.Sprintf("%s:%d: unknown key %q", name, lineOf(b, k), k.String()))
		}
		if len(msgs) > 0 {
			return nil, errors.New(strings.Join(msgs, "\n"))
		}
	}
	c.Path = name
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return c, nil
}

// typeErr matches the decoder's type errors, which carry a line but are not
// ParseErrors: `toml: line 3 (last key "api.listen"): incompatible types...`.
var typeErr = regexp.MustCompile(`^toml: line (\d+) \(last key "([^"]*)"\): (.*)$`)

// lineOf finds the line of the last component of key in the TOML text. The
// decoder reports undecoded keys without positions, so the key is searched
// for as an assignment or a table header.
func lineOf(b []byte, key toml.Key) int {
	last := key[len(key)-1]
	for i, line := range strings.Split(string(b), "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, last) {
			rest := strings.TrimSpace(t[len(last):])
			if strings.HasPrefix(rest, "=") {
				return i + 1
			}
		}
		if strings.HasPrefix(t, "[") && strings.Contains(t, last) {
			h := strings.Trim(t, "[] ")
			if h == key.String() || strings.HasSuffix(h, "."+last) || h == last {
				return i + 1
			}
		}
	}
	return 0
}

// DataPath joins p to the data directory.
func (c *Config) DataPath(p string) string { return filepath.Join(c.Gateway.DataDir, p) }

// ResourceByName returns the named resource or nil.
func (c *Config) ResourceByName(name string) *Resource {
	for i := range c.Resource {
		if c.Resource[i].Name == name {
			return &c.Resource[i]
		}
	}
	return nil
}

// RoleByName returns the named role of r or nil.
func (r *Resource) RoleByName(name string) *Role {
	for i := range r.Role {
		if r.Role[i].Name == name {
			return &r.Role[i]
		}
	}
	return nil
}

// Password reads the role's secret from its environment variable or file.
// It is read when a session dials upstream, so a rotated secret is picked
// up without a restart.
func (r *Role) Password() (string, error) {
	switch {
	case r.PasswordEnv != "":
		v, ok := os.LookupEnv(r.PasswordEnv)
		if !ok {
			return "", fmt.Errorf("role %q: environment variable %s is not set", r.Name, r.PasswordEnv)
		}
		return v, nil
	case r.PasswordFile != "":
		b, err := os.ReadFile(r.PasswordFile)
		if err != nil {
			return "", fmt.Errorf("role %q: read password file: %w", r.Name, err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	return "", nil
}
