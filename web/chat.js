// chat.js - chat templates and tokenizers without model weights.
//   compileChatTemplate(source)       the model's Jinja template, parsed by @huggingface/jinja (the
//                                     library transformers.js renders templates with); a template that
//                                     does not parse throws SoftpromptError SP_ERR_TOKENIZER at load time
//   renderChat(template, messages, {addGenerationPrompt, specials})   the prompt text
//   loadTokenizer(source)             Softprompt.loadTokenizer: a Tokenizer from a .gguf, an HF model
//                                     folder, a folder with tokenizer.json (+ tokenizer_config.json), a
//                                     tokenizer.json file (Node paths), URLs, or {tokenizerJson,
//                                     tokenizerConfig, generationConfig} / {gguf} objects
//   Tokenizer                         tokenize, detokenize, tokens, applyChatTemplate, info, eogIds, free
// The tokenizer runs in a single-threaded wasm engine in this thread (no worker): tokenizing needs
// no weights and no threads. All tokenizers share that engine.
import { Template } from '@huggingface/jinja';
import { SoftpromptError, ErrorCodes } from './errors.js';
import { loadEngine } from './engine.js';
import { IS_NODE, nodeModule } from './env.js';
import { loadTokenizerHf, loadTokenizerGguf, pickChatTemplate, templateSpecials, generationEosIds } from './tokenizer.js';
export { pickChatTemplate, templateSpecials, generationEosIds };


const err = (code, msg) => new SoftpromptError(code, msg);

export function compileChatTemplate(source) {
  try {
    return new Template(source);
  } catch (e) {
    throw err(ErrorCodes.SP_ERR_TOKENIZER, `the chat template does not parse: ${e?.message ?? e}`);
  }
}

export function checkMessages(messages) {
  if (!Array.isArray(messages) || messages.length === 0) throw err(ErrorCodes.SP_ERR_INVALID_ARG, 'messages must be a non-empty array of {role, content}');
  messages.forEach((m, i) => {
    if (!m || typeof m !== 'object' || typeof m.role !== 'string' || !(typeof m.content === 'string' || Array.isArray(m.content))) {
      throw err(ErrorCodes.SP_ERR_INVALID_ARG, `messages[${i}] must be {role: string, content: string}`);
    }
  });
}

/**
 * Render messages with a compiled template. specials: {bos_token, eos_token, pad_token, unk_token}
 * (token texts, as transformers passes them).
 */
export function renderChat(template, messages, { addGenerationPrompt = false, specials = {}, extra = {} } = {}) {
  checkMessages(messages);
  try {
    return template.render({ ...specials, ...extra, messages, add_generation_prompt: !!addGenerationPrompt });
  } catch (e) {
    throw err(ErrorCodes.SP_ERR_INVALID_ARG, `the chat template failed on these messages: ${e?.message ?? e}`);
  }
}

export class Tokenizer {
  /** @private use Softprompt.loadTokenizer */
  constructor(engineTok, { config = {}, template = null } = {}) {
    this._t = engineTok;
    this._config = config;
    this._template = template;
    this.info = { ...engineTok.info, chat_template: template ? template.source : null };
  }

  /** The ids the model would see: with the special tokens the tokenizer adds unless addSpecialTokens is false. */
  async tokenize(text, options = {}) {
    if (typeof text !== 'string') throw err(ErrorCodes.SP_ERR_INVALID_ARG, 'tokenize: text must be a string');
    return this._t.encode(text, options.addSpecialTokens !== false);
  }

  async detokenize(ids) {
    if (!Array.isArray(ids) || !ids.every((x) => Number.isInteger(x))) throw err(ErrorCodes.SP_ERR_INVALID_ARG, 'detokenize: ids must be an array of integers');
    return this._t.decode(ids);
  }

  /** The tokens of ids as the vocabulary writes them. */
  async tokens(ids) {
    return ids.map((id) => this._t.tokenText(id));
  }

  /** The end-of-generation ids (EOS, end-of-turn tokens, generation_config.json's eos_token_id). */
  get eogIds() {
    return this._t.info.eog_ids.slice();
  }

