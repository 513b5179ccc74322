// Package guardrail is the first-party policy that blocks or holds for review
// statements matching explicit rules: denied words and phrases, matched on the
// SQL token sequence so comments, whitespace and case cannot evade them, and
// regular expressions, matched on the raw statement text.
//
// It is a plain Go package implementing sdk.Policy; wasm/main.go builds it to
// a plugin. docs/policies.md is the configuration reference.
package guardrail

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"hoop.dev/hoop/plugins/internal/heap"
	"hoop.dev/hoop/plugins/internal/sqltok"
	"hoop.dev/hoop/sdk"
)

// Manifest is the guardrail's plugin manifest, shared by the wasm main and
// the gateway.
var Manifest = sdk.Manifest{
	Name:        "guardrail",
	Version:     "1.0.0",
	Kind:        sdk.KindPolicy,
	Protocols:   []string{"postgres", "mysql"},
	Description: "Blocks or holds for review SQL statements that contain denied words or phrases (matched on tokens, so comments, case and whitespace cannot evade them) or match regular expressions.",
}

// Risk reported per decision.
const (
	blockRisk  = 100
	reviewRisk = 50
)

// maxDepth bounds how deeply code strings (DO bodies holding EXECUTE
// strings holding ...) are lexed again.
const maxDepth = 4

// Config is the guardrail's JSON configuration.
type Config struct {
	// Rules are the rules, in order. The first matching block rule wins,
	// else the first matching review rule.
	Rules []RuleConfig `json:"rules"`
}

// RuleConfig is one rule of Config.
type RuleConfig struct {
	// Name identifies the rule in verdicts; required and unique.
	Name string `json:"name"`
	// Action is "block" or "review"; required.
	Action string `json:"action"`
	// Message is the verdict's reason when the rule matches; shown to the
	// client on block, to the reviewer on review.
	Message string `json:"message"`
	// Deny lists words or phrases, matched case-insensitively on the
	// statement's tokens: "drop table" matches the consecutive tokens drop
	// and table. String literal contents never match.
	Deny []string `json:"deny"`
	// Regex is an RE2 regular expression matched on each statement's raw
	// text (comments included). Use (?i) for case-insensitivity.
	Regex string `json:"regex"`
}

// Policy is the guardrail policy. Configure must not run concurrently with
// Evaluate; Evaluate is safe for concurrent use.
type Policy struct {
	rules []rule
	pool  sync.Pool // *scratch
}

var _ sdk.Policy = (*Policy)(nil)

// New returns a guardrail with no rules, which allows everything until
// Configure gives it some.
func New() *Policy { return &Policy{} }

type rule struct {
	name    string
	block   bool
	message string
	deny    []phrase
	re      *matcher // nil without a regex
}

// phrase is one lexed deny entry.
type phrase []pattern

// pattern is one token of a deny entry.
type pattern struct {
	tok sqltok.Token
	// keyword is set for a Word that is an SQL keyword: a quoted
	// identifier of the same text is then not a match, since a quoted
	// identifier can never act as the keyword.
	keyword bool
}

// scratch is the per-call buffers, pooled so Evaluate does not allocate
// them for each statement.
type scratch struct {
	stmts []sqltok.Statement
	toks  []sqltok.Token
	code  []int
	// groups are the token sequences deny entries are matched on: each
	// statement's, then those of the code strings they hold.
	groups [][]sqltok.Token
}

// Configure replaces the rules with those in config (JSON, see Config). An
// empty config means no rules.
func (p *Policy) Configure(config []byte) error {
	var c Config
	if len(bytes.TrimSpace(config)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(config))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return fmt.Errorf("decode guardrail config: %w", err)
		}
		if dec.More() {
			return errors.New("decode guardrail config: trailing data after the JSON object")
		}
	}
	rules := make([]rule, 0, len(c.Rules))
	seen := make(map[string]bool, len(c.Rules))
	for i, rc := range c.Rules {
		if rc.Name == "" {
			return fmt.Errorf("configure guardrail: rule %d: name is required", i+1)
		}
		if seen[rc.Name] {
			return fmt.Errorf("configure guardrail: rule %q: duplicate name", rc.Name)
		}
		seen[rc.Name] = true
		r, err := compile(rc)
		if err != nil {
			return fmt.Errorf("configure guardrail: rule %q: %w", rc.Name, err)
		}
		rules = append(rules, r)
	}
	p.rules = rules
	return nil
}

func compile(rc RuleConfig) (rule, error) {
	r := rule{name: rc.Name, message: rc.Message}
	if r.message == "" {
		r.message = fmt.Sprintf("statement matches guardrail rule %q", rc.Name)
	}
	switch rc.Action {
	case sdk.Block:
		r.block = true
	case sdk.Review:
	case "":
		return r, errors.New(`action is required ("block" or "review")`)
	default:
		return r, fmt.Errorf(`action %q: want "block" or "review"`, rc.Action)
	}
	if len(rc.Deny) == 0 && rc.Regex == "" {
		return r, errors.New("needs at least one of deny or regex")
	}
	for _, d := range rc.Deny {
		toks := sqltok.Tokenize(nil, sqltok.Postgres, d)
		if len(toks) == 0 {
			return r, fmt.Errorf("deny entry %q has no SQL tokens", d)
		}
		ph := make(phrase, len(toks))
		for i, t := range toks {
			if t.IsPunct(';') {
				return r, fmt.Errorf("deny entry %q spans statements (has ';'), it can never match", d)
			}
			ph[i] = pattern{tok: t, keyword: t.Kind == sqltok.Word && keywords[t.Text]}
		}
		r.deny = append(r.deny, ph)
	}
	if rc.Regex != "" {
		m, err := newMatcher(rc.Regex)
		if err != nil {
			return r, fmt.Errorf("invalid regex: %w", err)
		}
		r.re = &m
	}
	return r, nil
}

