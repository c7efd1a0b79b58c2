// gguf-writer.js - build GGUF v2/v3 files in memory for tests.
//
//   writeGGUF({ version = 3, kv, tensors, alignment = 32 }) -> Uint8Array
//
// kv is either
//   - an array of [key, type, value] triples, type one of 'uint8' 'int8' 'uint16' 'int16' 'uint32'
//     'int32' 'float32' 'bool' 'string' 'uint64' 'int64' 'float64' 'array' (or the GGUF type number);
//     an array value is { type: <element type>, values: [...] } (values may be a typed array; nested
//     arrays are { type: 'array', values: [{ type, values }, ...] }); 64-bit integers may be BigInt;
//   - or an object { key: value }, where value is { type, value } or a plain value whose type is
//     inferred: string -> string, boolean -> bool, integer -> uint32 (int32 if negative), other
//     number -> float32, bigint -> int64, Float32Array -> array float32, Int32Array -> array int32,
//     Uint8Array -> array uint8, array of strings -> array string, array of numbers -> array int32
//     if all are integers else array float32.
// tensors: [{ name, dims (ggml order, dims[0] fastest), type: 'F32'|'F16'|'BF16'|'Q8_0'|'Q4_0' or a
//   number, data: Float32Array (encoded by the writer) | raw: Uint8Array (written as is, any type) }].
//   Offsets are assigned in order, each aligned to `alignment`; general.alignment is added when the
//   alignment is not 32 and the caller did not set it.
// Also re-exported from quant.js: the quantizers, dequantizers and half-float conversions.

import { encodeTensor, typeId, typeBytes } from './quant.js';

export * from './quant.js';

export const GGUF_TYPE = {
  uint8: 0, int8: 1, uint16: 2, int16: 3, uint32: 4, int32: 5, float32: 6, bool: 7,
  string: 8, array: 9, uint64: 10, int64: 11, float64: 12,
};

const textEncoder = new TextEncoder();

class ByteWriter {
  constructor() { this.buf = new Uint8Array(1024); this.dv = new DataView(this.buf.buffer); this.len = 0; }
  reserve(n) {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const nb = new Uint8Array(cap);
    nb.set(this.buf.subarray(0, this.len));
    this.buf = nb;
    this.dv = new DataView(nb.buffer);
  }
  u8(v) { this.reserve(1); this.dv.setUint8(this.len, v); this.len += 1; }
  i8(v) { this.reserve(1); this.dv.setInt8(this.len, v); this.len += 1; }
  u16(v) { this.reserve(2); this.dv.setUint16(this.len, v, true); this.len += 2; }
  i16(v) { this.reserve(2); this.dv.setInt16(this.len, v, true); this.len += 2; }
  u32(v) { this.reserve(4); this.dv.setUint32(this.len, v, true); this.len += 4; }
  i32(v) { this.reserve(4); this.dv.setInt32(this.len, v, true); this.len += 4; }
  f32(v) { this.reserve(4); this.dv.setFloat32(this.len, v, true); this.len += 4; }
  f64(v) { this.reserve(8); this.dv.setFloat64(this.len, v, true); this.len += 8; }
  u64(v) { this.reserve(8); this.dv.setBigUint64(this.len, BigInt(v), true); this.len += 8; }
  i64(v) { this.reserve(8); this.dv.setBigInt64(this.len, BigInt(v), true); this.len += 8; }
  bytes(b) { this.reserve(b.length); this.buf.set(b, this.len); this.len += b.length; }
  str(s) { const b = typeof s === 'string' ? textEncoder.encode(s) : s; this.u64(b.length); this.bytes(b); }
  pad(al) { while (this.len % al) this.u8(0); }
  result() { return this.buf.slice(0, this.len); }
}

function gtype(t) {
  if (typeof t === 'number') return t;
  const id = GGUF_TYPE[t];
  if (id === undefined) throw new Error(`unknown GGUF value type ${t}`);
  return id;
}

function writeScalar(w, type, v) {
  switch (type) {
    case 0: w.u8(v); break;
    case 1: w.i8(v); break;
    case 2: w.u16(v); break;
    case 3: w.i16(v); break;
    case 4: w.u32(v); break;
    case 5: w.i32(v); break;
    case 6: w.f32(v); break;
    case 7: w.u8(v ? 1 : 0); break;
    case 8: w.str(v); break;
    case 10: w.u64(v); break;
    case 11: w.i64(v); break;
    case 12: w.f64(v); break;
    default: throw new Error(`bad scalar type ${type}`);
  }
}

