// peft.js - checks that an adapter is what Hugging Face PEFT writes for PROMPT_TUNING /
// PREFIX_TUNING on a causal LM (see /work/shared/REFERENCE.md section 1 and src/train/adapter.h).
//
//   checkPeftAdapter({ safetensors, config }, expect?) -> report
//     safetensors: Uint8Array of adapter_model.safetensors
//     config:      adapter_config.json text (or an already parsed object: then key order is not checked)
//     expect (optional, each field checked when given):
//       { method: 'prompt'|'prefix', numVirtualTokens, hidden (model dim), numLayers, numHeads,
//         numKvHeads, headDim, init: 'RANDOM'|'SAMPLE_VOCAB'|'TEXT', initText, baseModel }
//     Throws PeftFormatError (code 'SP_ERR_FORMAT') listing EVERY problem found; returns
//     { method, numVirtualTokens, tokenDim, width, values: Float32Array (N*width), config }.
//   checkPeftAdapterDir(dir, expect?) -> the same, reading dir/adapter_model.safetensors and
//     dir/adapter_config.json.
//   prefixSlice(report, i, layer, 'K'|'V') -> Float32Array(tokenDim): virtual token i's key or value
//     at layer (PEFT order: row i = [L0.K | L0.V | L1.K | ...], HF rotate-half order inside a head).
//
// What PEFT writes (peft >= 0.14; peft_version appears from 0.18):
//   safetensors: exactly one tensor "prompt_embeddings", dtype F32, 2-D [N, width],
//     width = token_dim (prompt) or num_layers*2*token_dim (prefix); header metadata {"format":"pt"};
//     header padded with spaces to a multiple of 8; data_offsets [0, N*width*4]; nothing after it.
//   adapter_config.json: keys sorted; inference_mode true; task_type "CAUSAL_LM";
//     num_transformer_submodules 1; prompt tuning: token_dim = hidden, num_attention_heads = heads,
//     prompt_tuning_init RANDOM|SAMPLE_VOCAB|TEXT (TEXT needs prompt_tuning_init_text and
//     tokenizer_name_or_path); prefix tuning (PEFT's GQA rule, peft/utils/other.py):
//     token_dim = kv_heads*head_dim, num_attention_heads = kv_heads, encoder_hidden_size = token_dim,
//     prefix_projection false.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export class PeftFormatError extends Error {
  constructor(problems) {
    super(`not a PEFT adapter:\n  - ${problems.join('\n  - ')}`);
    this.name = 'PeftFormatError';
    this.code = 'SP_ERR_FORMAT';
    this.problems = problems;
  }
}

export const PROMPT_TUNING_KEYS = [
  'auto_mapping', 'base_model_name_or_path', 'inference_mode', 'modules_to_save', 'num_attention_heads',
  'num_layers', 'num_transformer_submodules', 'num_virtual_tokens', 'peft_type', 'peft_version',
  'prompt_tuning_init', 'prompt_tuning_init_text', 'revision', 'task_type', 'token_dim', 'tokenizer_kwargs',
  'tokenizer_name_or_path',
];
export const PREFIX_TUNING_KEYS = [
  'auto_mapping', 'base_model_name_or_path', 'encoder_hidden_size', 'inference_mode', 'init_weights',
  'modules_to_save', 'num_attention_heads', 'num_layers', 'num_transformer_submodules', 'num_virtual_tokens',
  'peft_type', 'peft_version', 'prefix_projection', 'revision', 'task_type', 'token_dim',
];

const isInt = (v) => Number.isInteger(v);

