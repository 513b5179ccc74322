// Package policy is the pipeline that decides on a statement before it
// reaches a resource. It runs the policy plugins configured for the
// statement's resource in order and combines their verdicts: any block
// blocks, else any review holds the statement for a person, else it is
// allowed. A plugin that traps, times out or answers garbage decides by its
// on_fault setting (block unless configured otherwise). The package knows
// no protocol: front ends hand it the statement text.
package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"hoop.dev/hoop/core/config"
	"hoop.dev/hoop/sdk"
)

// Evaluator is a policy plugin as the pipeline uses it.
type Evaluator interface {
	Configure(ctx context.Context, config []byte) error
	Evaluate(ctx context.Context, input []byte) ([]byte, error)
}

// Lookup finds a loaded plugin by name (nil if none).
type Lookup func(name string) (Evaluator, string)

// Decisions (the same words as the ABI's verdicts).
const (
	Allow  = sdk.Allow
	Block  = sdk.Block
	Review = sdk.Review
)

// Decision is the combined outcome for one statement.
type Decision struct {
	Action string // Allow, Block or Review
	Risk   int    // the highest risk any policy gave
	Policy string // the plugin whose verdict decided
	Rule   string
	Reason string
	// Fault is set when the deciding verdict came from a plugin fault.
	Fault bool
}

// Statement is what a front end asks about.
type Statement struct {
	Identity, Kind, Resource, Role, Protocol, Session string
	Text                                              string
}

type stage struct {
	plugin    string
	eval      Evaluator
	resources map[string]bool // empty: all
	onFault   string
	cache     *verdictCache // nil: every statement is evaluated
}

// Pipeline evaluates statements. It is safe for concurrent use.
type Pipeline struct {
	stages []stage
	log    *slog.Logger
	evals  atomic.Int64
	faults atomic.Int64
}

// New builds the pipeline from config, configuring each plugin. An unknown
// plugin name, a plugin that is not a policy, or a config the plugin
// refuses (an invalid regex, an unknown key) is an error: nothing starts.
func New(ctx context.Context, cfg []config.Policy, lookup Lookup, log *slog.Logger) (*Pipeline, error) {
	p := &Pipeline{log: log}
	for i, pc := range cfg {
		ev, kind := lookup(pc.Plugin)
		if ev == nil {
			return nil, fmt.Errorf("policy[%d]: no plugin named %q is loaded (built-ins: guardrail, analyzer; others need a [[plugin]] entry)", i, pc.Plugin)
		}
		if kind != sdk.KindPolicy {
			return nil, fmt.Errorf("policy[%d]: plugin %q is a %s, not a policy", i, pc.Plugin, kind)
		}
		conf := pc.Config
		if conf == nil {
			conf = map[string]any{}
		}
		b, err := json.Marshal(conf)
		if err != nil {
			return nil, fmt.Errorf("policy[%d] %s: encode config: %w", i, pc.Plugin, err)
		}
		if err := ev.Configure(ctx, b); err != nil {
			return nil, fmt.Errorf("policy[%d] %s: invalid config: %w", i, pc.Plugin, err)
		}
		st := stage{plugin: pc.Plugin, eval: ev, onFault: pc.OnFault, resources: map[string]bool{}}
		if st.onFault == "" {
			st.onFault = Block
		}
		for _, r := range pc.Resources {
			st.resources[r] = true
		}
		if pc.Cache == nil || *pc.Cache {
			st.cache = newVerdictCache()
		}
		p.stages = append(p.stages, st)
	}
	return p, nil
}

// Active reports whether any policy applies to resource.
func (p *Pipeline) Active(resource string) bool {
	if p == nil {
		return false
	}
	for _, s := range p.stages {
		if len(s.resources) == 0 || s.resources[resource] {
			return true
		}
	}
	return false
}

// Counts returns how many evaluations and faults there were.
func (p *Pipeline) Counts() (evaluations, faults int64) { return p.evals.Load(), p.faults.Load() }

// Evaluate runs every applicable policy on st and combines the verdicts.
func (p *Pipeline) Evaluate(ctx context.Context, st Statement) Decision {
	d := Decision{Action: Allow}
	if p == nil {
		return d
	}
	in := sdk.Input{Identity: sdk.Identity{Name: st.Identity, Kind: st.Kind}, Resource: st.Resource, Role: st.Role,
		Protocol: st.Protocol, Session: st.Session, Statement: sdk.Statement{Text: st.Text}}
	var input []byte
	key, cacheable := keyOf(st)
	now := time.Now()
	var review *Decision
	for _, s := range p.stages {
		if len(s.resources) > 0 && !s.resources[st.Resource] {
			continue
		}
		v, hit := sdk.Verdict{}, false
		if s.cache != nil && cacheable {
			v, hit = s.cache.get(key, now)
		}
		var err error
		if !hit {
			if input == nil {
				input = sdk.AppendInput(make([]byte, 0, 256+len(st.Text)), &in)
			}
			p.evals.Add(1)
			v, err = p.evaluate(ctx, s, input)
			if err == nil && s.cache != nil && cacheable {
				s.cache.put(key, v, now)
			}
		}
		if err != nil {
			p.faults.Add(1)
			p.log.Warn("policy fault", "policy", s.plugin, "session", st.Session, "on_fault", s.onFault, "err", err)
			if s.onFault == Allow {
				continue
			}
			return Decision{Action: Block, Risk: 100, Policy: s.plugin, Rule: "policy-fault",
				Reason: fmt.Sprintf("policy %s failed (%v); statements are blocked while it fails", s.plugin, shortErr(err)), Fault: true}
		}
		if v.Risk > d.Risk {
			d.Risk = v.Risk
		}
		switch v.Decision {
		case Block:
			return Decision{Action: Block, Risk: max(d.Risk, v.Risk), Policy: s.plugin, Rule: v.Rule, Reason: v.Reason}
		case Review:
			if review == nil {
				review = &Decision{Action: Review, Policy: s.plugin, Rule: v.Rule, Reason: v.Reason}
			}
		}
	}
	if review != nil {
		review.Risk = d.Risk
		return *review
	}
	return d
}

func (p *Pipeline) evaluate(ctx context.Context, s stage, input []byte) (sdk.Verdict, error) {
	out, err := s.eval.Evaluate(ctx, input)
	if err != nil {
		return sdk.Verdict{}, err
	}
	var v sdk.Verdict
	if err := sdk.DecodeVerdict(out, &v); err != nil {
		return v, fmt.Errorf("invalid verdict %.80q: %w", out, err)
	}
	if err := v.Validate(); err != nil {
		return v, fmt.Errorf("invalid verdict %.80q: %w", out, err)
	}
	return v, nil
}

// shortErr keeps the first line of an error (wasm traps carry stacks).
func shortErr(err error) string {
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// ErrBlocked is the category of statements refused by policy.
var ErrBlocked = errors.New("statement blocked by policy")
