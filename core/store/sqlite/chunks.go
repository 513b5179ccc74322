package sqlite

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"hoop.dev/hoop/core/store"
)

// Frames and events are stored in chunks: one row holds every frame (or
// event) a session recorded in one Append, in seq order. The recorder
// appends every 20 ms, so a busy session writes a few rows a second instead
// of one per message; per-row cost in SQLite was most of the recorder's CPU.
//
// Frame chunk layout, repeated: uvarint seq, varint unix nanos, byte dir,
// uvarint length, data. Event chunk layout, repeated: uvarint seq, uvarint
// frame seq, varint unix nanos, varint risk, then kind, text, rule and
// detail as uvarint length + bytes.

func appendFrame(dst []byte, f *store.Frame) []byte {
	dst = binary.AppendUvarint(dst, uint64(f.Seq))
	dst = binary.AppendVarint(dst, ts(f.Time))
	dst = append(dst, byte(f.Dir))
	dst = binary.AppendUvarint(dst, uint64(len(f.Data)))
	return append(dst, f.Data...)
}

func appendStr(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func appendEvent(dst []byte, e *store.Event) []byte {
	dst = binary.AppendUvarint(dst, uint64(e.Seq))
	dst = binary.AppendUvarint(dst, uint64(e.FrameSeq))
	dst = binary.AppendVarint(dst, ts(e.Time))
	dst = binary.AppendVarint(dst, int64(e.Risk))
	for _, s := range [...]string{e.Kind, e.Text, e.Rule, e.Detail} {
		dst = appendStr(dst, s)
	}
	return dst
}

var errChunk = errors.New("corrupt chunk")

type chunkReader struct{ b []byte }

func (c *chunkReader) uvarint() (uint64, error) {
	v, n := binary.Uvarint(c.b)
	if n <= 0 {
		return 0, errChunk
	}
	c.b = c.b[n:]
	return v, nil
}

func (c *chunkReader) varint() (int64, error) {
	v, n := binary.Varint(c.b)
	if n <= 0 {
		return 0, errChunk
	}
	c.b = c.b[n:]
	return v, nil
}

func (c *chunkReader) bytes() ([]byte, error) {
	n, err := c.uvarint()
	if err != nil || n > uint64(len(c.b)) {
		return nil, errChunk
	}
	v := c.b[:n]
	c.b = c.b[n:]
	return v, nil
}

func decodeFrames(session string, b []byte, fn func(store.Frame) bool) error {
	c := chunkReader{b}
	for len(c.b) > 0 {
		seq, err := c.uvarint()
		if err != nil {
			return err
		}
		t, err := c.varint()
		if err != nil || len(c.b) == 0 {
			return errChunk
		}
		dir := store.Dir(c.b[0])
		c.b = c.b[1:]
		data, err := c.bytes()
		if err != nil {
			return err
		}
		if !fn(store.Frame{Session: session, Seq: int64(seq), Time: tm(t), Dir: dir, Data: data}) {
			return nil
		}
	}
	return nil
}

func decodeEvents(session string, b []byte, fn func(store.Event) bool) error {
	c := chunkReader{b}
	for len(c.b) > 0 {
		seq, err := c.uvarint()
		if err != nil {
			return err
		}
		fseq, err := c.uvarint()
		if err != nil {
			return err
		}
		t, err := c.varint()
		if err != nil {
			return err
		}
		risk, err := c.varint()
		if err != nil {
			return err
		}
		var s [4][]byte
		for i := range s {
			if s[i], err = c.bytes(); err != nil {
				return err
			}
		}
		e := store.Event{Session: session, Seq: int64(seq), FrameSeq: int64(fseq), Time: tm(t), Risk: int(risk),
			Kind: string(s[0]), Text: string(s[1]), Rule: string(s[2]), Detail: string(s[3])}
		if !fn(e) {
			return nil
		}
	}
	return nil
}

// lastSeq is the highest seq stored for a session in table (0 if none).
func lastSeq(ctx context.Context, tx *sql.Tx, table, session string) (int64, error) {
	var n sql.NullInt64
	err := tx.QueryRowContext(ctx, `SELECT max(last_seq) FROM `+table+` WHERE session = ?`, session).Scan(&n)
	return n.Int64, err
}

// Append commits frames and events in one transaction, one chunk per
// session and kind. Records at or below what is already stored for their
// session are skipped (journal replay after a crash may repeat some).
func (s *Store) Append(ctx context.Context, frames []store.Frame, events []store.Event) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("append frames: %w", err)
	}
	defer tx.Rollback()
	s.mu.Lock()
	defer s.mu.Unlock()
	committed := false
	defer func() {
		if !committed { // the caches may hold seqs of the rolled back chunks
			clear(s.frameSeq)
			clear(s.eventSeq)
		}
	}()
	if err := s.appendChunks(ctx, tx, "frame_chunks", s.frameSeq, len(frames),
		func(i int) (string, int64) { return frames[i].Session, frames[i].Seq },
		func(dst []byte, i int) []byte { return appendFrame(dst, &frames[i]) }); err != nil {
		return fmt.Errorf("append frames: %w", err)
	}
	if err := s.appendChunks(ctx, tx, "event_chunks", s.eventSeq, len(events),
		func(i int) (string, int64) { return events[i].Session, events[i].Seq },
		func(dst []byte, i int) []byte { return appendEvent(dst, &events[i]) }); err != nil {
		return fmt.Errorf("append events: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit frames: %w", err)
	}
	committed = true
	return nil
}

