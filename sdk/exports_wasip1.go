//go:build wasip1

package sdk

import (
	"errors"
	"fmt"
	"unsafe"
)

// The ABI v1 exports. Everything the host reads lives in guest-owned
// buffers (in, out, errMsg, manifestJSON) that stay valid until the next
// call, so the host never allocates inside the guest.

var (
	in           []byte // hoop_buffer: the host writes input here
	out          []byte // the result of the last call
	errMsg       []byte // hoop_error
	manifestJSON []byte
	streams      = map[int32]Stream{}
	nextStream   int32
	scratch      Input
)

func pack(b []byte) int64 {
	if len(b) == 0 {
		return 0
	}
	return int64(uintptr(unsafe.Pointer(unsafe.SliceData(b))))<<32 | int64(len(b))
}

func fail(err error) {
	errMsg = append(errMsg[:0], err.Error()...)
}

// catch turns a panic in the plugin into a failed call (-1 + hoop_error).
// Go runtime fatal errors (out of memory, stack exhaustion) cannot be
// recovered and still trap.
func catch(ret *int64) {
	if r := recover(); r != nil {
		fail(fmt.Errorf("plugin panic: %v", r))
		*ret = -1
	}
}

func input(n int32) ([]byte, error) {
	if n < 0 || int(n) > len(in) {
		return nil, fmt.Errorf("input length %d outside the %d-byte buffer", n, len(in))
	}
	return in[:n], nil
}

//go:wasmexport hoop_abi_v1
func hoopABIV1() {}

//go:wasmexport hoop_manifest
func hoopManifest() (ret int64) {
	defer catch(&ret)
	if registered.manifest.Name == "" {
		fail(errors.New("no plugin registered: call sdk.RegisterDecoder or sdk.RegisterPolicy from init"))
		return -1
	}
	if manifestJSON == nil {
		manifestJSON = AppendManifest(nil, registered.manifest)
	}
	return pack(manifestJSON)
}

//go:wasmexport hoop_buffer
func hoopBuffer(size int32) int32 {
	if size < 64 {
		size = 64
	}
	if int(size) > cap(in) {
		in = make([]byte, size)
	}
	in = in[:cap(in)]
	return int32(uintptr(unsafe.Pointer(unsafe.SliceData(in))))
}

//go:wasmexport hoop_error
func hoopError() int64 { return pack(errMsg) }

//go:wasmexport hoop_open
func hoopOpen(cfgLen int32) (id int32) {
	var ret int64
	defer func() {
		if ret == -1 {
			id = -1
		}
	}()
	defer catch(&ret)
	if registered.decoder == nil {
		fail(errors.New("this plugin is not a decoder"))
		return -1
	}
	cfg, err := input(cfgLen)
	if err != nil {
		fail(fmt.Errorf("open: %w", err))
		return -1
	}
	st, err := registered.decoder.Open(cfg)
	if err != nil {
		fail(err)
		return -1
	}
	for {
		nextStream++
		if nextStream <= 0 {
			nextStream = 1
		}
		if _, used := streams[nextStream]; !used {
			break
		}
	}
	streams[nextStream] = st
	return nextStream
}

//go:wasmexport hoop_feed
func hoopFeed(stream, dir, n int32) (ret int64) {
	defer catch(&ret)
	st := streams[stream]
	if st == nil {
		fail(fmt.Errorf("feed: no stream %d", stream))
		return -1
	}
	if dir != int32(C2S) && dir != int32(S2C) {
		fail(fmt.Errorf("feed: direction %d is neither 0 nor 1", dir))
		return -1
	}
	data, err := input(n)
	if err != nil {
		fail(fmt.Errorf("feed: %w", err))
		return -1
	}
	out, err = st.Feed(Dir(dir), data, out[:0])
	if err != nil {
		fail(err)
		return -1
	}
	return pack(out)
}

//go:wasmexport hoop_close
func hoopClose(stream int32) {
	defer func() { _ = recover() }()
	if st := streams[stream]; st != nil {
		delete(streams, stream)
		st.Close()
	}
}

//go:wasmexport hoop_configure
func hoopConfigure(n int32) (code int32) {
	var ret int64
	defer func() {
		if ret == -1 {
			code = -1
		}
	}()
	defer catch(&ret)
	if registered.policy == nil {
		fail(errors.New("this plugin is not a policy"))
		return -1
	}
	cfg, err := input(n)
	if err != nil {
		fail(fmt.Errorf("configure: %w", err))
		return -1
	}
	if err := registered.policy.Configure(cfg); err != nil {
		fail(err)
		return -1
	}
	return 0
}

//go:wasmexport hoop_evaluate
func hoopEvaluate(n int32) (ret int64) {
	defer catch(&ret)
	if registered.policy == nil {
		fail(errors.New("this plugin is not a policy"))
		return -1
	}
	data, err := input(n)
	if err != nil {
		fail(fmt.Errorf("evaluate: %w", err))
		return -1
	}
	if err := DecodeInput(data, &scratch); err != nil {
		fail(err)
		return -1
	}
	v, err := registered.policy.Evaluate(&scratch)
	if err != nil {
		fail(err)
		return -1
	}
	out = AppendVerdict(out[:0], v)
	return pack(out)
}
