#!/usr/bin/env node
// make-corpus.js - seed corpora for the libFuzzer harnesses, written into <out>/<target>/
// (default build/fuzz/corpus). Seeds: tiny models from tests/lib (every tensor type, v2/v3,
// custom alignment, nested arrays), hand-made edge cases, and COPIES of the real shared files
// (copied into build/ at run time only; never committed). Usage: node tests/fuzz/make-corpus.js [out]
import { mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeGGUF } from '../lib/gguf-writer.js';
import { writeSafetensors } from '../lib/safetensors.js';
import { makeTinyLlama, makeTinyHF } from '../lib/tiny-model.js';
import { repoRoot, sharedDir, hasShared } from '../lib/paths.js';

const out = resolve(process.argv[2] || join(repoRoot(), 'build', 'fuzz', 'corpus'));
const counts = {};
function put(target, name, bytes) {
  const dir = join(out, target);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, name), typeof bytes === 'string' ? Buffer.from(bytes, 'utf8') : Buffer.from(bytes));
  counts[target] = (counts[target] || 0) + 1;
}

// ---- GGUF ----
for (const type of ['F32', 'F16', 'BF16', 'Q8_0', 'Q4_0']) {
  // small dims keep the seeds small (fuzzing is faster on small inputs)
  const m = makeTinyLlama({ type, dim: 32, n_layers: 1, n_heads: 2, n_kv_heads: 1, hidden_dim: 32, tied: type !== 'F16' });
  put('gguf', `tiny-${type}.gguf`, m.gguf);
}
const data = Float32Array.from({ length: 64 }, (_, i) => i - 32);
put('gguf', 'all-kv-types-v2.gguf', writeGGUF({
  version: 2, alignment: 64,
  kv: [
    ['u8', 'uint8', 1], ['i8', 'int8', -1], ['u16', 'uint16', 2], ['i16', 'int16', -2], ['u32', 'uint32', 3], ['i32', 'int32', -3],
    ['f32', 'float32', 0.5], ['b', 'bool', true], ['s', 'string', 'str'], ['u64', 'uint64', 4n], ['i64', 'int64', -4n], ['f64', 'float64', 0.25],
    ['general.alignment', 'uint32', 64],
    ['as', 'array', { type: 'string', values: ['a', 'bc'] }],
    ['an', 'array', { type: 'array', values: [{ type: 'uint8', values: [1] }, { type: 'array', values: [{ type: 'string', values: ['z'] }] }] }],
  ],
  tensors: [
    { name: 'a', dims: [32, 2], type: 'Q8_0', data }, { name: 'b', dims: [64], type: 'Q4_0', data },
    { name: 'c', dims: [2, 2, 2, 8], type: 'F16', data }, { name: 'k', dims: [256], type: 12, raw: new Uint8Array(144) },
  ],
}));
put('gguf', 'empty.gguf', writeGGUF({}));
put('gguf', 'one-tensor.gguf', writeGGUF({ tensors: [{ name: 't', dims: [1], type: 'F32', data: [1] }] }));

// ---- safetensors ----
for (const type of ['F32', 'F16', 'BF16']) {
  const hf = makeTinyHF({ type, dim: 16, n_layers: 1, n_heads: 2, n_kv_heads: 1, hidden_dim: 16, tied: type === 'F32' });
  put('safetensors', `tiny-${type}.safetensors`, hf.safetensors);
  put('json', `tiny-config-${type}.json`, hf.configJson);
  if (type === 'F32') put('json', 'tiny-tokenizer.json', hf.tokenizerJson);
}
put('safetensors', 'prompt.safetensors', writeSafetensors({ prompt_embeddings: { dtype: 'F32', shape: [4, 8], data: new Float32Array(32) } }));
put('safetensors', 'mixed.safetensors', writeSafetensors([
  ['x', { dtype: 'F32', shape: [], data: [1] }], ['y', { dtype: 'I64', shape: [1], raw: new Uint8Array(8) }],
  ['z', { dtype: 'F16', shape: [0, 3], data: [] }],
], { format: 'pt', note: 'é\u2581' }));
put('safetensors', 'empty.safetensors', writeSafetensors({}, null));

// ---- JSON ----
put('json', 'scalars.json', '[null,true,false,0,-0,1.5e-3,-12E+2,"",{},[]]');
put('json', 'escapes.json', '{"a\\"b":"\\u00e9\\ud83d\\ude00\\n\\t\\/\\\\","\\u0000":1}');
put('json', 'nested.json', '['.repeat(64) + ']'.repeat(64));
put('json', 'peft.json', JSON.stringify({ peft_type: 'PROMPT_TUNING', task_type: 'CAUSAL_LM', num_virtual_tokens: 8, token_dim: 64, prompt_tuning_init: 'TEXT', prompt_tuning_init_text: 'Classify:', base_model_name_or_path: null, inference_mode: true }));
put('json', 'jsonl-line.json', '{"prompt": "Once upon a time", "completion": " there was"}');

// ---- real files (copied into build/ only) ----
if (hasShared()) {
  const real = [
    ['gguf', 'models/stories260K/stories260K.gguf'],
    ['gguf', 'models/TinyStories-656K/TinyStories-656K-Q8_0.gguf'],
    ['safetensors', 'models/TinyStories-656K/model.safetensors'],
    ['json', 'models/TinyStories-656K/config.json'],
    ['json', 'models/TinyStories-656K/tokenizer.json'],
    ['json', 'models/TinyStories-656K/tokenizer_config.json'],
  ];
  for (const [target, rel] of real) {
    const p = join(sharedDir(), rel);
    if (!existsSync(p)) throw new Error(`make-corpus: shared file missing: ${p}`);
    const bytes = readFileSync(p);
    put(target, `real-${rel.split('/').pop()}`, bytes);
    if (target === 'safetensors') {
      // the header plus a little data, and the header alone as JSON: small seeds fuzz faster
      const hl = Number(bytes.readBigUInt64LE(0));
      put('safetensors', 'real-header-only.safetensors', bytes.subarray(0, 8 + hl));
      put('json', 'real-safetensors-header.json', bytes.subarray(8, 8 + hl));
    }
    if (target === 'gguf') put('gguf', `real-head-${rel.split('/').pop()}`, bytes.subarray(0, 16384)); // metadata only (truncated)
  }
}
console.log(`corpus in ${out}: ${Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ')}`);
