// session.js: one session, live or replayed. Raw frames arrive over SSE
// and are decoded in a Worker by the protocol's decoder plugin; the rows
// (statements with their results and errors, policy verdicts, faults,
// frames no decoder understood) go into a virtualised list. A statement
// held for review gets Approve / Reject buttons.
import { getJSON, postJSON, Unauthorized } from './api.js';
import { EventStream } from './sse.js';
import { Decoder, parseEvents } from './decoder.js';
import { decoderFor } from './plugins.js';
import { VList } from './vlist.js';
import { Verdicts } from './verdicts.js';
import { h, offset, duration, when, preview } from './format.js';

const ROW_HEIGHT = 24;
const STATUS_TEXT = {
  connecting: 'Connecting',
  live: 'Live',
  ended: 'Ended',
  lost: 'Stream lost, reconnecting',
  error: 'Error',
};

function b64bytes(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export class SessionView {
  /**
   * @param {HTMLElement} root where to render
   * @param {string} id session id
   * @param {{onUnauthorized: () => void}} hooks
   */
  constructor(root, id, hooks) {
    this.root = root;
    this.id = id;
    this.hooks = hooks;
    this.rows = []; // every row, in arrival order
    this.view = []; // indices into rows that match the filter
    this.filter = '';
    this.statements = 0;
    this.awaiting = []; // statement rows still waiting for a result
    this.current = null; // the row the last result went to, until ReadyForQuery
    this.prepared = new Map(); // prepared statement name -> text
    this.rowByFrame = new Map(); // frame seq -> its first statement row
    this.verdictsByFrame = new Map(); // frame seq -> verdicts that arrived before the frame was decoded
    this.verdicts = null; // places verdicts without a frame seq (created with the session)
    this.framesIn = 0; // frames received
    this.framesOut = 0; // frames decoded (or shown raw)
    this.seenEvents = new Set();
    this.queue = []; // frames waiting for the decoder
    this.decoding = false;
    this.decoder = null;
    this.noDecoder = false;
    this.ended = false;
    this.follow = true;
    this.disposed = false;
    this.build();
  }

  build() {
    this.statusEl = h('span', { class: 'status connecting', 'data-testid': 'session-status', 'data-state': 'connecting' }, STATUS_TEXT.connecting);
    this.countEl = h('span', { class: 'count', 'data-testid': 'query-count' }, '0');
    this.metaEl = h('div', { class: 'meta' });
    this.noteEl = h('div', { class: 'note', hidden: true });
    this.filterEl = h('input', {
      type: 'search', placeholder: 'Filter statements…', 'data-testid': 'filter', 'aria-label': 'Filter statements',
      oninput: () => this.setFilter(this.filterEl.value),
    });
    this.shownEl = h('span', { class: 'muted' });
    this.jumpEl = h('button', { class: 'jump', 'data-testid': 'jump-latest', hidden: true, onclick: () => this.jumpLatest() }, 'Jump to latest ↓');
    this.listEl = h('div', { class: 'stmts', role: 'list', 'aria-label': 'Statements' });
    this.detailEl = h('pre', { class: 'detail', hidden: true });
    this.root.replaceChildren(
      h('div', { class: 'session' },
        h('div', { class: 'bar' },
          h('a', { href: '#/', class: 'back' }, '← Sessions'),
          this.statusEl,
          h('span', { class: 'label' }, 'queries'), this.countEl,
          this.filterEl, this.shownEl),
        this.metaEl, this.noteEl,
        h('div', { class: 'listwrap' }, this.listEl, this.jumpEl),
        this.detailEl),
      this.buildRejectDialog());
    this.list = new VList(this.listEl, ROW_HEIGHT, (i, el) => this.renderRow(i, el));
    this.list.onScroll = () => {
      this.follow = this.list.atBottom();
      if (this.follow) this.jumpEl.hidden = true;
    };
    this.listEl.addEventListener('click', (e) => {
      const btn = e.target.closest('button[data-action]');
      if (btn) {
        const row = this.rows[this.view[Number(btn.closest('.vrow').dataset.index)]];
        if (btn.dataset.action === 'approve') this.decide(row, true, '');
        else this.askReject(row);
        return;
      }
      const row = e.target.closest('.vrow');
      if (row) this.showDetail(this.rows[this.view[Number(row.dataset.index)]]);
    });
  }

  async start() {
    try {
      this.session = await getJSON(`/api/sessions/${encodeURIComponent(this.id)}`);
    } catch (e) {
      if (e instanceof Unauthorized) return this.hooks.onUnauthorized();
      this.setStatus('error', String(e.message || e));
      return;
    }
    this.started = Date.parse(this.session.started_at);
    this.verdicts = new Verdicts(this.started, {
      changed: () => this.touch(),
      orphan: (m) => this.add(this.verdictRow('policy', m)),
    });
    this.renderMeta();
    await this.loadDecoder();
    if (this.disposed) return;
    this.stream = new EventStream(`/api/sessions/${encodeURIComponent(this.id)}/stream`, {
      onEvent: (name, data) => this.onEvent(name, data),
      onState: (s) => {
        if (s === 'lost') this.setStatus('lost');
        if (s === 'unauthorized') this.hooks.onUnauthorized();
      },
      done: () => this.ended,
    }).start();
  }

  async loadDecoder() {
    try {
      const found = await decoderFor(this.session.protocol);
      if (!found) {
        this.noDecoder = true;
        this.note(`No decoder plugin for protocol "${this.session.protocol}": frames are shown raw.`);
        return;
      }
      this.decoder = new Decoder(found.bytes);
      await this.decoder.start();
    } catch (e) {
      if (e instanceof Unauthorized) return this.hooks.onUnauthorized();
      this.noDecoder = true;
      this.decoder = null;
      this.note(`Decoder unavailable (${e.message || e}): frames are shown raw.`);
    }
  }

  dispose() {
    this.disposed = true;
    if (this.stream) this.stream.stop();
    if (this.decoder) this.decoder.stop();
  }

  note(text) {
    this.noteEl.textContent = text;
    this.noteEl.hidden = false;
  }

  renderMeta() {
    const s = this.session;
    const ended = s.ended_at ? new Date(s.ended_at) : null;
    this.metaEl.replaceChildren(
      ...[
        ['identity', `${s.identity} (${s.kind})`], ['resource', s.resource], ['role', s.role],
        ['protocol', s.protocol], ['database', s.database], ['client', s.client_addr],
        ['started', when(new Date(s.started_at))],
        ['duration', duration(new Date(s.started_at), ended)],
        ['end', s.end_reason], ['fault', s.fault],
      ].filter(([, v]) => v).map(([k, v]) => h('span', {}, h('b', {}, k), ' ', v)));
  }

  setStatus(state, reason) {
    this.statusEl.dataset.state = state;
    this.statusEl.className = `status ${state}`;
    this.statusEl.textContent = STATUS_TEXT[state] + (reason ? ` · ${reason}` : '');
  }

  onEvent(name, data) {
    let m;
    try { m = JSON.parse(data); } catch { return; }
    switch (name) {
      case 'status':
        if (m.status === 'ended') {
          this.ended = true;
          if (this.session) {
            this.session.status = 'ended';
            this.session.end_reason = m.reason || this.session.end_reason;
            if (!this.session.ended_at) this.session.ended_at = new Date().toISOString();
            this.renderMeta();
          }
        }
        this.setStatus(m.status in STATUS_TEXT ? m.status : 'connecting', m.reason);
        break;
      case 'frame':
        this.framesIn++;
        this.queue.push({ seq: m.seq, dir: m.dir === 's2c' ? 1 : 0, bytes: b64bytes(m.b64), t: Date.parse(m.t), tn: this.verdicts.nanos(m.t) });
        this.pump();
        break;
      case 'policy':
      case 'fault':
        if (this.seenEvents.has(m.seq)) return;
        this.seenEvents.add(m.seq);
        this.onVerdict(name, m);
        break;
      default:
        break;
    }
  }

  // onVerdict shows a policy verdict on the statement it decided on: by
  // its frame seq when it has one (now, or when that frame is decoded),
  // else as verdicts.js places it. Faults get their own row.
  onVerdict(name, m) {
    if (name !== 'policy') return this.add(this.verdictRow(name, m));
    if (!m.frame_seq) return this.verdicts.add(m, this.framesIn, this.framesOut);
    const row = this.rowByFrame.get(m.frame_seq);
    if (row) return this.verdicts.place(m, row);
    const list = this.verdictsByFrame.get(m.frame_seq) || [];
    list.push(m);
    this.verdictsByFrame.set(m.frame_seq, list);
  }

  verdictRow(name, m) {
    const text = `${m.kind}${m.rule ? ` [${m.rule}]` : ''}${m.risk ? ` risk ${m.risk}` : ''}`;
    return { kind: name, t: Date.parse(m.t) - this.started, text: `${text}: ${m.text || m.detail || ''}`, full: JSON.stringify(m, null, 2) };
  }

  // pump decodes queued frames in batches, one batch at a time, in order.
  async pump() {
    if (this.decoding) return;
    this.decoding = true;
    try {
      while (this.queue.length && !this.disposed) {
        const batch = this.queue.splice(0, 500);
        if (!this.decoder) {
          for (const f of batch) this.addRaw(f, '');
          this.decoded(batch.length);
          continue;
        }
        let results;
        try {
          results = await this.decoder.feed(batch);
        } catch (e) {
          this.note(`Decoder failed (${e.message || e}): frames are shown raw from here on.`);
          this.decoder.stop();
          this.decoder = null;
          for (const f of batch) this.addRaw(f, '');
          this.decoded(batch.length);
          continue;
        }
        for (let i = 0; i < batch.length; i++) this.applyResult(batch[i], results[i]);
        this.decoded(batch.length);
      }
    } finally {
      this.decoding = false;
    }
  }

  // decoded counts frames out of the decoder and places the verdicts that
  // waited for them.
  decoded(n) {
    this.framesOut += n;
    this.verdicts.flush(this.framesOut);
  }

  addRaw(f, why) {
    this.add({
      kind: 'raw', t: f.t - this.started, dir: f.dir ? 's2c' : 'c2s',
      text: `${f.dir ? 's2c' : 'c2s'} ${f.bytes.length} B ${preview(f.bytes)}`,
      full: `frame ${f.seq} (${f.dir ? 's2c' : 'c2s'}, ${f.bytes.length} bytes)${why ? `\nnot decoded: ${why}` : ''}\n\n${preview(f.bytes, 4096)}`,
    });
  }

  applyResult(f, r) {
    if (!r || !r.ok) {
      this.addRaw(f, r ? r.error : 'no result');
      return;
    }
    const t = f.t - this.started;
    for (const ev of parseEvents(r.out)) {
      switch (ev.type) {
        case 'statement': {
          this.statements++;
          const row = { kind: 'statement', t, tn: f.tn, text: ev.text || '', seq: f.seq, full: ev.text || '', name: ev.name };
          if (ev.truncated) row.full += '\n(truncated by the decoder)';
          if (ev.proto === 'extended' && ev.name) this.prepared.set(ev.name, ev.text || '');
          this.awaiting.push(row);
          this.add(row);
          this.verdicts.statement(row);
          if (!this.rowByFrame.has(f.seq)) {
            this.rowByFrame.set(f.seq, row);
            for (const m of this.verdictsByFrame.get(f.seq) || []) this.verdicts.place(m, row);
            this.verdictsByFrame.delete(f.seq);
          }
          break;
        }
        case 'bind': {
          // A Bind of a statement parsed just before belongs to that row;
          // a Bind of an earlier prepared statement is a re-execution.
          const name = ev.statement || '';
          const params = ev.params ? `\nparams: ${JSON.stringify(ev.params)}` : '';
          const last = this.awaiting[this.awaiting.length - 1];
          if (last && last.kind === 'statement' && (last.name || '') === name && !last.bound) {
            last.bound = true;
            last.full += params;
          } else {
            const text = this.prepared.get(name);
            const row = { kind: 'exec', t, text: `exec ${text !== undefined ? text : name}`, full: `execute prepared statement ${name || '(unnamed)'}\n${text || ''}${params}`, bound: true };
            this.awaiting.push(row);
            this.add(row);
          }
          break;
        }
        case 'result': {
          const row = this.awaiting.shift();
          const tag = ev.tag || (ev.rows !== undefined ? `${ev.rows} rows` : 'ok');
          if (row) {
            row.tag = tag;
            this.current = row;
          } else if (this.current) {
            this.current.tag += `; ${tag}`; // several statements in one simple Query
          }
          this.touch();
          break;
        }
        case 'error': {
          const msg = `${ev.severity || 'ERROR'} ${ev.code || ''} ${ev.message || ''}`.replace(/\s+/g, ' ').trim();
          const row = this.awaiting.shift() || (ev.dir === 's2c' ? this.current : null);
          if (row) {
            row.error = msg;
            row.full += `\n\n${JSON.stringify(ev, null, 2)}`;
            this.current = row;
            this.touch();
          } else {
            this.add({ kind: 'error', t, text: msg, full: JSON.stringify(ev, null, 2) });
          }
          break;
        }
        case 'other':
          // ReadyForQuery ends a request cycle: whatever still waits for a
          // result (the rest of a failed query) will never get one.
          if (ev.msg === 'ready') {
            this.awaiting = [];
            this.current = null;
          }
          break;
        case 'startup':
        case 'terminate': {
          const { dir, type, ...rest } = ev;
          const detail = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : v}`).join(' ');
          this.add({ kind: 'info', t, text: `${type} ${detail}`.trim(), full: JSON.stringify(ev, null, 2) });
          break;
        }
        default:
          break;
      }
    }
  }

  matches(row) {
    if (!this.filter) return true;
    return [row.text, row.error, row.policy].some((v) => v && v.toLowerCase().includes(this.filter));
  }

  add(row) {
    const i = this.rows.push(row) - 1;
    if (this.matches(row)) this.view.push(i);
    this.touch();
  }

  // touch schedules one repaint for any number of changes.
  touch() {
    if (this.touched) return;
    this.touched = true;
    requestAnimationFrame(() => {
      this.touched = false;
      this.countEl.textContent = String(this.statements);
      if (this.detailRow) this.showDetail(this.detailRow);
      this.shownEl.textContent = this.filter ? `${this.view.length} of ${this.rows.length} rows` : '';
      const grew = this.view.length !== this.list.count;
      this.list.setCount(this.view.length);
      if (grew && this.follow) this.list.scrollToEnd();
      else if (grew) this.jumpEl.hidden = false;
    });
  }

  setFilter(text) {
    this.filter = text.trim().toLowerCase();
    this.view = [];
    for (let i = 0; i < this.rows.length; i++) if (this.matches(this.rows[i])) this.view.push(i);
    this.list.count = -1; // force a redraw
    this.follow = true;
    this.touch();
  }

  jumpLatest() {
    this.follow = true;
    this.jumpEl.hidden = true;
    this.list.scrollToEnd();
  }

  renderRow(i, el) {
    const row = this.rows[this.view[i]];
    if (!row) return;
    const v = row.verdict;
    el.className = `vrow ${row.kind}${row.error ? ' failed' : ''}${row.policyKind ? ` verdict-${row.policyKind}` : ''}`;
    el.dataset.testid = row.kind === 'statement' ? 'statement' : row.kind;
    el.title = row.full || row.text;
    const pending = v && v.kind === 'held' && v.status === 'pending' && !this.ended;
    el.replaceChildren(
      h('span', { class: 'off' }, offset(row.t)),
      h('span', { class: 'txt' }, row.text.replace(/\s+/g, ' ')),
      row.policy ? h('span', { class: `pol ${row.policyKind}`, 'data-testid': 'verdict', 'data-kind': row.policyKind, 'data-review': v && v.review }, row.policy) : '',
      pending ? h('span', { class: 'decide' },
        h('button', { class: 'approve', 'data-action': 'approve', 'data-testid': 'review-approve', disabled: !!row.deciding }, 'Approve'),
        h('button', { class: 'reject', 'data-action': 'reject', 'data-testid': 'review-reject', disabled: !!row.deciding }, 'Reject')) : '',
      h('span', { class: row.error ? 'res err' : 'res' }, row.error || row.tag || ''));
  }

  // decide approves or rejects the review held on row; the badge changes
  // when the stream brings the approved or rejected event.
  async decide(row, approve, reason) {
    const v = row && row.verdict;
    if (!v || !v.review || row.deciding) return;
    row.deciding = true;
    this.touch();
    try {
      await postJSON(`/api/reviews/${encodeURIComponent(v.review)}/${approve ? 'approve' : 'reject'}`, { by: 'audit view', reason });
    } catch (e) {
      if (e instanceof Unauthorized) return this.hooks.onUnauthorized();
      row.deciding = false;
      this.note(e.status === 409 ? `Review ${v.review} was already decided.` : `Could not ${approve ? 'approve' : 'reject'} ${v.review}: ${e.message || e}`);
      this.touch();
    }
  }

  buildRejectDialog() {
    this.rejectReason = h('input', { type: 'text', placeholder: 'Reason (optional)', 'data-testid': 'review-reason', 'aria-label': 'Reason for rejecting' });
    this.rejectStmt = h('pre', { class: 'stmt' });
    this.rejectDialog = h('dialog', { class: 'reject', 'data-testid': 'reject-dialog' },
      h('form', {
        method: 'dialog',
        onsubmit: (e) => {
          const row = this.rejecting;
          this.rejecting = null;
          if (e.submitter && e.submitter.value === 'reject' && row) this.decide(row, false, this.rejectReason.value.trim());
        },
      },
      h('h1', {}, 'Reject this statement?'),
      this.rejectStmt,
      this.rejectReason,
      h('div', { class: 'actions' },
        h('button', { value: 'cancel', formnovalidate: true }, 'Cancel'),
        h('button', { value: 'reject', class: 'reject', 'data-testid': 'review-reject-confirm' }, 'Reject'))));
    return this.rejectDialog;
  }

  askReject(row) {
    if (!row || !row.verdict) return;
    this.rejecting = row;
    this.rejectStmt.textContent = `${row.text}\n\n${row.policy}`;
    this.rejectReason.value = '';
    this.rejectDialog.showModal();
    this.rejectReason.focus();
  }

  showDetail(row) {
    if (!row) return;
    this.detailRow = row; // redrawn by touch() while it changes (a verdict, a result)
    const lines = [`${offset(row.t)}  ${row.kind}`, '', row.full || row.text];
    if (row.policy) lines.splice(2, 0, `verdict: ${row.policy}`, '');
    if (row.tag) lines.push('', `result: ${row.tag}`);
    if (row.error) lines.push('', `error: ${row.error}`);
    this.detailEl.textContent = lines.join('\n');
    this.detailEl.hidden = false;
  }
}
