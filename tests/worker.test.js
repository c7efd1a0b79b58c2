// worker.test.js - the worker protocol of web/worker.js under Node worker_threads, spoken raw:
//   {id, op, args} -> {id, result} | {id, error:{code,message}} | {id, progress}
//   {op:'cancel'|'pause'|'resume'|'stop', target:id}
// Covers: ready handshake, init, loading (path, bytes, HF folder), errors that leave the engine
// usable, streamed generation equal to the recorded golden, cancelling mid-generation, tuning
// with pause/resume/abort/stop, adapters, and a terminated worker.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';

import { modelPath } from './lib/paths.js';

const WORKER = new URL('../web/worker.js', import.meta.url);
const STORIES = modelPath('stories260K/stories260K.gguf');
const GOLDEN = JSON.parse(readFileSync(modelPath('stories260K/expected_greedy.json'), 'utf8')).greedy_64;
const HF_DIR = modelPath('TinyStories-656K');
const DATA = [
  'Once upon a time, there was a dog named Max. Max loved the sea.',
  'Once upon a time, there was a happy dog named Max. He lived by the sea.',
  'Once upon a time, a little dog named Max went to the sea with his friend Sue.',
  'Once upon a time, there was a dog named Max who had a red ball.',
  'Once upon a time, Max the dog saw a boat on the sea.',
  'Once upon a time, a dog named Max found a shell by the sea.',
].map((text) => JSON.stringify({ text })).join('\n') + '\n';

/** A raw protocol client: call(op, args, onProgress) and control(op, target). */
function startWorker() {
  const w = new Worker(WORKER, { workerData: { softprompt: true } });
  const pending = new Map();
  let nextId = 1;
  let exited = null;
  const ready = new Promise((resolve, reject) => {
    w.on('message', (m) => {
      if (m.ready) { resolve(); return; }
      const p = pending.get(m.id);
      if (!p) return;
      if ('progress' in m) { p.progress.push(m.progress); p.onProgress?.(m.progress, m.id); return; }
      pending.delete(m.id);
      p.resolve(m);
    });
    w.on('error', reject);
  });
  w.on('exit', (code) => {
    exited = code;
    for (const p of pending.values()) p.resolve({ exited: code });
    pending.clear();
  });
  return {
    w,
    ready,
    get exited() { return exited; },
    send(op, args, onProgress) {
      const id = nextId++;
      const progress = [];
      const promise = new Promise((resolve) => pending.set(id, { resolve, onProgress, progress }));
      w.postMessage({ id, op, args });
      return { id, promise: promise.then((m) => ({ ...m, progress })) };
    },
    call(op, args, onProgress) { return this.send(op, args, onProgress).promise; },
    control(op, target) { w.postMessage({ op, target }); },
    terminate() { return w.terminate(); },
  };
}

async function ok(p) {
  const m = await p;
  assert.ok(!m.error, `unexpected error ${m.error && `${m.error.code}: ${m.error.message}`}`);
  assert.ok('result' in m, 'a result');
  return m;
}

async function failsWith(p, code, re) {
  const m = await p;
  assert.ok(m.error, `expected ${code}, got a result`);
  assert.equal(m.error.code, code, m.error.message);
  if (re) assert.match(m.error.message, re);
  return m;
}

let W; // one worker for most tests
let MODEL; // stories260K handle
test.before(async () => {
  W = startWorker();
  await W.ready;
  const init = await ok(W.call('init', { threads: 2 }));
  assert.equal(init.result.threads, 2);
  assert.equal(init.result.threaded, true);
  const m = await ok(W.call('loadModel', { source: { kind: 'path', path: STORIES } }));
  MODEL = m.result.model;
});
test.after(() => W?.terminate());

test('worker: init twice is refused; unknown ops and handles are typed errors', async () => {
  await failsWith(W.call('init', {}), 'SP_ERR_STATE');
  await failsWith(W.call('frobnicate', {}), 'SP_ERR_INVALID_ARG', /unknown op/);
  await failsWith(W.call('tokenize', { model: 9999, text: 'x' }), 'SP_ERR_STATE');
  await failsWith(W.call('tokenize', { model: MODEL, text: 42 }), 'SP_ERR_INVALID_ARG');
  await failsWith(W.call('loadModel', { source: { kind: 'path', path: '/no/such/model.gguf' } }), 'SP_ERR_IO', /no such file/);
});

