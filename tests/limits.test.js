// limits.test.js - what cannot fit is refused before anything is allocated, with the sizes in the
// message; context overflow and absurd options are refused with SP_ERR_CONTEXT / SP_ERR_INVALID_ARG.
// All through the public API (one in-process engine). After every refusal malloc's heap is back
// to its baseline and the engine still reproduces the recorded greedy generation.
//   - model files past the 4 GB wasm ceiling: a sparse 5 GB file on disk (GGUF, and as the
//     safetensors of a folder), and URLs whose Content-Length says 5 GB (the download is cut off
//     after the headers: the server sees the connection close having sent almost nothing);
//   - models whose files fit but whose weights + K/V cache do not: refused from the header (a GGUF
//     header, config.json + the safetensors header) read before the rest: a file of 1 GB claiming
//     64 layers of 8192-wide K/V for 4096 positions (17 GB), on disk and by URL (the server sees the
//     download stop after the header), and an HF folder whose BF16 weights double when widened;
//   - a training run whose activations exceed its memory budget (sp_tuner_create's check);
//   - context overflow in generation (prompt + maxTokens, and with a prompt adapter) and tuning;
//   - absurd generation, tuning, evaluation and engine options.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, openSync, ftruncateSync, closeSync, mkdtempSync, mkdirSync, rmSync, copyFileSync, writeFileSync, truncateSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Softprompt } from '../web/softprompt.js';
import { modelPath, dataPath } from './lib/paths.js';
import { writeGGUF } from './lib/gguf-writer.js';

const STORIES_PATH = modelPath('stories260K/stories260K.gguf');
const STORIES = new Uint8Array(readFileSync(STORIES_PATH));
const GOLDEN = JSON.parse(readFileSync(modelPath('stories260K/expected_greedy.json'), 'utf8')).greedy_64;
const HF_DIR = modelPath('TinyStories-656K');
const DATA = '{"text":"Once upon a time there was a dog."}\n{"text":"The cat sat on the mat."}\n{"input":"Lily","output":"was happy."}\n';
const FIVE_GB = 5 * 1024 ** 3;

let sp;
let model;
let baseline;
let tmp;

