package record

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"hoop.dev/hoop/core/store"
)

// The journal is an append-only file of client frames (and the events
// decoded from them) written before the frames are forwarded. One write(2)
// puts a record in the operating system's hands, which survives kill -9 of
// the gateway; the store indexes the same records a few milliseconds later,
// in large transactions, and a segment is deleted once everything in it is
// in the store. At start-up, Recover replays what is left.
//
// Record layout (little endian):
//
//	u32 length of what follows up to and including the crc
//	u8  kind (1 frame, 2 event)
//	u8  session id length, session id
//	... kind-specific fields
//	u32 crc32 (IEEE) of everything after the length
//
// A torn record at the tail (a crash mid-write) fails its crc and ends the
// replay of that segment.

const (
	recFrame = 1
	recEvent = 2
	// segmentSize is when the journal moves to a new segment file.
	segmentSize = 16 << 20
)

func appendFrameRecord(dst []byte, f *store.Frame) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, recFrame, byte(len(f.Session)))
	dst = append(dst, f.Session...)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(f.Seq))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(f.Time.UnixNano()))
	dst = append(dst, byte(f.Dir))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(len(f.Data)))
	dst = append(dst, f.Data...)
	return finishRecord(dst, start)
}

func appendEventRecord(dst []byte, e *store.Event) []byte {
	start := len(dst)
	dst = append(dst, 0, 0, 0, 0, recEvent, byte(len(e.Session)))
	dst = append(dst, e.Session...)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(e.Seq))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(e.FrameSeq))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(e.Time.UnixNano()))
	dst = binary.LittleEndian.AppendUint64(dst, uint64(int64(e.Risk)))
	for _, s := range [...]string{e.Kind, e.Text, e.Rule, e.Detail} {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(len(s)))
		dst = append(dst, s...)
	}
	return finishRecord(dst, start)
}

func finishRecord(dst []byte, start int) []byte {
	dst = binary.LittleEndian.AppendUint32(dst, crc32.ChecksumIEEE(dst[start+4:]))
	binary.LittleEndian.PutUint32(dst[start:], uint32(len(dst)-start-4))
	return dst
}

// errTorn ends a segment's replay.
var errTorn = errors.New("torn or corrupt journal record")

func readRecord(r *bufio.Reader) (*store.Frame, *store.Event, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, nil, errTorn
		}
		return nil, nil, err
	}
	n := binary.LittleEndian.Uint32(hdr[:])
	if n < 6 || n > 1<<30 {
		return nil, nil, errTorn
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, nil, errTorn
	}
	body, sum := b[:n-4], binary.LittleEndian.Uint32(b[n-4:])
	if crc32.ChecksumIEEE(body) != sum {
		return nil, nil, errTorn
	}
	kind, sl := body[0], int(body[1])
	if len(body) < 2+sl {
		return nil, nil, errTorn
	}
	session, rest := string(body[2:2+sl]), body[2+sl:]
	switch kind {
	case recFrame:
		if len(rest) < 21 {
			return nil, nil, errTorn
		}
		f := &store.Frame{Session: session, Seq: int64(binary.LittleEndian.Uint64(rest)),
			Time: time.Unix(0, int64(binary.LittleEndian.Uint64(rest[8:]))).UTC(), Dir: store.Dir(rest[16])}
		dl := int(binary.LittleEndian.Uint32(rest[17:]))
		if len(rest) != 21+dl {
			return nil, nil, errTorn
		}
		f.Data = rest[21:]
		return f, nil, nil
	case recEvent:
		if len(rest) < 32 {
			return nil, nil, errTorn
		}
		le := binary.LittleEndian
		e := &store.Event{Session: session, Seq: int64(le.Uint64(rest)), FrameSeq: int64(le.Uint64(rest[8:])),
			Time: time.Unix(0, int64(le.Uint64(rest[16:]))).UTC(), Risk: int(int64(le.Uint64(rest[24:])))}
		rest = rest[32:]
		var strs [4]string
		for i := range strs {
			if len(rest) < 4 {
				return nil, nil, errTorn
			}
			n := int(le.Uint32(rest))
			if len(rest) < 4+n {
				return nil, nil, errTorn
			}
			strs[i], rest = string(rest[4:4+n]), rest[4+n:]
		}
		e.Kind, e.Text, e.Rule, e.Detail = strs[0], strs[1], strs[2], strs[3]
		return nil, e, nil
	}
	return nil, nil, errTorn
}

// journal is the set of segment files in dir. The current segment is
// preallocated and mapped into memory (MAP_SHARED): a record copied into
// the mapping is in the page cache at once, which survives kill -9 of the
// process like a write(2) does, without a system call on the path of every
// client message. Preallocating means a full disk fails the rotation, not
// a page fault later.
type journal struct {
	dir  string
	sync bool
	f    *os.File
	m    []byte       // the mapping of the current segment
	n    atomic.Int64 // bytes used in the current segment
	next int          // number of the next segment
	done []string

	// Sync mode: committers msync outside the recorder's lock, one at a
	// time, each covering everything written so far (group commit).
	// mapMu keeps the mapping alive under an msync; rotation takes it
	// exclusively.
	smu    sync.Mutex
	mapMu  sync.RWMutex
	seg    int   // number of the current segment
	synced int64 // bytes of the current segment known to be synced
}

func segmentName(n int) string { return fmt.Sprintf("%012d.journal", n) }

// segments lists the segment files in order.
func segments(dir string) ([]string, int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, err
	}
	var names []string
	next := 0
	for _, e := range ents {
		num, ok := strings.CutSuffix(e.Name(), ".journal")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(num)
		if err != nil {
			continue
		}
		names = append(names, e.Name())
		next = max(next, n+1)
	}
	sort.Strings(names)
	return names, next, nil
}

