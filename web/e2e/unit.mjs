// unit.mjs: tests of the view's pure modules under Node (no browser):
// the SSE parser against every split of a stream into chunks, the SHA-256
// fallback against Node's crypto, and the display helpers.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { SSEParser } from '../static/sse.js';
import { sha256 } from '../static/sha256.js';
import { Verdicts } from '../static/verdicts.js';
import { offset, duration, preview, nanosSince, parseReview, verdictText } from '../static/format.js';

let failed = 0;
function test(name, fn) {
  try {
    fn();
    process.stderr.write(`ok   ${name}\n`);
  } catch (e) {
    failed++;
    process.stderr.write(`FAIL ${name}\n${e.stack}\n`);
  }
}

const stream = [
  ': keep-alive\n\n',
  'event: status\ndata: {"status":"live"}\n\n',
  'event: frame\nid: 1\ndata: {"seq":1}\n\n',
  'event: frame\r\nid: 2\r\ndata: {"seq":2}\r\n\r\n',
  'data: line one\ndata: line two\n\n',
  'event: policy\ndata:{"k":"no space after colon"}\n\n',
  'id: 3\nevent: frame\ndata: {"seq":3}\n\n',
  'event: dangling\ndata: never dispatched',
].join('');

const want = [
  ['status', '{"status":"live"}', ''],
  ['frame', '{"seq":1}', '1'],
  ['frame', '{"seq":2}', '2'],
  ['message', 'line one\nline two', '2'],
  ['policy', '{"k":"no space after colon"}', '2'],
  ['frame', '{"seq":3}', '3'],
];

function parse(chunks) {
  const got = [];
  const p = new SSEParser((name, data, id) => got.push([name, data, id]));
  for (const c of chunks) p.push(c);
  return got;
}

test('sse: whole stream', () => assert.deepEqual(parse([stream]), want));

test('sse: every two-way split', () => {
  for (let i = 0; i <= stream.length; i++) assert.deepEqual(parse([stream.slice(0, i), stream.slice(i)]), want, `split at ${i}`);
});

test('sse: one character at a time', () => assert.deepEqual(parse([...stream]), want));

test('sha256: matches node crypto', () => {
  for (const n of [0, 1, 3, 55, 56, 57, 63, 64, 65, 127, 128, 1000, 70000]) {
    const b = randomBytes(n);
    assert.equal(Buffer.from(sha256(new Uint8Array(b))).toString('hex'), createHash('sha256').update(b).digest('hex'), `length ${n}`);
  }
});

test('format: offset', () => {
  assert.equal(offset(0), '+0:00.000');
  assert.equal(offset(1234), '+0:01.234');
  assert.equal(offset(61001), '+1:01.001');
  assert.equal(offset(3723004), '+1:02:03.004');
  assert.equal(offset(-5), '+0:00.000');
});

test('format: duration', () => {
  const t0 = new Date(0);
  assert.equal(duration(t0, new Date(42000)), '42s');
  assert.equal(duration(t0, new Date(125000)), '2m 05s');
  assert.equal(duration(t0, new Date(3 * 3600000 + 60000)), '3h 01m');
});

test('format: preview', () => {
  assert.equal(preview(new Uint8Array([0x51, 0, 0x41, 0x0a])), '51 00 41 0a  |Q.A.|');
  assert.match(preview(new Uint8Array(100).fill(0x61), 4), /^61 61 61 61 …  \|aaaa\|$/);
});

test('format: nanosSince keeps Go RFC3339Nano precision', () => {
  const base = Date.parse('2026-03-01T10:00:00.5Z');
  assert.equal(nanosSince('2026-03-01T10:00:00Z', base), 0);
  assert.equal(nanosSince('2026-03-01T10:00:00.000000001Z', base), 1);
  assert.equal(nanosSince('2026-03-01T10:00:00.1Z', base), 100000000);
  assert.equal(nanosSince('2026-03-01T10:00:01.123456789Z', base), 1123456789);
  assert.equal(nanosSince('2026-03-01T11:00:01.5+01:00', base), 1500000000);
  // Trimmed zeros do not break the order (".1" is after ".09").
  assert.ok(nanosSince('2026-03-01T10:00:00.1Z', base) > nanosSince('2026-03-01T10:00:00.09Z', base));
  assert.ok(Number.isNaN(nanosSince('yesterday', base)));
});

