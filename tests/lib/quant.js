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
//   quantizeQ5_0 / Q5_1(x)  ggml quantize_row_q5_0_ref / q5_1_ref: 32-value blocks {f16 d, [f16 m,] u32 qh,
//                           qs[16]}; Q5_0 d = max/-16, q = min(31, trunc(x*id + 16.5)), x = d*(q-16);
//                           Q5_1 d = (max-min)/31, m = min, q = min(31, trunc((x-min)*id + 0.5)), x = d*q + m;
//                           the low 4 bits as Q4_0's nibbles, bit j of qh the fifth bit of value j
//   quantizeQ4_K / Q5_K / Q6_K(x)  llama.cpp quantize_row_q{4,5,6}_K_ref: 256-value super-blocks
//                           (layouts in src/tensor.h): the weighted scale/min search of
//                           make_qkx2_quants (Q4_K, Q5_K) and make_qx_quants (Q6_K), 6-bit sub-block
//                           scales, f16 super-scales; the same bytes as sp_quantize_row (tested:
//                           test_kernels.c and kernels.test.js hash the same row's encoding)
//   dequantize(type, bytes, n) -> Float32Array, encodeTensor(type, Float32Array) -> {bytes, values}
// Every intermediate is rounded to f32 with Math.fround, as the C code computes in float.

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

export const QK = 32;

/** ggml type ids (GGUF numbering) and their block geometry. */
export const GGML_TYPE = { F32: 0, F16: 1, Q4_0: 2, Q5_0: 6, Q5_1: 7, Q8_0: 8, Q4_K: 12, Q5_K: 13, Q6_K: 14, BF16: 30 };
export const TYPE_NAME = { 0: 'F32', 1: 'F16', 2: 'Q4_0', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 30: 'BF16' };
// [values per block, bytes per block]
const BLOCK = {
  0: [1, 4], 1: [1, 2], 30: [1, 2], 8: [32, 34], 2: [32, 18], 6: [32, 22], 7: [32, 24], 12: [256, 144], 13: [256, 176], 14: [256, 210],
};
export const QK_K = 256;

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

/** Q5_0 (q51 false, 22-byte blocks) / Q5_1 (true, 24 bytes): returns Uint8Array of n/32 blocks. */
function quantizeQ5(x, q51) {
  const n = x.length, bs = q51 ? 24 : 22, oh = q51 ? 4 : 2;
  if (n % QK) throw new Error(`${q51 ? 'Q5_1' : 'Q5_0'}: ${n} values is not a multiple of 32`);
  const out = new Uint8Array((n / QK) * bs);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < n / QK; b++) {
    const xb = x.subarray(b * QK, b * QK + QK), o = b * bs;
    let d, min = 0, bias = 16.5;
    if (q51) {
      let max = xb[0];
      min = xb[0];
      for (const v of xb) { if (v < min) min = v; if (v > max) max = v; }
      d = Math.fround(Math.fround(max - min) / 31);
      bias = 0.5;
    } else {
      let amax = 0, max = 0;
      for (const v of xb) if (Math.abs(v) > amax) { amax = Math.abs(v); max = v; }
      d = Math.fround(max / -16);
    }
    const id = d ? Math.fround(1 / d) : 0;
    dv.setUint16(o, f32ToF16(d), true);
    if (q51) dv.setUint16(o + 2, f32ToF16(min), true);
    for (let j = 0; j < QK; j++) {
      const a = Math.fround(Math.fround(Math.fround(xb[j] - min) * id) + bias);
      const q = a < 31 ? (a > 0 ? Math.trunc(a) : 0) : 31;
      out[o + oh + 4 + (j & 15)] |= (q & 15) << (j < 16 ? 0 : 4);
      out[o + oh + (j >> 3)] |= (q >> 4) << (j & 7);
    }
  }
  return out;
}
export function quantizeQ5_0(x) { return quantizeQ5(x, false); }
export function quantizeQ5_1(x) { return quantizeQ5(x, true); }

// ---- K-quants (llama.cpp's reference quantizers; every float operation rounded with fround) ----
const fr = Math.fround;

/** round to nearest, ties to even, as llama.cpp's nearest_int (f + 1.5*2^23) */
function nearestInt(f) {
  const v = fr(f + 12582912);
  return (f32Bits(v) & 0x007fffff) - 0x00400000;
}
const clampI = (v, lo, hi) => (v < lo ? lo : v > hi ? hi : v);

