// app.js: the audit view's shell: sign-in with the admin token, the
// session list (live first, then recent; polled every 2 s, with the
// reviews still pending) and routing to a session (#/s/<id>).
import { token, getJSON, Unauthorized } from './api.js';
import { SessionView } from './session.js';
import { h, when, duration } from './format.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
let current = null; // the active view, disposed on navigation

function signOut() {
  token.clear();
  route();
}

function renderNav() {
  nav.replaceChildren(token.get()
    ? h('button', { class: 'link', 'data-testid': 'sign-out', onclick: signOut }, 'Sign out')
    : '');
}

function signIn(message) {
  token.clear();
  renderNav();
  const input = h('input', {
    type: 'password', 'data-testid': 'token-input', placeholder: 'Admin token', autocomplete: 'off', 'aria-label': 'Admin token', required: true,
  });
  const err = h('p', { class: 'error', hidden: !message }, message || '');
  const form = h('form', {
    class: 'signin',
    onsubmit: async (e) => {
      e.preventDefault();
      token.set(input.value.trim());
      try {
        await getJSON('/api/sessions?status=live');
        route();
      } catch (ex) {
        token.clear();
        err.textContent = ex instanceof Unauthorized ? 'That token was rejected.' : `Cannot reach the API: ${ex.message}`;
        err.hidden = false;
      }
    },
  },
  h('h1', {}, 'Sign in'),
  h('p', { class: 'muted' }, 'Paste the admin token printed by hoop serve (or hoop admin token).'),
  input,
  h('button', { type: 'submit', 'data-testid': 'sign-in' }, 'Sign in'),
  err);
  main.replaceChildren(form);
  input.focus();
}

class ListView {
  constructor(root) {
    this.root = root;
    this.identity = h('input', { type: 'search', placeholder: 'identity', 'data-testid': 'filter-identity', 'aria-label': 'Filter by identity', oninput: () => this.draw() });
    this.resource = h('input', { type: 'search', placeholder: 'resource', 'data-testid': 'filter-resource', 'aria-label': 'Filter by resource', oninput: () => this.draw() });
    this.body = h('tbody');
    this.info = h('span', { class: 'muted' });
    this.sessions = [];
    this.reviews = [];
    this.pending = h('div', { class: 'pending', 'data-testid': 'pending-reviews', hidden: true });
    root.replaceChildren(h('div', { class: 'list' },
      h('div', { class: 'bar' }, h('h1', {}, 'Sessions'), this.identity, this.resource, this.info),
      this.pending,
      h('table', { class: 'sessions' },
        h('thead', {}, h('tr', {}, ...['Status', 'Identity', 'Kind', 'Resource', 'Role', 'Started', 'Duration', 'Statements'].map((c) => h('th', {}, c)))),
        this.body)));
  }

  start() {
    this.poll();
    this.timer = setInterval(() => this.poll(), 2000);
  }

  dispose() { clearInterval(this.timer); }

  async poll() {
    const [sessions, reviews] = await Promise.allSettled([getJSON('/api/sessions'), getJSON('/api/reviews?status=pending')]);
    if ([sessions, reviews].some((r) => r.status === 'rejected' && r.reason instanceof Unauthorized)) {
      return signIn('Your token is no longer accepted.');
    }
    if (sessions.status === 'fulfilled') {
      this.sessions = sessions.value.sessions || [];
      this.error = '';
    } else {
      this.error = `refresh failed: ${sessions.reason.message}`;
    }
    // A gateway without the review API has no pending reviews to show.
    this.reviews = reviews.status === 'fulfilled' ? reviews.value.reviews || [] : [];
    this.draw();
  }

  // drawPending lists the statements waiting for a person, oldest first,
  // each linking to its session.
  drawPending() {
    const list = [...this.reviews].sort((a, b) => Date.parse(a.created_at) - Date.parse(b.created_at));
    this.pending.hidden = !list.length;
    this.pending.replaceChildren(
      h('h2', {}, `Pending reviews (${list.length})`),
      ...list.map((r) => h('a', { href: `#/s/${encodeURIComponent(r.session)}`, 'data-testid': 'pending-review', 'data-id': r.id, 'data-session': r.session, title: `${r.statement}\n\n${r.reason}` },
        h('span', { class: 'risk' }, `risk ${r.risk}`),
        h('span', {}, `${r.policy}/${r.rule}`),
        h('span', {}, r.identity),
        h('span', { class: 'stmt' }, r.statement.replace(/\s+/g, ' ')),
        h('span', { class: 'muted' }, `waiting ${duration(new Date(r.created_at))}`))));
  }

  draw() {
    this.drawPending();
    const held = new Map();
    for (const r of this.reviews) held.set(r.session, (held.get(r.session) || 0) + 1);
    const fi = this.identity.value.trim().toLowerCase();
    const fr = this.resource.value.trim().toLowerCase();
    const rows = this.sessions
      .filter((s) => (!fi || s.identity.toLowerCase().includes(fi)) && (!fr || s.resource.toLowerCase().includes(fr)))
      .sort((a, b) => ((a.status === 'ended') - (b.status === 'ended')) || (Date.parse(b.started_at) - Date.parse(a.started_at)));
    this.info.textContent = this.error || `${rows.length} of ${this.sessions.length}`;
    this.body.replaceChildren(...rows.map((s) => {
      const started = new Date(s.started_at);
      const ended = s.ended_at ? new Date(s.ended_at) : null;
      const open = () => { location.hash = `#/s/${encodeURIComponent(s.id)}`; };
      return h('tr', {
        'data-testid': 'session-row', 'data-id': s.id, 'data-status': s.status, class: s.status, tabindex: 0,
        onclick: open, onkeydown: (e) => { if (e.key === 'Enter') open(); },
      },
      h('td', {}, h('span', { class: `status ${s.status}` }, s.status === 'ended' ? `ended${s.end_reason ? ` · ${s.end_reason}` : ''}` : s.status), s.fault ? h('span', { class: 'fault', title: s.fault }, ' ⚠') : '',
        held.get(s.id) ? h('span', { class: 'held-count', 'data-testid': 'session-held' }, `${held.get(s.id)} held`) : ''),
      h('td', {}, s.identity),
      h('td', {}, s.kind),
      h('td', {}, s.resource),
      h('td', {}, s.role),
      h('td', {}, when(started)),
      h('td', {}, duration(started, ended)),
      h('td', { class: 'num' }, String(s.statements)));
    }));
    if (!rows.length) this.body.append(h('tr', {}, h('td', { colspan: 8, class: 'muted' }, 'No sessions.')));
  }
}

function route() {
  if (current) current.dispose();
  current = null;
  if (!token.get()) return signIn();
  renderNav();
  const m = location.hash.match(/^#\/s\/(.+)$/);
  if (m) {
    current = new SessionView(main, decodeURIComponent(m[1]), { onUnauthorized: () => signIn('Your token is no longer accepted.') });
  } else {
    current = new ListView(main);
  }
  current.start();
}

window.addEventListener('hashchange', route);
route();
