// parity.js: feeds a frames file through the audit view's own Decoder
// (decoder.js + worker.js + wasi.js, served by the web package at /) one
// frame per feed, like the server host, and publishes the concatenated
// JSON Lines output on window.__parity for the runner to collect.
import { Decoder } from '/decoder.js';

function b64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function hexBytes(hex) {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

async function run() {
  const q = new URLSearchParams(location.search);
  const [wasm, frames] = await Promise.all([
    fetch('module.wasm').then((r) => r.arrayBuffer()),
    fetch('frames.json').then((r) => r.json()),
  ]);
  const dec = new Decoder(wasm, { deadlineMs: Number(q.get('deadline')) || 5000 });
  const manifest = await dec.start();
  const chunks = [];
  const failures = [];
  let size = 0;
  for (let i = 0; i < frames.length; i++) {
    const f = frames[i];
    const [r] = await dec.feed([{ seq: i + 1, dir: f.dir === 's2c' ? 1 : 0, bytes: hexBytes(f.hex) }]);
    if (r.ok) {
      chunks.push(r.out);
      size += r.out.length;
    } else {
      failures.push({ seq: r.seq, error: r.error });
    }
  }
  const all = new Uint8Array(size);
  let off = 0;
  for (const c of chunks) { all.set(c, off); off += c.length; }
  dec.stop();
  return { b64: b64(all), failures, restarts: dec.restarts, manifest };
}

run().then(
  (r) => { window.__parity = r; },
  (e) => { window.__parity = { fatal: String(e && e.stack || e) }; },
);
