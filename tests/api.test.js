// api.test.js - the public JS API (web/softprompt.js) under Node, in worker_threads (the default)
// and in this thread ({worker:false}): every kind of model source, generation as a promise, an
// async iterator and a callback, AbortSignal everywhere, tuning jobs, adapters as PEFT bytes,
// evaluation, and a dead worker turning every pending call into SP_ERR_WORKER (never a hang).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';

import { Softprompt, SoftpromptError, ErrorCodes, threadsAvailable } from '../web/softprompt.js';
import { startServer } from '../scripts/serve.js';
import { modelPath, sharedDir } from './lib/paths.js';

const STORIES = modelPath('stories260K/stories260K.gguf');
const GOLDEN = JSON.parse(readFileSync(modelPath('stories260K/expected_greedy.json'), 'utf8')).greedy_64;
const HF_DIR = modelPath('TinyStories-656K');
const HF_GOLDEN = JSON.parse(readFileSync(modelPath('TinyStories-656K/expected_greedy.json'), 'utf8'));
const DATA = [
  'Once upon a time, there was a dog named Max. Max loved the sea.',
  'Once upon a time, there was a happy dog named Max. He lived by the sea.',
  'Once upon a time, a little dog named Max went to the sea with his friend Sue.',
  'Once upon a time, there was a dog named Max who had a red ball.',
  'Once upon a time, Max the dog saw a boat on the sea.',
  'Once upon a time, a dog named Max found a shell by the sea.',
].join('\n\n');

const isCode = (code) => (e) => {
  assert.ok(e instanceof SoftpromptError, `a SoftpromptError (got ${e?.name}: ${e?.message})`);
  assert.equal(e.code, code, e.message);
  return true;
};

for (const worker of [true, false]) {
  const mode = worker ? 'worker' : 'inline';

  test(`api (${mode}): load, info, tokenize, generate three ways, abort, free`, async () => {
    const sp = await Softprompt.create({ threads: 2, worker });
    try {
      assert.equal(sp.info.mode, mode);
      assert.equal(sp.info.threaded, true);
      const progress = [];
      const model = await sp.loadModel(STORIES, { onProgress: (p) => progress.push(p) });
      assert.equal(progress.at(-1).status, 'done');
      assert.equal(model.info.vocab_size, 512);
      assert.deepEqual(await model.tokenize(GOLDEN.prompt), GOLDEN.prompt_ids_with_bos);
      assert.deepEqual(await model.tokenize(GOLDEN.prompt, { addBos: false }), GOLDEN.prompt_ids_with_bos.slice(1));
      assert.equal(await model.detokenize(GOLDEN.generated_ids), GOLDEN.stdout.slice(GOLDEN.prompt.length, -1));

      // awaited
      const res = await model.generate(GOLDEN.prompt, { maxTokens: 60, temperature: 0 });
      assert.deepEqual(res.tokens, GOLDEN.generated_ids);
      assert.equal(GOLDEN.prompt + res.text + '\n', GOLDEN.stdout);
      // iterated, with a callback, from ids
      const ids = [];
      const gen = model.generate(GOLDEN.prompt_ids_with_bos, { maxTokens: 60, temperature: 0, onToken: (t) => ids.push(t.id) });
      let text = '';
      for await (const piece of gen) text += piece;
      assert.equal(text, res.text);
      assert.deepEqual(ids, GOLDEN.generated_ids);
      assert.equal((await gen).text, res.text);
      // seeded sampling is reproducible
      const s1 = await model.generate('Once', { maxTokens: 30, temperature: 0.9, topK: 40, topP: 0.9, seed: 42 });
      const s2 = await model.generate('Once', { maxTokens: 30, temperature: 0.9, topK: 40, topP: 0.9, seed: 42 });
      assert.equal(s1.text, s2.text);

      // AbortSignal mid-way, breaking out of the iterator, and an already aborted signal
      const ac = new AbortController();
      let n = 0;
      await assert.rejects(model.generate('Once', { maxTokens: 1500, stopAtEos: false, signal: ac.signal, onToken: () => { if (++n === 3) ac.abort(); } }),
        isCode('SP_ERR_ABORTED'));
      assert.ok(n < 1500);
      let pieces = 0;
      for await (const piece of model.generate('Once', { maxTokens: 1500, stopAtEos: false })) {
        assert.equal(typeof piece, 'string');
        if (++pieces === 3) break;
      }
      await assert.rejects(model.generate('Once', { signal: AbortSignal.abort() }), isCode('SP_ERR_ABORTED'));
      await assert.rejects(sp.loadModel(STORIES, { signal: AbortSignal.abort() }), isCode('SP_ERR_ABORTED'));
      // still usable
      assert.deepEqual((await model.generate(GOLDEN.prompt, { maxTokens: 60, temperature: 0 })).tokens, GOLDEN.generated_ids);

      // bad options are typed errors
      await assert.rejects(model.generate('Once', { temperature: -1 }), isCode('SP_ERR_INVALID_ARG'));
      await assert.rejects(model.generate('Once', { maxTokens: 5000 }), isCode('SP_ERR_CONTEXT'));
      await assert.rejects(model.generate(42), isCode('SP_ERR_INVALID_ARG'));
      await model.free();
      await assert.rejects(model.tokenize('x'), isCode('SP_ERR_STATE'));
      assert.equal(model.freed, true);
      const mem = await sp.memory();
      assert.equal(mem.models, 0);
    } finally {
      sp.terminate();
    }
  });
}