test('worker: loadModel reports progress with an up-front total, and modelInfo/tokenize/detokenize work', async () => {
  const bytes = new Uint8Array(readFileSync(STORIES));
  const m = await ok(W.call('loadModel', { source: { kind: 'bytes', bytes, name: 'stories260K.gguf' } }));
  const prog = m.progress;
  assert.ok(prog.length >= 2);
  assert.equal(prog.at(-1).status, 'done');
  const reads = prog.filter((p) => p.status === 'read' || p.status === 'load');
  assert.ok(reads.every((p) => p.total === bytes.byteLength), 'total known from the start');
  assert.equal(reads.at(-1).loaded, bytes.byteLength);
  for (let i = 1; i < reads.length; i++) assert.ok(reads[i].loaded >= reads[i - 1].loaded, 'loaded never goes back');
  const h = m.result.model;
  assert.equal((await ok(W.call('modelInfo', { model: h }))).result.vocab_size, 512);
  const ids = (await ok(W.call('tokenize', { model: h, text: GOLDEN.prompt, addBos: true }))).result;
  assert.deepEqual(ids, GOLDEN.prompt_ids_with_bos);
  assert.equal((await ok(W.call('detokenize', { model: h, ids: ids.slice(1) }))).result, GOLDEN.prompt);
  await ok(W.call('freeModel', { model: h }));
  await failsWith(W.call('modelInfo', { model: h }), 'SP_ERR_STATE');
});

test('worker: an HF folder loads from a path and from its three files', async () => {
  const a = await ok(W.call('loadModel', { source: { kind: 'path', path: HF_DIR } }));
  assert.equal(a.result.info.format, 'hf');
  const read = (n) => new Uint8Array(readFileSync(`${HF_DIR}/${n}`));
  const files = {
    'config.json': { kind: 'bytes', bytes: read('config.json') },
    'model.safetensors': { kind: 'bytes', bytes: read('model.safetensors') },
    'tokenizer.json': { kind: 'text', text: readFileSync(`${HF_DIR}/tokenizer.json`, 'utf8') },
  };
  const b = await ok(W.call('loadModel', { source: { kind: 'hf', files } }));
  assert.deepEqual(b.result.info, a.result.info);
  const ta = await ok(W.call('generate', { model: a.result.model, prompt: 'Hello', maxTokens: 8, temperature: 0 }));
  const tb = await ok(W.call('generate', { model: b.result.model, prompt: 'Hello', maxTokens: 8, temperature: 0 }));
  assert.deepEqual(ta.result.tokens, tb.result.tokens);
  await ok(W.call('freeModel', { model: a.result.model }));
  await ok(W.call('freeModel', { model: b.result.model }));
});

test('worker: a file that is not GGUF, or truncated, is a typed error naming it; the worker goes on', async () => {
  await failsWith(W.call('loadModel', { source: { kind: 'bytes', bytes: new TextEncoder().encode('hello world, not a model'), name: 'x' } }),
    'SP_ERR_FORMAT', /magic/);
  const bytes = new Uint8Array(readFileSync(STORIES)).slice(0, 100000);
  await failsWith(W.call('loadModel', { source: { kind: 'bytes', bytes, name: 'cut.gguf' } }), 'SP_ERR_FORMAT', /cut\.gguf/);
  const g = await ok(W.call('generate', { model: MODEL, prompt: GOLDEN.prompt, maxTokens: 4, temperature: 0 }));
  assert.deepEqual(g.result.tokens, GOLDEN.generated_ids.slice(0, 4));
});

test('worker: generate streams one progress message per token, equal to the golden', async () => {
  const r = await ok(W.call('generate', { model: MODEL, prompt: GOLDEN.prompt, maxTokens: 60, temperature: 0 }));
  assert.deepEqual(r.result.tokens, GOLDEN.generated_ids);
  assert.deepEqual(r.result.promptTokens, GOLDEN.prompt_ids_with_bos);
  assert.equal(r.result.finishReason, 'length');
  assert.deepEqual(r.progress.map((p) => p.id), GOLDEN.generated_ids);
  assert.deepEqual(r.progress.map((p) => p.index), GOLDEN.generated_ids.map((_, i) => i));
  const text = r.progress.map((p) => p.text).join('');
  assert.equal(text, r.result.text);
  assert.equal(GOLDEN.prompt + text + '\n', GOLDEN.stdout);
});

