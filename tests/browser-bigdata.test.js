// browser-bigdata.test.js - a 20 MB data file in the studio, in a real browser: reading it,
// checking it in the engine, a few training steps with checkpoints and an evaluation keep the
// page's thread free: no main-thread task over 100 ms (a PerformanceObserver of type "longtask",
// installed before the page's first script). The held-out set is a sample, evaluated in parts with
// progress; the checkpoints in IndexedDB refer to the data, written once per run; Stop in the
// middle of an evaluation ends the run without finishing it; a reload uses the whole file again
// (kept as a Blob), again without long tasks. The data is real text (TinyStories validation
// stories, repeated to 20 MB).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ROOT, SHOTS, assertBrowserReady, axeProblems, openBrowser, traceMainThread } from './lib/browser.js';

const SHARED = process.env.SP_SHARED || path.resolve(ROOT, '..', 'shared');

// The page never decodes the big file: it keeps the File (a Blob), shows its first 64 KB, and hands
// the Blob to the engine's worker, which reads it there (dataPreview, tune). When a task over the
// limit appears, the long-animation-frame entries name the scripts that ran in it.
// A PerformanceObserver's long task is wall time: on a loaded 2-core machine the renderer is
// descheduled mid-task (at load 22, tasks of 5-30 ms of CPU showed as 100-300 ms). So the limit is
// checked on the main thread's own CPU time per task, from a DevTools trace (traceMainThread, as
// browser.test.js does); the observer's entries are reported beside it.
test('studio: a 20 MB data file never blocks the page for more than 100 ms', { timeout: 900_000 }, async (t) => {
  assertBrowserReady();
  const src = path.join(SHARED, 'data', 'tinystories', 'tinystories_val.txt');
  if (!fs.existsSync(src)) { t.skip(`${src} is missing (set SP_SHARED)`); return; }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sp-big-'));
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const one = fs.readFileSync(src, 'utf8');
  const big = path.join(tmp, 'stories-20mb.txt');
  const copies = Math.ceil((20 * 1024 * 1024) / one.length);
  fs.writeFileSync(big, Array(copies).fill(one.trimEnd()).join('\n\n'));
  const bytes = fs.statSync(big).size;
  assert.ok(bytes >= 20 * 1024 * 1024, `${bytes} bytes`);

  const { context, base } = await openBrowser(t);
  await context.addInitScript(() => {
    window.__long = [];
    new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__long.push({ start: Math.round(e.startTime), ms: Math.round(e.duration) }); })
      .observe({ type: 'longtask', buffered: true });
    // what the page shows while an evaluation runs (data-evaluating: its percentage)
    window.__evalSeen = [];
    new MutationObserver(() => {
      const v = document.body?.dataset.evaluating;
      if (v && v !== 'none') window.__evalSeen.push({ pct: Number(v), text: document.getElementById('eval-progress')?.textContent, eta: document.getElementById('st-eta')?.textContent });
    }).observe(document, { attributes: true, subtree: true, attributeFilter: ['data-evaluating'] }); // the document: <html> may not exist yet
    window.__frames = [];
    try {
      new PerformanceObserver((list) => {
        for (const e of list.getEntries()) {
          if (e.duration <= 100) continue;
          window.__frames.push({ start: Math.round(e.startTime), ms: Math.round(e.duration),
            scripts: (e.scripts ?? []).map((sc) => `${sc.invoker} ${sc.sourceFunctionName || ''} ${String(sc.sourceURL).split('/').pop()}:${sc.sourceCharPosition} ${Math.round(sc.duration)} ms`) });
        }
      }).observe({ type: 'long-animation-frame', buffered: true });
    } catch { /* a browser without long-animation-frame: the longtask entries still count */ }
    // every record the page writes to its "runs" store: checkpoints must not carry the data
    window.__runWrites = [];
    const put = IDBObjectStore.prototype.put;
    IDBObjectStore.prototype.put = function (value, ...rest) {
      if (this.name === 'runs' && value && typeof value === 'object') {
        window.__runWrites.push({ id: value.id, keys: Object.keys(value).sort(), dataBytes: value.data?.blob?.size ?? value.data?.text?.length ?? null });
      }
      return put.call(this, value, ...rest);
    };
  });
  const page = context.pages()[0] ?? await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(e.message));
  const waitState = (k, v, timeout = 600_000) => page.waitForFunction(([key, val]) => document.body.dataset[key] === val, [k, v], { timeout });

  await page.goto(base);
  await waitState('engine', 'ready');
  await page.click('#model-load');
  await waitState('model', 'loaded');
  const t0 = await page.evaluate(() => performance.now());
  const trace = await traceMainThread(page);
  await page.setInputFiles('#data-file', big);
  await page.waitForFunction(() => document.body.dataset.data === 'ok' || document.body.dataset.data === 'invalid', null, { timeout: 600_000 });
  const summary = await page.locator('#data-summary').innerText();
  t.diagnostic(`data: ${summary}`);
  assert.match(summary, /^\d[\d,]* text examples/);
  assert.match(await page.locator('#data-file-name').innerText(), /Using all of stories-20mb\.txt/);
  // a short run with checkpoints and one evaluation: the page holds out a sample, not 20% of it
  await page.fill('input[name="length"]', '10');
  await page.fill('input[name="evalEvery"]', '10');
  assert.match(await page.locator('#settings-warn').innerText(), /the page evaluates a sample of 500 of them/);
  await page.click('#train-start');
  assert.match(await page.locator('#train-note').innerText(), /Held out a sample of 500 examples instead of the [\d.]+ K the eval split asks for/);
  await page.waitForFunction(() => window.__softprompt.checkpoint?.step >= 5, null, { timeout: 600_000 });
  await waitState('train', 'done');
  await page.waitForFunction(() => !window.__softprompt.checkpointPending);
  assert.equal((await page.evaluate(() => window.__softprompt.evalLosses)).length, 1, 'one evaluation, at step 10');
  const t1 = await page.evaluate(() => performance.now());
  const tasks = await trace.stop();
  const long = await page.evaluate(([a, b]) => window.__long.filter((x) => x.start + x.ms >= a && x.start <= b), [t0, t1]);
  const frames = await page.evaluate(([a, b]) => window.__frames.filter((x) => x.start + x.ms >= a && x.start <= b), [t0, t1]);
  t.diagnostic(`${(bytes / 1048576).toFixed(1)} MB: read, checked and trained 10 steps in ${((t1 - t0) / 1000).toFixed(1)} s; `
    + `observer long tasks (wall ms): ${JSON.stringify(long)}; traced tasks over 50 ms (wall/cpu ms): ${JSON.stringify(tasks)}; `
    + `animation frames over 100 ms and their scripts: ${JSON.stringify(frames)}`);
  const heavy = tasks.filter((x) => x.cpu > 100);
  assert.deepEqual(heavy, [], `main-thread tasks over 100 ms of CPU with a 20 MB file; frames and their scripts: ${JSON.stringify(frames)}`);
  // The evaluation of the 500 held-out examples runs in parts of ~200 ms in the worker: each part
  // shows its progress and a time left (a fast machine may finish it in one part: then none shows).
  const seen = await page.evaluate(() => window.__evalSeen);
  t.diagnostic(`evaluation progress shown ${seen.length} times: ${JSON.stringify(seen.slice(0, 3))}`);
  for (const e of seen) {
    assert.ok(e.pct >= 0 && e.pct < 100, JSON.stringify(e));
    assert.match(e.text, /^Evaluating the prompt on the 500 held-out examples: \d+% \(about .+ left of this evaluation\)\. Stop ends it at once\.$/);
    assert.notEqual(e.eta, '–', 'a time left while evaluating');
  }
  assert.equal(await page.locator('#eval-progress').isVisible(), false, 'the progress line goes when the evaluation ends');
  await page.locator('#data').screenshot({ path: path.join(SHOTS, '40-big-data.png') });

  // Checkpoints store the data once: one 'run-data' record holding the file (a Blob, not its text),
  // and checkpoint records ('current') that refer to it by dataId.
  const writes = await page.evaluate(() => window.__runWrites.filter((w) => w.id !== 'draft'));
  const dataWrites = writes.filter((w) => w.id === 'run-data');
  const checkpoints = writes.filter((w) => w.id === 'current');
  t.diagnostic(`IndexedDB writes of the run: ${JSON.stringify(writes)}`);
  assert.equal(dataWrites.length, 1, 'the data is written once per run');
  assert.equal(dataWrites[0].dataBytes, bytes, 'the run-data record keeps the whole file');
  assert.ok(checkpoints.length >= 2, `a checkpoint at steps 5 and 10 (${checkpoints.length} written)`);
  for (const c of checkpoints) {
    assert.ok(c.keys.includes('dataId') && !c.keys.includes('data'), `a checkpoint refers to the data, never carries it: ${c.keys}`);
  }

  // Stop is prompt: Stop in the middle of an evaluation of the 500 held-out examples ends the run
  // at the next part; the evaluation is dropped and no final one runs.
  await page.fill('input[name="length"]', '40');
  await page.fill('input[name="evalEvery"]', '2');
  await page.click('#train-start');
  await waitState('train', 'running');
  const at = await page.waitForFunction(() => {
    const v = document.body.dataset.evaluating;
    if (!v || v === 'none' || Number(v) >= 50) return null;
    const mark = { evals: window.__softprompt.evalLosses.length, steps: window.__softprompt.losses.length, seen: window.__evalSeen.length, pct: Number(v) };
    document.getElementById('train-stop').click();
    return mark;
  }, null, { timeout: 600_000, polling: 50 }).then((h) => h.jsonValue());
  await waitState('train', 'done');
  const after = await page.evaluate(() => ({ evals: window.__softprompt.evalLosses.length, steps: window.__softprompt.losses.length, seen: window.__evalSeen.slice(-1)[0], state: document.getElementById('train-state').textContent }));
  t.diagnostic(`Stop at ${at.pct}% of an evaluation; the last progress shown: ${after.seen.pct}%`);
  assert.equal(after.state, 'stopped: prompt kept');
  assert.equal(await page.locator('#st-eta').innerText(), 'stopped');
  assert.equal(after.evals, at.evals, 'the evaluation Stop interrupted is dropped, and no final evaluation runs');
  assert.equal(after.steps, at.steps, 'no training step after Stop');
  assert.equal(await page.locator('#eval-progress').isVisible(), false);
  await page.locator('#train').screenshot({ path: path.join(SHOTS, '41-big-data-stopped.png') });
  const a11y = await axeProblems(page, 'a 20 MB file, a stopped run');

  // Nothing lost: after a reload the page uses the whole file again (kept as a Blob in IndexedDB)
  const reloadTrace = await traceMainThread(page);
  await page.reload();
  await waitState('engine', 'ready');
  await page.waitForFunction(() => document.body.dataset.data === 'ok' || document.body.dataset.data === 'invalid', null, { timeout: 600_000 });
  const reloadTasks = await reloadTrace.stop();
  t.diagnostic(`reload with the 20 MB file: traced tasks over 50 ms (wall/cpu ms): ${JSON.stringify(reloadTasks)}`);
  assert.deepEqual(reloadTasks.filter((x) => x.cpu > 100), [], 'no main-thread task over 100 ms of CPU while the page restores the 20 MB file');
  assert.match(await page.locator('#data-file-name').innerText(), /Using all of stories-20mb\.txt/);
  assert.equal((await page.locator('#data-summary').innerText()).split(' · ')[0], summary.split(' · ')[0], 'the same examples after a reload');
  a11y.push(...await axeProblems(page, 'a 20 MB file after a reload'));
  assert.deepEqual(a11y, [], `axe-core: serious or critical violations:\n${JSON.stringify(a11y, null, 1)}`);
  assert.deepEqual(problems, []);
});
