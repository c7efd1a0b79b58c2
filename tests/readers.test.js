// readers.test.js - the JS test helpers: half floats, Q8_0/Q4_0 quantizers (against hand-computed
// goldens, naive error bounds and the real llama.cpp-made Q8_0 file byte for byte), the GGUF writer
// and reader, the safetensors writer and reader, the tiny models and paths.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { writeGGUF, f32ToF16, f16ToF32, f32ToBf16, bf16ToF32, quantizeQ8_0, quantizeQ4_0, dequantize, encodeTensor } from './lib/gguf-writer.js';
import { readGGUF, kvValue, findTensor, tensorF32, GGUFError } from './lib/gguf-reader.js';
import { readSafetensors, writeSafetensors, tensorF32 as stF32 } from './lib/safetensors.js';
import { makeTinyLlama, makeTinyHF, makeVocab, permuteQK, unpermuteQK, rng, ggufToHfName } from './lib/tiny-model.js';
import { modelPath, sharedDir, sharedPath } from './lib/paths.js';

const f32 = (x) => Math.fround(x);

test('f16: every half round-trips, f32 rounds to the nearest half (ties to even)', () => {
  for (let h = 0; h < 65536; h++) {
    const x = f16ToF32(h);
    if (Number.isNaN(x)) { assert.ok(Number.isNaN(f16ToF32(f32ToF16(x)))); continue; }
    assert.equal(f32ToF16(x), h, `half 0x${h.toString(16)}`);
  }
  assert.equal(f32ToF16(1), 0x3c00);
  assert.equal(f32ToF16(-2), 0xc000);
  assert.equal(f32ToF16(65504), 0x7bff);
  assert.equal(f32ToF16(65520), 0x7c00); // rounds up to inf
  assert.equal(f32ToF16(1e-8), 0); // below half the smallest subnormal
  assert.equal(f32ToF16(2 ** -24), 1);
  assert.equal(f32ToF16(f32(1 + 2 ** -11)), 0x3c00); // tie -> even
  assert.equal(f32ToF16(f32(1 + 3 * 2 ** -11)), 0x3c02); // tie -> even (up)
  const r = rng(7);
  for (let i = 0; i < 20000; i++) {
    const x = f32((r.uniform() - 0.5) * 2 ** (Math.floor(r.uniform() * 36) - 20)); // |x| < 2^15: finite halves
    const h = f32ToF16(x);
    const err = Math.abs(f16ToF32(h) - x);
    for (const nb of [h - 1, h + 1]) {
      if ((nb & 0x7fff) >= 0x7c00 || nb < 0 || nb > 0xffff || ((nb ^ h) & 0x8000)) continue;
      assert.ok(err <= Math.abs(f16ToF32(nb) - x), `x=${x}: ${h} not nearest`);
    }
  }
});

test('bf16: round to nearest even, NaN stays NaN', () => {
  assert.equal(f32ToBf16(1), 0x3f80);
  assert.equal(f32ToBf16(f32(1 + 2 ** -8)), 0x3f80); // tie -> even
  assert.equal(f32ToBf16(f32(1 + 3 * 2 ** -8)), 0x3f82);
  assert.equal(f32ToBf16(-Infinity), 0xff80);
  assert.ok(Number.isNaN(bf16ToF32(f32ToBf16(NaN))));
  for (let h = 0; h < 65536; h++) {
    const x = bf16ToF32(h);
    if (!Number.isNaN(x)) assert.equal(f32ToBf16(x), h);
  }
});

test('Q8_0: hand-computed golden block', () => {
  const x = Float32Array.from({ length: 32 }, (_, j) => j - 16);
  const q = quantizeQ8_0(x);
  assert.equal(q.length, 34);
  assert.equal(q[0] | (q[1] << 8), 0x3008); // f16(16/127)
  const want = [-127, -119, -111, -103, -95, -87, -79, -71, -64, -56, -48, -40, -32, -24, -16, -8,
    0, 8, 16, 24, 32, 40, 48, 56, 64, 71, 79, 87, 95, 103, 111, 119];
  assert.deepEqual(Array.from(new Int8Array(q.buffer, 2, 32)), want);
  // an all-zero block
  const z = quantizeQ8_0(new Float32Array(32));
  assert.ok(z.every((b) => b === 0));
});

