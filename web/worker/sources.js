// sources.js - reading a model's files (text, bytes, a Blob, a Node path, a URL) in chunks, into
// the engine's heap or as text, with progress and cancellation between chunks.

import { SoftpromptError, ErrorCodes, fail } from '../errors.js';
import { IS_NODE, nodeModule, tick, toU8 } from '../env.js';
import { ModelCache, cacheAvailable, validators, isCurrent } from '../cache.js';

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

/** Bytes of a body (a Response's or a Blob's), in chunks. */
async function* bodyChunks(body) {
  if (typeof body.getReader !== 'function') { // a Blob (OPFS)
    const step = 8 << 20;
    for (let off = 0; off < body.size; off += step) yield new Uint8Array(await body.slice(off, Math.min(body.size, off + step)).arrayBuffer());
    return;
  }
  const reader = body.getReader();
  try {
    for (;;) {
      const r = await reader.read();
      if (r.done) return;
      yield r.value;
    }
  } finally {
    reader.releaseLock?.();
  }
}

const RESUME_TRIES = 3;

/** The size a response announces, or -1 (none, or a content encoding). */
function announcedSize(res) {
  const len = Number(res.headers.get('content-length'));
  const encoded = (res.headers.get('content-encoding') || 'identity') !== 'identity';
  return Number.isFinite(len) && len >= 0 && !encoded && res.headers.has('content-length') ? len : -1;
}

async function fetchOrFail(url, init, job) {
  let res;
  try {
    res = await fetch(url, { ...init, signal: job.controller.signal });
  } catch (e) {
    if (job.cancelled) fail(ErrorCodes.SP_ERR_ABORTED, 'model load aborted');
    fail(ErrorCodes.SP_ERR_NETWORK, `cannot download ${url}: ${e?.message ?? e}`);
  }
  return res;
}

/**
 * A URL: from the model cache when it holds the file the server still has (same ETag or
 * Last-Modified by a HEAD request; offline, the cached copy as is), else downloaded, into the
 * cache as it arrives. A download cut off half way is resumed with a Range request (If-Range on
 * the validator) where the server supports ranges, up to RESUME_TRIES times.
 * part.cache: 'cache' (the Cache API), 'opfs', or 'none'/undefined.
 */
