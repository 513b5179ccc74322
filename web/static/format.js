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
