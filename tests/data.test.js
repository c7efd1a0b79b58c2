// data.test.js - training data through the one parser (src/train/data.c) as pages and the API see it
// (sp.dataPreview, no model): the studio's built-in examples, tab-separated files (pairs or a clear
// refusal, never one plain-text example), the one-example warning, problems with line and field;
// and web/data.js's conversationSequences (the loss mask of a rendered conversation) on its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Template } from '@huggingface/jinja';
import { readFileSync } from 'node:fs';

import { Softprompt } from '../web/softprompt.js';
import { EXAMPLES } from '../web/page/examples.js';
import { isLabelLike, conversationSequences } from '../web/data.js';
import { TOKENIZERS } from './lib/tokenizer-corpus.js';

let sp;
test.before(async () => { sp = await Softprompt.create({ threads: 1, worker: false }); });
test.after(() => sp?.terminate());

test('every built-in example parses without errors in its declared format', async () => {
  assert.ok(EXAMPLES.length >= 2);
  for (const ex of EXAMPLES) {
    const p = await sp.dataPreview(ex.text, { format: ex.format, limit: 1000 });
    assert.deepEqual(p.errors, [], `${ex.id}: ${JSON.stringify(p.errors)}`);
    assert.ok(p.count >= 8, `${ex.id} has ${p.count} examples`);
    assert.deepEqual(p.warnings, []);
    // auto-detection agrees with the declared format
    assert.equal((await sp.dataPreview(ex.text)).format, ex.format, `${ex.id} auto-detects as ${ex.format}`);
    // SentencePiece-style tokenizers put a space before the output themselves (as PEFT's separate
    // tokenization of targets does), so outputs must not start with one.
    for (const e of p.examples) if ('output' in e) assert.ok(!/^\s/.test(e.output), `${ex.id}: ${JSON.stringify(e.output)}`);
  }
  const qa = await sp.dataPreview(EXAMPLES.find((e) => e.id === 'happy-or-sad').text);
  assert.equal(qa.kind, 'input-output');
  assert.ok(isLabelLike(qa.labels, qa.count), 'two labels over 40 examples are labels');
  const names = await sp.dataPreview(EXAMPLES.find((e) => e.id === 'who-was-it').text);
  assert.equal(isLabelLike(names.labels, names.count), false, '16 different answers are not labels');
});

test('tab-separated data: read as input/output pairs (with or without a header), never as one text', async () => {
  const p = await sp.dataPreview('a cat\tcat\na dog\tdog\n');
  assert.equal(p.format, 'tsv');
  assert.deepEqual(p.examples, [{ input: 'a cat', output: 'cat', line: 1 }, { input: 'a dog', output: 'dog', line: 2 }]);
  const h = await sp.dataPreview('output\tinput\nyes\tis it?\n');
  assert.deepEqual(h.examples, [{ input: 'is it?', output: 'yes', line: 2 }]);
  const bad = await sp.dataPreview('a\tb\tc\nd\te\tf\n');
  assert.equal(bad.count, 0);
  assert.equal(bad.format, 'tsv');
  assert.match(bad.errors[0].message, /2 tab-separated fields/);
  assert.equal(bad.errors[0].line, 1);
  // forced: the same refusal; tune refuses it too (SP_ERR_DATA, line 1)
  assert.equal((await sp.dataPreview('a\tb\tc\n', { format: 'tsv' })).errors[0].line, 1);
});

