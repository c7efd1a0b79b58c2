#!/usr/bin/env node
// softprompt - command line for the softprompt engine (Node 20+).
//
//   softprompt info     --model PATH [--json]
//   softprompt generate --model PATH --prompt TEXT [--max-tokens N] [--temperature T] [--top-k K]
//                       [--top-p P] [--seed S] [--adapter DIR]
//   softprompt tune     --model PATH --data FILE --out DIR [options]   (softprompt help tune)
//   softprompt eval     --model PATH --data FILE [--adapter DIR] [--json]
//   softprompt nearest  --model PATH --adapter DIR [--k K] [--json]
//   softprompt bench    --model PATH [--threads N] [--json]
//   softprompt tokenize --model PATH (--text TEXT | --file FILE.jsonl) [--no-special] [--json]
// Every command takes --threads N. PATH is a .gguf file or a Hugging Face model folder
// (config.json, model.safetensors, tokenizer.json).
//
// Output: results on stdout (generate prints only the continuation, streaming, then a newline);
// diagnostics on stderr. Any error: exit status 1 (2 for usage errors) and ONE line on stderr,
// "softprompt: error: CODE: message", never a stack trace.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';
import { Softprompt, SoftpromptError, ErrorCodes } from '../web/softprompt.js';

const PROG = 'softprompt';

class UsageError extends Error {}

// ---------------------------------------------------------------- flags

// type: 'string' | 'int' | 'float' | 'bool' | string[] (one of)
const COMMON = { model: 'string', threads: 'int', help: 'bool' };

// The default suite (`bench` without --model): the real shapes users pick (src/model/presets.c),
// each at Q8_0, which both engines run; smollm2-135m also at F32 for the Q8_0 / F32 prefill ratio
// and the f32 targets, and qwen3-0.6b at Q4_K, whose rows are multiples of 256 (a pure K-quant).
// llama3.2-1b is left out for time: the peer alone needs ~15 min for it per thread count here.
const SUITE = [['smollm2-135m', 'F32'], ['smollm2-135m', 'Q8_0'], ['smollm2-360m', 'Q8_0'], ['gpt2-124m', 'Q8_0'], ['gemma3-270m', 'Q8_0'],
  ['qwen2.5-0.5b', 'Q8_0'], ['qwen3-0.6b', 'Q4_K']];

const COMMANDS = {
  info: {
    summary: 'print a model\'s facts',
    usage: 'info --model PATH [--json]',
    flags: { ...COMMON, json: 'bool' },
    required: ['model'],
  },
  generate: {
    summary: 'continue a prompt (prints only the continuation)',
    usage: 'generate --model PATH (--prompt TEXT | --messages FILE.json) [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S] [--adapter DIR] [--no-stop-at-eos]\n'
      + '--messages: a JSON list of {"role", "content"} rendered with the model\'s chat template (generation stops at its end-of-turn token).',
    flags: {
      ...COMMON, prompt: 'string', messages: 'string', 'max-tokens': 'int', temperature: 'float', 'top-k': 'int', 'top-p': 'float',
      seed: 'int', adapter: 'string', 'stop-at-eos': 'bool', 'no-bos': 'bool',
    },
    required: ['model'],
  },
  tune: {
    summary: 'learn a soft prompt (PEFT prompt or prefix tuning) from JSONL (text, input/output, chat messages), CSV, TSV or text data',
    usage: 'tune --model PATH --data FILE --out DIR [--method prompt|prefix] [--virtual-tokens N] '
      + '[--init random|vocab|text:STRING|DIR] [--optimizer adam|adamw|sgd] [--lr X] [--weight-decay X] '
      + '[--schedule constant|linear|cosine] [--warmup N] [--clip X] [--steps N | --epochs N] [--batch-size B] '
      + '[--max-length L] [--seed S] [--no-shuffle] [--eval-split F] [--eval-every K] [--patience N] '
      + '[--format auto|jsonl|csv|tsv|text] [--checkpoint-every K] [--resume DIR] [--json]',
    flags: {
      ...COMMON, data: 'string', out: 'string', method: ['prompt', 'prefix'], 'virtual-tokens': 'int', init: 'string',
      optimizer: ['adam', 'adamw', 'sgd'], lr: 'float', 'weight-decay': 'float', schedule: ['constant', 'linear', 'cosine'],
      warmup: 'int', clip: 'float', steps: 'int', epochs: 'int', 'batch-size': 'int', 'max-length': 'int', seed: 'int',
      shuffle: 'bool', 'eval-split': 'float', 'eval-every': 'int', patience: 'int', format: ['auto', 'jsonl', 'csv', 'tsv', 'text'],
      'checkpoint-every': 'int', resume: 'string', json: 'bool',
    },
    required: ['model', 'data', 'out'],
  },
  eval: {
    summary: 'loss and perplexity of data (with an adapter, or none)',
    usage: 'eval --model PATH --data FILE [--adapter DIR] [--max-length L] [--batch-size B] [--format F] [--json]',
    flags: { ...COMMON, data: 'string', adapter: 'string', 'max-length': 'int', 'batch-size': 'int', format: ['auto', 'jsonl', 'csv', 'tsv', 'text'], json: 'bool' },
    required: ['model', 'data'],
  },
  nearest: {
    summary: 'the nearest vocabulary tokens of each virtual token (cosine)',
    usage: 'nearest --model PATH --adapter DIR [--k K] [--json]',
    flags: { ...COMMON, adapter: 'string', k: 'int', json: 'bool' },
    required: ['model', 'adapter'],
  },
  tokenize: {
    summary: 'token ids of text, with the model\'s tokenizer only (no weights are loaded)',
    usage: 'tokenize --model PATH (--text TEXT | --file FILE.jsonl) [--no-special] [--json]\n'
      + 'PATH: a .gguf, a Hugging Face model folder, a folder with tokenizer.json (+ tokenizer_config.json), or a\n'
      + 'tokenizer.json file. FILE.jsonl: one JSON string or {"text": ...} per line. Prints one line per input: the\n'
      + 'ids separated by spaces, or with --json {"ids": [...], "tokens": [...]}. --no-special adds no BOS/EOS\n'
      + '(Hugging Face add_special_tokens=False).',
    flags: { ...COMMON, text: 'string', file: 'string', special: 'bool', json: 'bool' },
    required: ['model'],
  },
  bench: {
    summary: 'speed: probes, GEMM, prefill, decode and training (threads 1 and 2 unless --threads)',
    usage: 'bench [--model PATH|PRESET] [--type F32|F16|Q8_0|Q4_0|Q5_0|Q5_1|Q4_K|Q5_K|Q6_K[,...]] [--threads N] [--exact] '
      + '[--prompt-tokens N] [--decode-tokens N] [--train-batch B] [--train-tokens T] [--seconds S] [--repeats N] '
      + '[--no-probes] [--rounds N] [--browser] [--peer] [--json]\n'
      + 'PRESET: a random-weight model of a real shape (src/model/presets.c: stories15M, smollm2-135m, smollm2-360m, qwen2.5-0.5b,\n'
      + 'qwen3-0.6b, gemma3-270m, llama3.2-1b, gpt2-124m, ...; an unknown name lists them); a preset whose weights + K/V cache cannot\n'
      + 'fit the 4 GB wasm heap is a refused row naming the sizes;\n'
      + '--type may list several weight types (--type F32,Q8_0: the preset in each, in one run, with their ratios); K-quant rows\n'
      + 'not a multiple of 256 fall back as llama.cpp\'s do (Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0), the row naming the mix.\n'
      + '--exact: every matrix product exact f32 (no 16-bit activations with integer dot products on quantized weights).\n'
      + `Without --model: the default suite of random-weight presets, ${SUITE.map(([p, t]) => `${p} ${t}`).join(', ')}.\n`
      + '--peer also measures llama.cpp\'s wasm build (wllama, ../shared/peers/run.sh or SP_PEERS_DIR) in headless Chromium in the\n'
      + 'same run, on the same GGUF files (the presets then run on the harness\'s random-weight files of their shape), and prints\n'
      + 'the ratios. The first run installs the harness (npm) and writes its models (python3 with numpy).\n'
      + 'Each model and thread count runs on a fresh engine (so the inference memory is that of a fresh page); timings are\n'
      + 'the best of --repeats runs (default 3; prefill/decode of small models repeat until 4 x --seconds of generation).\n'
      + '--rounds N: each row on N fresh engines (per runtime), each rate the best of them (default: 2 with --browser;\n'
      + 'without it 2 for a row under 10 s, else 1).\n'
      + '--browser also runs the same benchmark in headless Chromium through the page\'s Web Worker (scripts/bench-browser.js)\n'
      + 'and prints the browser figures beside Node\'s. Both runtimes get the same treatment: the rounds alternate node,\n'
      + 'browser, browser, node, ... (both sample the same minutes: the cores\' speed drifts here), each rate is the best of\n'
      + 'its runtime\'s rounds, Chromium\'s threads (the peer\'s too) get the priority (nice and autogroup nice) of the bench\n'
      + 'process, as Node\'s worker threads have it, and neither is pinned to a CPU; the table prints how far one runtime\'s\n'
      + 'own rounds spread (the noise of the run beside the browser/node difference).',
    flags: {
      ...COMMON, json: 'bool', type: 'string', exact: 'bool', 'prompt-tokens': 'int', 'decode-tokens': 'int',
      'train-batch': 'int', 'train-tokens': 'int', seconds: 'float', probes: 'bool', repeats: 'int', rounds: 'int', browser: 'bool', peer: 'bool',
    },
    required: [],
  },
};

