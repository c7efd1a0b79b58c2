// bench-browser.js - the engine's benchmark (sp_bench_json) in headless Chromium, through the
// page's Web Worker, exactly as a page would call it: `softprompt bench --browser` uses it to
// put browser figures beside Node's (run by run, interleaved with Node's, so that both see the
// same machine: it is shared and its load varies).
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
import { SoftpromptError } from '../web/errors.js';

export const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

/**
 * Open a headless Chromium page on a local server, ready to run benchmarks. modelsDir: the folder
 * whose files (model files or Hugging Face folders) are served under /models/ (optional).
 * Returns {run(target, threads, opts) -> result, close()}; target is {preset, type} or {path}.
 */
export async function openBrowserBench({ modelsDir } = {}) {
  const exe = process.env.SP_CHROMIUM || '/usr/bin/chromium';
  if (!fs.existsSync(exe)) throw new Error(`chromium is not installed at ${exe} (apt-get install chromium, or set SP_CHROMIUM)`);
  const { chromium } = await import('playwright-core');
  const server = await startServer({ port: 0, host: '127.0.0.1', quiet: true, ...(modelsDir ? { modelsDir } : {}) });
  let browser = null;
  const close = async () => {
    if (browser) await browser.close().catch(() => {});
    await server.close();
  };
  try {
    browser = await chromium.launch({ executablePath: exe, headless: true, args: CHROMIUM_ARGS });
    const page = await browser.newPage();
    const pageErrors = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    // any document of the server will do (it carries the COOP/COEP headers); the API is imported into it
    await page.goto(`${server.url}softprompt.d.ts`);
    const isolated = await page.evaluate(() => globalThis.crossOriginIsolated === true);
    const run = async (target, threads, opts) => {
      if (threads > 1 && !isolated) throw new Error('the benchmark page is not cross-origin isolated: no threads');
      const url = target.path
        ? `/models/${encodeURIComponent(path.basename(target.path))}${fs.statSync(target.path).isDirectory() ? '/' : ''}`
        : null;
      const result = await page.evaluate(async ({ threads: n, preset, type, url: u, opts: o }) => {
        const { Softprompt } = await import('/softprompt.js');
        const sp = await Softprompt.create({ threads: n }); // a fresh worker and wasm memory
        try {
          if (u) {
            const model = await sp.loadModel(u);
            const r = await model.bench(o);
            await model.free();
            return { ...r, userAgent: navigator.userAgent };
          }
          return { ...(await sp.bench({ ...o, model: preset, type })), userAgent: navigator.userAgent };
        } catch (e) {
          // the library's typed errors keep their code across the page boundary (a preset that
          // cannot fit is SP_ERR_TOO_LARGE: a refused row, as in Node)
          if (typeof e?.code === 'string') return { error: { code: e.code, message: e.message } };
          throw e;
        } finally {
          sp.terminate();
        }
      }, { threads, preset: target.preset, type: target.type, url, opts });
      if (pageErrors.length) throw new Error(`the benchmark page failed: ${pageErrors[0]}`);
      if (result.error) throw new SoftpromptError(result.error.code, result.error.message);
      return result;
    };
    return { run, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** All targets for all thread counts in one browser session (see openBrowserBench). */
export async function browserBench(targets, threadList, opts, onResult = () => {}) {
  const parents = [...new Set(targets.filter((t) => t.path).map((t) => path.dirname(t.path)))];
  if (parents.length > 1) throw new Error('--browser measures model files of one folder at a time');
  const session = await openBrowserBench({ modelsDir: parents[0] });
  const results = [];
  try {
    for (const threads of threadList) {
      for (const target of targets) {
        const row = { target, threads, result: await session.run(target, threads, opts) };
        results.push(row);
        onResult(row);
      }
    }
  } finally {
    await session.close();
  }
  return results;
}
