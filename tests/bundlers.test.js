// bundlers.test.js - the package as a web developer meets it: `npm pack`, the tarball unpacked into
// a fresh app's node_modules, the README's ten-line example bundled by Vite (build and dev server),
// esbuild, webpack and Rollup, each served with COOP/COEP and the strict CSP `script-src 'self'
// 'wasm-unsafe-eval'; worker-src 'self'`, and run in Chromium: load stories260K, generate, tune,
// save the adapter, load it and generate with it.
// No console error, no CSP violation, no failed or 4xx/5xx request. Also checks what the tarball
// holds (the library, its wasm and its types; no C sources, no studio) and prints its size.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import { CHROMIUM, CHROMIUM_ARGS, assertBrowserReady } from './lib/browser.js';
import { repoRoot, modelPath } from './lib/paths.js';

const ROOT = repoRoot();
const CSP = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; style-src 'self'";
const ISOLATION_HEADERS = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Content-Security-Policy': CSP,
};
const MODEL_DIR = path.dirname(modelPath('stories260K/stories260K.gguf'));
let work;
let tarball;

// The app: the README's ten-line example as written there, inside an async function, with the
// names it leaves to the reader (bar, out, chart, jsonl) defined, and its results put where the
// test can read them.
const README_CODE = (() => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const at = readme.indexOf('## The API in ten lines');
  const m = /```js\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(at >= 0 && m, 'README.md has its ten-line example');
  return m[1];
})();
const README_STEPS = Number(/steps: (\d+)/.exec(README_CODE)[1]);
const STORIES = ['Once upon a time, there was a dog named Max. Max loved the sea.',
  'Once upon a time, a little dog named Max went to the sea with his friend Sue.',
  'Once upon a time, Max the dog saw a boat on the sea.', 'Once upon a time, a dog named Max found a shell by the sea.',
  'Once upon a time, Sue and Max played in the sand.', 'Once upon a time, Max ran after a bird on the beach.',
  'Once upon a time, there was a big boat. Max wanted to go on the boat.', 'Once upon a time, Max was sad. Sue gave him a hug.',
  'Once upon a time, Max and Sue saw a fish in the sea.', 'Once upon a time, the sun was hot and Max slept under a tree.'];
const MAIN = `${README_CODE.split('\n').filter((l) => l.startsWith('import ')).join('\n')}
const DATA = ${JSON.stringify(STORIES.map((text) => JSON.stringify({ text })).join('\n'))};
window.__done = (async () => {
  const out = { textContent: '' }, losses = [], loaded = [];
  const bar = (f) => loaded.push(f), chart = { add: (step, loss) => losses.push(loss) }, jsonl = DATA;
${README_CODE.split('\n').filter((l) => !l.startsWith('import ')).join('\n')}
  sp.terminate();
  return { info: sp.info, before: out.textContent, after: text, steps: losses.length, loaded: loaded.at(-1) };
})().catch((e) => ({ error: String(e && e.stack || e) }));
`;

const HTML = '<!doctype html><meta charset="utf-8"><title>app</title><script type="module" src="./main.js"></script>\n';

const MIME = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.gguf': 'application/octet-stream', '.json': 'application/json' };

/** Serve dir at / and the shared models at /models/, with isolation headers and the CSP. */
function serveApp(dir) {
  const server = http.createServer((req, res) => {
    const u = new URL(req.url, 'http://x');
    const rel = decodeURIComponent(u.pathname);
    const file = rel.startsWith('/models/')
      ? path.join(MODEL_DIR, '..', rel.slice('/models/'.length))
      : path.join(dir, rel.endsWith('/') ? rel + 'index.html' : rel);
    const headers = ISOLATION_HEADERS;
    if (rel === '/favicon.ico') { // asked by the browser itself; an app would have one
      res.writeHead(204, headers);
      res.end();
      return;
    }
    if (file.includes('..' + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404, headers);
      res.end('not found');
      return;
    }
    const body = fs.readFileSync(file);
    res.writeHead(200, { ...headers, 'Content-Type': MIME[path.extname(file)] ?? 'application/octet-stream', 'Content-Length': body.length });
    res.end(body);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/** A fresh app folder with the packed tarball unpacked as node_modules/softprompt. */
function makeApp(name) {
  const dir = path.join(work, name);
  const nm = path.join(dir, 'node_modules');
  fs.mkdirSync(path.join(nm, 'softprompt'), { recursive: true });
  execFileSync('tar', ['-xzf', tarball, '-C', path.join(nm, 'softprompt'), '--strip-components=1']);
  // the package's own dependencies, as npm would install them
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  for (const dep of Object.keys(pkg.dependencies ?? {})) {
    fs.mkdirSync(path.dirname(path.join(nm, dep)), { recursive: true });
    fs.symlinkSync(path.join(ROOT, 'node_modules', dep), path.join(nm, dep));
  }
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `app-${name}`, private: true, type: 'module' }));
  fs.writeFileSync(path.join(dir, 'main.js'), MAIN);
  fs.writeFileSync(path.join(dir, 'index.html'), HTML);
  return dir;
}

/** Serve dist, open the app in Chromium; resolve with its result and everything that went wrong. */
async function runInChromium(dist) {
  const server = await serveApp(dist);
  try {
    return await runPage(`http://127.0.0.1:${server.address().port}/`);
  } finally {
    await new Promise((r) => server.close(r));
  }
}

