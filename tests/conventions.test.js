// conventions.test.js - the API conventions users of PEFT, transformers.js and llama.cpp expect
// (issue 15, "API conventions"), on stories260K in this thread ({worker: false}) and in a worker:
// unknown options refused by generate and bench as by tune; a random default sampling seed that the
// result reports and that repeats the text; seeds above 2^24 used exactly (generation and tuning);
// aborts that look like the platform's (name 'AbortError', cause = the reason); one job shape for
// generations and tuning runs; logits and embeddings as Float32Array (embeddings against the float64
// reference forward, with and without a tuned soft prompt, in this thread and in a worker).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Softprompt, SoftpromptError, ErrorCodes, isAbort } from '../web/softprompt.js';
import { modelPath } from './lib/paths.js';
import { makeTinyLlama, makeTinyHF } from './lib/tiny-model.js';
import { refHidden } from './lib/ref-llama.js';
import { readSafetensors, tensorF32 } from './lib/safetensors.js';

const STORIES = modelPath('stories260K/stories260K.gguf');
const DATA = [
  'Once upon a time, there was a dog named Max. Max loved the sea.',
  'Once upon a time, a little dog named Max went to the sea with his friend Sue.',
  'Once upon a time, Max the dog saw a boat on the sea.',
  'Once upon a time, a dog named Max found a shell by the sea.',
].map((text) => JSON.stringify({ text })).join('\n');

let sp;
let model;
before(async () => {
  sp = await Softprompt.create({ worker: false, threads: 1 });
  model = await sp.loadModel(STORIES);
});
after(() => sp?.terminate());

const invalid = (re) => (e) => e instanceof SoftpromptError && e.code === ErrorCodes.SP_ERR_INVALID_ARG && re.test(e.message);

test('conventions: generate and bench reject unknown options, naming them', async () => {
  await assert.rejects(model.generate('Once', { max_tokens: 5 }), invalid(/generate: unknown option 'max_tokens'.*maxTokens/));
  await assert.rejects(model.generate('Once', { maxTokens: 2, temprature: 0 }), invalid(/unknown option 'temprature'/));
  await assert.rejects(model.bench({ second: 0.01 }), invalid(/bench: unknown option 'second'/));
  await assert.rejects(sp.bench({ model: 'stories15M', promptTokenz: 4 }), invalid(/bench: unknown option 'promptTokenz'/));
  const ok = await model.generate('Once', { maxTokens: 2, temperature: 0 });
  assert.equal(ok.tokens.length, 2, 'known options still work');
});

test('conventions: the default seed is random and reported; the reported seed repeats the text', async () => {
  const opts = { maxTokens: 40, temperature: 1, stopAtEos: false };
  const a = await model.generate('Once upon a time', opts);
  const b = await model.generate('Once upon a time', opts);
  assert.ok(Number.isSafeInteger(a.seed) && a.seed >= 0 && Number.isSafeInteger(b.seed));
  assert.notEqual(a.seed, b.seed);
  assert.notEqual(a.text, b.text, 'two unseeded samples at temperature 1 differ');
  const again = await model.generate('Once upon a time', { ...opts, seed: a.seed });
  assert.equal(again.text, a.text, 'the reported seed repeats the sample');
  assert.equal(again.seed, a.seed);
});

test('conventions: seeds above 2^24 are used exactly, in generation and in tuning', async () => {
  const opts = { maxTokens: 40, temperature: 1, stopAtEos: false };
  const big = 2 ** 40;
  const s0 = await model.generate('Once upon a time', { ...opts, seed: big });
  const s0b = await model.generate('Once upon a time', { ...opts, seed: big });
  const s1 = await model.generate('Once upon a time', { ...opts, seed: big + 1 });
  assert.equal(s0.text, s0b.text);
  assert.notEqual(s0.text, s1.text, 'seed 2^40 + 1 is not rounded to 2^40');
  assert.equal(s1.seed, big + 1);
  // tuning: the seed picks the initial prompt and the data order; 2^24 and 2^24 + 1 are one float
  const run = async (seed) => {
    const { adapter } = await model.tune({ data: DATA, virtualTokens: 2, steps: 2, evalSplit: 0, seed }).done;
    const { safetensors } = await adapter.save();
    await adapter.free();
    return Buffer.from(safetensors).toString('base64');
  };
  const t0 = await run(2 ** 24);
  assert.equal(await run(2 ** 24), t0, 'same seed, same prompt');
  assert.notEqual(await run(2 ** 24 + 1), t0, 'seed 2^24 + 1 is not rounded to 2^24');
  await assert.rejects(model.tune({ data: DATA, steps: 1, seed: 2 ** 53 + 2 }).done, invalid(/seed/));
});