test('a file that yields one example warns; problems carry line and field', async () => {
  const one = await sp.dataPreview('just one paragraph\nof plain text\n');
  assert.equal(one.count, 1);
  assert.equal(one.warnings.length, 1);
  assert.match(one.warnings[0], /one example.*text was read/);
  assert.deepEqual((await sp.dataPreview('one\n\ntwo\n')).warnings, []);
  const p = await sp.dataPreview('{"text":"a"}\n{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":7}]}\n');
  assert.deepEqual(p.errors.map((e) => [e.code, e.line, e.field]), [['SP_ERR_DATA', 2, 'messages[1].content']]);
  assert.match(p.errors[0].message, /^line 2: messages\[1\]\.content must be a string, got a number$/);
  // conversations are listed as the parser read them
  const c = await sp.dataPreview('{"prompt":"2+2?","completion":[{"role":"assistant","content":"4"}]}\n{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}\n');
  assert.equal(c.kind, 'chat');
  assert.deepEqual(c.examples[0], { messages: [{ role: 'user', content: '2+2?' }, { role: 'assistant', content: '4' }], train_from: 1, line: 1 });
  await assert.rejects(sp.dataPreview('x', { format: 'yaml' }), (e) => e.code === 'SP_ERR_INVALID_ARG');
});

// conversationSequences on its own: a ChatML template rendered by @huggingface/jinja
const CHATML = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
const render = (src) => { const t = new Template(src); return (messages, agp) => t.render({ messages, add_generation_prompt: agp }); };

test('conversationSequences: assistant turns and their end-of-turn text train, nothing else; a broken prefix is refused', () => {
  const messages = [{ role: 'system', content: 'S' }, { role: 'user', content: 'U1' }, { role: 'assistant', content: 'A1' },
    { role: 'user', content: 'U2' }, { role: 'assistant', content: 'A2' }];
  const [segs, ...more] = conversationSequences(render(CHATML), { messages, train_from: 0, line: 3 }, ['<|im_end|>']);
  assert.equal(more.length, 0, 'ChatML renders earlier turns the same: one sequence');
  assert.equal(segs.map((s) => s.text).join(''), render(CHATML)(messages, false), 'the segments are the whole rendering');
  assert.deepEqual(segs.filter((s) => s.train).map((s) => s.text), ['A1<|im_end|>', 'A2<|im_end|>']);
  // train_from: earlier assistant turns are context
  const [late] = conversationSequences(render(CHATML), { messages, train_from: 3, line: 3 }, ['<|im_end|>']);
  assert.deepEqual(late.filter((s) => s.train).map((s) => s.text), ['A2<|im_end|>']);
  // no end-of-turn text known: the whole turn as rendered trains
  const [whole] = conversationSequences(render(CHATML), { messages: messages.slice(0, 3), train_from: 0, line: 1 }, []);
  assert.deepEqual(whole.filter((s) => s.train).map((s) => s.text), ['A1<|im_end|>\n']);
  // a template that writes the last assistant turn differently: refused, naming line and turn
  const odd = "{% for m in messages %}{% if loop.last and m.role == 'assistant' %}[final] {% endif %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}";
  assert.throws(() => conversationSequences(render(odd), { messages, train_from: 0, line: 4 }, []),
    (e) => e.code === 'SP_ERR_UNSUPPORTED' && e.line === 4 && e.field === 'messages[2]' && /line 4: the chat template renders assistant turn messages\[2\] differently from the prompt it gives/.test(e.message));
  assert.throws(() => conversationSequences(render(CHATML), { messages: [{ role: 'assistant', content: 'x' }], train_from: 0, line: 2 }, []),
    (e) => e.code === 'SP_ERR_DATA' && e.line === 2 && e.field === 'messages[0]');
  // a template error names the line
  assert.throws(() => conversationSequences(() => { throw new Error('no system role'); }, { messages, train_from: 0, line: 9 }, []),
    (e) => e.code === 'SP_ERR_INVALID_ARG' && e.line === 9 && /no system role/.test(e.message));
});