/** Open the app at base in Chromium; resolve with its result and everything that went wrong. */
async function runPage(base) {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
  const problems = [];
  try {
    const page = await browser.newPage();
    const log = [];
    page.on('console', (m) => {
      log.push(`${m.type()}: ${m.text()}`);
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
    page.on('requestfailed', (r) => problems.push(`request failed: ${r.url()} ${r.failure()?.errorText}`));
    page.on('response', (r) => { if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.url()}`); });
    page.on('worker', (w) => w.on('console', (m) => { if (m.type() === 'error') problems.push(`worker console: ${m.text()}`); }));
    await page.addInitScript(() => {
      document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
    });
    await page.goto(base);
    await page.waitForFunction(() => window.__done !== undefined, null, { timeout: 120_000 });
    // the app's promise: it waits for the end state; a hang is reported with what the page said
    let timer;
    const hang = new Promise((resolve) => {
      timer = setTimeout(() => resolve({ error: `no result after 240 s; page log:\n${log.join('\n')}\n${problems.join('\n')}` }), 240_000);
    });
    const result = await Promise.race([page.evaluate(() => window.__done), hang]);
    clearTimeout(timer);
    return { result, problems };
  } finally {
    await browser.close();
  }
}

function checkRun({ result, problems }, what) {
  assert.ok(!result.error, `${what}: the app failed: ${result.error}`);
  assert.deepEqual(problems, [], `${what}: console errors, CSP violations or failed requests`);
  assert.equal(result.info.mode, 'worker');
  assert.equal(result.info.threaded, true, `${what}: threads under COOP/COEP (${result.info.singleThreadReason})`);
  assert.equal(result.steps, README_STEPS, `${what}: every tuning step reported`);
  assert.equal(result.loaded, 1, `${what}: load progress reached the end`);
  assert.ok(result.before.length > 0 && result.after.length > 0, `${what}: text generated`);
}

before(() => {
  assertBrowserReady();
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'softprompt-bundlers-'));
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: ROOT, encoding: 'utf8' });
  const info = JSON.parse(out)[0];
  tarball = path.join(work, info.filename);
  const files = info.files.map((f) => f.path);
  console.log(`# npm pack: ${info.filename}: ${info.size} bytes packed, ${info.unpackedSize} unpacked, ${files.length} files`);
  fs.writeFileSync(path.join(work, 'files.json'), JSON.stringify(files));
});

after(() => {
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

test('npm pack: the library, its wasm and its types; no C sources, no studio, no tests', () => {
  const files = JSON.parse(fs.readFileSync(path.join(work, 'files.json'), 'utf8'));
  for (const f of ['package.json', 'README.md', 'LICENSE', 'CHANGELOG.md', 'web/softprompt.js', 'web/softprompt.d.ts', 'web/worker.js',
    'web/worker.d.ts', 'web/engine.js', 'wasm/softprompt.wasm', 'wasm/softprompt.mjs', 'wasm/softprompt-mt.wasm', 'wasm/softprompt-mt.js',
    'wasm/softprompt-mt.mjs', 'wasm/softprompt-mt.worker.js', 'wasm/package.json']) {
    assert.ok(files.includes(f), `the tarball holds ${f}`);
  }
  const bad = files.filter((f) => /^(src|tests|scripts|build)\//.test(f) || /\.(c|h)$/.test(f)
    || /^web\/(app\.js|index\.html|embed\.html|style\.css|page\/|examples\/)/.test(f));
  assert.deepEqual(bad, [], 'nothing the library does not need');
});

test('the packed library holds no eval, no new Function, and no node: import on its browser path', () => {
  const dir = makeApp('scan');
  const pkgDir = path.join(dir, 'node_modules', 'softprompt');
  for (const f of [...fs.readdirSync(path.join(pkgDir, 'web'), { recursive: true }).map((f) => `web/${f}`),
    ...fs.readdirSync(path.join(pkgDir, 'wasm')).map((f) => `wasm/${f}`)]) {
    if (!/\.m?js$/.test(f)) continue;
    const src = fs.readFileSync(path.join(pkgDir, f), 'utf8');
    assert.ok(!/(?<![.\w$])eval\s*\(|\bnew\s+Function\b/.test(src), `${f} evaluates text`);
    assert.ok(!/\bimport\s*(\(\s*)?['"]node:|from\s+['"]node:/.test(src), `${f} imports a node: module`);
  }
});

test('Vite: build, then the README example under the strict CSP in Chromium', { timeout: 600_000 }, async () => {
  const dir = makeApp('vite');
  const { build } = await import('vite');
  await build({ root: dir, logLevel: 'warn', configFile: false, build: { outDir: path.join(dir, 'dist') } });
  checkRun(await runInChromium(path.join(dir, 'dist')), 'vite');
});

test('Vite dev server: the README example under the strict CSP in Chromium, no config', { timeout: 600_000 }, async (t) => {
  const dir = makeApp('vite-dev');
  const { createServer } = await import('vite');
  const server = await createServer({
    root: dir, logLevel: 'warn', configFile: false, clearScreen: false,
    server: { host: '127.0.0.1', port: 0, strictPort: false, headers: ISOLATION_HEADERS, hmr: false },
    plugins: [{
      name: 'models', // the shared models at /models/, as the other apps' server has them
      configureServer(s) {
        s.middlewares.use('/favicon.ico', (req, res) => { // asked by the browser itself
          res.writeHead(204, ISOLATION_HEADERS);
          res.end();
        });
        s.middlewares.use('/models/', (req, res) => {
          const file = path.join(MODEL_DIR, '..', decodeURIComponent(new URL(req.url, 'http://x').pathname));
          if (file.includes('..' + path.sep) || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
            res.writeHead(404, ISOLATION_HEADERS);
            res.end();
            return;
          }
          const body = fs.readFileSync(file);
          res.writeHead(200, { ...ISOLATION_HEADERS, 'Content-Type': 'application/octet-stream', 'Content-Length': body.length });
          res.end(body);
        });
      },
    }],
  });
  t.after(() => server.close());
  await server.listen();
  const base = server.resolvedUrls.local[0];
  checkRun(await runPage(base), 'vite dev');
});

test('esbuild: the app and softprompt/worker as two entry points, wasm/ copied beside them', { timeout: 600_000 }, async () => {
  const dir = makeApp('esbuild');
  const esbuild = await import('esbuild');
  const dist = path.join(dir, 'dist');
  await esbuild.build({
    absWorkingDir: dir,
    entryPoints: { main: './main.js', worker: 'softprompt/worker' },
    bundle: true, format: 'esm', platform: 'browser', outdir: dist, logLevel: 'warning',
  });
  fs.cpSync(path.join(dir, 'node_modules', 'softprompt', 'wasm'), path.join(dist, 'wasm'), { recursive: true });
  fs.copyFileSync(path.join(dir, 'index.html'), path.join(dist, 'index.html'));
  checkRun(await runInChromium(dist), 'esbuild');
});

test('webpack 5: build, then the README example under the strict CSP in Chromium', { timeout: 600_000 }, async () => {
  const dir = makeApp('webpack');
  const { default: webpack } = await import('webpack');
  const dist = path.join(dir, 'dist');
  const stats = await new Promise((resolve, reject) => webpack({
    mode: 'production', context: dir, entry: './main.js', target: 'web', devtool: false,
    output: { path: dist, filename: 'main.js', publicPath: 'auto' },
    resolve: { conditionNames: ['browser', 'import', 'module', 'default'] },
  }, (e, s) => (e ? reject(e) : resolve(s))));
  assert.ok(!stats.hasErrors(), stats.toString('errors-only'));
  fs.copyFileSync(path.join(dir, 'index.html'), path.join(dist, 'index.html'));
  checkRun(await runInChromium(dist), 'webpack');
});

test('Rollup: two inputs (the app, softprompt/worker) with node-resolve, wasm/ copied beside them', { timeout: 600_000 }, async () => {
  const dir = makeApp('rollup');
  const { rollup } = await import('rollup');
  const { nodeResolve } = await import('@rollup/plugin-node-resolve');
  const dist = path.join(dir, 'dist');
  const bundle = await rollup({
    input: { main: path.join(dir, 'main.js'), worker: 'softprompt/worker' },
    plugins: [nodeResolve({ browser: true, exportConditions: ['browser'], rootDir: dir })],
    onwarn: (w) => { throw new Error(`rollup: ${w.message}`); },
  });
  await bundle.write({ dir: dist, format: 'es', entryFileNames: '[name].js' });
  await bundle.close();
  fs.cpSync(path.join(dir, 'node_modules', 'softprompt', 'wasm'), path.join(dist, 'wasm'), { recursive: true });
  fs.copyFileSync(path.join(dir, 'index.html'), path.join(dist, 'index.html'));
  checkRun(await runInChromium(dist), 'rollup');
});
