// privacy.test.js - the library makes no network request except fetching the model URL it was given.
//
// A child Node process runs a whole session (tests/lib/privacy-flow.mjs: load from a URL, generate,
// preview, tune with eval and checkpoints, save/load the prompt, nearest, evaluate) with
// tests/lib/net-spy.mjs preloaded in every thread: it records fetch, XMLHttpRequest, WebSocket,
// EventSource, navigator.sendBeacon, http(s).request/get and every socket connect. Both with the
// engine in worker_threads and in the same thread. The local server's own log must hold only the
// model file too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';

import { startServer } from '../scripts/serve.js';
import { modelPath, repoRoot } from './lib/paths.js';

modelPath('stories260K/stories260K.gguf'); // fail (not skip) when the shared model is missing

function runFlow(url, mode) {
  const root = repoRoot();
  const child = spawn(process.execPath, ['--import', join(root, 'tests', 'lib', 'net-spy.mjs'), join(root, 'tests', 'lib', 'privacy-flow.mjs'), url, mode],
    { cwd: root, env: { ...process.env, NODE_OPTIONS: '' } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  return new Promise((resolve) => child.on('exit', (code) => resolve({ code, stdout, stderr })));
}

for (const mode of ['worker', 'inline']) {
  test(`privacy (${mode}): only the model URL is requested during load, generate and tune`, { timeout: 900_000 }, async () => {
    const server = await startServer({ port: 0, host: '127.0.0.1', quiet: true });
    try {
      const path = '/models/stories260K/stories260K.gguf';
      const url = `http://127.0.0.1:${server.port}${path}`;
      const r = await runFlow(url, mode);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).ok, true);
      const spy = r.stderr.split('\n').filter((l) => l.startsWith('NETSPY ')).map((l) => l.split(' '));
      const ready = spy.filter(([, , kind]) => kind === 'ready').map(([, who]) => who);
      assert.ok(ready.includes('main'), 'the spy ran in the main thread');
      if (mode === 'worker') assert.ok(ready.some((w) => w.startsWith('worker')), 'the spy ran in the engine worker');
      const attempts = spy.filter(([, , kind]) => kind !== 'ready');
      const fetches = attempts.filter(([, , kind]) => kind === 'fetch');
      assert.deepEqual(fetches.map(([, , , target]) => target), [url], 'exactly one fetch: the model');
      for (const [, who, kind, target] of attempts) {
        if (kind === 'fetch') continue;
        assert.equal(kind, 'socket', `no ${kind} (${target}) from ${who}`);
        assert.equal(target, `127.0.0.1:${server.port}`, `a socket only to the local server (${who})`);
      }
      assert.deepEqual(server.requests.map((q) => `${q.method} ${q.url}`), [`GET ${path}`], 'the server saw only the model download');
    } finally {
      await server.close();
    }
  });
}
