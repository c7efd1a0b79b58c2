// tune-stop.test.js - Stop is prompt: a stopped run returns without a final evaluation (the
// studio's Stop on a large held-out set waited minutes for one), a finished run evaluates its
// last step.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Softprompt } from '../web/softprompt.js';
import { modelPath } from './lib/paths.js';

const DATA = Array.from({ length: 12 }, (_, i) => ({ text: `Once upon a time there was a dog number ${i}. It was happy.` }));

test('tune: stop() skips the final evaluation; a finished run has it', { timeout: 120_000 }, async (t) => {
  const sp = await Softprompt.create({ threads: 1 });
  t.after(() => sp.terminate?.());
  const model = await sp.loadModel(modelPath('stories260K/stories260K.gguf'));
  const opts = { data: DATA, virtualTokens: 2, batchSize: 2, maxLength: 32, evalSplit: 0.25, evalEvery: 0 };
  const job = model.tune({ ...opts, steps: 100000 });
  job.on('progress', (s) => { if (s.step === 2) job.stop(); });
  const stopped = await job.done;
  assert.equal(stopped.reason, 'stopped');
  assert.deepEqual(stopped.history.evals, [], 'no evaluation after Stop');
  const done = await model.tune({ ...opts, steps: 2 }).done;
  assert.equal(done.reason, 'finished');
  assert.deepEqual(done.history.evals.map((e) => e.step), [2], 'a finished run evaluates its last step');
});

test('tune: an evaluation runs in parts with progress, and Stop ends it between parts', { timeout: 300_000 }, async (t) => {
  const sp = await Softprompt.create({ threads: 1 });
  t.after(() => sp.terminate?.());
  const model = await sp.loadModel(modelPath('stories260K/stories260K.gguf'));
  const many = Array.from({ length: 4000 }, (_, i) => ({ text: `Once upon a time there was a dog number ${i}. It liked to run in the park with its friends.` }));
  const opts = { data: many, virtualTokens: 2, batchSize: 4, maxLength: 32, evalSplit: 0.5, evalEvery: 1, steps: 2 };
  // a whole run: progress grows to the held-out count, then the eval
  const parts = [];
  const whole = model.tune({ ...opts, steps: 1 });
  whole.on('evaluating', (e) => parts.push(e));
  const done = await whole.done;
  assert.ok(parts.length >= 1, 'an evaluation of 2000 examples reports progress');
  for (let i = 0; i < parts.length; i++) {
    assert.equal(parts[i].total, 2000, 'work units: the held-out examples (no labels)');
    assert.ok(parts[i].done > (i ? parts[i - 1].done : 0) && parts[i].done < parts[i].total, JSON.stringify(parts[i]));
  }
  assert.deepEqual(done.history.evals.map((e) => e.step), [1]);
  // Stop at the first part: the evaluation under way is dropped and the run returns
  const job = model.tune(opts);
  let seen = 0;
  job.on('evaluating', () => { if (seen++ === 0) job.stop(); });
  const stopped = await job.done;
  assert.equal(stopped.reason, 'stopped');
  assert.deepEqual(stopped.history.evals, [], 'the evaluation Stop interrupted is not reported');
  assert.equal(stopped.history.steps.length, 1, 'no step after Stop');
  t.diagnostic(`${parts.length} progress reports for one evaluation; Stop after ${seen} of them`);
});