function parseFlags(cmd, argv) {
  const spec = COMMANDS[cmd].flags;
  const out = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--') || a === '--') throw new UsageError(`unexpected argument '${a}'`);
    let name = a.slice(2);
    let value;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    let negated = false;
    if (!(name in spec) && name.startsWith('no-') && spec[name.slice(3)] === 'bool') {
      negated = true;
      name = name.slice(3);
    }
    const type = spec[name];
    if (!type) throw new UsageError(`unknown flag --${name} for '${cmd}'`);
    if (name in out) throw new UsageError(`--${name} is given twice`);
    if (type === 'bool') {
      if (value !== undefined) {
        if (!/^(true|false|1|0)$/.test(value)) throw new UsageError(`--${name} takes no value (got '${value}')`);
        out[name] = (value === 'true' || value === '1') !== negated;
      } else {
        out[name] = !negated;
      }
      continue;
    }
    if (negated) throw new UsageError(`unknown flag --no-${name} for '${cmd}'`);
    if (value === undefined) {
      const next = argv[i + 1];
      const nextIsFlag = next !== undefined && next.startsWith('--') && next.slice(2).split('=')[0].replace(/^no-/, '') in spec;
      if (next === undefined || nextIsFlag) throw new UsageError(`--${name} needs a value`);
      value = argv[++i];
    }
    out[name] = convert(name, type, value);
  }
  return out;
}

