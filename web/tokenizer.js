// tokenizer.js - a tokenizer in the wasm engine without model weights (src/api/tokenizer_api.c):
//   loadTokenizerHf(engine, tokenizerJsonText, configText?)  tokenizer.json [+ tokenizer_config.json]
//   loadTokenizerGguf(engine, bytes)                          a GGUF's tokenizer.ggml.* metadata
//   modelTokenizer(model)                                     a view of a loaded model's tokenizer
//   configureModelTokenizer(model, configText, eogIds)        tokenizer_config.json + generation_config eos ids
// EngineTokenizer: encode(text, addSpecial) -> ids, decode(ids) -> text, decodeBytes, tokenText(id),
// info ({vocab_size, bos_id, bos_token, eos_id, eos_token, pad_id, eog_ids, chat_template (GGUF), ...}).
// Runs wherever engine.js runs (worker or Node main thread); C errors throw SoftpromptError.
import { SoftpromptError, ErrorCodes } from './errors.js';
import { nodeModule } from './env.js';

export class EngineTokenizer {
  /** @private */
  constructor(engine, ptr, owner = null) {
    this.e = engine;
    this.ptr = ptr;
    this.owner = owner; // the Model a view belongs to
    this.freed = false;
    this.info = JSON.parse(engine.cstr(engine.M._sp_tok_info_json(ptr)));
  }

  _live() {
    if (this.freed || this.owner?.freed) throw new SoftpromptError(ErrorCodes.SP_ERR_STATE, 'the tokenizer was freed');
  }

  /** @returns {number[]} ids; addSpecial adds the special tokens the tokenizer defines (HF add_special_tokens) */
  encode(text, addSpecial = true) {
    this._live();
    const M = this.e.M;
    return this.e.idsOf(text, (tp, len, ids, cap, err) => M._sp_tok_encode(this.ptr, tp, len, addSpecial ? 1 : 0, ids, cap, err));
  }

  /** Bytes of the decoded text (special tokens skipped). */
  decodeBytes(ids) {
    this._live();
    const M = this.e.M;
    return this.e.bytesOf(ids, (idp, n, out, cap, err) => M._sp_tok_decode(this.ptr, idp, n, out, cap, err));
  }

  decode(ids) {
    // ignoreBOM: a leading U+FEFF is text the tokens carry, not a byte order mark to drop
    return new TextDecoder('utf-8', { ignoreBOM: true }).decode(this.decodeBytes(ids));
  }

  /** The token as the vocabulary writes it (byte-level: "Ġworld"; SentencePiece: "▁world"). */
  tokenText(id) {
    this._live();
    const e = this.e;
    const n = e.M._sp_tok_token_text(this.ptr, id, 0, 0);
    if (n < 0) throw new SoftpromptError(ErrorCodes.SP_ERR_INVALID_ARG, `token id ${id} is not in the vocabulary (0..${this.info.vocab_size - 1})`);
    if (n === 0) return '';
    const p = e.malloc(n);
    try {
      e.M._sp_tok_token_text(this.ptr, id, p, n);
      return new TextDecoder('utf-8', { ignoreBOM: true }).decode(e.read(p, n));
    } finally {
      e.free(p);
    }
  }

  free() {
    if (this.freed) return;
    this.freed = true;
    this.e.M._sp_tok_free(this.ptr);
    this.ptr = 0;
  }
}

export function loadTokenizerHf(engine, tokenizerJsonText, configText = '') {
  const tok = engine.string(tokenizerJsonText);
  let cfg = null;
  try {
    cfg = configText ? engine.string(configText) : null;
    const p = engine.M._sp_tok_load_hf(tok.p, tok.len, cfg ? cfg.p : 0, cfg ? cfg.len : 0, engine.err) >>> 0;
    if (!p) engine.throwError();
    return new EngineTokenizer(engine, p);
  } finally {
    engine.free(tok.p);
    if (cfg) engine.free(cfg.p);
  }
}

export function loadTokenizerGguf(engine, bytes) {
  const p = engine.bytes(bytes); // owned by the call
  const t = engine.M._sp_tok_load_gguf(p, bytes.byteLength, engine.err) >>> 0;
  if (!t) engine.throwError();
  return new EngineTokenizer(engine, t);
}

