// engine.test.js - web/engine.js, the JS wrapper of the C ABI, in this thread (no worker):
// loading the wasm build (single and multi threaded), C errors as SoftpromptError with the C code
// name, tokenize/detokenize/token pieces against the recorded goldens, the generation step loop,
// heap views after memory growth, freed objects, and no leaks over load/free cycles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { loadEngine } from '../web/engine.js';
import { SoftpromptError } from '../web/errors.js';
import { modelPath } from './lib/paths.js';
import { makeTinyLlama } from './lib/tiny-model.js';

const STORIES = modelPath('stories260K/stories260K.gguf');
const GOLDEN = JSON.parse(readFileSync(modelPath('stories260K/expected_greedy.json'), 'utf8')).greedy_64;
const HF_DIR = modelPath('TinyStories-656K');
const HF_GOLDEN = JSON.parse(readFileSync(modelPath('TinyStories-656K/expected_greedy.json'), 'utf8'));

let engine; // single-threaded, shared by the tests below
test.before(async () => {
  engine = await loadEngine({ threads: 1 });
});
test.after(() => engine?.dispose());

function loadStories(e = engine) {
  return e.loadGguf(new Uint8Array(readFileSync(STORIES)));
}

function greedy(model, ids, n, adapter = null, stopAtEos = true) {
  const g = model.startGeneration(ids, { maxTokens: n, temperature: 0, stopAtEos }, adapter);
  const out = [];
  let text = '';
  try {
    for (let t = g.next(); t; t = g.next()) {
      out.push(t.id);
      text += t.text;
    }
    text += g.flush();
  } finally {
    g.free();
  }
  return { ids: out, text };
}

test('engine: info, ABI version, kernels', () => {
  const info = engine.info();
  assert.equal(info.abiVersion, 6);
  assert.equal(info.threads, 1);
  assert.equal(info.threaded, false);
  assert.ok(['wasmsimd', 'scalar'].includes(info.isa), info.isa);
});

test('engine: stories260K tokenize and greedy generation match llama2.c', () => {
  const m = loadStories();
  try {
    assert.equal(m.info.vocab_size, 512);
    assert.equal(m.info.n_layers, 5);
    const ids = m.tokenize(GOLDEN.prompt, true);
    assert.deepEqual(ids, GOLDEN.prompt_ids_with_bos);
    const r = greedy(m, ids, GOLDEN.generated_ids.length);
    assert.deepEqual(r.ids, GOLDEN.generated_ids);
    // the streamed pieces make exactly the recorded continuation
    assert.equal(GOLDEN.prompt + r.text + '\n', GOLDEN.stdout);
  } finally {
    m.free();
  }
});

test('engine: HF folder (safetensors + tokenizer.json) matches its recorded greedy ids', () => {
  const read = (n) => readFileSync(`${HF_DIR}/${n}`);
  const m = engine.loadHf(read('config.json').toString('utf8'), new Uint8Array(read('model.safetensors')), read('tokenizer.json').toString('utf8'));
  try {
    const g = HF_GOLDEN['Once upon a time'];
    const ids = m.tokenize('Once upon a time', true);
    assert.deepEqual(ids, g.prompt_ids);
    const r = greedy(m, ids, 16);
    assert.deepEqual(r.ids, g.f32_greedy_new_ids_64.slice(0, 16));
  } finally {
    m.free();
  }
});

test('engine: logits after the prompt match the recorded top-5', () => {
  const m = loadStories();
  const g = m.startGeneration(GOLDEN.prompt_ids_with_bos, { maxTokens: 1, temperature: 0 });
  try {
    const t = g.next();
    assert.equal(t.id, GOLDEN.top5_logits_after_prompt[0][0]);
    const logits = g.logits();
    assert.equal(logits.length, 512);
    for (const [id, v] of GOLDEN.top5_logits_after_prompt) assert.ok(Math.abs(logits[id] - v) < 1e-3, `logit ${id}: ${logits[id]} vs ${v}`);
  } finally {
    g.free();
    m.free();
  }
});

test('engine: text round trips, and token pieces that split UTF-8 decode when streamed', () => {
  const m = loadStories();
  try {
    for (const s of ['Once upon a time', 'naïve café, 😀 and 漢字!', ' leading space', 'a\nb\tc', '']) {
      const ids = m.tokenize(s, false);
      assert.equal(m.detokenize(ids), s, JSON.stringify(s));
    }
    // a lone surrogate is not UTF-8: it is encoded as U+FFFD, never a crash
    assert.equal(m.detokenize(m.tokenize('x\ud800y', false)), 'x\ufffdy');
    // the 512-token vocabulary spells the emoji with byte tokens: single pieces are not valid UTF-8,
    // a streaming decoder fed piece by piece (as the generation loop does) gives the text back
    const s = 'Tom 😀 café';
    const ids = m.tokenize(s, true);
    const dec = new TextDecoder('utf-8');
    let text = '';
    let splits = 0;
    let prev = -1;
    for (const id of ids) {
      const bytes = m.tokenPiece(prev, id);
      if (bytes.length && new TextDecoder().decode(bytes).includes('\ufffd')) splits++;
      text += dec.decode(bytes, { stream: true });
      prev = id;
    }
    text += dec.decode();
    assert.ok(splits > 0, 'some pieces end inside a UTF-8 character');
    assert.equal(text.replace(/^ /, ''), s);
  } finally {
    m.free();
  }
});

