// faults.test.js - interruptions at many seeded random points, through the public API (one
// in-process engine, {worker: false}, so it is fast): aborting a download (a local server that
// streams the model slowly), a load, a tuning run (job.abort() and AbortSignal) and a generation
// (AbortSignal, gen.abort(), leaving a for-await loop). After each one the call rejects with
// SP_ERR_ABORTED (or, for a load aborted too late, gives a working model), nothing is left
// allocated (malloc's bytes in use, sp_heap_used, are exactly what they were), and at the end of
// each phase the engine still reproduces the recorded greedy generation of stories260K.
// Then the leak check: 100 load/free cycles and 100 tune/abort cycles, heap in use and heap size
// before/after. The figures are printed (`faults:` lines).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

import { Softprompt } from '../web/softprompt.js';
import { modelPath } from './lib/paths.js';
import { rng } from './lib/tiny-model.js';

const STORIES_PATH = modelPath('stories260K/stories260K.gguf');
const STORIES = new Uint8Array(readFileSync(STORIES_PATH));
const HF_DIR = modelPath('TinyStories-656K');
const GOLDEN = JSON.parse(readFileSync(modelPath('stories260K/expected_greedy.json'), 'utf8')).greedy_64;
const DATA = [
  'Once upon a time there was a little dog named Max.', 'The cat sat on the mat and looked at the sun.',
  'Lily loved to play in the park with her red ball.', 'Tom and his friend went to the big tree.',
  'One day, a bird flew over the house and sang a song.', 'The girl was happy because she found a toy.',
].map((text) => JSON.stringify({ text })).join('\n');
const POINTS = 30;

let sp;
let baseline;
const R = rng(20240611); // every random point below comes from this seed

before(async () => {
  sp = await Softprompt.create({ worker: false, threads: 1 });
  baseline = await sp.memory();
});
after(() => sp?.terminate());

const pick = (lo, hi) => lo + Math.floor(R.uniform() * (hi - lo)); // [lo, hi)
const ticks = (n) => new Promise((resolve) => {
  const step = (k) => (k <= 0 ? resolve() : setImmediate(() => step(k - 1)));
  step(n);
});

async function used() {
  return (await sp.memory()).heapUsed;
}

async function golden(model) {
  const r = await model.generate(GOLDEN.prompt, { maxTokens: GOLDEN.generated_ids.length, temperature: 0 });
  assert.deepEqual(r.tokens, GOLDEN.generated_ids, 'the golden greedy generation still matches');
}

function isAborted(e) {
  return e && e.code === 'SP_ERR_ABORTED';
}