func openJournal(dir string, sync bool) (*journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create journal dir: %w", err)
	}
	_, next, err := segments(dir)
	if err != nil {
		return nil, fmt.Errorf("list journal: %w", err)
	}
	j := &journal{dir: dir, sync: sync, next: next}
	return j, j.rotate(segmentSize)
}

// rotate closes the current segment and starts one of at least size bytes.
func (j *journal) rotate(size int64) error {
	if err := j.unmap(); err != nil {
		return err
	}
	size = max(size, segmentSize)
	f, err := os.OpenFile(filepath.Join(j.dir, segmentName(j.next)), os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("open journal segment: %w", err)
	}
	seg := j.next
	j.next++
	if err := syscall.Fallocate(int(f.Fd()), 0, 0, size); err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("preallocate journal segment: %w", err)
	}
	m, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return fmt.Errorf("map journal segment: %w", err)
	}
	j.mapMu.Lock()
	j.f, j.m, j.seg, j.synced = f, m, seg, 0
	j.n.Store(0)
	j.mapMu.Unlock()
	return nil
}

// unmap closes the current segment, trimmed to what it holds.
func (j *journal) unmap() error {
	if j.f == nil {
		return nil
	}
	name := j.f.Name()
	j.mapMu.Lock()
	defer j.mapMu.Unlock()
	var err error
	if j.sync && j.synced < j.n.Load() {
		err = msync(j.m[:j.n.Load()])
	}
	if uerr := syscall.Munmap(j.m); err == nil {
		err = uerr
	}
	if terr := j.f.Truncate(j.n.Load()); err == nil {
		err = terr
	}
	if cerr := j.f.Close(); err == nil {
		err = cerr
	}
	j.f, j.m = nil, nil
	j.done = append(j.done, name)
	if err != nil {
		return fmt.Errorf("close journal segment: %w", err)
	}
	return nil
}

// write copies b into the journal; the caller holds the recorder's lock.
// It returns the segment and offset to pass to syncTo in sync mode.
func (j *journal) write(b []byte) (seg int, end int64, err error) {
	if j.f == nil {
		return 0, 0, errors.New("journal closed")
	}
	n := j.n.Load()
	if n+int64(len(b)) > int64(len(j.m)) {
		if err := j.rotate(int64(len(b))); err != nil {
			return 0, 0, err
		}
		n = 0
	}
	copy(j.m[n:], b)
	j.n.Store(n + int64(len(b)))
	return j.seg, n + int64(len(b)), nil
}

// syncTo returns once segment seg is synced up to end, syncing whatever
// has been written by then (so concurrent committers share one msync).
// It must be called without the recorder's lock.
func (j *journal) syncTo(seg int, end int64) error {
	j.smu.Lock()
	defer j.smu.Unlock()
	j.mapMu.RLock()
	defer j.mapMu.RUnlock()
	if j.seg != seg || j.synced >= end || j.m == nil {
		return nil // rotation synced the old segment, or another msync covered us
	}
	n := j.n.Load()
	page := j.synced &^ int64(os.Getpagesize()-1)
	if err := msync(j.m[page:n]); err != nil {
		return fmt.Errorf("sync journal: %w", err)
	}
	j.synced = n
	return nil
}

func msync(b []byte) error {
	_, _, errno := syscall.Syscall(syscall.SYS_MSYNC, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), syscall.MS_SYNC)
	if errno != 0 {
		return errno
	}
	return nil
}

// full reports whether the current segment should be rotated.
func (j *journal) full() bool { return j.n.Load() > segmentSize/2 }

// removeDone deletes the segments that were closed before the last index.
func (j *journal) removeDone(upto int) {
	for _, name := range j.done[:upto] {
		os.Remove(name)
	}
	j.done = j.done[upto:]
}

func (j *journal) close() error { return j.unmap() }

// Recover replays the journal segments left in dir by a previous process
// into st (records already in the store are ignored) and deletes them. It
// returns how many frames it found. Run it before New.
func Recover(ctx context.Context, st store.Store, dir string) (int, error) {
	n, err := replay(dir, func(f []store.Frame, e []store.Event) error { return st.Append(ctx, f, e) })
	if err != nil {
		return n, fmt.Errorf("recover journal: %w", err)
	}
	return n, nil
}

// replay reads every segment in dir and hands its records to add.
func replay(dir string, add func(frames []store.Frame, events []store.Event) error) (int, error) {
	names, _, err := segments(dir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return 0, nil
		}
		return 0, err
	}
	total := 0
	for _, name := range names {
		path := filepath.Join(dir, name)
		f, err := os.Open(path)
		if err != nil {
			return total, err
		}
		r := bufio.NewReaderSize(f, 1<<20)
		var frames []store.Frame
		var events []store.Event
		size := 0
		flush := func() error {
			if len(frames) == 0 && len(events) == 0 {
				return nil
			}
			err := add(frames, events)
			frames, events, size = nil, nil, 0
			return err
		}
		for {
			fr, ev, err := readRecord(r)
			if err != nil {
				break // EOF or a torn tail
			}
			if fr != nil {
				frames = append(frames, *fr)
				size += len(fr.Data)
				total++
			} else {
				events = append(events, *ev)
			}
			if size > 8<<20 {
				if err := flush(); err != nil {
					f.Close()
					return total, err
				}
			}
		}
		f.Close()
		if err := flush(); err != nil {
			return total, err
		}
		if err := os.Remove(path); err != nil {
			return total, err
		}
	}
	return total, nil
}
