// browser.js - what the real-browser tests share: Debian's chromium driven by playwright-core,
// `npm start`'s server started in-process on a free port, a fresh profile per test.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const CHROMIUM = process.env.SP_CHROMIUM || '/usr/bin/chromium';
export const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];
export const SHOTS = path.join(ROOT, 'test-output', 'screenshots');
export const AXE = path.join(ROOT, 'node_modules', 'axe-core', 'axe.min.js');
/** How long an action or a wait without its own limit may take (it waits for a state, never for a duration). */
export const ACTION_TIMEOUT_MS = 300_000;

/** Fails (never skips) with an install hint when chromium or the wasm build is missing. */
export function assertBrowserReady() {
  assert.ok(fs.existsSync(CHROMIUM), `chromium is not installed at ${CHROMIUM}: install it (apt-get install chromium; scripts/setup.sh does) or set SP_CHROMIUM`);
  assert.ok(fs.existsSync(path.join(ROOT, 'wasm', 'softprompt.wasm')), 'wasm/softprompt.wasm is missing: run `npm run build`');
}

// A small dataset a person could type: plain text, one short story per paragraph.
export const MAX_STORIES = `Once upon a time, there was a dog named Max. Max loved the sea. Every day he ran to the beach and jumped in the waves.

Once upon a time, there was a happy dog named Max. He lived by the sea. He liked to dig in the sand and bark at the big waves.

Once upon a time, a little dog named Max went to the sea with his friend Sue. They played in the water all day.

Once upon a time, there was a dog named Max who had a red ball. He took the ball to the sea and swam to get it back.

Once upon a time, Max the dog saw a boat on the sea. He wanted to go on the boat, and the man said yes.

Once upon a time, a dog named Max found a shell by the sea. He gave the shell to his mom, and she smiled.`;

export function serverUrl(server) {
  if (server?.url) return String(server.url).replace(/\/?$/, '/');
  const addr = (server.server ?? server).address();
  return `http://127.0.0.1:${addr.port}/`;
}

export function closeServer(server) {
  if (typeof server?.close !== 'function') return Promise.resolve();
  return new Promise((resolve) => {
    const r = server.close(() => resolve());
    if (r && typeof r.then === 'function') r.then(resolve, resolve);
    server.closeAllConnections?.();
  });
}

/**
 * Start the server and a chromium with a fresh persistent profile (so a reload keeps IndexedDB and
 * the Cache API); both are closed when the test ends.
 * @returns {Promise<{context, server, base: string, origin: string}>}
 */
export async function openBrowser(t, { viewport = { width: 1280, height: 800 }, acceptDownloads = false } = {}) {
  assertBrowserReady();
  const { chromium } = await import('playwright-core');
  const { startServer } = await import('../../scripts/serve.js');
  fs.mkdirSync(SHOTS, { recursive: true });
  const server = await startServer({ port: 0, host: '127.0.0.1', quiet: true });
  const base = serverUrl(server);
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'softprompt-chromium-'));
  const handle = { context: null, server, base, origin: new URL(base).origin };
  t.after(async () => {
    await handle.context?.close().catch(() => {});
    await closeServer(server);
    fs.rmSync(profile, { recursive: true, force: true });
  });
  handle.context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, viewport, acceptDownloads,
  });
  // playwright's 30 s default for a click, a selector or a navigation is too short on a 2-core
  // machine shared with builds: every action without its own limit waits for its state this long
  handle.context.setDefaultTimeout(ACTION_TIMEOUT_MS);
  handle.context.setDefaultNavigationTimeout(ACTION_TIMEOUT_MS);
  return handle;
}

/**
 * openBrowser, then the studio page opened and its engine ready: {page, problems (page errors, to
 * assert empty at the end), waitState(key, value) (a data-* state of <body>), context, base, origin}.
 */
export async function openStudio(t, options = {}) {
  const handle = await openBrowser(t, options);
  const page = handle.context.pages()[0] ?? await handle.context.newPage();
  const problems = [];
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  const waitState = (k, v) => page.waitForFunction(([key, val]) => document.body.dataset[key] === val, [k, v], { timeout: 120_000 });
  await page.goto(handle.base);
  await waitState('engine', 'ready');
  return { ...handle, page, problems, waitState };
}

/**
 * Trace the page's renderer main thread (Chrome DevTools Protocol tracing) until stop().
 * A PerformanceObserver "longtask" duration is wall time: on a loaded 2-core machine the renderer
 * is descheduled in the middle of a 20 ms task and it reports 150 ms. The trace gives each task
 * both its wall time (dur) and the main thread's CPU time (tdur), so a test can tell the page's own
 * work from the machine's load.
 * @returns {Promise<{stop: () => Promise<Array<{wall: number, cpu: number}>>}>} the renderer main
 *   thread's tasks of more than 50 ms wall time, in milliseconds
 */
export async function traceMainThread(page) {
  const cdp = await page.context().newCDPSession(page);
  const events = [];
  cdp.on('Tracing.dataCollected', (e) => events.push(...e.value));
  await cdp.send('Tracing.start', { traceConfig: { includedCategories: ['toplevel', 'devtools.timeline', '__metadata'] }, transferMode: 'ReportEvents' });
  return {
    async stop() {
      const complete = new Promise((resolve) => cdp.once('Tracing.tracingComplete', resolve));
      await cdp.send('Tracing.end');
      await complete;
      await cdp.detach();
      const mains = new Set(events.filter((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain').map((e) => `${e.pid}:${e.tid}`));
      assert.ok(mains.size > 0, 'the trace names the renderer main thread');
      return events
        .filter((e) => (e.name === 'RunTask' || e.name === 'ThreadControllerImpl::RunTask') && e.ph === 'X' && mains.has(`${e.pid}:${e.tid}`) && e.dur > 50_000)
        .map((e) => ({ wall: Math.round(e.dur / 1000), cpu: Math.round((e.tdur ?? e.dur) / 1000) }));
    },
  };
}

/** axe-core's serious and critical violations on the page as it is now (axe injected from its npm
 *  package), each tagged with `where`. */
export async function axeProblems(page, where) {
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.addScriptTag({ content: fs.readFileSync(AXE, 'utf8') });
  const res = await page.evaluate(async () => {
    const r = await window.axe.run(document, { resultTypes: ['violations'] });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.slice(0, 5).map((n) => `${n.target.join(' ')}: ${n.failureSummary?.split('\n')[1] ?? ''}`) }));
  });
  return res.map((v) => ({ where, ...v }));
}
