package wasmhost

import (
	"bytes"
	"context"
	"fmt"

	"hoop.dev/hoop/sdk"
)

// Configure gives the policy its JSON config. It is applied to one instance
// now (so a rejected config is reported here), remembered, and applied to
// every other and every new instance before its next evaluation.
func (p *Plugin) Configure(ctx context.Context, config []byte) error {
	if p.manifest.Kind != sdk.KindPolicy {
		return fmt.Errorf("configure: plugin %s is a %s, not a policy", p.manifest.Name, p.manifest.Kind)
	}
	if len(config) == 0 {
		config = []byte("{}")
	}
	p.mu.Lock()
	p.config = bytes.Clone(config)
	p.configGen++
	p.mu.Unlock()
	inst, err := p.acquireIdle(ctx)
	if err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	defer inst.mu.Unlock()
	return p.ensureConfig(ctx, inst)
}

// ensureConfig applies the current config to inst if it has not yet.
func (p *Plugin) ensureConfig(ctx context.Context, inst *instance) error {
	p.mu.Lock()
	cfg, gen := p.config, p.configGen
	p.mu.Unlock()
	if inst.configGen == gen {
		return nil
	}
	cctx, cancel := p.deadline(ctx)
	defer cancel()
	n, err := p.writeInput(cctx, inst, "configure", cfg)
	var code uint64
	if err == nil {
		code, err = p.call(cctx, inst, "configure", inst.fnConfigure, n)
	}
	if err == nil && int32(code) != 0 {
		err = p.pluginError(cctx, inst, "configure")
	}
	if err != nil {
		return fmt.Errorf("configure: %w", err)
	}
	inst.configGen = gen
	return nil
}

// Evaluate runs the policy on one ABI v1 input JSON and returns the verdict
// JSON as the plugin wrote it (callers validate it with sdk.DecodeVerdict
// and Verdict.Validate). The result is a copy the caller owns.
func (p *Plugin) Evaluate(ctx context.Context, input []byte) ([]byte, error) {
	if p.manifest.Kind != sdk.KindPolicy {
		return nil, fmt.Errorf("evaluate: plugin %s is a %s, not a policy", p.manifest.Name, p.manifest.Kind)
	}
	inst, err := p.acquireIdle(ctx)
	if err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	defer inst.mu.Unlock()
	if err := p.ensureConfig(ctx, inst); err != nil {
		return nil, err
	}
	cctx, cancel := p.deadline(ctx)
	defer cancel()
	n, err := p.writeInput(cctx, inst, "evaluate", input)
	if err != nil {
		return nil, err
	}
	out, err := p.callPacked(cctx, inst, "evaluate", inst.fnEvaluate, n)
	if err != nil {
		return nil, err
	}
	p.retireIfLarge(inst)
	return out, nil
}