test('conventions: aborts are AbortErrors with the reason as cause; the model stays usable', async () => {
  const check = (what, reason) => (e) => {
    assert.ok(e instanceof SoftpromptError, what);
    assert.equal(e.name, 'AbortError', what);
    assert.equal(e.code, ErrorCodes.SP_ERR_ABORTED, what);
    assert.ok(isAbort(e), what);
    assert.equal(e.cause, reason, `${what}: cause`);
    return true;
  };
  // a signal aborted during the call
  const ac = new AbortController();
  const gen = model.generate('Once upon a time', { maxTokens: 200, stopAtEos: false, signal: ac.signal });
  gen.on('progress', (t) => { if (t.index === 3) ac.abort('enough'); });
  await assert.rejects(gen.done, check('generate + signal', 'enough'));
  assert.equal(gen.state, 'failed');
  // job.abort(reason)
  const job = model.tune({ data: DATA, virtualTokens: 2, steps: 1000, evalSplit: 0 });
  job.on('progress', (s) => { if (s.step === 2) job.abort('user pressed stop'); });
  await assert.rejects(job.done, check('tune + abort()', 'user pressed stop'));
  // signals already aborted: the platform's reason (a DOMException named AbortError) is the cause
  const pre = new AbortController();
  pre.abort();
  await assert.rejects(model.generate('x', { signal: pre.signal }).done, check('generate, aborted before', pre.signal.reason));
  await assert.rejects(sp.loadModel(STORIES, { signal: pre.signal }), check('loadModel, aborted before', pre.signal.reason));
  await assert.rejects(model.evaluate(DATA, { signal: pre.signal }), check('evaluate, aborted before', pre.signal.reason));
  await assert.rejects(model.tune({ data: DATA, signal: pre.signal }).done, check('tune, aborted before', pre.signal.reason));
  assert.ok(isAbort(pre.signal.reason), 'isAbort knows the platform\'s AbortError too');
  assert.ok(!isAbort(new SoftpromptError(ErrorCodes.SP_ERR_DATA, 'x')));
  assert.equal((await model.generate('Once', { maxTokens: 3, temperature: 0 })).tokens.length, 3, 'still usable');
});

test('conventions: Generation and TuneJob share one job shape (done, state, abort, progress events)', async () => {
  const gen = model.generate('Once upon a time', { maxTokens: 5, temperature: 0, stopAtEos: false });
  const tune = model.tune({ data: DATA, virtualTokens: 2, steps: 3, evalSplit: 0 });
  for (const [name, job] of [['generation', gen], ['tuning', tune]]) {
    assert.ok(job.done instanceof Promise, `${name}.done`);
    assert.equal(job.state, 'running', `${name}.state`);
    for (const m of ['abort', 'on', 'off']) assert.equal(typeof job[m], 'function', `${name}.${m}()`);
    assert.throws(() => job.on('nope', () => {}), invalid(/unknown event 'nope'/));
  }
  const tokens = [];
  const states = [];
  gen.on('progress', (t) => tokens.push(t)).on('state', (s) => states.push(s));
  const steps = [];
  tune.on('progress', (s) => steps.push(s.step));
  const [g, t] = await Promise.all([gen.done, tune.done]);
  assert.deepEqual(tokens.map((x) => x.id), g.tokens, 'one progress event per token');
  assert.deepEqual(states, ['done']);
  assert.equal(gen.state, 'done');
  assert.deepEqual(steps, [1, 2, 3]);
  assert.equal(tune.state, 'done');
  assert.equal((await gen).text, g.text, 'a Generation is still awaitable itself');
  await t.adapter.free();
});

