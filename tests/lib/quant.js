// quant.js - half floats and ggml block quantization, bit-exact with ggml / gguf-py.
//
//   f32ToF16 / f16ToF32     IEEE binary16, round to nearest even (as F16C and sp_f32_to_f16)
//   f32ToBf16 / bf16ToF32   bfloat16, round to nearest even, NaN kept quiet (ggml_compute_fp32_to_bf16)
//   quantizeQ8_0(x)         ggml quantize_row_q8_0_ref: 32-value blocks of {f16 d, int8 qs[32]},
//                           d = amax/127, id = 1/d, q = roundf(x*id) (half away from zero), all in f32.
//                           Note x*id, not x/d: they differ in ~0.05% of values, and x*id reproduces
//                           the llama.cpp-made TinyStories-656K-Q8_0.gguf byte for byte (tested).
//   quantizeQ4_0(x)         ggml quantize_row_q4_0_ref: max = the value of largest magnitude (sign kept),
//                           d = max/-8, id = 1/d, q = min(15, trunc(x*id + 8.5)); low nibbles hold
//                           x[0..15], high nibbles x[16..31]
//   dequantize(type, bytes, n) -> Float32Array, encodeTensor(type, Float32Array) -> {bytes, values}
// Every intermediate is rounded to f32 with Math.fround, as the C code computes in float.

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

export const QK = 32;

/** ggml type ids (GGUF numbering) and their block geometry. */
export const GGML_TYPE = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 8, BF16: 30 };
export const TYPE_NAME = { 0: 'F32', 1: 'F16', 2: 'Q4_0', 8: 'Q8_0', 30: 'BF16' };
const BLOCK = { 0: [1, 4], 1: [1, 2], 30: [1, 2], 8: [32, 34], 2: [32, 18] }; // [values per block, bytes per block]

export function typeId(type) {
  if (typeof type === 'number') return type;
  const id = GGML_TYPE[String(type).toUpperCase()];
  if (id === undefined) throw new Error(`unknown tensor type ${type}`);
  return id;
}

/** Bytes for n values of a type (n must be a multiple of the block size); null for unknown types. */
export function typeBytes(type, n) {
  const b = BLOCK[typeId(type)];
  if (!b) return null;
  if (n % b[0] !== 0) throw new Error(`${TYPE_NAME[typeId(type)]}: ${n} values is not a multiple of ${b[0]}`);
  return (n / b[0]) * b[1];
}

export function f32Bits(x) { f32buf[0] = x; return u32buf[0]; }
export function bitsF32(u) { u32buf[0] = u >>> 0; return f32buf[0]; }

export function f32ToF16(x) {
  const u = f32Bits(x);
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let man = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    man |= 0x800000;
    const shift = 14 - e;
    let half = man >>> shift;
    const rem = man & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && (half & 1))) half++;
    return sign | half;
  }
  let half = sign | (e << 10) | (man >>> 13);
  const rem = man & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
  return half;
}

export function f16ToF32(h) {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0) return sign * man * 2 ** -24;
  if (exp === 31) return man ? NaN : sign * Infinity;
  return sign * (1 + man / 1024) * 2 ** (exp - 15);
}

export function f32ToBf16(x) {
  const u = f32Bits(x);
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 64) & 0xffff; // quiet NaN
  return Math.floor((u + 0x7fff + ((u >>> 16) & 1)) / 65536) & 0xffff;
}

export function bf16ToF32(h) { return bitsF32((h & 0xffff) << 16); }

/** round half away from zero, like C roundf */
function roundf(x) { return x < 0 ? -Math.floor(-x + 0.5) : Math.floor(x + 0.5); }

