// bench-browser.js - the engine's benchmark (sp_bench_json) in headless Chromium, through the
// page's Web Worker, exactly as a page would call it: `softprompt bench --browser` uses it to
// put browser figures beside Node's.
//
// Starts scripts/serve.js on a free local port (cross-origin isolated, so the threaded build
// runs), launches Chromium (/usr/bin/chromium or SP_CHROMIUM) with playwright-core, and for each
// thread count and target creates a FRESH engine in the page (new worker, new wasm memory: the
// inference memory figure then means the same thing as under Node), runs the benchmark, and
// terminates the engine. Nothing leaves the machine: random-weight presets are generated in the
// engine, model files are served by the local server.

import fs from 'node:fs';
import path from 'node:path';

import { startServer } from './serve.js';

export const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

/**
 * targets: [{preset, type} | {path}]; threadList: [1, 2]; opts: the bench options (camelCase).
 * onResult(r) is called with {target, threads, result} as each run finishes.
 * Returns the results in the same order.
 */
export async function browserBench(targets, threadList, opts, onResult = () => {}) {
  const exe = process.env.SP_CHROMIUM || '/usr/bin/chromium';
  if (!fs.existsSync(exe)) throw new Error(`chromium is not installed at ${exe} (apt-get install chromium, or set SP_CHROMIUM)`);
  const { chromium } = await import('playwright-core');
  // a model file or folder is served from its parent folder under /models/
  const files = targets.filter((t) => t.path);
  const parents = [...new Set(files.map((t) => path.dirname(t.path)))];
  if (parents.length > 1) throw new Error('--browser measures model files of one folder at a time');
  const server = await startServer({ port: 0, host: '127.0.0.1', quiet: true, ...(parents.length ? { modelsDir: parents[0] } : {}) });
  let browser = null;
  const results = [];
  try {
    browser = await chromium.launch({ executablePath: exe, headless: true, args: CHROMIUM_ARGS });
    const page = await browser.newPage();
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // any document of the server will do (it carries the COOP/COEP headers); the API is imported into it
    await page.goto(`${server.url}softprompt.d.ts`);
    const isolated = await page.evaluate(() => globalThis.crossOriginIsolated === true);
    if (!isolated && threadList.some((t) => t > 1)) throw new Error('the benchmark page is not cross-origin isolated: no threads');
    for (const threads of threadList) {
      for (const target of targets) {
        const url = target.path
          ? `/models/${encodeURIComponent(path.basename(target.path))}${fs.statSync(target.path).isDirectory() ? '/' : ''}`
          : null;
        const result = await page.evaluate(async ({ threads: n, preset, type, url: u, opts: o }) => {
          const { Softprompt } = await import('/softprompt.js');
          const sp = await Softprompt.create({ threads: n });
          try {
            if (u) {
              const model = await sp.loadModel(u);
              const r = await model.bench(o);
              await model.free();
              return { ...r, userAgent: navigator.userAgent };
            }
            return { ...(await sp.bench({ ...o, model: preset, type })), userAgent: navigator.userAgent };
          } finally {
            sp.terminate();
          }
        }, { threads, preset: target.preset, type: target.type, url, opts });
        if (pageErrors.length) throw new Error(`the benchmark page failed: ${pageErrors[0]}`);
        const row = { target, threads, result };
        results.push(row);
        onResult(row);
      }
    }
  } finally {
    if (browser) await browser.close().catch(() => {});
    await server.close();
  }
  return results;
}
