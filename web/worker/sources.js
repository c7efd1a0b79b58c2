// sources.js - reading a model's files (text, bytes, a Blob, a Node path, a URL) in chunks, into
// the engine's heap or as text, with progress and cancellation between chunks.

import { SoftpromptError, ErrorCodes, fail } from '../errors.js';
import { IS_NODE, nodeModule, tick, toU8 } from '../env.js';

/** A model file opened for reading: {size (-1 when unknown), name, status, chunks: async generator}. */
export async function openPart(part, job, fetchOptions) {
  if (part.kind === 'text') {
    const b = new TextEncoder().encode(part.text);
    return { size: b.byteLength, name: part.name, status: 'read', chunks: async function* () { yield b; } };
  }
  if (part.kind === 'bytes') {
    const b = toU8(part.bytes);
    return { size: b.byteLength, name: part.name, status: 'read', chunks: async function* () { yield b; } };
  }
  if (part.kind === 'blob') {
    const blob = part.blob;
    return {
      size: blob.size,
      name: part.name,
      status: 'read',
      chunks: async function* () {
        const step = 8 << 20;
        for (let off = 0; off < blob.size; off += step) {
          yield new Uint8Array(await blob.slice(off, Math.min(blob.size, off + step)).arrayBuffer());
        }
      },
    };
  }
  if (part.kind === 'path') {
    if (!IS_NODE) fail(ErrorCodes.SP_ERR_INVALID_ARG, 'file paths can be loaded only under Node');
    const fs = nodeModule('node:fs');
    let st;
    try {
      st = fs.statSync(part.path);
    } catch (e) {
      fail(ErrorCodes.SP_ERR_IO, `cannot read ${part.path}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`);
    }
    if (!st.isFile()) fail(ErrorCodes.SP_ERR_IO, `cannot read ${part.path}: not a file`);
    return {
      size: st.size,
      name: part.path,
      status: 'read',
      path: part.path,
      chunks: async function* () {
        const fd = fs.openSync(part.path, 'r');
        try {
          const step = 8 << 20;
          const buf = new Uint8Array(Math.min(step, Math.max(1, st.size)));
          for (let off = 0; off < st.size;) {
            const n = fs.readSync(fd, buf, 0, Math.min(step, st.size - off), off);
            if (n <= 0) fail(ErrorCodes.SP_ERR_IO, `cannot read ${part.path}: file shrank while reading`);
            off += n;
            yield buf.subarray(0, n);
          }
        } finally {
          fs.closeSync(fd);
        }
      },
    };
  }
  if (part.kind === 'url') return await openUrl(part, job, fetchOptions);
  fail(ErrorCodes.SP_ERR_INVALID_ARG, `unknown model source kind '${part.kind}'`);
}

async function openUrl(part, job, fetchOptions = {}) {
  const url = part.url;
  job.controller = job.controller || new AbortController();
  let cache = null;
  let res = null;
  let status = 'download';
  if (part.cache && typeof caches !== 'undefined') {
    try {
      cache = await caches.open('softprompt-models');
      const hit = await cache.match(url);
      if (hit) {
        res = hit;
        status = 'read';
        cache = null;
      }
    } catch {
      cache = null;
    }
  }
  if (!res) {
    try {
      res = await fetch(url, { ...fetchOptions, signal: job.controller.signal });
    } catch (e) {
      if (job.cancelled) fail(ErrorCodes.SP_ERR_ABORTED, 'model load aborted');
      fail(ErrorCodes.SP_ERR_NETWORK, `cannot download ${url}: ${e?.message ?? e}`);
    }
    if (!res.ok) fail(ErrorCodes.SP_ERR_NETWORK, `HTTP ${res.status}${res.statusText ? ' ' + res.statusText : ''} for ${url}`);
    if (cache && res.body && typeof res.body.tee === 'function') {
      const [a, b] = res.body.tee();
      const headers = new Headers(res.headers);
      cache.put(url, new Response(b, { headers })).catch(() => { /* quota: keep it in memory only */ });
      res = new Response(a, { headers: res.headers, status: res.status });
    }
  }
  const len = Number(res.headers.get('content-length'));
  const encoded = (res.headers.get('content-encoding') || 'identity') !== 'identity';
  const size = Number.isFinite(len) && len >= 0 && !encoded && res.headers.has('content-length') ? len : -1;
  return {
    size,
    name: url,
    status,
    chunks: async function* () {
      if (!res.body) {
        yield new Uint8Array(await res.arrayBuffer());
        return;
      }
      const reader = res.body.getReader();
      try {
        for (;;) {
          let r;
          try {
            r = await reader.read();
          } catch (e) {
            if (job.cancelled) fail(ErrorCodes.SP_ERR_ABORTED, 'model load aborted');
            fail(ErrorCodes.SP_ERR_NETWORK, `download of ${url} failed: ${e?.message ?? e}`);
          }
          if (r.done) return;
          yield r.value;
        }
      } finally {
        reader.releaseLock?.();
      }
    },
  };
}

