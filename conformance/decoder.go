package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"

	"hoop.dev/hoop/core/wasmhost"
	"hoop.dev/hoop/sdk"
)

// runner carries one run's state between checks.
type runner struct {
	ctx  context.Context
	h    *wasmhost.Host
	p    *wasmhost.Plugin
	wasm []byte
	opt  Options
	fsys fs.FS
	rep  *Report
}

// EventTypes are the event types of ABI v1.
var EventTypes = map[string]bool{
	"startup": true, "auth": true, "statement": true, "parse": true, "bind": true, "execute": true,
	"result": true, "error": true, "notice": true, "copy": true, "terminate": true, "other": true,
}

// CheckEvents reports the first line of out that is not an ABI v1 event.
func CheckEvents(out []byte) error {
	for n, line := range bytes.SplitAfter(out, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if line[len(line)-1] != '\n' {
			return fmt.Errorf("event line %d does not end in a newline: %.120q", n+1, line)
		}
		var ev struct {
			Dir  *string `json:"dir"`
			Type *string `json:"type"`
		}
		if err := json.Unmarshal(line, &ev); err != nil {
			return fmt.Errorf("event line %d is not a JSON object: %v: %.120q", n+1, err, line)
		}
		if ev.Dir == nil || (*ev.Dir != "c2s" && *ev.Dir != "s2c") {
			return fmt.Errorf("event line %d: dir must be \"c2s\" or \"s2c\": %.120q", n+1, line)
		}
		if ev.Type == nil || !EventTypes[*ev.Type] {
			return fmt.Errorf("event line %d: unknown type: %.120q", n+1, line)
		}
	}
	return nil
}

type capture struct {
	name   string
	frames []Frame
}

var synthetic = capture{name: "synthetic", frames: []Frame{
	{sdk.C2S, []byte("hello\n")}, {sdk.S2C, []byte("world\n")},
	{sdk.C2S, []byte("SELECT 1;\n")}, {sdk.S2C, []byte("1 row\n")},
}}

// feed runs frames through a fresh stream, cutting each frame into pieces
// of the sizes cut returns (nil: one feed per frame), and returns the
// concatenated events or the first error.
func (r *runner) feed(frames []Frame, cut func(rest int) int) ([]byte, error) {
	st, err := r.p.Open(r.ctx, nil)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var all []byte
	for _, f := range frames {
		data := f.Data
		for first := true; first || len(data) > 0; first = false {
			n := len(data)
			if cut != nil && n > 0 {
				n = min(max(cut(n), 1), n)
			}
			out, err := st.Feed(r.ctx, f.Dir, data[:n])
			if err != nil {
				return all, err
			}
			all = append(all, out...)
			data = data[n:]
		}
	}
	return all, nil
}

// merge joins consecutive frames of the same direction, as one large read
// of the relay would deliver them.
func merge(frames []Frame) []Frame {
	var out []Frame
	for _, f := range frames {
		if n := len(out); n > 0 && out[n-1].Dir == f.Dir {
			out[n-1].Data = append(out[n-1].Data, f.Data...)
			continue
		}
		out = append(out, Frame{f.Dir, bytes.Clone(f.Data)})
	}
	return out
}

func (r *runner) decoder() error {
	m := r.p.Manifest()
	byProto := map[string][]DecoderCase{}
	var caps []capture
	for _, proto := range m.Protocols {
		cs, err := LoadDecoderCases(r.fsys, proto)
		if err != nil {
			return err
		}
		byProto[proto] = cs
		for _, c := range cs {
			caps = append(caps, capture{c.Name, c.Frames})
		}
	}
	if len(caps) == 0 {
		caps = []capture{synthetic}
	}

	// Determinism and event schema, one pass.
	refs := make([][]byte, len(caps))
	ok := make([]bool, len(caps))
	var detErr, schemaErr error
	for i, c := range caps {
		a, errA := r.feed(c.frames, nil)
		b, errB := r.feed(c.frames, nil)
		refs[i], ok[i] = a, errA == nil
		switch {
		case errors.Is(errA, wasmhost.ErrFault):
			detErr = fmt.Errorf("capture %s: %w", c.name, errA)
		case !bytes.Equal(a, b) || fmt.Sprint(errA) != fmt.Sprint(errB):
			detErr = fmt.Errorf("capture %s: two fresh streams disagree (%d vs %d bytes of events, errors %v / %v)", c.name, len(a), len(b), errA, errB)
		}
		if err := CheckEvents(a); err != nil && schemaErr == nil {
			schemaErr = fmt.Errorf("capture %s: %w", c.name, err)
		}
		if detErr != nil {
			break
		}
	}
	r.rep.add("determinism", detErr)
	r.rep.add("event-schema", schemaErr)

	r.split(caps, refs, ok)
	r.robustness(caps)
	var valid []capture
	for i, c := range caps {
		if ok[i] {
			valid = append(valid, c)
		}
	}
	r.decoderMemory(valid)

	for _, proto := range m.Protocols {
		name := "cases/" + proto
		cs := byProto[proto]
		if len(cs) == 0 {
			r.rep.skip(name, "no cases for protocol "+proto)
			continue
		}
		r.rep.add(name, r.decoderCases(cs))
	}
	return nil
}

