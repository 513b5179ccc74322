package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"hoop.dev/hoop/core/gateway"
)

// client talks to the gateway's API.
type client struct {
	base  string
	token string
	http  *http.Client
}

// addClientFlags adds --config to fs and returns a constructor for the
// client it selects.
func addClientFlags(fs *flag.FlagSet) func() (*client, error) {
	cfgPath := fs.String("config", "", "configuration file whose api.listen and admin token to use (default ./hoop.toml if present)")
	return func() (*client, error) {
		cfg, err := loadConfig(*cfgPath)
		if err != nil {
			return nil, err
		}
		c := &client{base: os.Getenv("HOOP_GATEWAY"), token: os.Getenv("HOOP_TOKEN"), http: &http.Client{Timeout: 60 * time.Second}}
		if c.base == "" {
			c.base = "http://" + cfg.API.Listen
		}
		c.base = strings.TrimRight(c.base, "/")
		if c.token == "" {
			b, err := os.ReadFile(cfg.DataPath(gateway.AdminTokenFile))
			if err != nil {
				return nil, fmt.Errorf("no admin token: set HOOP_TOKEN or run where %s is readable (%v)", cfg.DataPath(gateway.AdminTokenFile), err)
			}
			c.token = strings.TrimSpace(string(b))
		}
		return c, nil
	}
}

// do sends a request and decodes a JSON answer into out (if not nil).
func (c *client) do(method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("reach the gateway at %s (is `hoop serve` running? set HOOP_GATEWAY): %w", c.base, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error != "" {
			return errors.New(e.Error)
		}
		return fmt.Errorf("gateway answered %s", resp.Status)
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
