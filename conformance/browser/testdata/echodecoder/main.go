// Command echodecoder is a tiny ABI v1 decoder used to test the browser
// host (worker.js + the WASI shim) before real decoders exist. It splits
// its input into lines per stream and direction and emits one event per
// complete line: "statement" for c2s, "result" for s2c. A line "BAD" makes
// the feed fail, "LOOP" spins forever (to exercise the worker deadline),
// "PANIC" panics, "SLEEP" sleeps (poll_oneoff), "ALLOC n" grows memory.
package main

import (
	"strconv"
	"strings"
	"time"
	"unsafe"
)

var (
	buf     []byte
	out     []byte
	lastErr string
	streams = map[int32]*[2][]byte{}
	nextID  int32
)

func main() {}

func pack(b []byte) int64 {
	if len(b) == 0 {
		return 0
	}
	return int64(uintptr(unsafe.Pointer(&b[0])))<<32 | int64(len(b))
}

//go:wasmexport hoop_abi_v1
func abiV1() {}

//go:wasmexport hoop_manifest
func manifest() int64 {
	out = append(out[:0], `{"name":"echo","version":"0.0.1","kind":"decoder","protocols":["echo"],"description":"test decoder"}`...)
	return pack(out)
}

//go:wasmexport hoop_buffer
func buffer(size int32) int32 {
	if cap(buf) < int(size) {
		buf = make([]byte, size)
	}
	buf = buf[:size]
	if size == 0 {
		return 0
	}
	return int32(uintptr(unsafe.Pointer(&buf[0])))
}

//go:wasmexport hoop_error
func hoopError() int64 {
	out = append(out[:0], lastErr...)
	return pack(out)
}

//go:wasmexport hoop_open
func open(cfgLen int32) int32 {
	nextID++
	streams[nextID] = &[2][]byte{}
	return nextID
}

//go:wasmexport hoop_close
func closeStream(id int32) { delete(streams, id) }

//go:wasmexport hoop_feed
func feed(id, dir, n int32) int64 {
	st := streams[id]
	if st == nil || dir < 0 || dir > 1 {
		lastErr = "unknown stream or direction"
		return -1
	}
	st[dir] = append(st[dir], buf[:n]...)
	out = out[:0]
	for {
		i := strings.IndexByte(string(st[dir]), '\n')
		if i < 0 {
			break
		}
		line := string(st[dir][:i])
		st[dir] = st[dir][i+1:]
		switch {
		case line == "BAD":
			lastErr = "bad input"
			return -1
		case line == "LOOP":
			for {
			}
		case line == "PANIC":
			panic("echodecoder: asked to panic")
		case line == "SLEEP":
			time.Sleep(time.Millisecond)
		case strings.HasPrefix(line, "ALLOC "):
			k, _ := strconv.Atoi(line[6:])
			b := make([]byte, k)
			b[len(b)-1] = 1
			line += " " + strconv.Itoa(len(b))
		}
		d, typ := "c2s", "statement"
		if dir == 1 {
			d, typ = "s2c", "result"
		}
		out = append(out, `{"dir":"`+d+`","type":"`+typ+`","text":`...)
		out = strconv.AppendQuote(out, line)
		out = append(out, "}\n"...)
	}
	if len(out) == 0 {
		return 0
	}
	return pack(out)
}
