// corrupt.test.js - corrupted model files through the public API (one in-process engine): the HF
// path (safetensors truncated at every boundary, bad header lengths, offsets past the end,
// misaligned data, unknown and unsupported dtypes; config.json inconsistent with the tensors),
// NaN/Inf weights in GGUF (F32 and Q8_0) and safetensors, and tokenizers that do not match the
// model's vocabulary. Each case must be refused with its typed error code, must leave malloc's
// heap exactly as it was (no leak on any error path), and the same engine must then still load
// the real models and reproduce their recorded greedy generations.
// (The GGUF reader's own corrupted-file matrix is tests/c/test_corrupt.c; fuzzing is tests/fuzz.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { Softprompt } from '../web/softprompt.js';
import { modelPath } from './lib/paths.js';
import { readGGUF } from './lib/gguf-reader.js';
import { writeGGUF } from './lib/gguf-writer.js';
import { readSafetensors } from './lib/safetensors.js';
import { makeTinyHF, makeTinyLlama } from './lib/tiny-model.js';

const STORIES = new Uint8Array(readFileSync(modelPath('stories260K/stories260K.gguf')));
const STORIES_GOLDEN = JSON.parse(readFileSync(modelPath('stories260K/expected_greedy.json'), 'utf8')).greedy_64;
const HF_DIR = modelPath('TinyStories-656K');
const HF = {
  config: readFileSync(join(HF_DIR, 'config.json'), 'utf8'),
  st: new Uint8Array(readFileSync(join(HF_DIR, 'model.safetensors'))),
  tok: readFileSync(join(HF_DIR, 'tokenizer.json'), 'utf8'),
};
const HF_GOLDEN = JSON.parse(readFileSync(join(HF_DIR, 'expected_greedy.json'), 'utf8'));
const Q8 = new Uint8Array(readFileSync(modelPath('TinyStories-656K/TinyStories-656K-Q8_0.gguf')));

let sp;
let baseline; // malloc'd bytes with no model loaded
const counts = {};

before(async () => {
  sp = await Softprompt.create({ worker: false, threads: 1 });
  baseline = (await sp.memory()).heapUsed;
  assert.equal(typeof baseline, 'number', 'the memory op reports heapUsed (sp_heap_used)');
});
after(() => {
  sp?.terminate();
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  console.log(`corrupt: ${total} corrupted models refused: ${JSON.stringify(counts)}`);
});

const hfSource = ({ config = HF.config, st = HF.st, tok = HF.tok } = {}) => ({
  files: { 'config.json': config, 'model.safetensors': st, 'tokenizer.json': tok },
});

/** The load must fail with `code` (and a message matching `re`), and free everything it took. */
async function refused(source, code, re, label) {
  let err = null;
  try {
    const m = await sp.loadModel(source);
    await m.free();
  } catch (e) {
    err = e;
  }
  assert.ok(err, `${label}: loaded, expected ${code}`);
  assert.equal(err.code, code, `${label}: got ${err.code}: ${err.message}`);
  if (re) assert.match(err.message, re, label);
  assert.ok(err.message.length > 10 && !err.message.includes('\n'), `${label}: a one-line message: ${err.message}`);
  const mem = await sp.memory();
  assert.equal(mem.models, 0, label);
  assert.equal(mem.heapUsed, baseline, `${label}: ${mem.heapUsed - baseline} bytes still allocated after the refusal`);
  counts[code] = (counts[code] ?? 0) + 1;
}

async function greedy(model, prompt, n) {
  const r = await model.generate(prompt, { maxTokens: n, temperature: 0 });
  return r.tokens;
}

/** The engine is usable: both real models load and reproduce their goldens, then free cleanly. */
async function engineStillGood() {
  const m = await sp.loadModel(STORIES);
  assert.deepEqual(await greedy(m, STORIES_GOLDEN.prompt, 16), STORIES_GOLDEN.generated_ids.slice(0, 16));
  await m.free();
  const h = await sp.loadModel(hfSource());
  const g = HF_GOLDEN['Once upon a time'];
  assert.deepEqual(await greedy(h, 'Once upon a time', 16), g.f32_greedy_new_ids_64.slice(0, 16));
  await h.free();
  assert.equal((await sp.memory()).heapUsed, baseline, 'the heap is back to its baseline');
}