test('api: model sources: bytes, ArrayBuffer, Blob, HF {files}, File list, HF folder path, URL, file: URL', async () => {
  const sp = await Softprompt.create({ threads: 1 });
  const server = await startServer({ port: 0, host: '127.0.0.1', quiet: true });
  try {
    const bytes = new Uint8Array(readFileSync(STORIES));
    const check = async (model) => {
      assert.deepEqual((await model.generate(GOLDEN.prompt, { maxTokens: 8, temperature: 0 })).tokens, GOLDEN.generated_ids.slice(0, 8));
      await model.free();
    };
    await check(await sp.loadModel(bytes));
    await check(await sp.loadModel(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)));
    await check(await sp.loadModel(new Blob([bytes])));
    await check(await sp.loadModel(new URL(`file://${STORIES}`)));
    const progress = [];
    const url = `http://127.0.0.1:${server.port}/models/stories260K/stories260K.gguf`;
    await check(await sp.loadModel(url, { onProgress: (p) => progress.push(p) }));
    const dl = progress.filter((p) => p.status === 'download');
    assert.ok(dl.length >= 1 && dl.every((p) => p.total === bytes.byteLength), 'download progress with the total up front');
    assert.equal(dl.at(-1).loaded, bytes.byteLength);
    await assert.rejects(sp.loadModel(`http://127.0.0.1:${server.port}/models/nope.gguf`), isCode('SP_ERR_NETWORK'));

    const g = HF_GOLDEN['Once upon a time'];
    const hfCheck = async (model) => {
      assert.equal(model.info.format, 'hf');
      assert.deepEqual((await model.generate('Once upon a time', { maxTokens: 12, temperature: 0 })).tokens, g.f32_greedy_new_ids_64.slice(0, 12));
      await model.free();
    };
    const read = (n) => readFileSync(`${HF_DIR}/${n}`);
    await hfCheck(await sp.loadModel(HF_DIR));
    await hfCheck(await sp.loadModel({
      files: { 'config.json': read('config.json').toString('utf8'), 'model.safetensors': new Uint8Array(read('model.safetensors')), 'tokenizer.json': new Blob([read('tokenizer.json')]) },
    }));
    const list = ['config.json', 'model.safetensors', 'tokenizer.json'].map((n) => new File([read(n)], n));
    await hfCheck(await sp.loadModel(list));
    await hfCheck(await sp.loadModel({ url: `http://127.0.0.1:${server.port}/models/TinyStories-656K/`, hf: true }));
    await assert.rejects(sp.loadModel({ files: { 'config.json': '{}' } }), isCode('SP_ERR_INVALID_ARG'));
    await assert.rejects(sp.loadModel(12), isCode('SP_ERR_INVALID_ARG'));
    await assert.rejects(sp.loadModel(`${sharedDir()}/models/stories260K/no-such.gguf`), isCode('SP_ERR_IO'));
    await assert.rejects(sp.loadModel(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])), isCode('SP_ERR_FORMAT'));
  } finally {
    sp.terminate();
    await server.close();
  }
});

