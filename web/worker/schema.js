// schema.js - the engine worker's message protocol, declared once. The dispatcher (web/worker.js)
// validates every request against it before an operation runs; the client (web/softprompt.js)
// takes the option names it accepts from it; web/worker.d.ts holds the same messages as types.
//
//   -> {id, op, args}                       a request (op is a key of OPS; args as declared there)
//   <- {id, result} | {id, error: {code, message[, partial]}} | {id, progress}
//   -> {op: 'cancel'|'abort'|'pause'|'resume'|'stop', target: id}   control of a running request
//   <- {ready: true}                        when listening, and in reply to {hello: true}
//   <- {fatal: {code, message}}             the engine crashed (wasm trap/abort); the worker is done
//
// Argument types: 'handle' (a model/adapter handle, a positive integer), 'number' (finite; the C
// side checks the range), 'count' (a whole number >= 0), 'string', 'boolean', 'ids' (an array of
// integers), 'bytes' (an ArrayBuffer or a view), 'data' (text, an array of examples, or a Blob of
// text: the dispatcher reads a Blob in the worker, so a page never decodes megabytes itself),
// 'object', 'any'. A trailing '?' makes the argument optional (undefined and null count as absent;
// for a handle, 0 too).

import { ErrorCodes, fail } from '../errors.js';

/** Tuning options the client passes through: JS name -> the C option name (sp_tuner_create). */
export const TUNE_C_NAMES = {
  method: 'method', virtualTokens: 'virtual_tokens', init: 'init', initText: 'init_text', optimizer: 'optimizer',
  lr: 'lr', weightDecay: 'weight_decay', schedule: 'schedule', warmup: 'warmup', clip: 'clip', steps: 'steps',
  epochs: 'epochs', batchSize: 'batch_size', maxLength: 'max_length', seed: 'seed', shuffle: 'shuffle',
  evalSplit: 'eval_split', evalEvery: 'eval_every', patience: 'patience', memoryMb: 'memory_mb',
};

/** Sampling options of generate (the client accepts exactly these, plus its own). */
const SAMPLING = {
  maxTokens: 'count?', temperature: 'number?', topK: 'count?', topP: 'number?', seed: 'count?', stopAtEos: 'boolean?',
  addBos: 'boolean?',
};

/** Benchmark options (the client accepts exactly these). */
const BENCH = {
  promptTokens: 'count?', decodeTokens: 'count?', trainBatch: 'count?', trainTokens: 'count?', seconds: 'number?',
  probes: 'boolean?', repeats: 'count?',
};

/** op -> {args: {name: type}, group: the module under web/worker/ that runs it}. */
export const OPS = {
  init: { group: 'load', args: { threads: 'count?', wasmBase: 'string?', exact: 'boolean?', jinjaUrl: 'string?' } },
  memory: { group: 'load', args: {} },
  loadModel: { group: 'load', args: { source: 'object', fetchOptions: 'object?', cache: 'string?', name: 'string?', repo: 'string?' } },
  modelInfo: { group: 'load', args: { model: 'handle' } },
  freeModel: { group: 'load', args: { model: 'handle' } },

  tokenize: { group: 'generate', args: { model: 'handle', text: 'string', addBos: 'boolean?' } },
  detokenize: { group: 'generate', args: { model: 'handle', ids: 'ids' } },
  logits: { group: 'generate', args: { model: 'handle', adapter: 'handle?', ids: 'ids' } },
  embed: { group: 'generate', args: { model: 'handle', adapter: 'handle?', ids: 'ids', pooling: 'string?', normalize: 'boolean?' } },
  generate: { group: 'generate', args: { model: 'handle', adapter: 'handle?', prompt: 'string?', ids: 'ids?', ...SAMPLING } },

  tune: {
    group: 'tune',
    args: {
      model: 'handle', data: 'data', format: 'string?', initAdapter: 'handle?', resumeFrom: 'bytes?', checkpointEvery: 'count?',
      method: 'string?', virtualTokens: 'number?', init: 'string?', initText: 'string?', optimizer: 'string?', lr: 'number?',
      weightDecay: 'number?', schedule: 'string?', warmup: 'number?', clip: 'number?', steps: 'number?', epochs: 'number?',
      batchSize: 'number?', maxLength: 'number?', seed: 'number?', shuffle: 'boolean?', evalSplit: 'number?',
      evalEvery: 'count?', patience: 'number?', memoryMb: 'number?',
    },
  },
  evaluate: { group: 'tune', args: { model: 'handle', adapter: 'handle?', data: 'data', format: 'string?', maxLength: 'number?', batchSize: 'number?' } },
  dataPreview: { group: 'data', args: { model: 'handle?', data: 'data', format: 'string?', limit: 'count?', maxLength: 'count?', ids: 'boolean?' } },

  loadAdapter: { group: 'adapters', args: { model: 'handle', config: 'string', safetensors: 'bytes' } },
  saveAdapter: { group: 'adapters', args: { adapter: 'handle', baseModelName: 'string?' } },
  freeAdapter: { group: 'adapters', args: { adapter: 'handle' } },
  nearest: { group: 'adapters', args: { adapter: 'handle', k: 'count?' } },

  bench: { group: 'bench', args: { model: 'handle?', preset: 'string?', type: 'string?', ...BENCH } },
};