function convert(name, type, value) {
  if (type === 'string') {
    if (value === '' && name !== 'prompt') throw new UsageError(`--${name} needs a non-empty value`);
    return value;
  }
  if (type === 'int') {
    if (!/^[+-]?\d+$/.test(value.trim())) throw new UsageError(`--${name} must be a whole number (got '${value}')`);
    const n = Number(value);
    if (!Number.isSafeInteger(n)) throw new UsageError(`--${name} is out of range (got '${value}')`);
    return n;
  }
  if (type === 'float') {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} must be a number (got '${value}')`);
    return n;
  }
  if (Array.isArray(type)) {
    if (!type.includes(value)) throw new UsageError(`--${name} must be one of ${type.join(', ')} (got '${value}')`);
    return value;
  }
  throw new Error(`bad flag type for ${name}`);
}

function helpText(cmd) {
  if (cmd && COMMANDS[cmd]) {
    const c = COMMANDS[cmd];
    return `usage: ${PROG} ${c.usage} [--threads N]\n\n${c.summary}.\nPATH is a .gguf file or a Hugging Face model folder.\n`;
  }
  const lines = Object.entries(COMMANDS).map(([k, c]) => `  ${k.padEnd(9)} ${c.summary}`);
  return `usage: ${PROG} <command> [flags]\n\ncommands:\n${lines.join('\n')}\n\n`
    + `Run '${PROG} help <command>' for its flags. PATH is a .gguf file or a Hugging Face model folder.\n`;
}

// ---------------------------------------------------------------- helpers

function oneLine(s) {
  return String(s).replace(/\s*\n\s*/g, ' ').trim();
}

function ioError(file, e) {
  const why = e?.code === 'ENOENT' ? 'no such file or directory' : e?.code === 'EISDIR' ? 'is a directory' : (e?.message ?? String(e));
  return new SoftpromptError(ErrorCodes.SP_ERR_IO, `cannot read ${file}: ${why}`);
}

function readFile(file, encoding) {
  try {
    if (file === '-') return fs.readFileSync(0, encoding);
    return fs.readFileSync(file, encoding);
  } catch (e) {
    throw ioError(file, e);
  }
}

function writeFileAtomic(file, data) {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    fs.writeFileSync(tmp, data);
    fs.renameSync(tmp, file);
  } catch (e) {
    try { fs.rmSync(tmp, { force: true }); } catch { /* ignore */ }
    throw new SoftpromptError(ErrorCodes.SP_ERR_IO, `cannot write ${file}: ${e?.message ?? e}`);
  }
}

function checkModelPath(p) {
  try {
    fs.statSync(p);
  } catch (e) {
    throw new SoftpromptError(ErrorCodes.SP_ERR_IO, `cannot read ${p}: ${e?.code === 'ENOENT' ? 'no such file or directory' : e?.message ?? e}`);
  }
}

function readAdapterDir(dir) {
  let st;
  try {
    st = fs.statSync(dir);
  } catch (e) {
    throw ioError(dir, e);
  }
  if (!st.isDirectory()) {
    throw new SoftpromptError(ErrorCodes.SP_ERR_IO, `${dir} is not a folder (an adapter is a folder with adapter_config.json and adapter_model.safetensors)`);
  }
  return {
    config: readFile(path.join(dir, 'adapter_config.json'), 'utf8'),
    safetensors: new Uint8Array(readFile(path.join(dir, 'adapter_model.safetensors'))),
  };
}

const out = (s) => process.stdout.write(s);
const diag = (s) => process.stderr.write(s.endsWith('\n') ? s : s + '\n');

// After a benchmark run: collect this thread's garbage now rather than on a V8 background thread
// during the next 2-thread run on this 2-core machine.
let gcNow = null;
function settleGarbage() {
  if (!gcNow) {
    try {
      v8.setFlagsFromString('--expose-gc');
      gcNow = vm.runInNewContext('gc');
    } catch {
      gcNow = () => {};
    }
  }
  gcNow();
  gcNow();
}

// Before each benchmark run: wait (at most 5 s) until the machine's cores are at least 90% idle
// over 200 ms, read from /proc/stat (elsewhere: 300 ms). A run must not share the cores with
// what came before it: Chromium keeps them 85% and then 37% busy in the first 400 ms after it
// starts (measured), and the first Node run follows that start.
async function waitForQuiet() {
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const sample = () => {
    try {
      const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
      return { idle: f[3] + (f[4] || 0), total: f.reduce((a, b) => a + b, 0) };
    } catch {
      return null;
    }
  };
  let a = sample();
  if (!a) { await sleep(300); return; }
  for (const end = Date.now() + 5000; Date.now() < end;) {
    await sleep(200);
    const b = sample();
    const busy = b.total > a.total ? 1 - (b.idle - a.idle) / (b.total - a.total) : 0;
    a = b;
    if (busy < 0.1) return;
  }
}

function openEngine(flags) {
  return Softprompt.create({ threads: flags.threads, worker: false });
}

async function openModel(sp, flags) {
  const p = path.resolve(flags.model);
  checkModelPath(p);
  return await sp.loadModel(p);
}

function fmt(x, d = 4) {
  return typeof x === 'number' && Number.isFinite(x) ? x.toFixed(d) : String(x);
}

// ---------------------------------------------------------------- commands

async function cmdInfo(flags) {
  const sp = await openEngine(flags);
  const model = await openModel(sp, flags);
  const info = { ...model.info };
  if (flags.json) {
    out(JSON.stringify(info) + '\n');
  } else {
    const w = Math.max(...Object.keys(info).map((k) => k.length));
    for (const [k, v] of Object.entries(info)) out(`${k.padEnd(w)}  ${typeof v === 'object' ? JSON.stringify(v) : v}\n`);
  }
  sp.terminate();
}

async function cmdGenerate(flags, signals) {
  if ((flags.prompt === undefined) === (flags.messages === undefined)) throw new UsageError('generate needs --prompt TEXT or --messages FILE.json (exactly one)');
  let prompt = flags.prompt;
  if (flags.messages !== undefined) {
    try {
      prompt = JSON.parse(readFile(flags.messages, 'utf8'));
    } catch (e) {
      if (e instanceof SoftpromptError) throw e;
      throw new SoftpromptError(ErrorCodes.SP_ERR_INVALID_ARG, `${flags.messages}: not JSON (${e.message})`);
    }
    if (!Array.isArray(prompt) || prompt.length === 0) throw new SoftpromptError(ErrorCodes.SP_ERR_INVALID_ARG, `${flags.messages}: expected a JSON list of {"role", "content"}`);
  }
  const sp = await openEngine(flags);
  const model = await openModel(sp, flags);
  let adapter = null;
  if (flags.adapter) adapter = await model.loadAdapter(readAdapterDir(flags.adapter));
  const ac = new AbortController();
  signals.onInterrupt = () => {
    ac.abort();
    return true;
  };
  const gen = model.generate(prompt, {
    maxTokens: flags['max-tokens'], temperature: flags.temperature, topK: flags['top-k'], topP: flags['top-p'],
    seed: flags.seed, adapter, signal: ac.signal, stopAtEos: flags['stop-at-eos'], addBos: flags['no-bos'] ? false : undefined,
  });
  let res;
  try {
    for await (const piece of gen) out(piece);
    res = await gen;
  } catch (e) {
    if (ac.signal.aborted && e?.code === ErrorCodes.SP_ERR_ABORTED) {
      out('\n');
      diag(`${PROG}: interrupted`);
      sp.terminate();
      process.exitCode = 130;
      return;
    }
    throw e;
  }
  out('\n');
  diag(`${PROG}: ${res.tokens.length} tokens (${res.finishReason}), prompt ${res.promptTokens.length} tokens, `
    + `${fmt(res.tokens.length / Math.max(1e-9, (res.totalMs - res.prefillMs) / 1000), 1)} tokens/s`);
  sp.terminate();
}

const TUNE_FLAG_TO_OPT = {
  method: 'method', 'virtual-tokens': 'virtualTokens', optimizer: 'optimizer', lr: 'lr', 'weight-decay': 'weightDecay',
  schedule: 'schedule', warmup: 'warmup', clip: 'clip', steps: 'steps', epochs: 'epochs', 'batch-size': 'batchSize',
  'max-length': 'maxLength', seed: 'seed', shuffle: 'shuffle', 'eval-split': 'evalSplit', 'eval-every': 'evalEvery',
  patience: 'patience', format: 'format',
};

async function cmdTune(flags, signals) {
  // --resume DIR: the run's folder (its checkpoint.json names the model, data and options).
  let saved = null;
  if (flags.resume) {
    const meta = path.join(flags.resume, 'checkpoint.json');
    try {
      saved = JSON.parse(readFile(meta, 'utf8'));
    } catch (e) {
      if (e instanceof SoftpromptError) throw e;
      throw new SoftpromptError(ErrorCodes.SP_ERR_FORMAT, `${meta}: not valid JSON`);
    }
    flags.out = flags.out ?? flags.resume;
    flags.model = flags.model ?? saved.model;
    flags.data = flags.data ?? saved.data;
    for (const [k, v] of Object.entries(saved.flags ?? {})) if (!(k in flags)) flags[k] = v;
  }
  for (const r of ['model', 'data', 'out']) if (flags[r] === undefined) throw new UsageError(`tune needs --${r}`);
  if (flags.steps !== undefined && flags.epochs !== undefined) throw new UsageError('give --steps or --epochs, not both');
  const opts = {};
  for (const [f, o] of Object.entries(TUNE_FLAG_TO_OPT)) if (flags[f] !== undefined) opts[o] = flags[f];
  const dataPath = flags.data === '-' ? '-' : path.resolve(flags.data);
  const data = readFile(dataPath, 'utf8');
  const outDir = path.resolve(flags.out);
  const checkpointEvery = flags['checkpoint-every'] ?? 10;
  if (checkpointEvery < 0) throw new UsageError('--checkpoint-every must be >= 0');

  const sp = await openEngine(flags);
  const model = await openModel(sp, flags);
  let initAdapter = null;
  if (flags.init !== undefined) {
    const v = flags.init;
    if (v === 'random' || v === 'vocab' || v === 'text') {
      if (v === 'text') throw new UsageError('--init text needs the text: --init text:STRING');
      opts.init = v;
    } else if (v.startsWith('text:')) {
      opts.init = 'text';
      opts.initText = v.slice(5);
    } else {
      initAdapter = await model.loadAdapter(readAdapterDir(v));
      opts.init = initAdapter;
    }
  }
  if (saved) {
    opts.resumeFrom = new Uint8Array(readFile(path.join(flags.resume, 'checkpoint.bin')));
  }
  try {
    fs.mkdirSync(outDir, { recursive: true });
  } catch (e) {
    throw new SoftpromptError(ErrorCodes.SP_ERR_IO, `cannot create ${outDir}: ${e?.message ?? e}`);
  }
  const savedFlags = {};
  for (const f of Object.keys(TUNE_FLAG_TO_OPT)) if (flags[f] !== undefined) savedFlags[f] = flags[f];
  if (flags.init !== undefined) savedFlags.init = flags.init;

  // the engine's parser reads the data once more for its warnings (one example, ...); its errors
  // are tune's own, with their line
  const seen = await model.dataPreview(data, { format: opts.format, limit: 0, maxLength: opts.maxLength });
  for (const w of seen.warnings ?? []) diag(`${PROG}: warning: ${w}`);
  const job = model.tune({ ...opts, data, checkpointEvery });
  let interrupted = false;
  signals.onInterrupt = () => {
    if (interrupted) return false; // second ^C: exit now
    interrupted = true;
    diag(`${PROG}: interrupted: stopping after this step and saving the prompt (^C again to quit at once)`);
    job.stop();
    return true;
  };
  let pending = null; // the last step's JSON line, held so its eval can join it
  const flush = () => {
    if (pending) out(JSON.stringify(pending) + '\n');
    pending = null;
  };
  job.on('progress', (s) => {
    if (flags.json) {
      flush();
      pending = {
        step: s.step, epoch: s.epoch, loss: s.loss, lr: s.lr, tokens: s.tokens,
        tokens_per_second: Math.round(s.tokensPerSecond * 10) / 10, elapsed_ms: Math.round(s.elapsedMs), total_steps: s.totalSteps,
      };
    } else {
      out(`step ${s.step}/${s.totalSteps}  epoch ${s.epoch}  loss ${fmt(s.loss)}  lr ${s.lr.toPrecision(3)}  ${Math.round(s.tokensPerSecond)} tok/s\n`);
    }
  });
  job.on('eval', (e) => {
    if (flags.json) {
      if (pending && pending.step === e.step) {
        pending.eval_loss = e.evalLoss;
        pending.perplexity = e.perplexity;
        if (e.accuracy !== undefined) pending.accuracy = e.accuracy;
      } else {
        diag(`${PROG}: eval at step ${e.step}: loss ${fmt(e.evalLoss)} perplexity ${fmt(e.perplexity, 2)}`);
      }
    } else {
      out(`eval at step ${e.step}: loss ${fmt(e.evalLoss)}  perplexity ${fmt(e.perplexity, 2)}${e.accuracy !== undefined ? `  accuracy ${fmt(e.accuracy, 3)}` : ''}\n`);
    }
  });
  job.on('checkpoint', (c) => {
    writeFileAtomic(path.join(outDir, 'checkpoint.bin'), c.bytes);
    writeFileAtomic(path.join(outDir, 'checkpoint.json'), JSON.stringify({
      version: 1, step: c.step, model: path.resolve(flags.model), data: dataPath, flags: savedFlags,
    }, null, 1) + '\n');
  });
  let res;
  try {
    res = await job.done;
  } catch (e) {
    flush();
    if (e.result?.adapter) {
      await saveAdapterDir(e.result.adapter, outDir);
      diag(`${PROG}: the last good prompt was saved to ${outDir}`);
    }
    throw e;
  }
  flush();
  const best = res.best ?? res.adapter;
  await saveAdapterDir(best, outDir);
  const last = res.history.steps.at(-1);
  const ev = res.history.evals.at(-1);
  diag(`${PROG}: ${res.reason === 'early-stop' ? 'stopped early' : res.reason} after ${last?.step ?? 0} steps`
    + `${last ? `, last loss ${fmt(last.loss)}` : ''}${ev ? `, eval loss ${fmt(ev.evalLoss)}` : ''}; wrote ${path.join(outDir, 'adapter_config.json')} and adapter_model.safetensors`);
  sp.terminate();
  if (interrupted) process.exitCode = 130;
}

async function saveAdapterDir(adapter, dir) {
  const files = await adapter.save();
  writeFileAtomic(path.join(dir, 'adapter_model.safetensors'), files.safetensors);
  writeFileAtomic(path.join(dir, 'adapter_config.json'), files.config.endsWith('\n') ? files.config : files.config + '\n');
}

async function cmdEval(flags) {
  const data = readFile(flags.data === '-' ? '-' : path.resolve(flags.data), 'utf8');
  const sp = await openEngine(flags);
  const model = await openModel(sp, flags);
  let adapter = null;
  if (flags.adapter) adapter = await model.loadAdapter(readAdapterDir(flags.adapter));
  const r = await model.evaluate(data, { adapter, maxLength: flags['max-length'], batchSize: flags['batch-size'], format: flags.format });
  if (flags.json) {
    out(JSON.stringify(r) + '\n');
  } else {
    out(`loss ${fmt(r.loss)}\nperplexity ${fmt(r.perplexity, 3)}\ntokens ${r.tokens}\nexamples ${r.examples}\n`);
    if (r.accuracy !== undefined) out(`accuracy ${fmt(r.accuracy, 4)}${r.labels ? ` (labels: ${r.labels.map((l) => JSON.stringify(l)).join(', ')})` : ''}\n`);
  }
  sp.terminate();
}

async function cmdNearest(flags) {
  const k = flags.k ?? 5;
  if (k < 1) throw new UsageError('--k must be at least 1');
  const sp = await openEngine(flags);
  const model = await openModel(sp, flags);
  const adapter = await model.loadAdapter(readAdapterDir(flags.adapter));
  const near = await adapter.nearest(k);
  if (flags.json) {
    out(JSON.stringify(near) + '\n');
  } else {
    near.forEach((row, i) => {
      out(`${String(i).padStart(3)}: ${row.map((t) => `${JSON.stringify(t.piece)} ${fmt(t.score, 3)}`).join('  ')}\n`);
    });
  }
  sp.terminate();
}

// A --model that is not a file or folder and looks like a name is a preset of the engine's table
// (src/model/presets.c); the engine refuses an unknown name with the list of the known ones.
const isPresetName = (s) => /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(s) && !/\.(gguf|safetensors|json)$/i.test(s);
const BENCH_TYPES = ['F32', 'F16', 'Q8_0', 'Q4_0', 'Q5_0', 'Q5_1', 'Q4_K', 'Q5_K', 'Q6_K'];
// The CPU as /proc/cpuinfo names it, e.g. "AMD EPYC (family 25, model 1), 2 logical CPUs": every
// figure of the bench belongs to one CPU, and the CPUs of these machines change between sessions.
function cpuModel() {
  let name = os.cpus()[0]?.model?.trim() || 'unknown CPU';
  let extra = '';
  try {
    const info = fs.readFileSync('/proc/cpuinfo', 'utf8');
    const field = (k) => info.match(new RegExp(`^${k}\\s*:\\s*(.*)$`, 'm'))?.[1]?.trim();
    name = field('model name') || name;
    if (field('cpu family') !== undefined) extra = ` (family ${field('cpu family')}, model ${field('model')})`;
  } catch {
    // not Linux: os.cpus() names it
  }
  return `${name}${extra}, ${os.cpus().length} logical CPUs`;
}

async function cmdBench(flags) {
  const threadList = flags.threads !== undefined ? [flags.threads] : [1, 2];
  const opts = {
    promptTokens: flags['prompt-tokens'], decodeTokens: flags['decode-tokens'], trainBatch: flags['train-batch'],
    trainTokens: flags['train-tokens'], seconds: flags.seconds, probes: flags.probes, repeats: flags.repeats,
  };
  for (const k of Object.keys(opts)) if (opts[k] === undefined) delete opts[k];
  if (flags.repeats !== undefined && (flags.repeats < 1 || flags.repeats > 100)) throw new UsageError('--repeats must be in 1..100');
  if (flags.rounds !== undefined && (flags.rounds < 1 || flags.rounds > 20)) throw new UsageError('--rounds must be in 1..20');
  // what to measure: a model file/folder, a preset, or the peer suite
  let targets;
  if (flags.model === undefined) {
    if (flags.type !== undefined) throw new UsageError('--type needs --model PRESET (a random-weight model, e.g. stories15M)');
    targets = SUITE.map(([preset, type]) => ({ preset, type }));
  } else if (!fs.existsSync(flags.model) && isPresetName(flags.model)) {
    const types = (flags.type ?? 'F32').split(',');
    for (const t of types) if (!BENCH_TYPES.includes(t)) throw new UsageError(`--type: unknown weight type '${t}' (${BENCH_TYPES.join(', ')})`);
    targets = [...new Set(types)].map((type) => ({ preset: flags.model, type }));
  } else {
    if (flags.type !== undefined) throw new UsageError('--type is for the random-weight presets (--model PRESET)');
    const p = path.resolve(flags.model);
    checkModelPath(p);
    targets = [{ path: p }];
  }
  // --peer: both engines read the same files. A preset runs on the harness's random-weight GGUF
  // file of its shape; any other GGUF file is handed to the harness as it is.
  let peer = null;
  if (flags.peer) {
    try {
      peer = await import('../scripts/bench-peer.js');
      diag(`${PROG}: the peer harness ${peer.peersDir()} (work folder ${peer.peersWork()})`);
      await peer.ensurePeerModels(diag);
    } catch (e) {
      throw new SoftpromptError(ErrorCodes.SP_ERR_UNSUPPORTED, `peer benchmark: ${e?.message ?? e}`);
    }
    const mapped = [];
    for (const t of targets) {
      if (t.preset) {
        const label = `${t.preset} ${t.type}`, name = peer.PEER_MODELS[label];
        if (name) { mapped.push({ path: peer.peerModelPath(name), label, peer: name, builtin: true }); continue; }
        // any other preset: this engine writes its random-weight model as a GGUF file both read
        let file = null;
        try {
          file = await peer.presetModelFile(t.preset, t.type, diag);
        } catch (e) {
          if (e?.code !== ErrorCodes.SP_ERR_TOO_LARGE) throw e;
        }
        mapped.push(file ? { path: file, label, peer: path.basename(file, '.gguf'), builtin: false, preset: t.preset, type: t.type } : t);
        continue;
      }
      if (/\.gguf$/i.test(t.path) && fs.statSync(t.path).isFile()) {
        mapped.push({ ...t, peer: path.basename(t.path).replace(/\.gguf$/i, '').replace(/[^\w.-]/g, '_') });
        continue;
      }
      mapped.push(t); // a Hugging Face folder: wllama reads GGUF only
    }
    targets = mapped;
  }
  const keyOf = (t, r) => t.label ?? (t.preset ? `${t.preset} ${t.type}` : `${path.basename(t.path)} ${r.type}`);
  const cpu = cpuModel();
  const report = (runtime, t, r) => {
    const key = keyOf(t, r);
    if (flags.json) {
      const extra = { rounds: r.rounds, nice: runtime === 'browser' ? r.priority?.nice ?? null : os.getPriority(),
        ...(runtime === 'browser' ? { user_agent: r.userAgent, nice_refused: r.priority?.refused ?? null } : {}) };
      out(JSON.stringify({ ...r.raw, model: t.path ?? r.model, runtime, cpu, ...extra, ...(t.label ? { preset: t.label } : {}) }) + '\n');
    } else {
      diag(`${PROG}: measured ${key} with ${r.threads} thread${r.threads > 1 ? 's' : ''} (${runtime})`);
    }
    return { key, threads: r.threads, r, runtime, target: t };
  };
  let session = null;
  if (flags.browser && flags.exact) throw new UsageError('--exact is measured in Node only (leave out --browser)');
  if (flags.browser) {
    // a model file or Hugging Face folder is served from its parent folder under /models/
    const parents = [...new Set(targets.filter((t) => t.path).map((t) => path.dirname(t.path)))];
    try {
      const { openBrowserBench } = await import('../scripts/bench-browser.js');
      session = await openBrowserBench({ modelsDir: parents[0] });
    } catch (e) {
      throw new SoftpromptError(ErrorCodes.SP_ERR_UNSUPPORTED, `browser benchmark: ${e?.message ?? e}`);
    }
  }
  const rows = [];
  const browserRows = [];
  const refused = []; // presets whose weights + K/V cache cannot fit the heap: SP_ERR_TOO_LARGE, named sizes
  const orRefused = async (t, runtime, threads, run) => {
    try {
      return await run();
    } catch (e) {
      if (!(t.preset && e?.code === ErrorCodes.SP_ERR_TOO_LARGE)) throw e;
      const row = { key: keyOf(t, {}), threads, runtime, message: e.message };
      refused.push(row);
      if (flags.json) out(JSON.stringify({ model: `${t.preset} ${t.type} (random)`, runtime, cpu, threads, refused: true, code: e.code, message: e.message }) + '\n');
      else diag(`${PROG}: ${row.key} with ${threads} thread${threads > 1 ? 's' : ''} (${runtime}) refused: ${e.message}`);
      return null;
    }
  };
  // Each Node run is a fresh engine in its own worker thread, as the page runs it.
  const nodeRun = async (t, threads) => {
    await waitForQuiet(); // the first run may follow Chromium's start-up
    const sp = await Softprompt.create({ threads: threads ?? flags.threads, worker: true, exact: flags.exact });
    try {
      if (!t.path) return await sp.bench({ ...opts, model: t.preset, type: t.type });
      const model = await sp.loadModel(t.path);
      const r = await model.bench(opts);
      await model.free();
      return r;
    } finally {
      sp.terminate();
      settleGarbage();
    }
  };
  const browserRun = async (t, threads) => {
    await waitForQuiet();
    try {
      return await session.run(t, threads, opts);
    } catch (e) {
      throw e instanceof SoftpromptError ? e : new SoftpromptError(ErrorCodes.SP_ERR_UNSUPPORTED, `browser benchmark: ${e?.message ?? e}`);
    }
  };
  try {
    // one fresh engine per (threads, model): wasm memory only grows, so the inference memory of a
    // model is only meaningful on an engine that has not run anything before. A row runs on
    // `rounds` fresh engines per runtime and each rate is the best of them: the cores' speed drifts
    // by up to 1.5x from minute to minute here, and a small model's decode rate moves by up to 20%
    // from one fresh engine to the next (where its weights land in the shared cache). With
    // --browser the rounds alternate node, browser, browser, node, ... so that both runtimes sample
    // the same minutes, by default 2 each; without it a row under SHORT_ROW_MS gets a second engine.
    // A model's thread counts run back to back (the 2-thread / 1-thread ratios compare the same
    // minutes); the tables list the rows by thread count.
    for (const t of targets) {
      for (const threads of threadList) {
        const t0 = Date.now();
        const r = await orRefused(t, 'node', threads, () => nodeRun(t, threads));
        const rb = session ? await orRefused(t, 'browser', threads, () => browserRun(t, threads)) : null;
        if (!r || (session && !rb)) {
          if (r) rows.push(report('node', t, { ...r, rounds: 1 }));
          if (rb) browserRows.push(report('browser', t, { ...rb, rounds: 1 }));
          continue;
        }
        const runs = { node: [r], browser: session ? [rb] : [] };
        const rounds = flags.rounds ?? (session ? 2 : Date.now() - t0 < SHORT_ROW_MS ? 2 : 1);
        for (let i = 1; i < rounds; i++) {
          for (const side of session ? (i % 2 ? ['browser', 'node'] : ['node', 'browser']) : ['node']) {
            runs[side].push(side === 'node' ? await nodeRun(t, threads) : await browserRun(t, threads));
          }
        }
        rows.push(report('node', t, bestOfRounds(runs.node)));
        if (session) browserRows.push(report('browser', t, bestOfRounds(runs.browser)));
      }
    }
  } finally {
    if (session) await session.close();
  }
  for (const list of [rows, browserRows]) list.sort((a, b) => a.threads - b.threads); // stable: targets' order within a count
  // the peer, after softprompt's rows (never at the same time: the cores are shared), same files
  let peerRun = null;
  if (peer) {
    const builtin = [...new Set(targets.filter((t) => t.peer && t.builtin).map((t) => t.peer))];
    const files = targets.filter((t) => t.peer && !t.builtin).map((t) => ({ name: t.peer, path: t.path }));
    if (builtin.length || files.length) {
      await waitForQuiet();
      diag(`${PROG}: measuring the peer (wllama in headless Chromium) on ${[...builtin, ...files.map((f) => f.name)].join(', ')}`);
      // the peer's Chromium gets the bench's priority as the browser rows' does (its pages and
      // workers start inside the harness, so their threads are matched once a second meanwhile)
      const { matchPriority } = await import('../scripts/bench-browser.js');
      const matching = setInterval(matchPriority, 1000);
      try {
        peerRun = await peer.runPeer({
          builtin, files, threads: threadList, reps: flags.repeats ?? 3, nPrompt: opts.promptTokens ?? 128, nGen: opts.decodeTokens ?? 64, log: diag,
        });
      } catch (e) {
        peerRun = { rows: new Map(), meta: {}, failure: e };
      } finally {
        clearInterval(matching);
      }
      if (peerRun.failure) {
        diag(`${PROG}: the peer benchmark failed: ${peerRun.failure.message}`);
        process.exitCode = 1;
      }
      for (const row of [...rows, ...browserRows]) row.peer = row.target.peer ? peerRun.rows.get(`${row.target.peer}|${row.threads}`) ?? null : null;
      if (flags.json) {
        for (const row of rows) {
          if (!row.peer) continue;
          out(JSON.stringify({
            runtime: 'peer', model: row.target.path, preset: row.target.label, peer_model: row.target.peer, threads: row.threads, cpu,
            prefill_tok_s: row.peer.prefill, decode_tok_s: row.peer.decode, prefill_tok_s_median: row.peer.prefillMedian,
            decode_tok_s_median: row.peer.decodeMedian, reps: row.peer.reps, error: row.peer.error, wllama: peerRun.meta.wllamaVersion,
            llama_cpp: peerRun.meta.libllamaVersion, browser: peerRun.meta.browserVersion,
          }) + '\n');
        }
      }
    }
  }
  if (flags.json) return;
  if (rows.length) printBenchTable(rows, flags.browser ? browserRows : null, { cpu, peer: peerRun, repeats: flags.repeats ?? 3 });
  for (const x of refused) out(`refused: ${x.key}, ${x.threads} thread${x.threads > 1 ? 's' : ''} (${x.runtime}): ${x.message}\n`);
}

// without --browser, rows measured faster than this get a second fresh engine (see cmdBench)
const SHORT_ROW_MS = 10000;

// the rates the browser table compares, and how far one runtime's rounds spread in each
const ROUND_RATES = { prefill: 'prefillTokS', decode: 'decodeTokS', train: 'trainTokS', GEMM: 'gemmGflops' };

// a row's rounds (fresh engines of one runtime) as one result: each rate the best of the rounds,
// with the count and, per compared rate, max / min over the rounds (1 for a single round)
function bestOfRounds(runs) {
  const r = runs.reduce(bestRates);
  const spread = {};
  for (const [phase, k] of Object.entries(ROUND_RATES)) {
    const xs = runs.map((x) => x[k]).filter((x) => x > 0);
    spread[phase] = xs.length ? Math.max(...xs) / Math.min(...xs) : null;
  }
  return { ...r, rounds: runs.length, spread };
}

// a's figures, each rate (tokens/s, GFLOP/s, GB/s) the better of a's and b's; both the API
// object and its raw JSON
function bestRates(a, b) {
  const best = (x, y, rate) => {
    const out = { ...x };
    for (const [k, v] of Object.entries(y)) if (rate.test(k) && typeof v === 'number' && !(out[k] >= v)) out[k] = v;
    return out;
  };
  const r = best(a, b, /(TokS|Gflops|GflopsAll|Gbs|GbsAll)$/);
  if (a.raw && b.raw) r.raw = best(a.raw, b.raw, /(tok_s|gflops|gflops_all|gbs|gbs_all)$/);
  return r;
}

const f1 = (x) => (x == null || !Number.isFinite(x) ? '-' : x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2));
const pct = (a, b) => (a > 0 && b > 0 ? `${Math.round((100 * a) / b)}%` : '-');
const mib = (x) => (x > 0 ? (x / 1048576).toFixed(0) : '-');
const times = (a, b) => (a > 0 && b > 0 ? `x${(a / b).toFixed(2)}` : '-');

function printTable(table) {
  const w = table[0].map((_, c) => Math.max(...table.map((row) => row[c].length)));
  for (const row of table) out(row.map((cell, c) => (c === 0 ? cell.padEnd(w[c]) : cell.padStart(w[c]))).join('  ') + '\n');
}

// a peer cell: its rate, 'FAILED' when the harness could not run that row, '-' when not measured
const peerCell = (p, k) => (!p ? '-' : p.error ? 'FAILED' : f1(p[k]));

// a row's model column: its key, then the types the model really holds where they are not the one
// its key names (a K-quant preset whose rows are not multiples of 256 holds llama.cpp's fallbacks)
const rowLabel = (key, r) => (r.weightTypes && r.weightTypes !== r.type ? `${key} [${r.weightTypes}]` : key);

function printBenchTable(rows, browserRows, { cpu, peer, repeats }) {
  out(`cpu: ${cpu}\n`);
  const head = ['model', 'thr', 'peak GF/s', 'GEMM GF/s', '%peak', 'prefill tok/s', 'peer', 'x peer', 'decode tok/s', 'peer', 'x peer', 'decode GB/s',
    '%copy', 'read GB/s', 'train tok/s', 'train GF/s', '%peak', 'train MiB', 'inf MiB', 'x(W+KV)', 'peak MiB'];
  const table = [head];
  for (const { key, threads, r, peer: p } of rows) {
    const peak = r.peakGflopsAll ?? r.peakGflops, copy = r.copyGbsAll ?? r.copyGbs; // this row's threads at once
    const ok = p && !p.error;
    table.push([
      rowLabel(key, r), String(threads), f1(peak), f1(r.gemmGflops), pct(r.gemmGflops, peak),
      f1(r.prefillTokS), peerCell(p, 'prefill'), ok ? times(r.prefillTokS, p.prefill) : '-',
      f1(r.decodeTokS), peerCell(p, 'decode'), ok ? times(r.decodeTokS, p.decode) : '-',
      f1(r.decodeGbs), pct(r.decodeGbs, copy), f1(r.readGbs), f1(r.trainTokS), f1(r.trainGflops), pct(r.trainGflops, peak),
      mib(r.trainHeapBytes), mib(r.inferenceMemoryBytes), r.inferenceMemoryRatio ? r.inferenceMemoryRatio.toFixed(2) : '-', mib(r.peakMemoryBytes),
    ]);
  }
  printTable(table);
  if (peer) {
    const m = peer.meta;
    out(`peer: llama.cpp's wasm build (wllama ${m.wllamaVersion ?? '?'}, llama.cpp ${m.libllamaVersion ?? '?'}) in headless Chromium ${m.browserVersion ?? '?'}, `
      + `measured in this run on the same GGUF files, after softprompt's rows; both sides the best of ${repeats} repeats; x peer: softprompt / peer;\n`
      + 'its Chromium\'s threads at the bench\'s priority, as the browser rows\' are\n');
  } else {
    out('peer: not measured in this run (--peer measures llama.cpp\'s wasm build, wllama, on the same files in the same run)\n');
  }
  out('128-token prompt and 64 decoded tokens unless --prompt-tokens / --decode-tokens;\n'
    + '[Q5_0 71%, Q4_K 29%]: the weight types a model holds by share of the bytes, where not one type (K-quant\n'
    + 'rows not a multiple of 256 fall back as llama.cpp\'s do: Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0);\n'
    + 'peak GF/s: the f32x4 mul+add probe run on the row\'s threads at once; %peak: of it; decode GB/s: the weights and\n'
    + 'the K/V cache rows a decoded token reads, per second; %copy: of the copy-bandwidth probe (same threads);\n'
    + 'read GB/s: a plain streaming read of 512 MiB on one thread (what decoding on one thread can reach); the memory\n'
    + 'probes report the better of 1 and 8 interleaved streams per thread, and are larger than the cache a process\n'
    + 'gets here, so they measure memory (src/kernels/probe.h);\n'
    + 'train MiB: what malloc had handed out while the tuner ran, weights included (measured);\n'
    + 'inf MiB: wasm heap after prefill + decode on a fresh engine, x(W+KV): that over weights + KV cache;\n'
    + 'peak MiB: heap after everything (probes, GEMM, training)\n');
  // 2 threads over 1, per model
  const by = new Map(rows.map((x) => [`${x.key}|${x.threads}`, x.r]));
  const speed = [];
  for (const key of [...new Set(rows.map((x) => x.key))]) {
    const a = by.get(`${key}|1`), b = by.get(`${key}|2`);
    if (a && b) speed.push(`${key}: prefill x${(b.prefillTokS / a.prefillTokS).toFixed(2)}, decode x${(b.decodeTokS / a.decodeTokS).toFixed(2)}, train x${(b.trainTokS / a.trainTokS).toFixed(2)}`);
  }
  if (speed.length) out(`2 threads / 1 thread: ${speed.join('; ')}\n`);
  printTargets(rows, by, peer);
  if (!browserRows) return;
  const bt = [['model', 'thr', 'prefill node', 'browser', 'b/n', 'decode node', 'browser', 'b/n', 'train node', 'browser', 'b/n',
    'GEMM node', 'browser', 'b/n', 'inf MiB node', 'browser']];
  let worst = 0;
  // the noise of this run: how far one runtime's own rounds of a row spread, per phase
  const noise = { node: {}, browser: {} };
  const addNoise = (side, r) => {
    for (const [phase, x] of Object.entries(r.spread ?? {})) if (x > (noise[side][phase] ?? 0)) noise[side][phase] = x;
  };
  for (const b of browserRows) {
    const n = by.get(`${b.key}|${b.threads}`);
    if (!n) continue;
    addNoise('node', n);
    addNoise('browser', b.r);
    const ratio = (x, y) => {
      if (!(x > 0 && y > 0)) return '-';
      worst = Math.max(worst, Math.abs(y / x - 1));
      return (y / x).toFixed(2);
    };
    bt.push([rowLabel(b.key, b.r), String(b.threads), f1(n.prefillTokS), f1(b.r.prefillTokS), ratio(n.prefillTokS, b.r.prefillTokS),
      f1(n.decodeTokS), f1(b.r.decodeTokS), ratio(n.decodeTokS, b.r.decodeTokS), f1(n.trainTokS), f1(b.r.trainTokS), ratio(n.trainTokS, b.r.trainTokS),
      f1(n.gemmGflops), f1(b.r.gemmGflops), ratio(n.gemmGflops, b.r.gemmGflops), mib(n.inferenceMemoryBytes), mib(b.r.inferenceMemoryBytes)]);
  }
  out('\n');
  printTable(bt);
  const ua = browserRows[0]?.r?.userAgent;
  const rounds = Math.min(...browserRows.map((b) => b.r.rounds ?? 1));
  const pri = browserRows.map((b) => b.r.priority).filter(Boolean);
  const refused = pri.reduce((a, p) => a + p.refused, 0);
  out(`browser: ${ua ? ua.replace(/^.*?(HeadlessChrome\/[\d.]+|Chrome\/[\d.]+).*$/, '$1') : 'chromium'}, headless, the page's Web Worker; `
    + `each side the best of ${rounds} fresh engine${rounds > 1 ? 's' : ''} per row${rounds > 1 ? ', run alternately (node, browser, browser, node, ...)' : ''};\n`
    + (pri.length ? `Chromium's threads at the bench's priority (nice ${pri[0].nice}${pri[0].groupNice !== null ? `, autogroup nice ${pri[0].groupNice}` : ''})`
      + `${refused ? `, except ${refused} that refused it` : ''}` : 'Chromium\'s priority not set (not Linux)') + '; neither side pinned to a CPU\n');
  if (rounds > 1) {
    const cell = (side) => Object.keys(ROUND_RATES).map((ph) => `${ph} x${(noise[side][ph] ?? 1).toFixed(2)}`).join(', ');
    out(`spread of one side's own rounds (max / min, largest over the rows): node ${cell('node')}; browser ${cell('browser')}\n`);
  }
  out(`largest browser/node difference ${(100 * worst).toFixed(0)}% (target: within 15%: ${worst <= 0.15 ? 'met' : 'NOT met'})\n`);
}

