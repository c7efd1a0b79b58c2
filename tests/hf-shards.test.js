// hf-shards.test.js - a sharded Hugging Face checkpoint (model.safetensors.index.json and the
// shards it names) through the public API's load paths, as users give folders: a Node folder path,
// {files} of Blobs (the studio's folder picker), and a folder URL whose server has no
// model.safetensors (the worker falls back to the index and fetches the shards beside it). Each
// gives the same greedy logits as the single-file copy; a shard missing is an error naming it.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Softprompt } from '../web/softprompt.js';
import { makeTinyArch } from './lib/tiny-arch.js';

const one = makeTinyArch('qwen3', { seed: 51 });
const three = makeTinyArch('qwen3', { seed: 51, shards: 3 });
const common = { 'config.json': three.hf.configJson, 'tokenizer.json': three.hf.tokenizerJson };
const shardNames = Object.keys(three.hf.files).filter((n) => /^model-.*\.safetensors$/.test(n));

let sp;
let tmp;
let expected;

function writeFolder(name, files) {
  const dir = join(tmp, name);
  mkdirSync(dir);
  for (const [n, data] of Object.entries(files)) writeFileSync(join(dir, n), data);
  return dir;
}

/** Greedy ids and the first logits of a loaded model on a fixed prompt. */
async function run(model) {
  const r = await model.generate([1, 5, 9], { maxTokens: 6, temperature: 0, stopAtEos: false });
  await model.free();
  return r.tokens;
}

before(async () => {
  sp = await Softprompt.create({ worker: true, threads: 1 });
  tmp = mkdtempSync(join(tmpdir(), 'sp-shards-'));
  expected = await run(await sp.loadModel(writeFolder('one', { ...common, 'model.safetensors': one.hf.files['model.safetensors'] })));
});
after(() => {
  sp?.terminate();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test('shards: a Node folder with model.safetensors.index.json loads its shards', async () => {
  assert.equal(shardNames.length, 3);
  const dir = writeFolder('three', { ...common, ...three.hf.files });
  const m = await sp.loadModel(dir);
  assert.equal(m.info.arch, 'qwen3');
  assert.deepEqual(await run(m), expected);
  // a shard missing from the folder: named
  const gap = writeFolder('gap', { ...common, ...three.hf.files });
  rmSync(join(gap, shardNames[1]));
  await assert.rejects(sp.loadModel(gap), (e) => e.code === 'SP_ERR_IO' && e.message.includes(shardNames[1]));
});

test('shards: {files} of Blobs (a folder picked in the page) with the index and its shards', async () => {
  const files = {};
  for (const [n, data] of Object.entries({ ...common, ...three.hf.files })) files[n] = new Blob([data]);
  assert.deepEqual(await run(await sp.loadModel({ files })), expected);
  const { [shardNames[2]]: _, ...less } = files;
  await assert.rejects(sp.loadModel({ files: less }), (e) => e.code === 'SP_ERR_INVALID_ARG' && e.message.includes(shardNames[2]));
});

test('shards: a folder URL without model.safetensors falls back to the index and downloads the shards', async () => {
  const served = { ...common, ...three.hf.files };
  const asked = [];
  const server = createServer((req, res) => {
    const name = decodeURIComponent(req.url.replace(/^\/m\//, ''));
    asked.push(name);
    if (!(name in served)) {
      res.writeHead(404).end('not found');
      return;
    }
    const body = Buffer.from(served[name]);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) }).end(body);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  try {
    const m = await sp.loadModel(`http://127.0.0.1:${server.address().port}/m/`);
    assert.deepEqual(await run(m), expected);
    assert.ok(asked.includes('model.safetensors') && asked.includes('model.safetensors.index.json'), asked.join(', '));
    for (const n of shardNames) assert.ok(asked.includes(n), n);
  } finally {
    server.closeAllConnections?.();
    await new Promise((r) => server.close(r));
  }
});