/** The control messages (no reply). */
export const CONTROL_OPS = ['cancel', 'abort', 'pause', 'resume', 'stop'];

/** The option names a public call accepts that map 1:1 onto worker arguments. */
export const GENERATE_OPTIONS = Object.keys(SAMPLING);
export const BENCH_OPTIONS = Object.keys(BENCH);
export const TUNE_OPTIONS = [...Object.keys(TUNE_C_NAMES).filter((k) => k !== 'init'), 'checkpointEvery', 'format'];

const show = (v) => JSON.stringify(v) ?? String(v);

function isBytesValue(v) {
  return v instanceof ArrayBuffer || ArrayBuffer.isView(v)
    || (typeof SharedArrayBuffer !== 'undefined' && v instanceof SharedArrayBuffer);
}

export function isBlobValue(v) {
  return typeof Blob !== 'undefined' && v instanceof Blob;
}

/** Does v have type t (without the '?')? -> null, or what it should have been. */
function mismatch(t, v) {
  switch (t) {
    case 'handle': return Number.isInteger(v) && v > 0 ? null : 'a handle (a positive integer)';
    case 'number': return typeof v === 'number' && Number.isFinite(v) ? null : 'a finite number';
    case 'count': return Number.isInteger(v) && v >= 0 ? null : 'a whole number >= 0';
    case 'string': return typeof v === 'string' ? null : 'a string';
    case 'boolean': return typeof v === 'boolean' ? null : 'true or false';
    case 'ids': return Array.isArray(v) && v.every((x) => Number.isInteger(x)) ? null : 'an array of integer token ids';
    case 'bytes': return isBytesValue(v) ? null : 'bytes (an ArrayBuffer or a typed array)';
    case 'data': return typeof v === 'string' || Array.isArray(v) || isBlobValue(v) ? null : 'text (JSONL, CSV, TSV, plain), a Blob of it, or an array of examples';
    case 'object': return v !== null && typeof v === 'object' && !Array.isArray(v) ? null : 'an object';
    case 'any': return null;
    default: return `a value of the undeclared type '${t}'`;
  }
}

/**
 * Check a request against OPS: a known op, no undeclared argument, every argument of its type.
 * Throws SoftpromptError SP_ERR_INVALID_ARG naming the op and the argument.
 */
export function validateRequest(op, args) {
  const spec = Object.prototype.hasOwnProperty.call(OPS, op) ? OPS[op] : null;
  if (!spec) fail(ErrorCodes.SP_ERR_INVALID_ARG, `unknown op '${op}' (known: ${Object.keys(OPS).join(', ')})`);
  if (args === null || typeof args !== 'object' || Array.isArray(args)) fail(ErrorCodes.SP_ERR_INVALID_ARG, `${op}: args must be an object`);
  for (const k of Object.keys(args)) {
    if (!Object.prototype.hasOwnProperty.call(spec.args, k) && args[k] !== undefined) {
      fail(ErrorCodes.SP_ERR_INVALID_ARG, `${op}: unknown option '${k}' (known: ${Object.keys(spec.args).join(', ')})`);
    }
  }
  for (const [k, type] of Object.entries(spec.args)) {
    const optional = type.endsWith('?');
    const t = optional ? type.slice(0, -1) : type;
    const v = args[k];
    if (v === undefined || v === null || (optional && t === 'handle' && v === 0)) {
      if (!optional) fail(ErrorCodes.SP_ERR_INVALID_ARG, `${op}: ${k} is required`);
      continue;
    }
    const want = mismatch(t, v);
    if (want) fail(ErrorCodes.SP_ERR_INVALID_ARG, `${op}: option ${k} must be ${want} (got ${show(v)})`);
  }
}

/** Reject option names a public call does not know: `${what}: unknown option 'x' (known: ...)`. */
export function checkOptionNames(what, options, known) {
  for (const k of Object.keys(options)) {
    if (!known.includes(k)) fail(ErrorCodes.SP_ERR_INVALID_ARG, `${what}: unknown option '${k}' (known: ${known.join(', ')})`);
  }
}
