// cli.test.js - bin/softprompt.js, run as a user runs it (node bin/softprompt.js <command>).
// Error handling: any error gives a non-zero exit and ONE line on stderr naming the problem,
// never a stack trace; usage errors exit 2. Plus info --json fields, generate's output shape,
// tune (--json lines, PEFT files, checkpoints, --resume reproducing an uninterrupted run, ^C
// keeping the prompt), eval, nearest. (The generation goldens through the CLI are in the
// lead's tests.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync, existsSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { modelPath, repoRoot } from './lib/paths.js';

const CLI = join(repoRoot(), 'bin', 'softprompt.js');
const STORIES = modelPath('stories260K/stories260K.gguf');
const HF_DIR = modelPath('TinyStories-656K');
const GOLDEN = JSON.parse(readFileSync(modelPath('stories260K/expected_greedy.json'), 'utf8')).greedy_64;

const TMP = mkdtempSync(join(tmpdir(), 'softprompt-cli-'));
test.after(() => rmSync(TMP, { recursive: true, force: true }));

const DATA = join(TMP, 'data.jsonl');
writeFileSync(DATA, [
  'Once upon a time, there was a dog named Max. Max loved the sea.',
  'Once upon a time, there was a happy dog named Max. He lived by the sea.',
  'Once upon a time, a little dog named Max went to the sea with his friend Sue.',
  'Once upon a time, there was a dog named Max who had a red ball.',
  'Once upon a time, Max the dog saw a boat on the sea.',
  'Once upon a time, a dog named Max found a shell by the sea.',
].map((text) => JSON.stringify({ text })).join('\n') + '\n');

function run(...args) {
  // one thread unless the test says otherwise: the threaded build takes longer to start
  if (args[0] !== 'bench' && args.includes('--model') && !args.some((a) => a.startsWith('--threads'))) args.push('--threads', '1');
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: repoRoot(), encoding: 'utf8', timeout: 900_000 }); // only ends a hung run
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Exactly one stderr line matching re, exit code, no stack trace. */
function assertOneLineError(r, code, re) {
  assert.equal(r.code, code, `exit code (stderr: ${r.stderr})`);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  assert.equal(lines.length, 1, `one stderr line, got:\n${r.stderr}`);
  assert.match(lines[0], re);
  assert.doesNotMatch(r.stderr, /^\s+at /m, 'no stack trace');
  assert.doesNotMatch(r.stderr, /node:internal|file:\/\//, 'no internals');
}

test('cli: info --json prints the model facts as one JSON object', () => {
  const r = run('info', '--model', STORIES, '--json');
  assert.equal(r.code, 0, r.stderr);
  const info = JSON.parse(r.stdout);
  assert.equal(r.stdout.trim().split('\n').length, 1);
  for (const [k, v] of Object.entries({ arch: 'llama', format: 'gguf', file_type: 'F32', dim: 64, n_layers: 5, n_heads: 8, n_kv_heads: 4, vocab_size: 512, bos_id: 1, eos_id: 2, tokenizer: 'spm' })) {
    assert.equal(info[k], v, k);
  }
  for (const k of ['head_dim', 'hidden_dim', 'context_length', 'rope_theta', 'norm_eps', 'rope_style', 'tied', 'n_params', 'weight_bytes']) assert.ok(k in info, k);
  const hf = JSON.parse(run('info', '--model', HF_DIR, '--json').stdout);
  assert.equal(hf.format, 'hf');
  assert.equal(hf.tokenizer, 'bpe');
  assert.equal(hf.vocab_size, 2048);
  const text = run('info', '--model', STORIES);
  assert.equal(text.code, 0);
  assert.match(text.stdout, /^vocab_size\s+512$/m);
});

test('cli: generate prints only the continuation, then a newline; diagnostics go to stderr', () => {
  const r = run('generate', '--model', STORIES, '--prompt', GOLDEN.prompt, '--max-tokens', '60', '--temperature', '0');
  assert.equal(r.code, 0, r.stderr);
  assert.ok(!r.stdout.startsWith(GOLDEN.prompt), 'no prompt echo');
  assert.equal(GOLDEN.prompt + r.stdout, GOLDEN.stdout);
  assert.doesNotMatch(r.stderr, /error/i);
  const a = run('generate', '--model', STORIES, '--prompt', 'Once', '--max-tokens', '20', '--temperature', '0.8', '--top-k', '20', '--top-p', '0.9', '--seed', '7', '--threads', '1');
  const b = run('generate', '--model', STORIES, '--prompt', 'Once', '--max-tokens=20', '--temperature=0.8', '--top-k=20', '--top-p=0.9', '--seed=7', '--threads=2');
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stdout, b.stdout, 'same seed, same text, any thread count');
});