test('Q8_0: naive formula and error bound on random data', () => {
  const r = rng(3);
  const n = 32 * 200;
  const x = Float32Array.from({ length: n }, () => f32(r.normal() * (r.uniform() < 0.1 ? 10 : 1)));
  const bytes = quantizeQ8_0(x);
  const y = dequantize('Q8_0', bytes, n);
  const dv = new DataView(bytes.buffer);
  let mismatches = 0;
  for (let b = 0; b < n / 32; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]));
    const d = amax / 127; // naive, in double
    const fd = f16ToF32(dv.getUint16(b * 34, true));
    assert.ok(Math.abs(fd - d) <= d * 2 ** -11, 'd is f16(amax/127)');
    for (let j = 0; j < 32; j++) {
      const q = dv.getInt8(b * 34 + 2 + j);
      const naive = Math.round(x[b * 32 + j] / d);
      if (q !== naive) mismatches++;
      assert.ok(Math.abs(q - naive) <= 1);
      assert.ok(Math.abs(y[b * 32 + j] - x[b * 32 + j]) <= d / 2 + 127 * Math.abs(fd - d) + 1e-7);
    }
  }
  assert.ok(mismatches < n / 100, `${mismatches} mismatches`);
});

test('Q4_0: hand-computed golden block and error bound', () => {
  const x = Float32Array.from({ length: 32 }, (_, j) => (j % 16) - 8);
  const q = quantizeQ4_0(x);
  assert.equal(q.length, 18);
  assert.equal(q[0] | (q[1] << 8), 0x3c00); // max = -8 (sign kept) -> d = 1
  for (let j = 0; j < 16; j++) assert.equal(q[2 + j], j | (j << 4));
  assert.deepEqual(Array.from(dequantize('Q4_0', q, 32)), Array.from(x));
  // positive max: d negative, the max maps to q = 0
  const x2 = Float32Array.from({ length: 32 }, (_, j) => (j === 5 ? 4 : 0.25 * ((j % 7) - 3)));
  const q2 = quantizeQ4_0(x2);
  assert.equal(f16ToF32(q2[0] | (q2[1] << 8)), -0.5);
  assert.equal(q2[2 + 5] & 15, 0);
  assert.equal(dequantize('Q4_0', q2, 32)[5], 4);

  const r = rng(4);
  const n = 32 * 200;
  const xs = Float32Array.from({ length: n }, () => f32(r.normal()));
  const bytes = quantizeQ4_0(xs);
  const y = dequantize('Q4_0', bytes, n);
  for (let b = 0; b < n / 32; b++) {
    let amax = 0, max = 0;
    for (let j = 0; j < 32; j++) if (Math.abs(xs[b * 32 + j]) > amax) { amax = Math.abs(xs[b * 32 + j]); max = xs[b * 32 + j]; }
    const d = Math.abs(max / 8);
    const fd = Math.abs(f16ToF32(bytes[b * 18] | (bytes[b * 18 + 1] << 8)));
    for (let j = 0; j < 32; j++) {
      const v = xs[b * 32 + j];
      const nearest = Math.max(-8, Math.min(7, Math.round(v / (max / -8)))); // naive, clipped to 4 bits
      const bound = (Math.round(v / (max / -8)) > 7 ? d : d / 2) + 8 * Math.abs(fd - d) + 1e-6;
      assert.ok(Math.abs(y[b * 32 + j] - v) <= bound, `block ${b} j ${j}: ${y[b * 32 + j]} vs ${v} (q ${nearest})`);
    }
  }
});

