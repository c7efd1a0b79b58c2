#!/usr/bin/env node
// tokenizer-parity.js - the exhaustive parity run (tests/tokenizer-parity.test.js checks a share of it):
// the engine's tokenizer (wasm) against @huggingface/tokenizers on the real tokenizer.json files, on
// every file of ../shared/data whole and on every non-empty line of it alone, with and without special
// tokens, plus the hard-string corpus. Prints the counts compared per tokenizer and the first mismatches;
// exits 1 on any mismatch. Takes minutes (HF's encoder runs at about 0.1-0.5 MB/s here).
// Usage: node scripts/tokenizer-parity.js [names...]   (default: qwen3 llama3 gemma3 mistral gpt2)
import { performance } from 'node:perf_hooks';

import { loadEngine } from '../web/engine.js';
import { HARD_STRINGS, dataFiles, dataLines } from '../tests/lib/tokenizer-corpus.js';
import { openPair, compare } from '../tests/lib/tokenizer-parity.js';

const names = process.argv.slice(2);
const which = names.length ? names : ['qwen3', 'llama3', 'gemma3', 'mistral', 'gpt2'];
const files = dataFiles();
const texts = [...HARD_STRINGS, ...dataLines(Infinity)];
const chars = files.reduce((a, f) => a + f.text.length, 0);

const engine = await loadEngine({ threads: 1 });
let failed = 0;
for (const name of which) {
  const t0 = performance.now();
  const pair = openPair(engine, name);
  try {
    const w = compare(pair, files.map((f) => f.text), { specials: [false, true] });
    const l = compare(pair, texts);
    const s = ((performance.now() - t0) / 1000).toFixed(0);
    console.log(`${name}: ${files.length} whole files (${chars} chars): ${w.encodings} encodings, ${w.tokens} tokens, ${w.roundTrips} decode round trips; ` +
      `${texts.length} texts (${HARD_STRINGS.length} hard strings + every non-empty line): ${l.encodings} encodings, ${l.tokens} tokens, ` +
      `${l.roundTrips} decode round trips; ${s} s`);
    for (const b of [...w.bad, ...l.bad]) console.log(`  MISMATCH ${b}`);
    const n = w.bad.length + (w.bad.more ?? 0) + l.bad.length + (l.bad.more ?? 0);
    if (n) console.log(`  ${n} mismatches`);
    failed += n;
  } finally {
    pair.free();
  }
}
engine.dispose();
console.log(failed ? `FAIL: ${failed} mismatches` : 'all identical');
process.exit(failed ? 1 : 0);