// The speed targets of the project, checked on this run's figures (ratios measured in the same run).
function printTargets(rows, by, peer) {
  const lines = [];
  const range = (xs) => (xs.length ? `${Math.round(100 * Math.min(...xs))}-${Math.round(100 * Math.max(...xs))}%` : null);
  const check = (name, xs, ok) => {
    const r = range(xs);
    if (r) lines.push(`  ${name}: ${r} (${ok(Math.min(...xs)) ? 'met' : 'NOT met'})`);
  };
  const xrange = (name, xs, goal) => {
    if (xs.length) lines.push(`  ${name}: x${Math.min(...xs).toFixed(2)}-x${Math.max(...xs).toFixed(2)} (${Math.min(...xs) >= goal ? 'met' : 'NOT met'})`);
  };
  const one = rows.filter((x) => x.threads === 1).map((x) => x.r);
  const peak = (r) => r.peakGflopsAll ?? r.peakGflops;
  // The roof is the f32x4 probe, so the GEMM and training targets are judged on F32 weights; on
  // quantized weights the forward products are integer dot products, whose rate is printed beside
  // them against the same probe but is not a verdict on the f32 kernels.
  const f32 = one.filter((x) => x.type === 'F32');
  check('GEMM on the model shapes, F32 weights, >= 80% of the f32 probe, 1 thread', f32.filter((r) => r.gemmGflops > 0 && peak(r) > 0).map((r) => r.gemmGflops / peak(r)), (m) => m >= 0.8);
  check('training step, F32 weights, >= 60% of the f32 probe, 1 thread', f32.filter((r) => r.trainGflops > 0 && peak(r) > 0).map((r) => r.trainGflops / peak(r)), (m) => m >= 0.6);
  const quant = one.filter((x) => x.type !== 'F32');
  const info = (name, xs) => {
    const r = range(xs);
    if (r) lines.push(`  ${name}: ${r} (no verdict: integer products on quantized weights, against the f32 probe)`);
  };
  info('GEMM on the model shapes, quantized weights, 1 thread', quant.filter((r) => r.gemmGflops > 0 && peak(r) > 0).map((r) => r.gemmGflops / peak(r)));
  info('training step, quantized weights, 1 thread', quant.filter((r) => r.trainGflops > 0 && peak(r) > 0).map((r) => r.trainGflops / peak(r)));
  const ratios = (field) => [...new Set(rows.map((x) => x.key))].map((k) => [by.get(`${k}|1`), by.get(`${k}|2`)])
    .filter(([a, b]) => a && b && a[field] > 0 && b[field] > 0).map(([a, b]) => b[field] / a[field]);
  xrange('2 threads >= 1.7 x 1 thread, prefill', ratios('prefillTokS'), 1.7);
  xrange('2 threads >= 1.7 x 1 thread, training', ratios('trainTokS'), 1.7);
  // Q8_0 prefill over the same model's F32 prefill, same thread count (integer dot products)
  const q8f32 = rows.filter((x) => / Q8_0$/.test(x.key)).map((x) => [x.r, by.get(`${x.key.replace(/ Q8_0$/, ' F32')}|${x.threads}`)])
    .filter(([q, f]) => f && q.prefillTokS > 0 && f.prefillTokS > 0).map(([q, f]) => q.prefillTokS / f.prefillTokS);
  xrange('Q8_0 prefill >= 1.5 x the same model\'s F32 prefill', q8f32, 1.5);
  for (const type of ['Q8_0', 'Q4_K', 'Q6_K']) {
    for (const t of [1, 2]) {
      const q = rows.filter((x) => x.threads === t && x.key.endsWith(` ${type}`)).map((x) => x.r);
      check(`${type} decoding >= 60% of the copy probe, ${t} thread${t > 1 ? 's' : ''}`, q.filter((r) => r.decodeGbs > 0 && (r.copyGbsAll ?? r.copyGbs) > 0).map((r) => r.decodeGbs / (r.copyGbsAll ?? r.copyGbs)), (m) => m >= 0.6);
    }
  }
  const mem = rows.map((x) => x.r.inferenceMemoryRatio).filter((v) => v > 0);
  if (mem.length) lines.push(`  inference heap <= 1.2 x (weights + KV): ${Math.min(...mem).toFixed(2)}-${Math.max(...mem).toFixed(2)} (${Math.max(...mem) <= 1.2 ? 'met' : 'NOT met'})`);
  if (peer) {
    // ahead of the peer on every model and thread count both ran, prefill and decode
    const both = rows.filter((x) => x.peer);
    const failed = both.filter((x) => x.peer.error).map((x) => `${x.key} ${x.threads}t`);
    const ok = both.filter((x) => !x.peer.error && x.peer.prefill > 0 && x.peer.decode > 0);
    const xs = ok.flatMap((x) => [x.r.prefillTokS / x.peer.prefill, x.r.decodeTokS / x.peer.decode]);
    const behind = ok.flatMap((x) => [['prefill', x.r.prefillTokS / x.peer.prefill], ['decode', x.r.decodeTokS / x.peer.decode]]
      .filter(([, v]) => !(v >= 1)).map(([k, v]) => `${x.key} ${x.threads}t ${k} x${v.toFixed(2)}`));
    if (xs.length) {
      lines.push(`  ahead of the peer (prefill and decode, every model and thread count both ran): x${Math.min(...xs).toFixed(2)}-x${Math.max(...xs).toFixed(2)} `
        + `(${behind.length || failed.length ? 'NOT met' : 'met'})${behind.length ? `; behind: ${behind.join(', ')}` : ''}`);
    } else {
      lines.push('  ahead of the peer: no row measured on both (NOT met)');
    }
    if (failed.length) lines.push(`  the peer failed on: ${failed.join(', ')}`);
  }
  if (lines.length) out(`targets, on this run:\n${lines.join('\n')}\n`);
}