/** Parse the safetensors bytes strictly; problems are pushed, never thrown. */
function readTensor(bytes, problems) {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  if (u8.length < 8) { problems.push(`safetensors: ${u8.length} bytes, too short`); return null; }
  const dv = new DataView(u8.buffer, u8.byteOffset, u8.byteLength);
  const hl64 = dv.getBigUint64(0, true);
  if (hl64 > BigInt(u8.length - 8)) { problems.push(`safetensors: header length ${hl64} past the end (${u8.length} bytes)`); return null; }
  const hl = Number(hl64);
  if (hl % 8 !== 0) problems.push(`safetensors: header length ${hl} is not a multiple of 8`);
  let header;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(u8.subarray(8, 8 + hl)));
  } catch (e) {
    problems.push(`safetensors: header is not JSON (${e.message})`);
    return null;
  }
  if (!header || typeof header !== 'object' || Array.isArray(header)) { problems.push('safetensors: header is not an object'); return null; }
  const md = header.__metadata__;
  if (!md || typeof md !== 'object' || Object.keys(md).length !== 1 || md.format !== 'pt')
    problems.push(`safetensors: __metadata__ must be {"format":"pt"}, got ${JSON.stringify(md)}`);
  const names = Object.keys(header).filter((k) => k !== '__metadata__');
  if (names.length !== 1 || names[0] !== 'prompt_embeddings')
    problems.push(`safetensors: must hold exactly one tensor "prompt_embeddings", has ${JSON.stringify(names)}`);
  const t = header.prompt_embeddings;
  if (!t) return null;
  if (t.dtype !== 'F32') problems.push(`prompt_embeddings: dtype ${t.dtype}, PEFT saves F32`);
  if (!Array.isArray(t.shape) || t.shape.length !== 2 || !t.shape.every(isInt)) {
    problems.push(`prompt_embeddings: shape ${JSON.stringify(t.shape)} is not 2-D`);
    return null;
  }
  const [rows, cols] = t.shape;
  const nbytes = rows * cols * 4;
  const off = t.data_offsets;
  if (!Array.isArray(off) || off.length !== 2 || off[0] !== 0 || off[1] !== nbytes)
    problems.push(`prompt_embeddings: data_offsets ${JSON.stringify(off)}, expected [0, ${nbytes}]`);
  const data = u8.subarray(8 + hl);
  if (data.length !== nbytes) problems.push(`safetensors: ${data.length} data bytes, expected ${nbytes}`);
  if (t.dtype !== 'F32' || data.length < nbytes) return { rows, cols, values: null };
  const values = new Float32Array(rows * cols);
  const ddv = new DataView(data.buffer, data.byteOffset, nbytes);
  let bad = -1;
  for (let i = 0; i < values.length; i++) {
    values[i] = ddv.getFloat32(4 * i, true);
    if (bad < 0 && !Number.isFinite(values[i])) bad = i;
  }
  if (bad >= 0) problems.push(`prompt_embeddings: value ${bad} (row ${Math.floor(bad / cols)}) is not finite`);
  return { rows, cols, values };
}

