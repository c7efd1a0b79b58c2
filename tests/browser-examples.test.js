// browser-examples.test.js - every built-in example of the studio, run with the page's own default
// settings on the default model, in a real browser: the training loss falls, and "Try it" shows
// the change the example's card promises. A screenshot of each comparison and of each learning
// curve goes to test-output/examples/ for a person to look at. Also: on a model too small for a task, the page
// says so and offers the one that learns it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { ROOT, assertBrowserReady, axeProblems, openBrowser } from './lib/browser.js';
import { EXAMPLES } from '../web/page/examples.js';

const SHARED = process.env.SP_SHARED || path.resolve(ROOT, '..', 'shared');
const OUT = path.join(ROOT, 'test-output', 'examples');

// What each card promises, as a check on the prompted output (greedy, the suggested input).
const PROMISE = {
  stories: { check: (o) => /\bMax\b/.test(o) && /\bsea\b/.test(o), what: 'a story about Max (and the sea)' },
  'happy-or-sad': { check: (o) => /^\s*(happy|sad)\s*$/.test(o), what: 'one label, then the end' },
  'who-was-it': { check: (o) => /^\s*It was Pip\.\s*$/.test(o), what: '"It was Pip." and the end' },
};

test('studio: every built-in example visibly works with its defaults on the default model', { timeout: 1_200_000 }, async (t) => {
  assertBrowserReady();
  if (!fs.existsSync(path.join(SHARED, 'models'))) { t.skip(`no ${SHARED}/models (set SP_SHARED)`); return; }
  fs.mkdirSync(OUT, { recursive: true });
  const { context, base } = await openBrowser(t, { viewport: { width: 1280, height: 900 }, acceptDownloads: true });
  const page = context.pages()[0] ?? await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  const state = (k) => page.evaluate((key) => document.body.dataset[key] ?? null, k);
  const waitState = async (k, v, timeout = 120_000) => {
    await page.waitForFunction(([key, val]) => document.body.dataset[key] === val || document.body.dataset.train === 'failed' || document.body.dataset.engine === 'failed', [k, v], { timeout });
    assert.equal(await state(k), v, `state ${k}: ${JSON.stringify(await page.evaluate(() => window.__softprompt.lastError))}`);
  };

  await page.goto(base);
  await waitState('engine', 'ready');
  // the default model: nothing typed, nothing picked
  await page.click('#model-load');
  await waitState('model', 'loaded');
  const info = await page.evaluate(() => window.__softprompt.model);
  assert.equal(info.vocab_size, 2048, 'the default model is TinyStories-656K');
  assert.equal(await page.locator('#task-advice').isVisible(), false);

  const a11y = [];
  for (const ex of EXAMPLES) {
    const promise = PROMISE[ex.id];
    assert.ok(promise, `a promise to check for ${ex.id}`);
    await page.click(`button[data-example="${ex.id}"]`);
    await waitState('data', 'ok');
    await page.waitForFunction(() => !document.getElementById('train-start').disabled);
    await page.click('#train-start');
    await waitState('train', 'done', 600_000);
    const losses = await page.evaluate(() => window.__softprompt.losses);
    const evals = await page.evaluate(() => window.__softprompt.evalLosses);
    const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
    const head = mean(losses.slice(0, 10));
    const tail = mean(losses.slice(-10));
    t.diagnostic(`${ex.id}: ${losses.length} steps, loss ${head.toFixed(3)} (first 10) -> ${tail.toFixed(3)} (last 10); eval ${evals.map((e) => e.toFixed(3)).join(' ')}`);
    assert.ok(tail < head, `${ex.id}: the learning curve falls (${head} -> ${tail})`);
    assert.ok(evals[evals.length - 1] < evals[0], `${ex.id}: the held-out loss falls (${evals})`);

    assert.equal(await page.inputValue('#try-input'), ex.suggestedPrompt, 'the example fills "Try it"');
    await page.click('#try-run');
    await waitState('gen', 'done', 120_000);
    const out = await page.evaluate(() => ({ ...window.__softprompt.outputs }));
    if (ex.id === 'stories') {
      // the page's defaults on this example are the shipped example adapter's README command:
      // the studio makes the same file, bit for bit
      const two = new Promise((resolve) => {
        const got = [];
        const on = (d) => { got.push(d); if (got.length === 2) { page.off('download', on); resolve(got); } };
        page.on('download', on);
      });
      await page.click('#export-btn');
      const downloads = await two; // adapter_config.json and adapter_model.safetensors
      const st = downloads.find((d) => d.suggestedFilename() === 'adapter_model.safetensors');
      assert.ok(st, `Export gave ${downloads.map((d) => d.suggestedFilename())}`);
      const made = fs.readFileSync(await st.path());
      const shipped = fs.readFileSync(path.join(ROOT, 'web', 'examples', 'max-the-dog', 'adapter_model.safetensors'));
      assert.ok(Buffer.from(made).equals(shipped), 'the studio\'s "Stories about Max the dog" prompt is web/examples/max-the-dog, bit for bit');
    }
    t.diagnostic(`${ex.id}: plain ${JSON.stringify(out.plain.slice(0, 80))} | prompted ${JSON.stringify(out.prompt.slice(0, 80))}`);
    assert.notEqual(out.prompt, out.plain, `${ex.id}: the prompt changes the output`);
    assert.ok(promise.check(out.prompt), `${ex.id}: the prompted output is ${promise.what}: ${JSON.stringify(out.prompt)}`);
    assert.ok(!promise.check(out.plain), `${ex.id}: the plain model does not already do it: ${JSON.stringify(out.plain)}`);
    for (const side of [out.plain, out.prompt]) assert.ok(!side.includes('\uFFFD'), `${ex.id}: no U+FFFD in ${JSON.stringify(side)}`);
    await page.locator('#try').screenshot({ path: path.join(OUT, `${ex.id}-try-it.png`) });
    await page.locator('#train').screenshot({ path: path.join(OUT, `${ex.id}-train.png`) }); // the curve, and "% right" where shown
    a11y.push(...await axeProblems(page, `${ex.id}: trained and compared`));
    // "% right" only for the label task, with its count
    const evalText = await page.locator('#st-eval').innerText();
    if (ex.id === 'happy-or-sad') assert.match(evalText, /% right \(of 8\)/);
    else assert.doesNotMatch(evalText, /right/);
    const summary = await page.locator('#data-summary').innerText();
    if (ex.id === 'happy-or-sad') assert.match(summary, /labels: "happy", "sad"|labels: "sad", "happy"/);
    else assert.doesNotMatch(summary, /labels/);
  }

  // a model too small for the tasks: the page says so and offers the one that learns them
  await page.fill('#model-url', '/models/stories260K/stories260K.gguf');
  await page.click('#model-load');
  await page.waitForFunction(() => window.__softprompt.model?.vocab_size === 512, null, { timeout: 120_000 });
  await waitState('model', 'loaded');
  // the last run's curve and texts belonged to the previous model: they go, and the note says so
  assert.equal(await page.locator('#out-prompt').innerText(), '', '"Try it" forgets the previous model\'s texts');
  assert.equal(await page.locator('#st-step').innerText(), '–');
  assert.equal(await page.locator('#chance-loss').innerText(), '6.2', 'a blind guess among stories260K\'s 512 tokens: ln 512');
  assert.equal(JSON.parse(await page.locator('#loss-chart').getAttribute('data-train-losses')).length, 0, 'the chart is empty');
  assert.match(await page.locator('#train-note').innerText(), /trained a prompt for TinyStories-656K-Q8_0; a prompt only fits the model it was trained on.*Start trains one for stories260K/);
  await page.click('button[data-example="who-was-it"]');
  await waitState('advice', 'shown');
  assert.match(await page.locator('#task-advice').innerText(), /stories260K is too small to learn this task.*TinyStories-656K learns it/s);
  await page.locator('#train').screenshot({ path: path.join(OUT, 'advice-small-model.png') });
  a11y.push(...await axeProblems(page, 'advice for a small model'));
  await page.click('#advice-load');
  await page.waitForFunction(() => window.__softprompt.model?.vocab_size === 2048, null, { timeout: 120_000 });
  await waitState('advice', 'none');
  await page.click('button[data-example="stories"]');
  await waitState('advice', 'none'); // a story style is what the small model does learn
  assert.deepEqual(a11y, [], `axe-core: serious or critical violations:\n${JSON.stringify(a11y, null, 1)}`);
  assert.deepEqual(problems, []);
});