/** Q8_0: returns Uint8Array of n/32 blocks of 34 bytes. */
export function quantizeQ8_0(x) {
  const n = x.length;
  if (n % QK) throw new Error(`Q8_0: ${n} values is not a multiple of 32`);
  const out = new Uint8Array((n / QK) * 34);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < n / QK; b++) {
    let amax = 0;
    for (let j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(x[b * QK + j]));
    const d = Math.fround(amax / 127);
    const id = d ? Math.fround(1 / d) : 0;
    dv.setUint16(b * 34, f32ToF16(d), true);
    for (let j = 0; j < QK; j++) {
      const q = roundf(Math.fround(x[b * QK + j] * id));
      dv.setInt8(b * 34 + 2 + j, q);
    }
  }
  return out;
}

/** Q4_0: returns Uint8Array of n/32 blocks of 18 bytes. */
export function quantizeQ4_0(x) {
  const n = x.length;
  if (n % QK) throw new Error(`Q4_0: ${n} values is not a multiple of 32`);
  const out = new Uint8Array((n / QK) * 18);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < n / QK; b++) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < QK; j++) {
      const v = x[b * QK + j];
      if (amax < Math.abs(v)) { amax = Math.abs(v); max = v; }
    }
    const d = Math.fround(max / -8);
    const id = d ? Math.fround(1 / d) : 0;
    dv.setUint16(b * 18, f32ToF16(d), true);
    for (let j = 0; j < QK / 2; j++) {
      const x0 = Math.fround(x[b * QK + j] * id);
      const x1 = Math.fround(x[b * QK + QK / 2 + j] * id);
      const q0 = Math.min(15, Math.trunc(Math.fround(x0 + 8.5)));
      const q1 = Math.min(15, Math.trunc(Math.fround(x1 + 8.5)));
      out[b * 18 + 2 + j] = q0 | (q1 << 4);
    }
  }
  return out;
}

/** Decode n values of a type from raw little-endian bytes into a Float32Array. */
export function dequantize(type, bytes, n) {
  const t = typeId(type);
  const need = typeBytes(t, n);
  if (need === null) throw new Error(`cannot dequantize type ${type}`);
  if (bytes.length < need) throw new Error(`${TYPE_NAME[t]}: ${n} values need ${need} bytes, got ${bytes.length}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  if (t === 0) for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
  else if (t === 1) for (let i = 0; i < n; i++) out[i] = f16ToF32(dv.getUint16(2 * i, true));
  else if (t === 30) for (let i = 0; i < n; i++) out[i] = bf16ToF32(dv.getUint16(2 * i, true));
  else if (t === 8) {
    for (let b = 0; b < n / QK; b++) {
      const d = f16ToF32(dv.getUint16(b * 34, true));
      for (let j = 0; j < QK; j++) out[b * QK + j] = Math.fround(d * dv.getInt8(b * 34 + 2 + j));
    }
  } else if (t === 2) {
    for (let b = 0; b < n / QK; b++) {
      const d = f16ToF32(dv.getUint16(b * 18, true));
      for (let j = 0; j < QK / 2; j++) {
        const q = bytes[b * 18 + 2 + j];
        out[b * QK + j] = Math.fround(d * ((q & 15) - 8));
        out[b * QK + QK / 2 + j] = Math.fround(d * ((q >> 4) - 8));
      }
    }
  }
  return out;
}

/** Encode f32 values as a type: {bytes: Uint8Array, values: Float32Array (what the bytes represent)}. */
export function encodeTensor(type, data) {
  const t = typeId(type);
  const x = data instanceof Float32Array ? data : Float32Array.from(data);
  let bytes;
  if (t === 0) bytes = new Uint8Array(x.slice().buffer);
  else if (t === 1 || t === 30) {
    const h = new Uint16Array(x.length);
    for (let i = 0; i < x.length; i++) h[i] = t === 1 ? f32ToF16(x[i]) : f32ToBf16(x[i]);
    bytes = new Uint8Array(h.buffer);
  } else if (t === 8) bytes = quantizeQ8_0(x);
  else if (t === 2) bytes = quantizeQ4_0(x);
  else throw new Error(`cannot encode type ${type}`);
  return { bytes, values: dequantize(t, bytes, x.length) };
}