before(async () => {
  sp = await Softprompt.create({ worker: false, threads: 1 });
  baseline = (await sp.memory()).heapUsed;
  model = await sp.loadModel(STORIES);
  tmp = mkdtempSync(join(tmpdir(), 'sp-limits-'));
});
after(async () => {
  await model?.free();
  sp?.terminate();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

async function rejects(p, code, re, label) {
  await assert.rejects(p, (e) => {
    assert.equal(e.code, code, `${label}: got ${e.code}: ${e.message}`);
    if (re) assert.match(e.message, re, label);
    return true;
  }, label);
}

async function stillGood() {
  const r = await model.generate(GOLDEN.prompt, { maxTokens: 12, temperature: 0 });
  assert.deepEqual(r.tokens, GOLDEN.generated_ids.slice(0, 12));
}

/** A sparse file of `size` bytes (no disk used). */
function sparse(name, size) {
  const p = join(tmp, name);
  const fd = openSync(p, 'w');
  ftruncateSync(fd, size);
  closeSync(fd);
  return p;
}

/** Writes zeros to res until the client hangs up (or 64 MB went out), counting into sent.n. */
function pumpZeros(res, sent) {
  const chunk = new Uint8Array(16384);
  const pump = () => {
    if (res.destroyed || sent.n > 64 * 1024 * 1024) return;
    sent.n += chunk.length;
    if (res.write(chunk)) setImmediate(pump);
    else res.once('drain', pump);
  };
  pump();
  return new Promise((r) => res.on('close', r));
}

const SIZES = /\d{10} bytes.*room for \d+ more.*\d+ bytes in use/;

test('limits: model files past the wasm ceiling are refused before reading, with the sizes', async () => {
  const before0 = await sp.memory();
  const big = sparse('huge.gguf', FIVE_GB);
  await rejects(sp.loadModel(big), 'SP_ERR_TOO_LARGE', SIZES, '5 GB GGUF path');
  // an HF folder whose model.safetensors is 5 GB
  const dir = join(tmp, 'hf');
  rmSync(dir, { recursive: true, force: true });
  (await import('node:fs')).mkdirSync(dir);
  copyFileSync(join(HF_DIR, 'config.json'), join(dir, 'config.json'));
  copyFileSync(join(HF_DIR, 'tokenizer.json'), join(dir, 'tokenizer.json'));
  const st = join(dir, 'model.safetensors');
  const fd = openSync(st, 'w');
  ftruncateSync(fd, FIVE_GB);
  closeSync(fd);
  await rejects(sp.loadModel(dir), 'SP_ERR_TOO_LARGE', /model folder .* bytes of files\) needs \d{10} bytes.*room for \d+ more/, '5 GB safetensors in a folder');
  const mem = await sp.memory();
  assert.equal(mem.heapBytes, before0.heapBytes, 'the heap did not grow');
  assert.equal(mem.heapUsed, before0.heapUsed, 'nothing stayed allocated');
  assert.ok(mem.heapRoom > 3 * 1024 ** 3 && mem.heapRoom <= 4 * 1024 ** 3, `heapRoom ${mem.heapRoom}`);
  await stillGood();
});

test('limits: a URL announcing 5 GB is refused after its headers and the download is cut off', async () => {
  const sent = { n: 0 };
  const closed = [];
  const server = createServer((req, res) => {
    const hf = req.url.startsWith('/hf/');
    if (hf && !req.url.endsWith('model.safetensors')) {
      res.end(readFileSync(join(HF_DIR, req.url.slice(4))));
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(FIVE_GB) });
    closed.push(pumpZeros(res, sent));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${server.address().port}`;
  try {
    await rejects(sp.loadModel(`${base}/huge.gguf`), 'SP_ERR_TOO_LARGE', SIZES, '5 GB by URL');
    await rejects(sp.loadModel(`${base}/hf/`), 'SP_ERR_TOO_LARGE', /needs \d{10} bytes/, '5 GB safetensors by URL');
    await Promise.all(closed); // both responses were closed by the client
    assert.ok(sent.n < 64 * 1024 * 1024, `only ${sent.n} bytes went out before the client hung up`);
  } finally {
    server.closeAllConnections?.();
    await new Promise((r) => server.close(r));
  }
  assert.equal((await sp.memory()).heapUsed > 0, true);
  await stillGood();
});

/** A llama GGUF header of `layers` layers, dim 8192 and context 4096 whose one tensor,
 *  token_embd.weight (F16, vocab x 8192), is declared but not written: {header, size} where size
 *  is what the file must be for the tensor to fit. */
function deepHeader(layers, vocab) {
  const dim = 8192;
  const header = writeGGUF({
    kv: [['general.architecture', 'string', 'llama'], ['llama.embedding_length', 'uint32', dim], ['llama.block_count', 'uint32', layers],
      ['llama.feed_forward_length', 'uint32', 4 * dim], ['llama.attention.head_count', 'uint32', 64], ['llama.context_length', 'uint32', 4096]],
    tensors: [{ name: 'token_embd.weight', dims: [dim, vocab], type: 'F16', raw: new Uint8Array(0) }],
  });
  return { header, size: header.length + 2 * dim * vocab };
}

// 17179869184 = 2 (K and V) x 64 layers x 4096 positions x 8192 x 4 bytes
const KV_SIZES = /needs \d{11} bytes: 1073\d{6} bytes of weights \+ 17179869184 bytes of K\/V cache \(4096 positions\), but wasm memory has room for \d+ more/;

test('limits: a model whose weights fit but weights + K/V cache do not is refused from its header, before the rest is read', async () => {
  const m0 = await sp.memory();
  const { header, size } = deepHeader(64, 65536); // 1 GiB of weights
  const p = join(tmp, 'deep.gguf');
  writeFileSync(p, header);
  truncateSync(p, size);
  await rejects(sp.loadModel(p), 'SP_ERR_TOO_LARGE', new RegExp(`deep\\.gguf ${KV_SIZES.source}`), 'deep GGUF path');
  const m1 = await sp.memory();
  assert.equal(m1.heapBytes, m0.heapBytes, 'the 1 GB file was not read into the heap');
  assert.equal(m1.heapUsed, m0.heapUsed, 'nothing stayed allocated');
  // by URL: the server sends the header, then data the client never asks for
  const sent = { n: 0 };
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(size) });
    res.write(header);
    sent.n = header.length;
    closed = pumpZeros(res, sent);
  });
  let closed = null;
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    await rejects(sp.loadModel(`http://127.0.0.1:${server.address().port}/deep.gguf`), 'SP_ERR_TOO_LARGE', KV_SIZES, 'deep GGUF by URL');
    await closed;
    assert.ok(sent.n < 64 * 1024 * 1024, `${sent.n} bytes went out of a ${size}-byte file before the client hung up`);
  } finally {
    server.closeAllConnections?.();
    await new Promise((r) => server.close(r));
  }
  assert.equal((await sp.memory()).heapBytes, m0.heapBytes);
  // an HF folder: 1.5 GB of BF16 in model.safetensors, 3 GB more once widened to F32 (GPT-2 config: no K/V to speak of)
  const dir = join(tmp, 'bf16');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir);
  const rows = 98304, cols = 8192; // 1.5 GiB of BF16
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ architectures: ['GPT2LMHeadModel'], model_type: 'gpt2', n_embd: cols, n_layer: 1, n_head: 64,
    vocab_size: rows, n_positions: 64 }));
  copyFileSync(join(HF_DIR, 'tokenizer.json'), join(dir, 'tokenizer.json'));
  const json = new TextEncoder().encode(JSON.stringify({ 'wte.weight': { dtype: 'BF16', shape: [rows, cols], data_offsets: [0, rows * cols * 2] } }));
  const st = new Uint8Array(8 + json.length);
  new DataView(st.buffer).setBigUint64(0, BigInt(json.length), true);
  st.set(json, 8);
  writeFileSync(join(dir, 'model.safetensors'), st);
  truncateSync(join(dir, 'model.safetensors'), st.length + rows * cols * 2);
  await rejects(sp.loadModel(dir), 'SP_ERR_TOO_LARGE', /bf16 needs \d{10} bytes: \d{10} bytes of weights \(3221225472 of them converted copies\)/, 'BF16 folder');
  const m2 = await sp.memory();
  assert.equal(m2.heapBytes, m0.heapBytes);
  assert.equal(m2.heapUsed, m0.heapUsed);
  await stillGood();
});