// ---- helpers to edit files

const enc = new TextEncoder();

function stParts(st) {
  const dv = new DataView(st.buffer, st.byteOffset, st.byteLength);
  const hl = Number(dv.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(st.subarray(8, 8 + hl)));
  return { hl, header, data: st.subarray(8 + hl) };
}

/** A safetensors file with an edited header (padded with `pad` extra spaces) over the same data. */
function withHeader(st, edit, { pad = 0, data } = {}) {
  const p = stParts(st);
  const h = structuredClone(p.header);
  edit(h);
  let json = JSON.stringify(h);
  json += ' '.repeat((8 - (json.length % 8)) % 8 + pad);
  const hb = enc.encode(json);
  const d = data ?? p.data;
  const out = new Uint8Array(8 + hb.length + d.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  out.set(d, 8 + hb.length);
  return out;
}

function withU64(bytes, offset, value) {
  const out = bytes.slice();
  new DataView(out.buffer).setBigUint64(offset, BigInt(value), true);
  return out;
}

function setF32(bytes, offset, value) {
  const out = bytes.slice();
  new DataView(out.buffer).setFloat32(offset, value, true);
  return out;
}

const cfgWith = (edit) => {
  const c = JSON.parse(HF.config);
  edit(c);
  return JSON.stringify(c);
};

// ---- tests

test('corrupt HF: model.safetensors truncated at every boundary', async () => {
  const st = HF.st;
  const { hl, header } = stParts(st);
  const cuts = new Set([0, 1, 4, 7, 8, 9, 16, 8 + Math.floor(hl / 2), 8 + hl - 1, 8 + hl]);
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const [b, e] = t.data_offsets;
    for (const x of [b + 1, Math.floor((b + e) / 2), e - 1]) cuts.add(8 + hl + x); // inside every tensor
    cuts.add(8 + hl + e - 4); // one value short
  }
  cuts.add(st.length - 1);
  for (const cut of [...cuts].sort((a, b) => a - b)) {
    if (cut >= st.length) continue;
    await refused(hfSource({ st: st.slice(0, cut) }), 'SP_ERR_FORMAT', /safetensors/, `truncated at ${cut}`);
  }
  assert.ok(cuts.size > 70, `${cuts.size} truncation points`);
  await engineStillGood();
});

test('corrupt HF: bad header lengths, offsets past the end, overlaps, misaligned data, unknown dtypes', async () => {
  const st = HF.st;
  const { hl, data } = stParts(st);
  // header length: zero, past the end, absurd, one short of the JSON, one past it (into the data)
  for (const v of [0, st.length, st.length - 7, 2n ** 63n, 2n ** 64n - 1n, hl - 1, hl + 1]) {
    await refused(hfSource({ st: withU64(st, 0, v) }), 'SP_ERR_FORMAT', /safetensors|aligned/, `header length ${v}`);
  }
  // data_offsets past the end of the data, reversed, overlapping, not matching the shape
  const E = 'model.layers.1.self_attn.v_proj.weight'; // the last tensor
  const Q = 'model.layers.0.self_attn.q_proj.weight';
  const edits = [
    ['offsets past the end', (h) => { h[E].data_offsets = [h[E].data_offsets[0] + 4, h[E].data_offsets[1] + 4]; }],
    ['end far past the end', (h) => { h[E].data_offsets[1] = 2 ** 40; }],
    ['begin > end', (h) => { h[Q].data_offsets = [h[Q].data_offsets[1], h[Q].data_offsets[0]]; }],
    ['overlapping tensors', (h) => { h[Q].data_offsets = h['model.layers.0.self_attn.o_proj.weight'].data_offsets.slice(); }],
    ['shape larger than the data', (h) => { h[Q].shape = [128, 129]; }],
    ['negative shape', (h) => { h[Q].shape = [-128, -128]; }],
    ['shape overflow', (h) => { h[Q].shape = [2 ** 40, 2 ** 40]; }],
    ['offsets not numbers', (h) => { h[Q].data_offsets = ['0', '4']; }],
    ['no dtype', (h) => { delete h[Q].dtype; }],
    ['header an array', (h) => { for (const k of Object.keys(h)) delete h[k]; h.x = 1; }],
  ];
  for (const [label, edit] of edits) await refused(hfSource({ st: withHeader(st, edit) }), 'SP_ERR_FORMAT', /safetensors|tensor/, label);
  // the data starts 2 bytes off: F32 tensors misaligned
  await refused(hfSource({ st: withHeader(st, () => {}, { pad: 2 }) }), 'SP_ERR_FORMAT', /aligned/, 'misaligned F32 data');
  // dtypes: unknown to safetensors, and known but not a weight type the engine takes
  await refused(hfSource({ st: withHeader(st, (h) => { h[Q].dtype = 'F9_E9'; }) }), 'SP_ERR_UNSUPPORTED', /dtype/, 'unknown dtype');
  await refused(hfSource({ st: withHeader(st, (h) => { h[Q].dtype = 'I32'; }) }), 'SP_ERR_UNSUPPORTED', /dtype I32/, 'I32 weights');
  await refused(hfSource({ st: withHeader(st, (h) => { h[Q].dtype = 'I64'; h[Q].shape = [128, 64]; }) }), 'SP_ERR_UNSUPPORTED', /I64/, 'I64 weights');
  // a tensor missing, and a weight with three dims
  await refused(hfSource({ st: withHeader(st, (h) => { h['model.norm.weight_'] = h[E]; delete h[E]; }) }), 'SP_ERR_SHAPE', /missing/, 'a tensor missing');
  await refused(hfSource({ st: withHeader(st, (h) => { h[Q].shape = [128, 2, 64]; }) }), 'SP_ERR_SHAPE', /dimensions/, '3-d weight');
  // the file is not safetensors at all, or empty
  await refused(hfSource({ st: STORIES.subarray(0, 4096) }), 'SP_ERR_FORMAT', /safetensors/, 'a GGUF as safetensors');
  await refused(hfSource({ st: new Uint8Array(0) }), 'SP_ERR_FORMAT', /safetensors/, 'empty safetensors');
  assert.ok(data.length > 0);
  await engineStillGood();
});