// Evaluate checks every statement of in.Statement.Text against the rules.
// The first rule (in config order) with action block that matches any
// statement decides; failing that, the first matching review rule; else
// the statement is allowed with risk 0.
func (p *Policy) Evaluate(in *sdk.Input) (sdk.Verdict, error) {
	if len(p.rules) == 0 {
		return sdk.Verdict{Decision: sdk.Allow}, nil
	}
	sc, _ := p.pool.Get().(*scratch)
	if sc == nil {
		sc = new(scratch)
	}
	defer p.put(sc)
	d := sqltok.DialectFor(in.Protocol)
	sc.stmts, sc.toks = sqltok.Split(sc.stmts[:0], sc.toks, d, in.Statement.Text)
	sc.groups = sc.groups[:0]
	for _, st := range sc.stmts {
		sc.addGroup(st.Tokens, d, 0)
	}

	review := -1
	for i := range p.rules {
		r := &p.rules[i]
		if !r.block && review >= 0 {
			continue // a review rule already matched; only a block can win now
		}
		if !p.matchesAny(r, sc) {
			continue
		}
		if r.block {
			return r.verdict(), nil
		}
		review = i
	}
	if review >= 0 {
		return p.rules[review].verdict(), nil
	}
	return sdk.Verdict{Decision: sdk.Allow}, nil
}

// Pooled buffers larger than these are dropped rather than kept, and the
// heap is collected at once: a sandboxed Go heap never shrinks, so a huge
// statement's blocks left for a later GC fragment it until the next huge
// statement's token slice no longer fits in the instance's memory cap.
const (
	keepTokens     = 1 << 14
	keepStatements = 1 << 10
)

func (p *Policy) put(sc *scratch) {
	if cap(sc.toks) > keepTokens || cap(sc.stmts) > keepStatements || cap(sc.groups) > keepStatements {
		sc.toks, sc.stmts, sc.groups = nil, nil, nil
		heap.Compact()
	}
	clear(sc.groups[:cap(sc.groups)]) // the token slices they hold
	p.pool.Put(sc)
}

func (r *rule) verdict() sdk.Verdict {
	v := sdk.Verdict{Decision: sdk.Review, Risk: reviewRisk, Rule: r.name, Reason: r.message}
	if r.block {
		v.Decision, v.Risk = sdk.Block, blockRisk
	}
	return v
}

// addGroup adds toks and, recursively, the statements of the code strings
// (DO bodies, EXECUTE strings) they hold.
func (sc *scratch) addGroup(toks []sqltok.Token, d sqltok.Dialect, depth int) {
	sc.groups = append(sc.groups, toks)
	if depth >= maxDepth {
		return
	}
	start := len(sc.code)
	sc.code = sqltok.CodeStrings(sc.code, toks)
	for j := start; j < len(sc.code); j++ {
		// Lex the body into fresh memory: sc.toks backs the groups
		// already added.
		stmts, _ := sqltok.Split(nil, nil, d, toks[sc.code[j]].Value())
		for _, st := range stmts {
			sc.addGroup(st.Tokens, d, depth+1)
		}
	}
	sc.code = sc.code[:start]
}

func (p *Policy) matchesAny(r *rule, sc *scratch) bool {
	if r.re != nil {
		for _, st := range sc.stmts {
			if r.re.MatchString(st.Text) {
				return true
			}
		}
	}
	for _, g := range sc.groups {
		for _, ph := range r.deny {
			if ph.in(g) {
				return true
			}
		}
	}
	return false
}

// in reports whether the phrase occurs as consecutive tokens of toks.
func (ph phrase) in(toks []sqltok.Token) bool {
	for i := 0; i+len(ph) <= len(toks); i++ {
		ok := true
		for j := range ph {
			if !ph[j].match(toks[i+j]) {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func (p pattern) match(t sqltok.Token) bool {
	switch p.tok.Kind {
	case sqltok.Word:
		if t.Kind == sqltok.QuotedIdent {
			return !p.keyword && t.Text == p.tok.Text
		}
		return t.Kind == sqltok.Word && t.Text == p.tok.Text
	case sqltok.QuotedIdent:
		return (t.Kind == sqltok.Word || t.Kind == sqltok.QuotedIdent) && t.Text == p.tok.Text
	case sqltok.String:
		return t.Kind == sqltok.String && t.Value() == p.tok.Value()
	}
	return t.Kind == p.tok.Kind && t.Text == p.tok.Text
}
