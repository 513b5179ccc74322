package wasmhost

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
)

// instance is one sandboxed copy of a plugin. It runs one call at a time:
// callers hold mu for the whole call, including the input write.
type instance struct {
	mu    sync.Mutex
	mod   api.Module
	dead  atomic.Bool
	out   *guestOutput
	stack [4]uint64

	fnBuffer, fnManifest, fnError                    api.Function
	fnOpen, fnFeed, fnClose, fnConfigure, fnEvaluate api.Function

	mem       atomic.Uint32 // linear memory bytes after the last call
	streams   int           // streams pinned here; guarded by Plugin.mu
	configGen uint64        // which Plugin.config this instance has applied; guarded by mu
}

func (p *Plugin) newInstance(ctx context.Context) (*instance, error) {
	timeout := max(20*p.h.lim.CallTimeout, 5*time.Second)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := &guestOutput{log: p.h.log, plugin: &p.manifest.Name}
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions("_initialize").
		WithSysWalltime().
		WithSysNanotime().
		WithRandSource(rand.Reader).
		WithStdout(out).
		WithStderr(out)
	mod, err := p.h.rt.InstantiateModule(ctx, p.cm, cfg)
	if err != nil {
		p.faults.Add(1)
		return nil, fmt.Errorf("%w: instantiate: %v%s", ErrFault, err, out.tailNote())
	}
	inst := &instance{mod: mod, out: out}
	inst.mem.Store(inst.memorySize())
	inst.fnBuffer = mod.ExportedFunction("hoop_buffer")
	inst.fnManifest = mod.ExportedFunction("hoop_manifest")
	inst.fnError = mod.ExportedFunction("hoop_error")
	inst.fnOpen = mod.ExportedFunction("hoop_open")
	inst.fnFeed = mod.ExportedFunction("hoop_feed")
	inst.fnClose = mod.ExportedFunction("hoop_close")
	inst.fnConfigure = mod.ExportedFunction("hoop_configure")
	inst.fnEvaluate = mod.ExportedFunction("hoop_evaluate")
	return inst, nil
}

func (inst *instance) close() {
	inst.dead.Store(true)
	_ = inst.mod.Close(context.Background())
}

func (inst *instance) memorySize() uint32 {
	if mem := inst.mod.Memory(); mem != nil {
		return mem.Size()
	}
	return 0
}

// call runs fn with params; the caller holds inst.mu and gives a ctx with
// the call deadline. Any error is a fault: the instance is discarded.
func (p *Plugin) call(ctx context.Context, inst *instance, op string, fn api.Function, params ...uint64) (uint64, error) {
	if fn == nil {
		return 0, fmt.Errorf("%w: plugin %s does not export the function for %s", ErrABI, p.manifest.Name, op)
	}
	copy(inst.stack[:], params)
	inst.out.begin()
	if err := fn.CallWithStack(ctx, inst.stack[:]); err != nil {
		return 0, p.fault(ctx, inst, op, err)
	}
	inst.mem.Store(inst.memorySize())
	return inst.stack[0], nil
}

// writeInput puts data in the guest's buffer, returning its length.
func (p *Plugin) writeInput(ctx context.Context, inst *instance, op string, data []byte) (uint64, error) {
	if len(data) == 0 {
		return 0, nil
	}
	if uint64(len(data)) > uint64(p.h.lim.MemoryPages)*65536 {
		return 0, fmt.Errorf("%s: input of %d bytes exceeds the plugin memory cap", op, len(data))
	}
	ptr, err := p.call(ctx, inst, op, inst.fnBuffer, uint64(len(data)))
	if err != nil {
		return 0, err
	}
	if !inst.mod.Memory().Write(uint32(ptr), data) {
		return 0, p.fault(ctx, inst, op, fmt.Errorf("hoop_buffer(%d) returned %#x, outside memory", len(data), uint32(ptr)))
	}
	return uint64(len(data)), nil
}

// callPacked calls a function returning a packed i64 and copies the result
// out of guest memory; -1 becomes a *PluginError.
func (p *Plugin) callPacked(ctx context.Context, inst *instance, op string, fn api.Function, params ...uint64) ([]byte, error) {
	v, err := p.call(ctx, inst, op, fn, params...)
	if err != nil {
		return nil, err
	}
	if int64(v) == -1 {
		return nil, p.pluginError(ctx, inst, op)
	}
	return p.read(ctx, inst, op, v)
}