test('corrupt HF: config.json inconsistent with the tensors', async () => {
  const shape = [
    ['hidden_size 64', (c) => { c.hidden_size = 64; }],
    ['vocab_size 4096', (c) => { c.vocab_size = 4096; }],
    ['vocab_size 1024', (c) => { c.vocab_size = 1024; }],
    ['intermediate_size 256', (c) => { c.intermediate_size = 256; }],
    ['num_key_value_heads 8', (c) => { c.num_key_value_heads = 8; }],
    ['num_key_value_heads 3', (c) => { c.num_key_value_heads = 3; }],
    ['num_attention_heads 7', (c) => { c.num_attention_heads = 7; }],
    ['num_attention_heads 16', (c) => { c.num_attention_heads = 16; }],
    ['head_dim 32', (c) => { c.head_dim = 32; }],
    ['head_dim 2^30', (c) => { c.head_dim = 2 ** 30; }],
    ['num_hidden_layers 3 (a layer missing)', (c) => { c.num_hidden_layers = 3; }],
    ['num_hidden_layers 1 (a layer too many in the file)', (c) => { c.num_hidden_layers = 1; }],
    ['num_hidden_layers 0', (c) => { c.num_hidden_layers = 0; }],
    ['hidden_size -128', (c) => { c.hidden_size = -128; }],
    ['hidden_size 2e9', (c) => { c.hidden_size = 2e9; }],
    ['untied, lm_head only in the file', (c) => { c.tie_word_embeddings = false; }],
    ['max_position_embeddings 0', (c) => { c.max_position_embeddings = 0; }],
    ['rms_norm_eps 0', (c) => { c.rms_norm_eps = 0; }],
  ];
  for (const [label, edit] of shape) await refused(hfSource({ config: cfgWith(edit) }), 'SP_ERR_SHAPE', null, label);
  const format = [
    ['not JSON', '{"hidden_size": 128,'],
    ['an array', '[1, 2]'],
    ['empty', ''],
    ['hidden_size missing', cfgWith((c) => { delete c.hidden_size; })],
    ['hidden_size a string', cfgWith((c) => { c.hidden_size = '128'; })],
    ['num_hidden_layers 1.5', cfgWith((c) => { c.num_hidden_layers = 1.5; })],
    ['hidden_size 2^31 (not an int32)', cfgWith((c) => { c.hidden_size = 2 ** 31; })],
  ];
  for (const [label, text] of format) await refused(hfSource({ config: text }), 'SP_ERR_FORMAT', /config\.json/, label);
  const unsupported = [
    ['phi3', (c) => { c.model_type = 'phi3'; c.architectures = ['Phi3ForCausalLM']; }],
    ['gelu', (c) => { c.hidden_act = 'gelu'; }],
    ['biases', (c) => { c.attention_bias = true; }],
    ['rope scaling yarn', (c) => { c.rope_scaling = { type: 'yarn', factor: 2 }; }],
  ];
  for (const [label, edit] of unsupported) await refused(hfSource({ config: cfgWith(edit) }), 'SP_ERR_UNSUPPORTED', /config\.json/, label);
  await engineStillGood();
});