/** make_qkx2_quants with squared error: codes L[0..n) in [0, nmax]; returns [scale, the_min]. */
function kxQuants(n, nmax, x, w, L, rmin, rdelta, nstep) {
  let min = x[0], max = x[0], sumW = w[0], sumX = fr(sumW * x[0]);
  for (let i = 1; i < n; i++) {
    if (x[i] < min) min = x[i];
    if (x[i] > max) max = x[i];
    sumW = fr(sumW + w[i]);
    sumX = fr(sumX + fr(w[i] * x[i]));
  }
  if (min > 0) min = 0;
  if (max === min) { L.fill(0, 0, n); return [0, -min]; }
  let iscale = fr(nmax / fr(max - min));
  let scale = fr(1 / iscale);
  let best = 0;
  for (let i = 0; i < n; i++) {
    L[i] = clampI(nearestInt(fr(iscale * fr(x[i] - min))), 0, nmax);
    const diff = fr(fr(fr(scale * L[i]) + min) - x[i]);
    best = fr(best + fr(w[i] * fr(diff * diff)));
  }
  const aux = new Uint8Array(n);
  for (let is = 0; is <= nstep; is++) {
    iscale = fr(fr(fr(rmin + fr(rdelta * is)) + nmax) / fr(max - min));
    let sumL = 0, sumL2 = 0, sumXL = 0;
    for (let i = 0; i < n; i++) {
      const l = clampI(nearestInt(fr(iscale * fr(x[i] - min))), 0, nmax);
      aux[i] = l;
      sumL = fr(sumL + fr(w[i] * l));
      sumL2 = fr(sumL2 + fr(fr(w[i] * l) * l));
      sumXL = fr(sumXL + fr(fr(w[i] * l) * x[i]));
    }
    const D = fr(fr(sumW * sumL2) - fr(sumL * sumL));
    if (D > 0) {
      let ts = fr(fr(fr(sumW * sumXL) - fr(sumX * sumL)) / D);
      let tm = fr(fr(fr(sumL2 * sumX) - fr(sumL * sumXL)) / D);
      if (tm > 0) { tm = 0; ts = fr(sumXL / sumL2); }
      let err = 0;
      for (let i = 0; i < n; i++) {
        const diff = fr(fr(fr(ts * aux[i]) + tm) - x[i]);
        err = fr(err + fr(w[i] * fr(diff * diff)));
      }
      if (err < best) { L.set(aux.subarray(0, n)); best = err; scale = ts; min = tm; }
    }
  }
  return [scale, -min];
}

/** scale and min (6 bits each) of sub-block j of a Q4_K / Q5_K block from its scales[12] bytes */
function k4ScaleMin(j, sc) {
  if (j < 4) return [sc[j] & 63, sc[j + 4] & 63];
  return [(sc[j + 4] & 15) | ((sc[j - 4] >> 6) << 4), (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4)];
}

function quantizeK4(x, q5) {
  const n = x.length;
  const bs = q5 ? 176 : 144, nmax = q5 ? 31 : 15;
  if (n % QK_K) throw new Error(`${q5 ? 'Q5_K' : 'Q4_K'}: ${n} values is not a multiple of 256`);
  const out = new Uint8Array((n / QK_K) * bs);
  const L = new Uint8Array(QK_K), w = new Float32Array(32), Lj = new Uint8Array(32);
  for (let b = 0; b < n / QK_K; b++) {
    const xb = x.subarray(b * QK_K, (b + 1) * QK_K), blk = out.subarray(b * bs, (b + 1) * bs);
    const scales = new Float32Array(8), mins = new Float32Array(8);
    let maxScale = 0, maxMin = 0;
    for (let j = 0; j < 8; j++) {
      const xs = xb.subarray(32 * j, 32 * j + 32);
      let sumX2 = 0;
      for (let l = 0; l < 32; l++) sumX2 = fr(sumX2 + fr(xs[l] * xs[l]));
      const avX = fr(Math.sqrt(fr(sumX2 / 32)));
      for (let l = 0; l < 32; l++) w[l] = fr(avX + Math.abs(xs[l]));
      const [sc, mn] = q5 ? kxQuants(32, nmax, xs, w, Lj, -0.5, fr(0.1), 15) : kxQuants(32, nmax, xs, w, Lj, -1, fr(0.1), 20);
      L.set(Lj, 32 * j);
      scales[j] = sc; mins[j] = mn;
      if (sc > maxScale) maxScale = sc;
      if (mn > maxMin) maxMin = mn;
    }
    const sc = blk.subarray(4, 16);
    const invScale = maxScale > 0 ? fr(63 / maxScale) : 0, invMin = maxMin > 0 ? fr(63 / maxMin) : 0;
    for (let j = 0; j < 8; j++) {
      const ls = Math.min(63, nearestInt(fr(invScale * scales[j])) & 255), lm = Math.min(63, nearestInt(fr(invMin * mins[j])) & 255);
      if (j < 4) { sc[j] = ls; sc[j + 4] = lm; } else {
        sc[j + 4] = (ls & 15) | ((lm & 15) << 4);
        sc[j - 4] |= (ls >> 4) << 6;
        sc[j] |= (lm >> 4) << 6;
      }
    }
    const hd = f32ToF16(fr(maxScale / 63)), hm = f32ToF16(fr(maxMin / 63));
    blk[0] = hd & 255; blk[1] = hd >> 8; blk[2] = hm & 255; blk[3] = hm >> 8;
    for (let j = 0; j < 8; j++) {
      const [s, m] = k4ScaleMin(j, sc);
      const d = fr(f16ToF32(hd) * s);
      if (d === 0) continue;
      const dm = fr(f16ToF32(hm) * m);
      for (let l = 0; l < 32; l++) L[32 * j + l] = clampI(nearestInt(fr(fr(xb[32 * j + l] + dm) / d)), 0, nmax);
    }
    const qs = blk.subarray(q5 ? 48 : 16), qh = blk.subarray(16, 48);
    for (let g = 0; g < 4; g++) {
      for (let l = 0; l < 32; l++) {
        let a = L[64 * g + l], c = L[64 * g + 32 + l];
        if (q5) {
          if (a > 15) { a -= 16; qh[l] |= 1 << (2 * g); }
          if (c > 15) { c -= 16; qh[l] |= 2 << (2 * g); }
        }
        qs[32 * g + l] = a | (c << 4);
      }
    }
  }
  return out;
}

