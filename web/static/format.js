// format.js: small display helpers shared by the views.

/** "+1:02.345" style offset of t (ms) from start (ms). */
export function offset(ms) {
  if (!(ms >= 0)) ms = 0;
  const h = Math.floor(ms / 3600000);
  const m = Math.floor(ms / 60000) % 60;
  const s = ((ms % 60000) / 1000).toFixed(3).padStart(6, '0');
  return h ? `+${h}:${String(m).padStart(2, '0')}:${s}` : `+${m}:${s}`;
}

/** Human duration between two Dates (or until now). */
export function duration(from, to) {
  let s = Math.max(0, Math.round(((to || new Date()) - from) / 1000));
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (h) return `${h}h ${String(m).padStart(2, '0')}m`;
  if (m) return `${m}m ${String(s).padStart(2, '0')}s`;
  return `${s}s`;
}

/** Local date-time without seconds' fractions. */
export function when(d) {
  if (!d || isNaN(d)) return '';
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/** Hex and printable preview of bytes, for frames no decoder understood. */
export function preview(bytes, max = 64) {
  const b = bytes.subarray(0, max);
  const hexs = [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');
  const text = [...b].map((x) => (x >= 32 && x < 127 ? String.fromCharCode(x) : '.')).join('');
  return `${hexs}${bytes.length > max ? ' …' : ''}  |${text}|`;
}

/** Creates an element: h('div', {class: 'x', 'data-testid': 'y'}, ...children). */
export function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat()) {
    if (kid !== undefined && kid !== null && kid !== false) el.append(kid instanceof Node ? kid : String(kid));
  }
  return el;
}

/**
 * Nanoseconds of an RFC 3339 time (any number of fraction digits, as Go's
 * RFC3339Nano writes them) since base (ms, whole seconds are kept exact).
 * Date.parse keeps only milliseconds; ordering a verdict after the frame it
 * decided on needs more.
 */
export function nanosSince(t, baseMs) {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/.exec(t || '');
  if (!m) return NaN;
  const secs = Date.parse(m[1] + m[3]);
  const frac = Number((m[2] || '').slice(0, 9).padEnd(9, '0'));
  return (secs - Math.floor(baseMs / 1000) * 1000) * 1e6 + frac;
}

/**
 * Splits a policy event's detail into the review id and the rest: held
 * events carry "<review id>: <reason>", approved and rejected ones
 * "<review id>: <status>[ by <who>][: <note>]".
 */
export function parseReview(kind, detail) {
  const d = detail || '';
  const i = d.indexOf(': ');
  const id = i > 0 ? d.slice(0, i) : d;
  if (!/^[\w-]+$/.test(id)) return null;
  const rest = i > 0 ? d.slice(i + 2) : '';
  if (kind === 'held') return { id, reason: rest };
  const m = /^([a-z_]+)(?: by (.*?))?(?:: ([\s\S]*))?$/.exec(rest);
  if (!m) return { id, status: kind };
  return { id, status: m[1], by: m[2] || '', note: m[3] || '' };
}

/**
 * The badge of a policy verdict: "blocked — risk 90 — guardrail/no-drop —
 * reason", "held — …", "approved by alice — planned cleanup".
 */
export function verdictText(v) {
  const parts = [];
  switch (v.kind) {
    case 'approved':
    case 'rejected': {
      let head = v.status && v.status !== v.kind ? `${v.kind} (${v.status.replace(/_/g, ' ')})` : v.kind;
      if (v.by) head += ` by ${v.by}`;
      parts.push(head);
      if (v.rule) parts.push(v.rule);
      if (v.note) parts.push(v.note);
      break;
    }
    default:
      parts.push(v.kind);
      if (v.risk) parts.push(`risk ${v.risk}`);
      if (v.rule) parts.push(v.rule);
      if (v.reason) parts.push(v.reason);
  }
  return parts.join(' — ');
}
