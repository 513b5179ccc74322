// plugins.js: finds the decoder plugin for a protocol, downloads its .wasm
// and verifies its SHA-256 digest before anything instantiates it.
import { getJSON, getBytes } from './api.js';
import { sha256 } from './sha256.js';

const cache = new Map(); // plugin name -> Promise<{plugin, bytes}>

export function hex(buf) {
  return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('');
}

/** SHA-256 of bytes as lowercase hex (WebCrypto, or the JS fallback on plain-http origins). */
export async function digest(bytes) {
  if (globalThis.crypto && crypto.subtle) return hex(await crypto.subtle.digest('SHA-256', bytes));
  return hex(sha256(new Uint8Array(bytes)));
}

/**
 * Resolves with {plugin, bytes} for the decoder of protocol, or null when
 * no decoder is installed for it. Rejects when the digest does not match.
 */
export async function decoderFor(protocol) {
  const { plugins } = await getJSON('/api/plugins');
  const plugin = (plugins || []).find((p) => p.kind === 'decoder' && (p.protocols || []).includes(protocol));
  if (!plugin) return null;
  if (!cache.has(plugin.name)) {
    const p = (async () => {
      const { bytes, headers } = await getBytes(`/plugins/${encodeURIComponent(plugin.name)}.wasm`);
      const got = await digest(bytes);
      const want = (plugin.digest || '').toLowerCase();
      const header = (headers.get('X-Hoop-Digest') || '').toLowerCase();
      if (got !== want || (header && header !== want)) {
        throw new Error(`plugin ${plugin.name}: digest ${got} does not match ${want || '(none)'}; refusing to run it`);
      }
      return { plugin, bytes };
    })();
    p.catch(() => cache.delete(plugin.name));
    cache.set(plugin.name, p);
  }
  return cache.get(plugin.name);
}