func (r *runner) split(caps []capture, refs [][]byte, ok []bool) {
	rng := rand.New(rand.NewPCG(r.opt.Seed, 1))
	ways := []struct {
		name string
		prep func([]Frame) []Frame
		cut  func(int) int
	}{
		{"one piece per direction run", merge, nil},
		{"1-byte pieces", nil, func(int) int { return 1 }},
		{"random pieces", nil, func(n int) int { return 1 + rng.IntN(min(n, 64)) }},
		{"random pieces of merged runs", merge, func(n int) int { return 1 + rng.IntN(min(n, 512)) }},
	}
	checked := 0
	for i, c := range caps {
		if !ok[i] {
			continue
		}
		checked++
		for _, w := range ways {
			frames := c.frames
			if w.prep != nil {
				frames = w.prep(frames)
			}
			got, err := r.feed(frames, w.cut)
			if err == nil && !bytes.Equal(got, refs[i]) {
				err = fmt.Errorf("events differ at byte %d of %d", firstDiff(got, refs[i]), len(refs[i]))
			}
			if err != nil {
				r.rep.add("split-invariance", fmt.Errorf("capture %s, %s: %w", c.name, w.name, err))
				return
			}
		}
	}
	if checked == 0 {
		r.rep.add("split-invariance", errors.New("no capture decoded without an error, so nothing could be split"))
		return
	}
	r.rep.add("split-invariance", nil)
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func (r *runner) robustness(caps []capture) {
	rng := rand.New(rand.NewPCG(r.opt.Seed, 2))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	var inputs []capture
	for i := range 40 {
		var frs []Frame
		for range 1 + rng.IntN(8) {
			frs = append(frs, Frame{sdk.Dir(rng.IntN(2)), random(rng.IntN(2048))})
		}
		inputs = append(inputs, capture{fmt.Sprintf("random #%d", i), frs})
	}
	inputs = append(inputs,
		capture{"1 MiB of random bytes in 64 KiB reads", bigRandom(random)},
		capture{"64 KiB of zeros", []Frame{{sdk.C2S, make([]byte, 64<<10)}}},
		capture{"64 KiB of 0xff", []Frame{{sdk.S2C, bytes.Repeat([]byte{0xff}, 64<<10)}}},
	)
	for _, c := range caps {
		for cut := range len(c.frames) {
			frs := append([]Frame(nil), c.frames[:cut+1]...)
			last := frs[cut]
			frs[cut] = Frame{last.Dir, last.Data[:len(last.Data)/2]}
			inputs = append(inputs, capture{fmt.Sprintf("%s truncated in frame %d", c.name, cut+1), frs})
		}
		for k := range 8 {
			frs := make([]Frame, len(c.frames))
			for j, f := range c.frames {
				frs[j] = Frame{f.Dir, bytes.Clone(f.Data)}
			}
			for range 1 + rng.IntN(8) {
				f := frs[rng.IntN(len(frs))]
				if len(f.Data) > 0 {
					f.Data[rng.IntN(len(f.Data))] = byte(rng.Uint32())
				}
			}
			inputs = append(inputs, capture{fmt.Sprintf("%s mutated #%d", c.name, k), frs})
		}
	}
	for _, in := range inputs {
		out, err := r.feed(in.frames, nil)
		if errors.Is(err, wasmhost.ErrFault) {
			r.rep.add("robustness", fmt.Errorf("%s: %w", in.name, err))
			return
		}
		var pe *wasmhost.PluginError
		if err != nil && !errors.As(err, &pe) {
			r.rep.add("robustness", fmt.Errorf("%s: %w", in.name, err))
			return
		}
		if err := CheckEvents(out); err != nil {
			r.rep.add("robustness", fmt.Errorf("%s: %w", in.name, err))
			return
		}
	}
	r.rep.add("robustness", nil)
}

func bigRandom(random func(int) []byte) []Frame {
	frs := make([]Frame, 16)
	for i := range frs {
		frs[i] = Frame{sdk.C2S, random(64 << 10)}
	}
	return frs
}

// memoryGrowthLimit is how much an instance may grow between the first
// tenth of the memory check and its end.
const memoryGrowthLimit = 16 << 20

func (r *runner) decoderMemory(valid []capture) {
	rng := rand.New(rand.NewPCG(r.opt.Seed, 3))
	n := r.opt.MemoryFeeds
	before := r.p.Stats()
	var mid uint32
	st, err := r.p.Open(r.ctx, nil)
	if err != nil {
		r.rep.add("memory-bounded", err)
		return
	}
	defer func() { st.Close() }()
	chunk := make([]byte, 64)
	for i, ci, fi := 0, 0, 0; i < n; i++ {
		if i == n/10 {
			mid = r.p.Stats().MemoryBytes
		}
		var dir sdk.Dir
		var data []byte
		if len(valid) == 0 {
			for j := range chunk {
				chunk[j] = byte(rng.Uint32())
			}
			dir, data = sdk.Dir(rng.IntN(2)), chunk
		} else {
			f := valid[ci].frames[fi]
			dir, data = f.Dir, f.Data
		}
		_, err := st.Feed(r.ctx, dir, data)
		if errors.Is(err, wasmhost.ErrFault) || (err != nil && len(valid) > 0) {
			r.rep.add("memory-bounded", fmt.Errorf("feed %d: %w", i+1, err))
			return
		}
		next := err != nil
		if len(valid) > 0 {
			if fi++; fi == len(valid[ci].frames) {
				fi, ci, next = 0, (ci+1)%len(valid), true
			}
		}
		if next { // a capture ended, or random input was refused: new stream
			st.Close()
			if st, err = r.p.Open(r.ctx, nil); err != nil {
				r.rep.add("memory-bounded", err)
				return
			}
		}
	}
	after := r.p.Stats()
	end := after.MemoryBytes
	switch {
	case after.Faults > before.Faults:
		r.rep.add("memory-bounded", fmt.Errorf("%d fault(s) during %d feeds", after.Faults-before.Faults, n))
	case after.Recycles > before.Recycles:
		r.rep.add("memory-bounded", fmt.Errorf("the instance outgrew half the memory cap during %d feeds", n))
	case end > mid+memoryGrowthLimit:
		r.rep.add("memory-bounded", fmt.Errorf("memory grew from %d to %d bytes between feed %d and feed %d", mid, end, n/10, n))
	default:
		r.rep.Checks = append(r.rep.Checks, Check{Name: "memory-bounded", Pass: true,
			Detail: fmt.Sprintf("%d feeds; linear memory %d bytes after %d, %d at the end", n, mid, n/10, end)})
	}
}

func (r *runner) decoderCases(cs []DecoderCase) error {
	for _, c := range cs {
		frames := make([]Frame, len(c.Frames))
		copy(frames, c.Frames)
		got, err := r.feed(frames, nil)
		if err != nil {
			return fmt.Errorf("case %s: %w", c.Name, err)
		}
		if !bytes.Equal(got, c.Events) {
			gl, wl := bytes.SplitAfter(got, []byte("\n")), bytes.SplitAfter(c.Events, []byte("\n"))
			for i := range max(len(gl), len(wl)) {
				var g, w []byte
				if i < len(gl) {
					g = gl[i]
				}
				if i < len(wl) {
					w = wl[i]
				}
				if !bytes.Equal(g, w) {
					return fmt.Errorf("case %s: event line %d: got %.200q, want %.200q", c.Name, i+1, g, w)
				}
			}
		}
	}
	return nil
}