test('conventions: model.logits(ids) is a Float32Array of the next-token logits, as the reference', async () => {
  const { readFileSync } = await import('node:fs');
  const golden = JSON.parse(readFileSync(modelPath('stories260K/expected_greedy.json'), 'utf8')).greedy_64;
  const l = await model.logits(golden.prompt_ids_with_bos);
  assert.ok(l instanceof Float32Array);
  assert.equal(l.length, model.info.vocab_size);
  const top = [...l].map((v, i) => [i, v]).sort((a, b) => b[1] - a[1]).slice(0, 5);
  for (let k = 0; k < 5; k++) {
    assert.equal(top[k][0], golden.top5_logits_after_prompt[k][0], `top ${k + 1} id`);
    assert.ok(Math.abs(top[k][1] - golden.top5_logits_after_prompt[k][1]) < 1e-3, `top ${k + 1} logit`);
  }
  const fromText = await model.logits(golden.prompt);
  assert.deepEqual([...fromText], [...l], 'text is tokenized with BOS');
  await assert.rejects(model.logits([1, 2], { temperature: 1 }), invalid(/logits: unknown option 'temperature'/));
});

/** Largest |a - b| over the largest |b|. */
function relErr(a, b) {
  let d = 0, m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / m;
}

const unit = (v) => {
  const n = Math.sqrt(v.reduce((a, x) => a + x * x, 0));
  return Array.from(v, (x) => x / n);
};

test('conventions: model.embed pools the final hidden states as the float64 reference does (this thread and a worker)', async (t) => {
  const { gguf, weights, config } = makeTinyLlama({ seed: 7, type: 'F32', n_layers: 2 });
  const E = weights['token_embd.weight'];
  const row = (id) => E.subarray(id * config.dim, (id + 1) * config.dim);
  const inWorker = await Softprompt.create({ threads: 1 });
  t.after(() => inWorker.terminate());
  for (const [where, engine] of [['this thread', sp], ['a worker', inWorker]]) {
    const m = await engine.loadModel(gguf.slice());
    const text = 'Once upon a time there was a dog';
    const ids = await m.tokenize(text);
    const H = refHidden(weights, config, ids.map(row));
    const n = ids.length, dim = config.dim;
    const mean = new Float64Array(dim);
    for (const h of H) for (let i = 0; i < dim; i++) mean[i] += h[i] / n;

    const got = await m.embed(text, { normalize: false });
    assert.ok(got instanceof Float32Array && got.length === dim, `${where}: a Float32Array of dim`);
    const e = relErr(got, mean);
    t.diagnostic(`${where}: mean pooling vs float64 reference: ${e.toExponential(2)}`);
    assert.ok(e < 1e-5, `${where}: mean-pooled hidden state off by ${e}`);
    assert.ok(relErr(await m.embed(ids, { normalize: false }), mean) < 1e-5, `${where}: ids give the same`);

    const normed = await m.embed(text); // default: mean, unit length
    assert.ok(relErr(normed, unit(mean)) < 1e-5, `${where}: normalized by default`);
    assert.ok(Math.abs(Math.hypot(...normed) - 1) < 1e-5);
    assert.ok(relErr(await m.embed(text, { pooling: 'cls', normalize: false }), H[0]) < 1e-5, `${where}: cls is the first token`);
    assert.ok(relErr(await m.embed(text, { pooling: 'last', normalize: false }), H[n - 1]) < 1e-5, `${where}: last token`);
    const all = await m.embed(text, { pooling: 'none', normalize: false });
    assert.equal(all.length, n * dim, `${where}: pooling none gives every token's row`);
    assert.ok(relErr(all, H.flatMap((h) => [...h])) < 1e-5, `${where}: every row`);
    const allUnit = await m.embed(text, { pooling: 'none' });
    for (let r = 0; r < n; r++) assert.ok(Math.abs(Math.hypot(...allUnit.subarray(r * dim, (r + 1) * dim)) - 1) < 1e-5, 'each row normalized');

    // a tuned soft prompt: the hidden states of the text rows after the virtual rows
    const job = m.tune({ data: [{ text }, { text: 'a dog was there once upon a time' }], virtualTokens: 3, steps: 2, evalSplit: 0, lr: 0.1, seed: 3 });
    const { adapter } = await job.done;
    const { safetensors } = await adapter.save();
    const soft = tensorF32(readSafetensors(safetensors).tensors.get('prompt_embeddings'));
    const virt = [0, 1, 2].map((v) => soft.subarray(v * dim, (v + 1) * dim));
    const Ha = refHidden(weights, config, [...virt, ...ids.map(row)]).slice(3);
    const meanA = new Float64Array(dim);
    for (const h of Ha) for (let i = 0; i < dim; i++) meanA[i] += h[i] / n;
    const gotA = await m.embed(text, { adapter, normalize: false });
    const ea = relErr(gotA, meanA);
    t.diagnostic(`${where}: with a soft prompt vs float64 reference: ${ea.toExponential(2)}`);
    assert.ok(ea < 1e-5, `${where}: with the adapter, off by ${ea}`);
    assert.ok(relErr(gotA, mean) > 1e-3, `${where}: the adapter changes the embedding`);

    await assert.rejects(m.embed(text, { pooling: 'max' }), invalid(/embed: pooling must be one of mean, cls, last, none \(got max\)/));
    await assert.rejects(m.embed(text, { normalise: true }), invalid(/embed: unknown option 'normalise'/));
    await assert.rejects(m.embed([]), invalid(/no tokens/));
    await assert.rejects(m.embed([1, 99999]), invalid(/token id 99999 at 1 is out of range/));
    await m.free();
  }
});

