// app.js - the softprompt studio page: choose a model, give examples, train a soft prompt in the
// engine's Web Worker, compare outputs, look inside the prompt, keep it.
//
// The page uses only the public API of ./softprompt.js; the engine (C compiled to wasm) runs in
// the library's Worker, so nothing here blocks the page's thread for long. Everything the page
// keeps stays in this browser (IndexedDB, Cache API); the only network request it makes is for
// the model the user chooses.
//
// For tests and the curious, window.__softprompt exposes the page's state (see `debug` below).

import { Softprompt, threadsAvailable } from './softprompt.js';
import { isLabelLike } from './data.js';
import { LossChart } from './page/chart.js';
import * as store from './page/storage.js';
import { EXAMPLES, exampleById } from './page/examples.js';
import { MODELS, DEFAULT_MODEL, modelByUrl, modelLabel, sizeLabel } from './page/models.js';
import {
  $, el, setStatus, fmtBytes, fmtCount, fmtDuration, fmtLoss, fmtDate, showPiece, download, debounce, filesFromDrop, fieldMessage,
} from './page/ui.js';

const SETTINGS_KEY = 'softprompt-studio.settings.v1';
const NEAREST_K = 5;
const CHECKPOINT_EVERY = 5; // steps between the checkpoints kept in IndexedDB (resume after a reload)

// ---- state --------------------------------------------------------------------------------

const S = {
  sp: null, // Softprompt engine
  model: null, // Model
  tokAddsSpace: false, // the tokenizer puts a space before a separately tokenized output itself
  modelMeta: null, // {name, source, from}
  loadAbort: null, // AbortController of a model load
  data: { text: '', format: 'auto', preview: null, ok: false, seq: 0, file: null }, // file: {name, text} when too big for the box
  job: null, // TuneJob while training
  jobState: 'idle', // idle | running | pausing | paused | resuming | stopping | done | failed
  history: { train: [], eval: [], total: 0 }, // chart data of the current/last run
  active: null, // the soft prompt in use: {adapter, name, savedId, origin, method, losses, evals, finalLoss, evalLoss, settings}
  gens: [], // running Generation objects
  run: null, // the run being checkpointed: {token, writing: Promise|null, next: record|null, ended}
  resumeOffer: null, // the interrupted run found in IndexedDB, offered for resuming
};

// What tests (and curious people) can read: plain data only.
const debug = {
  get engine() { return S.sp ? { ...S.sp.info } : null; },
  get model() { return S.model ? { ...S.model.info, from: S.modelMeta?.from } : null; },
  get data() { return S.data.preview ? { count: S.data.preview.count, errors: S.data.preview.errors.length, format: S.data.preview.format } : null; },
  get trainState() { return S.jobState; },
  get losses() { return S.history.train.map((p) => p[1]); },
  get steps() { return S.history.train.map((p) => p[0]); },
  get resumeOffer() { return S.resumeOffer ? { step: S.resumeOffer.step, totalSteps: S.resumeOffer.totalSteps, canResume: !$('resume-run').disabled } : null; },
  checkpoint: null, // {step} of the last checkpoint written to IndexedDB
  get checkpointPending() { return !!S.run?.writing; }, // a checkpoint write to IndexedDB is under way
  resumedFrom: null, // the step the current/last run resumed from
  get evalLosses() { return S.history.eval.map((p) => p[1]); },
  get active() { return S.active ? { name: S.active.name, savedId: S.active.savedId, origin: S.active.origin, finalLoss: S.active.finalLoss } : null; },
  outputs: { plain: '', prompt: '' },
  chatPrompt: null, // the text the chat template made of the last "Try it" input, or null (raw text)
  lastError: null,
  workerPaused: false, // the worker acknowledged a pause of the run: no step until it is resumed
};
window.__softprompt = debug;

// ---- start --------------------------------------------------------------------------------

const trainChart = new LossChart($('loss-chart'), { title: 'Training loss' });
const insideChart = new LossChart($('inside-chart'), { title: 'Prompt loss' });

function setPageState(key, value) { document.body.dataset[key] = value; }

function showError(err, where = '') {
  const msg = err?.message ?? String(err);
  const code = err?.code ? ` (${err.code})` : '';
  debug.lastError = { where, code: err?.code ?? null, message: msg };
  $('error-text').textContent = `${where ? `${where}: ` : ''}${msg}${code}`;
  $('error-banner').hidden = false;
  console.error(where, err);
}
$('error-close').addEventListener('click', () => { $('error-banner').hidden = true; });

async function startEngine() {
  setPageState('engine', 'starting');
  try {
    S.sp = await Softprompt.create();
  } catch (e) {
    $('badge-engine').textContent = 'engine: failed';
    $('badge-engine').classList.add('badge-warn');
    setPageState('engine', 'failed');
    showError(e, 'The engine could not start (has `npm run build` been run?)');
    return;
  }
  const info = S.sp.info;
  refreshData.flush(); // data typed while the engine started is checked now
  $('badge-engine').textContent = `engine: ${info.isa === 'wasmsimd' ? 'wasm SIMD' : info.isa}`;
  $('badge-engine').title = `ABI ${info.abiVersion}, running in a ${info.mode === 'worker' ? 'Web Worker' : 'page thread'}`;
  const threads = $('badge-threads');
  if (info.threaded) {
    threads.textContent = `${info.threads} threads`;
    threads.classList.add('badge-ok');
  } else {
    threads.textContent = 'single-threaded';
    threads.classList.add('badge-warn');
  }
  if (!info.threaded || !globalThis.crossOriginIsolated) {
    const n = $('isolation-notice');
    const why = info.singleThreadReason || (!globalThis.crossOriginIsolated ? 'this page is not cross-origin isolated' : 'threads are not available here');
    n.textContent = `Running on one thread: ${why}. Everything works, only slower. `
      + 'Serving the page with the headers Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp '
      + '(as `npm start` does) lets the engine use several threads.';
    n.hidden = false;
  }
  S.sp.onerror = (e) => {
    showError(e, 'The engine stopped');
    setPageState('engine', 'failed');
  };
  setPageState('engine', 'ready');
  updateButtons();
  await offerResume();
  maybeLoadCachedModel();
}

// ---- 1. model -------------------------------------------------------------------------------

