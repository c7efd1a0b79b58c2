// bench-browser.js - the engine's benchmark (sp_bench_json) in headless Chromium, through the
// page's Web Worker, exactly as a page would call it: `softprompt bench --browser` uses it to
// put browser figures beside Node's (run by run, interleaved with Node's, so that both see the
// same machine: it is shared and its load varies).
//
// Starts scripts/serve.js on a free local port (cross-origin isolated, so the threaded build
// runs), launches Chromium (/usr/bin/chromium or SP_CHROMIUM) with playwright-core, and for each
// thread count and target creates a FRESH engine in the page (new worker, new wasm memory: the
// inference memory figure then means the same thing as under Node), gives Chromium's threads the
// scheduling priority of the bench process (as Node's worker threads have it), runs the benchmark,
// and terminates the engine. Nothing leaves the machine: random-weight presets are generated in
// the engine, model files are served by the local server.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { startServer } from './serve.js';
import { SoftpromptError } from '../web/errors.js';

export const CHROMIUM_ARGS = ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-background-networking'];

// The processes descended from this one (Chromium's browser, zygote, renderers, ...), from
// /proc/PID/stat's parent field. Linux only.
function descendants(root) {
  const parent = new Map();
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const s = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      parent.set(Number(d), Number(s.slice(s.lastIndexOf(')') + 2).split(' ')[1]));
    } catch {
      // the process ended meanwhile
    }
  }
  const out = [];
  for (const pid of parent.keys()) {
    for (let p = parent.get(pid); p; p = parent.get(p)) if (p === root) { out.push(pid); break; }
  }
  return out;
}

/**
 * Give every thread of every Chromium process the scheduling priority of the process running the
 * bench, so that Node and the browser compete for the shared cores alike. Chromium does not
 * inherit it: playwright starts it in a session of its own (so its own scheduler autogroup, at
 * nice 0) and Chromium sets its threads' nice itself (0), while Node's worker threads inherit the
 * bench's (e.g. -20 under a wrapper that raises the bench's priority). Applied once the page's
 * engine (its worker and thread pool) exists, right before a run. Returns what it set and how
 * many threads refused (no permission to raise a priority); null where not Linux.
 */
export function matchPriority() {
  if (process.platform !== 'linux') return null;
  const nice = os.getPriority();
  let groupNice = null;
  try {
    groupNice = Number(/nice\s+(-?\d+)/.exec(fs.readFileSync('/proc/self/autogroup', 'utf8'))[1]);
  } catch {
    // a kernel without autogroups
  }
  let threads = 0, refused = 0;
  for (const pid of descendants(process.pid)) {
    if (groupNice !== null) {
      try {
        fs.writeFileSync(`/proc/${pid}/autogroup`, String(groupNice));
      } catch {
        refused++;
      }
    }
    let tids = [];
    try {
      tids = fs.readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    for (const tid of tids) {
      try {
        os.setPriority(Number(tid), nice);
        threads++;
      } catch (e) {
        if (e?.code !== 'ESRCH') refused++;
      }
    }
  }
  return { nice, groupNice, threads, refused };
}

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
      // two steps: the engine first (its worker and thread pool are then Chromium's threads), then
      // their priority is matched to Node's, then the benchmark itself
      const created = await page.evaluate(async ({ threads: n }) => {
        const { Softprompt } = await import('/softprompt.js');
        try {
          globalThis.spBench = await Softprompt.create({ threads: n }); // a fresh worker and wasm memory
          return null;
        } catch (e) {
          if (typeof e?.code === 'string') return { error: { code: e.code, message: e.message } };
          throw e;
        }
      }, { threads });
      if (created?.error) throw new SoftpromptError(created.error.code, created.error.message);
      const priority = matchPriority();
      const result = await page.evaluate(async ({ preset, type, url: u, opts: o }) => {
        const sp = globalThis.spBench;
        delete globalThis.spBench;
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
      }, { preset: target.preset, type: target.type, url, opts });
      if (pageErrors.length) throw new Error(`the benchmark page failed: ${pageErrors[0]}`);
      if (result.error) throw new SoftpromptError(result.error.code, result.error.message);
      return { ...result, priority };
    };
    return { run, close };
  } catch (e) {
    await close();
    throw e;
  }
}
