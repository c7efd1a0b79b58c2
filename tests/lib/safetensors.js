// safetensors.js - read and write Hugging Face .safetensors in JS (tests and tools).
//
//   readSafetensors(bytes) -> { metadata (object or null), tensors: Map(name -> {dtype, shape, data: Uint8Array view}), headerLength }
//   tensorF32(t)           -> Float32Array of the values (F32, F16, BF16)
//   writeSafetensors(tensors, metadata = {format: 'pt'}) -> Uint8Array
//     tensors: object { name: {dtype: 'F32'|'F16'|'BF16', shape, data: Float32Array | raw: Uint8Array} } or an
//     array of [name, spec]; written in the given order, contiguous. The header is compact JSON
//     ("__metadata__" first), padded with spaces to a multiple of 8, like the C writer.
import { f32ToF16, f32ToBf16, f16ToF32, bf16ToF32 } from './quant.js';

const DTYPE_SIZE = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, U64: 8, I32: 4, U32: 4, I16: 2, U16: 2, I8: 1, U8: 1, BOOL: 1, F8_E4M3: 1, F8_E5M2: 1 };

export class SafetensorsError extends Error {
  constructor(message) { super(message); this.name = 'SafetensorsError'; this.code = 'SP_ERR_FORMAT'; }
}

export function readSafetensors(bytes) {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (u8.length < 8) throw new SafetensorsError(`safetensors: file too short (${u8.length} bytes)`);
  const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const hl = dv.getBigUint64(0, true);
  if (hl > BigInt(u8.length - 8)) throw new SafetensorsError(`safetensors: header length ${hl} is past the end`);
  const n = Number(hl);
  let header;
  try { header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(u8.subarray(8, 8 + n))); } catch (e) { throw new SafetensorsError(`safetensors: header JSON: ${e.message}`); }
  if (!header || typeof header !== 'object' || Array.isArray(header)) throw new SafetensorsError('safetensors: header is not a JSON object');
  const data = u8.subarray(8 + n);
  const tensors = new Map();
  let metadata = null;
  for (const [name, e] of Object.entries(header)) {
    if (name === '__metadata__') { metadata = e; continue; }
    const size = DTYPE_SIZE[e.dtype];
    if (!size) throw new SafetensorsError(`safetensors: tensor '${name}' has unknown dtype '${e.dtype}'`);
    const [b, end] = e.data_offsets;
    const count = e.shape.reduce((a, c) => a * c, 1);
    if (!(b <= end && end <= data.length)) throw new SafetensorsError(`safetensors: tensor '${name}' data is past the end`);
    if (count * size !== end - b) throw new SafetensorsError(`safetensors: tensor '${name}' shape does not match data_offsets`);
    tensors.set(name, { dtype: e.dtype, shape: e.shape.slice(), data: data.subarray(b, end) });
  }
  return { metadata, tensors, headerLength: n };
}

export function tensorF32(t) {
  const dv = new DataView(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  const n = t.shape.reduce((a, c) => a * c, 1);
  const out = new Float32Array(n);
  if (t.dtype === 'F32') for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
  else if (t.dtype === 'F16') for (let i = 0; i < n; i++) out[i] = f16ToF32(dv.getUint16(2 * i, true));
  else if (t.dtype === 'BF16') for (let i = 0; i < n; i++) out[i] = bf16ToF32(dv.getUint16(2 * i, true));
  else throw new Error(`tensorF32: unsupported dtype ${t.dtype}`);
  return out;
}

/** Encode f32 values as F32/F16/BF16 bytes (little-endian). */
export function encodeSt(dtype, values) {
  const n = values.length;
  const out = new Uint8Array(n * DTYPE_SIZE[dtype]);
  const dv = new DataView(out.buffer);
  if (dtype === 'F32') for (let i = 0; i < n; i++) dv.setFloat32(4 * i, values[i], true);
  else if (dtype === 'F16') for (let i = 0; i < n; i++) dv.setUint16(2 * i, f32ToF16(values[i]), true);
  else if (dtype === 'BF16') for (let i = 0; i < n; i++) dv.setUint16(2 * i, f32ToBf16(values[i]), true);
  else throw new Error(`encodeSt: unsupported dtype ${dtype}`);
  return out;
}

export function writeSafetensors(tensors, metadata = { format: 'pt' }) {
  const entries = Array.isArray(tensors) ? tensors : Object.entries(tensors);
  const header = {};
  if (metadata) header.__metadata__ = metadata;
  const blobs = [];
  let off = 0;
  for (const [name, spec] of entries) {
    const dtype = spec.dtype || 'F32';
    const count = spec.shape.reduce((a, c) => a * c, 1);
    const bytes = spec.raw || encodeSt(dtype, spec.data);
    if (bytes.length !== count * DTYPE_SIZE[dtype]) throw new Error(`writeSafetensors: '${name}' has ${bytes.length} bytes, shape needs ${count * DTYPE_SIZE[dtype]}`);
    header[name] = { dtype, shape: spec.shape.slice(), data_offsets: [off, off + bytes.length] };
    blobs.push(bytes);
    off += bytes.length;
  }
  let h = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(h.length / 8) * 8;
  const out = new Uint8Array(8 + padded + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(h, 8);
  out.fill(0x20, 8 + h.length, 8 + padded);
  let p = 8 + padded;
  for (const b of blobs) { out.set(b, p); p += b.length; }
  return out;
}