  /** The chat template's text for messages ({role, content}...); {tokenize: true} gives ids (no extra specials). */
  async applyChatTemplate(messages, options = {}) {
    if (!this._template) throw err(ErrorCodes.SP_ERR_UNSUPPORTED, 'this tokenizer has no chat template (tokenizer_config.json chat_template or GGUF tokenizer.chat_template)');
    const text = renderChat(this._template.compiled, messages, {
      addGenerationPrompt: options.addGenerationPrompt, specials: templateSpecials(this._t.info, this._config), extra: options.extra,
    });
    return options.tokenize ? this._t.encode(text, false) : text;
  }

  free() {
    this._t.free();
  }
}

let sharedEngine = null;
function tokenizerEngine() {
  if (!sharedEngine) sharedEngine = loadEngine({ threads: 1 });
  return sharedEngine;
}

async function readNodeSource(p) {
  const fs = nodeModule('node:fs');
  const path = nodeModule('node:path');
  let st;
  try {
    st = fs.statSync(p);
  } catch (e) {
    throw err(ErrorCodes.SP_ERR_IO, `cannot read ${p}: ${e?.code === 'ENOENT' ? 'no such file or directory' : e?.message ?? e}`);
  }
  const read = (f, enc) => {
    try {
      return fs.readFileSync(f, enc);
    } catch (e) {
      throw err(ErrorCodes.SP_ERR_IO, `cannot read ${f}: ${e?.message ?? e}`);
    }
  };
  const optional = (f) => (fs.existsSync(f) ? read(f, 'utf8') : null);
  if (st.isDirectory()) {
    const tj = path.join(p, 'tokenizer.json');
    if (!fs.existsSync(tj)) {
      const ggufs = fs.readdirSync(p).filter((n) => n.toLowerCase().endsWith('.gguf'));
      if (ggufs.length === 1) return { gguf: new Uint8Array(read(path.join(p, ggufs[0]))) };
      throw err(ErrorCodes.SP_ERR_TOKENIZER, `${p} has no tokenizer.json (nor exactly one .gguf)`);
    }
    return { tokenizerJson: read(tj, 'utf8'), tokenizerConfig: optional(path.join(p, 'tokenizer_config.json')),
      generationConfig: optional(path.join(p, 'generation_config.json')) };
  }
  if (p.toLowerCase().endsWith('.gguf')) return { gguf: new Uint8Array(read(p)) };
  const dir = path.dirname(p);
  return { tokenizerJson: read(p, 'utf8'), tokenizerConfig: optional(path.join(dir, 'tokenizer_config.json')),
    generationConfig: optional(path.join(dir, 'generation_config.json')) };
}

async function fetchText(url, required) {
  let res;
  try {
    res = await fetch(url);
  } catch (e) {
    throw err(ErrorCodes.SP_ERR_NETWORK, `cannot fetch ${url}: ${e?.message ?? e}`);
  }
  if (!res.ok) {
    if (!required && res.status === 404) return null;
    throw err(ErrorCodes.SP_ERR_NETWORK, `cannot fetch ${url}: HTTP ${res.status}`);
  }
  return await res.text();
}