test('faults: downloads aborted at 30 random points (a slow local server)', async () => {
  let abortAt = Infinity;
  let onCut = null;
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(STORIES.length) });
    let off = 0;
    const step = 8192;
    const pump = () => {
      if (res.destroyed) return;
      if (off >= abortAt && onCut) { const f = onCut; onCut = null; f(); } // the client aborts here
      if (off >= STORIES.length) { res.end(); return; }
      const n = Math.min(step, STORIES.length - off);
      res.write(STORIES.subarray(off, off + n));
      off += n;
      setTimeout(pump, 1);
    };
    pump();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${server.address().port}/stories260K.gguf`;
  const u0 = await used();
  let aborted = 0;
  try {
    for (let i = 0; i < POINTS; i++) {
      abortAt = pick(0, STORIES.length - 8192);
      const ac = new AbortController();
      onCut = () => ac.abort();
      let progress = 0;
      await assert.rejects(sp.loadModel(url, { signal: ac.signal, onProgress: () => { progress++; } }), (e) => {
        assert.ok(isAborted(e), `point ${i} (byte ${abortAt}): ${e.code} ${e.message}`);
        return true;
      });
      aborted++;
      const mem = await sp.memory();
      assert.equal(mem.models, 0);
      assert.equal(mem.heapUsed, u0, `download aborted at byte ${abortAt}: ${mem.heapUsed - u0} bytes left allocated`);
    }
    abortAt = Infinity;
    const m = await sp.loadModel(url); // the same server, not interrupted
    await golden(m);
    await m.free();
  } finally {
    server.closeAllConnections?.();
    await new Promise((r) => server.close(r));
  }
  assert.equal(aborted, POINTS);
  assert.equal(await used(), u0);
  console.log(`faults: ${aborted} downloads aborted; heap in use ${u0} -> ${await used()} bytes`);
});

test('faults: loads (GGUF bytes, GGUF path, HF folder) aborted at 30 random points', async () => {
  const u0 = await used();
  const sources = [() => STORIES.slice(), () => STORIES_PATH, () => HF_DIR];
  let aborted = 0;
  let finished = 0;
  for (let i = 0; i < POINTS; i++) {
    const which = i % sources.length;
    const after = pick(0, 5); // event-loop turns before the abort
    const ac = new AbortController();
    const p = sp.loadModel(sources[which](), { signal: ac.signal });
    await ticks(after);
    ac.abort();
    try {
      const m = await p; // the abort came after the load had finished: a good model
      finished++;
      if (which < 2) await golden(m);
      await m.free();
    } catch (e) {
      assert.ok(isAborted(e), `load ${which} aborted after ${after} turns: ${e.code} ${e.message}`);
      aborted++;
    }
    const mem = await sp.memory();
    assert.equal(mem.models, 0);
    assert.equal(mem.heapUsed, u0, `load ${which} aborted after ${after} turns: ${mem.heapUsed - u0} bytes left allocated`);
  }
  assert.ok(aborted >= 3, `${aborted} of ${POINTS} loads were caught mid-way`);
  const m = await sp.loadModel(STORIES);
  await golden(m);
  await m.free();
  console.log(`faults: ${POINTS} loads interrupted (${aborted} aborted, ${finished} had finished)`);
});

test('faults: tuning runs aborted at 30 random steps (job.abort() and AbortSignal)', async () => {
  const model = await sp.loadModel(STORIES);
  const u0 = await used();
  for (let i = 0; i < POINTS; i++) {
    const at = pick(1, 25);
    const ac = new AbortController();
    const useSignal = i % 2 === 1;
    const job = model.tune({ data: DATA, virtualTokens: 4, steps: 30, batchSize: 2, evalSplit: 0.34, evalEvery: 5, checkpointEvery: 7, seed: i, signal: useSignal ? ac.signal : undefined });
    let last = 0;
    job.on('progress', (s) => {
      last = s.step;
      if (s.step === at) (useSignal ? ac.abort() : job.abort());
    });
    await assert.rejects(job.done, (e) => {
      assert.ok(isAborted(e), `tune aborted at step ${at}: ${e.code} ${e.message}`);
      return true;
    });
    assert.ok(last >= at && last <= at + 1, `the run stopped at step ${last}, right after the abort at ${at}`);
    assert.equal(job.state, 'failed');
    const mem = await sp.memory();
    assert.equal(mem.adapters, 0);
    assert.equal(mem.heapUsed, u0, `tune aborted at step ${at}: ${mem.heapUsed - u0} bytes left allocated`);
  }
  // a job aborted before it started, and one paused then aborted
  const ac = new AbortController();
  ac.abort();
  await assert.rejects(model.tune({ data: DATA, steps: 5, signal: ac.signal }).done, (e) => isAborted(e));
  const job = model.tune({ data: DATA, steps: 30, batchSize: 2, evalSplit: 0 });
  job.on('progress', (s) => { if (s.step === 3) job.pause().then(() => job.abort()); });
  await assert.rejects(job.done, (e) => isAborted(e));
  assert.equal(await used(), u0);
  await golden(model);
  // the model still tunes to the same result as a fresh run with the same seed
  const a = await model.tune({ data: DATA, virtualTokens: 4, steps: 6, batchSize: 2, evalSplit: 0, seed: 7 }).done;
  const b = await model.tune({ data: DATA, virtualTokens: 4, steps: 6, batchSize: 2, evalSplit: 0, seed: 7 }).done;
  assert.deepEqual(a.history.steps.map((s) => s.loss), b.history.steps.map((s) => s.loss));
  await a.adapter.free();
  await b.adapter.free();
  await model.free();
  assert.equal(await used(), baseline.heapUsed);
  console.log(`faults: ${POINTS + 2} tuning runs aborted; heap in use back to ${u0} bytes each time`);
});

test('faults: generations aborted at 30 random tokens (AbortSignal, abort(), leaving for-await)', async () => {
  const model = await sp.loadModel(STORIES);
  await model.generate('Once', { maxTokens: 1 }); // the model keeps a 256-byte token-piece buffer from its first generation
  const u0 = await used();
  const { adapter } = await model.tune({ data: DATA, virtualTokens: 3, steps: 2, batchSize: 2, evalSplit: 0 }).done;
  const u1 = await used();
  for (let i = 0; i < POINTS; i++) {
    const at = pick(0, 40);
    const how = i % 3;
    const ac = new AbortController();
    const opts = { maxTokens: 50, temperature: i % 2 ? 0 : 0.8, seed: i, adapter: i % 4 === 0 ? adapter : undefined, stopAtEos: false };
    if (how === 0) {
      let n = 0;
      const g = model.generate(GOLDEN.prompt, { ...opts, signal: ac.signal, onToken: () => { if (n++ === at) ac.abort(); } });
      await assert.rejects(g, (e) => isAborted(e));
    } else if (how === 1) {
      let n = 0;
      const g = model.generate(GOLDEN.prompt, { ...opts, onToken: () => { if (n++ === at) g.abort(); } });
      await assert.rejects(g, (e) => isAborted(e));
    } else {
      const g = model.generate(GOLDEN.prompt, opts);
      let n = 0;
      for await (const piece of g) {
        assert.equal(typeof piece, 'string');
        if (n++ === at) break; // return() aborts the generation
      }
      await assert.rejects(g, (e) => isAborted(e));
    }
    const mem = await sp.memory();
    assert.equal(mem.heapUsed, u1, `generation aborted at token ${at} (${how}): ${mem.heapUsed - u1} bytes left allocated`);
  }
  await golden(model);
  await adapter.free();
  assert.equal(await used(), u0);
  await model.free();
  console.log(`faults: ${POINTS} generations aborted`);
});

test('faults: no leaks over 100 load/free cycles and 100 tune/abort cycles', async () => {
  const bytes = STORIES;
  const cycleLoad = async () => {
    const m = await sp.loadModel(bytes);
    await m.tokenize('Once upon a time');
    await m.free();
  };
  for (let i = 0; i < 3; i++) await cycleLoad();
  const m0 = await sp.memory();
  for (let i = 0; i < 100; i++) await cycleLoad();
  const m1 = await sp.memory();
  console.log(`faults: 100 load/free cycles: heap in use ${m0.heapUsed} -> ${m1.heapUsed} bytes, heap size ${m0.heapBytes} -> ${m1.heapBytes}`);
  assert.equal(m1.heapUsed, m0.heapUsed);
  assert.equal(m1.heapBytes, m0.heapBytes);

  const model = await sp.loadModel(bytes);
  const cycleTune = async (i) => {
    const job = model.tune({ data: DATA, virtualTokens: 4, steps: 20, batchSize: 2, evalSplit: 0.34, evalEvery: 2, checkpointEvery: 3, seed: i });
    job.on('progress', (s) => { if (s.step === 1 + (i % 5)) job.abort(); });
    await assert.rejects(job.done, (e) => isAborted(e));
  };
  for (let i = 0; i < 3; i++) await cycleTune(i);
  const t0 = await sp.memory();
  for (let i = 0; i < 100; i++) await cycleTune(i);
  const t1 = await sp.memory();
  console.log(`faults: 100 tune/abort cycles: heap in use ${t0.heapUsed} -> ${t1.heapUsed} bytes, heap size ${t0.heapBytes} -> ${t1.heapBytes}`);
  assert.equal(t1.heapUsed, t0.heapUsed);
  assert.equal(t1.heapBytes, t0.heapBytes);
  await golden(model);
  await model.free();
  assert.equal((await sp.memory()).heapUsed, baseline.heapUsed);
});
