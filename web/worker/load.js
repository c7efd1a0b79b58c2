// load.js - worker operations: start the engine, report memory, load and free models.

import { ErrorCodes, fail } from '../errors.js';
import { IS_NODE, nodeModule, tick } from '../env.js';
import { loadEngine } from '../engine.js';
import { setupModelTokenizer } from '../tokenizer.js';
import { openPart, readIntoHeap, readAsText, readHead, withFile, hfName, baseName as fileName } from './sources.js';

const ST = 'model.safetensors';
const INDEX = 'model.safetensors.index.json';
const HF_FILES = ['config.json', ST, 'tokenizer.json'];
const SHARD_NAME = /^[\w.-]+\.safetensors$/; // a file beside the index, never a path
const GGUF_HEAD = 1 << 20; // the first read of a GGUF header; the plan asks for more when it is longer
const ST_HEAD = 1 << 16;   // of a safetensors header

/** A Node path that is a folder -> the HF source of its files (config.json, tokenizer.json, and
 *  model.safetensors or model.safetensors.index.json, whose shards are found beside it); anything
 *  else unchanged. */
function folderSource(source) {
  if (source.kind !== 'path' || !IS_NODE) return source;
  const fs = nodeModule('node:fs');
  let st = null;
  try {
    st = fs.statSync(source.path);
  } catch (err) {
    fail(ErrorCodes.SP_ERR_IO, `cannot read ${source.path}: ${err.code === 'ENOENT' ? 'no such file or directory' : err.message}`);
  }
  if (!st.isDirectory()) return source;
  const { join } = nodeModule('node:path');
  const files = {};
  const names = fs.existsSync(join(source.path, ST)) || !fs.existsSync(join(source.path, INDEX)) ? HF_FILES : ['config.json', INDEX, 'tokenizer.json'];
  for (const n of names) {
    const f = join(source.path, n);
    if (!fs.existsSync(f)) {
      fail(ErrorCodes.SP_ERR_IO, `${source.path} is a folder but has no ${n} (a model is a .gguf file or a Hugging Face folder with config.json, `
        + 'model.safetensors (or model.safetensors.index.json and its shards), tokenizer.json)');
    }
    files[n] = { kind: 'path', path: f, name: f };
  }
  return { kind: 'hf', files, name: source.path };
}

/** The file `name` beside `part` (same folder, same URL base), or undefined for bytes and blobs. */
function sibling(part, name) {
  if (part.kind === 'url') return { kind: 'url', url: new URL(name, part.url).href, name, cache: part.cache };
  if (part.kind === 'path') {
    const { join, dirname } = nodeModule('node:path');
    const p = join(dirname(part.path), name);
    return { kind: 'path', path: p, name: p, cache: part.cache };
  }
  return undefined;
}

/** The safetensors files of an HF source, opened: model.safetensors, or the shards that
 *  model.safetensors.index.json names (given among the files, or beside the index). A folder URL
 *  tries model.safetensors first and falls back to the index when the server has none (404). */