test('worker: cancel mid-generation stops it with SP_ERR_ABORTED and the model stays usable', async () => {
  let seen = 0;
  const { id, promise } = W.send('generate', { model: MODEL, prompt: 'Once', maxTokens: 1500, temperature: 1, seed: 5, stopAtEos: false },
    (p, rid) => { if (++seen === 3) W.control('cancel', rid); });
  const m = await promise;
  assert.ok(id > 0);
  assert.equal(m.error?.code, 'SP_ERR_ABORTED');
  assert.ok(seen >= 3 && seen < 1500, `stopped early (after ${seen} tokens)`);
  // cancelling something finished, or unknown, is ignored
  W.control('cancel', id);
  W.control('cancel', 123456);
  const g = await ok(W.call('generate', { model: MODEL, prompt: GOLDEN.prompt, maxTokens: 60, temperature: 0 }));
  assert.deepEqual(g.result.tokens, GOLDEN.generated_ids);
});

test('worker: concurrent requests interleave; freeing a model cancels its running generation', async () => {
  const m = await ok(W.call('loadModel', { source: { kind: 'path', path: STORIES } }));
  const h = m.result.model;
  let n = 0;
  const gen = W.send('generate', { model: h, prompt: 'Once', maxTokens: 1500, temperature: 1, seed: 1, stopAtEos: false }, () => { n++; });
  // while it runs, other calls are answered
  const tok = await ok(W.call('tokenize', { model: MODEL, text: 'Once upon a time', addBos: true }));
  assert.deepEqual(tok.result, GOLDEN.prompt_ids_with_bos);
  await ok(W.call('freeModel', { model: h }));
  const r = await gen.promise;
  assert.equal(r.error?.code, 'SP_ERR_ABORTED');
  assert.ok(n < 1500);
  await failsWith(W.call('generate', { model: h, prompt: 'x' }), 'SP_ERR_STATE');
});

test('worker: tune streams steps and evals; pause holds it, resume goes on; the result has adapters', async () => {
  const states = [];
  let paused = false; // between the worker's 'paused' and 'running' state messages
  let stepsWhilePaused = 0;
  const { id, promise } = W.send('tune', {
    model: MODEL, data: DATA, virtualTokens: 4, steps: 6, batchSize: 2, maxLength: 32, lr: 0.05, evalSplit: 0.34, evalEvery: 3,
  }, (p, rid) => {
    if (p.type === 'state') {
      states.push(p.state);
      paused = p.state === 'paused';
      // a request still gets an answer while the run is paused; then resume
      if (paused) W.call('tokenize', { model: MODEL, text: 'hi' }).then(() => W.control('resume', rid));
    }
    if (p.type === 'step') {
      if (paused) stepsWhilePaused++;
      if (p.step === 2) W.control('pause', rid);
    }
  });
  const r = await ok(promise);
  assert.ok(id > 0);
  assert.deepEqual(states, ['paused', 'running']);
  assert.equal(stepsWhilePaused, 0, 'no step while paused');
  const steps = r.progress.filter((p) => p.type === 'step');
  assert.deepEqual(steps.map((s) => s.step), [1, 2, 3, 4, 5, 6]);
  for (const s of steps) {
    for (const k of ['epoch', 'loss', 'lr', 'tokensPerSecond', 'elapsedMs', 'totalSteps']) assert.equal(typeof s[k], 'number', k);
    assert.ok(Number.isFinite(s.loss) && s.loss > 0);
  }
  const evals = r.progress.filter((p) => p.type === 'eval');
  assert.deepEqual(evals.map((e) => e.step), [3, 6]);
  for (const e of evals) assert.ok(Number.isFinite(e.evalLoss) && Math.abs(Math.exp(e.evalLoss) - e.perplexity) < 1e-3 * e.perplexity);
  assert.equal(r.result.reason, 'finished');
  assert.deepEqual(r.result.history.steps.map((s) => s.step), [1, 2, 3, 4, 5, 6]);
  assert.equal(r.result.adapter.info.num_virtual_tokens, 4);
  const saved = await ok(W.call('saveAdapter', { adapter: r.result.best.adapter }));
  const cfg = JSON.parse(saved.result.config);
  assert.equal(cfg.peft_type, 'PROMPT_TUNING');
  assert.equal(cfg.num_virtual_tokens, 4);
  assert.ok(saved.result.safetensors instanceof Uint8Array);
  // the saved prompt loads back and generates like the original
  const back = await ok(W.call('loadAdapter', { model: MODEL, config: saved.result.config, safetensors: saved.result.safetensors }));
  const g1 = await ok(W.call('generate', { model: MODEL, prompt: 'Once', maxTokens: 10, temperature: 0, adapter: r.result.best.adapter }));
  const g2 = await ok(W.call('generate', { model: MODEL, prompt: 'Once', maxTokens: 10, temperature: 0, adapter: back.result.adapter }));
  assert.deepEqual(g1.result.tokens, g2.result.tokens);
  const near = await ok(W.call('nearest', { adapter: back.result.adapter, k: 3 }));
  assert.equal(near.result.length, 4);
  assert.ok(near.result.every((row) => row.length === 3 && row.every((t) => typeof t.piece === 'string')));
  const ev = await ok(W.call('evaluate', { model: MODEL, data: DATA, adapter: back.result.adapter, maxLength: 32 }));
  assert.ok(Number.isFinite(ev.result.loss) && ev.result.examples === 6);
  for (const a of [r.result.adapter.adapter, r.result.best.adapter, back.result.adapter]) await ok(W.call('freeAdapter', { adapter: a }));
  await failsWith(W.call('nearest', { adapter: back.result.adapter }), 'SP_ERR_STATE');
});

