// Package analyzer is the first-party policy that scores a statement's risk
// from its structure (DDL, privilege changes, writes without WHERE, server
// file access, sensitive tables, several statements in one string, ...) and
// maps the score through two thresholds to allow, review or block.
//
// The score is meant to be predictable: each signal has a weight, the score
// is the highest weight plus a small bonus per further signal, capped at
// 100. docs/policies.md holds the table of signals and worked examples. It
// is a plain Go package implementing sdk.Policy; wasm/main.go builds it to a
// plugin.
package analyzer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"hoop.dev/hoop/plugins/internal/heap"
	"hoop.dev/hoop/plugins/internal/sqltok"
	"hoop.dev/hoop/sdk"
)

// Manifest is the analyzer's plugin manifest, shared by the wasm main and
// the gateway.
var Manifest = sdk.Manifest{
	Name:        "analyzer",
	Version:     "1.0.0",
	Kind:        sdk.KindPolicy,
	Protocols:   []string{"postgres", "mysql"},
	Description: "Scores SQL statement risk 0-100 from structure (DDL, privilege changes, writes without WHERE, server file access, sensitive tables) and maps it to allow, review or block.",
}

// Defaults for Config fields left out.
const (
	DefaultReviewAt = 50
	DefaultBlockAt  = 90
	DefaultBonus    = 5
)

// maxLevel is the highest threshold: a threshold of 101 is never reached.
const maxLevel = 101

// Config is the analyzer's JSON configuration.
type Config struct {
	// ReviewAt is the lowest risk held for review (0-101, default 50).
	ReviewAt *int `json:"review_at"`
	// BlockAt is the lowest risk blocked (0-101, at least ReviewAt,
	// default 90). 101 never blocks.
	BlockAt *int `json:"block_at"`
	// Bonus is added to the highest weight for each further signal
	// (0-100, default 5).
	Bonus *int `json:"bonus"`
	// SensitiveTables are table names, optionally schema-qualified
	// ("payments", "billing.cards"), whose use raises the risk.
	SensitiveTables []string `json:"sensitive_tables"`
	// Weights overrides signal weights by signal name (0-100); 0 turns a
	// signal off.
	Weights map[string]int `json:"weights"`
}

// Policy is the analyzer policy. Configure must not run concurrently with
// Evaluate; Evaluate is safe for concurrent use.
type Policy struct {
	reviewAt, blockAt, bonus int
	weights                  [numSignals]int
	sensitive                []table
	pool                     sync.Pool // *scratch
}

var _ sdk.Policy = (*Policy)(nil)

// table is one configured sensitive table.
type table struct {
	schema, name string // lowercase; schema may be empty
}

// New returns an analyzer with the default configuration.
func New() *Policy {
	p := &Policy{}
	if err := p.Configure(nil); err != nil {
		panic(err) // the defaults are valid
	}
	return p
}

// Configure replaces the configuration with config (JSON, see Config). An
// empty config means the defaults.
func (p *Policy) Configure(config []byte) error {
	var c Config
	if len(bytes.TrimSpace(config)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(config))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			return fmt.Errorf("decode analyzer config: %w", err)
		}
		if dec.More() {
			return errors.New("decode analyzer config: trailing data after the JSON object")
		}
	}
	reviewAt, blockAt, bonus := DefaultReviewAt, DefaultBlockAt, DefaultBonus
	if c.ReviewAt != nil {
		reviewAt = *c.ReviewAt
	}
	if c.BlockAt != nil {
		blockAt = *c.BlockAt
	}
	if c.Bonus != nil {
		bonus = *c.Bonus
	}
	if reviewAt < 0 || reviewAt > maxLevel {
		return fmt.Errorf("configure analyzer: review_at %d: want 0-%d", reviewAt, maxLevel)
	}
	if blockAt < 0 || blockAt > maxLevel {
		return fmt.Errorf("configure analyzer: block_at %d: want 0-%d", blockAt, maxLevel)
	}
	if blockAt < reviewAt {
		return fmt.Errorf("configure analyzer: block_at %d is below review_at %d", blockAt, reviewAt)
	}
	if bonus < 0 || bonus > 100 {
		return fmt.Errorf("configure analyzer: bonus %d: want 0-100", bonus)
	}
	var weights [numSignals]int
	for s := range numSignals {
		weights[s] = signals[s].weight
	}
	for name, w := range c.Weights {
		s, ok := signalByName(name)
		if !ok {
			return fmt.Errorf("configure analyzer: weights: unknown signal %q", name)
		}
		if w < 0 || w > 100 {
			return fmt.Errorf("configure analyzer: weights: %q is %d: want 0-100", name, w)
		}
		weights[s] = w
	}
	sensitive := make([]table, 0, len(c.SensitiveTables))
	for _, name := range c.SensitiveTables {
		t, err := parseTable(name)
		if err != nil {
			return fmt.Errorf("configure analyzer: sensitive_tables: %w", err)
		}
		sensitive = append(sensitive, t)
	}
	p.reviewAt, p.blockAt, p.bonus = reviewAt, blockAt, bonus
	p.weights = weights
	p.sensitive = sensitive
	return nil
}

