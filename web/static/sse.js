// sse.js: a Server-Sent Events client over fetch() + ReadableStream.
// EventSource cannot send an Authorization header, so the view reads the
// stream itself, sends Last-Event-ID on reconnect and reports a lost
// stream to the page.
import { authHeaders, Unauthorized } from './api.js';

/** Parses text/event-stream incrementally; onEvent(name, data, id). */
export class SSEParser {
  constructor(onEvent) {
    this.onEvent = onEvent;
    this.buf = '';
    this.reset();
    this.lastId = '';
  }

  reset() {
    this.name = '';
    this.data = [];
    this.hasData = false;
  }

  push(text) {
    this.buf += text;
    let start = 0;
    for (;;) {
      const nl = this.buf.indexOf('\n', start);
      if (nl < 0) break;
      let line = this.buf.slice(start, nl);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      start = nl + 1;
      this.line(line);
    }
    this.buf = this.buf.slice(start);
  }

  line(line) {
    if (line === '') {
      if (this.hasData) this.onEvent(this.name || 'message', this.data.join('\n'), this.lastId);
      this.reset();
      return;
    }
    if (line[0] === ':') return; // comment (keep-alive)
    const i = line.indexOf(':');
    const field = i < 0 ? line : line.slice(0, i);
    let value = i < 0 ? '' : line.slice(i + 1);
    if (value[0] === ' ') value = value.slice(1);
    switch (field) {
      case 'event': this.name = value; break;
      case 'data': this.data.push(value); this.hasData = true; break;
      case 'id': if (!value.includes('\0')) this.lastId = value; break;
      default: break; // retry and unknown fields
    }
  }
}

/**
 * Follows an SSE URL until stop() or until done() says the stream is
 * complete. onState('open' | 'lost' | 'closed' | 'unauthorized').
 */
export class EventStream {
  constructor(url, { onEvent, onState, done }) {
    this.url = url;
    this.onEvent = onEvent;
    this.onState = onState || (() => {});
    this.done = done || (() => false);
    this.lastId = '';
    this.stopped = false;
    this.ctrl = null;
  }

  start() {
    this.loop();
    return this;
  }

  stop() {
    this.stopped = true;
    if (this.ctrl) this.ctrl.abort();
  }

  async loop() {
    let backoff = 250;
    while (!this.stopped) {
      this.ctrl = new AbortController();
      try {
        await this.once();
        backoff = 250;
      } catch (e) {
        if (e instanceof Unauthorized) {
          this.onState('unauthorized');
          return;
        }
      }
      if (this.stopped) return;
      if (this.done()) {
        this.onState('closed');
        return;
      }
      this.onState('lost');
      await new Promise((r) => setTimeout(r, backoff));
      backoff = Math.min(backoff * 2, 5000);
    }
  }

  async once() {
    const headers = authHeaders({ Accept: 'text/event-stream' });
    if (this.lastId) headers['Last-Event-ID'] = this.lastId;
    const resp = await fetch(this.url, { headers, signal: this.ctrl.signal, cache: 'no-store' });
    if (resp.status === 401) throw new Unauthorized();
    if (!resp.ok || !resp.body) throw new Error(`stream: ${resp.status}`);
    this.onState('open');
    const parser = new SSEParser((name, data, id) => {
      if (id) this.lastId = id;
      this.onEvent(name, data, id);
    });
    parser.lastId = this.lastId;
    const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      parser.push(value);
    }
  }
}