function checkConfig(config, problems, expect) {
  let cfg = config;
  let keyOrder = null;
  if (typeof config === 'string') {
    try { cfg = JSON.parse(config); } catch (e) { problems.push(`adapter_config.json is not JSON (${e.message})`); return null; }
    keyOrder = cfg && typeof cfg === 'object' ? Object.keys(cfg) : null;
  }
  if (!cfg || typeof cfg !== 'object' || Array.isArray(cfg)) { problems.push('adapter_config.json is not an object'); return null; }
  const method = cfg.peft_type === 'PROMPT_TUNING' ? 'prompt' : cfg.peft_type === 'PREFIX_TUNING' ? 'prefix' : null;
  if (!method) { problems.push(`peft_type ${JSON.stringify(cfg.peft_type)}, expected "PROMPT_TUNING" or "PREFIX_TUNING"`); return null; }
  const keys = method === 'prompt' ? PROMPT_TUNING_KEYS : PREFIX_TUNING_KEYS;
  const have = Object.keys(cfg);
  const missing = keys.filter((k) => !(k in cfg));
  const extra = have.filter((k) => !keys.includes(k));
  if (missing.length) problems.push(`adapter_config.json lacks ${JSON.stringify(missing)}`);
  if (extra.length) problems.push(`adapter_config.json has unexpected keys ${JSON.stringify(extra)}`);
  if (keyOrder) {
    const sorted = [...keyOrder].sort();
    if (keyOrder.join() !== sorted.join()) problems.push('adapter_config.json keys are not sorted');
  }
  const want = (k, v) => { if (cfg[k] !== v) problems.push(`${k} is ${JSON.stringify(cfg[k])}, expected ${JSON.stringify(v)}`); };
  want('inference_mode', true);
  want('task_type', 'CAUSAL_LM');
  want('num_transformer_submodules', 1);
  for (const k of ['auto_mapping', 'revision', 'modules_to_save']) want(k, null);
  if (typeof cfg.peft_version !== 'string' || !/^\d+\.\d+\.\d+/.test(cfg.peft_version))
    problems.push(`peft_version ${JSON.stringify(cfg.peft_version)} is not a version string`);
  for (const k of ['num_virtual_tokens', 'token_dim', 'num_attention_heads', 'num_layers'])
    if (!isInt(cfg[k]) || cfg[k] < 1) problems.push(`${k} ${JSON.stringify(cfg[k])} is not a positive integer`);
  if (cfg.base_model_name_or_path !== null && typeof cfg.base_model_name_or_path !== 'string')
    problems.push('base_model_name_or_path must be a string or null');
  if (method === 'prompt') {
    const init = cfg.prompt_tuning_init;
    if (!['RANDOM', 'SAMPLE_VOCAB', 'TEXT'].includes(init)) problems.push(`prompt_tuning_init ${JSON.stringify(init)}`);
    if (init === 'TEXT') {
      if (typeof cfg.prompt_tuning_init_text !== 'string') problems.push('TEXT init without prompt_tuning_init_text');
      if (typeof cfg.tokenizer_name_or_path !== 'string' || !cfg.tokenizer_name_or_path)
        problems.push('TEXT init without tokenizer_name_or_path (PEFT refuses to load it)');
    } else {
      want('prompt_tuning_init_text', null);
    }
    want('tokenizer_kwargs', null);
    if (expect.init !== undefined) want('prompt_tuning_init', expect.init);
    if (expect.initText !== undefined) want('prompt_tuning_init_text', expect.initText);
  } else {
    want('prefix_projection', false);
    if (cfg.init_weights !== null && cfg.init_weights !== 'zero') problems.push(`init_weights ${JSON.stringify(cfg.init_weights)}`);
    if (cfg.encoder_hidden_size !== cfg.token_dim) problems.push(`encoder_hidden_size ${cfg.encoder_hidden_size} != token_dim ${cfg.token_dim}`);
  }
  if (expect.method !== undefined && expect.method !== method) problems.push(`method ${method}, expected ${expect.method}`);
  if (expect.numVirtualTokens !== undefined) want('num_virtual_tokens', expect.numVirtualTokens);
  if (expect.numLayers !== undefined) want('num_layers', expect.numLayers);
  if (expect.baseModel !== undefined) want('base_model_name_or_path', expect.baseModel);
  if (method === 'prompt') {
    if (expect.hidden !== undefined) want('token_dim', expect.hidden);
    if (expect.numHeads !== undefined) want('num_attention_heads', expect.numHeads);
  } else {
    const kvHeads = expect.numKvHeads ?? expect.numHeads;
    if (kvHeads !== undefined) want('num_attention_heads', kvHeads);
    if (kvHeads !== undefined && expect.headDim !== undefined) want('token_dim', kvHeads * expect.headDim);
    else if (kvHeads !== undefined && expect.hidden !== undefined && expect.numHeads !== undefined)
      want('token_dim', (expect.hidden / expect.numHeads) * kvHeads);
  }
  return { cfg, method };
}

export function checkPeftAdapter({ safetensors, config }, expect = {}) {
  const problems = [];
  const t = readTensor(safetensors, problems);
  const c = checkConfig(config, problems, expect);
  let width = null;
  if (t && c) {
    const { cfg, method } = c;
    width = method === 'prompt' ? cfg.token_dim : cfg.num_layers * 2 * cfg.token_dim;
    if (t.rows !== cfg.num_virtual_tokens || t.cols !== width)
      problems.push(`prompt_embeddings shape [${t.rows}, ${t.cols}], expected [${cfg.num_virtual_tokens}, ${width}] from the config`);
  }
  if (problems.length) throw new PeftFormatError(problems);
  return {
    method: c.method,
    numVirtualTokens: c.cfg.num_virtual_tokens,
    tokenDim: c.cfg.token_dim,
    numLayers: c.cfg.num_layers,
    width,
    values: t.values,
    config: c.cfg,
  };
}

export function checkPeftAdapterDir(dir, expect = {}) {
  const safetensors = new Uint8Array(readFileSync(join(dir, 'adapter_model.safetensors')));
  const config = readFileSync(join(dir, 'adapter_config.json'), 'utf8');
  return checkPeftAdapter({ safetensors, config }, expect);
}

export function prefixSlice(report, i, layer, which) {
  if (report.method !== 'prefix') throw new Error('prefixSlice: not a prefix adapter');
  const d = report.tokenDim;
  const start = i * report.width + (layer * 2 + (which === 'V' ? 1 : 0)) * d;
  return report.values.subarray(start, start + d);
}
