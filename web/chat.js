// chat.js - chat templates and tokenizers without model weights.
//   compileChatTemplate(source, specials?)  the model's Jinja template, parsed by @huggingface/jinja
//                                     (the library transformers.js renders templates with) and, given
//                                     the special-token texts, tried on a plain user/assistant/user
//                                     conversation: a template that does not parse or fails there
//                                     throws SoftpromptError SP_ERR_TOKENIZER at load time, naming the
//                                     problem. Async: @huggingface/jinja is imported on first use.
//   jinjaAvailable()                  whether @huggingface/jinja can be imported here
//   setJinjaUrl(url)                  where to import it from when its bare name does not resolve (a
//                                     module worker ignores the page's import map: the page's URL for
//                                     it is passed to the worker at init)
//   renderChat(template, messages, {addGenerationPrompt, specials})   the prompt text
//   loadTokenizer(source)             Softprompt.loadTokenizer: a Tokenizer from a .gguf, an HF model
//                                     folder, a folder with tokenizer.json (+ tokenizer_config.json), a
//                                     tokenizer.json file (Node paths), URLs, or {tokenizerJson,
//                                     tokenizerConfig, generationConfig} / {gguf} objects
//   Tokenizer                         tokenize, detokenize, tokens, applyChatTemplate, info, eogIds, free
// The tokenizer runs in a single-threaded wasm engine in this thread (no worker): tokenizing needs
// no weights and no threads. All tokenizers share that engine.
import { SoftpromptError, ErrorCodes } from './errors.js';
import { loadEngine } from './engine.js';
import { IS_NODE, nodeModule } from './env.js';
import { loadTokenizerHf, loadTokenizerGguf, pickChatTemplate, templateSpecials, generationEosIds } from './tokenizer.js';
export { pickChatTemplate, templateSpecials, generationEosIds };


const err = (code, msg) => new SoftpromptError(code, msg);

let jinjaUrl = null;
let jinja = null; // the @huggingface/jinja module, or the SoftpromptError saying why it cannot be had

export function setJinjaUrl(url) {
  if (url !== jinjaUrl) jinja = null;
  jinjaUrl = typeof url === 'string' && url ? url : null;
}

async function jinjaModule() {
  if (jinja) {
    if (jinja instanceof SoftpromptError) throw jinja;
    return jinja;
  }
  try {
    jinja = await import('@huggingface/jinja');
  } catch (e) {
    const why = e?.message ?? String(e);
    if (jinjaUrl) {
      try {
        jinja = await import(/* webpackIgnore: true */ /* @vite-ignore */ jinjaUrl);
        return jinja;
      } catch (e2) {
        jinja = err(ErrorCodes.SP_ERR_UNSUPPORTED, `chat templates need @huggingface/jinja, which cannot be imported from ${jinjaUrl}: ${e2?.message ?? e2}`);
        throw jinja;
      }
    }
    jinja = err(ErrorCodes.SP_ERR_UNSUPPORTED, `chat templates need @huggingface/jinja, which cannot be imported here (${why}): a bundler resolves it; ` +
      'an unbundled page maps it with an import map, e.g. <script type="importmap">{"imports": {"@huggingface/jinja": "./vendor/jinja/index.js"}}</script> (npm start serves that)');
    throw jinja;
  }
  return jinja;
}

export async function jinjaAvailable() {
  try {
    await jinjaModule();
    return true;
  } catch {
    return false;
  }
}

// a conversation every chat template must render (templates may refuse a system turn: none here)
const PROBE = [{ role: 'user', content: 'Hello.' }, { role: 'assistant', content: 'Hi.' }, { role: 'user', content: 'How are you?' }];

export async function compileChatTemplate(source, specials = null) {
  const { Template } = await jinjaModule();
  let t;
  try {
    t = new Template(source);
  } catch (e) {
    throw err(ErrorCodes.SP_ERR_TOKENIZER, `the chat template does not parse: ${e?.message ?? e}`);
  }
  if (specials) {
    for (const addGenerationPrompt of [true, false]) {
      try {
        t.render({ ...specials, messages: PROBE, add_generation_prompt: addGenerationPrompt });
      } catch (e) {
        throw err(ErrorCodes.SP_ERR_TOKENIZER, `the chat template fails on a plain user/assistant/user conversation (add_generation_prompt ${addGenerationPrompt}): ${e?.message ?? e}`);
      }
    }
  }
  return t;
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
    const compiled = this._template.compiled ?? await compileChatTemplate(this._template.source); // throws why jinja is missing
    const text = renderChat(compiled, messages, {
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

/** A compiled template record {source, compiled} (tried with the tokenizer's special-token texts), or
 *  null when the text is null. */
async function chatTemplateRecord(source, specials) {
  if (!source) return null;
  // where @huggingface/jinja cannot be imported no template can be used: applyChatTemplate says why
  if (!(await jinjaAvailable())) return { source, compiled: null };
  return { source, compiled: await compileChatTemplate(source, specials) };
}

export async function loadTokenizer(source) {
  const d = await describe(source);
  const engine = await tokenizerEngine();
  let t = null;
  try {
    if (d.gguf) {
      t = loadTokenizerGguf(engine, d.gguf);
      return new Tokenizer(t, { template: await chatTemplateRecord(t.info.chat_template, templateSpecials(t.info)) });
    }
    const config = parseJson(d.tokenizerConfig, 'tokenizer_config.json');
    const gen = parseJson(d.generationConfig, 'generation_config.json');
    t = loadTokenizerHf(engine, d.tokenizerJson, d.tokenizerConfig ?? '');
    const eos = generationEosIds(gen);
    for (const id of eos) {
      if (id < 0 || id >= t.info.vocab_size) throw err(ErrorCodes.SP_ERR_TOKENIZER, `generation_config.json: eos_token_id ${id} is not in the vocabulary`);
    }
    if (eos.length) t.info.eog_ids = [...new Set([...t.info.eog_ids, ...eos])];
    // a broken template fails here, at load
    const template = await chatTemplateRecord(pickChatTemplate(config.chat_template), templateSpecials(t.info, config));
    return new Tokenizer(t, { config, template });
  } catch (e) {
    t?.free();
    throw e;
  }
}

/** model.applyChatTemplate: the template and token texts the worker reported at load (model._tokInfo). */
export async function renderForModel(model, messages, options = {}) {
  const info = model._tokInfo;
  if (!info?.chat_template) throw err(ErrorCodes.SP_ERR_UNSUPPORTED, 'this model has no chat template (tokenizer_config.json chat_template or GGUF tokenizer.chat_template)');
  model._chatTemplate ??= await compileChatTemplate(info.chat_template, info.specials ?? {});
  const text = renderChat(model._chatTemplate, messages, { addGenerationPrompt: options.addGenerationPrompt, specials: info.specials ?? {}, extra: options.extra });
  return options.tokenize ? await model.tokenize(text, { addBos: false }) : text;
}
