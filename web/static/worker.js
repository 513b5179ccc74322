// worker.js: hosts one decoder plugin (ABI v1) in a Web Worker so a
// misbehaving module can be terminated without freezing the page. The
// page (decoder.js) sends:
//   {op:'load', wasm: ArrayBuffer}            -> {op:'ready', manifest} | {op:'fail', error}
//   {op:'open'}                               -> {op:'opened', stream}   | {op:'fail', error}
//   {op:'feed', stream, frames:[{seq, dir, bytes}]}
//        -> {op:'fed', results:[{seq, ok:true, out:Uint8Array} | {seq, ok:false, error}]}
//   {op:'close', stream}                      -> {op:'closed'}
// Every reply carries the request's `id`. A trap answers {op:'trap', error,
// seq}: the instance is then unusable and the page starts a fresh Worker.
import { wasiImports, WasiExit } from './wasi.js';

let ex = null; // the instance's exports
const utf8 = new TextDecoder();

// unpack splits a packed (ptr << 32) | len; BigInt because the export
// returns i64.
function unpack(packed) {
  const v = BigInt.asUintN(64, packed);
  return [Number(v >> 32n) >>> 0, Number(v & 0xffffffffn) >>> 0];
}

// read copies guest bytes out; the view is made fresh because the call
// that produced them may have grown (and detached) memory.
function read(packed) {
  const [ptr, len] = unpack(packed);
  return new Uint8Array(ex.memory.buffer, ptr, len).slice();
}

function lastError() {
  try {
    return utf8.decode(read(ex.hoop_error()));
  } catch (e) {
    return `hoop_error failed: ${e}`;
  }
}

// put writes input into the guest-owned buffer and returns its length.
function put(bytes) {
  const ptr = ex.hoop_buffer(bytes.length) >>> 0;
  new Uint8Array(ex.memory.buffer, ptr, bytes.length).set(bytes);
  return bytes.length;
}

async function load(wasm) {
  const module = await WebAssembly.compile(wasm);
  const wasi = wasiImports(module, {
    stdout: (s) => console.log(`[decoder] ${s}`),
    stderr: (s) => console.error(`[decoder] ${s}`),
  });
  const inst = await WebAssembly.instantiate(module, wasi.imports);
  ex = inst.exports;
  wasi.setMemory(ex.memory);
  for (const name of ['memory', 'hoop_abi_v1', 'hoop_manifest', 'hoop_buffer', 'hoop_error', 'hoop_open', 'hoop_feed', 'hoop_close']) {
    if (!(name in ex)) throw new Error(`module does not export ${name}: not an ABI v1 plugin`);
  }
  if (ex._initialize) ex._initialize(); // Go c-shared reactors trap in every export before this
  ex.hoop_abi_v1();
  return JSON.parse(utf8.decode(read(ex.hoop_manifest())));
}

function feed(stream, frames) {
  const results = [];
  for (const f of frames) {
    const n = put(f.bytes);
    const packed = ex.hoop_feed(stream, f.dir, n);
    if (packed === -1n) {
      results.push({ seq: f.seq, ok: false, error: lastError() });
    } else {
      results.push({ seq: f.seq, ok: true, out: read(packed) });
    }
  }
  return results;
}

self.onmessage = async (ev) => {
  const m = ev.data;
  let seq = 0;
  try {
    switch (m.op) {
      case 'load':
        self.postMessage({ id: m.id, op: 'ready', manifest: await load(m.wasm) });
        return;
      case 'open': {
        const cfg = new TextEncoder().encode(m.config || '');
        const s = ex.hoop_open(put(cfg));
        if (s <= 0) {
          self.postMessage({ id: m.id, op: 'fail', error: `hoop_open: ${lastError()}` });
          return;
        }
        self.postMessage({ id: m.id, op: 'opened', stream: s });
        return;
      }
      case 'feed': {
        seq = m.frames.length ? m.frames[0].seq : 0;
        const results = feed(m.stream, m.frames);
        self.postMessage({ id: m.id, op: 'fed', results }, results.filter((r) => r.ok).map((r) => r.out.buffer));
        return;
      }
      case 'close':
        ex.hoop_close(m.stream);
        self.postMessage({ id: m.id, op: 'closed' });
        return;
      default:
        self.postMessage({ id: m.id, op: 'fail', error: `unknown op ${m.op}` });
    }
  } catch (e) {
    const error = e instanceof WasiExit ? e.message : `${e && e.name}: ${e && e.message}`;
    if (m.op === 'load') {
      self.postMessage({ id: m.id, op: 'fail', error });
      return;
    }
    ex = null;
    self.postMessage({ id: m.id, op: 'trap', error, seq });
  }
};