test('Q8_0 quantizer reproduces the real llama.cpp TinyStories-656K-Q8_0.gguf byte for byte; permuteQK matches the converter', () => {
  const g = readGGUF(readFileSync(modelPath('TinyStories-656K/TinyStories-656K-Q8_0.gguf')));
  const st = readSafetensors(readFileSync(modelPath('TinyStories-656K/model.safetensors')));
  const cases = [
    ['token_embd.weight', 'lm_head.weight', null],
    ['blk.0.ffn_down.weight', 'model.layers.0.mlp.down_proj.weight', null],
    ['blk.1.attn_v.weight', 'model.layers.1.self_attn.v_proj.weight', null],
    ['blk.0.attn_q.weight', 'model.layers.0.self_attn.q_proj.weight', 8],
    ['blk.1.attn_k.weight', 'model.layers.1.self_attn.k_proj.weight', 4],
  ];
  for (const [gn, hn, heads] of cases) {
    const t = findTensor(g, gn);
    const h = st.tensors.get(hn);
    let x = stF32(h);
    if (heads) x = permuteQK(x, heads, h.shape[0], h.shape[1]);
    const q = quantizeQ8_0(x);
    assert.deepEqual(t.dims, [h.shape[1], h.shape[0]]);
    assert.ok(Buffer.from(q).equals(Buffer.from(t.data)), `${gn} differs`);
  }
  const norm = findTensor(g, 'blk.0.attn_norm.weight');
  assert.deepEqual(Array.from(tensorF32(g, norm)), Array.from(stF32(st.tensors.get('model.layers.0.input_layernorm.weight'))));
});

test('GGUF writer -> reader round trip: every KV type, nested arrays, every tensor type, alignment', () => {
  const data = Float32Array.from({ length: 64 }, (_, i) => Math.sin(i) * 3);
  for (const version of [2, 3]) {
    const bytes = writeGGUF({
      version,
      alignment: 64,
      kv: [
        ['a.u8', 'uint8', 250], ['a.i8', 'int8', -3], ['a.u16', 'uint16', 60000], ['a.i16', 'int16', -2000],
        ['a.u32', 'uint32', 4e9], ['a.i32', 'int32', -5], ['a.f32', 'float32', 0.1], ['a.bool', 'bool', true],
        ['a.str', 'string', 'héllo ▁'], ['a.u64', 'uint64', 2n ** 63n + 5n], ['a.i64', 'int64', -(2n ** 40n)], ['a.f64', 'float64', Math.PI],
        ['arr.s', 'array', { type: 'string', values: ['x', '', 'yz'] }],
        ['arr.f', 'array', { type: 'float32', values: new Float32Array([1.5, -2]) }],
        ['arr.n', 'array', { type: 'array', values: [{ type: 'uint8', values: [1, 2] }, { type: 'string', values: ['q'] }] }],
      ],
      tensors: [
        { name: 'f32', dims: [8, 8], type: 'F32', data },
        { name: 'f16', dims: [64], type: 'F16', data },
        { name: 'bf16', dims: [32, 2], type: 'BF16', data },
        { name: 'q8', dims: [32, 2], type: 'Q8_0', data },
        { name: 'q4', dims: [64, 1], type: 'Q4_0', data },
        { name: 'raw', dims: [256], type: 11, raw: new Uint8Array(110) },
      ],
    });
    const g = readGGUF(bytes);
    assert.equal(g.version, version);
    assert.equal(g.alignment, 64);
    assert.equal(g.dataOffset % 64, 0);
    assert.equal(kvValue(g, 'a.u8'), 250);
    assert.equal(kvValue(g, 'a.i8'), -3);
    assert.equal(kvValue(g, 'a.u16'), 60000);
    assert.equal(kvValue(g, 'a.i16'), -2000);
    assert.equal(kvValue(g, 'a.u32'), 4e9);
    assert.equal(kvValue(g, 'a.i32'), -5);
    assert.equal(kvValue(g, 'a.f32'), f32(0.1));
    assert.equal(kvValue(g, 'a.bool'), true);
    assert.equal(kvValue(g, 'a.str'), 'héllo ▁');
    assert.equal(kvValue(g, 'a.u64'), 2n ** 63n + 5n);
    assert.equal(kvValue(g, 'a.i64'), -(2n ** 40n));
    assert.equal(kvValue(g, 'a.f64'), Math.PI);
    assert.equal(kvValue(g, 'general.alignment'), 64);
    assert.deepEqual(kvValue(g, 'arr.s'), ['x', '', 'yz']);
    assert.deepEqual(Array.from(kvValue(g, 'arr.f')), [1.5, -2]);
    const nested = kvValue(g, 'arr.n');
    assert.deepEqual(Array.from(nested[0].values), [1, 2]);
    assert.deepEqual(nested[1].values, ['q']);
    assert.equal(kvValue(g, 'missing', 'def'), 'def');
    for (const t of g.tensors) assert.equal(t.offset % 64, 0);
    for (const [name, type] of [['f32', 'F32'], ['f16', 'F16'], ['bf16', 'BF16'], ['q8', 'Q8_0'], ['q4', 'Q4_0']]) {
      assert.deepEqual(Array.from(tensorF32(g, name)), Array.from(encodeTensor(type, data).values), name);
    }
    assert.deepEqual(Array.from(tensorF32(g, 'f32')), Array.from(data));
    assert.equal(findTensor(g, 'raw').nbytes, null);
    assert.deepEqual(findTensor(g, 'q8').dims, [32, 2]);
  }
  // inferred types from an object
  const g2 = readGGUF(writeGGUF({ kv: { s: 'x', b: false, u: 7, i: -7, f: 0.5, big: 5n, fa: new Float32Array([1]), sa: ['a'], ia: [1, 2] } }));
  assert.deepEqual([...g2.kv.entries()].map(([k, v]) => [k, v.type]), [['s', 8], ['b', 7], ['u', 4], ['i', 5], ['f', 6], ['big', 11], ['fa', 9], ['sa', 9], ['ia', 9]]);
  assert.equal(g2.tensors.length, 0);
});