/** base_model_name_or_path of an adapter tuned (one step) on model and saved. */
async function savedBase(model) {
  const { adapter } = await model.tune({ data: [{ text: 'Once upon a time' }, { text: 'a dog' }], virtualTokens: 2, steps: 1, evalSplit: 0 }).done;
  const { config } = await adapter.save();
  await adapter.free();
  return JSON.parse(config).base_model_name_or_path;
}

test('conventions: saved adapters name the true base model: GGUF general.source.*, the hub repo, or baseModel; never a display name', async (t) => {
  const gguf = (kv) => makeTinyLlama({ seed: 2, kv: [['general.basename', 'string', 'tiny-llama'], ...kv] }).gguf;
  const cases = [
    ['general.source.url on the hub', [['general.source.url', 'string', 'https://huggingface.co/acme/tiny-llama']], 'acme/tiny-llama'],
    ['general.source.repo_url with a path', [['general.source.repo_url', 'string', 'https://huggingface.co/acme/tiny-llama-2/tree/main']], 'acme/tiny-llama-2'],
    ['general.source.huggingface.repository', [['general.source.huggingface.repository', 'string', 'acme/old-convert']], 'acme/old-convert'],
    ['a source URL elsewhere', [['general.source.url', 'string', 'https://github.com/acme/tiny-llama']], null],
    ['only display names', [['general.organization', 'string', 'Acme']], null],
    ['a repository key that is no repo id', [['general.source.huggingface.repository', 'string', 'not a repo']], null],
  ];
  for (const [what, kv, want] of cases) {
    const m = await sp.loadModel(gguf(kv));
    assert.equal(m.info.source_repo, want, `${what}: info.source_repo`);
    assert.equal(await savedBase(m), want, `${what}: base_model_name_or_path`);
    await m.free();
  }
  const m = await sp.loadModel(gguf([['general.source.url', 'string', 'https://huggingface.co/acme/tiny-llama']]), { baseModel: 'me/my-base' });
  assert.equal(await savedBase(m), 'me/my-base', 'the baseModel option wins');
  await m.free();
  const legacy = await sp.loadModel(gguf([]), { name: 'me/legacy' });
  assert.equal(await savedBase(legacy), 'me/legacy', 'name is the same option');
  await legacy.free();
  await assert.rejects(sp.loadModel(gguf([]), { baseModel: 42 }), invalid(/baseModel must be a string/));
  await assert.rejects(sp.loadModel(gguf([]), { base_model: 'me/x' }), invalid(/loadModel: unknown option 'base_model'.*baseModel/));

  // huggingface.co URLs (served here by a stub fetch in this thread): an HF folder names its repo
  // (not the checkpoint path in _name_or_path); a GGUF file without source keys names the repo it is in
  const hf = makeTinyHF({ seed: 2 });
  const files = { ...hf.files, 'config.json': JSON.stringify({ ...JSON.parse(hf.configJson), _name_or_path: '/home/me/ckpt/run-7' }) };
  const realFetch = globalThis.fetch;
  t.after(() => { globalThis.fetch = realFetch; });
  const seen = [];
  globalThis.fetch = async (url, init = {}) => {
    seen.push(String(url));
    const m = /^https:\/\/huggingface\.co\/acme\/(tiny-hf|tiny-gguf)\/resolve\/main\/(.+)$/.exec(String(url));
    const body = m && (m[1] === 'tiny-hf' ? files[m[2]] : m[2] === 'model.gguf' ? gguf([]) : null);
    if (!body) return new Response('not found', { status: 404 });
    const bytes = typeof body === 'string' ? new TextEncoder().encode(body) : body;
    return new Response(init.method === 'HEAD' ? null : bytes, { headers: { 'content-length': String(bytes.length) } });
  };
  const folder = await sp.loadModel('https://huggingface.co/acme/tiny-hf/resolve/main/');
  assert.equal(await savedBase(folder), 'acme/tiny-hf', 'an HF folder URL names its repo');
  await folder.free();
  const local = await sp.loadModel({ files });
  assert.equal(await savedBase(local), '/home/me/ckpt/run-7', 'an HF folder from files: its _name_or_path');
  await local.free();
  const file = await sp.loadModel('https://huggingface.co/acme/tiny-gguf/resolve/main/model.gguf');
  assert.equal(await savedBase(file), 'acme/tiny-gguf', 'a GGUF on the hub without source keys: the repo it is in');
  await file.free();
  assert.ok(seen.includes('https://huggingface.co/acme/tiny-hf/resolve/main/config.json'), 'the stub served the loads');
});

