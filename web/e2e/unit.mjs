// unit.mjs: tests of the view's pure modules under Node (no browser):
// the SSE parser against every split of a stream into chunks, the SHA-256
// fallback against Node's crypto, and the display helpers.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { SSEParser } from '../static/sse.js';
import { sha256 } from '../static/sha256.js';
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

if (failed) {
  process.stderr.write(`${failed} failed\n`);
  process.exit(1);
}