func (p *Plugin) read(ctx context.Context, inst *instance, op string, packed uint64) ([]byte, error) {
	ptr, n := uint32(packed>>32), uint32(packed)
	if n == 0 {
		return []byte{}, nil
	}
	view, ok := inst.mod.Memory().Read(ptr, n)
	if !ok {
		return nil, p.fault(ctx, inst, op, fmt.Errorf("result (%#x, %d) outside memory", ptr, n))
	}
	return bytes.Clone(view), nil
}

func (p *Plugin) pluginError(ctx context.Context, inst *instance, op string) error {
	v, err := p.call(ctx, inst, op, inst.fnError)
	if err != nil {
		return err
	}
	msg := "failed without a message"
	if int64(v) != -1 {
		b, err := p.read(ctx, inst, op, v)
		if err != nil {
			return err
		}
		if len(b) > 0 {
			msg = string(b)
		}
	}
	return &PluginError{Plugin: p.manifest.Name, Op: op, Message: msg}
}

// fault discards inst after err, counts and logs it, and returns the error
// the caller reports. A caller's own cancellation discards the instance too
// (wazero closed it) but is not the plugin's fault.
func (p *Plugin) fault(ctx context.Context, inst *instance, op string, err error) error {
	inst.close()
	p.remove(inst)
	kind := "trap"
	var exit *sys.ExitError
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		kind = "timeout"
	case ctx.Err() != nil:
		return fmt.Errorf("plugin %s: %s: %w", p.manifest.Name, op, ctx.Err())
	case inst.out.saw("out of memory"):
		kind = "oom"
	case errors.As(err, &exit):
		kind = "exit"
	}
	p.faults.Add(1)
	p.h.log.Warn("plugin fault", "plugin", p.manifest.Name, "op", op, "kind", kind, "err", err.Error(), "output", inst.out.tail())
	return fmt.Errorf("%w: plugin %s: %s: %s: %v%s", ErrFault, p.manifest.Name, op, kind, err, inst.out.tailNote())
}

// guestOutput logs a guest's stdout and stderr line by line, up to a bound
// per instance, and keeps the last bytes for fault reports.
type guestOutput struct {
	log    *slog.Logger
	plugin *string

	mu      sync.Mutex
	line    []byte
	call    []byte // the first bytes written during the current call
	logged  int
	dropped bool
}

const (
	maxGuestLog  = 64 << 10
	maxGuestLine = 1 << 10
	maxCallOut   = 2 << 10
)

func (g *guestOutput) Write(b []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if room := maxCallOut - len(g.call); room > 0 {
		g.call = append(g.call, b[:min(room, len(b))]...)
	}
	for _, c := range b {
		if c == '\n' || len(g.line) >= maxGuestLine {
			g.emit()
			if c == '\n' {
				continue
			}
		}
		g.line = append(g.line, c)
	}
	return len(b), nil
}

func (g *guestOutput) emit() {
	switch {
	case g.logged+len(g.line) <= maxGuestLog:
		g.logged += len(g.line)
		g.log.Debug("plugin output", "plugin", *g.plugin, "line", string(g.line))
	case !g.dropped:
		g.dropped = true
		g.log.Warn("plugin output truncated", "plugin", *g.plugin, "limit_bytes", maxGuestLog)
	}
	g.line = g.line[:0]
}

// begin starts a call: what the guest writes from now on is what a fault
// report quotes.
func (g *guestOutput) begin() {
	g.mu.Lock()
	g.call = g.call[:0]
	g.mu.Unlock()
}

func (g *guestOutput) saw(s string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return bytes.Contains(g.call, []byte(s))
}

func (g *guestOutput) tail() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return string(g.call)
}

// tailNote is the first non-empty line the guest wrote during the failed
// call (Go's runtime puts the reason there, before goroutine dumps).
func (g *guestOutput) tailNote() string {
	for line := range bytes.Lines([]byte(g.tail())) {
		if l := bytes.TrimSpace(line); len(l) > 0 {
			return " (guest output: " + string(l) + ")"
		}
	}
	return ""
}