async function describe(source) {
  if (source instanceof URL) source = source.href;
  if (typeof source === 'string') {
    if (IS_NODE && !/^(https?|blob|data):/i.test(source)) {
      const { fileURLToPath } = nodeModule('node:url');
      const { resolve } = nodeModule('node:path');
      return await readNodeSource(/^file:/i.test(source) ? fileURLToPath(source) : resolve(source));
    }
    const base = globalThis.location?.href;
    const url = base ? new URL(source, base).href : source;
    if (url.toLowerCase().endsWith('.gguf')) {
      const res = await fetch(url).catch((e) => { throw err(ErrorCodes.SP_ERR_NETWORK, `cannot fetch ${url}: ${e?.message ?? e}`); });
      if (!res.ok) throw err(ErrorCodes.SP_ERR_NETWORK, `cannot fetch ${url}: HTTP ${res.status}`);
      return { gguf: new Uint8Array(await res.arrayBuffer()) };
    }
    const dir = url.endsWith('/') ? url : url.slice(0, url.lastIndexOf('/') + 1);
    const tj = url.endsWith('/') ? url + 'tokenizer.json' : url;
    return { tokenizerJson: await fetchText(tj, true), tokenizerConfig: await fetchText(dir + 'tokenizer_config.json', false),
      generationConfig: await fetchText(dir + 'generation_config.json', false) };
  }
  if (source && typeof source === 'object') {
    const asText = async (x) => (x == null ? null : typeof x === 'string' ? x : typeof x.text === 'function' ? await x.text()
      : ArrayBuffer.isView(x) || x instanceof ArrayBuffer ? new TextDecoder().decode(x) : JSON.stringify(x));
    if (source.gguf) {
      const g = source.gguf;
      return { gguf: typeof g.arrayBuffer === 'function' ? new Uint8Array(await g.arrayBuffer()) : new Uint8Array(g.buffer ?? g, g.byteOffset ?? 0, g.byteLength) };
    }
    if (source.tokenizerJson) {
      return { tokenizerJson: await asText(source.tokenizerJson), tokenizerConfig: await asText(source.tokenizerConfig),
        generationConfig: await asText(source.generationConfig) };
    }
    if (typeof source.arrayBuffer === 'function') return { gguf: new Uint8Array(await source.arrayBuffer()) };
    if (ArrayBuffer.isView(source)) return { gguf: new Uint8Array(source.buffer, source.byteOffset, source.byteLength) };
  }
  throw err(ErrorCodes.SP_ERR_INVALID_ARG, 'tokenizer source must be a path (Node), a URL, {tokenizerJson, tokenizerConfig?, generationConfig?} or {gguf}');
}

function parseJson(text, what) {
  if (text == null) return {};
  try {
    return JSON.parse(text);
  } catch (e) {
    throw err(ErrorCodes.SP_ERR_TOKENIZER, `${what} is not valid JSON: ${e?.message ?? e}`);
  }
}

/** A compiled template record {source, compiled}, or null when the text is null. */
export function chatTemplateRecord(source) {
  return source ? { source, compiled: compileChatTemplate(source) } : null;
}

export async function loadTokenizer(source) {
  const d = await describe(source);
  const engine = await tokenizerEngine();
  if (d.gguf) {
    const t = loadTokenizerGguf(engine, d.gguf);
    try {
      return new Tokenizer(t, { template: chatTemplateRecord(t.info.chat_template) });
    } catch (e) {
      t.free();
      throw e;
    }
  }
  const config = parseJson(d.tokenizerConfig, 'tokenizer_config.json');
  const gen = parseJson(d.generationConfig, 'generation_config.json');
  const template = chatTemplateRecord(pickChatTemplate(config.chat_template)); // broken templates fail here, at load
  const t = loadTokenizerHf(engine, d.tokenizerJson, d.tokenizerConfig ?? '');
  const eos = generationEosIds(gen);
  if (eos.length) {
    for (const id of eos) {
      if (id < 0 || id >= t.info.vocab_size) {
        t.free();
        throw err(ErrorCodes.SP_ERR_TOKENIZER, `generation_config.json: eos_token_id ${id} is not in the vocabulary`);
      }
    }
    t.info.eog_ids = [...new Set([...t.info.eog_ids, ...eos])];
  }
  return new Tokenizer(t, { config, template });
}

/** model.applyChatTemplate: the template and token texts the worker reported at load (model._tokInfo). */
export async function renderForModel(model, messages, options = {}) {
  const info = model._tokInfo;
  if (!info?.chat_template) throw err(ErrorCodes.SP_ERR_UNSUPPORTED, 'this model has no chat template (tokenizer_config.json chat_template or GGUF tokenizer.chat_template)');
  model._chatTemplate ??= compileChatTemplate(info.chat_template);
  const text = renderChat(model._chatTemplate, messages, { addGenerationPrompt: options.addGenerationPrompt, specials: info.specials ?? {}, extra: options.extra });
  return options.tokenize ? await model.tokenize(text, { addBos: false }) : text;
}