test('api: tune job: events, pause/resume, adapters saved and loaded as PEFT files, evaluate, nearest', async () => {
  const sp = await Softprompt.create({ threads: 2 });
  try {
    const model = await sp.loadModel(STORIES);
    const steps = [];
    const evals = [];
    const states = [];
    const acks = [];
    let whilePaused = null; // [steps at the pause's acknowledgement, steps after a request answered while paused]
    const job = model.tune({ data: DATA, virtualTokens: 4, steps: 8, batchSize: 2, maxLength: 32, lr: 0.05, evalSplit: 0.34, evalEvery: 4, seed: 3 });
    job.on('progress', (s) => {
      steps.push(s);
      if (s.step === 2) {
        // paused (acknowledged by the worker): the worker still answers, no step comes; then resume
        job.pause().then(async (ack) => {
          const at = steps.length;
          await model.tokenize('hi');
          whilePaused = [ack, at, steps.length];
          acks.push(await job.resume());
        });
      }
    });
    job.on('eval', (e) => evals.push(e));
    job.on('state', (s) => states.push(s));
    job.on('paused', () => acks.push('paused event')).on('resumed', () => acks.push('resumed event'));
    assert.equal(job.state, 'running');
    const res = await job.done;
    assert.equal(job.state, 'done');
    assert.deepEqual(states, ['paused', 'running', 'done']);
    // the pause was sent on step 2's report; the worker may have started step 3 by then
    assert.ok(whilePaused[1] === 2 || whilePaused[1] === 3, `paused at step ${whilePaused[1]}`);
    assert.deepEqual(whilePaused, ['paused', whilePaused[1], whilePaused[1]], 'no step runs while paused');
    assert.deepEqual(acks, ['paused event', 'resumed event', 'running']);
    assert.equal(await job.pause(), 'done', 'a pause after the end resolves with the end state');
    assert.deepEqual(steps.map((s) => s.step), [1, 2, 3, 4, 5, 6, 7, 8]);
    assert.deepEqual(evals.map((e) => e.step), [4, 8]);
    assert.deepEqual(res.history.steps, steps);
    assert.deepEqual(res.history.evals, evals);
    assert.equal(res.reason, 'finished');
    assert.equal(res.adapter.info.method, 'prompt');
    assert.equal(res.adapter.info.num_virtual_tokens, 4);
    assert.ok(res.memory && typeof res.memory.arena_bytes === 'number');

    // the same seed gives the same run
    const again = await model.tune({ data: DATA, virtualTokens: 4, steps: 8, batchSize: 2, maxLength: 32, lr: 0.05, evalSplit: 0.34, evalEvery: 4, seed: 3 }).done;
    assert.deepEqual(again.history.steps.map((s) => s.loss), steps.map((s) => s.loss));

    const files = await res.best.save();
    assert.equal(JSON.parse(files.config).peft_type, 'PROMPT_TUNING');
    assert.ok(files.safetensors instanceof Uint8Array && files.safetensors.byteLength > 4 * 64 * 4);
    const loaded = await model.loadAdapter({ config: files.config, safetensors: new Blob([files.safetensors]) });
    const loaded2 = await model.loadAdapter({ config: JSON.parse(files.config), safetensors: files.safetensors.buffer });
    const a = await model.generate('Once upon a time', { maxTokens: 20, temperature: 0, adapter: res.best });
    const b = await model.generate('Once upon a time', { maxTokens: 20, temperature: 0, adapter: loaded });
    const c = await model.generate('Once upon a time', { maxTokens: 20, temperature: 0, adapter: loaded2 });
    assert.deepEqual(b.tokens, a.tokens);
    assert.deepEqual(c.tokens, a.tokens);
    const e1 = await model.evaluate(DATA, { adapter: res.best, maxLength: 32 });
    const e2 = await model.evaluate(DATA, { adapter: loaded, maxLength: 32 });
    assert.equal(e2.loss, e1.loss);
    const plain = await model.evaluate(DATA, { maxLength: 32 });
    assert.ok(Number.isFinite(plain.loss) && plain.examples === 6);
    const near = await loaded.nearest(2);
    assert.equal(near.length, 4);
    assert.ok(near.every((row) => row.length === 2));

    // prefix tuning and init from a saved adapter
    const pre = await model.tune({ data: DATA, method: 'prefix', virtualTokens: 3, steps: 2, batchSize: 2, maxLength: 32, evalSplit: 0 }).done;
    assert.equal(pre.adapter.info.method, 'prefix');
    assert.equal(pre.best, pre.adapter);
    await assert.rejects(pre.adapter.nearest(3), isCode('SP_ERR_UNSUPPORTED'));
    const cont = await model.tune({ data: DATA, init: loaded, steps: 1, batchSize: 2, maxLength: 32, evalSplit: 0 }).done;
    assert.equal(cont.adapter.info.num_virtual_tokens, 4);

    // stop keeps the prompt; abort rejects; bad data rejects with the line
    const stopped = model.tune({ data: DATA, virtualTokens: 2, steps: 100000, batchSize: 2, maxLength: 32, evalSplit: 0 });
    stopped.on('progress', (s) => { if (s.step === 2) stopped.stop(); });
    assert.equal((await stopped.done).reason, 'stopped');
    const ac = new AbortController();
    const aborted = model.tune({ data: DATA, virtualTokens: 2, steps: 100000, batchSize: 2, maxLength: 32, evalSplit: 0, signal: ac.signal });
    aborted.on('progress', (s) => { if (s.step === 2) ac.abort(); });
    await assert.rejects(aborted.done, isCode('SP_ERR_ABORTED'));
    assert.equal(aborted.state, 'failed');
    await assert.rejects(model.tune({ data: '{"text":"ok"}\n{"nope":1}\n', steps: 1 }).done, (e) => isCode('SP_ERR_DATA')(e) && /line 2/.test(e.message));
    await assert.rejects(model.tune({ data: [{ text: 'a' }, { bad: 1 }], steps: 1 }).done, isCode('SP_ERR_DATA'));
    await assert.rejects(model.tune({ data: DATA, lr: -1 }).done, isCode('SP_ERR_INVALID_ARG'));
    await assert.rejects(model.tune({}).done, isCode('SP_ERR_INVALID_ARG'));
    assert.deepEqual((await model.generate(GOLDEN.prompt, { maxTokens: 60, temperature: 0 })).tokens, GOLDEN.generated_ids);

    // adapters die with their model
    const other = await sp.loadModel(STORIES);
    await assert.rejects(other.generate('x', { adapter: loaded }), isCode('SP_ERR_INVALID_ARG'));
    await loaded.free();
    await assert.rejects(loaded.save(), isCode('SP_ERR_STATE'));
    await model.free();
    await assert.rejects(res.adapter.save(), isCode('SP_ERR_STATE'));
    assert.equal((await sp.memory()).adapters, 0);
  } finally {
    sp.terminate();
  }
});