test('limits: a training run whose activations exceed the budget is refused with the sizes, before allocating', async () => {
  const text = readFileSync(dataPath('tinystories/tinystories_val.txt'), 'utf8').slice(0, 200_000);
  const m0 = await sp.memory();
  await rejects(model.tune({ data: text, format: 'text', batchSize: 64, maxLength: 512, memoryMb: 8, steps: 1, evalSplit: 0 }).done,
    'SP_ERR_TOO_LARGE', /batch of \d+ x \d+ tokens needs \d+ bytes of activations, over the budget of 8388608 bytes/, 'budget 8 MB');
  const m1 = await sp.memory();
  assert.equal(m1.heapBytes, m0.heapBytes, 'the heap did not grow');
  // a budget the run fits in works, and the default one too
  const ok = await model.tune({ data: DATA, batchSize: 2, maxLength: 32, memoryMb: 8, steps: 1, evalSplit: 0, virtualTokens: 2 }).done;
  assert.equal(ok.history.steps.length, 1);
  assert.ok(ok.memory.train_activation_bytes <= 8 * 2 ** 20, JSON.stringify(ok.memory));
  await ok.adapter.free();
  await rejects(model.tune({ data: DATA, steps: 1, memoryMb: 0 }).done, 'SP_ERR_INVALID_ARG', /memory_mb/, 'memoryMb 0');
  await stillGood();
});

test('limits: context overflow in generation and tuning is SP_ERR_CONTEXT', async () => {
  const ctx = model.info.context_length;
  await rejects(model.generate(GOLDEN.prompt, { maxTokens: ctx }), 'SP_ERR_CONTEXT', new RegExp(`context of ${ctx}`), 'maxTokens = context');
  await rejects(model.generate(Array(ctx + 1).fill(1), { maxTokens: 0 }), 'SP_ERR_CONTEXT', null, 'a prompt longer than the context');
  const job = model.tune({ data: DATA, virtualTokens: 8, steps: 1, evalSplit: 0 });
  const { adapter } = await job.done;
  await rejects(model.generate(GOLDEN.prompt, { adapter, maxTokens: ctx - 8 }), 'SP_ERR_CONTEXT', /8 virtual/, 'virtual tokens + prompt + new');
  const r = await model.generate(GOLDEN.prompt, { adapter, maxTokens: 4 }); // just inside: fine
  assert.equal(r.tokens.length <= 4, true);
  await adapter.free();
  await rejects(model.tune({ data: DATA, virtualTokens: ctx - 4, steps: 1, evalSplit: 0 }).done, 'SP_ERR_CONTEXT', /virtual tokens \+ max length/, 'virtual tokens + data');
  await stillGood();
  assert.equal((await sp.memory()).adapters, 0);
});