test('cli: missing, non-GGUF and truncated model files: one line naming the file', () => {
  const missing = join(TMP, 'nope.gguf');
  assertOneLineError(run('info', '--model', missing), 1, new RegExp(`^softprompt: error: SP_ERR_IO: cannot read ${missing.replace(/[.]/g, '\\.')}: no such file`));
  const notGguf = join(TMP, 'not.gguf');
  writeFileSync(notGguf, 'this is not a model\n');
  assertOneLineError(run('info', '--model', notGguf), 1, new RegExp(`^softprompt: error: SP_ERR_FORMAT: gguf: .*magic.*: ${notGguf.replace(/[.]/g, '\\.')}$`));
  const cut = join(TMP, 'cut.gguf');
  writeFileSync(cut, readFileSync(STORIES).subarray(0, 50000));
  assertOneLineError(run('generate', '--model', cut, '--prompt', 'x'), 1, /^softprompt: error: SP_ERR_FORMAT: gguf: .*(trunc|past the end).*cut\.gguf$/);
  assertOneLineError(run('info', '--model', TMP), 1, /^softprompt: error: SP_ERR_IO: .*config\.json/);
  const badAdapter = join(TMP, 'no-adapter');
  assertOneLineError(run('generate', '--model', STORIES, '--prompt', 'x', '--adapter', badAdapter), 1, /^softprompt: error: SP_ERR_IO: .*no-adapter/);
  assertOneLineError(run('eval', '--model', STORIES, '--data', join(TMP, 'nodata.jsonl')), 1, /^softprompt: error: SP_ERR_IO: .*nodata\.jsonl/);
});

test('cli: bad flags and values are one-line usage errors (exit 2)', () => {
  const usage = /^softprompt: usage error: /;
  assertOneLineError(run('info', '--model', STORIES, '--bogus'), 2, /usage error: unknown flag --bogus/);
  assertOneLineError(run('generate', '--model', STORIES, '--prompt', 'x', '--max-tokens', 'ten'), 2, /--max-tokens must be a whole number/);
  assertOneLineError(run('generate', '--model', STORIES, '--prompt', 'x', '--temperature', 'hot'), 2, usage);
  assertOneLineError(run('generate', '--model', STORIES, '--prompt'), 2, /--prompt needs a value/);
  assertOneLineError(run('generate', '--model', STORIES), 2, /needs --prompt/);
  assertOneLineError(run('generate', '--prompt', 'x'), 2, /needs --model/);
  assertOneLineError(run('tune', '--model', STORIES, '--data', DATA, '--out', TMP, '--method', 'lora'), 2, /--method must be one of prompt, prefix/);
  assertOneLineError(run('tune', '--model', STORIES, '--data', DATA, '--out', TMP, '--steps', '3', '--epochs', '2'), 2, /--steps or --epochs/);
  assertOneLineError(run('frobnicate'), 2, /unknown command 'frobnicate'/);
  assertOneLineError(run('info', 'extra'), 2, usage);
  assertOneLineError(run('info', '--model', STORIES, '--threads', '0'), 2, usage);
  // values the engine refuses are typed errors
  assertOneLineError(run('generate', '--model', STORIES, '--prompt', 'x', '--temperature', '-1'), 1, /^softprompt: error: SP_ERR_INVALID_ARG: .*temperature/);
  assertOneLineError(run('generate', '--model', STORIES, '--prompt', 'x', '--max-tokens', '100000'), 1, /^softprompt: error: SP_ERR_CONTEXT: /);
  assertOneLineError(run('tune', '--model', STORIES, '--data', DATA, '--out', join(TMP, 'x'), '--lr', '-1'), 1, /^softprompt: error: SP_ERR_INVALID_ARG: /);
  const help = run('help', 'tune');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--virtual-tokens/);
});

test('cli: tune --json writes one line per step and the PEFT files; eval, nearest and generate use them', () => {
  const out = join(TMP, 'run1');
  const r = run('tune', '--model', STORIES, '--data', DATA, '--out', out, '--steps', '6', '--virtual-tokens', '4', '--batch-size', '2',
    '--max-length', '32', '--lr', '0.05', '--eval-split', '0.34', '--eval-every', '3', '--seed', '1', '--json');
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => l.step), [1, 2, 3, 4, 5, 6]);
  for (const l of lines) assert.ok(Number.isFinite(l.loss) && l.loss > 0);
  assert.ok(Number.isFinite(lines[2].eval_loss) && Number.isFinite(lines[5].eval_loss), 'evals join their step');
  const cfg = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
  assert.equal(cfg.peft_type, 'PROMPT_TUNING');
  assert.equal(cfg.task_type, 'CAUSAL_LM');
  assert.equal(cfg.num_virtual_tokens, 4);
  assert.equal(cfg.token_dim, 64);
  const st = readFileSync(join(out, 'adapter_model.safetensors'));
  const hlen = Number(st.readBigUInt64LE(0));
  const header = JSON.parse(st.subarray(8, 8 + hlen).toString('utf8'));
  assert.deepEqual(header.prompt_embeddings.shape, [4, 64]);
  assert.equal(header.prompt_embeddings.dtype, 'F32');

  const ev = run('eval', '--model', STORIES, '--data', DATA, '--adapter', out, '--max-length', '32', '--json');
  assert.equal(ev.code, 0, ev.stderr);
  const e = JSON.parse(ev.stdout);
  for (const k of ['loss', 'perplexity', 'tokens']) assert.equal(typeof e[k], 'number', k);
  const near = run('nearest', '--model', STORIES, '--adapter', out, '--k', '3', '--json');
  assert.equal(near.code, 0, near.stderr);
  const rows = JSON.parse(near.stdout);
  assert.equal(rows.length, 4);
  assert.ok(rows.every((row) => row.length === 3 && row.every((t) => 'id' in t && 'piece' in t && 'score' in t)));
  const g = run('generate', '--model', STORIES, '--adapter', out, '--prompt', 'Once', '--max-tokens', '10', '--temperature', '0');
  assert.equal(g.code, 0, g.stderr);
  assert.ok(g.stdout.length > 1);
  // a text init and an adapter init
  const t2 = run('tune', '--model', STORIES, '--data', DATA, '--out', join(TMP, 'run-init'), '--steps', '1', '--init', 'text:Once upon a time', '--virtual-tokens', '6', '--max-length', '32');
  assert.equal(t2.code, 0, t2.stderr);
  const t3 = run('tune', '--model', STORIES, '--data', DATA, '--out', join(TMP, 'run-init2'), '--steps', '1', '--init', out, '--max-length', '32');
  assert.equal(t3.code, 0, t3.stderr);
  assert.equal(JSON.parse(readFileSync(join(TMP, 'run-init2', 'adapter_config.json'), 'utf8')).num_virtual_tokens, 4);
});

