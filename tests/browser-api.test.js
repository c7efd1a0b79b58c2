// browser-api.test.js - the public JS API (web/softprompt.js) in a real browser (Debian chromium,
// headless, playwright-core), served by scripts/serve.js: the engine in a module Web Worker,
// threaded on the cross-origin-isolated page and single-threaded (with the reason) without the
// COOP/COEP headers; the llama2.c golden; streaming and AbortSignal; an HF folder by URL; the
// Cache API option; embeddings; the benchmark through the worker; and no request leaving the local server.
// Chromium: /usr/bin/chromium (or SP_CHROMIUM); the test FAILS, never skips, when it is missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';

import { startServer } from '../scripts/serve.js';
import { Softprompt } from '../web/softprompt.js';
import { modelPath } from './lib/paths.js';

import { CHROMIUM, CHROMIUM_ARGS, openBrowser } from './lib/browser.js';
const GOLDEN = JSON.parse(readFileSync(modelPath('stories260K/expected_greedy.json'), 'utf8')).greedy_64;
const HF_GOLDEN = JSON.parse(readFileSync(modelPath('TinyStories-656K/expected_greedy.json'), 'utf8'))['Once upon a time'];

test('browser api: worker engine, threads with isolation, golden, abort, HF URL, cache, bench, privacy', { timeout: 900_000 }, async (t) => {
  assert.ok(existsSync(CHROMIUM), `chromium is not installed at ${CHROMIUM}: apt-get install chromium (scripts/setup.sh does) or set SP_CHROMIUM`);
  const { chromium } = await import('playwright-core');
  const server = await startServer({ port: 0, host: '127.0.0.1', quiet: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  t.after(async () => {
    await browser.close().catch(() => {});
    await server.close();
  });
  const origin = new URL(server.url).origin;
  const nodeSp = await Softprompt.create({ worker: false, threads: 1 });
  t.after(() => nodeSp.terminate());
  const nodeModel = await nodeSp.loadModel(modelPath('stories260K/stories260K.gguf'));

  for (const isolated of [true, false]) {
    const context = await browser.newContext();
    const page = await context.newPage();
    const requests = [];
    const errors = [];
    context.on('request', (r) => requests.push(r.url()));
    page.on('pageerror', (e) => errors.push(e.message));
    if (!isolated) {
      await page.route('**/*', async (route) => {
        const res = await route.fetch();
        const headers = { ...res.headers() };
        delete headers['cross-origin-opener-policy'];
        delete headers['cross-origin-embedder-policy'];
        await route.fulfill({ response: res, headers });
      });
    }
    // any page of the server will do as the document; the API is imported into it
    await page.goto(`${server.url}softprompt.d.ts`);
    const r = await page.evaluate(async ({ prompt, n }) => {
      const { Softprompt, threadsAvailable, SoftpromptError } = await import('/softprompt.js');
      const out = { isolated: globalThis.crossOriginIsolated, threadsAvailable: threadsAvailable() };
      const sp = await Softprompt.create();
      out.info = sp.info;
      const progress = [];
      const model = await sp.loadModel('/models/stories260K/stories260K.gguf', { cache: true, onProgress: (p) => progress.push(p) });
      out.progress = progress.map((p) => p.status);
      out.total = progress[0].total;
      let streamed = '';
      const gen = model.generate(prompt, { maxTokens: n, temperature: 0 });
      for await (const piece of gen) streamed += piece;
      out.streamed = streamed;
      out.tokens = (await gen).tokens;
      const ac = new AbortController();
      let k = 0;
      try {
        await model.generate('Once', { maxTokens: 1500, stopAtEos: false, signal: ac.signal, onToken: () => { if (++k === 3) ac.abort(); } });
      } catch (e) {
        out.abort = { isError: e instanceof SoftpromptError, code: e.code, tokens: k };
      }
      out.after = (await model.generate(prompt, { maxTokens: 5, temperature: 0 })).tokens;
      const hf = await sp.loadModel('/models/TinyStories-656K/');
      out.hf = (await hf.generate('Once upon a time', { maxTokens: 8, temperature: 0 })).tokens;
      const job = model.tune({ data: 'Once upon a time there was a dog.\n\nThe cat sat on the mat.\n\nA bird sang in a tree.', steps: 3, virtualTokens: 4, maxLength: 32, evalSplit: 0 });
      const steps = [];
      job.on('progress', (s) => steps.push(s.step));
      const res = await job.done;
      out.steps = steps;
      const files = await res.adapter.save();
      out.peft = JSON.parse(files.config).peft_type;
      const emb = await model.embed(prompt);
      out.embed = { isF32: emb instanceof Float32Array, values: Array.from(emb), withAdapter: Array.from(await model.embed(prompt, { adapter: res.adapter })) };
      const b = await sp.bench({ seconds: 0.02, promptTokens: 16, decodeTokens: 8, trainBatch: 2, trainTokens: 16 });
      out.bench = { threads: b.threads, ok: b.prefillTokS > 0 && b.decodeTokS > 0 && b.trainTokS > 0 && b.peakGflops > 0 };
      out.cached = (await (await caches.open('softprompt-models')).keys()).map((q) => new URL(q.url).pathname);
      sp.terminate();
      try { await model.tokenize('x'); } catch (e) { out.terminated = e.code; }
      return out;
    }, { prompt: GOLDEN.prompt, n: GOLDEN.generated_ids.length });

    assert.equal(r.isolated, isolated);
    assert.equal(r.threadsAvailable, isolated);
    assert.equal(r.info.mode, 'worker');
    assert.equal(r.info.threaded, isolated);
    if (isolated) assert.ok(r.info.threads >= 2);
    else assert.match(r.info.singleThreadReason, /cross-origin isolated/);
    assert.equal(r.progress.at(-1), 'done');
    assert.ok(r.progress.includes('download'));
    assert.equal(r.total, 1185376);
    assert.deepEqual(r.tokens, GOLDEN.generated_ids);
    assert.equal(GOLDEN.prompt + r.streamed + '\n', GOLDEN.stdout);
    assert.deepEqual(r.abort && { ...r.abort, tokens: r.abort.tokens < 1500 }, { isError: true, code: 'SP_ERR_ABORTED', tokens: true });
    assert.deepEqual(r.after, GOLDEN.generated_ids.slice(0, 5));
    assert.deepEqual(r.hf, HF_GOLDEN.f32_greedy_new_ids_64.slice(0, 8));
    assert.deepEqual(r.steps, [1, 2, 3]);
    assert.equal(r.peft, 'PROMPT_TUNING');
    // embeddings through the browser worker: what the engine gives in Node (tested against the float64 reference)
    assert.ok(r.embed.isF32);
    const inNode = Array.from(await nodeModel.embed(GOLDEN.prompt));
    assert.equal(r.embed.values.length, inNode.length);
    assert.ok(r.embed.values.every((v, i) => Math.abs(v - inNode[i]) < 1e-6), 'the same embedding as in Node');
    assert.ok(r.embed.withAdapter.some((v, i) => Math.abs(v - inNode[i]) > 1e-4), 'the adapter changes it');
    assert.deepEqual(r.bench, { threads: isolated ? r.info.threads : 1, ok: true });
    // downloads are cached by default: the GGUF and the HF folder's three files
    assert.deepEqual(r.cached.sort(), ['/models/TinyStories-656K/config.json', '/models/TinyStories-656K/model.safetensors',
      '/models/TinyStories-656K/tokenizer.json', '/models/stories260K/stories260K.gguf']);
    assert.equal(r.terminated, 'SP_ERR_WORKER');
    assert.deepEqual(errors, []);
    const foreign = requests.filter((u) => !u.startsWith('blob:') && !u.startsWith('data:') && new URL(u).origin !== origin);
    assert.deepEqual(foreign, [], 'no request to any other origin');
    const models = requests.filter((u) => u.includes('/models/')).map((u) => new URL(u).pathname);
    // an HF folder URL also reads its tokenizer_config.json and generation_config.json (chat template, end-of-turn ids)
    assert.deepEqual([...new Set(models)].sort(), ['/models/TinyStories-656K/config.json', '/models/TinyStories-656K/generation_config.json',
      '/models/TinyStories-656K/model.safetensors', '/models/TinyStories-656K/tokenizer.json',
      '/models/TinyStories-656K/tokenizer_config.json', '/models/stories260K/stories260K.gguf'], 'only the models asked for');
    await context.close();
  }
});

test('browser api: Softprompt.create({ worker }) takes an app-made Worker, a worker URL, or its string; a bad URL names itself', { timeout: 600_000 }, async (t) => {
  const { context, base } = await openBrowser(t);
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`${base}softprompt.d.ts`);
  const r = await page.evaluate(async ({ prompt, n }) => {
    const { Softprompt } = await import('/softprompt.js');
    const out = {};
    const app = new Worker(new URL('/worker.js', location.href), { type: 'module', name: 'app-made' });
    for (const [what, worker] of [['Worker', app], ['URL', new URL('/worker.js', location.href)], ['string', '/worker.js']]) {
      const sp = await Softprompt.create({ worker, threads: 1 });
      const model = await sp.loadModel('/models/stories260K/stories260K.gguf', { cache: false });
      out[what] = { mode: sp.info.mode, tokens: (await model.generate(prompt, { maxTokens: n, temperature: 0 })).tokens };
      sp.terminate();
    }
    try {
      await Softprompt.create({ worker: '/no-such-worker.js' });
    } catch (e) {
      out.bad = { code: e.code, message: e.message };
    }
    try {
      await Softprompt.create({ worker: { postMessage: 1 } });
    } catch (e) {
      out.notWorker = { code: e.code, message: e.message };
    }
    return out;
  }, { prompt: GOLDEN.prompt, n: 8 });
  for (const what of ['Worker', 'URL', 'string']) {
    assert.deepEqual(r[what], { mode: 'worker', tokens: GOLDEN.generated_ids.slice(0, 8) }, `an app's ${what}`);
  }
  assert.equal(r.bad?.code, 'SP_ERR_WORKER');
  assert.match(r.bad.message, /no-such-worker\.js/, 'the error names the worker URL');
  assert.equal(r.notWorker?.code, 'SP_ERR_INVALID_ARG');
  assert.deepEqual(errors, []);
});