async function cmdTokenize(flags) {
  if ((flags.text === undefined) === (flags.file === undefined)) throw new UsageError('tokenize needs exactly one of --text and --file');
  let inputs;
  if (flags.text !== undefined) {
    inputs = [flags.text];
  } else {
    inputs = [];
    readFile(flags.file, 'utf8').split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      let v;
      try {
        v = JSON.parse(line);
      } catch (e) {
        throw new SoftpromptError(ErrorCodes.SP_ERR_DATA, `${flags.file} line ${i + 1}: not JSON (${e.message})`);
      }
      if (v && typeof v === 'object' && typeof v.text === 'string') v = v.text;
      if (typeof v !== 'string') throw new SoftpromptError(ErrorCodes.SP_ERR_DATA, `${flags.file} line ${i + 1}: expected a JSON string or {"text": ...}`);
      inputs.push(v);
    });
  }
  const p = path.resolve(flags.model);
  checkModelPath(p);
  const tok = await Softprompt.loadTokenizer(p);
  try {
    for (const text of inputs) {
      const ids = await tok.tokenize(text, { addSpecialTokens: flags.special !== false });
      out(flags.json ? JSON.stringify({ ids, tokens: await tok.tokens(ids) }) + '\n' : ids.join(' ') + '\n');
    }
  } finally {
    tok.free();
  }
}

