// bench.test.js - `softprompt bench` as a user runs it: the Node table (peer columns, ratios to
// the probes, inference memory, 2-thread speedups), --json objects with the keys, and
// --browser: the same sp_bench_json in headless Chromium through the page's worker, printed
// beside Node. Tiny sizes: this checks the plumbing and the memory bound, never timings
// (the machine is shared). Chromium: /usr/bin/chromium or SP_CHROMIUM (FAILS when missing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
  return runEnv({}, ...args);
}

function runEnv(env, ...args) {
  // the limit only ends a hung run
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: repoRoot(), encoding: 'utf8', timeout: 1_200_000, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('bench: the table for threads 1 and 2 with peer columns, probe ratios, memory and speedups', () => {
  const r = run('bench', '--model', STORIES, ...TINY);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split('\n');
  // the CPU first: every figure belongs to one CPU (from /proc/cpuinfo here)
  assert.match(lines[0], /^cpu: .+\(family \d+, model \d+\), \d+ logical CPUs$/);
  assert.match(lines[1], /^model +thr +peak GF\/s +GEMM GF\/s +%peak +prefill tok\/s +peer +x peer +decode tok\/s +peer +x peer .*inf MiB +x\(W\+KV\) +peak MiB$/);
  assert.match(lines[2], /^stories260K\.gguf F32 +1 /);
  assert.match(lines[3], /^stories260K\.gguf F32 +2 /);
  assert.match(r.stdout, /^2 threads \/ 1 thread: stories260K\.gguf F32: prefill x[\d.]+, decode x[\d.]+, train x[\d.]+$/m);
  // no peer figure from another run or machine: without --peer the peer columns stay empty
  assert.match(lines[2], / F32 +1 +[\d.]+ +[\d.]+ +\d+% +[\d.]+ +- +- +[\d.]+ +- +- /);
  assert.match(r.stdout, /^peer: not measured in this run/m);
  // the project's targets, each with its measured range and a verdict computed from the rows above
  assert.match(r.stdout, /^targets, on this run:$/m);
  for (const t of [/GEMM on the model shapes, F32 weights, >= 80% of the f32 probe, 1 thread: \d+-\d+% \((met|NOT met)\)$/m,
    /training step, F32 weights, >= 60% of the f32 probe, 1 thread: \d+-\d+% \((met|NOT met)\)$/m,
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
  // the same treatment for both runtimes: two fresh engines each (alternated), the browser's
  // threads at the bench process's priority
  assert.deepEqual(rows.map((o) => o.rounds), [2, 2]);
  assert.equal(rows[1].nice, rows[0].nice);
  assert.equal(rows[1].nice_refused, 0);
  // the same C benchmark: the same heap after inference in both runtimes
  assert.equal(rows[0].inference_memory_bytes, rows[1].inference_memory_bytes);
});

test('bench --browser: the browser table with its ratios, how both sides were run, the rounds\' spread and the verdict', { timeout: 1_500_000 }, () => {
  assert.ok(existsSync(CHROMIUM), `chromium is not installed at ${CHROMIUM}: apt-get install chromium (scripts/setup.sh does) or set SP_CHROMIUM`);
  const r = run('bench', '--model', 'stories15M', '--threads', '1', '--browser', ...TINY);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^model +thr +prefill node +browser +b\/n +decode node +browser +b\/n +train node +browser +b\/n +GEMM node +browser +b\/n +inf MiB node +browser$/m);
  assert.match(r.stdout, /^stories15M F32 +1 +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ +[\d.]+ /m);
  assert.match(r.stdout, /^browser: .*Chrome\/[\d.]+, headless, the page's Web Worker; each side the best of 2 fresh engines per row, run alternately \(node, browser, browser, node, \.\.\.\);$/m);
  assert.match(r.stdout, /^Chromium's threads at the bench's priority \(nice -?\d+(, autogroup nice -?\d+)?\); neither side pinned to a CPU$/m);
  assert.match(r.stdout, /^spread of one side's own rounds \(max \/ min, largest over the rows\): node prefill x[\d.]+, decode x[\d.]+, train x[\d.]+, GEMM x[\d.]+; browser prefill x[\d.]+, /m);
  assert.match(r.stdout, /^largest browser\/node difference \d+% \(target: within 15%: (met|NOT met)\)$/m);
});

test('bench presets: the real shapes exist; one runs with a measured training heap; one too large for the heap is a refused row', () => {
  const names = ['smollm2-135m', 'smollm2-360m', 'qwen2.5-0.5b', 'qwen3-0.6b', 'gemma3-270m', 'llama3.2-1b', 'gpt2-124m'];
  const u = run('bench', '--model', 'no-such-preset', '--threads', '1', ...TINY);
  assert.equal(u.code, 1);
  for (const n of names) assert.match(u.stderr, new RegExp(`unknown bench model 'no-such-preset' \\(.*\\b${n.replace('.', '\\.')}\\b`), n);
  // llama3.2-1b in F32 is 4.9 GB of weights: refused from its plan, nothing allocated, the sizes named
  const big = run('bench', '--model', 'llama3.2-1b', '--type', 'F32', '--threads', '1', '--json', ...TINY);
  assert.equal(big.code, 0, big.stderr);
  const [ref] = big.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(ref.refused, true);
  assert.equal(ref.code, 'SP_ERR_TOO_LARGE');
  assert.match(ref.message, /^llama3\.2-1b F32 \(random\) needs \d{10} bytes: 494\d{7} bytes of weights \+ 268435456 bytes of K\/V cache \(4096 positions\), but wasm memory has room for \d+ more/);
  const t = run('bench', '--model', 'llama3.2-1b', '--type', 'F32', '--threads', '1', ...TINY);
  assert.match(t.stdout, /^refused: llama3\.2-1b F32, 1 thread \(node\): .*needs \d+ bytes/m);
  // the smallest new shape, in a K-quant
  const g = run('bench', '--model', 'gpt2-124m', '--type', 'Q4_K', '--threads', '1', '--json', ...TINY);
  assert.equal(g.code, 0, g.stderr);
  const [o] = g.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(o.model, 'gpt2-124m Q4_K (random)');
  assert.equal(o.weight_types, 'Q4_K'); // 768 and 3072: every row a multiple of 256
  for (const k of [...KEYS, 'train_heap_bytes', 'train_run_heap_bytes']) assert.ok(o[k] > 0, `${k}: ${o[k]}`);
  // the training heap holds the weights and the run's own memory, which holds its activations
  assert.ok(o.train_heap_bytes >= o.weight_bytes + o.train_run_heap_bytes - 16 * 2 ** 20, JSON.stringify(o));
  assert.ok(o.train_run_heap_bytes >= o.train_memory_bytes, JSON.stringify(o));
  // SmolLM2's 576-wide rows fall back to Q5_0 as in its llama.cpp Q4_K_M file (ffn_down, 1536 wide, stays
  // Q4_K): the row says which types it holds
  const s = run('bench', '--model', 'smollm2-135m', '--type', 'Q4_K', '--threads', '1', ...TINY);
  assert.equal(s.code, 0, s.stderr);
  assert.match(s.stdout, /^smollm2-135m Q4_K \[Q5_0 [89]\d%, Q4_K 1\d%\] +1 /m);
});

// A stand-in for ../shared/peers/run.sh with the harness's interface: `--help` installs and writes
// the six models (here: links to stories260K), a run writes the result file named by --out with the
// harness's JSON layout (rows with medians, raw runs). The real harness needs Chromium, npm and
// python3-numpy and minutes per model; this checks softprompt's side of --peer: the same files, the
// figures and ratios in the table, the verdict, and the JSON rows.
function fakeHarness(dir, { fail = false } = {}) {
  const rows = [1, 2].map((t) => ({ model: 'stories15m-f32', weights: 'F32', threads: t, reps: 2, prefillWall: 100 * t, decodeWall: 10 * t, error: null }));
  const raw = rows.map((r) => ({ model: r.model, threads: r.threads, result: { runs: [{ prefillWall: r.prefillWall, decodeWall: r.decodeWall }, { prefillWall: 1.5 * r.prefillWall, decodeWall: r.decodeWall }] } }));
  const json = JSON.stringify({ meta: { wllamaVersion: '3.13.0', libllamaVersion: 'test', browserVersion: '1.0' }, rows, raw });
  const models = ['stories15m-f32', 'stories15m-q8_0', 'stories110m-f32', 'stories110m-q8_0', 'smollm135m-f32', 'smollm135m-q8_0'];
  writeFileSync(join(dir, 'run.sh'), `#!/usr/bin/env bash
set -euo pipefail
mkdir -p "$PEERS_WORK/models"
for m in ${models.join(' ')}; do ln -sf '${STORIES}' "$PEERS_WORK/models/$m.gguf"; done
[ "$1" = --help ] && exit 0
echo "$@" > "$PEERS_WORK/args"
${fail ? 'echo "chromium crashed" >&2; exit 3' : ''}
out=; while [ $# -gt 0 ]; do [ "$1" = --out ] && out="$2"; shift; done
mkdir -p "$(dirname "$out")"
cat > "$out" <<'JSON'
${json}
JSON
`);
  chmodSync(join(dir, 'run.sh'), 0o755);
}

test('bench --peer: the peer on the same file in the same run, its figures, the ratios and the verdict', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sp-peer-'));
  try {
    fakeHarness(dir);
    const env = { SP_PEERS_DIR: dir, PEERS_WORK: join(dir, 'work') };
    const r = runEnv(env, 'bench', '--model', 'stories15M', '--type', 'F32', '--peer', ...TINY);
    assert.equal(r.code, 0, r.stderr);
    // the preset ran on the harness's file of its shape, and the harness measured the same file
    assert.match(r.stderr, /measuring the peer .* on stories15m-f32/);
    assert.match(readArgs(dir), /--threads 1,2 --reps 1 --n-prompt 16 --n-gen 8 .*--models stories15m-f32/);
    const row1 = r.stdout.split('\n').find((l) => /^stories15M F32 +1 /.test(l));
    // the best of the peer's repeats (150 and 10 tok/s), beside softprompt's own best
    assert.match(row1, /^stories15M F32 +1 +\S+ +\S+ +\S+ +(\S+) +150 +x(\S+) +(\S+) +10\.0 +x(\S+) /);
    const [, pre, xpre, dec, xdec] = row1.match(/^stories15M F32 +1 +\S+ +\S+ +\S+ +(\S+) +150 +x(\S+) +(\S+) +10\.0 +x(\S+) /);
    assert.ok(Math.abs(Number(xpre) - Number(pre) / 150) < 0.01 * Number(xpre) + 0.01);
    assert.ok(Math.abs(Number(xdec) - Number(dec) / 10) < 0.01 * Number(xdec) + 0.01);
    assert.match(r.stdout, /^peer: llama\.cpp's wasm build \(wllama 3\.13\.0, llama\.cpp test\) .*measured in this run on the same GGUF files/m);
    assert.match(r.stdout, /^ {2}ahead of the peer \(prefill and decode, every model and thread count both ran\): x[\d.]+-x[\d.]+ \((met|NOT met)\)/m);
    // --json: a peer object per thread count beside softprompt's
    const j = runEnv(env, 'bench', '--model', 'stories15M', '--type', 'F32', '--threads', '2', '--peer', '--json', ...TINY);
    assert.equal(j.code, 0, j.stderr);
    const objs = j.stdout.trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(objs.map((o) => [o.runtime, o.threads]), [['node', 2], ['peer', 2]]);
    assert.equal(objs[1].prefill_tok_s, 300);
    assert.equal(objs[1].prefill_tok_s_median, 200);
    assert.equal(objs[1].preset, 'stories15M F32');
    assert.equal(objs[0].model, objs[1].model); // the same file
    assert.match(objs[0].cpu, /logical CPUs/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bench --peer: a preset the harness has no file of runs on this engine\'s model of it written as GGUF, for both engines', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sp-peer-'));
  try {
    fakeHarness(dir);
    const env = { SP_PEERS_DIR: dir, PEERS_WORK: join(dir, 'work') };
    const r = runEnv(env, 'bench', '--model', 'gpt2-124m', '--type', 'Q4_0', '--threads', '1', '--peer', '--json', ...TINY);
    assert.equal(r.code, 0, r.stderr);
    const file = join(dir, 'work', 'models', 'sp-gpt2-124m-Q4_0.gguf');
    assert.match(r.stderr, /wrote .*sp-gpt2-124m-Q4_0\.gguf \([\d.]+ MB\): gpt2-124m Q4_0, random weights, for both engines/);
    // the harness got that very file, and softprompt's row measured it (not the in-memory preset)
    assert.ok(readArgs(dir).includes(`--gguf sp-gpt2-124m-Q4_0=${file}`), readArgs(dir));
    const node = r.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((o) => o.runtime === 'node');
    assert.equal(node.model, file);
    assert.equal(node.preset, 'gpt2-124m Q4_0');
    assert.equal(node.type, 'Q4_0');
    assert.ok(node.n_params > 124e6 && node.n_params < 125e6, String(node.n_params));
    // written once: a second run reads the same file
    const again = runEnv(env, 'bench', '--model', 'gpt2-124m', '--type', 'Q4_0', '--threads', '1', '--peer', '--json', ...TINY);
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /wrote .*sp-gpt2-124m/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bench --peer: a harness that fails or is missing is a clear error, softprompt\'s rows are still printed', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sp-peer-'));
  try {
    fakeHarness(dir, { fail: true });
    const r = runEnv({ SP_PEERS_DIR: dir, PEERS_WORK: join(dir, 'work') }, 'bench', '--model', 'stories15M', '--threads', '1', '--peer', ...TINY);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /the peer benchmark failed: .*exit 3.*\n[^]*chromium crashed/);
    assert.match(r.stdout, /^stories15M F32 +1 /m);
    const m = runEnv({ SP_PEERS_DIR: join(dir, 'nowhere') }, 'bench', '--model', 'stories15M', '--peer', ...TINY);
    assert.equal(m.code, 1);
    assert.match(m.stderr, /^softprompt: error: SP_ERR_UNSUPPORTED: peer benchmark: the peer harness is missing: no .*nowhere\/run\.sh/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function readArgs(dir) {
  return readFileSync(join(dir, 'work', 'args'), 'utf8');
}