function writeArray(w, arr) {
  const et = gtype(arr.type);
  const values = arr.values;
  w.u32(et);
  w.u64(values.length);
  if (et === 9) for (const sub of values) writeArray(w, sub);
  else for (const v of values) writeScalar(w, et, v);
}

function inferKV(value) {
  if (value && typeof value === 'object' && 'type' in value && ('value' in value || 'values' in value)) {
    const t = gtype(value.type);
    return t === 9 ? [t, 'values' in value ? value : value.value] : [t, value.value];
  }
  if (typeof value === 'string') return [8, value];
  if (typeof value === 'boolean') return [7, value];
  if (typeof value === 'bigint') return [11, value];
  if (typeof value === 'number') {
    if (Number.isInteger(value) && value >= 0 && value < 2 ** 32) return [4, value];
    if (Number.isInteger(value) && value >= -(2 ** 31) && value < 2 ** 31) return [5, value];
    return [6, value];
  }
  if (value instanceof Float32Array) return [9, { type: 'float32', values: value }];
  if (value instanceof Int32Array) return [9, { type: 'int32', values: value }];
  if (value instanceof Uint8Array) return [9, { type: 'uint8', values: value }];
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v === 'string')) return [9, { type: 'string', values: value }];
    if (value.every((v) => Number.isInteger(v))) return [9, { type: 'int32', values: value }];
    if (value.every((v) => typeof v === 'number')) return [9, { type: 'float32', values: value }];
  }
  throw new Error(`cannot infer the GGUF type of ${String(value).slice(0, 40)}`);
}

/** Normalise kv (array of triples or object) into [[key, typeId, value]]. */
function normaliseKV(kv) {
  if (!kv) return [];
  if (Array.isArray(kv)) return kv.map(([k, t, v]) => [k, gtype(t), v]);
  return Object.entries(kv).map(([k, v]) => [k, ...inferKV(v)]);
}

/**
 * @param {{version?: number, kv?: Array|Object, tensors?: Array, alignment?: number}} opts
 * @returns {Uint8Array}
 */
export function writeGGUF({ version = 3, kv = [], tensors = [], alignment = 32 } = {}) {
  const kvs = normaliseKV(kv);
  if (alignment !== 32 && !kvs.some(([k]) => k === 'general.alignment')) kvs.push(['general.alignment', 4, alignment]);
  // encode tensor data first, so offsets are known
  const enc = tensors.map((t) => {
    const type = typeId(t.type);
    const n = t.dims.reduce((a, b) => a * Number(b), 1);
    let bytes;
    if (t.raw) bytes = t.raw;
    else {
      if (!t.data || t.data.length !== n) throw new Error(`tensor ${t.name}: data has ${t.data && t.data.length} values, dims say ${n}`);
      bytes = encodeTensor(type, t.data).bytes;
      const want = typeBytes(type, n);
      if (want !== bytes.length) throw new Error(`tensor ${t.name}: encoded ${bytes.length} bytes, expected ${want}`);
    }
    return { name: t.name, dims: t.dims, type, bytes };
  });
  let off = 0;
  for (const e of enc) {
    off = Math.ceil(off / alignment) * alignment;
    e.offset = off;
    off += e.bytes.length;
  }
  const w = new ByteWriter();
  w.bytes([0x47, 0x47, 0x55, 0x46]); // "GGUF"
  w.u32(version);
  w.u64(enc.length);
  w.u64(kvs.length);
  for (const [k, t, v] of kvs) {
    w.str(k);
    w.u32(t);
    if (t === 9) writeArray(w, v);
    else writeScalar(w, t, v);
  }
  for (const e of enc) {
    w.str(e.name);
    w.u32(e.dims.length);
    for (const d of e.dims) w.u64(d);
    w.u32(e.type);
    w.u64(e.offset);
  }
  w.pad(alignment);
  const dataStart = w.len;
  for (const e of enc) {
    while (w.len < dataStart + e.offset) w.u8(0);
    w.bytes(e.bytes);
  }
  return w.result();
}