const RUN = { info: cmdInfo, generate: cmdGenerate, tune: cmdTune, eval: cmdEval, nearest: cmdNearest, bench: cmdBench, tokenize: cmdTokenize };

// ---------------------------------------------------------------- main

function die(e) {
  if (e instanceof UsageError) {
    process.stderr.write(`${PROG}: usage error: ${oneLine(e.message)} (see '${PROG} help')\n`);
    process.exit(2);
  }
  const se = e instanceof SoftpromptError ? e : new SoftpromptError(ErrorCodes.SP_ERR_INTERNAL, e?.message ?? String(e));
  process.stderr.write(`${PROG}: error: ${se.code}: ${oneLine(se.message)}\n`);
  process.exit(1);
}

async function main(argv) {
  const [cmd, ...rest] = argv;
  if (!cmd || cmd === 'help' || cmd === '--help' || cmd === '-h') {
    out(helpText(rest[0]));
    return;
  }
  if (cmd === '--version' || cmd === 'version') {
    const pkg = JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    out(`${pkg.version}\n`);
    return;
  }
  if (!COMMANDS[cmd]) throw new UsageError(`unknown command '${cmd}' (${Object.keys(COMMANDS).join(', ')})`);
  const flags = parseFlags(cmd, rest);
  if (flags.help) {
    out(helpText(cmd));
    return;
  }
  if (cmd !== 'tune' || !flags.resume) {
    for (const r of COMMANDS[cmd].required) if (flags[r] === undefined) throw new UsageError(`${cmd} needs --${r}`);
  }
  if (flags.threads !== undefined && (flags.threads < 1 || flags.threads > 64)) throw new UsageError('--threads must be in 1..64');
  const signals = { onInterrupt: null };
  process.on('SIGINT', () => {
    if (signals.onInterrupt && signals.onInterrupt() !== false) return;
    process.stderr.write(`${PROG}: interrupted\n`);
    process.exit(130);
  });
  await RUN[cmd](flags, signals);
}

process.on('uncaughtException', die);
process.on('unhandledRejection', die);
process.stdout.on('error', (e) => {
  if (e.code === 'EPIPE') process.exit(0);
  die(e);
});

main(process.argv.slice(2)).then(() => {
  // stdout to a pipe may still be draining
  process.stdout.write('', () => process.exit(process.exitCode ?? 0));
}, die);
