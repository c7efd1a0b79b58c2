// browser-resume.test.js - a tuning run interrupted by a page reload resumes from its last
// checkpoint (web/app.js keeps one in IndexedDB every 5 steps: prompt, optimiser state, step and
// data order from sp_tuner_checkpoint, plus the run's settings, data and loss history).
// In headless chromium (playwright-core), from `npm start`'s server:
//   start a 30-step run, let it pass two checkpoints, reload the page mid-run; the page offers
//   "Resume the interrupted run from step N?"; resuming continues at step N+1 and finishes; the
//   whole loss trajectory equals an uninterrupted run with the same seed (run afterwards on the
//   same page); once finished, nothing is left to resume after another reload.
// Screenshots go to test-output/screenshots/ (gitignored).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { modelPath } from './lib/paths.js';

import { SHOTS, MAX_STORIES as DATASET, axeProblems, openBrowser } from './lib/browser.js';
const STEPS = 30;
// Every wait is for a page state; the limits are generous because `npm test` may share two cores
// with other work, and a limit is only there to end a hung run.
const WAIT = 300_000;


test('studio: a run interrupted by a page reload resumes from its last checkpoint', { timeout: 1_500_000 }, async (t) => {
  modelPath('stories260K/stories260K.gguf'); // fails clearly when the shared model is missing
  const { context, base } = await openBrowser(t, { viewport: { width: 1280, height: 900 } });
  const page = context.pages()[0] ?? await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  const state = (key) => page.evaluate((k) => document.body.dataset[k] ?? null, key);
  const waitState = async (key, value, timeout = WAIT) => {
    await page.waitForFunction(([k, v]) => document.body.dataset[k] === v || document.body.dataset.engine === 'failed'
      || document.body.dataset.train === 'failed', [key, value], { timeout });
    const err = await page.evaluate(() => window.__softprompt?.lastError);
    assert.equal(await state(key), value, `page state ${key} should be ${value}; last error: ${JSON.stringify(err)}`);
  };
  const dbg = (k) => page.evaluate((key) => window.__softprompt[key], k);

  // ---- a run, interrupted after two checkpoints ----
  await page.goto(base);
  await waitState('engine', 'ready');
  await page.fill('#model-url', '/models/stories260K/stories260K.gguf');
  await page.click('#model-load');
  await waitState('model', 'loaded');
  await page.fill('#data-text', DATASET);
  await waitState('data', 'ok');
  await page.fill('input[name="length"]', String(STEPS));
  await page.selectOption('select[name="lengthUnit"]', 'steps');
  await page.fill('input[name="evalEvery"]', '5');
  await page.fill('input[name="seed"]', '11');
  await page.fill('input[name="lr"]', '0.1');
  await page.fill('input[name="batchSize"]', '2');
  await page.click('#train-start');
  await page.waitForFunction(() => (window.__softprompt.checkpoint?.step ?? 0) >= 10 || document.body.dataset.train !== 'running', null, { timeout: WAIT });
  // pause so that the reload surely lands mid-run (a reload while running works the same; pausing just pins the moment)
  await page.click('#train-pause');
  await waitState('train', 'paused');
  // the step that finished as the pause landed may have handed over one more checkpoint: once the
  // worker acknowledged the pause no more comes; let the last write end
  await page.waitForFunction(() => window.__softprompt.workerPaused === true, null, { timeout: WAIT });
  await page.waitForFunction(() => !window.__softprompt.checkpointPending, null, { timeout: WAIT });
  const kept = await dbg('checkpoint');
  const before = { steps: await dbg('steps'), losses: await dbg('losses') };
  assert.ok(kept && kept.step >= 10 && kept.step % 5 === 0 && kept.step < STEPS, `a checkpoint was kept mid-run: ${JSON.stringify(kept)}`);
  assert.ok(before.steps.length >= kept.step && before.steps.length < STEPS, `interrupted at step ${before.steps.length}`);

  await page.reload();
  await waitState('engine', 'ready');
  await waitState('model', 'loaded'); // from the browser's cache, by itself
  await waitState('resume', 'offered');
  const offer = await dbg('resumeOffer');
  assert.equal(offer.step, kept.step, 'the offer is the last checkpoint');
  assert.equal(offer.totalSteps, STEPS);
  assert.match(await page.locator('#resume-text').innerText(), new RegExp(`Resume the interrupted run from step ${kept.step}\\?`));
  await page.locator('#train').screenshot({ path: path.join(SHOTS, '30-resume-offer.png') });
  const a11y = await axeProblems(page, 'the resume offer');
  assert.deepEqual(a11y, [], `axe-core: serious or critical violations:\n${JSON.stringify(a11y, null, 1)}`);

  // ---- resume: it continues from the checkpoint step and finishes ----
  await page.click('#resume-run');
  await waitState('train', 'done');
  const resumed = { steps: await dbg('steps'), losses: await dbg('losses'), from: await dbg('resumedFrom') };
  assert.equal(resumed.from, kept.step);
  assert.deepEqual(resumed.steps, Array.from({ length: STEPS }, (_, i) => i + 1), 'steps 1..N from the checkpoint, then N+1.. from the engine');
  assert.deepEqual(resumed.losses.slice(0, kept.step), before.losses.slice(0, kept.step), 'the history up to the checkpoint came back');
  assert.ok(resumed.losses.every(Number.isFinite));
  assert.match(await page.locator('#train-note').innerText(), new RegExp(`step ${kept.step}|Kept the prompt`));
  const chart = JSON.parse(await page.locator('#loss-chart').getAttribute('data-train-losses'));
  assert.equal(chart.length, STEPS, 'the chart shows the whole run');
  await page.locator('#train').screenshot({ path: path.join(SHOTS, '31-resumed-done.png') });

  // ---- the same run without an interruption gives the same trajectory ----
  await waitState('data', 'ok');
  await page.click('#train-start');
  await waitState('train', 'done');
  const straight = await dbg('losses');
  assert.equal(straight.length, STEPS);
  for (let i = 0; i < STEPS; i++) {
    assert.ok(Math.abs(straight[i] - resumed.losses[i]) <= 1e-4 * Math.max(1, Math.abs(straight[i])),
      `step ${i + 1}: uninterrupted ${straight[i]}, resumed ${resumed.losses[i]}`);
  }
  t.diagnostic(`resumed at step ${kept.step} of ${STEPS}; final loss ${resumed.losses[STEPS - 1].toFixed(4)} (uninterrupted ${straight[STEPS - 1].toFixed(4)})`);

  // ---- finished runs leave nothing to resume ----
  await page.reload();
  await waitState('engine', 'ready');
  await waitState('model', 'loaded');
  await waitState('resume', 'none'); // the page looked for an interrupted run and found none
  assert.equal(await page.locator('#resume-offer').isHidden(), true, 'no offer after a finished run');
  assert.equal(await dbg('resumeOffer'), null);
  assert.deepEqual(problems, [], 'no page errors');
});