// parseTable reads "name" or "schema.name", each part a plain or quoted
// identifier.
func parseTable(s string) (table, error) {
	toks := sqltok.Tokenize(nil, sqltok.Postgres, s)
	ident := func(t sqltok.Token) bool { return t.Kind == sqltok.Word || t.Kind == sqltok.QuotedIdent }
	switch {
	case len(toks) == 1 && ident(toks[0]):
		return table{name: toks[0].Text}, nil
	case len(toks) == 3 && ident(toks[0]) && toks[1].IsPunct('.') && ident(toks[2]):
		return table{schema: toks[0].Text, name: toks[2].Text}, nil
	}
	return table{}, fmt.Errorf("%q: want a table name or schema.table", s)
}

// scratch is the per-call state, pooled.
type scratch struct {
	stmts []sqltok.Statement
	toks  []sqltok.Token
	code  []int
	found findings
	// whereScans counts whereClause calls, see maxWhereScans.
	whereScans int
}

// findings are the signals one Evaluate found, with what each one saw.
type findings struct {
	hit    [numSignals]bool
	detail [numSignals]string
	tables []string // sensitive tables touched, in order of first use
}

func (f *findings) add(s signal, detail string) {
	if !f.hit[s] {
		f.hit[s] = true
		f.detail[s] = detail
	}
}

// Evaluate scores in.Statement.Text: every statement of it, and the code
// strings they hold (DO and function bodies), add their signals to one set.
// Risk is the highest weight among the signals found plus Bonus for each
// further one, capped at 100; Rule is the signal with the highest weight.
func (p *Policy) Evaluate(in *sdk.Input) (sdk.Verdict, error) {
	sc, _ := p.pool.Get().(*scratch)
	if sc == nil {
		sc = new(scratch)
	}
	defer p.put(sc)
	sc.found = findings{tables: sc.found.tables[:0]}
	sc.whereScans = 0
	d := sqltok.DialectFor(in.Protocol)
	sc.stmts, sc.toks = sqltok.Split(sc.stmts[:0], sc.toks, d, in.Statement.Text)
	if len(sc.stmts) > 1 {
		sc.found.add(sigMultiStatement, strconv.Itoa(len(sc.stmts))+" statements")
	}
	for _, st := range sc.stmts {
		p.inspect(st.Tokens, d, sc, 0)
	}
	return p.score(&sc.found), nil
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
	if cap(sc.toks) > keepTokens || cap(sc.stmts) > keepStatements {
		sc.toks, sc.stmts = nil, nil
		heap.Compact()
	}
	p.pool.Put(sc)
}

// score combines the findings into a verdict.
func (p *Policy) score(f *findings) sdk.Verdict {
	top, n := -1, 0
	for s := range numSignals {
		if !f.hit[s] || p.weights[s] == 0 {
			continue
		}
		n++
		if top < 0 || p.weights[s] > p.weights[top] {
			top = int(s)
		}
	}
	if top < 0 {
		return p.verdict(0, "", "no risk signals")
	}
	risk := min(p.weights[top]+p.bonus*(n-1), 100)
	var b strings.Builder
	b.WriteString("risk ")
	b.WriteString(strconv.Itoa(risk))
	b.WriteString(": ")
	p.describe(&b, f, signal(top), "")
	for s := range numSignals {
		if f.hit[s] && p.weights[s] > 0 && int(s) != top {
			b.WriteString("; ")
			p.describe(&b, f, s, "+")
		}
	}
	return p.verdict(risk, signals[top].name, b.String())
}

// describe writes one signal as `name (weight): what, detail`.
func (p *Policy) describe(b *strings.Builder, f *findings, s signal, sign string) {
	b.WriteString(signals[s].name)
	b.WriteString(" (")
	b.WriteString(sign)
	if sign != "" {
		b.WriteString(strconv.Itoa(p.bonus))
	} else {
		b.WriteString(strconv.Itoa(p.weights[s]))
	}
	b.WriteString("): ")
	b.WriteString(signals[s].what)
	if s == sigSensitiveTable || s == sigSensitiveSelect {
		b.WriteString(" (")
		b.WriteString(strings.Join(f.tables, ", "))
		b.WriteString(")")
	} else if f.detail[s] != "" {
		b.WriteString(" (")
		b.WriteString(f.detail[s])
		b.WriteString(")")
	}
}

func (p *Policy) verdict(risk int, rule, reason string) sdk.Verdict {
	v := sdk.Verdict{Decision: sdk.Allow, Risk: risk, Rule: rule, Reason: reason}
	switch {
	case risk >= p.blockAt:
		v.Decision = sdk.Block
	case risk >= p.reviewAt:
		v.Decision = sdk.Review
	}
	return v
}