async function openSafetensors(ctx, id, f, job, fetchOptions) {
  let single = null;
  if (f[ST]) {
    try {
      return [await openPart(f[ST], job, fetchOptions)];
    } catch (err) {
      if (!(f[ST].kind === 'url' && !f[INDEX] && err.code === ErrorCodes.SP_ERR_NETWORK && /^HTTP 404/.test(err.message))) throw err;
      single = err;
    }
  }
  const idxPart = f[INDEX] ?? sibling(f[ST], INDEX);
  let index;
  try {
    const o = await openPart(idxPart, job, fetchOptions);
    index = await readAsText(ctx.getEngine(), o, job, ctx.progressReporter(id, 0));
  } catch (err) {
    if (single) fail(ErrorCodes.SP_ERR_NETWORK, `${single.message}, and ${err.message}: the folder has neither model.safetensors nor ${INDEX}`);
    throw err;
  }
  let map;
  try {
    map = JSON.parse(index).weight_map;
  } catch (err) {
    fail(ErrorCodes.SP_ERR_FORMAT, `${INDEX}: ${err.message}`);
  }
  if (!map || typeof map !== 'object' || Array.isArray(map)) fail(ErrorCodes.SP_ERR_FORMAT, `${INDEX}: no weight_map object`);
  const names = [...new Set(Object.values(map))];
  const bad = names.find((n) => typeof n !== 'string' || !SHARD_NAME.test(n) || n.startsWith('.'));
  if (bad !== undefined) fail(ErrorCodes.SP_ERR_FORMAT, `${INDEX}: weight_map names ${JSON.stringify(bad)}, not a .safetensors file beside it`);
  if (names.length < 1 || names.length > 64) fail(ErrorCodes.SP_ERR_FORMAT, `${INDEX}: weight_map names ${names.length} files (1 to 64)`);
  return await Promise.all(names.map(async (n) => {
    const part = f[n] ?? sibling(idxPart, n);
    if (!part) fail(ErrorCodes.SP_ERR_INVALID_ARG, `the shard ${n} that ${INDEX} names is missing from the files given`);
    part.cache = f[INDEX]?.cache ?? part.cache;
    return await openPart(part, job, fetchOptions);
  }));
}

/** A GGUF's memory plan from its header, read as far as the header goes (the rest is read later,
 *  by the same reader): SP_ERR_TOO_LARGE naming the sizes when weights + K/V cache cannot fit,
 *  before the rest is read or downloaded. Files of unknown size are checked as they arrive. */
async function planGguf(e, opened, job, prog) {
  if (opened.size < 0) return null;
  let n = Math.min(GGUF_HEAD, opened.size);
  for (;;) {
    const head = await readHead(opened, n, job, prog);
    const plan = withFile(() => e.planGguf(head, opened.size, fileName(opened.name)), opened.name);
    if (plan.complete || head.byteLength < n) return plan; // a file shorter than announced: the reader reports it
    n = Math.min(plan.header_bytes, opened.size);
  }
}

/** The same for an HF folder: config.json and the safetensors headers. */
async function planHf(e, config, shards, otherBytes, job, name, prog) {
  if (shards.some((o) => o.size < 0)) return null;
  let n = ST_HEAD;
  for (;;) {
    const heads = await Promise.all(shards.map((o) => readHead(o, Math.min(n, o.size), job, prog)));
    const plan = withFile(() => e.planHf(config, heads, shards.map((o) => o.size), otherBytes, fileName(name)), name);
    if (plan.complete || heads.every((h, i) => h.byteLength < Math.min(n, shards[i].size))) return plan;
    if (plan.header_bytes <= n) return plan;
    n = plan.header_bytes;
  }
}

