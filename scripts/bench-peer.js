// bench-peer.js - the peer, llama.cpp's wasm build (wllama) in headless Chromium, measured in the
// same run as softprompt's own benchmark and on the same GGUF files: `softprompt bench --peer`.
//
// The harness lives in ../shared/peers (SP_PEERS_DIR): run.sh installs its npm dependencies,
// writes its random-weight GGUF models with python3 + numpy and runs bench.mjs. That folder is
// read-only, so the harness copies itself to PEERS_WORK (default ~/.cache/softprompt-peers) and
// keeps dependencies, models and results there. The bench measures its presets on the harness's
// model files (the same bytes both engines read), and any other GGUF file is handed to the
// harness with --gguf NAME=PATH. A figure of the peer from another machine or another run is
// never used: the CPU changes between machines.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The harness folder (SP_PEERS_DIR, default ../shared/peers beside the repository). */
export function peersDir() {
  return path.resolve(process.env.SP_PEERS_DIR || path.join(ROOT, '..', 'shared', 'peers'));
}

/** Where the harness keeps its dependencies, models and results (its own default). */
export function peersWork() {
  return path.resolve(process.env.PEERS_WORK || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'softprompt-peers'));
}

// The harness's built-in random-weight models, by the bench preset whose shape they have
// (make_gguf.py: the same dims, layers, heads, FFN and vocabulary; norms stay F32).
export const PEER_MODELS = {
  'stories15M F32': 'stories15m-f32',
  'stories15M Q8_0': 'stories15m-q8_0',
  'stories110M F32': 'stories110m-f32',
  'stories110M Q8_0': 'stories110m-q8_0',
  'smollm-135m F32': 'smollm135m-f32',
  'smollm-135m Q8_0': 'smollm135m-q8_0',
};

/**
 * The GGUF file of a bench preset ('qwen2.5-0.5b', 'Q8_0') for both engines to read: this engine's
 * random-weight model of the preset (sp_model_preset, what `bench --model PRESET` measures) written
 * by sp_model_gguf_json into the harness's models folder, again whenever the wasm build is newer.
 * Throws SP_ERR_TOO_LARGE (from the preset's plan) when the model cannot fit the heap.
 */
export async function presetModelFile(preset, type, log) {
  const file = path.join(peersWork(), 'models', `sp-${preset}-${type}.gguf`.replace(/[^\w.-]/g, '_'));
  const wasm = path.join(ROOT, 'wasm', 'softprompt.wasm');
  if (fs.existsSync(file) && fs.statSync(file).mtimeMs > fs.statSync(wasm).mtimeMs) return file;
  const { loadEngine } = await import('../web/engine.js');
  const engine = await loadEngine({ threads: 1 });
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const model = engine.presetModel(preset, type);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const fd = fs.openSync(tmp, 'w');
    try {
      model.writeGguf((bytes) => fs.writeSync(fd, bytes));
    } finally {
      fs.closeSync(fd);
      model.free();
    }
    fs.renameSync(tmp, file);
    log(`wrote ${file} (${(fs.statSync(file).size / 1e6).toFixed(1)} MB): ${preset} ${type}, random weights, for both engines`);
    return file;
  } finally {
    fs.rmSync(tmp, { force: true });
    engine.dispose();
  }
}

/** The file of a built-in harness model (after ensurePeerModels). */
export function peerModelPath(name) {
  return path.join(peersWork(), 'models', `${name}.gguf`);
}

// Runs run.sh with args; its output goes to `log` line by line (the bench's diagnostics).
function runHarness(args, log) {
  const sh = path.join(peersDir(), 'run.sh');
  if (!fs.existsSync(sh)) {
    return Promise.reject(new Error(`the peer harness is missing: no ${sh} (set SP_PEERS_DIR to the folder holding run.sh)`));
  }
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [sh, ...args], { env: { ...process.env, PEERS_WORK: peersWork() }, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = [];
    const relay = (stream) => {
      let buf = '';
      stream.setEncoding('utf8');
      stream.on('data', (d) => {
        buf += d;
        let i;
        while ((i = buf.search(/[\n]/)) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          tail = [...tail.slice(-19), line];
          log(`peer: ${line}`);
        }
      });
      stream.on('end', () => { if (buf) log(`peer: ${buf}`); });
    };
    relay(child.stdout);
    relay(child.stderr);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`the peer harness (${sh} ${args.join(' ')}) failed: ${signal ?? `exit ${code}`}; last lines:\n${tail.join('\n')}`));
    });
  });
}

/** Installs the harness's dependencies and writes its models if missing (run.sh does both, then bench.mjs --help). */
export async function ensurePeerModels(log) {
  await runHarness(['--help'], () => {}).catch(async () => {
    // rerun with the output shown, so the reason is on the screen
    await runHarness(['--help'], log);
  });
  for (const name of Object.values(PEER_MODELS)) {
    if (!fs.existsSync(peerModelPath(name))) throw new Error(`the peer harness did not write ${peerModelPath(name)}`);
  }
}

/**
 * Measures the peer: builtin (harness model names) and files ({name, path}: any GGUF file) for
 * each thread count. Returns a Map `${name}|${threads}` -> {prefill, decode, error} (tok/s by wall
 * clock, medians of `reps`) and the harness's meta (wllama and Chromium versions).
 */
export async function runPeer({ builtin = [], files = [], threads = [1, 2], reps = 3, nPrompt = 128, nGen = 64, log }) {
  const out = path.join(peersWork(), 'results', `softprompt-bench-${process.pid}.json`);
  const args = ['--threads', threads.join(','), '--reps', String(reps), '--n-prompt', String(nPrompt), '--n-gen', String(nGen), '--out', out];
  const ctx = nPrompt + nGen + 8;
  if (ctx > 256) args.push('--n-ctx', String(2 ** Math.ceil(Math.log2(ctx))));
  if (builtin.length) args.push('--models', builtin.join(','));
  if (files.length) args.push('--gguf', files.map((f) => `${f.name}=${f.path}`).join(','));
  let failure = null;
  await runHarness(args, log).catch((e) => { failure = e; }); // rows that ran are still in the file
  if (!fs.existsSync(out)) throw failure ?? new Error(`the peer harness wrote no ${out}`);
  const res = JSON.parse(fs.readFileSync(out, 'utf8'));
  fs.rmSync(out, { force: true });
  fs.rmSync(out.replace(/\.json$/, '.md'), { force: true });
  // the best of the timed repeats, as softprompt's bench reports its own (the harness's medians beside)
  const rows = new Map();
  for (const r of res.rows ?? []) {
    const runs = (res.raw ?? []).find((x) => x.model === r.model && x.threads === r.threads)?.result?.runs ?? [];
    const best = (k) => Math.max(...runs.map((x) => x[k]).filter((v) => Number.isFinite(v)));
    rows.set(`${r.model}|${r.threads}`, {
      prefill: runs.length ? best('prefillWall') : r.prefillWall, decode: runs.length ? best('decodeWall') : r.decodeWall,
      prefillMedian: r.prefillWall, decodeMedian: r.decodeWall, reps: r.reps, error: r.error ?? null, weights: r.weights,
    });
  }
  return { rows, meta: res.meta ?? {}, failure };
}