test('limits: absurd options are SP_ERR_INVALID_ARG, and nothing is left allocated', async () => {
  const used0 = (await sp.memory()).heapUsed;
  const gen = [
    { maxTokens: -1 }, { maxTokens: 1.5 }, { maxTokens: NaN }, { maxTokens: Infinity }, { maxTokens: '10' },
    { temperature: -1 }, { temperature: NaN }, { temperature: 1e9 }, { temperature: 'hot' },
    { topP: 0 }, { topP: -0.5 }, { topP: 1.5 }, { topK: -1 }, { topK: 2.5 }, { seed: -1 }, { seed: 0.5 }, { stopAtEos: 'no' },
  ];
  for (const o of gen) await rejects(model.generate('Once', o), 'SP_ERR_INVALID_ARG', null, `generate ${JSON.stringify(o)} ${String(Object.values(o)[0])}`);
  await rejects(model.generate([1, 99999], {}), 'SP_ERR_INVALID_ARG', /out of range/, 'token id out of the vocabulary');
  await rejects(model.generate([1, -5], {}), 'SP_ERR_INVALID_ARG', /out of range/, 'negative token id');
  await rejects(model.generate([], {}), 'SP_ERR_INVALID_ARG', null, 'empty prompt');
  await rejects(model.generate({}, {}), 'SP_ERR_INVALID_ARG', null, 'prompt not text');
  const tune = [
    { virtualTokens: 0 }, { virtualTokens: -1 }, { virtualTokens: 1.5 }, { virtualTokens: 1e6 },
    { lr: -1 }, { lr: 0 }, { lr: NaN }, { lr: 'fast' }, { batchSize: 0 }, { batchSize: -4 }, { batchSize: 1e9 },
    { maxLength: 1 }, { maxLength: 0 }, { steps: -1 }, { epochs: 0 }, { evalSplit: 1.5 }, { evalSplit: -0.1 },
    { weightDecay: -1 }, { warmup: -1 }, { clip: -1 }, { seed: -1 }, { patience: -1 }, { evalEvery: -1 }, { evalEvery: 0.5 },
    { checkpointEvery: -2 }, { shuffle: 'yes' }, { method: 'lora' }, { optimizer: 'adagrad' }, { schedule: 'step' },
    { init: 'zeros' }, { init: 'text', initText: '' }, { memoryMb: -1 },
  ];
  for (const o of tune) {
    await rejects(model.tune({ data: DATA, steps: 1, evalSplit: 0, ...o }).done, 'SP_ERR_INVALID_ARG', null, `tune ${JSON.stringify(o)}`);
  }
  await rejects(model.tune({ steps: 1 }).done, 'SP_ERR_INVALID_ARG', /data/, 'tune without data');
  await rejects(model.tune({ data: '  \n', steps: 1 }).done, 'SP_ERR_DATA', null, 'tune on empty data');
  for (const o of [{ maxLength: 1 }, { batchSize: 0 }, { maxLength: 'long' }]) {
    await rejects(model.evaluate(DATA, o), 'SP_ERR_INVALID_ARG', null, `evaluate ${JSON.stringify(o)}`);
  }
  await rejects(model.tokenize(42), 'SP_ERR_INVALID_ARG', null, 'tokenize a number');
  await rejects(model.detokenize([99999]), 'SP_ERR_INVALID_ARG', null, 'detokenize an unknown id');
  for (const threads of [0, -1, 1.5, 65, 'two']) {
    await rejects(Softprompt.create({ worker: false, threads }), 'SP_ERR_INVALID_ARG', /threads/, `threads ${threads}`);
  }
  const { adapter } = await model.tune({ data: DATA, virtualTokens: 2, steps: 1, evalSplit: 0 }).done;
  for (const k of [0, -1, 1.5]) await rejects(adapter.nearest(k), 'SP_ERR_INVALID_ARG', null, `nearest(${k})`);
  await adapter.free();
  assert.equal((await sp.memory()).heapUsed, used0, 'refused calls left nothing allocated');
  await stillGood();
  assert.ok(baseline >= 0);
});