test('conventions: model.embed with a prefix adapter: the hidden states after the per-layer prefix, as the float64 reference (HF folder)', async (t) => {
  const hf = makeTinyHF({ seed: 9 });
  const c = hf.config, dim = c.dim, kvd = c.n_kv_heads * (dim / c.n_heads), N = 3, W = c.n_layers * 2 * kvd;
  const m = await sp.loadModel({ files: hf.files });
  const text = 'Once upon a time there was a dog';
  const ids = await m.tokenize(text);
  const E = hf.weights['model.embed_tokens.weight'];
  const { adapter } = await m.tune({ data: [{ text }, { text: 'a dog was there' }], method: 'prefix', virtualTokens: N, steps: 2, evalSplit: 0, lr: 0.1, seed: 4 }).done;
  const { safetensors } = await adapter.save();
  const P = tensorF32(readSafetensors(safetensors).tensors.get('prompt_embeddings')); // PEFT layout (N, n_layers * 2 * kv_dim)
  const prefix = Array.from({ length: c.n_layers }, (_, l) => ({
    k: Array.from({ length: N }, (_, i) => P.subarray(i * W + l * 2 * kvd, i * W + l * 2 * kvd + kvd)),
    v: Array.from({ length: N }, (_, i) => P.subarray(i * W + l * 2 * kvd + kvd, i * W + (l + 1) * 2 * kvd)),
  }));
  const H = refHidden(hf.weights, c, ids.map((id) => E.subarray(id * dim, (id + 1) * dim)), 'hf', prefix);
  const got = await m.embed(ids, { adapter, pooling: 'none', normalize: false });
  const e = relErr(got, H.flatMap((h) => [...h]));
  t.diagnostic(`prefix adapter, every row vs float64 reference: ${e.toExponential(2)}`);
  assert.ok(e < 1e-5, `off by ${e}`);
  const plain = await m.embed(ids, { pooling: 'none', normalize: false });
  assert.ok(relErr(got, plain) > 1e-3, 'the prefix changes the hidden states');
  await m.free();
});

test('conventions: the C call behind embed (sp_hidden_states) follows the buffer rule: returns n * dim, writes what fits', async () => {
  const { loadEngine } = await import('../web/engine.js');
  const { gguf } = makeTinyLlama({ seed: 7 });
  const e = await loadEngine({ threads: 1 });
  const m = e.loadGguf(gguf);
  try {
    const ids = m.tokenize('Once upon a time');
    const dim = m.info.dim, need = ids.length * dim;
    const full = m.hiddenStates(ids);
    assert.equal(full.length, need);
    const idp = e.int32s(ids);
    const out = e.malloc(need * 4);
    try {
      e.heap().fill(0x7f, out, out + need * 4);
      assert.equal(e.M._sp_hidden_states(m.ptr, 0, idp, ids.length, out, dim, e.err), need, 'the size the whole result needs');
      assert.deepEqual(e.readFloat32s(out, dim), full.subarray(0, dim), 'the first row, which fits');
      assert.ok(e.heap().subarray(out + dim * 4, out + need * 4).every((b) => b === 0x7f), 'nothing written past cap');
      assert.equal(e.M._sp_hidden_states(m.ptr, 0, idp, ids.length, 0, 0, e.err), need, 'a size query');
      assert.equal(e.M._sp_hidden_states(m.ptr, 0, idp, 0, out, need, e.err), -1, 'no tokens: -1');
      assert.match(e.lastError().message, /no tokens/);
    } finally {
      e.free(out);
      e.free(idp);
    }
  } finally {
    m.free();
    e.dispose();
  }
});