test('GGUF reader rejects malformed files with SP_ERR_FORMAT', () => {
  const good = writeGGUF({ kv: { k: 1 }, tensors: [{ name: 't', dims: [4], type: 'F32', data: new Float32Array(4) }] });
  assert.throws(() => readGGUF(new Uint8Array([1, 2, 3, 4, 5])), (e) => e instanceof GGUFError && e.code === 'SP_ERR_FORMAT' && /bad magic/.test(e.message));
  const v4 = good.slice();
  v4[4] = 4;
  assert.throws(() => readGGUF(v4), /unsupported version 4/);
  for (let n = 0; n < good.length; n++) assert.throws(() => readGGUF(good.subarray(0, n)), (e) => e.code === 'SP_ERR_FORMAT', `prefix ${n}`);
  const huge = good.slice();
  new DataView(huge.buffer).setBigUint64(16, 1n << 60n, true); // n_kv
  assert.throws(() => readGGUF(huge), /too large/);
});

test('safetensors JS writer/reader round trip and the real file', () => {
  const a = Float32Array.from({ length: 6 }, (_, i) => i * 0.5 - 1);
  const bytes = writeSafetensors({ x: { dtype: 'F32', shape: [2, 3], data: a }, y: { dtype: 'BF16', shape: [2], data: [1.5, -3] }, z: { dtype: 'F16', shape: [1], data: [0.1] } });
  const hl = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.equal(hl % 8, 0);
  const text = new TextDecoder().decode(bytes.subarray(8, 8 + hl));
  assert.ok(text.startsWith('{"__metadata__":{"format":"pt"},"x":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]}'));
  assert.ok(/} *$/.test(text));
  const st = readSafetensors(bytes);
  assert.deepEqual(st.metadata, { format: 'pt' });
  assert.deepEqual(Array.from(stF32(st.tensors.get('x'))), Array.from(a));
  assert.deepEqual(Array.from(stF32(st.tensors.get('y'))), [1.5, -3]);
  assert.equal(stF32(st.tensors.get('z'))[0], f16ToF32(f32ToF16(0.1)));
  assert.throws(() => readSafetensors(bytes.subarray(0, bytes.length - 1)), (e) => e.code === 'SP_ERR_FORMAT');

  const real = readSafetensors(readFileSync(modelPath('TinyStories-656K/model.safetensors')));
  assert.equal(real.tensors.size, 20);
  assert.equal(real.metadata['model.embed_tokens.weight'], 'lm_head.weight');
  assert.deepEqual(real.tensors.get('lm_head.weight').shape, [2048, 128]);
});

