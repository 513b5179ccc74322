// decoder.js: drives worker.js from the page. One Decoder decodes one
// session's frames in order. A Worker that traps or does not answer within
// the deadline is terminated and replaced; the replacement is brought back
// to the same stream state by re-feeding every frame fed since the stream
// was opened (their output is discarded), and the frame that killed the old
// one is reported as failed so the page shows it raw instead of losing it.

const workerURL = new URL('./worker.js', import.meta.url);

export class Decoder {
  /**
   * @param {ArrayBuffer} wasm module bytes (already verified by the caller)
   * @param {{deadlineMs?: number, config?: string}} opts
   */
  constructor(wasm, opts = {}) {
    this.wasm = wasm;
    this.deadlineMs = opts.deadlineMs || 3000;
    this.config = opts.config || '';
    this.history = []; // frames fed to the current stream, in order
    this.restarts = 0;
    this.manifest = null;
    this.queue = Promise.resolve();
    this.nextId = 1;
  }

  /** Starts the Worker and opens the stream; resolves with the manifest. */
  start() {
    return this.enqueue(() => this.boot());
  }

  /**
   * Decodes frames ({seq, dir: 0|1, bytes: Uint8Array}) in order and
   * resolves with one result per frame: {seq, ok, out?: Uint8Array, error?}.
   */
  feed(frames) {
    return this.enqueue(() => this.feedNow(frames));
  }

  /** Terminates the Worker. */
  stop() {
    if (this.worker) this.worker.terminate();
    this.worker = null;
  }

  enqueue(fn) {
    const p = this.queue.then(fn);
    this.queue = p.catch(() => {});
    return p;
  }

  async boot() {
    this.stop();
    this.worker = new Worker(workerURL, { type: 'module' });
    const wasm = this.wasm.slice(0); // the copy is transferred
    const ready = await this.call({ op: 'load', wasm }, [wasm]);
    if (ready.op !== 'ready') throw new Error(`decoder load: ${ready.error}`);
    this.manifest = ready.manifest;
    const opened = await this.call({ op: 'open', config: this.config });
    if (opened.op !== 'opened') throw new Error(`decoder open: ${opened.error}`);
    this.stream = opened.stream;
    return this.manifest;
  }

  // call posts one request and waits for its answer, or terminates the
  // Worker when the deadline passes.
  call(msg, transfer = []) {
    const worker = this.worker;
    const id = this.nextId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        worker.removeEventListener('message', onMsg);
        worker.terminate();
        resolve({ op: 'timeout', error: `decoder did not answer within ${this.deadlineMs} ms` });
      }, this.deadlineMs);
      const onMsg = (ev) => {
        if (ev.data.id !== id) return;
        clearTimeout(timer);
        worker.removeEventListener('message', onMsg);
        resolve(ev.data);
      };
      worker.addEventListener('message', onMsg);
      worker.onerror = (e) => {
        clearTimeout(timer);
        worker.removeEventListener('message', onMsg);
        resolve({ op: 'trap', error: e.message || 'worker error' });
      };
      worker.postMessage({ ...msg, id }, transfer);
    });
  }

  async feedNow(frames) {
    if (!frames.length) return [];
    const r = await this.call({ op: 'feed', stream: this.stream, frames });
    if (r.op === 'fed') {
      this.history.push(...frames);
      return r.results;
    }
    // The Worker is gone. Rebuild it, then find the culprit frame by frame.
    await this.recover(r.error);
    const results = [];
    for (const f of frames) {
      const one = await this.call({ op: 'feed', stream: this.stream, frames: [f] });
      if (one.op === 'fed') {
        this.history.push(f);
        results.push(one.results[0]);
      } else {
        results.push({ seq: f.seq, ok: false, error: `decoder fault: ${one.error}` });
        await this.recover(one.error);
      }
    }
    return results;
  }

  // recover starts a fresh Worker at the state the old one had.
  async recover(why) {
    this.restarts++;
    console.warn(`decoder worker restarted (${why})`);
    await this.boot();
    if (!this.history.length) return;
    const r = await this.call({ op: 'feed', stream: this.stream, frames: this.history });
    if (r.op !== 'fed') throw new Error(`decoder replay failed: ${r.error}`);
  }
}

const utf8 = new TextDecoder();

/** Splits decoder JSON Lines output into parsed events. */
export function parseEvents(bytes) {
  if (!bytes.length) return [];
  const text = utf8.decode(bytes);
  const events = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    try {
      events.push(JSON.parse(line));
    } catch {
      events.push({ type: 'other', invalid: line });
    }
  }
  return events;
}