// appendChunks writes records 0..n-1 grouped by session, in their order.
// known caches each session's last stored seq.
func (s *Store) appendChunks(ctx context.Context, tx *sql.Tx, table string, known map[string]int64, n int,
	key func(int) (string, int64), enc func([]byte, int) []byte) error {
	if n == 0 {
		return nil
	}
	type chunk struct {
		first, last int64
		data        []byte
	}
	chunks := map[string]*chunk{}
	var order []string
	for i := range n {
		sess, seq := key(i)
		last, ok := known[sess]
		if !ok {
			var err error
			if last, err = lastSeq(ctx, tx, table, sess); err != nil {
				return err
			}
			known[sess] = last
		}
		c := chunks[sess]
		if seq <= last || (c != nil && seq <= c.last) {
			continue // already stored
		}
		if c == nil {
			c = &chunk{first: seq}
			chunks[sess] = c
			order = append(order, sess)
		}
		c.last = seq
		c.data = enc(c.data, i)
	}
	ins := s.insFrameChunk
	if table == "event_chunks" {
		ins = s.insEventChunk
	}
	st := tx.StmtContext(ctx, ins)
	for _, sess := range order {
		c := chunks[sess]
		if _, err := st.ExecContext(ctx, sess, c.first, c.last, c.data); err != nil {
			return err
		}
		known[sess] = c.last
	}
	if len(known) > 100_000 {
		clear(known)
	}
	return nil
}

// Frames pages through a session's frames.
func (s *Store) Frames(ctx context.Context, session string, after int64, limit int) ([]store.Frame, error) {
	if limit <= 0 {
		limit = 1000
	}
	var out []store.Frame
	err := s.scanChunks(ctx, "frame_chunks", session, after, func(b []byte) (bool, error) {
		err := decodeFrames(session, b, func(f store.Frame) bool {
			if f.Seq > after {
				f.Data = append([]byte(nil), f.Data...)
				out = append(out, f)
			}
			return len(out) < limit
		})
		return len(out) < limit, err
	})
	if err != nil {
		return nil, fmt.Errorf("read frames: %w", err)
	}
	return out, nil
}

// Events pages through a session's events.
func (s *Store) Events(ctx context.Context, session string, after int64, limit int) ([]store.Event, error) {
	if limit <= 0 {
		limit = 1000
	}
	var out []store.Event
	err := s.scanChunks(ctx, "event_chunks", session, after, func(b []byte) (bool, error) {
		err := decodeEvents(session, b, func(e store.Event) bool {
			if e.Seq > after {
				out = append(out, e)
			}
			return len(out) < limit
		})
		return len(out) < limit, err
	})
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	return out, nil
}

// scanChunks hands the chunks of session holding seqs above after to fn in
// order, until fn says stop.
func (s *Store) scanChunks(ctx context.Context, table, session string, after int64, fn func([]byte) (bool, error)) error {
	rows, err := s.r.QueryContext(ctx, `SELECT data FROM `+table+` WHERE session = ? AND last_seq > ? ORDER BY first_seq`, session, after)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return err
		}
		more, err := fn(b)
		if err != nil || !more {
			return err
		}
	}
	return rows.Err()
}

// EndDangling ends sessions left open by a crash, filling their byte and
// statement counters from what was recorded.
func (s *Store) EndDangling(ctx context.Context, reason string, at time.Time) (int, error) {
	var list []store.Session
	for _, st := range []string{store.StatusConnecting, store.StatusLive} {
		l, err := s.ListSessions(ctx, store.SessionFilter{Status: st, Limit: 1 << 30})
		if err != nil {
			return 0, err
		}
		list = append(list, l...)
	}
	n := 0
	for _, x := range list {
		if x.Status == store.StatusEnded {
			continue
		}
		x.BytesC2S, x.BytesS2C, x.Statements = 0, 0, 0
		err := s.scanChunks(ctx, "frame_chunks", x.ID, 0, func(b []byte) (bool, error) {
			return true, decodeFrames(x.ID, b, func(f store.Frame) bool {
				if f.Dir == store.C2S {
					x.BytesC2S += int64(len(f.Data))
				} else {
					x.BytesS2C += int64(len(f.Data))
				}
				return true
			})
		})
		if err == nil {
			err = s.scanChunks(ctx, "event_chunks", x.ID, 0, func(b []byte) (bool, error) {
				return true, decodeEvents(x.ID, b, func(e store.Event) bool {
					if e.Kind == store.EventStatement {
						x.Statements++
					}
					return true
				})
			})
		}
		if err != nil {
			return n, fmt.Errorf("end dangling session %s: %w", x.ID, err)
		}
		x.Status, x.EndReason, x.EndedAt = store.StatusEnded, reason, at
		if err := s.UpdateSession(ctx, x); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}