/** Read a part fully into engine e's heap: {p, size}. p is sp_malloc'd; the caller owns it. */
export async function readIntoHeap(e, opened, job, prog) {
  let p = 0;
  let cap = 0;
  let size = 0;
  const spill = []; // when the size is unknown (or wrong): chunks in JS
  let spilled = opened.size < 0;
  if (!spilled) {
    e.checkRoom(opened.size, baseName(opened.name));
    p = e.malloc(opened.size);
    cap = opened.size;
  }
  try {
    for await (const chunk of opened.chunks()) {
      if (job.cancelled) fail(ErrorCodes.SP_ERR_ABORTED, 'model load aborted');
      if (!spilled && size + chunk.byteLength > cap) {
        // More bytes than announced: keep what we have in JS and go on there.
        spill.push(e.read(p, size));
        e.free(p);
        p = 0;
        spilled = true;
      }
      if (spilled) {
        e.checkRoom(size + chunk.byteLength, baseName(opened.name)); // no size given: stop as soon as it cannot fit
        spill.push(chunk.slice());
      } else e.write(p, chunk, size);
      size += chunk.byteLength;
      prog.loaded += chunk.byteLength;
      prog.report(opened.status, opened.name);
      await tick();
    }
    if (job.cancelled) fail(ErrorCodes.SP_ERR_ABORTED, 'model load aborted');
    prog.report(opened.status, opened.name, true); // the last chunk, always
    if (spilled) {
      p = e.malloc(size);
      let off = 0;
      for (const c of spill) {
        e.write(p, c, off);
        off += c.byteLength;
      }
    } else if (size !== cap) {
      fail(ErrorCodes.SP_ERR_NETWORK, `${opened.name}: got ${size} bytes, expected ${cap}`);
    }
    return { p, size };
  } catch (err) {
    e.free(p);
    throw err;
  }
}

export async function readAsText(e, opened, job, prog) {
  const chunks = [];
  let n = 0;
  for await (const c of opened.chunks()) {
    if (job.cancelled) fail(ErrorCodes.SP_ERR_ABORTED, 'model load aborted');
    e.checkRoom(n + c.byteLength, baseName(opened.name));
    chunks.push(c.slice());
    n += c.byteLength;
    prog.loaded += c.byteLength;
    prog.report(opened.status, opened.name);
  }
  prog.report(opened.status, opened.name, true);
  const all = new Uint8Array(n);
  let off = 0;
  for (const c of chunks) {
    all.set(c, off);
    off += c.byteLength;
  }
  return new TextDecoder().decode(all);
}

/** Run a loader; its errors name the file (or folder / URL) they are about. */
export function withFile(fn, name) {
  try {
    return fn();
  } catch (err) {
    if (err instanceof SoftpromptError && name && !err.message.includes(name)) {
      throw new SoftpromptError(err.code, `${err.message}: ${name}`);
    }
    throw err;
  }
}

export function baseName(name) {
  return String(name ?? '').split(/[\\/]/).pop() || 'the model file';
}

export function hfName(files) {
  const p = files['model.safetensors'];
  const n = p?.path ?? p?.url ?? '';
  return n ? n.replace(/[\\/]?model\.safetensors$/, '') : '';
}