test('format: parseReview', () => {
  assert.deepEqual(parseReview('held', 'r_01abc: deletes every row (no WHERE)'), { id: 'r_01abc', reason: 'deletes every row (no WHERE)' });
  assert.deepEqual(parseReview('approved', 'r_01abc: approved by audit view'), { id: 'r_01abc', status: 'approved', by: 'audit view', note: '' });
  assert.deepEqual(parseReview('rejected', 'r_01abc: rejected by alice: not: today'), { id: 'r_01abc', status: 'rejected', by: 'alice', note: 'not: today' });
  assert.deepEqual(parseReview('rejected', 'r_01abc: timed_out'), { id: 'r_01abc', status: 'timed_out', by: '', note: '' });
  assert.deepEqual(parseReview('rejected', 'r_01abc: cancelled: client disconnected'), { id: 'r_01abc', status: 'cancelled', by: '', note: 'client disconnected' });
  assert.equal(parseReview('held', 'guardrail says no'), null);
  assert.equal(parseReview('held', ''), null);
});

test('format: verdictText', () => {
  assert.equal(verdictText({ kind: 'blocked', risk: 90, rule: 'guardrail/no-drop', reason: 'no drops' }), 'blocked — risk 90 — guardrail/no-drop — no drops');
  assert.equal(verdictText({ kind: 'held', risk: 70, rule: 'analyzer/delete', reason: 'no WHERE' }), 'held — risk 70 — analyzer/delete — no WHERE');
  assert.equal(verdictText({ kind: 'approved', status: 'approved', by: 'audit view', rule: 'analyzer/delete' }), 'approved by audit view — analyzer/delete');
  assert.equal(verdictText({ kind: 'rejected', status: 'rejected', by: 'bob', note: 'not today' }), 'rejected by bob — not today');
  assert.equal(verdictText({ kind: 'rejected', status: 'timed_out' }), 'rejected (timed out)');
});

test('verdicts: each goes on the statement it decided on', () => {
  const base = Date.parse('2026-03-01T10:00:00Z');
  const at = (ns) => `2026-03-01T10:00:00.${String(ns).padStart(9, '0')}Z`;
  const orphans = [];
  const v = new Verdicts(base, { changed: () => {}, orphan: (m) => orphans.push(m) });
  // Statements as the decoder finds them: frame seq, frame time (ns).
  const rows = [
    [1, 100, 'select 1'], [3, 200, 'delete from t'], [5, 300, 'insert into t values (1)'],
    [7, 400, 'delete from t;'], [9, 500, 'select 2'], [9, 500, 'drop table t'], [11, 600, 'select 3'],
  ].map(([seq, tn, text]) => ({ kind: 'statement', seq, tn, text }));
  // Catch-up order: every frame first, then the verdicts.
  for (const r of rows) v.statement(r);
  const ev = (kind, ns, text, detail, extra = {}) => ({ kind, t: at(ns), text, detail, rule: 'p/r', risk: 70, ...extra });
  for (const m of [
    ev('held', 210, 'delete from t', 'r_a: no WHERE'),
    ev('approved', 290, 'delete from t', 'r_a: approved by alice'),
    ev('held', 410, 'delete from t;', 'r_b: no WHERE'),
    ev('rejected', 450, 'delete from t;', 'r_b: rejected by bob: not now'),
    ev('blocked', 505, 'drop table t', 'no drops', { risk: 100 }),
    ev('blocked', 50, 'vacuum', 'before any statement'),
  ]) v.add(m, 0, 0);
  const got = rows.map((r) => (r.verdict ? `${r.text}=${r.policy}` : r.text));
  assert.deepEqual(got, [
    'select 1',
    'delete from t=approved by alice — p/r',
    'insert into t values (1)',
    'delete from t;=rejected by bob — p/r — not now',
    'select 2',
    'drop table t=blocked — risk 100 — p/r — no drops',
    'select 3',
  ]);
  assert.deepEqual(orphans.map((m) => m.text), ['vacuum']);
});

test('verdicts: a verdict waits for the frames received before it', () => {
  const base = Date.parse('2026-03-01T10:00:00Z');
  const v = new Verdicts(base, { changed: () => {}, orphan: () => assert.fail('orphan') });
  const m = { kind: 'held', t: '2026-03-01T10:00:00.5Z', text: 'delete from t', detail: 'r_c: why', rule: 'p/r', risk: 60 };
  v.add(m, 2, 1); // two frames received, one decoded: not placed yet
  const row = { kind: 'statement', seq: 2, tn: v.nanos('2026-03-01T10:00:00.4Z'), text: 'delete from t' };
  v.statement(row);
  assert.equal(row.verdict, undefined);
  v.flush(2);
  assert.equal(row.policy, 'held — risk 60 — p/r — why');
  assert.equal(row.verdict.review, 'r_c');
  assert.equal(row.verdict.status, 'pending');
});

if (failed) {
  process.stderr.write(`${failed} failed\n`);
  process.exit(1);
}
