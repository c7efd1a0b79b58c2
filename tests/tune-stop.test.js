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