async function loadModel(ctx, id, args) {
  const e = ctx.getEngine();
  const job = ctx.beginJob(id);
  let loaded = 0;
  const opened = []; // files opened: their readers are closed at the end, read to their end or not
  try {
    const source = folderSource(args.source);
    if (args.cache && !['cache', 'opfs', 'none'].includes(args.cache)) {
      fail(ErrorCodes.SP_ERR_INVALID_ARG, `loadModel: cache must be 'cache', 'opfs' or 'none' (got ${args.cache})`);
    }
    for (const part of source.kind === 'hf' ? Object.values(source.files) : [source]) part.cache = args.cache;
    let model;
    let name = '';
    if (source.kind === 'hf') {
      const f = source.files;
      const folder = source.name ?? hfName(f);
      // open every file first so the total is known up front
      const [cfgFile, tokFile] = await Promise.all(['config.json', 'tokenizer.json'].map((n) => {
        if (!f[n]) fail(ErrorCodes.SP_ERR_INVALID_ARG, `a Hugging Face model folder needs ${n}`);
        return openPart(f[n], job, args.fetchOptions);
      }));
      const shards = await openSafetensors(ctx, id, f, job, args.fetchOptions);
      opened.push(cfgFile, tokFile, ...shards);
      const sizes = [cfgFile.size, ...shards.map((o) => o.size), tokFile.size];
      // refused before anything is read or allocated when the files cannot fit
      e.checkRoom(sizes.reduce((a, b) => a + Math.max(0, b), 0), `the model folder (${sizes.join(' + ')} bytes of files)`);
      const prog = ctx.progressReporter(id, sizes.every((s) => s >= 0) ? sizes.reduce((a, b) => a + b, 0) : 0);
      const config = await readAsText(e, cfgFile, job, prog);
      const tok = await readAsText(e, tokFile, job, prog);
      // and when weights + K/V cache cannot fit, from the safetensors headers
      await planHf(e, config, shards, cfgFile.size + tokFile.size, job, folder, prog);
      const parts = [];
      try {
        for (const o of shards) parts.push(await readIntoHeap(e, o, job, prog));
      } catch (err) {
        for (const q of parts) e.free(q.p);
        throw err;
      }
      prog.report('load', undefined, true);
      loaded = prog.loaded;
      model = withFile(() => e.loadHfAt(config, parts, tok), folder);
      try {
        name = JSON.parse(config)._name_or_path || '';
      } catch { /* the C side checked it */ }
    } else {
      const file = await openPart(source, job, args.fetchOptions);
      opened.push(file);
      e.checkRoom(Math.max(0, file.size), fileName(file.name)); // the file itself first: no byte read
      const prog = ctx.progressReporter(id, Math.max(0, file.size));
      await planGguf(e, file, job, prog);
      const buf = await readIntoHeap(e, file, job, prog);
      prog.report('load', file.name, true);
      loaded = prog.loaded;
      await tick();
      if (job.cancelled) {
        e.free(buf.p);
        fail(ErrorCodes.SP_ERR_ABORTED, 'model load aborted');
      }
      model = withFile(() => e.loadGgufAt(buf.p, buf.size), file.name);
    }
    // the base model's id for saved adapters (base_model_name_or_path): the caller's; for an HF
    // folder the hub repo it came from, else its config's _name_or_path; for a GGUF the repo its
    // metadata names (general.source.*), else the hub repo the file came from. Never a GGUF's
    // display name or architecture.
    const baseName = args.name || (source.kind === 'hf' ? args.repo || name : model.info.source_repo || args.repo) || '';
    let tokenizer;
    try {
      tokenizer = await setupModelTokenizer(model, source); // tokenizer_config / generation_config, chat template
    } catch (err) {
      model.free();
      throw err;
    }
    const h = ctx.addModel(model, baseName);
    ctx.getModel(h).tokenizer = tokenizer; // the chat template and special-token texts (worker/data.js renders conversations)
    ctx.progress(id, { status: 'done', loaded, total: loaded });
    return { model: h, info: model.info, name: baseName, tokenizer };
  } finally {
    for (const o of opened) await o.close?.();
    job.controller?.abort(); // a download not read to its end (an error) stops here
    ctx.endJob(job);
  }
}

export const ops = {
  async init(ctx, id, args) {
    if (ctx.engine) fail(ErrorCodes.SP_ERR_STATE, 'the engine is already initialised');
    ctx.engine = await loadEngine({ threads: args.threads, wasmBase: args.wasmBase, exact: args.exact });
    if (args.jinjaUrl) (await import('../chat.js')).setJinjaUrl(args.jinjaUrl); // for conversation data
    return ctx.engine.info();
  },
  memory(ctx) {
    const e = ctx.getEngine();
    return { heapBytes: e.heapBytes(), heapUsed: e.heapUsed(), heapRoom: e.heapRoom(), models: ctx.models.size, adapters: ctx.adapters.size };
  },
  loadModel,
  modelInfo(ctx, id, args) {
    return ctx.getModel(args.model).model.info;
  },
  freeModel(ctx, id, args) {
    ctx.freeModelNow(args.model);
    return true;
  },
};