/** stories260K rewritten with edited metadata: edit(key, type, value) -> [type, value] | null (drop). */
function storiesWith(edit) {
  const g = readGGUF(STORIES);
  const kv = [];
  for (const [k, { type, value }] of g.kv) {
    const r = edit(k, type, value);
    if (r) kv.push([k, r[0], r[1]]);
  }
  return writeGGUF({ version: g.version, alignment: g.alignment, kv, tensors: g.tensors.map((t) => ({ name: t.name, dims: t.dims, type: t.type, raw: t.data })) });
}

test('corrupt GGUF: metadata inconsistent with the tensors', async () => {
  const set = (key, v) => (k, type, value) => (k === key ? (v === undefined ? null : [type, v]) : [type, value]);
  const cases = [
    ['block_count 4 (a layer too many in the file)', set('llama.block_count', 4), 'SP_ERR_SHAPE', /past llama\.block_count/],
    ['block_count 6 (a layer missing)', set('llama.block_count', 6), 'SP_ERR_SHAPE', /blk\.5/],
    ['embedding_length 32', (k, t, v) => (k === 'llama.rope.dimension_count' ? null : set('llama.embedding_length', 32)(k, t, v)), 'SP_ERR_SHAPE', /token_embd/],
    ['embedding_length 32 (rope dims 8 kept)', set('llama.embedding_length', 32), 'SP_ERR_UNSUPPORTED', /rotary/],
    ['feed_forward_length 100', set('llama.feed_forward_length', 100), 'SP_ERR_SHAPE', /ffn/],
    ['head_count 7', set('llama.attention.head_count', 7), 'SP_ERR_SHAPE', null],
    ['head_count_kv 3', set('llama.attention.head_count_kv', 3), 'SP_ERR_SHAPE', null],
    ['head_count_kv 2^31-1', set('llama.attention.head_count_kv', 2 ** 31 - 1), 'SP_ERR_SHAPE', null],
    ['context_length 0', set('llama.context_length', 0), 'SP_ERR_SHAPE', /context/],
    ['architecture phi3', set('general.architecture', 'phi3'), 'SP_ERR_UNSUPPORTED', /'phi3' is not supported \(supported: llama, qwen2, qwen3, gemma3, gpt2\)/],
    ['feed_forward_length missing', set('llama.feed_forward_length', undefined), 'SP_ERR_FORMAT', /missing/],
    ['architecture missing', set('general.architecture', undefined), 'SP_ERR_FORMAT', /architecture/],
  ];
  for (const [label, edit, code, re] of cases) await refused(storiesWith(edit), code, re, `GGUF ${label}`);
  await engineStillGood();
});

