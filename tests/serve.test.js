// serve.test.js - scripts/serve.js, the server of `npm start`: cross-origin isolation headers on
// every response, MIME types, the three mounts (/, /wasm/, /models/), no directory traversal or
// dotfiles, GET/HEAD only, and PORT handling with the printed URL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, symlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import http from 'node:http';

import { startServer } from '../scripts/serve.js';
import { modelPath, repoRoot } from './lib/paths.js';

const STORIES = modelPath('stories260K/stories260K.gguf');

// A fake repo: web/, wasm/, a secret next to them, and a models folder.
const ROOT = mkdtempSync(join(tmpdir(), 'softprompt-serve-'));
mkdirSync(join(ROOT, 'web', 'sub'), { recursive: true });
mkdirSync(join(ROOT, 'wasm'));
mkdirSync(join(ROOT, 'models', 'm'), { recursive: true });
writeFileSync(join(ROOT, 'web', 'index.html'), '<!doctype html><title>x</title>');
writeFileSync(join(ROOT, 'web', 'app.js'), 'export {};');
writeFileSync(join(ROOT, 'web', 'style.css'), 'body{}');
writeFileSync(join(ROOT, 'web', 'data.json'), '{}');
writeFileSync(join(ROOT, 'web', '.hidden'), 'no');
writeFileSync(join(ROOT, 'web', 'sub', 'index.html'), 'sub');
writeFileSync(join(ROOT, 'wasm', 'softprompt.wasm'), Buffer.from([0, 97, 115, 109, 1, 0, 0, 0]));
writeFileSync(join(ROOT, 'wasm', 'softprompt.js'), 'var createSoftprompt;');
writeFileSync(join(ROOT, 'secret.txt'), 'secret');
writeFileSync(join(ROOT, 'models', 'm', 'tiny.gguf'), 'GGUF');
symlinkSync(join(ROOT, 'secret.txt'), join(ROOT, 'web', 'link.txt'));

let S;
test.before(async () => {
  S = await startServer({ port: 0, host: '127.0.0.1', root: ROOT, modelsDir: join(ROOT, 'models'), quiet: true });
});
test.after(async () => {
  await S?.close();
  rmSync(ROOT, { recursive: true, force: true });
});

/** A raw request (no URL normalisation by the client). */
function get(path, method = 'GET', port = S.port) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

function assertIsolated(r) {
  assert.equal(r.headers['cross-origin-opener-policy'], 'same-origin');
  assert.equal(r.headers['cross-origin-embedder-policy'], 'require-corp');
  assert.equal(r.headers['cross-origin-resource-policy'], 'same-origin');
}

test('serve: pages, scripts, wasm and models with their MIME types and isolation headers', async () => {
  const cases = [
    ['/', 'text/html; charset=utf-8', '<!doctype html><title>x</title>'],
    ['/index.html', 'text/html; charset=utf-8'],
    ['/app.js', 'text/javascript; charset=utf-8', 'export {};'],
    ['/style.css', 'text/css; charset=utf-8'],
    ['/data.json', 'application/json'],
    ['/sub/', 'text/html; charset=utf-8', 'sub'],
    ['/wasm/softprompt.wasm', 'application/wasm'],
    ['/wasm/softprompt.js', 'text/javascript; charset=utf-8'],
    ['/models/m/tiny.gguf', 'application/octet-stream', 'GGUF'],
  ];
  for (const [path, type, body] of cases) {
    const r = await get(path);
    assert.equal(r.status, 200, path);
    assert.equal(r.headers['content-type'], type, path);
    assert.equal(Number(r.headers['content-length']), r.body.length, path);
    assertIsolated(r);
    if (body !== undefined) assert.equal(r.body.toString(), body, path);
  }
  // HEAD: headers, no body; Range is ignored (always the whole file)
  const h = await get('/wasm/softprompt.wasm', 'HEAD');
  assert.equal(h.status, 200);
  assert.equal(h.body.length, 0);
  assert.equal(h.headers['content-length'], '8');
  const ranged = await new Promise((resolve) => {
    http.get({ host: '127.0.0.1', port: S.port, path: '/app.js', headers: { Range: 'bytes=0-1' } }, (res) => {
      let b = '';
      res.on('data', (c) => { b += c; });
      res.on('end', () => resolve({ status: res.statusCode, body: b }));
    });
  });
  assert.deepEqual(ranged, { status: 200, body: 'export {};' });
});

test('serve: no traversal, no dotfiles, no listings, no symlinks out, GET/HEAD only', async () => {
  for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/models/../../secret.txt', '/models/%2e%2e/%2e%2e/secret.txt',
    '/wasm/..%2f..%2fsecret.txt', '/.hidden', '/%2ehidden', '/sub/..%5c..%5csecret.txt', '/link.txt', '/models/m/', '/nothing', '/models/none.gguf',
    '/app.js%00.html']) {
    const r = await get(path);
    assert.ok(r.status === 404 || r.status === 400, `${path}: ${r.status}`);
    assert.ok(!r.body.toString().includes('secret'), path);
    assertIsolated(r);
  }
  const post = await get('/', 'POST');
  assert.equal(post.status, 405);
  assert.equal(post.headers.allow, 'GET, HEAD');
  const redirect = await get('/wasm');
  assert.equal(redirect.status, 301);
  assert.equal(redirect.headers.location, '/wasm/');
});

test('serve: the real repo serves the page, the JS API and the shared models', async () => {
  const s = await startServer({ port: 0, host: '127.0.0.1', quiet: true });
  try {
    const page = await get('/', 'GET', s.port);
    assert.equal(page.status, 200);
    assert.match(page.body.toString(), /<html|<!doctype/i);
    for (const f of ['/softprompt.js', '/worker.js', '/engine.js']) assert.equal((await get(f, 'HEAD', s.port)).status, 200, f);
    const m = await get('/models/stories260K/stories260K.gguf', 'HEAD', s.port);
    assert.equal(m.status, 200);
    assert.equal(Number(m.headers['content-length']), statSync(STORIES).size);
    assert.ok(s.requests.some((r) => r.url === '/models/stories260K/stories260K.gguf'));
  } finally {
    await s.close();
  }
});

test('serve: `node scripts/serve.js` takes PORT (0 = a free port) and prints the URL', async () => {
  const child = spawn(process.execPath, [join(repoRoot(), 'scripts', 'serve.js')], { env: { ...process.env, PORT: '0' } });
  try {
    const url = await new Promise((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
        const m = /softprompt demo: (http:\/\/localhost:(\d+)\/)/.exec(out);
        if (m) resolve(m);
      });
      child.on('exit', (c) => reject(new Error(`exited ${c}`)));
    });
    const port = Number(url[2]);
    assert.ok(port > 0);
    const r = await get('/', 'GET', port);
    assert.equal(r.status, 200);
    assertIsolated(r);
  } finally {
    child.kill('SIGTERM');
  }
  const bad = spawn(process.execPath, [join(repoRoot(), 'scripts', 'serve.js')], { env: { ...process.env, PORT: 'abc' } });
  let err = '';
  bad.stderr.on('data', (d) => { err += d; });
  const code = await new Promise((resolve) => bad.on('exit', resolve));
  assert.equal(code, 1);
  assert.match(err, /^softprompt serve: error: PORT must be a number/);
});
