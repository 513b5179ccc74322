package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"hoop.dev/hoop/core/config"
	"hoop.dev/hoop/core/wasmhost"
	pgdecoder "hoop.dev/hoop/decoders/postgres"
	"hoop.dev/hoop/sdk"
)

// corpusGlob is the conformance capture corpus.
const corpusGlob = "conformance/cases/postgres/*.frames.jsonl"

// benchQuery is a typical ~100-byte statement.
const benchQuery = "select id, name, email from users where id = 42 and tenant = 'acme' order by created_at desc limit 1"

// decoderResult holds the decoder figures.
type decoderResult struct {
	Limits       wasmhost.Limits
	QueryBytes   int
	Calls        int
	SandboxP50   time.Duration
	SandboxP99   time.Duration
	NativeP50    time.Duration
	NativeP99    time.Duration
	CorpusBytes  int64
	CorpusFrames int
	SandboxMBps  float64
	NativeMBps   float64
}

type capture struct {
	name   string
	frames []capFrame
}

type capFrame struct {
	dir sdk.Dir
	b   []byte
}

func loadCaptures() ([]capture, error) {
	paths, err := filepath.Glob(corpusGlob)
	if err != nil || len(paths) == 0 {
		return nil, fmt.Errorf("no capture corpus at %s (run from the repository root): %v", corpusGlob, err)
	}
	sort.Strings(paths)
	var cs []capture
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		c := capture{name: strings.TrimSuffix(filepath.Base(p), ".frames.jsonl")}
		sc := bufio.NewScanner(f)
		sc.Buffer(nil, 16<<20)
		for sc.Scan() {
			var l struct{ Dir, Hex string }
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				f.Close()
				return nil, fmt.Errorf("parse %s: %w", p, err)
			}
			b, err := hex.DecodeString(l.Hex)
			if err != nil {
				f.Close()
				return nil, fmt.Errorf("parse %s: %w", p, err)
			}
			d := sdk.C2S
			if l.Dir == "s2c" {
				d = sdk.S2C
			}
			c.frames = append(c.frames, capFrame{d, b})
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// feeder is what the sandboxed and the native stream have in common.
type feeder interface {
	feed(dir sdk.Dir, b []byte) error
	close()
}

type sandboxed struct {
	ctx context.Context
	s   *wasmhost.Stream
}

func (s sandboxed) feed(d sdk.Dir, b []byte) error {
	_, err := s.s.Feed(s.ctx, d, b)
	return err
}
func (s sandboxed) close() { s.s.Close() }

type native struct {
	s   sdk.Stream
	out []byte
}

func (n *native) feed(d sdk.Dir, b []byte) error {
	var err error
	n.out, err = n.s.Feed(d, b, n.out[:0])
	return err
}
func (n *native) close() { n.s.Close() }

func pgMessage(typ byte, body []byte) []byte {
	m := make([]byte, 5, 5+len(body))
	m[0] = typ
	binary.BigEndian.PutUint32(m[1:], uint32(4+len(body)))
	return append(m, body...)
}

func startupMessage() []byte {
	body := []byte("user\x00bench\x00database\x00app\x00\x00")
	m := make([]byte, 8, 8+len(body))
	binary.BigEndian.PutUint32(m, uint32(8+len(body)))
	binary.BigEndian.PutUint32(m[4:], 3<<16)
	return append(m, body...)
}

// perCall times n Feeds of msg one by one and returns the sorted times.
func perCall(f feeder, msg []byte, n int) ([]time.Duration, error) {
	ts := make([]time.Duration, n)
	for i := range ts {
		t0 := time.Now()
		if err := f.feed(sdk.C2S, msg); err != nil {
			return nil, err
		}
		ts[i] = time.Since(t0)
	}
	slices.Sort(ts)
	return ts, nil
}

// throughput feeds the whole corpus (a new stream per capture, one Feed per
// frame) repeatedly for at least d and returns MB/s.
func throughput(open func() (feeder, error), cs []capture, total int64, d time.Duration) (float64, error) {
	var bytes int64
	t0 := time.Now()
	for time.Since(t0) < d {
		for _, c := range cs {
			f, err := open()
			if err != nil {
				return 0, err
			}
			for _, fr := range c.frames {
				// Decoder errors on captured garbage are part of the corpus
				// (malformed cases); only faults of the sandbox matter.
				if err := f.feed(fr.dir, fr.b); err != nil && errorsIsFault(err) {
					f.close()
					return 0, err
				}
			}
			f.close()
		}
		bytes += total
	}
	return float64(bytes) / 1e6 / time.Since(t0).Seconds(), nil
}

func errorsIsFault(err error) bool { return errors.Is(err, wasmhost.ErrFault) }

func quantile(ts []time.Duration, q float64) time.Duration {
	return ts[min(len(ts)-1, int(q*float64(len(ts))))]
}

// benchDecoder measures the PostgreSQL decoder plugin in the sandbox with
// the gateway's default limits (memory cap, per-call deadline with
// close-on-context-done, pool) and the same Go code natively.
func benchDecoder(ctx context.Context, o options) (*decoderResult, error) {
	module, err := os.ReadFile(o.wasm)
	if err != nil {
		return nil, fmt.Errorf("read decoder plugin (make build makes it): %w", err)
	}
	cs, err := loadCaptures()
	if err != nil {
		return nil, err
	}
	def := config.Default().Plugins
	lim := wasmhost.Limits{MemoryPages: uint32(def.MemoryLimitMB) * 16, CallTimeout: def.CallTimeout.Duration, PoolSize: def.PoolSize}
	host, err := wasmhost.New(ctx, filepath.Join(os.TempDir(), "hoop-bench-wasm-cache"), lim, nil)
	if err != nil {
		return nil, err
	}
	defer host.Close(context.Background())
	plugin, err := host.Load(ctx, module)
	if err != nil {
		return nil, err
	}
	openSandboxed := func() (feeder, error) {
		s, err := plugin.Open(ctx, nil)
		if err != nil {
			return nil, err
		}
		return sandboxed{ctx, s}, nil
	}
	openNative := func() (feeder, error) {
		s, err := pgdecoder.New().Open(nil)
		if err != nil {
			return nil, err
		}
		return &native{s: s, out: make([]byte, 0, 64<<10)}, nil
	}

	r := &decoderResult{Limits: host.Limits(), Calls: 200000}
	span := 3 * time.Second
	if o.duration < 10*time.Second {
		r.Calls, span = 20000, 500*time.Millisecond
	}
	q := pgMessage('Q', append([]byte(benchQuery), 0))
	r.QueryBytes = len(q)
	for _, c := range cs {
		r.CorpusFrames += len(c.frames)
		for _, f := range c.frames {
			r.CorpusBytes += int64(len(f.b))
		}
	}
	slog.Info("decoder scenario", "query_bytes", r.QueryBytes, "calls", r.Calls, "corpus_bytes", r.CorpusBytes, "corpus_frames", r.CorpusFrames)

	for _, side := range []struct {
		open     func() (feeder, error)
		p50, p99 *time.Duration
		mbps     *float64
	}{
		{openSandboxed, &r.SandboxP50, &r.SandboxP99, &r.SandboxMBps},
		{openNative, &r.NativeP50, &r.NativeP99, &r.NativeMBps},
	} {
		f, err := side.open()
		if err != nil {
			return nil, err
		}
		if err := f.feed(sdk.C2S, startupMessage()); err != nil {
			return nil, err
		}
		if _, err := perCall(f, q, r.Calls/10); err != nil { // warm-up
			return nil, err
		}
		ts, err := perCall(f, q, r.Calls)
		f.close()
		if err != nil {
			return nil, err
		}
		*side.p50, *side.p99 = quantile(ts, 0.5), quantile(ts, 0.99)
		if _, err := throughput(side.open, cs, r.CorpusBytes, span/10); err != nil { // warm-up
			return nil, err
		}
		if *side.mbps, err = throughput(side.open, cs, r.CorpusBytes, span); err != nil {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	if n := plugin.Faults(); n > 0 {
		return nil, fmt.Errorf("the decoder plugin faulted %d times during the bench", n)
	}
	return r, nil
}

func (d *decoderResult) markdown() string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "Decoder (PostgreSQL, bin/plugins/postgres.wasm under wazero; sandbox limits: %d MiB memory cap, %s per-call deadline with close-on-context-done, pool %d):\n\n",
		d.Limits.MemoryPages/16, d.Limits.CallTimeout, d.Limits.PoolSize)
	b.WriteString("| measure | sandboxed | native Go | sandbox slowdown | target | met |\n|---|---:|---:|---:|---|---|\n")
	us := func(t time.Duration) string { return fmt.Sprintf("%.2f µs", float64(t.Nanoseconds())/1000) }
	yes := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "no"
	}
	fmt.Fprintf(&b, "| one %d-byte Query, median (%d calls) | %s | %s | %.1f× | sandboxed < 5 µs | %s |\n",
		d.QueryBytes, d.Calls, us(d.SandboxP50), us(d.NativeP50), float64(d.SandboxP50)/float64(d.NativeP50), yes(d.SandboxP50 < 5*time.Microsecond))
	fmt.Fprintf(&b, "| one %d-byte Query, p99 | %s | %s | %.1f× | – | – |\n",
		d.QueryBytes, us(d.SandboxP99), us(d.NativeP99), float64(d.SandboxP99)/float64(d.NativeP99))
	fmt.Fprintf(&b, "| corpus batched (%d frames, %.1f KB per pass, one Feed per frame) | %.1f MB/s | %.1f MB/s | %.1f× | sandboxed ≥ 1/10 of native | %s |\n\n",
		d.CorpusFrames, float64(d.CorpusBytes)/1000, d.SandboxMBps, d.NativeMBps, d.NativeMBps/d.SandboxMBps, yes(d.SandboxMBps*10 >= d.NativeMBps))
	return b.String()
}
