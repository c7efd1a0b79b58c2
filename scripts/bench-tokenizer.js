#!/usr/bin/env node
// bench-tokenizer.js - tokenizer speed, the engine (wasm, single thread, web/tokenizer.js) against
// @huggingface/tokenizers in the same Node process, on the real tokenizer.json files:
//   load    tokenizer.json text -> a ready tokenizer (Gemma 3's is 33 MB)
//   encode  1 MB of English (TinyStories + Shakespeare from ../shared/data) and 1 MB of mixed scripts
//           (the hard-string corpus: CJK, Arabic, Devanagari, emoji, code, accents), as one text each
// Each figure is the best of --repeats runs (default 3). The machine may be loaded: compare the
// ratios within one run. Usage: node scripts/bench-tokenizer.js [--repeats N] [--json] [names...]
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Tokenizer } from '@huggingface/tokenizers';

import { loadEngine } from '../web/engine.js';
import { loadTokenizerHf } from '../web/tokenizer.js';
import { HARD_STRINGS, TOKENIZERS, gpt2TokenizerJson } from '../tests/lib/tokenizer-corpus.js';
import { dataPath } from '../tests/lib/paths.js';

const args = process.argv.slice(2);
const json = args.includes('--json');
const ri = args.indexOf('--repeats');
const repeats = ri >= 0 ? Number(args[ri + 1]) : 3;
const names = args.filter((a, i) => !a.startsWith('--') && args[i - 1] !== '--repeats');
const which = names.length ? names : ['qwen3', 'llama3', 'gemma3', 'mistral', 'gpt2'];

const MB = 1 << 20;
function megabyte(parts) { // parts joined by spaces (a newline every 7th) up to 1 MB of UTF-8, counted as it grows
  const out = [];
  let bytes = 0;
  for (let i = 0; bytes < MB; i++) {
    const p = parts[i % parts.length] + (i % 7 === 6 ? '\n' : ' ');
    out.push(p);
    bytes += Buffer.byteLength(p);
  }
  let s = out.join('');
  for (let over = bytes - MB; over > 0;) { // drop whole characters from the end
    const c = [...s.slice(-2)].pop();
    s = s.slice(0, -c.length);
    over -= Buffer.byteLength(c);
  }
  return s;
}
const english = megabyte([readFileSync(dataPath('tinystories/tinystories_val.txt'), 'utf8').slice(0, 600_000),
  readFileSync(dataPath('tinyshakespeare/input.txt'), 'utf8').slice(0, 600_000)]);
const mixed = megabyte(HARD_STRINGS.filter((s) => /[^\x00-\x7f]/.test(s) || s.length > 20));

function best(fn) {
  let t = Infinity, r;
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    r = fn();
    t = Math.min(t, performance.now() - t0);
  }
  return { ms: t, r };
}

const engine = await loadEngine({ threads: 1 });
const rows = [];
for (const name of which) {
  const jsonText = name === 'gpt2' ? JSON.stringify(gpt2TokenizerJson()) : readFileSync(TOKENIZERS[name].json, 'utf8');
  const config = name === 'gpt2' ? {} : JSON.parse(readFileSync(TOKENIZERS[name].config, 'utf8'));
  const oursLoad = best(() => {
    const t = loadTokenizerHf(engine, jsonText, '');
    t.free();
  });
  const hfLoad = best(() => new Tokenizer(JSON.parse(jsonText), config)); // HF takes parsed JSON: parse included
  const ours = loadTokenizerHf(engine, jsonText, '');
  const hf = hfLoad.r;
  const row = { name, json_mb: +(jsonText.length / MB).toFixed(1), load_ms: +oursLoad.ms.toFixed(0), hf_load_ms: +hfLoad.ms.toFixed(0) };
  for (const [label, text] of [['english', english], ['mixed', mixed]]) {
    const a = best(() => ours.encode(text, false));
    const b = best(() => hf.encode(text, { add_special_tokens: false }).ids);
    if (a.r.length !== b.r.length) row[`${label}_note`] = `token counts differ: ${a.r.length} vs ${b.r.length}`;
    row[`${label}_mb_s`] = +(1000 / a.ms).toFixed(2);
    row[`hf_${label}_mb_s`] = +(1000 / b.ms).toFixed(2);
    row[`${label}_ratio`] = +(b.ms / a.ms).toFixed(2);
  }
  ours.free();
  rows.push(row);
  if (!json) {
    console.log(`${name.padEnd(8)} tokenizer.json ${row.json_mb} MB: load ${row.load_ms} ms (HF ${row.hf_load_ms} ms); `
      + `1 MB English ${row.english_mb_s} MB/s (HF ${row.hf_english_mb_s}, x${row.english_ratio}); `
      + `1 MB mixed ${row.mixed_mb_s} MB/s (HF ${row.hf_mixed_mb_s}, x${row.mixed_ratio})`
      + (row.english_note || row.mixed_note ? ` [${row.english_note ?? ''} ${row.mixed_note ?? ''}]` : ''));
  }
}
if (json) console.log(JSON.stringify(rows));
engine.dispose();