/** Q4_K: n/256 super-blocks of 144 bytes */
export function quantizeQ4_K(x) { return quantizeK4(x, false); }
/** Q5_K: n/256 super-blocks of 176 bytes */
export function quantizeQ5_K(x) { return quantizeK4(x, true); }

/** make_qx_quants, rmse_type 1 (weights x^2): codes L in [0, 2*nmax); returns the scale. */
function qxQuants(n, nmax, x, L) {
  let max = 0, amax = 0;
  for (let i = 0; i < n; i++) {
    const ax = Math.abs(x[i]);
    if (ax > amax) { amax = ax; max = x[i]; }
  }
  if (amax < fr(1e-15)) { L.fill(0, 0, n); return 0; }
  let iscale = fr(-nmax / max), sumlx = 0, suml2 = 0;
  for (let i = 0; i < n; i++) {
    const l = clampI(nearestInt(fr(iscale * x[i])), -nmax, nmax - 1);
    L[i] = l + nmax;
    const w = fr(x[i] * x[i]);
    sumlx = fr(sumlx + fr(fr(w * x[i]) * l));
    suml2 = fr(suml2 + fr(fr(w * l) * l));
  }
  let scale = suml2 !== 0 ? fr(sumlx / suml2) : 0;
  let best = fr(scale * sumlx);
  for (let is = -9; is <= 9; is++) {
    if (is === 0) continue;
    iscale = fr(-fr(nmax + fr(fr(0.1) * is)) / max);
    sumlx = 0; suml2 = 0;
    for (let i = 0; i < n; i++) {
      const l = clampI(nearestInt(fr(iscale * x[i])), -nmax, nmax - 1);
      const w = fr(x[i] * x[i]);
      sumlx = fr(sumlx + fr(fr(w * x[i]) * l));
      suml2 = fr(suml2 + fr(fr(w * l) * l));
    }
    if (suml2 > 0 && fr(sumlx * sumlx) > fr(best * suml2)) {
      for (let i = 0; i < n; i++) L[i] = nmax + clampI(nearestInt(fr(iscale * x[i])), -nmax, nmax - 1);
      scale = fr(sumlx / suml2);
      best = fr(scale * sumlx);
    }
  }
  return scale;
}

