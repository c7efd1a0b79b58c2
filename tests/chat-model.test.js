// chat-model.test.js - a loaded model's chat template and end-of-turn ids through the public API
// (in-process engine): tokenizer_config.json and generation_config.json next to an HF folder are
// read, model.applyChatTemplate renders as @huggingface/jinja does, generate(messages) feeds the
// rendered text without an extra BOS, model.tokenizer offers the same calls, and a broken template (one
// that does not parse, or fails on a plain user/assistant/user conversation with the model's special
// tokens) refuses the load with SP_ERR_TOKENIZER naming the problem (loadModel and loadTokenizer). The
// CLI's generate --messages takes a JSON file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Template } from '@huggingface/jinja';

import { Softprompt } from '../web/softprompt.js';
import { makeTinyHF } from './lib/tiny-model.js';

const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'bin', 'softprompt.js');
const TEMPLATE = "{{ bos_token }}{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}[assistant]{% endif %}";
const MESSAGES = [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'once upon a time' }];

function folder(template) {
  const dir = mkdtempSync(join(tmpdir(), 'sp-chat-'));
  const hf = makeTinyHF({ dim: 16, n_layers: 1, n_heads: 2, n_kv_heads: 1, hidden_dim: 32, ctx_len: 64 });
  writeFileSync(join(dir, 'config.json'), hf.configJson);
  writeFileSync(join(dir, 'model.safetensors'), hf.safetensors);
  writeFileSync(join(dir, 'tokenizer.json'), hf.tokenizerJson);
  writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>', eos_token: '</s>', add_bos_token: true, chat_template: template }));
  writeFileSync(join(dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [2, 7] }));
  return dir;
}

test('model chat: template from tokenizer_config.json, generate(messages), end-of-turn ids from generation_config.json', async () => {
  const dir = folder(TEMPLATE);
  const sp = await Softprompt.create({ threads: 1, worker: false });
  try {
    const model = await sp.loadModel(dir);
    const want = new Template(TEMPLATE).render({ messages: MESSAGES, add_generation_prompt: true, bos_token: '<s>', eos_token: '</s>' });
    assert.equal(await model.applyChatTemplate(MESSAGES, { addGenerationPrompt: true }), want);
    assert.equal(await model.tokenizer.applyChatTemplate(MESSAGES, { addGenerationPrompt: true }), want);
    const ids = await model.applyChatTemplate(MESSAGES, { addGenerationPrompt: true, tokenize: true });
    assert.deepEqual(ids, await model.tokenize(want, { addBos: false }));
    assert.equal(ids.filter((x) => x === 1).length, 1, 'one BOS: the template\'s');
    assert.ok(model.tokenizer.eogIds.includes(7) && model.tokenizer.eogIds.includes(2), String(model.tokenizer.eogIds));
    const res = await model.generate(MESSAGES, { maxTokens: 3, temperature: 0, stopAtEos: false });
    assert.deepEqual(res.promptTokens, ids);
    await assert.rejects(model.applyChatTemplate([{ role: 'user' }]), (e) => e.code === 'SP_ERR_INVALID_ARG');
    await model.free();
    // broken templates: refused at load, naming the problem (the engine keeps working)
    const broken = [
      ['{% if %}', /the chat template does not parse: Unexpected token: CloseStatement/],
      ['{% for m in messages %}{{ m.content }', /the chat template does not parse: .*Expected closing expression token/],
      ['{% for m in messages %}{{ m.content | nosuchfilter }}{% endfor %}', /fails on a plain user\/assistant\/user conversation \(add_generation_prompt true\): Unknown StringValue filter: nosuchfilter/],
      ['{{ no_such_function() }}', /fails on a plain user\/assistant\/user conversation.*not a function/],
      // a variable nobody passes, used in a way that fails when rendered: found at load
      ['{{ sep_token + messages[0].content }}', /fails on a plain user\/assistant\/user conversation.*undefined/],
      ["{{ raise_exception('this template is a stub') }}", /fails on a plain user\/assistant\/user conversation.*this template is a stub/],
    ];
    for (const [template, re] of broken) {
      writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>', eos_token: '</s>', chat_template: template }));
      await assert.rejects(sp.loadModel(dir), (e) => e.code === 'SP_ERR_TOKENIZER' && re.test(e.message), template);
      await assert.rejects(Softprompt.loadTokenizer(dir), (e) => e.code === 'SP_ERR_TOKENIZER' && re.test(e.message), template);
    }
    // a template that refuses a system turn (as Mistral's do) is not broken
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>', eos_token: '</s>', chat_template:
      "{% for m in messages %}{% if m.role == 'system' %}{{ raise_exception('no system role') }}{% endif %}[{{ m.role }}] {{ m.content }}{% endfor %}" }));
    const strict = await sp.loadModel(dir);
    await assert.rejects(strict.applyChatTemplate(MESSAGES), (e) => e.code === 'SP_ERR_INVALID_ARG' && /no system role/.test(e.message));
    assert.equal(await strict.applyChatTemplate(MESSAGES.slice(1)), '[user] once upon a time');
    await strict.free();
  } finally {
    sp.terminate();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('cli: generate --messages FILE.json renders the chat template', () => {
  const dir = folder(TEMPLATE);
  try {
    const f = join(dir, 'messages.json');
    writeFileSync(f, JSON.stringify(MESSAGES));
    const r = spawnSync(process.execPath, [CLI, 'generate', '--model', dir, '--messages', f, '--max-tokens', '3', '--temperature', '0', '--no-stop-at-eos'],
      { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /3 tokens .*prompt \d+ tokens/);
    writeFileSync(f, '{"role": "user"}');
    const bad = spawnSync(process.execPath, [CLI, 'generate', '--model', dir, '--messages', f], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /SP_ERR_INVALID_ARG/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