test('api: dataPreview with a model, and without one (the engine\'s parser either way)', async () => {
  const sp = await Softprompt.create({ threads: 1, worker: false });
  try {
    const model = await sp.loadModel(STORIES);
    const p = await model.dataPreview(DATA, { limit: 2, maxLength: 16 });
    assert.equal(p.format, 'text');
    assert.equal(p.kind, 'text');
    assert.equal(p.count, 6);
    assert.equal(p.examples.length, 2);
    assert.deepEqual(p.errors, []);
    assert.equal(p.tokens.perExample.length, 6);
    assert.equal(p.tokens.total, p.tokens.perExample.reduce((a, b) => a + b, 0));
    for (let i = 0; i < 6; i++) {
      const text = DATA.split('\n\n')[i];
      assert.equal(p.tokens.perExample[i], (await model.tokenize(text)).length);
    }
    assert.equal(p.tokens.truncated, p.tokens.perExample.filter((n) => n > 16).length);
    const bad = await model.dataPreview('{"text":"a"}\n{"text":\n');
    assert.equal(bad.errors.length, 1);
    assert.equal(bad.errors[0].line, 2);
    // without a model: the same parser, no token counts
    const d = await sp.dataPreview('input,output\n"a, ""quoted""",yes\nb,no\n');
    assert.equal(d.format, 'csv');
    assert.equal(d.kind, 'input-output');
    assert.equal(d.tokens, undefined);
    assert.deepEqual(d.examples, [{ input: 'a, "quoted"', output: 'yes', line: 2 }, { input: 'b', output: 'no', line: 3 }]);
    assert.equal((await sp.dataPreview('{"text":"a"}\n\n{"input":"x","output":"y"}\n')).kind, 'mixed');
    assert.deepEqual((await sp.dataPreview('one\ntwo\n\n\nthree')).examples, [{ text: 'one\ntwo', line: 1 }, { text: 'three', line: 5 }]);
    assert.deepEqual((await sp.dataPreview('{"text": 1}')).errors.map((e) => [e.line, e.field]), [[1, 'text']]);
    assert.deepEqual((await sp.dataPreview([{ text: 'a' }, { input: 'x' }])).errors.map((e) => [e.line, e.field]), [[2, 'output']]);
  } finally {
    sp.terminate();
  }
});

