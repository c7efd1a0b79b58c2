// cache.test.js - model downloads: hub ids resolved to Hugging Face URLs, interrupted downloads
// resumed with Range requests, and (in Chromium) the browser's model cache: cached by default,
// keyed by URL and checked by Last-Modified/ETag, in the Cache API or OPFS, with sp.cache.list(),
// has(), delete() and clear(). No network: a local server plays the hub.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';

import { Softprompt, hfUrl, ErrorCodes } from '../web/softprompt.js';
import { validators, isCurrent } from '../web/cache.js';
import { modelPath } from './lib/paths.js';
import { CHROMIUM, CHROMIUM_ARGS, assertBrowserReady } from './lib/browser.js';

const STORIES = modelPath('stories260K/stories260K.gguf');
const BYTES = fs.readFileSync(STORIES);
const GOLDEN = JSON.parse(fs.readFileSync(modelPath('stories260K/expected_greedy.json'), 'utf8')).greedy_64;
const ETAG = '"stories-v1"';

/** A server for /acme/stories/resolve/<rev>/stories260K.gguf. cut: the first GET stops after that
 *  many bytes (the socket is destroyed); ranges: whether it answers Range requests with 206. */
function hub({ cut = 0, ranges = true } = {}) {
  const log = [];
  let gets = 0;
  const server = http.createServer((req, res) => {
    log.push({ method: req.method, url: req.url, range: req.headers.range, ifRange: req.headers['if-range'] });
    if (!/^\/acme\/stories\/resolve\/(main|v1)\/stories260K\.gguf$/.test(req.url)) {
      res.writeHead(404).end();
      return;
    }
    const headers = { 'Content-Type': 'application/octet-stream', ETag: ETAG };
    if (ranges) headers['Accept-Ranges'] = 'bytes';
    const m = /^bytes=(\d+)-$/.exec(req.headers.range || '');
    if (m && ranges && req.headers['if-range'] === ETAG) {
      const from = Number(m[1]);
      res.writeHead(206, { ...headers, 'Content-Length': BYTES.length - from, 'Content-Range': `bytes ${from}-${BYTES.length - 1}/${BYTES.length}` });
      res.end(BYTES.subarray(from));
      return;
    }
    res.writeHead(200, { ...headers, 'Content-Length': BYTES.length });
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (cut && gets++ === 0) {
      // the bytes, then the end of the connection (after them, so the client has exactly `cut`)
      res.write(BYTES.subarray(0, cut));
      res.socket.end();
      return;
    }
    res.end(BYTES);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, log, base: `http://127.0.0.1:${server.address().port}` })));
}

test('hub ids: {hf, file, revision} resolve to the Hugging Face URL', () => {
  assert.equal(hfUrl('HuggingFaceTB/SmolLM2-135M-Instruct', 'model.Q8_0.gguf'),
    'https://huggingface.co/HuggingFaceTB/SmolLM2-135M-Instruct/resolve/main/model.Q8_0.gguf');
  assert.equal(hfUrl('Qwen/Qwen3-0.6B-GGUF', 'sub dir/Qwen3-0.6B-Q8_0.gguf', { revision: 'refs/pr/1' }),
    'https://huggingface.co/Qwen/Qwen3-0.6B-GGUF/resolve/refs%2Fpr%2F1/sub%20dir/Qwen3-0.6B-Q8_0.gguf');
  assert.equal(hfUrl('a/b', 'c.gguf', { endpoint: 'http://mirror.local/' }), 'http://mirror.local/a/b/resolve/main/c.gguf');
  for (const [repo, file] of [['noslash', 'x.gguf'], ['a/b/c', 'x.gguf'], ['../b', 'x.gguf'], ['a/b', '../x.gguf'], ['a/b', '']]) {
    assert.throws(() => hfUrl(repo, file), (e) => e.code === ErrorCodes.SP_ERR_INVALID_ARG, `${repo} ${file}`);
  }
});

test('cache validators: the same ETag (else Last-Modified) means the cached copy is current', () => {
  const h = (o) => new Headers(o);
  const entry = { etag: ETAG, lastModified: 'Wed, 02 Dec 2026 10:00:00 GMT' };
  assert.ok(isCurrent(entry, validators(h({ etag: ETAG }))));
  assert.ok(!isCurrent(entry, validators(h({ etag: '"v2"', 'last-modified': entry.lastModified }))), 'a new ETag wins');
  assert.ok(isCurrent({ etag: null, lastModified: entry.lastModified }, validators(h({ 'last-modified': entry.lastModified }))));
  assert.ok(!isCurrent({ etag: null, lastModified: null }, validators(h({}))), 'nothing to compare: download again');
});

test('hub source loads through the local hub; the repo id is the adapter base model; a cut download resumes with Range', async () => {
  const h = await hub({ cut: 100_000 });
  const sp = await Softprompt.create({ worker: false, threads: 1 });
  try {
    const progress = [];
    const model = await sp.loadModel({ hf: 'acme/stories', file: 'stories260K.gguf', revision: 'v1', endpoint: h.base }, { onProgress: (p) => progress.push(p) });
    const gets = h.log.filter((r) => r.method === 'GET');
    assert.equal(gets.length, 2, 'the cut download and one resumed request');
    assert.equal(gets[0].url, '/acme/stories/resolve/v1/stories260K.gguf');
    assert.equal(gets[1].range, 'bytes=100000-', 'resumed where it stopped');
    assert.equal(gets[1].ifRange, ETAG, 'only if the file is the same');
    assert.equal(progress.at(-1).loaded, BYTES.length);
    const r = await model.generate(GOLDEN.prompt, { maxTokens: GOLDEN.num_generated, temperature: 0 });
    assert.deepEqual(r.tokens, GOLDEN.generated_ids, 'the resumed file is the file: the golden output');
    const { adapter } = await model.tune({ data: '{"text":"Once upon a time there was a dog."}\n{"text":"A cat sat."}', virtualTokens: 2, steps: 1, evalSplit: 0 }).done;
    const { config } = await adapter.save();
    assert.equal(JSON.parse(config).base_model_name_or_path, 'acme/stories');
  } finally {
    sp.terminate();
    h.server.close();
  }
});