function modelNameFromUrl(url) {
  const path = String(url).split(/[?#]/)[0];
  const file = path.split('/').filter(Boolean).pop() || 'model';
  return file.replace(/\.gguf$/i, '');
}

function showLoadProgress({ loaded = 0, total = 0, label = '' }) {
  $('model-progress-wrap').hidden = false;
  const bar = $('model-progress');
  if (total > 0) {
    const pct = Math.min(100, (loaded / total) * 100);
    bar.classList.remove('indeterminate');
    bar.querySelector('.bar').style.width = `${pct.toFixed(1)}%`;
    bar.setAttribute('aria-valuenow', pct.toFixed(0));
    $('model-progress-text').textContent = `${label} ${fmtBytes(loaded)} of ${fmtBytes(total)}`;
  } else {
    bar.classList.add('indeterminate');
    bar.removeAttribute('aria-valuenow');
    $('model-progress-text').textContent = `${label} ${loaded ? fmtBytes(loaded) : ''}`;
  }
}

function hideLoadProgress() { $('model-progress-wrap').hidden = true; }

/** How an error names a URL the user typed: its file name, or the URL when it has none. */
function what0(url) { return modelNameFromUrl(url) === 'model' ? url : `${modelNameFromUrl(url)}${/\.gguf$/i.test(String(url).split(/[?#]/)[0]) ? '.gguf' : ''}`; }

// A URL to a Hugging Face folder, or to one of these files of it, loads that folder (the library
// fetches config.json, model.safetensors and tokenizer.json from it, and the chat template's files).
const HF_FOLDER_FILES = ['config.json', 'model.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json'];

/** The folder URL (ending in '/') when url is a Hugging Face folder or one of its files; else null. */
function hfFolderUrl(url) {
  const u = new URL(url, location.href);
  if (u.pathname.endsWith('/')) return u.href;
  const file = decodeURIComponent(u.pathname.split('/').pop());
  return HF_FOLDER_FILES.includes(file) ? new URL('.', u).href : null;
}

/** A folder's name: the repo for a hub URL (…/owner/repo/resolve/main/), else its last segment. */
function folderName(folder) {
  const path = new URL(folder).pathname;
  const hub = /\/([^/]+)\/resolve\/[^/]+\/$/.exec(path);
  return decodeURIComponent(hub ? hub[1] : path.split('/').filter(Boolean).pop() || 'model');
}

/** The file the model cache is asked about for a URL: the folder's weights, or the file itself. */
function cachedFileOf(url) {
  const folder = hfFolderUrl(url);
  return folder ? `${folder}model.safetensors` : url;
}

/** A model URL the URL box cannot load, named before anything is downloaded: a PEFT adapter's
 *  file, or another file that is not a model. */
function modelUrlProblem(url) {
  let path;
  try { path = new URL(url, location.href).pathname; } catch { return `“${url}” is not a URL`; }
  if (hfFolderUrl(url)) return null;
  const file = decodeURIComponent(path.split('/').pop());
  if (/^adapter_(config\.json|model\.safetensors)$/i.test(file)) {
    return `${file} is a file of a PEFT adapter, not a model. Load its base model here, then bring the adapter in with “Import PEFT files…” under “Keep it”.`;
  }
  if (/\.json$/i.test(file) || /\.safetensors$/i.test(file)) {
    return `${file} is not a model. Give the URL of a .gguf file, or of a Hugging Face folder (with config.json, model.safetensors and tokenizer.json).`;
  }
  return null;
}

/** "not a GGUF file" with what it looks like, naming what the user chose; null when it is one. */
async function notGguf(blob, what) {
  const head = new Uint8Array(await blob.slice(0, 16).arrayBuffer());
  if (head.length >= 4 && head[0] === 0x47 && head[1] === 0x47 && head[2] === 0x55 && head[3] === 0x46) return null; // "GGUF"
  const text = new TextDecoder().decode(head);
  const hex = [...head.subarray(0, 4)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  const looks = blob.size === 0 ? 'it is empty' : /^\s*<(!doctype|html)/i.test(text) ? 'it is a web page' : /^\s*[{[]/.test(text) ? 'it is JSON'
    : `it starts with the bytes ${hex}, not “GGUF”`;
  return `${what} is not a GGUF model file (${looks}). The URL box loads a .gguf file.`;
}

/** After the engine refused a URL's file as not GGUF: what the file is, from its first bytes. */
async function notGgufAt(url, what) {
  const res = await fetch(url, { headers: { Range: 'bytes=0-15' } });
  if (!res.ok || !res.body) return null;
  const reader = res.body.getReader();
  const { value } = await reader.read();
  reader.cancel().catch(() => {});
  return await notGguf(new Blob([value ?? new Uint8Array(0)]), what);
}

/** A model problem shown under the control that started the load, with focus moved there. */
function modelError(kind, message) {
  if (kind === 'url') fieldMessage($('model-url'), message, { after: $('model-url-form') });
  else fieldMessage($('model-file-btn'), message, { after: $('model-drop') });
  debug.lastError = { where: 'Model', code: null, message };
}

function clearModelErrors() {
  fieldMessage($('model-url'), '');
  fieldMessage($('model-file-btn'), '');
}

async function loadModelFrom(kind, what) {
  if (!S.sp) return;
  if (jobActive()) {
    modelError(kind, 'Stop the training run before changing the model.');
    return;
  }
  clearModelErrors();
  if (kind === 'url') {
    const bad = modelUrlProblem(what);
    if (bad) { setStatus($('model-status'), ''); modelError(kind, bad); setPageState('model', S.model ? 'loaded' : 'failed'); return; }
  }
  S.loadAbort?.abort();
  stopGenerations();
  const ac = new AbortController();
  S.loadAbort = ac;
  const status = $('model-status');
  setPageState('model', 'loading');
  const hadFocus = document.activeElement === $('model-load');
  $('model-load').disabled = true;
  if (hadFocus) { $('model-progress-wrap').hidden = false; $('model-cancel').focus(); } // not to <body>
  let name;
  let source;
  let from = 'file';
  let cacheNote = '';
  try {
    let input;
    let loadOpts = {};
    if (kind === 'url') {
      // The library downloads it in its worker and keeps it in this browser's model cache
      // (sp.cache), checked against the server's ETag on the next visit.
      const url = new URL(what, location.href).href;
      const folder = hfFolderUrl(url);
      name = folder ? folderName(folder) : modelNameFromUrl(url);
      source = what;
      const wasCached = await S.sp.cache.has(cachedFileOf(url)).catch(() => false);
      setStatus(status, wasCached ? `Reading ${name} from this browser’s cache…` : `Fetching ${name}…`);
      let downloaded = false;
      loadOpts = {
        cache: 'cache',
        onProgress: (p) => {
          if (p.status === 'download') downloaded = true;
          if (p.status === 'download' || p.status === 'read') showLoadProgress({ ...p, label: p.status === 'download' ? 'Downloading' : 'Read from this browser’s cache:' });
          else if (p.status === 'load') showLoadProgress({ loaded: 0, total: 0, label: 'The engine is parsing the model…' });
        },
        after: async () => {
          from = downloaded ? 'network' : 'cache';
          const kept = await S.sp.cache.has(cachedFileOf(url)).catch(() => false);
          cacheNote = !downloaded ? 'Loaded from this browser’s cache: no download needed.'
            : kept ? 'Saved in this browser’s cache: the next visit loads it from disk.'
              : 'Not kept in this browser’s cache (the browser refused to store it, perhaps for lack of room): the next visit downloads it again.';
        },
        failed: async (e) => {
          if (e?.code === 'SP_ERR_ABORTED') return null;
          // never keep what did not load
          for (const f of folder ? HF_FOLDER_FILES.map((n) => folder + n) : [url]) await S.sp.cache.delete(f).catch(() => {});
          if (folder && e?.code === 'SP_ERR_NETWORK' && /HTTP 404/.test(e.message)) {
            return `${what} is not a Hugging Face model folder (${e.message}). The URL box loads a .gguf file, or a folder with config.json, model.safetensors and tokenizer.json.`;
          }
          return !folder && e?.code === 'SP_ERR_FORMAT' ? await notGgufAt(url, what0(what)) : null;
        },
      };
      input = folder ?? url;
    } else {
      const files = [...what];
      const gguf = files.find((f) => /\.gguf$/i.test(f.name));
      if (gguf) { input = gguf; name = gguf.name.replace(/\.gguf$/i, ''); source = gguf.name; }
      else {
        const need = ['config.json', 'model.safetensors', 'tokenizer.json'];
        const missing = need.filter((n) => !files.some((f) => f.name === n));
        if (missing.length) {
          const got = files.length ? ` You chose ${files.slice(0, 4).map((f) => f.name).join(', ')}${files.length > 4 ? ', …' : ''}.` : '';
          throw Object.assign(new Error(`Choose a .gguf file, or a Hugging Face folder with config.json, model.safetensors and tokenizer.json (missing: ${missing.join(', ')}).${got}`), { shown: true });
        }
        input = files;
        const rel = files[0].webkitRelativePath || '';
        name = rel.includes('/') ? rel.split('/')[0] : what.folder || 'Hugging Face model'; // picked / dropped folder
        source = need.join(' + ');
      }
    }
    setStatus(status, `Loading ${name} into the engine…`);
    showLoadProgress({ loaded: 0, total: 0, label: 'Reading the weights…' });
    let model;
    try {
      model = await S.sp.loadModel(input, {
        signal: ac.signal,
        cache: loadOpts.cache,
        onProgress: loadOpts.onProgress ?? ((p) => {
          if (p.status === 'read' || p.status === 'download') showLoadProgress({ ...p, label: 'Reading' });
          else if (p.status === 'load') showLoadProgress({ loaded: 0, total: 0, label: 'The engine is parsing the model…' });
        }),
      });
    } catch (e) {
      const named = await loadOpts.failed?.(e).catch(() => null);
      throw named ? Object.assign(new Error(named), { shown: true }) : e;
    }
    await loadOpts.after?.();
    const previous = S.model ? S.modelMeta?.name ?? 'the previous model' : null;
    if (S.model) {
      await dropActivePrompt();
      S.model.free().catch(() => {});
    }
    S.model = model;
    // The file or folder name says more than a GGUF's general.name (often just "llama").
    S.modelMeta = { name: (name !== 'Hugging Face model' && name) || model.info.name || 'model', source, from };
    S.tokAddsSpace = await tokenizerAddsSpace(model);
    hideLoadProgress();
    setStatus(status, `${S.modelMeta.name} is ready${from === 'cache' ? ' (from the cache)' : ''}.`, 'ok');
    $('model-cache-line').textContent = cacheNote;
    showModelFacts();
    if (previous) forgetPreviousModelResults(previous);
    showChatOption();
    adviseModel();
    if ($('cache-view').open) renderCache();
    setPageState('model', 'loaded');
    setPageState('modelFrom', from);
    if (kind === 'url') rememberSettings();
    describeSettings(); // counts the new model's parameters
    refreshData.flush();
    renderSaved();
    offerResume();
  } catch (e) {
    hideLoadProgress();
    setPageState('model', S.model ? 'loaded' : 'failed');
    if (e?.name === 'AbortError' || e?.code === 'SP_ERR_ABORTED') { setStatus(status, 'Loading cancelled.'); }
    else {
      setStatus(status, '');
      const chosen = kind === 'url' ? what0(what) : name || 'the chosen files';
      modelError(kind, e.shown ? e.message : `Could not load ${chosen}: ${e.message}${e.code ? ` (${e.code})` : ''}`);
    }
  } finally {
    $('model-load').disabled = false;
    if (S.loadAbort === ac) S.loadAbort = null;
    updateButtons();
    // the Cancel button that held focus is hidden again: focus returns to where the load began
    if (document.activeElement === document.body || document.activeElement === $('model-cancel')) {
      (kind === 'url' ? $('model-load') : $('model-file-btn')).focus();
    }
  }
}

/** SentencePiece-style tokenizers add a space in front of text ("▁"): an output written with a
 *  leading space then starts with two. Probe it: ' a' needs one token more than 'a'. */
async function tokenizerAddsSpace(model) {
  try {
    const [a, sa] = await Promise.all([model.tokenize('a', { addBos: false }), model.tokenize(' a', { addBos: false })]);
    return sa.length > a.length;
  } catch { return false; }
}

function showModelFacts() {
  const i = S.model.info;
  // the loss of a blind guess, in the explanation: ln(vocabulary size) of this model
  $('chance-loss').textContent = Math.log(i.vocab_size).toFixed(1);
  $('chance-vocab').textContent = `${S.modelMeta.name}'s ${i.vocab_size.toLocaleString('en')}`;
  const facts = [
    ['name', S.modelMeta.name],
    ['type', `${i.arch} · ${i.format.toUpperCase()} · ${i.weight_types ?? i.file_type}`], // a mix (Q4_K_M) names its shares
    ['parameters', fmtCount(i.n_params)],
    ['layers', i.n_layers],
    ['width (dim)', i.dim],
    ['heads (kv)', `${i.n_heads} (${i.n_kv_heads})`],
    ['vocabulary', fmtCount(i.vocab_size)],
    ['context', fmtCount(i.context_length)],
    ['weights', fmtBytes(i.weight_bytes)],
    ['threads in use', S.sp.info.threads],
  ];
  const dl = $('model-facts');
  dl.replaceChildren(...facts.map(([k, v]) => el('div', {}, el('dt', {}, k), el('dd', {}, v))));
  dl.hidden = false;
  dl.dataset.layers = String(i.n_layers);
  dl.dataset.vocab = String(i.vocab_size);
}

async function maybeLoadCachedModel() {
  // A model already in this browser's cache loads without asking: it costs no download.
  let url;
  try { url = new URL($('model-url').value, location.href).href; } catch { return; }
  const hit = await S.sp.cache.has(cachedFileOf(url)).catch(() => false);
  if (hit && !S.model) loadModelFrom('url', $('model-url').value);
}

$('model-cancel').addEventListener('click', () => S.loadAbort?.abort());
$('model-url-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const url = $('model-url').value.trim();
  if (url) loadModelFrom('url', url);
});
$('model-file').addEventListener('change', (e) => {
  if (e.target.files.length) loadModelFrom('files', e.target.files);
  e.target.value = '';
});
$('model-dir').addEventListener('change', (e) => {
  // a picked folder: every file of it, with webkitRelativePath "folder/file" (the folder names the model)
  const files = [...e.target.files].filter((f) => f.webkitRelativePath.split('/').length === 2);
  if (files.length) loadModelFrom('files', files);
  e.target.value = '';
});
$('model-file-btn').addEventListener('click', () => $('model-file').click());
$('model-dir-btn').addEventListener('click', () => $('model-dir').click());
setupDrop($('model-drop'), async (dt) => {
  const files = await filesFromDrop(dt);
  if (files.length) loadModelFrom('files', files);
});

// ---- the model picker: it fills the URL box; Load downloads ----

function renderPicker() {
  const sel = $('model-pick');
  const cur = modelByUrl($('model-url').value);
  sel.replaceChildren(
    ...MODELS.map((m) => el('option', { value: m.id, selected: cur === m }, modelLabel(m, fmtBytes))),
    el('option', { value: 'custom', selected: !cur }, 'Another model: type its URL below, or choose files'),
  );
  describePick();
}

function describePick() {
  const m = MODELS.find((x) => x.id === $('model-pick').value);
  const note = $('model-pick-note');
  if (!m) { note.textContent = 'Any GGUF file by URL (it must allow this page to fetch it), or a file or folder from this device.'; return; }
  const where = m.local ? `served by this page’s server (${sizeLabel(m, fmtBytes)})`
    : `downloaded from Hugging Face (${sizeLabel(m, fmtBytes)}${m.exact ? '' : ', estimated from its parameter count'}), then kept in this browser`;
  note.textContent = `${m.note} Press Load: ${where}.${m.chat ? ' “Try it” wraps your input in its chat template.' : ''}`;
}

$('model-pick').addEventListener('change', () => {
  const m = MODELS.find((x) => x.id === $('model-pick').value);
  if (m) { $('model-url').value = m.url; clearModelErrors(); }
  describePick();
});
$('model-url').addEventListener('input', () => {
  const m = modelByUrl($('model-url').value);
  $('model-pick').value = m ? m.id : 'custom';
  describePick();
});

// ---- the model cache: what this browser keeps, and a way to empty it ----

async function renderCache() {
  let list = [];
  try { list = await S.sp.cache.list(); } catch (e) { setStatus($('cache-status'), `The model cache is unavailable here: ${e.message}`, 'err'); }
  $('cache-list').replaceChildren(...list.map((c) => {
    const del = el('button', { type: 'button', class: 'small link', 'data-url': c.url }, 'Remove');
    del.addEventListener('click', async () => {
      await S.sp.cache.delete(c.url);
      setStatus($('cache-status'), `Removed ${modelNameFromUrl(c.url)} from this browser.`, 'ok');
      await renderCache();
      $('cache-view').querySelector('summary').focus(); // the removed row's button is gone
    });
    const when = c.storedAt ? ` · kept ${fmtDate(c.storedAt)}` : '';
    return el('li', { 'data-url': c.url }, el('span', { title: c.url }, modelNameFromUrl(c.url)), ' ', el('span', { class: 'muted' }, `${c.size ? fmtBytes(c.size) : ''}${when}`), ' ', del);
  }));
  $('cache-empty').hidden = list.length > 0;
  $('cache-clear').disabled = list.length === 0;
  setPageState('cache', String(list.length));
}
$('cache-clear').addEventListener('click', async () => {
  const n = await S.sp.cache.clear();
  setStatus($('cache-status'), `Emptied (${n} file${n === 1 ? '' : 's'}): the next Load downloads again.`, 'ok');
  await renderCache();
  $('cache-view').querySelector('summary').focus(); // the button disabled itself
});
$('cache-view').addEventListener('toggle', () => { if ($('cache-view').open) renderCache(); });

function setupDrop(node, onDrop) {
  let depth = 0;
  node.addEventListener('dragenter', (e) => { e.preventDefault(); depth++; node.classList.add('over'); });
  node.addEventListener('dragover', (e) => { e.preventDefault(); e.dataTransfer.dropEffect = 'copy'; });
  node.addEventListener('dragleave', () => { if (--depth <= 0) { depth = 0; node.classList.remove('over'); } });
  node.addEventListener('drop', (e) => {
    e.preventDefault();
    depth = 0;
    node.classList.remove('over');
    onDrop(e.dataTransfer);
  });
}

// ---- 2. data --------------------------------------------------------------------------------

function renderExamples() {
  const box = $('example-buttons');
  box.replaceChildren(...EXAMPLES.map((ex) => el('button', {
    type: 'button', class: 'example small', 'data-example': ex.id, title: ex.blurb,
    onclick: () => useExample(ex.id),
  }, ex.title, el('small', {}, ex.short))));
}

function useExample(id) {
  const ex = exampleById(id);
  if (!ex) return;
  useBigFile(null);
  fieldMessage($('data-text'), '');
  $('data-text').value = ex.text;
  $('data-format').value = ex.format;
  if (ex.suggestedPrompt) $('try-input').value = ex.suggestedPrompt;
  refreshData.flush();
  saveDraft();
}

/** The example whose text is in the data box, or null. */
function currentExample() { return EXAMPLES.find((e) => e.text === S.data.text) ?? null; }

/** When the loaded model is too small for the chosen example's task, say so and offer the one
 *  that learns it (the examples name it: `needs`). */
function adviseModel() {
  const ex = currentExample();
  const box = $('task-advice');
  const need = ex?.needs ? MODELS.find((m) => m.id === ex.needs) : null;
  const loaded = S.model ? modelByUrl(S.modelMeta?.source ?? '') : null;
  if (!need || !S.model || loaded === need) { box.hidden = true; box.replaceChildren(); setPageState('advice', 'none'); return; }
  const use = el('button', { type: 'button', class: 'small', id: 'advice-load' }, `Load ${modelLabel(need, fmtBytes)}`);
  use.addEventListener('click', () => {
    $('model-url').value = need.url;
    $('model-pick').value = need.id;
    describePick();
    loadModelFrom('url', need.url);
  });
  box.replaceChildren(`“${ex.title}”: ${S.modelMeta.name} is too small to learn this task (trained with these settings, its answers stay near chance and it does not stop after them). ${need.name} learns it. `, use);
  box.hidden = false;
  setPageState('advice', 'shown');
}

/** The data as the engine reads it: {data, format}. A big file stays a Blob, read in the engine's
 *  worker (never decoded on the page's thread); the engine's parser reads every format. */
function engineData(format) {
  const file = S.data.file;
  return { data: file ? file.blob : S.data.text, format };
}

/** The first 64 KB of a file as text (a character cut at the end is dropped): what the box shows
 *  and what format detection reads. */
async function headText(blob) {
  return new TextDecoder().decode(new Uint8Array(await blob.slice(0, 65536).arrayBuffer()), { stream: true });
}

// The data box survives a reload: its text, or the big file itself (a Blob: IndexedDB keeps it
// without copying megabytes of text on the page's thread), is kept in IndexedDB.
const saveDraftNow = debounce(() => {
  const file = S.data.file;
  store.saveDraft(file ? { blob: file.blob, format: $('data-format').value, name: file.name, size: file.size }
    : { text: $('data-text').value, format: $('data-format').value })
    .then(() => setPageState('draft', 'saved'), () => setPageState('draft', 'unsaved'));
}, 500);
function saveDraft() { setPageState('draft', 'pending'); saveDraftNow(); }

async function restoreDraft() {
  let d = null;
  try { d = await store.getDraft(); } catch { d = null; }
  if (!d || $('data-text').value.trim() !== '') return;
  if (d.blob) {
    const head = await headText(d.blob);
    if ($('data-text').value.trim() !== '') return;
    useBigFile({ name: d.name ?? 'data', size: d.blob.size, blob: d.blob, head });
  } else if (typeof d.text === 'string') $('data-text').value = d.text;
  else return;
  $('data-format').value = d.format || 'auto';
  refreshData.flush();
}

const refreshData = debounce(async () => {
  const file = S.data.file;
  const text = file ? '' : $('data-text').value;
  const format = $('data-format').value;
  const seq = ++S.data.seq;
  S.data.text = text;
  S.data.format = format;
  if (!file && !text.trim()) {
    S.data.preview = null; S.data.ok = false;
    setStatus($('data-summary'), '');
    $('data-errors').hidden = true;
    $('data-preview').hidden = true;
    setPageState('data', 'empty');
    updateButtons();
    return;
  }
  let preview;
  try {
    if (!S.model && file) {
      // the engine's Worker reads and checks a big file once a model is loaded
      S.data.preview = null; S.data.ok = false;
      setStatus($('data-summary'), `${fmtBytes(file.size)} of data: it is read and checked in the engine once a model is loaded.`);
      $('data-errors').hidden = true;
      $('data-preview').hidden = true;
      setPageState('data', 'waiting');
      updateButtons();
      return;
    }
    if (!S.model && !S.sp) {
      // the engine's parser reads the data; startEngine checks it again once the engine runs
      S.data.preview = null; S.data.ok = false;
      setStatus($('data-summary'), 'The engine is starting: the data is checked once it runs.');
      setPageState('data', 'waiting');
      updateButtons();
      return;
    }
    if (file) {
      setStatus($('data-summary'), `Reading ${fmtBytes(file.size)} of data in the engine…`);
      setPageState('data', 'checking');
    }
    // the engine's parser reads every format (with a model, it also counts tokens)
    const eng = engineData(format);
    preview = await (S.model ?? S.sp).dataPreview(eng.data, { format: eng.format, limit: 6, maxLength: readSettings().maxLength });
    if (seq !== S.data.seq) return;
  } catch (e) {
    if (seq !== S.data.seq) return;
    preview = { format, kind: 'text', count: 0, examples: [], errors: [{ line: e.line ?? 1, message: e.message }] };
  }
  if (seq !== S.data.seq) return; // a newer edit arrived meanwhile
  S.data.preview = preview;
  S.data.ok = preview.count > 0 && preview.errors.length === 0;
  renderDataPreview(preview);
  adviseModel();
  describeSettings(); // batch size and eval split are checked against the data
  setPageState('data', S.data.ok ? 'ok' : 'invalid');
  updateButtons();
}, 250);

function renderDataPreview(p) {
  const kind = { text: 'text examples', 'input-output': 'input → output examples', chat: 'conversations', mixed: 'examples of mixed kinds' }[p.kind] ?? 'examples';
  let summary = `${p.count} ${kind}, read as ${p.format === 'text' ? 'plain text' : p.format === 'tsv' ? 'TSV (tab-separated)' : p.format.toUpperCase()}`;
  if (p.tokens) {
    summary += ` · ${fmtCount(p.tokens.total)} tokens (${p.tokens.min}–${p.tokens.max} each)`;
    if (p.tokens.truncated) summary += ` · ${p.tokens.truncated} longer than the max length will be cut`;
  }
  if (isLabelLike(p.labels, p.count)) summary += ` · labels: ${p.labels.map((l) => JSON.stringify(l)).join(', ')}`;
  if (p.errors.length) summary += ` · ${p.errors.length} problem${p.errors.length > 1 ? 's' : ''}`;
  setStatus($('data-summary'), summary, p.errors.length ? 'err' : p.count ? 'ok' : '');

  const errs = $('data-errors');
  // the engine's messages name their line already
  errs.replaceChildren(...p.errors.slice(0, 50).map((e) => el('li', {}, e.line && !e.message.startsWith('line ') ? `line ${e.line}: ${e.message}` : e.message)));
  if (p.errors.length > 50) errs.append(el('li', {}, `…and ${p.errors.length - 50} more`));
  errs.hidden = p.errors.length === 0;

  const tbody = $('data-preview').querySelector('tbody');
  tbody.replaceChildren(...p.examples.map((ex, i) => {
    const isPair = 'input' in ex;
    const n = p.tokens?.perExample?.[i];
    // a conversation: its prompt turns, and the assistant turns it learns
    const turns = (from, pick) => (ex.messages ?? []).filter((m, k) => pick(m, k >= from)).map((m) => `${m.role}: ${m.content}`).join('\n');
    return el('tr', {},
      el('td', { class: 'num' }, i + 1),
      el('td', {}, isPair ? ex.input : ex.messages ? turns(ex.train_from, (m, late) => !(late && m.role === 'assistant')) : ex.text ?? ''),
      isPair ? el('td', {}, ex.output) : ex.messages ? el('td', {}, turns(ex.train_from, (m, late) => late && m.role === 'assistant'))
        : el('td', { class: 'whole' }, 'the whole text'),
      el('td', { class: 'num' }, n ?? '–'));
  }));
  if (p.count > p.examples.length) {
    tbody.append(el('tr', {}, el('td', { colspan: 4, class: 'muted' }, `…and ${p.count - p.examples.length} more`)));
  }
  $('data-preview').hidden = p.examples.length === 0;

  const warn = $('data-warning');
  const spaced = p.examples.filter((e) => 'output' in e && /^ /.test(e.output)).length;
  const notes = [];
  if (p.count === 1 && !p.errors.length) {
    notes.push(p.format === 'text'
      ? 'Only one example: plain-text examples are separated by a blank line. With one, training repeats it and nothing can be held out.'
      : 'Only one example: training repeats it and nothing can be held out. Add more.');
  }
  if (S.tokAddsSpace && spaced > 0) {
    notes.push(`${spaced} of the first ${p.examples.length} outputs start with a space. This model's tokenizer puts a space `
      + 'in front of the output by itself, so the prompt would learn to write two. Remove the leading spaces.');
  }
  warn.textContent = notes.join(' ');
  warn.hidden = notes.length === 0;
  setPageState('dataWarning', notes.length ? (p.count === 1 ? 'one-example' : 'spaces') : 'none');
}

$('data-text').addEventListener('input', () => { fieldMessage($('data-text'), ''); refreshData(); saveDraft(); });
$('data-file-btn').addEventListener('click', () => $('data-file').click());
$('data-file-clear').addEventListener('click', () => { useBigFile(null); $('data-text').value = ''; refreshData.flush(); $('data-text').focus(); });
$('data-format').addEventListener('change', () => { refreshData.flush(); saveDraft(); });
$('data-file').addEventListener('change', async (e) => {
  const f = e.target.files[0];
  e.target.value = '';
  if (f) await loadDataFile(f);
});
setupDrop($('data-text'), async (dt) => { const f = dt.files?.[0]; if (f) await loadDataFile(f); });

// Text boxes get slow with megabytes in them: a big file is kept aside and the box shows its start.
const BIG_FILE = 256 * 1024;

function useBigFile(file) {
  S.data.file = file;
  const box = $('data-text');
  box.readOnly = !!file;
  $('data-file-line').hidden = !file;
  if (file) {
    box.value = `${file.head.slice(0, 4000)}\n…`;
    $('data-file-name').textContent = `Using all of ${file.name} (${fmtBytes(file.size)}). The box shows its beginning.`;
  }
}

/** What is wrong with a data file before it replaces the box, or null. Binary files are found by
 *  a NUL byte or bytes that are not UTF-8 in their first 64 KB. */
async function dataFileProblem(f) {
  if (f.size > 64 * 1024 * 1024) return `${f.name} is ${fmtBytes(f.size)}; the page takes data files up to 64 MB. Nothing was replaced.`;
  if (f.size === 0) return `${f.name} is an empty file — nothing replaced.`;
  const head = new Uint8Array(await f.slice(0, 65536).arrayBuffer());
  const binary = head.includes(0) || (() => {
    // a multi-byte character cut at the 64 KB boundary is not an error
    try { new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, head.length === 65536 ? head.length - 3 : head.length)); return false; } catch { return true; }
  })();
  if (binary) {
    const kind = head[0] === 0x89 && head[1] === 0x50 ? ' (a PNG image)' : head[0] === 0xff && head[1] === 0xd8 ? ' (a JPEG image)' : head[0] === 0x50 && head[1] === 0x4b ? ' (a ZIP archive)' : head[0] === 0x25 && head[1] === 0x50 ? ' (a PDF)' : '';
    return `${f.name} is a binary file${kind}, not text. Nothing was replaced: choose a JSONL, CSV, TSV or plain-text file.`;
  }
  return null;
}

async function loadDataFile(f) {
  const bad = await dataFileProblem(f);
  if (bad) { fieldMessage($('data-text'), bad, { focus: $('data-file-btn') }); setPageState('dataFile', 'refused'); return; }
  // a big file stays a Blob: the engine's worker reads it; the page decodes only its start
  const text = f.size > BIG_FILE ? await headText(f) : await f.text();
  if (!text.trim()) { fieldMessage($('data-text'), `${f.name} holds only blank lines: an empty file — nothing replaced.`, { focus: $('data-file-btn') }); setPageState('dataFile', 'refused'); return; }
  fieldMessage($('data-text'), '');
  if (f.size > BIG_FILE) useBigFile({ name: f.name, size: f.size, blob: f, head: text });
  else { useBigFile(null); $('data-text').value = text; }
  const n = f.name.toLowerCase();
  $('data-format').value = n.endsWith('.csv') ? 'csv' : n.endsWith('.tsv') || n.endsWith('.tab') ? 'tsv' : /\.(jsonl|ndjson|json)$/.test(n) ? 'jsonl' : /\.(txt|md)$/.test(n) ? 'auto' : 'auto';
  setPageState('dataFile', 'read');
  refreshData.flush();
  saveDraft();
}

// ---- 3. settings ----------------------------------------------------------------------------

const form = $('settings-form');

function readSettings() {
  const f = new FormData(form);
  const num = (k) => Number(f.get(k));
  return {
    method: f.get('method'),
    virtualTokens: Math.round(num('virtualTokens')),
    init: f.get('init'),
    initText: String(f.get('initText') ?? ''),
    lr: num('lr'),
    optimizer: f.get('optimizer'),
    length: Math.round(num('length')),
    lengthUnit: f.get('lengthUnit'),
    batchSize: Math.round(num('batchSize')),
    maxLength: Math.round(num('maxLength')),
    evalSplit: num('evalSplit'),
    evalEvery: Math.round(num('evalEvery')),
    seed: Math.round(num('seed')),
    keepBest: f.get('keepBest') === 'on',
  };
}

function writeSettings(s) {
  for (const [k, v] of Object.entries(s)) {
    const inputs = form.elements.namedItem(k);
    if (!inputs) continue;
    if (inputs instanceof RadioNodeList) { for (const r of inputs) r.checked = r.value === v; }
    else if (inputs.type === 'checkbox') inputs.checked = !!v;
    else inputs.value = v;
  }
}

// The ranges live once, in the form's min/max attributes; the page checks every number against
// them, so the red field and the Start button always agree.
const NUMBER_NAMES = { virtualTokens: 'virtual tokens', lr: 'the learning rate', length: 'the training length', batchSize: 'the batch size',
  maxLength: 'max length', evalSplit: 'the eval split', evalEvery: '“evaluate every”', seed: 'the seed' };

function settingsProblems(s) {
  const p = [];
  for (const [k, what] of Object.entries(NUMBER_NAMES)) {
    const input = form.elements.namedItem(k);
    const v = s[k];
    const min = Number(input.min);
    const max = Number(input.max);
    const whole = input.step !== 'any' && Number(input.step) >= 1;
    if (!Number.isFinite(v) || v < min || v > max || (whole && !Number.isInteger(Number(input.value)))) {
      p.push({ name: k, text: `${what} is ${whole ? 'a whole number' : 'a number'} from ${input.min} to ${input.max}` });
    }
  }
  if (s.init === 'text' && !s.initText.trim()) p.push({ name: 'initText', text: 'give the init text, or choose another start' });
  return p;
}

/** How many of n examples the engine holds out (sp_data_split's rule: round(split * n), at least
 *  1 when split > 0 and n >= 2, at most n - 1). */
function heldOutCount(n, split) {
  return split > 0 && n >= 2 ? Math.min(n - 1, Math.max(1, Math.round(split * n))) : 0;
}

// "% right" is shown only when it means something: a small set of label-like outputs, and enough
// held-out examples that one answer does not swing it by a third.
const MIN_EVAL_FOR_ACCURACY = 8;

// Every evaluation scores the whole held-out set; with a big file the eval split would hold out
// tens of thousands of examples (minutes per evaluation). The page then holds out a seeded
// sample of this many instead (the rest trains), and says so.
const EVAL_CAP = 500;

/** Advice that does not block Start: settings that are legal but will not do what one expects. */
function settingsWarnings(s) {
  const w = [];
  const n = S.data.ok ? S.data.preview?.count ?? 0 : 0;
  if (n > 0) {
    const nEval = heldOutCount(n, s.evalSplit);
    const nTrain = n - nEval;
    if (s.batchSize > nTrain) w.push(`A batch of ${s.batchSize} is more than the ${nTrain} training examples: each step sees every example ${s.batchSize > nTrain * 2 ? 'several times' : 'more than once'}, and “epochs” count fast. A batch of ${Math.max(1, Math.min(8, nTrain))} fits.`);
    if (nEval > EVAL_CAP) w.push(`The eval split holds out ${fmtCount(nEval)} examples; the page evaluates a sample of ${EVAL_CAP} of them, so evaluations stay quick.`);
    const labels = isLabelLike(S.data.preview?.labels, n);
    if (s.evalSplit > 0 && nEval < MIN_EVAL_FOR_ACCURACY) {
      w.push(`Only ${nEval} held-out example${nEval === 1 ? '' : 's'}: the eval loss is noisy${labels ? `, and no “% right” is shown (it needs at least ${MIN_EVAL_FOR_ACCURACY})` : ''}. More data, or a larger eval split, makes it steadier.`);
    }
  }
  if (s.lr > 1) w.push(`A learning rate of ${s.lr} is very high: the loss will likely jump or blow up. Soft prompts train well at 0.01–0.3 with Adam.`);
  else if (s.lr > 0 && s.lr < 1e-3) w.push(`A learning rate of ${s.lr} is very low for a soft prompt: the loss will barely move. Try 0.01–0.3.`);
  if (s.optimizer === 'sgd' && s.lr < 0.1) w.push('SGD needs a larger learning rate than Adam (try 1–10 for a soft prompt).');
  return w;
}

/** Prefix tuning starts from random numbers only: switch the start to "random" and disable the
 *  others while prefix is chosen (restoring the prompt-tuning choice when switching back). */
function syncInitChoices() {
  const prefix = form.elements.namedItem('method').value === 'prefix';
  const sel = $('init-select');
  for (const o of sel.options) o.disabled = prefix && o.value !== 'random';
  if (prefix && sel.value !== 'random') { S.promptInit = sel.value; sel.value = 'random'; }
  if (!prefix && S.promptInit) { sel.value = S.promptInit; S.promptInit = null; }
  $('init-hint').hidden = !prefix;
}

function describeSettings() {
  syncInitChoices();
  const s = readSettings();
  const problems = settingsProblems(s);
  const node = $('settings-summary');
  $('init-text-label').hidden = s.init !== 'text';
  for (const k of [...Object.keys(NUMBER_NAMES), 'initText']) {
    const input = form.elements.namedItem(k);
    const bad = problems.find((p) => p.name === k);
    if (bad) input.setAttribute('aria-invalid', 'true'); else input.removeAttribute('aria-invalid');
  }
  const warns = settingsWarnings(s);
  $('settings-warn').textContent = warns.join(' ');
  $('settings-warn').hidden = warns.length === 0;
  setPageState('settingsWarn', warns.length ? String(warns.length) : 'none');
  // "keep the lowest eval loss" needs held-out examples
  const keep = form.elements.namedItem('keepBest');
  keep.disabled = !(s.evalSplit > 0);
  keep.closest('label').title = keep.disabled ? 'needs an eval split above 0' : '';
  if (problems.length) {
    setStatus(node, `Fix: ${problems.map((p) => p.text).join('; ')}.`, 'err');
    setPageState('settings', 'invalid');
    updateButtons();
    return;
  }
  setPageState('settings', 'ok');
  let trained = '';
  if (S.model) {
    const i = S.model.info;
    const n = s.method === 'prompt' ? s.virtualTokens * i.dim : s.virtualTokens * i.n_layers * 2 * i.n_kv_heads * i.head_dim;
    trained = ` That is ${fmtCount(n)} trainable numbers against the model's ${fmtCount(i.n_params)} frozen ones (${((n / i.n_params) * 100).toFixed(2)}%).`;
  }
  setStatus(node, `${s.method === 'prompt' ? 'Prompt' : 'Prefix'} tuning with ${s.virtualTokens} virtual tokens, ${s.optimizer === 'sgd' ? 'SGD' : s.optimizer === 'adamw' ? 'AdamW' : 'Adam'} at ${s.lr}, for ${s.length} ${s.lengthUnit}.${trained}`);
  updateButtons();
}

function rememberSettings() {
  try { localStorage.setItem(SETTINGS_KEY, JSON.stringify({ ...readSettings(), modelUrl: $('model-url').value })); } catch { /* private mode */ }
}

function restoreSettings() {
  try {
    const s = JSON.parse(localStorage.getItem(SETTINGS_KEY) ?? 'null');
    if (!s) return;
    const { modelUrl, ...rest } = s;
    writeSettings(rest);
    if (modelUrl) $('model-url').value = modelUrl;
  } catch { /* ignore a broken entry */ }
}

form.addEventListener('input', () => { describeSettings(); rememberSettings(); });
form.addEventListener('change', () => { describeSettings(); rememberSettings(); });
form.addEventListener('submit', (e) => e.preventDefault());

// ---- 4. training ----------------------------------------------------------------------------

function setJobState(st) {
  S.jobState = st;
  setPageState('train', st);
  const pill = $('train-state');
  const labels = { idle: 'ready', running: 'training…', pausing: 'pausing…', paused: 'paused', resuming: 'resuming…', stopping: 'stopping…', done: 'done', failed: 'failed' };
  pill.textContent = labels[st] ?? st;
  pill.className = `pill ${st === 'running' || st === 'pausing' || st === 'resuming' || st === 'stopping' ? 'running' : st === 'done' ? 'done' : st === 'failed' ? 'error' : ''}`;
  updateButtons();
}

// A run is under way from its start until it ends. 'pausing' and 'resuming' last until the worker
// acknowledges: 'paused' is shown only once no step runs any more (a step under way finishes first).
const jobActive = () => ['running', 'pausing', 'paused', 'resuming', 'stopping'].includes(S.jobState);

// Where focus goes when the focused button disables itself (never to <body>).
const FOCUS_NEXT = {
  'train-start': ['train-pause', 'train-stop'], 'train-pause': ['train-resume', 'train-stop', 'train-state'], 'train-resume': ['train-pause', 'train-stop'],
  'train-stop': ['train-start', 'try-run', 'train-state'], 'try-run': ['try-stop', 'try-input'], 'try-stop': ['try-run', 'try-input'],
  'save-btn': ['export-btn', 'save-name'], 'export-btn': ['save-name'],
};

function updateButtons() {
  const focused = document.activeElement;
  updateButtonStates();
  if (focused?.disabled && FOCUS_NEXT[focused.id]) {
    const next = FOCUS_NEXT[focused.id].map((id) => $(id)).find((n) => n && !n.disabled && !n.hidden);
    next?.focus();
  }
}

function updateButtonStates() {
  const hasModel = !!S.model;
  const training = jobActive();
  const settingsOk = settingsProblems(readSettings()).length === 0;
  $('train-start').disabled = !hasModel || !S.data.ok || training || !settingsOk || S.gens.length > 0;
  $('train-pause').disabled = S.jobState !== 'running';
  $('train-resume').disabled = S.jobState !== 'paused';
  $('train-stop').disabled = !jobActive() || S.jobState === 'stopping';
  $('try-run').disabled = !hasModel || training;
  $('try-stop').disabled = S.gens.length === 0;
  $('save-btn').disabled = !S.active || S.active.savedId !== undefined || training;
  $('export-btn').disabled = !S.active || training;
  if (!training && S.jobState !== 'done' && S.jobState !== 'failed') {
    const pill = $('train-state');
    pill.textContent = !hasModel ? 'waiting for a model' : !S.data.ok ? 'waiting for valid data' : 'ready';
  }
}

/** A new model: the last run's curve and the texts in "Try it" belong to the previous model (its
 *  prompt was dropped with it), so they go, and the note says where that prompt is. */
function forgetPreviousModelResults(previous) {
  if (!S.history?.train.length && !debug.outputs.plain && !debug.outputs.prompt) return;
  S.history = { train: [], eval: [], total: 0 };
  trainChart.setSeries({ train: [], eval: [], total: 0 });
  resetStats();
  setJobState('idle');
  $('train-note').textContent = `The last run trained a prompt for ${previous}; a prompt only fits the model it was trained on (a saved one is under “Keep it”). Start trains one for ${S.modelMeta.name}.`;
  for (const id of ['out-plain', 'out-prompt']) { $(id).replaceChildren(); $(id).removeAttribute('title'); }
  $('active-prompt-name').textContent = '';
  debug.outputs = { plain: '', prompt: '' };
}

function resetStats() {
  for (const id of ['st-step', 'st-epoch', 'st-loss', 'st-eval', 'st-tps', 'st-eta']) $(id).textContent = '–';
  $('train-progress').querySelector('.bar').style.width = '0%';
}

/** Start a run from the settings and data on the page, or resume the interrupted run `rec`
 *  (its settings, data and checkpoint, kept in IndexedDB). */
async function startTraining(rec = null) {
  const s = rec ? rec.settings : readSettings();
  if (!S.model || (!rec && !S.data.ok)) return;
  rememberSettings();
  hideResumeOffer();
  if (rec) {
    S.history = { train: rec.losses.map((p) => p.slice()), eval: rec.evalLosses.map((p) => p.slice()), total: rec.totalSteps };
  } else {
    S.history = { train: [], eval: [], total: s.lengthUnit === 'steps' ? s.length : 0 };
  }
  trainChart.setSeries({ train: S.history.train, eval: S.history.eval, total: S.history.total });
  resetStats();
  $('train-note').textContent = rec ? `Resumed from the checkpoint at step ${rec.step}.` : '';
  debug.resumedFrom = rec ? rec.step : null;
  setJobState('running');
  const options = rec ? { ...rec.options } : {
    format: S.data.format,
    method: s.method,
    virtualTokens: s.virtualTokens,
    init: s.init,
    initText: s.initText,
    optimizer: s.optimizer,
    lr: s.lr,
    steps: s.lengthUnit === 'steps' ? s.length : 0,
    epochs: s.lengthUnit === 'epochs' ? s.length : 1,
    batchSize: s.batchSize,
    maxLength: s.maxLength,
    evalSplit: s.evalSplit,
    evalEvery: s.evalEvery,
    seed: s.seed,
  };
  const nData = S.data.preview?.count ?? 0;
  const wantEval = heldOutCount(nData, s.evalSplit);
  if (!rec && wantEval > EVAL_CAP) {
    options.evalSplit = EVAL_CAP / nData;
    $('train-note').textContent = `Held out a sample of ${EVAL_CAP} examples instead of the ${fmtCount(wantEval)} the eval split asks for, so each evaluation takes seconds, not minutes; the others train.`;
  }
  const data = rec ? { data: rec.data.blob ?? rec.data.text, format: rec.data.format } : engineData(S.data.format);
  options.format = data.format;
  const opts = { ...options, data: data.data, checkpointEvery: CHECKPOINT_EVERY };
  if (rec) opts.resumeFrom = new Uint8Array(rec.checkpoint);
  const run = { token: {}, writing: null, next: null, ended: false };
  S.run = run;
  // The data goes to IndexedDB once per run; checkpoints refer to it by dataId.
  const dataId = rec ? rec.dataId : `${Date.now().toString(36)}-${data.data.size ?? data.data.length}`;
  if (!rec) {
    await store.clearRun().catch(() => {}); // a new run replaces an interrupted one
    const kept = typeof data.data === 'string' ? { text: data.data, format: data.format } : { blob: data.data, format: data.format };
    await store.saveRunData(dataId, kept).catch((e) => console.warn('could not keep the run data in IndexedDB:', e));
  }
  // which metric the held-out set supports (see MIN_EVAL_FOR_ACCURACY)
  const nEval = heldOutCount(nData, options.evalSplit);
  const showAccuracy = isLabelLike(S.data.preview?.labels, S.data.preview?.count ?? 0) && nEval >= MIN_EVAL_FOR_ACCURACY;
  trainError('');
  let job;
  try {
    job = S.model.tune(opts);
  } catch (e) {
    setJobState('failed');
    trainError(e);
    return;
  }
  S.job = job;
  // Every CHECKPOINT_EVERY steps the engine hands over a checkpoint; the latest one is kept in
  // IndexedDB with what resuming needs, so a reload (or a closed tab) loses at most those steps.
  const base = baseModelRecord();
  job.on('checkpoint', ({ step, bytes }) => {
    keepCheckpoint(run, {
      baseModel: base, settings: s, options, dataId, step, totalSteps: S.history.total,
      checkpoint: bytes.slice().buffer,
      losses: S.history.train.filter((p) => p[0] <= step), evalLosses: S.history.eval.filter((p) => p[0] <= step),
    });
  });
  // Time left = the steps left at this run's pace (without evaluation time) + what is left of an
  // evaluation under way + the evaluations still to come, each as long as the last one.
  const t0 = performance.now();
  const clock = { firstStep: null, evalMs: 0, lastEvalMs: 0, evalStart: null, step: 0, total: S.history.total, stepMs: 0 };
  const evalsAfter = (step) => {
    if (!(nEval > 0) || !clock.total) return 0;
    const every = options.evalEvery;
    return every > 0 ? Math.floor(clock.total / every) - Math.floor(step / every) + (clock.total % every ? 1 : 0) : (step < clock.total ? 1 : 0);
  };
  const showEta = (evalLeftMs = 0) => {
    if (!clock.total) return;
    const left = (clock.total - clock.step) * clock.stepMs + evalLeftMs + evalsAfter(clock.step) * clock.lastEvalMs;
    $('st-eta').textContent = clock.step >= clock.total && evalLeftMs === 0 ? 'done' : fmtDuration(left);
  };
  job.on('evaluating', (ev) => {
    const now = performance.now();
    clock.evalStart ??= now - ev.ms;
    const spent = now - clock.evalStart;
    const left = (spent / ev.done) * (ev.total - ev.done);
    if (!clock.lastEvalMs) clock.lastEvalMs = spent + left; // the first evaluation's estimate for the later ones
    const pct = Math.round((ev.done / ev.total) * 100);
    const node = $('eval-progress');
    node.textContent = `Evaluating the prompt on the ${fmtCount(nEval)} held-out examples: ${pct}% (about ${fmtDuration(left)} left of this evaluation). Stop ends it at once.`;
    node.hidden = false;
    setPageState('evaluating', String(pct));
    showEta(left);
  });
  job.on('progress', (st) => {
    S.history.train.push([st.step, st.loss]);
    if (st.totalSteps && st.totalSteps !== S.history.total) { S.history.total = st.totalSteps; trainChart.setTotal(st.totalSteps); }
    trainChart.addTrain(st.step, st.loss);
    $('st-step').textContent = st.totalSteps ? `${st.step} / ${st.totalSteps}` : String(st.step);
    $('st-epoch').textContent = String(st.epoch);
    $('st-loss').textContent = fmtLoss(st.loss);
    $('st-tps').textContent = Number.isFinite(st.tokensPerSecond) ? fmtCount(Math.round(st.tokensPerSecond)) : '–';
    const elapsed = st.elapsedMs ?? performance.now() - t0;
    clock.firstStep ??= st.step - 1;
    clock.step = st.step;
    clock.total = st.totalSteps || clock.total;
    clock.stepMs = Math.max(0, elapsed - clock.evalMs) / Math.max(1, st.step - clock.firstStep);
    if (st.totalSteps) {
      const pct = (st.step / st.totalSteps) * 100;
      $('train-progress').querySelector('.bar').style.width = `${pct.toFixed(1)}%`;
      $('train-progress').setAttribute('aria-valuenow', pct.toFixed(0));
      showEta();
    }
  });
  job.on('eval', (ev) => {
    if (clock.evalStart !== null) {
      clock.lastEvalMs = performance.now() - clock.evalStart;
      clock.evalMs += clock.lastEvalMs;
      clock.evalStart = null;
    }
    $('eval-progress').hidden = true;
    setPageState('evaluating', 'none');
    S.history.eval.push([ev.step, ev.evalLoss]);
    trainChart.addEval(ev.step, ev.evalLoss);
    $('st-eval').replaceChildren(fmtLoss(ev.evalLoss),
      showAccuracy && Number.isFinite(ev.accuracy) ? el('small', { class: 'acc', title: `accuracy on the ${nEval} held-out examples, scoring each label` }, ` ${(ev.accuracy * 100).toFixed(0)}% right (of ${nEval})`) : '');
  });
  // 'state' is the job's own view, at once; the page follows it except while it waits for the
  // worker's acknowledgement of a pause or resume ('paused' / 'resumed' events)
  job.on('state', (st) => {
    if ((st === 'running' || st === 'paused') && S.jobState !== 'pausing' && S.jobState !== 'resuming' && S.jobState !== 'stopping') setJobState(st);
  });
  job.on('paused', () => {
    debug.workerPaused = true;
    if (S.jobState === 'pausing') setJobState('paused');
  }).on('resumed', () => {
    debug.workerPaused = false;
    if (S.jobState === 'resuming') setJobState('running');
  });
  try {
    let result = await job.done;
    if (rec) {
      // the engine reports the steps it ran; the chart has the whole run
      result = { ...result, history: {
        steps: S.history.train.map(([step, loss]) => ({ step, loss })),
        evals: S.history.eval.map(([step, evalLoss]) => ({ step, evalLoss })),
      } };
    }
    await adoptTrained(result, s);
    setJobState('done');
    $('train-state').textContent = result.reason === 'stopped' ? 'stopped: prompt kept' : result.reason === 'early-stop' ? 'done (stopped early)' : 'done';
    $('st-eta').textContent = result.reason === 'stopped' ? 'stopped' : 'done';
  } catch (e) {
    if (e?.code === 'SP_ERR_ABORTED') setJobState('idle');
    else {
      setJobState('failed');
      if (e?.code === 'SP_ERR_NUMERIC' && e.result?.adapter) {
        // The loss blew up (NaN/Inf); the engine kept the last good prompt: use that.
        await adoptTrained(e.result, s).catch(() => {});
        trainError(new Error(`${e.message}. The last good prompt is kept; try a smaller learning rate.`));
      } else trainError(e);
    }
  } finally {
    S.job = null;
    $('eval-progress').hidden = true;
    setPageState('evaluating', 'none');
    await endRun(run); // the run is over (done, stopped, failed): nothing to resume
    updateButtons();
  }
}

/** A training problem next to the Start button (role=alert), focus on it; '' clears. */
function trainError(e) {
  const msg = !e ? '' : typeof e === 'string' ? e : `${e.message}${e.code ? ` (${e.code})` : ''}`;
  const node = fieldMessage($('train-start'), msg, { after: $('train-start').parentElement, focus: null });
  if (node) {
    node.tabIndex = -1;
    node.focus();
    debug.lastError = { where: 'Training', code: e?.code ?? null, message: msg };
  }
}

/** Write a checkpoint record; one write at a time, the newest waiting one wins. */
function keepCheckpoint(run, record) {
  if (run.ended) return;
  run.next = record;
  if (run.writing) return;
  run.writing = (async () => {
    while (run.next && !run.ended) {
      const r = run.next;
      run.next = null;
      try {
        await store.saveRun(r);
        if (!run.ended) debug.checkpoint = { step: r.step };
      } catch (e) {
        console.warn('could not keep the checkpoint in IndexedDB:', e);
      }
    }
    run.writing = null;
  })();
}

async function endRun(run) {
  run.ended = true;
  run.next = null;
  if (run.writing) await run.writing;
  if (S.run === run) {
    S.run = null;
    await store.clearRun().catch(() => {});
  }
}

// ---- resuming an interrupted run ------------------------------------------------------------

function hideResumeOffer() {
  S.resumeOffer = null;
  $('resume-offer').hidden = true;
  setPageState('resume', 'none');
}

/** Offer the interrupted run kept in IndexedDB, if any (after the engine starts and after every model load). */
async function offerResume() {
  if (S.job) return;
  let rec = null;
  try {
    rec = await store.getRunWithData();
  } catch { rec = null; }
  if (!rec || !rec.checkpoint || !rec.data) { hideResumeOffer(); return; }
  S.resumeOffer = rec;
  const of = rec.totalSteps ? ` of ${rec.totalSteps}` : '';
  const when = fmtDate(rec.savedAt);
  const name = rec.baseModel?.name ?? 'its model';
  let text;
  let can = false;
  if (!S.model) text = `A training run on ${name} was interrupted at step ${rec.step}${of} (${when}). Load ${name} to resume it.`;
  else if (!sameBase(rec)) text = `A training run was interrupted at step ${rec.step}${of} (${when}), on another model (${name}). Load that model to resume it.`;
  else {
    text = `A training run was interrupted at step ${rec.step}${of} (${when}). Resume the interrupted run from step ${rec.step}?`;
    can = true;
  }
  $('resume-text').textContent = text;
  $('resume-run').disabled = !can;
  $('resume-offer').hidden = false;
  setPageState('resume', can ? 'offered' : 'waiting');
}

async function resumeRun() {
  const rec = S.resumeOffer;
  if (!rec || !S.model || S.job) return;
  // the run's settings and data come back into the page, as they were
  writeSettings(rec.settings);
  describeSettings();
  if (rec.data.blob) useBigFile({ name: 'the interrupted run’s data', size: rec.data.blob.size, blob: rec.data.blob, head: await headText(rec.data.blob) });
  else if (rec.data.text.length > BIG_FILE) {
    const blob = new Blob([rec.data.text]);
    useBigFile({ name: 'the interrupted run’s data', size: blob.size, blob, head: rec.data.text.slice(0, 65536) });
  } else { useBigFile(null); $('data-text').value = rec.data.text; }
  $('data-format').value = rec.data.format || 'auto';
  refreshData.flush();
  await startTraining(rec);
}

$('resume-run').addEventListener('click', () => resumeRun());
$('resume-discard').addEventListener('click', async () => { await store.clearRun().catch(() => {}); hideResumeOffer(); });

async function adoptTrained(result, settings) {
  // The last prompt by default; the one with the lowest eval loss when asked (early stopping).
  const keep = settings.keepBest ? (result.best ?? result.adapter) : result.adapter;
  for (const other of [result.adapter, result.best]) if (other && other !== keep) other.free().catch(() => {});
  const evals = result.history?.evals?.map((e) => [e.step, e.evalLoss]) ?? S.history.eval;
  const steps = result.history?.steps?.map((st) => [st.step, st.loss]) ?? S.history.train;
  const lastTrain = steps.length ? steps[steps.length - 1][1] : NaN;
  const bestEval = evals.length ? Math.min(...evals.map((e) => e[1])) : NaN;
  await setActive({
    adapter: keep,
    name: suggestName(settings),
    origin: 'trained',
    method: keep.info?.method ?? settings.method,
    losses: steps,
    evals,
    finalLoss: lastTrain,
    evalLoss: bestEval,
    settings,
  });
  $('save-name').value = S.active.name;
  let note = settings.keepBest && evals.length ? 'Kept the prompt with the lowest eval loss' : 'Kept the prompt as it was at the last step';
  if (evals.length) {
    const at = evals.find((e) => e[1] === bestEval)[0];
    note += `; the lowest eval loss was ${fmtLoss(bestEval)} at step ${at}`;
  }
  $('train-note').textContent = `${note}. Try it below.`;
}

function suggestName(s) {
  const ex = EXAMPLES.find((e) => e.text === S.data.text);
  const what = ex ? ex.title : `${S.data.preview?.count ?? ''} examples`;
  return `${what}, ${s.method} ×${s.virtualTokens}, ${S.history.train.length} steps`;
}

$('train-start').addEventListener('click', () => startTraining());
$('train-pause').addEventListener('click', () => { if (S.job) { setJobState('pausing'); S.job.pause(); } });
$('train-resume').addEventListener('click', () => { if (S.job) { setJobState('resuming'); S.job.resume(); } });
$('train-stop').addEventListener('click', () => { if (S.job) { S.job.stop(); setJobState('stopping'); } });

// ---- the active prompt, 6. look inside -----------------------------------------------------

async function dropActivePrompt() {
  const a = S.active;
  S.active = null;
  if (a?.adapter && !a.adapter.freed) await a.adapter.free().catch(() => {});
  renderInside();
}

async function setActive(a) {
  if (S.active && S.active.adapter !== a.adapter) await dropActivePrompt();
  S.active = a;
  $('active-prompt-name').textContent = `(${a.name})`;
  renderInside();
  renderSavedActive();
  updateButtons();
}

async function renderInside() {
  const a = S.active;
  $('inside-empty').hidden = !!a;
  $('inside-curve-wrap').hidden = !(a && a.losses?.length);
  $('nearest-wrap').hidden = !a;
  if (!a) { $('nearest').replaceChildren(); insideChart.clear(); setPageState('inside', 'empty'); return; }
  insideChart.setSeries({ train: a.losses ?? [], eval: a.evals ?? [] });
  const list = $('nearest');
  if (a.method === 'prefix') {
    list.replaceChildren(el('li', { class: 'muted' }, 'This is a prefix-tuned prompt: its vectors are keys and values inside each layer, not word-like vectors, so they have no nearest words.'));
    setPageState('inside', 'prefix');
    return;
  }
  list.replaceChildren(el('li', { class: 'muted' }, 'Measuring…'));
  try {
    const near = await a.adapter.nearest(NEAREST_K);
    if (S.active !== a) return;
    list.replaceChildren(...near.map((toks, i) => el('li', {},
      el('span', { class: 'v' }, `v${i + 1}`),
      ...toks.map((t) => el('span', { class: 't', title: `token ${t.id}, cosine ${t.score.toFixed(3)}`, style: `--sim:${Math.max(0, Math.min(1, t.score)).toFixed(2)}` }, showPiece(t.piece))))));
    setPageState('inside', 'ready');
  } catch (e) {
    list.replaceChildren(el('li', { class: 'muted' }, `Could not list the nearest tokens: ${e.message}`));
    setPageState('inside', 'failed');
  }
}

// ---- 5. try it ------------------------------------------------------------------------------

/** The loaded model's chat template, or null (GGUF tokenizer.chat_template, or an HF folder's
 *  tokenizer_config.json). */
function chatTemplateOf(model) { return model?.tokenizer?.info?.chat_template || null; }

/** Instruct models: "Try it" offers their chat template, ticked. */
function showChatOption() {
  const has = !!chatTemplateOf(S.model);
  $('chat-row').hidden = !has;
  $('try-chat').checked = has;
  $('chat-rendered-text').textContent = '';
  setPageState('chat', has ? 'template' : 'none');
}

/** What "Try it" sends: the input as a user message under the chat template, or the raw text. */
function tryPrompt(input) {
  return !$('chat-row').hidden && $('try-chat').checked ? [{ role: 'user', content: input }] : input;
}

function stopGenerations() {
  for (const g of S.gens) g.abort();
}

async function runComparison() {
  if (!S.model) return;
  stopGenerations();
  const input = $('try-input').value;
  const opts = {
    maxTokens: Math.max(1, Math.round(Number($('gen-max').value) || 60)),
    temperature: Math.max(0, Number($('gen-temp').value) || 0),
    seed: Math.max(0, Math.round(Number($('gen-seed').value) || 0)),
  };
  setPageState('gen', 'running');
  const prompt = tryPrompt(input);
  debug.chatPrompt = null;
  if (Array.isArray(prompt)) {
    try {
      debug.chatPrompt = await S.model.applyChatTemplate(prompt, { addGenerationPrompt: true });
      $('chat-rendered-text').textContent = debug.chatPrompt;
    } catch (e) {
      fieldMessage($('try-chat'), `The model's chat template failed: ${e.message}. Untick the box to send the raw text.`, { after: $('chat-row') });
      setPageState('gen', 'failed');
      return;
    }
  }
  fieldMessage($('try-chat'), '');
  const sides = [
    { key: 'plain', out: $('out-plain'), adapter: null },
    { key: 'prompt', out: $('out-prompt'), adapter: S.active?.adapter ?? null },
  ];
  const runs = sides.map(async (side) => {
    const node = side.out;
    node.replaceChildren(el('span', { class: 'in' }, input));
    debug.outputs[side.key] = '';
    if (side.key === 'prompt' && !side.adapter) {
      node.append(el('span', { class: 'muted' }, '\n\nTrain a prompt, or load a saved one, to see the difference.'));
      return;
    }
    const textNode = document.createTextNode('');
    node.append(textNode);
    node.classList.add('busy');
    const gen = S.model.generate(prompt, {
      ...opts,
      adapter: side.adapter,
      onToken: (t) => { textNode.data += t.text; debug.outputs[side.key] += t.text; },
    });
    S.gens.push(gen);
    updateButtons();
    try {
      const res = await gen;
      textNode.data = res.text; // the final text, whole characters only
      debug.outputs[side.key] = res.text;
      node.title = `${res.tokens.length} tokens in ${res.totalMs.toFixed(0)} ms (${res.finishReason === 'eos' ? 'the model ended the text' : 'length limit'})`;
    } catch (e) {
      if (e?.code !== 'SP_ERR_ABORTED') { node.append(el('span', { class: 'muted' }, `\n[${e.message}]`)); throw e; }
    } finally {
      node.classList.remove('busy');
      S.gens = S.gens.filter((g) => g !== gen);
      updateButtons();
    }
  });
  const results = await Promise.allSettled(runs);
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) showError(failed.reason, 'Generation');
  setPageState('gen', failed ? 'failed' : 'done');
}

$('try-form').addEventListener('submit', (e) => { e.preventDefault(); runComparison(); });
$('try-stop').addEventListener('click', () => stopGenerations());

// ---- 7. keep it -----------------------------------------------------------------------------

function baseModelRecord() {
  const i = S.model.info;
  return { name: S.modelMeta.name, source: S.modelMeta.source, vocab: i.vocab_size, dim: i.dim, layers: i.n_layers, params: i.n_params };
}

function sameBase(rec) {
  if (!S.model || !rec?.baseModel) return false;
  const i = S.model.info;
  const b = rec.baseModel;
  return b.vocab === i.vocab_size && b.dim === i.dim && b.layers === i.n_layers && b.params === i.n_params;
}

async function saveActive(name) {
  const a = S.active;
  if (!a || !S.model) return;
  const files = await a.adapter.save();
  const id = await store.savePrompt({
    name: name || a.name,
    baseModel: baseModelRecord(),
    createdAt: Date.now(),
    finalLoss: a.finalLoss,
    evalLoss: a.evalLoss,
    method: a.method,
    numVirtualTokens: a.adapter.info.num_virtual_tokens,
    settings: a.settings ?? null,
    losses: a.losses ?? [],
    evalLosses: a.evals ?? [],
    config: files.config,
    weights: files.safetensors.slice().buffer,
  });
  a.savedId = id;
  a.name = name || a.name;
  $('active-prompt-name').textContent = `(${a.name})`;
  setStatus($('keep-status'), `Saved “${a.name}” in this browser.`, 'ok');
  await renderSaved();
  updateButtons();
  return id;
}

async function renderSaved() {
  let list = [];
  try { list = await store.listPrompts(); } catch (e) { setStatus($('keep-status'), `Saved prompts are unavailable: ${e.message}`, 'err'); }
  const tbody = $('saved').querySelector('tbody');
  tbody.replaceChildren(...list.map((rec) => {
    const match = S.model ? sameBase(rec) : null;
    const load = el('button', { type: 'button', class: 'small', 'data-action': 'load', disabled: !S.model || match === false, title: !S.model ? 'Load the base model first' : match === false ? 'This prompt was trained for another model' : 'Use this prompt' }, 'Load');
    load.addEventListener('click', () => loadSaved(rec.id));
    const exp = el('button', { type: 'button', class: 'small', 'data-action': 'export', title: 'Download adapter_config.json and adapter_model.safetensors' }, 'Export');
    exp.addEventListener('click', () => exportSaved(rec.id));
    const del = el('button', { type: 'button', class: 'small danger', 'data-action': 'delete' }, 'Delete');
    del.addEventListener('click', () => {
      if (del.dataset.armed) { deleteSaved(rec.id); return; }
      del.dataset.armed = '1';
      del.textContent = 'Really delete?';
      setTimeout(() => { delete del.dataset.armed; del.textContent = 'Delete'; }, 3000);
    });
    return el('tr', { 'data-id': rec.id, 'data-name': rec.name },
      el('td', {}, rec.name),
      el('td', { title: rec.baseModel?.source ?? '', 'data-label': 'base model' }, rec.baseModel?.name ?? '?', match === false ? el('span', { class: 'muted small' }, ' (not loaded)') : null),
      el('td', { 'data-label': 'method' }, `${rec.method ?? 'prompt'} ×${rec.numVirtualTokens ?? '?'}`),
      el('td', { 'data-label': 'saved' }, fmtDate(rec.createdAt)),
      el('td', { class: 'num', 'data-label': 'final loss', title: Number.isFinite(rec.evalLoss) ? `best eval loss ${fmtLoss(rec.evalLoss)}` : '' }, fmtLoss(rec.finalLoss)),
      el('td', {}, load, exp, del));
  }));
  $('saved-empty').hidden = list.length > 0;
  $('saved').hidden = list.length === 0;
  setPageState('saved', String(list.length));
  renderSavedActive();
}

function renderSavedActive() {
  for (const tr of $('saved').querySelectorAll('tbody tr')) {
    tr.classList.toggle('active', S.active?.savedId !== undefined && String(S.active.savedId) === tr.dataset.id);
  }
}

async function loadSaved(id) {
  try {
    const rec = await store.getPrompt(id);
    if (!rec) throw new Error('that prompt is no longer saved');
    if (!S.model) throw new Error('load the base model first');
    const adapter = await S.model.loadAdapter({ config: rec.config, safetensors: new Uint8Array(rec.weights) });
    await setActive({
      adapter, name: rec.name, savedId: rec.id, origin: 'saved', method: adapter.info.method,
      losses: rec.losses ?? [], evals: rec.evalLosses ?? [], finalLoss: rec.finalLoss, evalLoss: rec.evalLoss, settings: rec.settings,
    });
    setStatus($('keep-status'), `Loaded “${rec.name}”. Try it above.`, 'ok');
    setPageState('activePrompt', String(rec.id));
  } catch (e) {
    setStatus($('keep-status'), `Could not load it: ${e.message}`, 'err');
  }
}

function safeFileStem(name) { return String(name).replace(/[^\w.-]+/g, '_').slice(0, 60) || 'prompt'; }

function downloadPeft(config, safetensors) {
  // Two plain downloads, named exactly as PEFT expects them in a folder.
  download('adapter_config.json', new TextEncoder().encode(config), 'application/json');
  setTimeout(() => download('adapter_model.safetensors', safetensors), 250);
}

async function exportSaved(id) {
  const rec = await store.getPrompt(id);
  if (!rec) return;
  downloadPeft(rec.config, new Uint8Array(rec.weights));
  setStatus($('keep-status'), `Exported “${rec.name}”: put both files in one folder (e.g. ${safeFileStem(rec.name)}/).`, 'ok');
}

async function exportActive() {
  const a = S.active;
  if (!a) return;
  try {
    const files = await a.adapter.save();
    downloadPeft(files.config, files.safetensors);
    setStatus($('keep-status'), `Exported “${a.name}”: put both files in one folder (e.g. ${safeFileStem(a.name)}/).`, 'ok');
  } catch (e) { showError(e, 'Export'); }
}

async function deleteSaved(id) {
  await store.deletePrompt(id);
  if (S.active?.savedId === id) S.active.savedId = undefined;
  setStatus($('keep-status'), 'Deleted.');
  await renderSaved();
  updateButtons();
}

async function importPeft(fileList) {
  const files = [...fileList];
  const cfgFile = files.find((f) => f.name === 'adapter_config.json') ?? files.find((f) => /\.json$/i.test(f.name));
  const stFile = files.find((f) => /\.safetensors$/i.test(f.name));
  try {
    if (!cfgFile || !stFile) throw new Error('choose both adapter_config.json and adapter_model.safetensors');
    if (!S.model) throw new Error('load the base model first');
    const config = await cfgFile.text();
    const safetensors = new Uint8Array(await stFile.arrayBuffer());
    const adapter = await S.model.loadAdapter({ config, safetensors });
    let parsed = {};
    try { parsed = JSON.parse(config); } catch { /* the engine already accepted it */ }
    const folder = (cfgFile.webkitRelativePath || '').split('/')[0];
    const name = folder || `imported ${parsed.peft_type === 'PREFIX_TUNING' ? 'prefix' : 'prompt'} for ${parsed.base_model_name_or_path || S.modelMeta.name}`;
    await setActive({ adapter, name, origin: 'imported', method: adapter.info.method, losses: [], evals: [], finalLoss: NaN, evalLoss: NaN, settings: null });
    await saveActive(name);
    setStatus($('keep-status'), `Imported “${name}” and saved it in this browser.`, 'ok');
  } catch (e) {
    setStatus($('keep-status'), `Could not import: ${e.message}`, 'err');
  }
}

$('save-form').addEventListener('submit', (e) => {
  e.preventDefault();
  saveActive($('save-name').value.trim()).catch((err) => showError(err, 'Save'));
});
$('export-btn').addEventListener('click', () => exportActive());
$('import-files').addEventListener('change', (e) => { const f = e.target.files; if (f.length) importPeft(f); e.target.value = ''; });
setupDrop($('keep'), async (dt) => importPeft(await filesFromDrop(dt)));

// ---- boot -----------------------------------------------------------------------------------

restoreSettings();
renderPicker();
renderExamples();
describeSettings();
updateButtons();
renderSaved();
restoreDraft();
if (!threadsAvailable()) setPageState('threads', 'single');
startEngine();
