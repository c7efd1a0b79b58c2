// tokenizer-gguf.test.js - the same tokenizer written as GGUF metadata (tests/lib/tokenizer-gguf.js, the
// form llama.cpp's converter writes: "gpt2" byte-level BPE with tokenizer.ggml.pre, or "llama"
// SentencePiece BPE for Gemma and Mistral) and loaded from tokenizer.json tokenizes identically in the
// wasm engine: the hard strings and 400 lines with and without special tokens, and every file of
// ../shared/data whole (every line, in its context). Also: the GGUF keys that carry
// BOS/EOS, add_bos, the chat template and the end-of-turn ids, and the refusals.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { loadEngine } from '../web/engine.js';
import { loadTokenizerHf, loadTokenizerGguf } from '../web/tokenizer.js';
import { HARD_STRINGS, dataLines, dataFiles, TOKENIZERS, gpt2TokenizerJson } from './lib/tokenizer-corpus.js';
import { tokenizerGguf } from './lib/tokenizer-gguf.js';
import { writeGGUF } from './lib/gguf-writer.js';

const TEXTS = [...HARD_STRINGS, ...dataLines(400)];
const FILES = dataFiles(); // every file of ../shared/data, whole
// the tokenizer.ggml.pre value llama.cpp's converter writes for each
const PRE = { qwen3: 'qwen2', llama3: 'llama-bpe', gpt2: 'gpt-2', gemma3: null, mistral: null };

let engine;
test.before(async () => {
  engine = await loadEngine({ threads: 1 });
});
test.after(() => engine?.dispose());

function load(name) {
  const jsonText = name === 'gpt2' ? JSON.stringify(gpt2TokenizerJson()) : readFileSync(TOKENIZERS[name].json, 'utf8');
  const configText = name === 'gpt2' ? '' : readFileSync(TOKENIZERS[name].config, 'utf8');
  const gguf = tokenizerGguf(JSON.parse(jsonText), configText ? JSON.parse(configText) : {}, { pre: PRE[name] });
  return { json: loadTokenizerHf(engine, jsonText, configText), gguf: loadTokenizerGguf(engine, gguf), config: configText ? JSON.parse(configText) : {} };
}

for (const name of Object.keys(PRE)) {
  test(`GGUF and tokenizer.json tokenize identically: ${name}`, (t) => {
    const { json, gguf, config } = load(name);
    try {
      let n = 0, tokens = 0;
      const bad = [];
      for (const text of TEXTS) {
        for (const addSpecial of [false, true]) {
          const a = json.encode(text, addSpecial), b = gguf.encode(text, addSpecial);
          n++;
          tokens += a.length;
          if (JSON.stringify(a) !== JSON.stringify(b)) bad.push(`${JSON.stringify(text).slice(0, 50)} (special ${addSpecial}): json ${a.slice(0, 12)} gguf ${b.slice(0, 12)}`);
        }
        const ids = json.encode(text, false);
        if (json.decode(ids) !== gguf.decode(ids)) bad.push(`decode ${JSON.stringify(text).slice(0, 50)}`);
      }
      for (const { file, text } of FILES) {
        const a = json.encode(text, false), b = gguf.encode(text, false);
        n++;
        tokens += a.length;
        const k = a.findIndex((x, i) => x !== b[i]);
        if (k >= 0 || a.length !== b.length) bad.push(`${file} (whole): first difference at token ${k < 0 ? Math.min(a.length, b.length) : k}`);
        if (json.decode(a) !== gguf.decode(a)) bad.push(`decode ${file}`);
      }
      t.diagnostic(`${name}: ${n} encodings (${TEXTS.length} texts x with/without specials, ${FILES.length} whole files of ../shared/data), ${tokens} tokens compared`);
      assert.deepEqual(bad.slice(0, 10), [], `${bad.length} differences`);
      assert.equal(gguf.info.vocab_size, json.info.vocab_size);
      assert.equal(gguf.info.bos_id, json.info.bos_id);
      assert.equal(gguf.info.add_bos, json.info.add_bos);
      assert.equal(gguf.info.chat_template, typeof config.chat_template === 'string' ? config.chat_template : null);
      if (name === 'qwen3') assert.ok(gguf.info.eog_ids.includes(gguf.encode('<|im_end|>', false)[0]));
      if (name === 'llama3') assert.ok(gguf.info.eog_ids.includes(gguf.encode('<|eot_id|>', false)[0]));
      if (name === 'gemma3') assert.ok(gguf.info.eog_ids.includes(gguf.encode('<end_of_turn>', false)[0]));
    } finally {
      json.free();
      gguf.free();
    }
  });
}

test('GGUF tokenizer: each llama.cpp pre value maps to its split; unknown values and bad merges are refused', () => {
  const base = (pre, merges = ['a b']) => writeGGUF({
    kv: [
      ['tokenizer.ggml.model', 'string', 'gpt2'], ['tokenizer.ggml.pre', 'string', pre],
      ['tokenizer.ggml.tokens', 'array', { type: 'string', values: ['a', 'b', 'ab', '1', '2', '3', 'Ġ', '12', '123', '!', '$'] }],
      ['tokenizer.ggml.merges', 'array', { type: 'string', values: merges }],
    ],
    tensors: [],
  });
  const pieces = (tok, text) => tok.encode(text, false).map((id) => tok.tokenText(id));
  // smollm: digits one by one before the GPT-2 split; default: runs of digits, then groups of three
  const smol = loadTokenizerGguf(engine, base('smollm', ['a b', '1 2', '12 3']));
  assert.deepEqual(pieces(smol, 'ab123'), ['ab', '1', '2', '3']);
  smol.free();
  const gpt2 = loadTokenizerGguf(engine, base('gpt-2', ['a b', '1 2', '12 3']));
  assert.deepEqual(pieces(gpt2, 'ab123'), ['ab', '123']);
  gpt2.free();
  const llama3 = loadTokenizerGguf(engine, base('llama-bpe', ['a b', '1 2', '12 3']));
  assert.deepEqual(pieces(llama3, 'ab1231'), ['ab', '123', '1']);
  assert.equal(llama3.info.add_bos, false); // llama.cpp adds BOS by default here, but there is no BOS id
  llama3.free();
  assert.throws(() => loadTokenizerGguf(engine, base('deepseek-coder')),
    (e) => e.code === 'SP_ERR_UNSUPPORTED' && /tokenizer\.ggml\.pre 'deepseek-coder'/.test(e.message));
  assert.throws(() => loadTokenizerGguf(engine, base('gpt-2', ['a c'])),
    (e) => e.code === 'SP_ERR_TOKENIZER' && /merges\[0\]: piece 'c' is not in the vocab/.test(e.message));
  assert.throws(() => loadTokenizerGguf(engine, base('gpt-2', ['ab'])),
    (e) => e.code === 'SP_ERR_TOKENIZER' && /merges\[0\] 'ab' is not two pieces/.test(e.message));
});
