// gguf-reader.js - a small, independent GGUF v2/v3 reader for tests (not the engine's C reader).
//
//   readGGUF(bytes) -> { version, alignment, dataOffset, kv: Map(key -> {type, value}), tensors: [...] }
//     scalar values: numbers (uint64/int64 as BigInt), booleans, strings;
//     arrays: { type, values } with values a typed array for numeric elements (BigInt64Array /
//       BigUint64Array for 64-bit), an array of strings, or an array of nested { type, values }.
//     tensors: { name, dims (ggml order), type, offset, nbytes (null for unknown types), data: Uint8Array view }
//   kvValue(g, key, def)          the plain value (arrays as their values)
//   tensorF32(g, nameOrTensor)    dequantized Float32Array (every type of quant.js)
// Throws Error with .code = 'SP_ERR_FORMAT' on malformed input.

import { dequantize, typeBytes, TYPE_NAME } from './quant.js';

const textDecoder = new TextDecoder('utf-8', { fatal: false });

export class GGUFError extends Error {
  constructor(message) { super(message); this.name = 'GGUFError'; this.code = 'SP_ERR_FORMAT'; }
}

const SCALAR = {
  0: [1, 'getUint8'], 1: [1, 'getInt8'], 2: [2, 'getUint16'], 3: [2, 'getInt16'], 4: [4, 'getUint32'],
  5: [4, 'getInt32'], 6: [4, 'getFloat32'], 7: [1, 'getUint8'], 10: [8, 'getBigUint64'], 11: [8, 'getBigInt64'], 12: [8, 'getFloat64'],
};
const TYPED = { 0: Uint8Array, 1: Int8Array, 2: Uint16Array, 3: Int16Array, 4: Uint32Array, 5: Int32Array, 6: Float32Array, 7: Uint8Array, 10: BigUint64Array, 11: BigInt64Array, 12: Float64Array };

export function readGGUF(bytes) {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  let pos = 0;
  const need = (n, what) => { if (n > u8.length - pos) throw new GGUFError(`gguf: truncated in ${what}`); };
  const u32 = (what) => { need(4, what); const v = dv.getUint32(pos, true); pos += 4; return v; };
  const u64 = (what) => { need(8, what); const v = dv.getBigUint64(pos, true); pos += 8; return v; };
  const count = (what) => { const v = u64(what); if (v > BigInt(u8.length)) throw new GGUFError(`gguf: count ${v} too large in ${what}`); return Number(v); };
  const str = (what) => { const n = count(what); need(n, what); const s = textDecoder.decode(u8.subarray(pos, pos + n)); pos += n; return s; };
  const scalar = (t, what) => {
    const [w, get] = SCALAR[t];
    need(w, what);
    const v = dv[get](pos, true);
    pos += w;
    return t === 7 ? v !== 0 : v;
  };
  const array = (what, depth) => {
    const et = u32(what);
    const n = count(what);
    if (SCALAR[et]) {
      const w = SCALAR[et][0];
      need(n * w, what);
      const T = TYPED[et];
      const out = new T(n);
      for (let i = 0; i < n; i++) out[i] = dv[SCALAR[et][1]](pos + i * w, true);
      pos += n * w;
      return { type: et, values: et === 7 ? Array.from(out, (b) => b !== 0) : out };
    }
    if (et === 8) { const out = []; for (let i = 0; i < n; i++) out.push(str(what)); return { type: et, values: out }; }
    if (et === 9) {
      if (depth > 8) throw new GGUFError(`gguf: arrays nested too deep in ${what}`);
      const out = [];
      for (let i = 0; i < n; i++) out.push(array(what, depth + 1));
      return { type: et, values: out };
    }
    throw new GGUFError(`gguf: unknown array element type ${et} in ${what}`);
  };

  if (u8.length < 4 || u8[0] !== 0x47 || u8[1] !== 0x47 || u8[2] !== 0x55 || u8[3] !== 0x46) throw new GGUFError('gguf: bad magic (not a GGUF file)');
  pos = 4;
  const version = u32('header');
  if (version !== 2 && version !== 3) throw new GGUFError(`gguf: unsupported version ${version}`);
  const nTensors = count('header');
  const nKV = count('header');
  const kv = new Map();
  for (let i = 0; i < nKV; i++) {
    const what = `KV ${i}`;
    const key = str(what);
    const t = u32(`${what} (key '${key}')`);
    let value;
    if (SCALAR[t]) value = scalar(t, what);
    else if (t === 8) value = str(what);
    else if (t === 9) value = array(what, 0);
    else throw new GGUFError(`gguf: unknown value type ${t} in KV ${i} (key '${key}')`);
    if (kv.has(key)) throw new GGUFError(`gguf: duplicate key '${key}'`);
    kv.set(key, { type: t, value });
  }
  const alignment = kv.has('general.alignment') ? Number(kv.get('general.alignment').value) : 32;
  const tensors = [];
  for (let i = 0; i < nTensors; i++) {
    const what = `tensor info ${i}`;
    const name = str(what);
    const nd = u32(what);
    if (nd > 4) throw new GGUFError(`gguf: tensor '${name}' has ${nd} dims`);
    const dims = [];
    for (let d = 0; d < nd; d++) dims.push(Number(u64(what)));
    const type = u32(what);
    const offset = Number(u64(what));
    const n = dims.reduce((a, b) => a * b, 1);
    let nbytes = null;
    try { nbytes = typeBytes(type, n); } catch (e) { throw new GGUFError(`gguf: tensor '${name}': ${e.message}`); }
    tensors.push({ name, dims, type, typeName: TYPE_NAME[type] || `type${type}`, offset, nbytes, data: null });
  }
  const dataOffset = Math.ceil(pos / alignment) * alignment;
  for (const t of tensors) {
    if (t.offset % alignment) throw new GGUFError(`gguf: tensor '${t.name}' offset ${t.offset} misaligned`);
    const start = dataOffset + t.offset;
    const len = t.nbytes ?? 0;
    if (start + len > u8.length) throw new GGUFError(`gguf: tensor '${t.name}' data past the end`);
    t.data = u8.subarray(start, start + len);
  }
  return { version, alignment, dataOffset, kv, tensors };
}

export function kvValue(g, key, def = undefined) {
  const e = g.kv.get(key);
  if (!e) return def;
  return e.type === 9 ? e.value.values : e.value;
}

export function findTensor(g, name) { return g.tensors.find((t) => t.name === name) || null; }

export function tensorF32(g, nameOrTensor) {
  const t = typeof nameOrTensor === 'string' ? findTensor(g, nameOrTensor) : nameOrTensor;
  if (!t) throw new Error(`no tensor ${nameOrTensor}`);
  return dequantize(t.type, t.data, t.dims.reduce((a, b) => a * b, 1));
}