test('engine: C errors are SoftpromptError with the C code name and message; the engine stays usable', () => {
  assert.throws(() => engine.loadGguf(new TextEncoder().encode('{"not": "gguf"}')),
    (e) => e instanceof SoftpromptError && e.code === 'SP_ERR_FORMAT' && /magic/i.test(e.message));
  const bytes = new Uint8Array(readFileSync(STORIES));
  assert.throws(() => engine.loadGguf(bytes.subarray(0, 3000)), (e) => e.code === 'SP_ERR_FORMAT' && /truncated/i.test(e.message));
  const m = loadStories();
  try {
    assert.throws(() => m.startGeneration([1, 2, 3], { maxTokens: 5000 }), (e) => e.code === 'SP_ERR_CONTEXT');
    assert.throws(() => m.startGeneration([1], { temperature: -1 }), (e) => e.code === 'SP_ERR_INVALID_ARG');
    assert.throws(() => m.startGeneration([1], { topP: Number.NaN }), (e) => e.code === 'SP_ERR_INVALID_ARG');
    assert.throws(() => m.startGeneration([], {}), (e) => e.code === 'SP_ERR_INVALID_ARG');
    assert.throws(() => m.detokenize([100000]), (e) => e.code === 'SP_ERR_INVALID_ARG' || e.code === 'SP_ERR_TOKENIZER');
    assert.throws(() => m.evaluate('{"text": 1}\n'), (e) => e.code === 'SP_ERR_DATA' && /line 1/.test(e.message));
    assert.throws(() => m.createTuner({ lr: -1 }, '{"text":"a b"}\n'), (e) => e.code === 'SP_ERR_INVALID_ARG');
    assert.deepEqual(greedy(m, GOLDEN.prompt_ids_with_bos, 8).ids, GOLDEN.generated_ids.slice(0, 8));
  } finally {
    m.free();
  }
});

test('engine: freed objects refuse calls with SP_ERR_STATE; double free is harmless', () => {
  const m = loadStories();
  m.free();
  m.free();
  assert.throws(() => m.tokenize('x'), (e) => e.code === 'SP_ERR_STATE');
  assert.throws(() => m.startGeneration([1], {}), (e) => e.code === 'SP_ERR_STATE');
});

test('engine: heap views are re-taken after memory grows', () => {
  const m = loadStories();
  const before = engine.heapBytes();
  const big = engine.malloc(before + (32 << 20)); // forces growth
  try {
    assert.ok(engine.heapBytes() > before, 'the heap grew');
    // writes and reads through fresh views land where the C side sees them
    engine.write(big, new Uint8Array([1, 2, 3, 4]), before + 10);
    assert.deepEqual([...engine.read(big + before + 10, 4)], [1, 2, 3, 4]);
    assert.deepEqual(m.tokenize(GOLDEN.prompt, true), GOLDEN.prompt_ids_with_bos);
    assert.deepEqual(greedy(m, GOLDEN.prompt_ids_with_bos, 8).ids, GOLDEN.generated_ids.slice(0, 8));
  } finally {
    engine.free(big);
    m.free();
  }
  // an impossible allocation is refused with a typed error, not an abort
  assert.throws(() => engine.malloc(2 ** 33), (e) => e.code === 'SP_ERR_TOO_LARGE');
});

test('engine: no leaks: the heap does not grow over 80 load/generate/tune/free cycles', () => {
  const e = engine;
  const bytes = new Uint8Array(readFileSync(STORIES));
  const data = '{"text":"Once upon a time there was a dog."}\n{"text":"The cat sat on the mat."}\n';
  const cycle = () => {
    const m = e.loadGguf(bytes);
    greedy(m, [1, 403], 4);
    const t = m.createTuner({ virtual_tokens: 4, steps: 1, batch_size: 2, eval_split: 0 }, data);
    t.step();
    const a = t.adapter(false);
    a.saveSafetensors();
    a.saveConfig('x');
    a.free();
    t.free();
    m.tokenize('hello', true);
    m.free();
  };
  for (let i = 0; i < 5; i++) cycle();
  const settled = e.heapBytes();
  for (let i = 0; i < 80; i++) cycle(); // 80 x 1.2 MB of model bytes alone would outgrow the heap if kept
  assert.equal(e.heapBytes(), settled);
});

test('engine: two threads give the same tokens as one (threaded build)', async () => {
  const mt = await loadEngine({ threads: 2 });
  try {
    assert.equal(mt.threaded, true);
    assert.equal(mt.threads, 2);
    const m = loadStories(mt);
    try {
      assert.deepEqual(greedy(m, GOLDEN.prompt_ids_with_bos, GOLDEN.generated_ids.length).ids, GOLDEN.generated_ids);
    } finally {
      m.free();
    }
  } finally {
    mt.dispose();
  }
});

test('engine: tiny generated models (GQA, tied and untied, Q8_0, Q4_0) load and generate', () => {
  for (const opts of [{ type: 'F32' }, { type: 'Q8_0', tied: false }, { type: 'Q4_0', n_kv_heads: 1 }, { type: 'F16', n_kv_heads: 4 }]) {
    const { gguf, config } = makeTinyLlama(opts);
    const m = engine.loadGguf(gguf);
    try {
      assert.equal(m.info.dim, config.dim);
      assert.equal(m.info.n_kv_heads, config.n_kv_heads);
      assert.equal(m.info.file_type, opts.type);
      assert.equal(m.info.weight_types, opts.type); // every matrix in one type
      const r = greedy(m, m.tokenize('Once upon a time', true), 6, null, false); // random weights: ignore EOS
      assert.equal(r.ids.length, 6, JSON.stringify(opts));
    } finally {
      m.free();
    }
  }
});
