package wasmhost

import (
	"bytes"
	"context"
	"fmt"
	"sync"

	"hoop.dev/hoop/sdk"
)

// Stream is one decoder stream, pinned to one instance. If that instance
// dies (this stream's call or another's faulted), the next Feed returns an
// error wrapping ErrFault, and the Feed after it reopens the stream on a
// fresh instance with the same config: only partial buffered input is lost.
type Stream struct {
	p   *Plugin
	cfg []byte

	mu     sync.Mutex
	inst   *instance // nil: reopen on the next Feed
	id     int32
	closed bool
}

// Open starts a decoder stream with an optional JSON config.
func (p *Plugin) Open(ctx context.Context, config []byte) (*Stream, error) {
	if p.manifest.Kind != sdk.KindDecoder {
		return nil, fmt.Errorf("open stream: plugin %s is a %s, not a decoder", p.manifest.Name, p.manifest.Kind)
	}
	s := &Stream{p: p, cfg: bytes.Clone(config)}
	if err := s.attach(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Stream) attach(ctx context.Context) error {
	inst, err := s.p.pin(ctx)
	if err != nil {
		return fmt.Errorf("open stream: %w", err)
	}
	inst.mu.Lock()
	defer inst.mu.Unlock()
	if inst.dead.Load() {
		s.p.unpin(inst)
		return fmt.Errorf("open stream: %w: plugin %s: instance died while opening", ErrFault, s.p.manifest.Name)
	}
	cctx, cancel := s.p.deadline(ctx)
	defer cancel()
	n, err := s.p.writeInput(cctx, inst, "open", s.cfg)
	var id uint64
	if err == nil {
		id, err = s.p.call(cctx, inst, "open", inst.fnOpen, n)
	}
	if err == nil && int32(id) <= 0 {
		err = s.p.pluginError(cctx, inst, "open")
	}
	if err != nil {
		s.p.unpin(inst)
		return fmt.Errorf("open stream: %w", err)
	}
	s.inst, s.id = inst, int32(id)
	return nil
}

// Feed gives the stream bytes relayed in direction dir and returns the
// events they completed, as JSON Lines (possibly empty). The result is a
// copy the caller owns.
func (s *Stream) Feed(ctx context.Context, dir sdk.Dir, data []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, fmt.Errorf("feed: stream of plugin %s is closed", s.p.manifest.Name)
	}
	if s.inst == nil {
		if err := s.attach(ctx); err != nil {
			return nil, err
		}
	}
	inst := s.inst
	inst.mu.Lock()
	defer inst.mu.Unlock()
	if inst.dead.Load() {
		s.detach()
		return nil, fmt.Errorf("feed: %w: plugin %s: the stream's instance died; its state was reset", ErrFault, s.p.manifest.Name)
	}
	cctx, cancel := s.p.deadline(ctx)
	defer cancel()
	n, err := s.p.writeInput(cctx, inst, "feed", data)
	if err != nil {
		s.detachIfDead()
		return nil, err
	}
	out, err := s.p.callPacked(cctx, inst, "feed", inst.fnFeed, uint64(uint32(s.id)), uint64(uint32(dir)), n)
	if err != nil {
		s.detachIfDead()
		return nil, err
	}
	return out, nil
}

func (s *Stream) detach() {
	s.p.unpin(s.inst)
	s.inst = nil
}

func (s *Stream) detachIfDead() {
	if s.inst.dead.Load() {
		s.detach()
	}
}

// MemorySize returns the linear memory size in bytes of the stream's
// instance (0 while it has none).
func (s *Stream) MemorySize() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inst == nil || s.inst.dead.Load() {
		return 0
	}
	return s.inst.memorySize()
}

// Close ends the stream in the guest. An idle instance whose memory grew
// past half the cap is recycled then.
func (s *Stream) Close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	inst := s.inst
	if inst == nil {
		return
	}
	inst.mu.Lock()
	defer inst.mu.Unlock()
	if !inst.dead.Load() {
		ctx, cancel := s.p.deadline(context.Background())
		_, _ = s.p.call(ctx, inst, "close", inst.fnClose, uint64(uint32(s.id)))
		cancel()
	}
	s.detach()
	s.p.retireIfLarge(inst)
}
