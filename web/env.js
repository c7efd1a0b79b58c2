// env.js - what the library's modules ask about the runtime, written once: is this Node, can the
// threaded engine run, Node's built-in modules, a macrotask yield, a clock, bytes as Uint8Array.
//
// No `import` of any node: module appears in the library: under Node the built-ins come from
// process.getBuiltinModule (Node >= 20.16), so bundlers targeting the browser see nothing to
// resolve, and the same files run unbundled in a page, in a worker and in Node.

import { ErrorCodes, fail } from './errors.js';

export const IS_NODE = typeof process === 'object' && process !== null && typeof process.versions?.node === 'string'
  && typeof window === 'undefined';

/** A Node built-in module ('node:fs', ...). Only called on Node code paths. */
export function nodeModule(name) {
  const get = globalThis.process?.getBuiltinModule;
  if (typeof get !== 'function') fail(ErrorCodes.SP_ERR_UNSUPPORTED, `this Node has no process.getBuiltinModule (${name}): softprompt needs Node >= 20.16`);
  return get.call(globalThis.process, name);
}

// A module that declares a shared memory: validates only where wasm threads work.
const SHARED_MEMORY_MODULE = new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 5, 4, 1, 3, 1, 1]);

/** Why the pthreads build cannot run here, or null when it can. */
export function whyNoThreads() {
  if (typeof SharedArrayBuffer === 'undefined' || typeof Atomics === 'undefined') {
    return IS_NODE ? 'SharedArrayBuffer is not available' : 'the page is not cross-origin isolated (it needs the COOP/COEP headers)';
  }
  if (!IS_NODE && globalThis.crossOriginIsolated !== true) return 'the page is not cross-origin isolated (it needs the COOP/COEP headers)';
  try {
    if (!WebAssembly.validate(SHARED_MEMORY_MODULE)) return 'this runtime has no WebAssembly threads (shared memory)';
  } catch {
    return 'this runtime has no WebAssembly threads (shared memory)';
  }
  return null;
}

/** True when the threaded engine can run here (SharedArrayBuffer, cross-origin isolation in
 *  browsers, and WebAssembly shared memory). */
export function threadsAvailable() {
  return whyNoThreads() === null;
}

/** Milliseconds, monotonic where the runtime has performance.now. */
export const now = () => (globalThis.performance ? performance.now() : Date.now());

/** Yield to the event loop (a macrotask), so queued messages are handled. */
export const tick = (() => {
  if (typeof setImmediate === 'function') return () => new Promise((r) => setImmediate(r));
  if (typeof MessageChannel === 'undefined') return () => new Promise((r) => setTimeout(r, 0));
  let ch = null;
  const q = [];
  return () => new Promise((r) => {
    if (!ch) {
      ch = new MessageChannel();
      ch.port1.onmessage = () => {
        const next = q.shift();
        if (next) next();
      };
    }
    q.push(r);
    ch.port2.postMessage(0);
  });
})();

/** A Uint8Array over bytes (an ArrayBuffer, a typed array or a DataView), without copying. */
export function toU8(x) {
  if (x instanceof Uint8Array) return x;
  if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  return new Uint8Array(x);
}

/** True for an ArrayBuffer, a SharedArrayBuffer or a view of one. */
export function isBytes(x) {
  return x instanceof ArrayBuffer || ArrayBuffer.isView(x)
    || (typeof SharedArrayBuffer !== 'undefined' && x instanceof SharedArrayBuffer);
}