test('tiny vocab: SPM layout, byte tokens, merges closed under prefixes', () => {
  const v = makeVocab();
  assert.deepEqual(v.tokens.slice(0, 3), ['<unk>', '<s>', '</s>']);
  assert.equal(v.tokens[3], '<0x00>');
  assert.equal(v.tokens[3 + 0x41], '<0x41>');
  assert.equal(v.tokens[258], '<0xFF>');
  assert.equal(new Set(v.tokens).size, v.tokens.length, 'unique');
  assert.equal(v.types[0], 2);
  assert.equal(v.types[1], 3);
  assert.equal(v.types[100], 6);
  const ids = new Map(v.tokens.map((t, i) => [t, i]));
  for (const [a, b] of v.merges) {
    assert.ok(ids.has(a) && ids.has(b) && ids.has(a + b), `merge ${a} ${b}`);
    if ([...a].length > 1) assert.ok(v.scores[ids.get(a)] > v.scores[ids.get(a + b)], 'prefix before its extension');
  }
  assert.ok(ids.has('\u2581the') && ids.has('\u2581Once') && ids.has('\u2581'));
});

test('makeTinyLlama: parses back for every type, weights are what the file holds, deterministic', () => {
  for (const type of ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0']) {
    for (const tied of [true, false]) {
      const m = makeTinyLlama({ type, tied, seed: 5 });
      const g = readGGUF(m.gguf);
      const c = m.config;
      assert.equal(g.tensors.length, 2 + 9 * c.n_layers + (tied ? 0 : 1));
      assert.equal(kvValue(g, 'general.architecture'), 'llama');
      assert.equal(kvValue(g, 'llama.embedding_length'), c.dim);
      assert.equal(kvValue(g, 'llama.feed_forward_length'), c.hidden_dim);
      assert.equal(kvValue(g, 'llama.attention.head_count_kv'), c.n_kv_heads);
      assert.equal(kvValue(g, 'llama.rope.dimension_count'), c.head_dim);
      assert.equal(kvValue(g, 'tokenizer.ggml.tokens').length, c.vocab_size);
      assert.equal(kvValue(g, 'tokenizer.ggml.scores').length, c.vocab_size);
      assert.equal(kvValue(g, 'tokenizer.ggml.add_bos_token'), true);
      assert.equal(c.hidden_dim, type.startsWith('Q') ? 64 : 48);
      for (const t of g.tensors) {
        const w = m.weights[t.name];
        assert.ok(w, t.name);
        assert.equal(t.typeName, t.dims.length === 1 ? 'F32' : type);
        assert.deepEqual(Array.from(tensorF32(g, t)), Array.from(w), t.name);
      }
      assert.deepEqual(findTensor(g, 'blk.1.ffn_down.weight').dims, [c.hidden_dim, c.dim]);
      assert.deepEqual(findTensor(g, 'blk.0.attn_k.weight').dims, [c.dim, c.kv_dim]);
      if (tied) assert.equal(m.weights['output.weight'], m.weights['token_embd.weight']);
    }
  }
  assert.ok(Buffer.from(makeTinyLlama({ seed: 9 }).gguf).equals(Buffer.from(makeTinyLlama({ seed: 9 }).gguf)));
  assert.ok(!Buffer.from(makeTinyLlama({ seed: 9 }).gguf).equals(Buffer.from(makeTinyLlama({ seed: 10 }).gguf)));
  assert.throws(() => makeTinyLlama({ type: 'Q8_0', hidden_dim: 48 }), /multiples of 32/);
  const big = makeTinyLlama({ dim: 64, n_heads: 8, n_kv_heads: 4, n_layers: 1, type: 'Q4_0' });
  assert.equal(readGGUF(big.gguf).tensors.length, 11);
});

