// conventions.test.js - the API conventions users of PEFT, transformers.js and llama.cpp expect
// (issue 15, "API conventions"), on stories260K in this thread ({worker: false}) and in a worker:
// unknown options refused by generate and bench as by tune; a random default sampling seed that the
// result reports and that repeats the text; seeds above 2^24 used exactly (generation and tuning);
// aborts that look like the platform's (name 'AbortError', cause = the reason); one job shape for
// generations and tuning runs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Softprompt, SoftpromptError, ErrorCodes, isAbort } from '../web/softprompt.js';
import { modelPath } from './lib/paths.js';

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
