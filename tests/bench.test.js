// bench.test.js - `softprompt bench` as a user runs it: the Node table (peer columns, ratios to
// the probes, inference memory, 2-thread speedups), --json objects with the keys, and
// --browser: the same sp_bench_json in headless Chromium through the page's worker, printed
// beside Node. Tiny sizes: this checks the plumbing and the memory bound, never timings
// (the machine is shared). Chromium: /usr/bin/chromium or SP_CHROMIUM (FAILS when missing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { modelPath, repoRoot } from './lib/paths.js';

const CLI = join(repoRoot(), 'bin', 'softprompt.js');
const STORIES = modelPath('stories260K/stories260K.gguf');
const CHROMIUM = process.env.SP_CHROMIUM || '/usr/bin/chromium';
const TINY = ['--seconds', '0.02', '--prompt-tokens', '16', '--decode-tokens', '8', '--train-batch', '2', '--train-tokens', '16', '--repeats', '1'];
const KEYS = ['threads', 'peak_gflops', 'gemm_gflops', 'prefill_tok_s', 'decode_tok_s', 'train_tok_s', 'train_gflops', 'peak_memory_bytes',
  'inference_memory_bytes', 'inference_memory_ratio', 'kv_cache_bytes', 'weight_bytes', 'peak_gflops_all', 'copy_gbs_all', 'train_memory_bytes',
  'read_gbs', 'decode_gbs', 'decode_weight_gbs', 'train_steps'];

function run(...args) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: repoRoot(), encoding: 'utf8', timeout: 1_200_000 }); // only ends a hung run
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('bench: the table for threads 1 and 2 with peer columns, probe ratios, memory and speedups', () => {
  const r = run('bench', '--model', STORIES, ...TINY);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  assert.match(lines[0], /^model +thr +peak GF\/s +GEMM GF\/s +%peak +prefill tok\/s +peer +decode tok\/s +peer .*inf MiB +x\(W\+KV\) +peak MiB$/);
  assert.match(lines[1], /^stories260K\.gguf F32 +1 /);
  assert.match(lines[2], /^stories260K\.gguf F32 +2 /);
  assert.match(r.stdout, /^2 threads \/ 1 thread: stories260K\.gguf F32: prefill x[\d.]+, decode x[\d.]+, train x[\d.]+$/m);
  assert.match(r.stdout, /^peer: llama\.cpp wasm/m);
  // the project's targets, each with its measured range and a verdict computed from the rows above
  assert.match(r.stdout, /^targets, on this run:$/m);
  for (const t of [/GEMM on the model shapes .* >= 80% of the probe, 1 thread: \d+-\d+% \((met|NOT met)\)$/m,
    /training step >= 60% of the probe, 1 thread: \d+-\d+% \((met|NOT met)\)$/m,
    /2 threads >= 1\.7 x 1 thread, prefill: x[\d.]+-x[\d.]+ \((met|NOT met)\)$/m,
    /inference heap <= 1\.2 x \(weights \+ KV\): [\d.]+-[\d.]+ \((met|NOT met)\)$/m]) assert.match(r.stdout, t);
});

test('bench --browser --json: one object per runtime and thread count; inference memory within 1.2 x (weights + KV)', { timeout: 1_500_000 }, () => {
  assert.ok(existsSync(CHROMIUM), `chromium is not installed at ${CHROMIUM}: apt-get install chromium (scripts/setup.sh does) or set SP_CHROMIUM`);
  const r = run('bench', '--model', 'stories15M', '--threads', '2', '--browser', '--json', ...TINY);
  assert.equal(r.code, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((o) => [o.runtime, o.threads]), [['node', 2], ['browser', 2]]);
  for (const o of rows) {
    for (const k of KEYS) {
      assert.equal(typeof o[k], 'number', `${o.runtime} ${k}`);
      assert.ok(o[k] > 0, `${o.runtime} ${k} > 0`);
    }
    assert.equal(o.model, 'stories15M F32 (random)');
    assert.equal(o.isa, 'wasmsimd');
    // a fresh engine: the heap after prefill + decode is the inference peak
    assert.ok(Math.abs(o.inference_memory_ratio - o.inference_memory_bytes / (o.weight_bytes + o.kv_cache_bytes)) < 1e-3);
    assert.ok(o.inference_memory_ratio <= 1.2, `${o.runtime}: inference heap ${o.inference_memory_bytes} is over 1.2 x (weights + KV)`);
    assert.ok(o.inference_heap_used_bytes < o.inference_memory_bytes);
    assert.ok(o.peak_memory_bytes >= o.inference_memory_bytes);
  }
  assert.match(rows[1].user_agent, /Chrome/);
  // the same C benchmark: the same heap after inference in both runtimes
  assert.equal(rows[0].inference_memory_bytes, rows[1].inference_memory_bytes);
});