async function openUrl(part, job, fetchOptions = {}) {
  const url = part.url;
  job.controller = job.controller || new AbortController();
  const store = part.cache && part.cache !== 'none' && cacheAvailable(part.cache) ? new ModelCache(part.cache) : null;
  if (store) {
    const hit = await store.get(url).catch(() => null);
    if (hit) {
      let current = true; // offline, or a server without HEAD: the copy we have
      try {
        const head = await fetch(url, { ...fetchOptions, method: 'HEAD', signal: job.controller.signal });
        if (head.ok) current = isCurrent(hit.entry, validators(head.headers));
      } catch {
        if (job.cancelled) fail(ErrorCodes.SP_ERR_ABORTED, 'model load aborted');
      }
      if (current) {
        const body = hit.response ? hit.response.body : hit.blob;
        return { size: hit.entry.size ?? -1, name: url, status: 'read', cached: true, chunks: () => bodyChunks(body) };
      }
      await store.delete(url).catch(() => {});
    }
  }
  const res = await fetchOrFail(url, fetchOptions, job);
  if (!res.ok) fail(ErrorCodes.SP_ERR_NETWORK, `HTTP ${res.status}${res.statusText ? ' ' + res.statusText : ''} for ${url}`);
  const size = announcedSize(res);
  const v = validators(res.headers);
  const ranges = /\bbytes\b/i.test(res.headers.get('accept-ranges') || '') && size > 0;
  return {
    size,
    name: url,
    status: 'download',
    chunks: async function* () {
      if (!res.body) {
        yield new Uint8Array(await res.arrayBuffer());
        return;
      }
      const writer = store && size >= 0 ? await store.writer(url, { size, ...v }).catch(() => null) : null;
      let stored = false;
      let got = 0;
      let tries = 0;
      let body = res.body;
      try {
        for (;;) {
          try {
            for await (const chunk of bodyChunks(body)) {
              got += chunk.byteLength;
              writer?.write(chunk);
              yield chunk;
            }
            break;
          } catch (e) {
            if (job.cancelled) fail(ErrorCodes.SP_ERR_ABORTED, 'model load aborted');
            if (e instanceof SoftpromptError) throw e;
            if (!ranges || got >= size || tries >= RESUME_TRIES) {
              fail(ErrorCodes.SP_ERR_NETWORK, `download of ${url} failed after ${got} of ${size < 0 ? '?' : size} bytes`
                + `${tries ? ` and ${tries} resumed tries` : ''}: ${e?.message ?? e}`);
            }
            tries++;
            await new Promise((r) => setTimeout(r, 200 * 2 ** tries));
            const headers = { ...(fetchOptions.headers ?? {}), Range: `bytes=${got}-` };
            if (v.etag || v.lastModified) headers['If-Range'] = v.etag || v.lastModified;
            const again = await fetchOrFail(url, { ...fetchOptions, headers }, job);
            const from = /^bytes (\d+)-/.exec(again.headers.get('content-range') || '');
            if (again.status !== 206 || !from || Number(from[1]) !== got || !again.body) {
              fail(ErrorCodes.SP_ERR_NETWORK, `download of ${url} failed after ${got} of ${size} bytes, and the server did not resume it (HTTP ${again.status})`);
            }
            body = again.body;
          }
        }
        if (writer && got === size) {
          await writer.close().catch(() => { /* quota: the model is loaded, just not kept */ });
          stored = true;
        }
      } finally {
        if (writer && !stored) writer.abort();
      }
    },
  };
}

/**
 * The first n bytes of an opened part (all of it when it is shorter), read once: from then on the
 * part's chunks() gives those bytes again before the rest, so the file is still read, or
 * downloaded, only once. Called again with a larger n it reads on. part.close() ends the reading
 * (closes the file) when the rest is not wanted. prog counts the bytes as they arrive (readIntoHeap
 * then counts only the bytes after them).
 */
export async function readHead(opened, n, job, prog) {
  if (!opened.head) {
    const it = opened.chunks()[Symbol.asyncIterator]();
    const got = [];
    opened.head = { it, got, have: 0, done: false, counted: 0 };
    opened.chunks = async function* () {
      for (let i = 0; i < got.length; i++) yield got[i];
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    };
    opened.close = () => it.return?.();
  }
  const h = opened.head;
  while (h.have < n && !h.done) {
    if (job?.cancelled) fail(ErrorCodes.SP_ERR_ABORTED, 'model load aborted');
    const r = await h.it.next();
    if (r.done) h.done = true;
    else {
      h.got.push(r.value.slice()); // the path reader reuses its buffer
      h.have += r.value.byteLength;
      if (prog) {
        prog.loaded += r.value.byteLength;
        h.counted += r.value.byteLength;
        prog.report(opened.status, opened.name);
      }
    }
  }
  const out = new Uint8Array(Math.min(n, h.have));
  let off = 0;
  for (const c of h.got) {
    if (off >= out.byteLength) break;
    const k = Math.min(c.byteLength, out.byteLength - off);
    out.set(c.subarray(0, k), off);
    off += k;
  }
  return out;
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
  let counted = opened.head?.counted ?? 0; // bytes readHead has already reported
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
      const fresh = Math.max(0, chunk.byteLength - counted);
      counted -= chunk.byteLength - fresh;
      prog.loaded += fresh;
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
  const p = files['model.safetensors'] ?? files['model.safetensors.index.json'];
  const n = p?.path ?? p?.url ?? '';
  return n ? n.replace(/[\\/]?model\.safetensors(\.index\.json)?$/, '') : '';
}
