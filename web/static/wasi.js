// wasi.js: the few wasi_snapshot_preview1 functions a Go wasip1 c-shared
// reactor imports, for hosting decoder plugins in the browser. Plugins get
// no files, no network and no environment: real clocks, real randomness,
// and a console for fds 1 and 2 (so a guest panic is visible). Any import
// not listed here answers ENOSYS instead of failing instantiation.

const ESUCCESS = 0;
const EBADF = 8;
const EINVAL = 28;
const ENOSYS = 52;

/** Thrown by proc_exit so the host can tell an exit from a trap. */
export class WasiExit extends Error {
  constructor(code) {
    super(`wasi: proc_exit(${code})`);
    this.code = code;
  }
}

/**
 * Returns {imports, setMemory}: the import object for instantiate, and the
 * setter the host calls with the instance's exported memory.
 * @param {WebAssembly.Module} module
 * @param {{stdout?: (s: string) => void, stderr?: (s: string) => void}} io
 */
export function wasiImports(module, io = {}) {
  let memory = null;
  // Views are recreated on every access: memory.grow detaches old buffers.
  const dv = () => new DataView(memory.buffer);
  const u8 = () => new Uint8Array(memory.buffer);
  const decoder = new TextDecoder();
  const sinks = {
    1: { write: io.stdout || ((s) => console.log(s)), pending: '' },
    2: { write: io.stderr || ((s) => console.error(s)), pending: '' },
  };
  const nowNs = (id) => {
    const ms = id === 0 ? performance.timeOrigin + performance.now() : performance.now();
    return BigInt(Math.round(ms * 1e6));
  };

  const fns = {
    args_sizes_get(argcPtr, bufSizePtr) {
      const v = dv();
      v.setUint32(argcPtr >>> 0, 0, true);
      v.setUint32(bufSizePtr >>> 0, 0, true);
      return ESUCCESS;
    },
    args_get() { return ESUCCESS; },
    environ_sizes_get(countPtr, bufSizePtr) {
      const v = dv();
      v.setUint32(countPtr >>> 0, 0, true);
      v.setUint32(bufSizePtr >>> 0, 0, true);
      return ESUCCESS;
    },
    environ_get() { return ESUCCESS; },
    clock_res_get(id, resPtr) {
      dv().setBigUint64(resPtr >>> 0, 1000n, true);
      return ESUCCESS;
    },
    // precision arrives as a BigInt (i64) and is ignored.
    clock_time_get(id, _precision, timePtr) {
      if (id < 0 || id > 3) return EINVAL;
      dv().setBigUint64(timePtr >>> 0, nowNs(id === 0 ? 0 : 1), true);
      return ESUCCESS;
    },
    random_get(ptr, len) {
      ptr >>>= 0; len >>>= 0;
      const mem = u8();
      for (let off = 0; off < len; off += 65536) {
        crypto.getRandomValues(mem.subarray(ptr + off, ptr + Math.min(len, off + 65536)));
      }
      return ESUCCESS;
    },
    sched_yield() { return ESUCCESS; },
    proc_exit(code) { throw new WasiExit(code); },
    fd_write(fd, iovs, iovsLen, nwrittenPtr) {
      const sink = sinks[fd];
      if (!sink) return EBADF;
      const v = dv();
      const mem = u8();
      let n = 0;
      for (let i = 0; i < iovsLen; i++) {
        const p = v.getUint32((iovs >>> 0) + i * 8, true);
        const l = v.getUint32((iovs >>> 0) + i * 8 + 4, true);
        sink.pending += decoder.decode(mem.subarray(p, p + l), { stream: true });
        n += l;
      }
      // Line-buffer so a panic's lines arrive whole.
      let nl;
      while ((nl = sink.pending.indexOf('\n')) >= 0) {
        sink.write(sink.pending.slice(0, nl));
        sink.pending = sink.pending.slice(nl + 1);
      }
      v.setUint32(nwrittenPtr >>> 0, n, true);
      return ESUCCESS;
    },
    fd_fdstat_get(fd, statPtr) {
      if (fd > 2) return EBADF;
      const v = dv();
      statPtr >>>= 0;
      v.setUint8(statPtr, 2); // filetype: character device
      v.setUint16(statPtr + 2, 0, true); // flags
      v.setBigUint64(statPtr + 8, 0xffffffffffffffffn, true); // rights base
      v.setBigUint64(statPtr + 16, 0xffffffffffffffffn, true); // rights inheriting
      return ESUCCESS;
    },
    fd_fdstat_set_flags(fd) { return fd > 2 ? EBADF : ESUCCESS; },
    fd_prestat_get() { return EBADF; }, // no preopened directories
    fd_prestat_dir_name() { return EBADF; },
    fd_close(fd) { return fd > 2 ? EBADF : ESUCCESS; },
    // The Go runtime sleeps through poll_oneoff with clock subscriptions.
    // A decoder has nothing to wait for, so every subscription fires at
    // once (Go treats an early wake-up as a spurious one and re-checks).
    poll_oneoff(inPtr, outPtr, nsubs, neventsPtr) {
      const v = dv();
      inPtr >>>= 0; outPtr >>>= 0;
      for (let i = 0; i < nsubs; i++) {
        const sub = inPtr + i * 48;
        const ev = outPtr + i * 32;
        v.setBigUint64(ev, v.getBigUint64(sub, true), true); // userdata
        v.setUint16(ev + 8, ESUCCESS, true); // error
        v.setUint8(ev + 10, v.getUint8(sub + 8)); // type
        for (let k = 11; k < 32; k++) v.setUint8(ev + k, 0);
      }
      v.setUint32(neventsPtr >>> 0, nsubs, true);
      return ESUCCESS;
    },
  };

  const ns = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    if (imp.module !== 'wasi_snapshot_preview1' || imp.kind !== 'function') continue;
    ns[imp.name] = fns[imp.name] || (() => ENOSYS);
  }
  return {
    imports: { wasi_snapshot_preview1: ns },
    setMemory(m) { memory = m; },
  };
}
