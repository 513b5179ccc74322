package policy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"

	"hoop.dev/hoop/core/config"
	"hoop.dev/hoop/sdk"
)

// scripted is a policy whose verdict is chosen by a word in the statement;
// it stands in for a plugin to test how the pipeline combines verdicts
// (the real plugins run in the front end's tests).
type scripted struct {
	verdicts map[string]string // word -> verdict JSON
	calls    int
	config   string
}

func (s *scripted) Configure(_ context.Context, c []byte) error {
	s.config = string(c)
	if strings.Contains(s.config, "invalid") {
		return errors.New("rule \"x\": invalid regex")
	}
	return nil
}

func (s *scripted) Evaluate(_ context.Context, in []byte) ([]byte, error) {
	s.calls++
	var input sdk.Input
	if err := sdk.DecodeInput(in, &input); err != nil {
		return nil, err
	}
	for w, v := range s.verdicts {
		if strings.Contains(input.Statement.Text, w) {
			if v == "fault" {
				return nil, errors.New("plugin fault: trap")
			}
			return []byte(v), nil
		}
	}
	return []byte(`{"decision":"allow","risk":0}`), nil
}

func pipeline(t *testing.T, cfg []config.Policy, plugins map[string]*scripted) *Pipeline {
	t.Helper()
	p, err := New(context.Background(), cfg, func(name string) (Evaluator, string) {
		if s, ok := plugins[name]; ok {
			return s, sdk.KindPolicy
		}
		return nil, ""
	}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCombine(t *testing.T) {
	a := &scripted{verdicts: map[string]string{
		"drop":   `{"decision":"block","risk":100,"rule":"no-drop","reason":"no"}`,
		"delete": `{"decision":"review","risk":70,"rule":"del","reason":"check"}`,
		"boom":   "fault",
		"junk":   `{"decision":"maybe"}`,
	}}
	b := &scripted{verdicts: map[string]string{
		"delete": `{"decision":"allow","risk":20}`,
		"grant":  `{"decision":"review","risk":60,"rule":"grant","reason":"privileges"}`,
		"drop":   `{"decision":"review","risk":80,"rule":"ddl","reason":"ddl"}`,
	}}
	no := false
	p := pipeline(t, []config.Policy{{Plugin: "a"}, {Plugin: "b", Resources: []string{"db1"}, Cache: &no}}, map[string]*scripted{"a": a, "b": b})
	tests := []struct {
		text, resource, action, rule string
		risk                         int
		fault                        bool
	}{
		{"select 1", "db1", Allow, "", 0, false},
		{"drop table t", "db1", Block, "no-drop", 100, false},
		{"delete from t", "db1", Review, "del", 70, false},
		{"grant all", "db1", Review, "grant", 60, false},
		{"grant all", "db2", Allow, "", 0, false}, // b applies to db1 only
		{"boom", "db1", Block, "policy-fault", 100, true},
		{"junk", "db1", Block, "policy-fault", 100, true},
	}
	for _, tt := range tests {
		d := p.Evaluate(context.Background(), Statement{Identity: "etl", Resource: tt.resource, Text: tt.text})
		if d.Action != tt.action || d.Rule != tt.rule || d.Risk != tt.risk || d.Fault != tt.fault {
			t.Errorf("%q on %s = %+v, want %s %s risk %d", tt.text, tt.resource, d, tt.action, tt.rule, tt.risk)
		}
	}
	if !p.Active("db2") || !strings.Contains(a.config, "{}") {
		t.Fatalf("active/config: %v %q", p.Active("db2"), a.config)
	}
}

func TestOnFaultAllowAndCache(t *testing.T) {
	a := &scripted{verdicts: map[string]string{"boom": "fault"}}
	p := pipeline(t, []config.Policy{{Plugin: "a", OnFault: "allow"}}, map[string]*scripted{"a": a})
	if d := p.Evaluate(context.Background(), Statement{Text: "boom"}); d.Action != Allow {
		t.Fatalf("on_fault allow: %+v", d)
	}
	a.calls = 0
	for range 5 {
		p.Evaluate(context.Background(), Statement{Identity: "x", Text: "select 1", Session: "different each time"})
	}
	if a.calls != 1 {
		t.Fatalf("identical statements evaluated %d times, want 1 (cached)", a.calls)
	}
	p.Evaluate(context.Background(), Statement{Identity: "y", Text: "select 1"})
	if a.calls != 2 {
		t.Fatal("a verdict was reused for another identity")
	}
}

func TestNewErrors(t *testing.T) {
	plugins := map[string]*scripted{"a": {}}
	lookup := func(name string) (Evaluator, string) {
		if s, ok := plugins[name]; ok {
			return s, sdk.KindPolicy
		}
		if name == "pg" {
			return &scripted{}, sdk.KindDecoder
		}
		return nil, ""
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tt := range []struct {
		cfg  config.Policy
		want string
	}{
		{config.Policy{Plugin: "nope"}, `no plugin named "nope"`},
		{config.Policy{Plugin: "pg"}, "is a decoder, not a policy"},
		{config.Policy{Plugin: "a", Config: map[string]any{"rules": "invalid"}}, `invalid config: rule "x": invalid regex`},
	} {
		if _, err := New(context.Background(), []config.Policy{tt.cfg}, lookup, log); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: err = %v, want %q", tt.cfg, err, tt.want)
		}
	}
}
