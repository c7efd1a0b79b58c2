// load.js - worker operations: start the engine, report memory, load and free models.

import { ErrorCodes, fail } from '../errors.js';
import { IS_NODE, nodeModule, tick } from '../env.js';
import { loadEngine } from '../engine.js';
import { setupModelTokenizer } from '../tokenizer.js';
import { openPart, readIntoHeap, readAsText, withFile, hfName } from './sources.js';

const HF_FILES = ['config.json', 'model.safetensors', 'tokenizer.json'];

/** A Node path that is a folder -> the HF source of its three files; anything else unchanged. */
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
  for (const n of HF_FILES) {
    const f = join(source.path, n);
    if (!fs.existsSync(f)) {
      fail(ErrorCodes.SP_ERR_IO, `${source.path} is a folder but has no ${n} (a model is a .gguf file or a Hugging Face folder with config.json, model.safetensors, tokenizer.json)`);
    }
    files[n] = { kind: 'path', path: f, name: f };
  }
  return { kind: 'hf', files, name: source.path };
}

async function loadModel(ctx, id, args) {
  const e = ctx.getEngine();
  const job = ctx.beginJob(id);
  let loaded = 0;
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
      const opened = {};
      // open all three first so the total is known up front
      await Promise.all(HF_FILES.map(async (n) => {
        opened[n] = await openPart(f[n], job, args.fetchOptions);
      }));
      const sizes = Object.values(opened).map((o) => o.size);
      // refused before anything is read or allocated when the files cannot fit
      e.checkRoom(sizes.reduce((a, b) => a + Math.max(0, b), 0), `the model folder (${sizes.join(' + ')} bytes of files)`);
      const prog = ctx.progressReporter(id, sizes.every((s) => s >= 0) ? sizes.reduce((a, b) => a + b, 0) : 0);
      const config = await readAsText(e, opened['config.json'], job, prog);
      const tok = await readAsText(e, opened['tokenizer.json'], job, prog);
      const st = await readIntoHeap(e, opened['model.safetensors'], job, prog);
      prog.report('load', undefined, true);
      loaded = prog.loaded;
      model = withFile(() => e.loadHfAt(config, st.p, st.size, tok), source.name ?? hfName(f));
      try {
        name = JSON.parse(config)._name_or_path || '';
      } catch { /* the C side checked it */ }
    } else {
      const opened = await openPart(source, job, args.fetchOptions);
      const prog = ctx.progressReporter(id, Math.max(0, opened.size));
      const buf = await readIntoHeap(e, opened, job, prog);
      prog.report('load', opened.name, true);
      loaded = prog.loaded;
      await tick();
      if (job.cancelled) {
        e.free(buf.p);
        fail(ErrorCodes.SP_ERR_ABORTED, 'model load aborted');
      }
      model = withFile(() => e.loadGgufAt(buf.p, buf.size), opened.name);
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