// Qwen3's real template writes the last assistant turn with a <think> block and drops the thinking of
// turns before the last user message: each turn is learnt as the model writes it after its prompt,
// in a sequence of its own when the whole conversation renders it otherwise
test('conversationSequences: Qwen3 multi-turn, each assistant turn learnt in the context the model writes it in', () => {
  const qwen = render(JSON.parse(readFileSync(TOKENIZERS.qwen3.config, 'utf8')).chat_template);
  const eot = ['<|im_end|>', '<|endoftext|>'];
  const m = [{ role: 'system', content: 'S' }, { role: 'user', content: 'U1' }, { role: 'assistant', content: '<think>\nR1\n</think>\n\nA1' },
    { role: 'user', content: 'U2' }, { role: 'assistant', content: 'A2' }, { role: 'user', content: 'U3' }, { role: 'assistant', content: 'A3' }];
  const seqs = conversationSequences(qwen, { messages: m, train_from: 0, line: 1 }, eot);
  assert.equal(seqs.length, 3);
  const text = (segs) => segs.map((x) => x.text).join('');
  const learnt = (segs) => segs.filter((x) => x.train).map((x) => x.text);
  // each sequence is the rendering up to its turn; the last is the whole conversation
  for (const [k, end] of [[0, 3], [1, 5], [2, 7]]) assert.equal(text(seqs[k]), qwen(m.slice(0, end), false), `sequence ${k}`);
  assert.deepEqual(seqs.map(learnt), [['<think>\nR1\n</think>\n\nA1<|im_end|>'], ['<think>\n\n</think>\n\nA2<|im_end|>'], ['<think>\n\n</think>\n\nA3<|im_end|>']]);
  // the learnt text follows exactly the prompt the model is given for that turn
  for (const [k, i] of [[0, 2], [1, 4], [2, 6]]) {
    const before = seqs[k].slice(0, seqs[k].findIndex((x) => x.train)).map((x) => x.text).join('');
    assert.equal(before, qwen(m.slice(0, i), true), `the prompt of messages[${i}]`);
  }
  // in the later sequences the earlier turns are context, as the template writes them there (no thinking)
  assert.match(text(seqs[2]), /<\|im_start\|>assistant\nA1<\|im_end\|>\n<\|im_start\|>user\nU2/);
  // a tool-less conversation whose turns all follow the last user message: one sequence
  const one = conversationSequences(qwen, { messages: m.slice(0, 3), train_from: 0, line: 1 }, eot);
  assert.equal(one.length, 1);
  // prompt/completion: only the completion is learnt; the prompt's assistant turn is context and adds no sequence
  const pc = conversationSequences(qwen, { messages: m.slice(0, 5), train_from: 4, line: 1 }, eot);
  assert.deepEqual(pc.map(learnt), [['<think>\n\n</think>\n\nA2<|im_end|>']]);
});

test('segments records: a list of segment lists is one example per sequence; problems name the sequence', async () => {
  const seq = (t) => [{ text: 'Q: ', train: false }, { text: t, train: true }];
  const p = await sp.dataPreview(`${JSON.stringify({ segments: [seq('a'), seq('b')] })}\n${JSON.stringify({ segments: seq('c') })}\n`);
  assert.deepEqual(p.errors, []);
  assert.equal(p.count, 3);
  assert.deepEqual(p.examples.map((x) => [x.line, x.segments[1].text]), [[1, 'a'], [1, 'b'], [2, 'c']]);
  const bad = async (rec, field, re) => {
    const q = await sp.dataPreview(`{"text":"x"}\n${JSON.stringify(rec)}\n`);
    assert.deepEqual([q.errors[0]?.code, q.errors[0]?.line, q.errors[0]?.field], ['SP_ERR_DATA', 2, field], JSON.stringify(rec));
    assert.match(q.errors[0].message, re);
  };
  await bad({ segments: [seq('a'), [{ text: 'no target' }]] }, 'segments[1]', /^line 2: no segment with "train": true/);
  await bad({ segments: [seq('a'), 'x'] }, 'segments[1]', /segments\[1\] must be a list of \{"text", "train"\} like segments\[0\], got a string/);
  await bad({ segments: [seq('a'), [{ text: 1, train: true }]] }, 'segments[1][0].text', /segments\[1\]\[0\]\.text must be a string, got a number/);
});
