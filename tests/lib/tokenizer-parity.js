// tokenizer-parity.js - the engine's tokenizer (wasm, web/tokenizer.js) against @huggingface/tokenizers
// on the same tokenizer.json, for tests/tokenizer-parity.test.js and scripts/tokenizer-parity.js.
//   openPair(engine, name)            {ref, ours, free()} for a name of TOKENIZERS or 'gpt2'
//   compare(pair, texts, {specials})  encode every text with each add_special_tokens value in specials
//                                     (ids must be identical), and decode HF's ids wherever HF's own
//                                     decode gives the text back (ours must give it too). Returns
//                                     {encodings, tokens, roundTrips, bad: [first mismatches, readable]}
import { Tokenizer } from '@huggingface/tokenizers';

import { loadTokenizerHf } from '../../web/tokenizer.js';
import { tokenizerFiles } from './tokenizer-corpus.js';

export function openPair(engine, name) {
  const { jsonText, configText } = tokenizerFiles(name);
  const ref = new Tokenizer(JSON.parse(jsonText), configText ? JSON.parse(configText) : {});
  const ours = loadTokenizerHf(engine, jsonText, configText);
  return { ref, ours, free: () => ours.free() };
}

const show = (x, n) => JSON.stringify(x).slice(0, n);

/** The first index where a and b differ, -1 when equal. */
function firstDiff(a, b) {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

export function compare({ ref, ours }, texts, { specials = [false, true], maxBad = 10 } = {}) {
  let encodings = 0, tokens = 0, roundTrips = 0;
  const bad = [];
  const note = (s) => { if (bad.length < maxBad) bad.push(s); else bad.more = (bad.more ?? 0) + 1; };
  for (const text of texts) {
    let plain = null;
    for (const addSpecial of specials) {
      const want = ref.encode(text, { add_special_tokens: addSpecial }).ids;
      const got = ours.encode(text, addSpecial);
      if (!addSpecial) plain = want;
      encodings++;
      tokens += want.length;
      const k = firstDiff(want, got);
      if (k >= 0) {
        note(`${show(text, 60)} (${text.length} chars, special ${addSpecial}): token ${k} of ${want.length}: ` +
          `want ${show(want.slice(k, k + 8), 80)}, got ${show(got.slice(k, k + 8), 80)} near ${show(ref.decode(want.slice(Math.max(0, k - 4), k + 4)), 60)}`);
      }
    }
    const ids = plain ?? ref.encode(text, { add_special_tokens: false }).ids;
    if (ids.length > 0 && ref.decode(ids, { skip_special_tokens: true }) === text) {
      roundTrips++;
      const back = ours.decode(ids);
      if (back !== text) {
        const k = firstDiff(back, text);
        note(`decode ${show(text, 60)}: differs at char ${k}: want ${show(text.slice(k, k + 30), 40)}, got ${show(back.slice(k, k + 30), 40)}`);
      }
    }
  }
  return { encodings, tokens, roundTrips, bad };
}