test('corrupt: NaN and Inf weights (GGUF F32 and Q8_0, safetensors F32 and BF16)', async () => {
  // GGUF F32 (stories260K): a NaN in a matrix, an Inf in a norm vector
  const g = readGGUF(STORIES);
  const at = (name) => g.tensors.find((t) => t.name === name).data.byteOffset - STORIES.byteOffset;
  for (const [name, v, off, re] of [['blk.0.attn_q.weight', NaN, 0], ['blk.4.ffn_down.weight', Infinity, 1000], ['token_embd.weight', -Infinity, 4 * 511 * 64, /token embedding/],
    ['blk.2.attn_norm.weight', Infinity, 8], ['output_norm.weight', NaN, 0]]) {
    await refused(setF32(STORIES, at(name) + off, v), 'SP_ERR_NUMERIC', re ?? new RegExp(name.split('.weight')[0].replace(/\./g, '\\.')), `GGUF ${name} = ${v}`);
  }
  // GGUF Q8_0: a block scale (f16) of Inf and of NaN
  const q = readGGUF(Q8);
  const qt = q.tensors.find((t) => t.name === 'blk.1.ffn_up.weight');
  const qoff = qt.data.byteOffset - Q8.byteOffset;
  for (const [h, label] of [[0x7c00, 'Inf'], [0x7e00, 'NaN'], [0xfc00, '-Inf']]) {
    const b = Q8.slice();
    new DataView(b.buffer).setUint16(qoff + 34 * 7, h, true); // the 8th block's scale
    await refused(b, 'SP_ERR_NUMERIC', /blk\.1\.ffn_up/, `Q8_0 scale ${label}`);
  }
  // safetensors F32 (TinyStories-656K): NaN in the (tied) embedding, Inf in q_proj, -Inf in a norm
  const { hl, header } = stParts(HF.st);
  const st0 = (name) => 8 + hl + header[name].data_offsets[0];
  for (const [name, v, off] of [['lm_head.weight', NaN, 4 * 12345], ['model.layers.0.self_attn.q_proj.weight', Infinity, 0],
    ['model.layers.1.post_attention_layernorm.weight', -Infinity, 4 * 127]]) {
    await refused(hfSource({ st: setF32(HF.st, st0(name) + off, v) }), 'SP_ERR_NUMERIC', /non-finite/, `safetensors ${name} = ${v}`);
  }
  // BF16 safetensors (a tiny model): a NaN bit pattern in a matrix
  const tiny = makeTinyHF({ type: 'BF16' });
  const r = readSafetensors(tiny.safetensors);
  const t = r.tensors.get('model.layers.1.mlp.gate_proj.weight');
  const b = tiny.safetensors.slice();
  new DataView(b.buffer).setUint16(t.data.byteOffset - tiny.safetensors.byteOffset + 10, 0x7fc0, true);
  await refused(hfSource({ config: tiny.configJson, st: b, tok: tiny.tokenizerJson }), 'SP_ERR_NUMERIC', /non-finite/, 'BF16 NaN');
  await engineStillGood();
});

test('corrupt: hostile K-quant and Q5_0 / Q5_1 blocks (NaN / Inf scales, truncated data, rows not a multiple of 256)', async () => {
  // per type: block bytes, the f16 fields of a block (d; dmin or m), and the tiny model's shape (the
  // K-quants need rows of 256; Q5_0 / Q5_1 are llama.cpp's fallback for the other rows)
  const K = { dim: 256, n_heads: 4, n_kv_heads: 2, hidden_dim: 256 };
  const TYPES = {
    Q4_K: [144, [['d', 0], ['dmin', 2]], K], Q5_K: [176, [['d', 0], ['dmin', 2]], K], Q6_K: [210, [['d', 208]], K],
    Q5_0: [22, [['d', 0]], {}], Q5_1: [24, [['d', 0], ['m', 2]], {}],
  };
  for (const [type, [bs, fields, shape]] of Object.entries(TYPES)) {
    const { gguf } = makeTinyLlama({ seed: 5, type, ...shape, n_layers: 1 });
    const g = readGGUF(gguf);
    const t = g.tensors.find((x) => x.name === 'blk.0.ffn_down.weight');
    const off = t.data.byteOffset - gguf.byteOffset;
    for (const [field, at] of fields) { // in the 3rd block
      for (const [h, label] of [[0x7c00, 'Inf'], [0x7e00, 'NaN'], [0xfc00, '-Inf']]) {
        const b = gguf.slice();
        new DataView(b.buffer).setUint16(off + 2 * bs + at, h, true);
        await refused(b, 'SP_ERR_NUMERIC', /blk\.0\.ffn_down.*block scale/, `${type} ${field} ${label}`);
      }
    }
    // the file cut inside the last tensor's blocks, and one byte short
    const last = g.tensors.reduce((a, x) => (x.data.byteOffset > a.data.byteOffset ? x : a));
    const end = last.data.byteOffset - gguf.byteOffset + last.data.byteLength;
    for (const cut of [end - 1, end - bs - 7, end - Math.floor(last.data.byteLength / 2)]) {
      await refused(gguf.slice(0, cut), 'SP_ERR_FORMAT', /past the end|truncated/, `${type} cut at ${cut} of ${end}`);
    }
  }
  // a tensor declared Q4_K whose rows are 64 values (the type id patched in its tensor info)
  const f32 = makeTinyLlama({ seed: 5, type: 'F32', dim: 64 }).gguf;
  const name = new TextEncoder().encode('blk.0.attn_q.weight');
  let at = -1;
  for (let i = 0; i + name.length <= f32.length && at < 0; i++) if (name.every((c, k) => f32[i + k] === c)) at = i;
  assert.ok(at > 0);
  const dv = new DataView(f32.buffer, f32.byteOffset);
  const typePos = at + name.length + 4 + 8 * dv.getUint32(at + name.length, true);
  const p = f32.slice();
  new DataView(p.buffer).setUint32(typePos, 12, true);
  await refused(p, 'SP_ERR_FORMAT', /Q4_K.*not a multiple of 256/, 'Q4_K rows of 64');
  await engineStillGood();
});

