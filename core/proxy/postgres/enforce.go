package postgres

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"hoop.dev/hoop/core/policy"
	"hoop.dev/hoop/core/review"
	"hoop.dev/hoop/core/store"
)

// Per-statement enforcement. Each client Query and Parse is decided on
// before it is forwarded. A refused statement is not answered by hoop
// itself: it is replaced by a statement that makes the server raise the
// refusal (SQLSTATE 42501), so the error arrives exactly where the
// server's own would, the server discards the rest of an extended-protocol
// pipeline up to Sync, and an open transaction is marked failed, all by the
// server's own rules.

// enforcer is the per-session state of enforcement.
type enforcer struct {
	r *relay
	// discarding: a Parse was refused; drop client messages until Sync.
	discarding bool
	// injected: the refusal has already been sent for the current pipeline.
	injected bool
	refusal  string
}

// refusalMessage is what the client reads.
func refusalMessage(d policy.Decision, held string) string {
	var b strings.Builder
	b.WriteString("hoop: ")
	switch held {
	case store.ReviewRejected:
		b.WriteString("statement rejected by a reviewer")
	case store.ReviewTimedOut:
		b.WriteString("statement held for review was not approved in time")
	case store.ReviewCancelled:
		b.WriteString("statement held for review was cancelled")
	default:
		b.WriteString("statement blocked by policy")
	}
	if d.Rule != "" {
		b.WriteString(" (" + d.Policy + "/" + d.Rule + ")")
	}
	if d.Reason != "" {
		b.WriteString(": " + d.Reason)
	}
	return b.String()
}

// raiseSQL is a statement that makes PostgreSQL raise msg as SQLSTATE 42501.
func raiseSQL(msg string) string {
	var tag [6]byte
	rand.Read(tag[:])
	q := "$hoop_" + hex.EncodeToString(tag[:]) + "$"
	esc := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(msg)
	return "DO " + q + " BEGIN RAISE EXCEPTION USING ERRCODE = '42501', MESSAGE = E'" + esc + "'; END " + q
}

func appendQuery(dst []byte, sql string) []byte {
	return appendMessage(dst, &pgproto3.Query{String: sql})
}

// appendExtendedRaise appends Parse/Bind/Execute of the raise statement on
// the unnamed statement and portal; the ParseComplete and BindComplete they
// produce are removed from the server's answer by the relay.
func appendExtendedRaise(dst []byte, sql string) []byte {
	dst = appendMessage(dst, &pgproto3.Parse{Query: sql})
	dst = appendMessage(dst, &pgproto3.Bind{})
	return appendMessage(dst, &pgproto3.Execute{})
}

// enforce decides on every statement in batch and returns what to forward.
// It may block while a statement is held for review; it forwards what
// precedes a held statement first, so the client gets those answers.
func (e *enforcer) enforce(ctx context.Context, batch []byte, out []byte) ([]byte, error) {
	for len(batch) >= 5 {
		typ := batch[0]
		n := int(binary.BigEndian.Uint32(batch[1:5]))
		msg := batch[:1+n]
		body := msg[5:]
		batch = batch[1+n:]
		if e.discarding {
			switch typ {
			case 'S':
				if !e.injected {
					out = appendExtendedRaise(out, raiseSQL(e.refusal))
					e.r.expectRefusal()
				}
				out = append(out, msg...)
				e.discarding, e.injected = false, false
			case 'H':
				// The client waits for answers before its Sync: give it the
				// refusal now.
				if !e.injected {
					out = appendExtendedRaise(out, raiseSQL(e.refusal))
					out = append(out, msg...)
					e.r.expectRefusal()
					e.injected = true
				}
			case 'X':
				out = append(out, msg...)
			}
			continue
		}
		var text string
		switch typ {
		case 'Q':
			text, _, _ = cstring(body)
		case 'P':
			if _, rest, ok := cstring(body); ok {
				text, _, _ = cstring(rest)
			}
		default:
			out = append(out, msg...)
			continue
		}
		d := e.r.s.d.Policy.Evaluate(ctx, e.r.statement(text))
		held := ""
		if d.Action == policy.Review {
			// Answer what came before, then wait.
			if len(out) > 0 {
				if _, err := e.r.up.c.Write(out); err != nil {
					return nil, err
				}
				out = out[:0]
			}
			o, err := e.r.hold(ctx, d, text)
			if err != nil {
				return nil, err
			}
			if o.Approved {
				out = append(out, msg...)
				continue
			}
			held = o.Status
			d.Action = policy.Block
		} else if d.Action == policy.Block {
			e.r.policyEvent(store.EventBlocked, d, text, "")
		}
		if d.Action == policy.Allow {
			out = append(out, msg...)
			continue
		}
		refusal := refusalMessage(d, held)
		if typ == 'Q' {
			out = appendQuery(out, raiseSQL(refusal))
			e.r.expectRefusal()
			continue
		}
		e.discarding, e.injected, e.refusal = true, false, refusal
	}
	return out, nil
}

// statement builds the policy input for text.
func (r *relay) statement(text string) policy.Statement {
	m := r.live.Meta()
	return policy.Statement{Identity: m.Identity, Kind: m.Kind, Resource: m.Resource, Role: m.Role,
		Protocol: "postgres", Session: m.ID, Text: text}
}

func (r *relay) policyEvent(kind string, d policy.Decision, text, note string) {
	detail := d.Reason
	if note != "" {
		detail = note
	}
	r.rec.Event(context.Background(), false, store.Event{Kind: kind, Text: text, Rule: d.Policy + "/" + d.Rule, Risk: d.Risk, Detail: detail})
}

// hold waits for a person to decide on text. While it waits nothing is
// read from the client, but a client that disconnects cancels the review.
func (r *relay) hold(ctx context.Context, d policy.Decision, text string) (review.Outcome, error) {
	if r.s.d.Reviews == nil {
		return review.Outcome{Status: store.ReviewRejected, Note: "no review service"}, nil
	}
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	peeked := make(chan struct{})
	go func() {
		defer close(peeked)
		if _, err := r.br.Peek(1); err != nil && hctx.Err() == nil {
			cancel() // the client went away
		}
	}()
	m := r.live.Meta()
	o, err := r.s.d.Reviews.Hold(hctx, store.Review{Session: m.ID, Identity: m.Identity, Kind: m.Kind, Resource: m.Resource,
		Role: m.Role, Statement: text, Risk: d.Risk, Policy: d.Policy, Rule: d.Rule, Reason: d.Reason},
		func(rv store.Review) { r.policyEvent(store.EventHeld, d, text, rv.ID+": "+d.Reason) })
	// Stop the disconnect watch before the relay reads from the client again.
	r.c.SetReadDeadline(time.Now())
	<-peeked
	r.c.SetReadDeadline(time.Time{})
	if err != nil {
		return o, fmt.Errorf("hold statement for review: %w", err)
	}
	kind := store.EventRejected
	if o.Approved {
		kind = store.EventApproved
	}
	note := o.ID + ": " + o.Status
	if o.By != "" {
		note += " by " + o.By
	}
	if o.Note != "" {
		note += ": " + o.Note
	}
	r.policyEvent(kind, d, text, note)
	return o, nil
}