test('cli: tune --resume continues from the checkpoint exactly as the uninterrupted run', () => {
  const common = ['--model', STORIES, '--data', DATA, '--virtual-tokens', '4', '--batch-size', '2', '--max-length', '32', '--lr', '0.05',
    '--eval-split', '0', '--seed', '9', '--json'];
  const full = run('tune', ...common, '--out', join(TMP, 'full'), '--steps', '6');
  assert.equal(full.code, 0, full.stderr);
  const part = run('tune', ...common, '--out', join(TMP, 'part'), '--steps', '3', '--checkpoint-every', '3');
  assert.equal(part.code, 0, part.stderr);
  assert.ok(existsSync(join(TMP, 'part', 'checkpoint.bin')));
  const resumed = run('tune', '--resume', join(TMP, 'part'), '--steps', '6', '--json');
  assert.equal(resumed.code, 0, resumed.stderr);
  const losses = (s) => s.trim().split('\n').map((l) => JSON.parse(l)).map((l) => [l.step, l.loss]);
  assert.deepEqual(losses(resumed.stdout), losses(full.stdout).slice(3));
  assert.deepEqual(readFileSync(join(TMP, 'part', 'adapter_model.safetensors')), readFileSync(join(TMP, 'full', 'adapter_model.safetensors')));
  assertOneLineError(run('tune', '--resume', join(TMP, 'nothing-here')), 1, /^softprompt: error: SP_ERR_IO: .*checkpoint\.json/);
});

test('cli: ^C during tune stops after the step and keeps the prompt', async () => {
  const out = join(TMP, 'interrupted');
  const child = spawn(process.execPath, [CLI, 'tune', '--model', STORIES, '--data', DATA, '--out', out, '--steps', '100000',
    '--virtual-tokens', '2', '--batch-size', '2', '--max-length', '32', '--eval-split', '0', '--json'], { cwd: repoRoot() });
  let stdout = '';
  let stderr = '';
  let sent = false;
  child.stdout.on('data', (d) => {
    stdout += d;
    if (!sent && stdout.includes('\n')) {
      sent = true;
      child.kill('SIGINT');
    }
  });
  child.stderr.on('data', (d) => { stderr += d; });
  const code = await new Promise((resolve) => child.on('exit', (c) => resolve(c)));
  assert.equal(code, 130, stderr);
  assert.match(stderr, /interrupted/);
  assert.ok(existsSync(join(out, 'adapter_model.safetensors')));
  assert.ok(existsSync(join(out, 'adapter_config.json')));
  assert.ok(stdout.trim().split('\n').length < 100000);
});

test('cli: bench --json prints one object per thread count with the benchmark keys', () => {
  const r = run('bench', '--model', STORIES, '--json', '--seconds', '0.02', '--prompt-tokens', '16', '--decode-tokens', '8',
    '--train-batch', '2', '--train-tokens', '16');
  assert.equal(r.code, 0, r.stderr);
  const rows = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(rows.map((o) => o.threads), [1, 2]);
  for (const o of rows) {
    for (const k of ['threads', 'peak_gflops', 'gemm_gflops', 'prefill_tok_s', 'decode_tok_s', 'train_tok_s', 'train_gflops', 'peak_memory_bytes']) {
      assert.equal(typeof o[k], 'number', k);
      assert.ok(o[k] > 0, `${k} > 0`);
    }
  }
  assertOneLineError(run('bench', '--model', 'stories15M', '--type', 'F32,Q3_K'), 2, /--type: unknown weight type 'Q3_K'/);
  assertOneLineError(run('bench', '--model', join(TMP, 'none.gguf')), 1, /^softprompt: error: SP_ERR_IO: /);
});
