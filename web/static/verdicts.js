// verdicts.js: puts policy verdicts on the statement rows they decided on.
//
// The gateway records a verdict (blocked, held, approved, rejected) as an
// event of its own, after the client frame it decided on was committed and
// before it reads the next one. Such events carry no frame seq, so a
// verdict belongs to a statement of the last client frame recorded before
// it: the newest statement row whose frame time is not after the verdict's
// (compared in nanoseconds, Date keeps only milliseconds), preferring one
// with the verdict's text. Approved and rejected events name the review of
// an earlier held event and go to that row.
//
// The stream sends every frame before the verdicts that follow it (live,
// and on catch-up where all frames come first), but frames are decoded
// asynchronously: a verdict waits until every frame received before it has
// been decoded.
import { nanosSince, parseReview, verdictText } from './format.js';

const norm = (s) => (s || '').replace(/\s+/g, ' ').trim().replace(/;$/, '').trim();

export class Verdicts {
  /**
   * @param {number} startedMs session start, the base of frame times
   * @param {{changed: (row: object) => void, orphan: (m: object) => void}} hooks
   *   changed: a row's verdict changed; orphan: a verdict no row took
   */
  constructor(startedMs, hooks) {
    this.base = startedMs;
    this.hooks = hooks;
    this.stmts = []; // statement rows in stream order (frame times ascend)
    this.byReview = new Map(); // review id -> its row
    this.waiting = []; // [{m, after}] verdicts waiting for frames to be decoded
  }

  /** nanos is t (RFC 3339) in ns since the session's start second. */
  nanos(t) { return nanosSince(t, this.base); }

  /** statement notes a decoded statement row; row.tn is its frame's time. */
  statement(row) { this.stmts.push(row); }

  /**
   * add takes a policy event without a frame seq; received is how many
   * frames had arrived before it, decoded how many of them are decoded.
   */
  add(m, received, decoded) {
    this.waiting.push({ m, after: received });
    this.flush(decoded);
  }

  /** flush places the waiting verdicts whose frames are all decoded. */
  flush(decoded) {
    while (this.waiting.length && this.waiting[0].after <= decoded) {
      const { m } = this.waiting.shift();
      this.place(m);
    }
  }

  /**
   * place puts verdict m on its row: on the row of its review, on at (the
   * statement of its frame seq) when given, else on the row match finds.
   */
  place(m, at) {
    const rv = parseReview(m.kind, m.detail);
    if (rv && (m.kind === 'approved' || m.kind === 'rejected')) {
      const row = this.byReview.get(rv.id);
      if (row) {
        this.decided(row, m, rv);
        return;
      }
    }
    const row = at || this.match(m);
    if (!row) {
      this.hooks.orphan(m);
      return;
    }
    this.attach(row, m);
  }

  /** match finds the statement row m decided on, or null. */
  match(m) {
    const tn = this.nanos(m.t);
    if (Number.isNaN(tn)) return null;
    const s = this.stmts;
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (s[mid].tn <= tn) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0) return null;
    const seq = s[lo - 1].seq;
    let i = lo - 1;
    while (i > 0 && s[i - 1].seq === seq) i--;
    const frame = s.slice(i, lo).filter((r) => !r.verdict || r.verdict.kind === 'allowed');
    const text = norm(m.text);
    return frame.find((r) => norm(r.text) === text)
      || frame.find((r) => text && (text.includes(norm(r.text)) || norm(r.text).startsWith(text)))
      || frame[0] || null;
  }

  attach(row, m) {
    const rv = parseReview(m.kind, m.detail);
    const v = { kind: m.kind, risk: m.risk, rule: m.rule, reason: m.detail || '', text: m.text };
    if (m.kind === 'held' && rv) {
      v.review = rv.id;
      v.reason = rv.reason;
      v.status = 'pending';
      this.byReview.set(rv.id, row);
    } else if (rv && (m.kind === 'approved' || m.kind === 'rejected')) {
      Object.assign(v, { review: rv.id, status: rv.status, by: rv.by, note: rv.note, reason: '' });
    }
    this.set(row, v, m);
  }

  decided(row, m, rv) {
    const held = row.verdict || {};
    this.set(row, { ...held, kind: m.kind, review: rv.id, status: rv.status, by: rv.by, note: rv.note, rule: m.rule || held.rule }, m);
  }

  set(row, v, m) {
    row.full = `${row.full || ''}\n\npolicy verdict:\n${JSON.stringify(m, null, 2)}`;
    if (v.kind === 'allowed' && !v.risk) {
      this.hooks.changed(row);
      return;
    }
    row.verdict = v;
    row.policyKind = v.kind;
    row.policy = verdictText(v);
    this.hooks.changed(row);
  }
}