test('api: a dead worker rejects every pending call with SP_ERR_WORKER, and later calls too', async () => {
  const sp = await Softprompt.create({ threads: 1 });
  const model = await sp.loadModel(STORIES);
  let died = null;
  sp.onerror = (e) => { died = e; };
  // terminate() while a generation and a tuning run are in flight
  const gen = model.generate('Once', { maxTokens: 1500, stopAtEos: false, onToken: (t) => { if (t.index === 2) sp.terminate(); } });
  const job = model.tune({ data: DATA, steps: 100000, batchSize: 2, maxLength: 32, evalSplit: 0 });
  await assert.rejects(gen, isCode('SP_ERR_WORKER'));
  await assert.rejects(job.done, isCode('SP_ERR_WORKER'));
  assert.equal(sp.terminated, true);
  assert.ok(died instanceof SoftpromptError && died.code === 'SP_ERR_WORKER');
  await assert.rejects(model.tokenize('x'), isCode('SP_ERR_WORKER'));
  await assert.rejects(sp.loadModel(STORIES), isCode('SP_ERR_WORKER'));

  // the worker thread dying on its own (as a crash would) is reported the same way
  const sp2 = await Softprompt.create({ threads: 1 });
  const m2 = await sp2.loadModel(STORIES);
  const pending = m2.generate('Once', { maxTokens: 1500, stopAtEos: false, onToken: (t) => { if (t.index === 1) sp2._client.t.terminate(); } });
  await assert.rejects(pending, (e) => isCode('SP_ERR_WORKER')(e) && /exited/.test(e.message));
  await assert.rejects(m2.tokenize('x'), isCode('SP_ERR_WORKER'));
});

