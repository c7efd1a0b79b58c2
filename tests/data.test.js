// data.test.js - training data through the one parser (src/train/data.c) as pages and the API see it
// (sp.dataPreview, no model): the studio's built-in examples, tab-separated files (pairs or a clear
// refusal, never one plain-text example), the one-example warning, problems with line and field;
// and web/data.js's conversationSegments (the loss mask of a rendered conversation) on its own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Template } from '@huggingface/jinja';

import { Softprompt } from '../web/softprompt.js';
import { EXAMPLES } from '../web/page/examples.js';
import { isLabelLike, conversationSegments } from '../web/data.js';

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

// conversationSegments on its own: a ChatML template rendered by @huggingface/jinja
const CHATML = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
const render = (src) => { const t = new Template(src); return (messages, agp) => t.render({ messages, add_generation_prompt: agp }); };

test('conversationSegments: assistant turns and their end-of-turn text train, nothing else; a broken prefix is refused', () => {
  const messages = [{ role: 'system', content: 'S' }, { role: 'user', content: 'U1' }, { role: 'assistant', content: 'A1' },
    { role: 'user', content: 'U2' }, { role: 'assistant', content: 'A2' }];
  const segs = conversationSegments(render(CHATML), { messages, train_from: 0, line: 3 }, ['<|im_end|>']);
  assert.equal(segs.map((s) => s.text).join(''), render(CHATML)(messages, false), 'the segments are the whole rendering');
  assert.deepEqual(segs.filter((s) => s.train).map((s) => s.text), ['A1<|im_end|>', 'A2<|im_end|>']);
  // train_from: earlier assistant turns are context
  const late = conversationSegments(render(CHATML), { messages, train_from: 3, line: 3 }, ['<|im_end|>']);
  assert.deepEqual(late.filter((s) => s.train).map((s) => s.text), ['A2<|im_end|>']);
  // no end-of-turn text known: the whole turn as rendered trains
  const whole = conversationSegments(render(CHATML), { messages: messages.slice(0, 3), train_from: 0, line: 1 }, []);
  assert.deepEqual(whole.filter((s) => s.train).map((s) => s.text), ['A1<|im_end|>\n']);
  // a template that writes the last assistant turn differently: refused, naming line and turn
  const odd = "{% for m in messages %}{% if loop.last and m.role == 'assistant' %}[final] {% endif %}{{ m.role }}: {{ m.content }}\n{% endfor %}{% if add_generation_prompt %}assistant: {% endif %}";
  assert.throws(() => conversationSegments(render(odd), { messages, train_from: 0, line: 4 }, []),
    (e) => e.code === 'SP_ERR_UNSUPPORTED' && e.line === 4 && e.field === 'messages[2]' && /line 4: the chat template renders assistant turn messages\[2\]/.test(e.message));
  assert.throws(() => conversationSegments(render(CHATML), { messages: [{ role: 'assistant', content: 'x' }], train_from: 0, line: 2 }, []),
    (e) => e.code === 'SP_ERR_DATA' && e.line === 2 && e.field === 'messages[0]');
  // a template error names the line
  assert.throws(() => conversationSegments(() => { throw new Error('no system role'); }, { messages, train_from: 0, line: 9 }, []),
    (e) => e.code === 'SP_ERR_INVALID_ARG' && e.line === 9 && /no system role/.test(e.message));
});