/** Q6_K: n/256 super-blocks of 210 bytes (ql[128], qh[64], int8 scales[16], f16 d) */
export function quantizeQ6_K(x) {
  const n = x.length;
  if (n % QK_K) throw new Error(`Q6_K: ${n} values is not a multiple of 256`);
  const out = new Uint8Array((n / QK_K) * 210);
  const L = new Int8Array(QK_K), Ls = new Int8Array(16);
  for (let b = 0; b < n / QK_K; b++) {
    const xb = x.subarray(b * QK_K, (b + 1) * QK_K), blk = out.subarray(b * 210, (b + 1) * 210);
    const scales = new Float32Array(16);
    let maxScale = 0, maxAbs = 0;
    for (let ib = 0; ib < 16; ib++) {
      scales[ib] = qxQuants(16, 32, xb.subarray(16 * ib, 16 * ib + 16), Ls);
      L.set(Ls, 16 * ib);
      if (Math.abs(scales[ib]) > maxAbs) { maxAbs = Math.abs(scales[ib]); maxScale = scales[ib]; }
    }
    if (maxAbs < fr(1e-15)) continue; // all zero
    const iscale = fr(-128 / maxScale);
    const hd = f32ToF16(fr(1 / iscale));
    blk[208] = hd & 255; blk[209] = hd >> 8;
    const sc = new Int8Array(blk.buffer, blk.byteOffset + 192, 16);
    for (let ib = 0; ib < 16; ib++) sc[ib] = Math.min(127, nearestInt(fr(iscale * scales[ib])));
    for (let j = 0; j < 16; j++) {
      const d = fr(f16ToF32(hd) * sc[j]);
      if (d === 0) continue;
      for (let l = 0; l < 16; l++) L[16 * j + l] = clampI(nearestInt(fr(xb[16 * j + l] / d)), -32, 31) + 32;
    }
    for (let h = 0; h < 2; h++) {
      for (let l = 0; l < 32; l++) {
        const q1 = L[128 * h + l], q2 = L[128 * h + 32 + l], q3 = L[128 * h + 64 + l], q4 = L[128 * h + 96 + l];
        blk[64 * h + l] = (q1 & 15) | ((q3 & 15) << 4);
        blk[64 * h + 32 + l] = (q2 & 15) | ((q4 & 15) << 4);
        blk[128 + 32 * h + l] = (q1 >> 4) | ((q2 >> 4) << 2) | ((q3 >> 4) << 4) | ((q4 >> 4) << 6);
      }
    }
  }
  return out;
}

/** K-quant values of one super-block at byte offset o into out[base..base+256) (the engine's f32 values) */
function dequantizeK(t, bytes, dv, o, out, base) {
  if (t === 14) {
    const d = f16ToF32(dv.getUint16(o + 208, true));
    for (let v = 0; v < 256; v++) {
      const h = v >> 7, k = (v >> 5) & 3, l = v & 31;
      const lo = bytes[o + 64 * h + 32 * (k & 1) + l], hi = bytes[o + 128 + 32 * h + l];
      const q = ((k < 2 ? lo & 15 : lo >> 4) | (((hi >> (2 * k)) & 3) << 4)) - 32;
      out[base + v] = fr(fr(d * dv.getInt8(o + 192 + 8 * h + 2 * k + (l >> 4))) * q);
    }
    return;
  }
  const q5 = t === 13;
  const d = f16ToF32(dv.getUint16(o, true)), dmin = f16ToF32(dv.getUint16(o + 2, true));
  const sc = bytes.subarray(o + 4, o + 16);
  for (let j = 0; j < 8; j++) {
    const [s, m] = k4ScaleMin(j, sc);
    const d1 = fr(d * s), m1 = fr(dmin * m);
    for (let l = 0; l < 32; l++) {
      let q = (bytes[o + (q5 ? 48 : 16) + 32 * (j >> 1) + l] >> (4 * (j & 1))) & 15;
      if (q5 && (bytes[o + 16 + l] >> j) & 1) q += 16;
      out[base + 32 * j + l] = fr(fr(d1 * q) - m1);
    }
  }
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
  } else if (t === 6 || t === 7) {
    const bs = BLOCK[t][1], oh = t === 7 ? 4 : 2;
    for (let b = 0; b < n / QK; b++) {
      const o = b * bs, d = f16ToF32(dv.getUint16(o, true)), m = t === 7 ? f16ToF32(dv.getUint16(o + 2, true)) : 0;
      const qh = dv.getUint32(o + oh, true);
      for (let j = 0; j < QK; j++) {
        const q = ((bytes[o + oh + 4 + (j & 15)] >> (j < 16 ? 0 : 4)) & 15) | (((qh >>> j) & 1) << 4);
        out[b * QK + j] = t === 7 ? fr(fr(d * q) + m) : fr(d * (q - 16));
      }
    }
  } else if (t === 12 || t === 13 || t === 14) {
    const bs = BLOCK[t][1];
    for (let b = 0; b < n / QK_K; b++) dequantizeK(t, bytes, dv, b * bs, out, b * QK_K);
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
  else if (t === 6) bytes = quantizeQ5_0(x);
  else if (t === 7) bytes = quantizeQ5_1(x);
  else if (t === 12) bytes = quantizeQ4_K(x);
  else if (t === 13) bytes = quantizeQ5_K(x);
  else if (t === 14) bytes = quantizeQ6_K(x);
  else throw new Error(`cannot encode type ${type}`);
  return { bytes, values: dequantize(t, bytes, x.length) };
}