test('makeTinyHF: same model as makeTinyLlama in HF layout; config, safetensors and tokenizer.json', () => {
  const p = [[1, 2, 3, 4, 5, 6, 7, 8], 2, 4, 2];
  const w = Float32Array.from(p[0]);
  assert.deepEqual(Array.from(unpermuteQK(permuteQK(w, 2, 4, 2), 2, 4, 2)), p[0]);
  assert.deepEqual(Array.from(permuteQK(w, 1, 4, 2)), [1, 2, 5, 6, 3, 4, 7, 8]); // HF rows [0,1 | 2,3] -> pairs (0,2),(1,3)
  for (const type of ['F32', 'BF16', 'F16']) {
    const hf = makeTinyHF({ type, seed: 5, tied: false });
    const ll = makeTinyLlama({ type: 'F32', seed: 5, tied: false });
    const c = hf.config;
    const cfg = JSON.parse(hf.configJson);
    assert.equal(cfg.hidden_size, c.dim);
    assert.equal(cfg.num_key_value_heads, c.n_kv_heads);
    assert.equal(cfg.tie_word_embeddings, false);
    assert.equal(cfg.vocab_size, c.vocab_size);
    const st = readSafetensors(hf.safetensors);
    assert.equal(st.tensors.size, 3 + 9 * c.n_layers);
    for (const [name, t] of st.tensors) {
      assert.equal(t.dtype, type);
      assert.deepEqual(Array.from(stF32(t)), Array.from(hf.weights[name]), name);
    }
    for (const [gname, gw] of Object.entries(ll.weights)) {
      const hname = ggufToHfName(gname);
      let x = hf.weights[hname];
      if (gname.includes('attn_q')) x = permuteQK(x, c.n_heads, c.dim, c.dim);
      if (gname.includes('attn_k')) x = permuteQK(x, c.n_kv_heads, c.kv_dim, c.dim);
      const want = type === 'F32' ? gw : encodeTensor(type, gw).values;
      assert.deepEqual(Array.from(x), Array.from(want), gname);
    }
    const tj = JSON.parse(hf.tokenizerJson);
    assert.equal(tj.model.type, 'BPE');
    assert.equal(tj.model.byte_fallback, true);
    assert.equal(Object.keys(tj.model.vocab).length, c.vocab_size);
    assert.equal(tj.model.vocab['<0x0A>'], 3 + 10);
    assert.equal(tj.model.merges.length, c.merges.length);
    assert.equal(tj.normalizer.normalizers[0].type, 'Prepend');
    assert.deepEqual(tj.decoder.decoders.map((d) => d.type), ['Replace', 'ByteFallback', 'Fuse', 'Strip']);
    assert.deepEqual(tj.post_processor.special_tokens['<s>'].ids, [1]);
  }
  // tied: one stored tensor, under either name
  const t1 = readSafetensors(makeTinyHF({ tied: true }).safetensors);
  assert.ok(t1.tensors.has('model.embed_tokens.weight') && !t1.tensors.has('lm_head.weight'));
  const t2 = readSafetensors(makeTinyHF({ tied: true, tied_name: 'lm_head.weight' }).safetensors);
  assert.ok(!t2.tensors.has('model.embed_tokens.weight') && t2.tensors.has('lm_head.weight'));
  assert.equal(t2.metadata['model.embed_tokens.weight'], 'lm_head.weight');
  assert.throws(() => makeTinyHF({ type: 'Q8_0' }), /not one of/);
});

test('paths: shared dir, clear error on a missing file', () => {
  assert.ok(sharedDir().length > 0);
  assert.ok(modelPath('stories260K/stories260K.gguf').endsWith('stories260K.gguf'));
  assert.throws(() => sharedPath('models/no-such-model.gguf'), (e) => e.code === 'SP_ERR_MISSING_FILE' && /no-such-model/.test(e.message));
});