test('a cut download from a server without ranges fails with SP_ERR_NETWORK naming the bytes, and nothing leaks', async () => {
  const h = await hub({ cut: 100_000, ranges: false });
  const sp = await Softprompt.create({ worker: false, threads: 1 });
  try {
    const used = (await sp.memory()).heapUsed;
    await assert.rejects(sp.loadModel({ hf: 'acme/stories', file: 'stories260K.gguf', endpoint: h.base }),
      (e) => e.code === ErrorCodes.SP_ERR_NETWORK && /failed after 100000 of \d+ bytes/.test(e.message));
    assert.equal((await sp.memory()).heapUsed, used);
    await assert.rejects(sp.cache.list(), (e) => e.code === ErrorCodes.SP_ERR_UNSUPPORTED, 'no model cache under Node');
  } finally {
    sp.terminate();
    h.server.close();
  }
});

test('browser model cache: on by default, checked by Last-Modified, Cache API and OPFS, list/has/delete/clear', { timeout: 180_000 }, async (t) => {
  assertBrowserReady();
  const { chromium } = await import('playwright-core');
  const { startServer } = await import('../scripts/serve.js');
  const server = await startServer({ port: 0, host: '127.0.0.1', quiet: true });
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  t.after(async () => {
    await browser.close().catch(() => {});
    await server.close();
  });
  const context = await browser.newContext();
  const page = await context.newPage();
  const requests = [];
  context.on('request', (r) => requests.push(`${r.method()} ${new URL(r.url()).pathname}`));
  await page.goto(`${server.url}softprompt.d.ts`);
  const r = await page.evaluate(async () => {
    const { Softprompt, modelCache } = await import('/softprompt.js');
    const sp = await Softprompt.create({ threads: 1 });
    const url = '/models/stories260K/stories260K.gguf';
    const abs = new URL(url, location.href).href;
    const statuses = async (opts) => {
      const p = [];
      const m = await sp.loadModel(url, { ...opts, onProgress: (x) => p.push(x.status) });
      await m.free();
      return [...new Set(p)];
    };
    const out = { same: sp.cache === modelCache, cleared0: await sp.cache.clear() };
    out.first = await statuses({});
    out.hasAfterFirst = await sp.cache.has(url);
    out.list1 = await sp.cache.list();
    out.second = await statuses({});
    out.opfsFirst = await statuses({ cache: 'opfs' });
    out.opfsSecond = await statuses({ cache: 'opfs' });
    out.list2 = (await sp.cache.list()).map((e) => e.store).sort();
    out.deleted = await sp.cache.delete(abs);
    out.hasAfterDelete = await sp.cache.has(url);
    out.deletedAgain = await sp.cache.delete(url);
    out.none = await statuses({ cache: false });
    out.listNone = (await sp.cache.list()).length;
    await statuses({});
    out.cleared = await sp.cache.clear();
    out.listEnd = (await sp.cache.list()).length;
    sp.terminate();
    return out;
  });
  const size = fs.statSync(STORIES).size;
  assert.equal(r.same, true);
  assert.deepEqual(r.first, ['download', 'load', 'done']);
  assert.equal(r.hasAfterFirst, true, 'cached by default');
  assert.equal(r.list1.length, 1);
  assert.equal(r.list1[0].size, size);
  assert.equal(r.list1[0].store, 'cache');
  assert.ok(r.list1[0].lastModified, 'the validator is kept');
  assert.ok(r.list1[0].url.endsWith('/models/stories260K/stories260K.gguf'));
  assert.deepEqual(r.second, ['read', 'load', 'done'], 'the second load reads the cache');
  assert.deepEqual(r.opfsFirst, ['download', 'load', 'done']);
  assert.deepEqual(r.opfsSecond, ['read', 'load', 'done'], 'OPFS keeps it too');
  assert.deepEqual(r.list2, ['cache', 'opfs']);
  assert.equal(r.deleted, true);
  assert.equal(r.hasAfterDelete, false);
  assert.equal(r.deletedAgain, false);
  assert.deepEqual(r.none, ['download', 'load', 'done']);
  assert.equal(r.listNone, 0, 'cache: false stores nothing');
  assert.equal(r.cleared, 1);
  assert.equal(r.listEnd, 0);
  // a cached load still asks the server whether the file changed (HEAD), and downloads nothing
  const model = '/models/stories260K/stories260K.gguf';
  const heads = requests.filter((q) => q === `HEAD ${model}`).length;
  const gets = requests.filter((q) => q === `GET ${model}`).length;
  assert.equal(heads, 2, 'one HEAD per cached load (Cache API and OPFS)');
  assert.equal(gets, 4, 'downloads: the first, the first into OPFS, cache: false, the one after delete; no other');
});
