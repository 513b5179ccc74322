package wasmhost

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"

	"hoop.dev/hoop/sdk"
)

// Plugin is one loaded module and its pool of instances. Its methods are safe
// for concurrent use.
type Plugin struct {
	h        *Host
	cm       wazero.CompiledModule
	manifest sdk.Manifest
	digest   string
	faults   atomic.Int64
	recycles atomic.Int64

	mu        sync.Mutex
	insts     []*instance // live instances, at most PoolSize
	starting  int         // instances being created
	next      int         // round robin for policy calls
	closed    bool
	config    []byte // policy config, applied to every instance
	configGen uint64
}

// Manifest returns the plugin's validated manifest.
func (p *Plugin) Manifest() sdk.Manifest { return p.manifest }

// Digest returns the hex SHA-256 of the module bytes.
func (p *Plugin) Digest() string { return p.digest }

// Faults counts the traps, timeouts and memory exhaustions so far.
func (p *Plugin) Faults() int64 { return p.faults.Load() }

// Stats is a snapshot of a plugin's pool.
type Stats struct {
	Instances   int    // live instances
	Streams     int    // open decoder streams pinned to live instances
	Faults      int64  // as Faults
	Recycles    int64  // instances retired because their memory grew past half the cap
	MemoryBytes uint32 // the largest live instance's linear memory
}

// Stats returns a snapshot of the pool.
func (p *Plugin) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := Stats{Instances: len(p.insts), Faults: p.faults.Load(), Recycles: p.recycles.Load()}
	for _, inst := range p.insts {
		st.Streams += inst.streams
		st.MemoryBytes = max(st.MemoryBytes, inst.mem.Load())
	}
	return st
}

// Close stops every instance; later calls fail.
func (p *Plugin) Close(ctx context.Context) {
	p.mu.Lock()
	insts := p.insts
	p.insts, p.closed = nil, true
	p.mu.Unlock()
	for _, inst := range insts {
		inst.close()
	}
	_ = p.cm.Close(ctx)
	p.h.mu.Lock()
	delete(p.h.plugins, p)
	p.h.mu.Unlock()
}

func (p *Plugin) remove(inst *instance) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, x := range p.insts {
		if x == inst {
			p.insts = append(p.insts[:i], p.insts[i+1:]...)
			return
		}
	}
}

// recycleThreshold is the memory size past which an idle instance is
// replaced: Go guests never return heap to the host.
func (p *Plugin) recycleThreshold() uint32 {
	return p.h.lim.MemoryPages * 65536 / 2
}

// retireIfLarge closes inst when it is idle (no pinned streams; the caller
// holds inst.mu or owns it otherwise) and its memory is past the threshold.
func (p *Plugin) retireIfLarge(inst *instance) {
	size := inst.memorySize()
	if inst.dead.Load() || size <= p.recycleThreshold() {
		return
	}
	p.mu.Lock()
	if inst.streams > 0 {
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	p.remove(inst)
	inst.close()
	p.recycles.Add(1)
	p.h.log.Info("plugin instance recycled", "plugin", p.manifest.Name, "memory_bytes", size)
}

// grow starts a new instance when the pool has room, or reports false.
// The caller holds p.mu; grow releases and retakes it.
func (p *Plugin) grow(ctx context.Context) (*instance, bool, error) {
	if len(p.insts)+p.starting >= p.h.lim.PoolSize {
		return nil, false, nil
	}
	p.starting++
	p.mu.Unlock()
	inst, err := p.newInstance(ctx)
	p.mu.Lock()
	p.starting--
	if err != nil {
		return nil, true, err
	}
	if p.closed {
		inst.close()
		return nil, true, fmt.Errorf("plugin %s: closed", p.manifest.Name)
	}
	p.insts = append(p.insts, inst)
	return inst, true, nil
}

// waitForRoom sleeps briefly while every pool slot is being created.
func waitForRoom(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Millisecond):
		return nil
	}
}

// acquireIdle returns a locked instance for one policy call: an idle one, a
// new one while the pool has room, else the next in turn once it is free.
func (p *Plugin) acquireIdle(ctx context.Context) (*instance, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, fmt.Errorf("plugin %s: closed", p.manifest.Name)
		}
		for _, inst := range p.insts {
			if inst.mu.TryLock() {
				p.mu.Unlock()
				return inst, nil
			}
		}
		inst, grew, err := p.grow(ctx)
		if grew {
			p.mu.Unlock()
			if err != nil {
				return nil, err
			}
			inst.mu.Lock()
			return inst, nil
		}
		if len(p.insts) == 0 {
			p.mu.Unlock()
			if err := waitForRoom(ctx); err != nil {
				return nil, err
			}
			continue
		}
		inst = p.insts[p.next%len(p.insts)]
		p.next++
		p.mu.Unlock()
		inst.mu.Lock()
		if !inst.dead.Load() {
			return inst, nil
		}
		inst.mu.Unlock()
	}
}

// pin chooses the instance a new stream lives on: the least loaded, or a
// new one while the pool has room and every instance already has streams.
func (p *Plugin) pin(ctx context.Context) (*instance, error) {
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, fmt.Errorf("plugin %s: closed", p.manifest.Name)
		}
		var best *instance
		for _, inst := range p.insts {
			if best == nil || inst.streams < best.streams {
				best = inst
			}
		}
		if best == nil || best.streams > 0 {
			inst, grew, err := p.grow(ctx)
			if grew {
				if err != nil {
					p.mu.Unlock()
					return nil, err
				}
				best = inst
			}
		}
		if best == nil {
			p.mu.Unlock()
			if err := waitForRoom(ctx); err != nil {
				return nil, err
			}
			continue
		}
		best.streams++
		p.mu.Unlock()
		return best, nil
	}
}

func (p *Plugin) unpin(inst *instance) {
	p.mu.Lock()
	inst.streams--
	p.mu.Unlock()
}

func (p *Plugin) deadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, p.h.lim.CallTimeout)
}