export function modelTokenizer(model) {
  model._live();
  const e = model.e;
  const p = e.M._sp_model_tokenizer(model.ptr, e.err) >>> 0;
  if (!p) e.throwError();
  return new EngineTokenizer(e, p, model);
}

/** Apply tokenizer_config.json text ('' for none) and extra end-of-generation ids to a loaded model. */
export function configureModelTokenizer(model, configText = '', eogIds = []) {
  model._live();
  const e = model.e;
  const cfg = configText ? e.string(configText) : null;
  const idp = eogIds.length ? e.int32s(eogIds) : 0;
  try {
    if (e.M._sp_model_tokenizer_config(model.ptr, cfg ? cfg.p : 0, cfg ? cfg.len : 0, idp, eogIds.length, e.err) < 0) e.throwError();
    model.info = JSON.parse(e.cstr(e.M._sp_model_info_json(model.ptr)));
  } finally {
    if (cfg) e.free(cfg.p);
    if (idp) e.free(idp);
  }
}

// ---- tokenizer_config.json / generation_config.json helpers (no Jinja here; chat.js renders)

/** tokenizer_config.json's chat_template: a string, or a list of {name, template} (the "default" one is used). */
export function pickChatTemplate(value) {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const t = value.find((x) => x?.name === 'default') ?? value[0];
    if (t && typeof t.template === 'string') return t.template;
  }
  return null;
}

/** The special-token texts a template sees: from tokenizer_config.json, else the engine's ids. */
export function templateSpecials(info, config = {}) {
  const text = (v) => (typeof v === 'string' ? v : v && typeof v.content === 'string' ? v.content : null);
  const out = {};
  for (const k of ['bos', 'eos', 'pad', 'unk']) {
    const v = text(config[`${k}_token`]) ?? info[`${k}_token`] ?? null;
    if (v !== null) out[`${k}_token`] = v;
  }
  return out;
}

/** generation_config.json's eos_token_id (a number or a list) as a list. */
export function generationEosIds(genConfig) {
  const v = genConfig?.eos_token_id;
  if (Array.isArray(v)) return v.filter((x) => Number.isInteger(x));
  return Number.isInteger(v) ? [v] : [];
}

const parseJson = (text, what) => {
  if (text == null) return {};
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new SoftpromptError(ErrorCodes.SP_ERR_TOKENIZER, `${what} is not valid JSON: ${e?.message ?? e}`);
  }
};

/** The text of an optional file next to a model part ({kind: 'path'|'url', ...}); null when absent. */
async function readSibling(part, name) {
  if (part?.kind === 'path') {
    const fs = nodeModule('node:fs');
    const path = nodeModule('node:path');
    const f = path.join(path.dirname(part.path), name);
    return fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : null;
  }
  if (part?.kind === 'url') {
    const url = part.url.slice(0, part.url.lastIndexOf('/') + 1) + name;
    let res;
    try {
      res = await fetch(url);
    } catch {
      return null;
    }
    return res.ok ? await res.text() : null;
  }
  return null;
}

/**
 * After a model loads (in the worker): apply tokenizer_config.json and generation_config.json found next
 * to an HF folder's files (path or URL sources), and describe the tokenizer for the main thread:
 * the engine's info plus chat_template (the config's, else GGUF's) and the special-token texts.
 */
export async function setupModelTokenizer(model, source) {
  let cfgText = null, genText = null;
  if (source?.kind === 'hf') {
    cfgText = await readSibling(source.files['tokenizer.json'], 'tokenizer_config.json');
    genText = await readSibling(source.files['tokenizer.json'], 'generation_config.json');
  }
  const cfg = parseJson(cfgText, 'tokenizer_config.json');
  const eos = generationEosIds(parseJson(genText, 'generation_config.json'));
  if (cfgText || eos.length) configureModelTokenizer(model, cfgText ?? '', eos);
  const t = modelTokenizer(model);
  try {
    const info = { ...t.info };
    info.chat_template = pickChatTemplate(cfg.chat_template) ?? info.chat_template;
    info.specials = templateSpecials(info, cfg);
    return info;
  } finally {
    t.free();
  }
}