test('api: options are checked; exports are complete', async () => {
  await assert.rejects(Softprompt.create({ threads: 0 }), isCode('SP_ERR_INVALID_ARG'));
  await assert.rejects(Softprompt.create({ threads: 1.5 }), isCode('SP_ERR_INVALID_ARG'));
  assert.equal(threadsAvailable(), true);
  assert.equal(ErrorCodes.SP_ERR_WORKER, 'SP_ERR_WORKER');
  assert.equal(ErrorCodes.SP_ERR_FORMAT, 'SP_ERR_FORMAT');
  const e = new SoftpromptError('SP_ERR_DATA', 'line 3: bad');
  assert.ok(e instanceof Error);
  assert.deepEqual(JSON.parse(JSON.stringify(e)), { code: 'SP_ERR_DATA', message: 'line 3: bad' });
  const sp = await Softprompt.create({ threads: 1 });
  assert.equal(sp.info.threads, 1);
  assert.equal(sp.info.threaded, false);
  sp.terminate();
});

test('api: bench on a loaded model and on a random-weight preset', async () => {
  const sp = await Softprompt.create({ threads: 1, worker: false });
  try {
    const small = { seconds: 0.02, promptTokens: 16, decodeTokens: 8, trainBatch: 2, trainTokens: 16 };
    const model = await sp.loadModel(STORIES);
    const r = await model.bench({ ...small, repeats: 2 });
    for (const k of ['peakGflops', 'gemmGflops', 'prefillTokS', 'decodeTokS', 'trainTokS', 'trainGflops', 'peakMemoryBytes']) assert.ok(r[k] > 0, k);
    assert.equal(r.threads, 1);
    // the training figure times the tuner's own step: the tuner's step counter (which only
    // sp_tune_step advances) counted each of the 2 timed steps, and nothing else
    assert.equal(r.raw.train_steps, 2);
    assert.equal(r.raw.prefill_tok_s, r.prefillTokS);
    const p = await sp.bench({ ...small, model: 'stories15M', type: 'Q8_0', probes: false });
    assert.equal(p.type, 'Q8_0');
    assert.equal(p.peakGflops, null);
    assert.ok(p.decodeTokS > 0);
    await assert.rejects(sp.bench({ model: 'gpt-5' }), isCode('SP_ERR_INVALID_ARG'));
  } finally {
    sp.terminate();
  }
});

test('api: aborting a download half way rejects with SP_ERR_ABORTED; transfer hands bytes over', async () => {
  const bytes = readFileSync(STORIES);
  // a server that sends the first 64 KiB of the model, then stalls
  const stall = http.createServer((req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': bytes.length });
    res.write(bytes.subarray(0, 65536));
  });
  await new Promise((r) => stall.listen(0, '127.0.0.1', r));
  for (const worker of [true, false]) {
    const sp = await Softprompt.create({ threads: 1, worker });
    try {
      const ac = new AbortController();
      const seen = [];
      await assert.rejects(sp.loadModel(`http://127.0.0.1:${stall.address().port}/m.gguf`, {
        signal: ac.signal,
        onProgress: (p) => { seen.push(p); if (p.status === 'download') ac.abort(); },
      }), isCode('SP_ERR_ABORTED'));
      assert.equal(seen[0].total, bytes.length);
      // the engine is fine and holds nothing from the aborted load
      assert.equal((await sp.memory()).models, 0);
      const own = new Uint8Array(bytes);
      const model = await sp.loadModel(own, { transfer: true });
      if (worker) assert.equal(own.byteLength, 0, 'the buffer moved to the worker');
      assert.deepEqual((await model.generate(GOLDEN.prompt, { maxTokens: 4, temperature: 0 })).tokens, GOLDEN.generated_ids.slice(0, 4));
    } finally {
      sp.terminate();
    }
  }
  stall.closeAllConnections();
  await new Promise((r) => stall.close(r));
});

test('api: a misspelt tune option is refused, naming it', async () => {
  const sp = await Softprompt.create({ worker: false });
  try {
    const model = await sp.loadModel(STORIES);
    await assert.rejects(model.tune({ data: '{"text":"Once upon a time"}\n{"text":"The end"}\n', virtualToken: 4 }).done,
      (e) => e.code === 'SP_ERR_INVALID_ARG' && /unknown option 'virtualToken'/.test(e.message));
    await model.free();
  } finally {
    await sp.terminate();
  }
});