test('worker: abort ends a tuning run with SP_ERR_ABORTED; stop ends it with the prompt kept', async () => {
  const big = { model: MODEL, data: DATA, virtualTokens: 4, steps: 100000, batchSize: 2, maxLength: 32, evalSplit: 0 };
  const a = W.send('tune', big, (p, rid) => { if (p.type === 'step' && p.step === 2) W.control('cancel', rid); });
  const ra = await a.promise;
  assert.equal(ra.error?.code, 'SP_ERR_ABORTED');
  assert.ok(ra.progress.filter((p) => p.type === 'step').length < 100000);
  const s = W.send('tune', big, (p, rid) => { if (p.type === 'step' && p.step === 3) W.control('stop', rid); });
  const rs = await ok(s.promise);
  assert.equal(rs.result.reason, 'stopped');
  const last = rs.result.history.steps.at(-1).step;
  assert.ok(last >= 3 && last < 100000, `stopped at step ${last}`);
  assert.equal(rs.result.best.adapter, rs.result.adapter.adapter, 'no eval: best is the current prompt');
  // the model is fine afterwards
  const g = await ok(W.call('generate', { model: MODEL, prompt: GOLDEN.prompt, maxTokens: 60, temperature: 0 }));
  assert.deepEqual(g.result.tokens, GOLDEN.generated_ids);
  await ok(W.call('freeAdapter', { adapter: rs.result.adapter.adapter }));
});

test('worker: bad data is SP_ERR_DATA with the line number; dataPreview lists problems without failing', async () => {
  const bad = '{"text":"fine"}\n{"text": oops}\n';
  await failsWith(W.call('tune', { model: MODEL, data: bad, steps: 1 }), 'SP_ERR_DATA', /line 2/);
  // the reply carries where: line and field as values
  const r = await W.call('tune', { model: MODEL, data: '{"text":"fine"}\n{"messages": [{"role": "user"}]}\n', steps: 1 });
  assert.deepEqual([r.error?.code, r.error?.line, r.error?.field], ['SP_ERR_DATA', 2, 'messages[0].content']);
  await failsWith(W.call('evaluate', { model: MODEL, data: '' }), 'SP_ERR_DATA');
  const p = await ok(W.call('dataPreview', { model: MODEL, data: bad }));
  assert.equal(p.result.errors[0].line, 2);
  const good = await ok(W.call('dataPreview', { model: MODEL, data: 'input,output\n"great film",positive\nawful,negative\n', limit: 1 }));
  assert.equal(good.result.format, 'csv');
  assert.equal(good.result.count, 2);
  assert.equal(good.result.examples.length, 1);
  assert.deepEqual([...good.result.labels].sort(), ['negative', 'positive']);
  assert.equal(good.result.tokens.perExample.length, 2);
});

test('worker: memory op and a terminated worker ends every pending call', async () => {
  const w = startWorker();
  await w.ready;
  await ok(w.call('init', { threads: 1 }));
  const mem = await ok(w.call('memory', {}));
  assert.ok(mem.result.heapBytes >= 16 << 20); // INITIAL_MEMORY (emscripten.cmake)
  const m = await ok(w.call('loadModel', { source: { kind: 'path', path: STORIES } }));
  const gen = w.send('generate', { model: m.result.model, prompt: 'Once', maxTokens: 1500, stopAtEos: false },
    (p) => { if (p.index === 2) w.terminate(); });
  const r = await gen.promise;
  assert.ok(r.exited !== undefined, 'the pending call ended with the worker');
});
