package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
)

// Validate checks the configuration as far as it can without opening a
// listener or dialling a resource. All problems are reported together.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if c.Gateway.DataDir == "" {
		add("gateway.data_dir: must not be empty")
	}
	switch c.Gateway.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		add("gateway.log_level: %q is not one of debug, info, warn, error", c.Gateway.LogLevel)
	}
	if c.Gateway.ShutdownTimeout.Duration <= 0 {
		add("gateway.shutdown_timeout: must be positive")
	}
	checkListen := func(key, v string) {
		if _, _, err := net.SplitHostPort(v); err != nil {
			add("%s: %q is not host:port: %v", key, v, err)
		}
	}
	checkListen("api.listen", c.API.Listen)
	checkListen("postgres.listen", c.Postgres.Listen)
	if (c.Postgres.TLSCert == "") != (c.Postgres.TLSKey == "") {
		add("postgres: tls_cert and tls_key must be set together")
	}
	for key, f := range map[string]string{"postgres.tls_cert": c.Postgres.TLSCert, "postgres.tls_key": c.Postgres.TLSKey} {
		if f != "" {
			if _, err := os.Stat(f); err != nil {
				add("%s: %v", key, err)
			}
		}
	}
	if c.Postgres.MaxMessageSize < 1024 {
		add("postgres.max_message_size: %d is below the minimum of 1024", c.Postgres.MaxMessageSize)
	}
	if c.Postgres.SCRAMIterations < 1 {
		add("postgres.scram_iterations: must be at least 1 (4096, RFC 7677's minimum, is what the JDBC driver requires)")
	}
	if c.Plugins.MemoryLimitMB < 8 || c.Plugins.MemoryLimitMB > 4096 {
		add("plugins.memory_limit_mb: %d is outside 8..4096", c.Plugins.MemoryLimitMB)
	}
	if c.Plugins.CallTimeout.Duration <= 0 {
		add("plugins.call_timeout: must be positive")
	}
	if c.Plugins.PoolSize < 1 || c.Plugins.PoolSize > 256 {
		add("plugins.pool_size: %d is outside 1..256", c.Plugins.PoolSize)
	}
	if c.Review.Timeout.Duration <= 0 {
		add("review.timeout: must be positive")
	}

	names := map[string]bool{}
	for i, r := range c.Resource {
		where := fmt.Sprintf("resource[%d]", i)
		if r.Name != "" {
			where = fmt.Sprintf("resource %q", r.Name)
		}
		switch {
		case r.Name == "":
			add("%s: name is required", where)
		case names[r.Name]:
			add("%s: duplicate name", where)
		}
		names[r.Name] = true
		if r.Protocol != "postgres" {
			add("%s: protocol %q is not supported (supported: postgres)", where, r.Protocol)
		}
		if _, _, err := net.SplitHostPort(r.Address); err != nil {
			add("%s: address %q is not host:port", where, r.Address)
		}
		switch r.TLS {
		case "", "disable", "require", "verify":
		default:
			add("%s: tls %q is not one of disable, require, verify", where, r.TLS)
		}
		if len(r.Role) == 0 {
			add("%s: at least one [[resource.role]] is required", where)
		}
		roles := map[string]bool{}
		for j, role := range r.Role {
			rw := fmt.Sprintf("%s role[%d]", where, j)
			if role.Name != "" {
				rw = fmt.Sprintf("%s role %q", where, role.Name)
			}
			switch {
			case role.Name == "":
				add("%s: name is required", rw)
			case roles[role.Name]:
				add("%s: duplicate name", rw)
			}
			roles[role.Name] = true
			if role.User == "" {
				add("%s: user is required", rw)
			}
			if role.PasswordEnv != "" && role.PasswordFile != "" {
				add("%s: set password_env or password_file, not both", rw)
			}
			if role.PasswordEnv != "" {
				if _, ok := os.LookupEnv(role.PasswordEnv); !ok {
					add("%s: environment variable %s is not set", rw, role.PasswordEnv)
				}
			}
			if role.PasswordFile != "" {
				if _, err := os.Stat(role.PasswordFile); err != nil {
					add("%s: password_file: %v", rw, err)
				}
			}
		}
	}
	for i, p := range c.Plugin {
		where := fmt.Sprintf("plugin[%d]", i)
		if p.Path == "" {
			add("%s: path is required", where)
		} else if _, err := os.Stat(p.Path); err != nil {
			add("%s: %v", where, err)
		}
		if b, err := hex.DecodeString(p.SHA256); err != nil || len(b) != 32 {
			add("%s: sha256 must be 64 hex digits (sha256sum of the module)", where)
		}
	}
	for i, p := range c.Policy {
		where := fmt.Sprintf("policy[%d]", i)
		if p.Plugin == "" {
			add("%s: plugin is required", where)
		}
		switch p.OnFault {
		case "", "block", "allow":
		default:
			add("%s: on_fault %q is not block or allow", where, p.OnFault)
		}
		for _, r := range p.Resources {
			if !names[r] {
				add("%s: resource %q is not defined", where, r)
			}
		}
	}
	return errors.Join(errs...)
}

// LogValue-safe summary used by `hoop config check`.
func (c *Config) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "api %s, postgres %s, data %s\n", c.API.Listen, c.Postgres.Listen, c.Gateway.DataDir)
	for _, r := range c.Resource {
		var roles []string
		for _, ro := range r.Role {
			roles = append(roles, ro.Name)
		}
		fmt.Fprintf(&b, "resource %s (%s %s) roles: %s\n", r.Name, r.Protocol, r.Address, strings.Join(roles, ", "))
	}
	for _, p := range c.Policy {
		fmt.Fprintf(&b, "policy %s on %v\n", p.Plugin, p.Resources)
	}
	return b.String()
}