test('corrupt: a tokenizer that does not match the model\'s vocabulary', async () => {
  // GGUF: one token fewer / more than the embedding has rows
  const rewrite = (n) => storiesWith((k, type, value) => {
    if (!['tokenizer.ggml.tokens', 'tokenizer.ggml.scores', 'tokenizer.ggml.token_type'].includes(k)) return [type, value];
    const vals = Array.from(value.values);
    while (vals.length > n) vals.pop();
    while (vals.length < n) vals.push(k === 'tokenizer.ggml.tokens' ? `<extra${vals.length}>` : 1);
    return [type, { type: value.type, values: vals }];
  });
  const same = rewrite(512);
  const m = await sp.loadModel(same); // the rewrite itself is faithful
  assert.deepEqual(await greedy(m, STORIES_GOLDEN.prompt, 8), STORIES_GOLDEN.generated_ids.slice(0, 8));
  await m.free();
  await refused(rewrite(511), 'SP_ERR_TOKENIZER', /511 tokens.*512/, 'GGUF: 511 tokens for 512 rows');
  await refused(rewrite(600), 'SP_ERR_TOKENIZER', /600 tokens.*512/, 'GGUF: 600 tokens for 512 rows');
  // HF: tokenizer.json with more tokens than vocab_size, an added token past it, another model's
  // tokenizer whose ids run past the embedding, and tokenizer.json that is not a tokenizer
  const tj = JSON.parse(HF.tok);
  const nv = Object.keys(tj.model.vocab).length;
  const big = structuredClone(tj);
  for (let i = 0; i < 2100 - nv; i++) big.model.vocab[`<x${i}>`] = nv + i;
  await refused(hfSource({ tok: JSON.stringify(big) }), 'SP_ERR_TOKENIZER', /2048/, 'tokenizer.json with 2100 tokens');
  const added = structuredClone(tj);
  added.added_tokens.push({ id: 5000, content: '<late>', single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  await refused(hfSource({ tok: JSON.stringify(added) }), 'SP_ERR_TOKENIZER', null, 'an added token with id 5000');
  const smallCfg = cfgWith((c) => { c.vocab_size = 300; });
  const tiny = makeTinyHF({ type: 'F32', dim: 16, n_heads: 2, n_kv_heads: 1, hidden_dim: 16, n_layers: 1 });
  await refused(hfSource({ config: tiny.configJson, st: tiny.safetensors, tok: HF.tok }), 'SP_ERR_TOKENIZER', /2048|tokens/, 'a 2048-token tokenizer on a 415-row model');
  assert.ok(smallCfg);
  for (const [label, text] of [['not JSON', '{"model": '], ['no model', '{"version":"1.0"}'], ['empty', '']]) {
    await refused(hfSource({ tok: text }), 'SP_ERR_TOKENIZER', null, `tokenizer.json ${label}`);
  }
  // well-formed but not covered: SP_ERR_UNSUPPORTED naming the JSON path
  await refused(hfSource({ tok: JSON.stringify({ ...tj, model: { type: 'WordPiece', vocab: { a: 0 } } }) }), 'SP_ERR_UNSUPPORTED',
    /model\.type 'WordPiece'/, 'tokenizer.json WordPiece');
  await engineStillGood();
});
