// tokenizer-api.test.js - Softprompt.loadTokenizer (no weights) and `softprompt tokenize`:
// every PATH form (tokenizer.json file, a folder with tokenizer.json + tokenizer_config.json, a .gguf),
// --json / --no-special / --file, chat templates rendered exactly as @huggingface/jinja renders the real
// templates (system, user and assistant turns, with and without the generation prompt), a broken template
// refused at load time with a typed error, and ids equal to @huggingface/tokenizers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, rmSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Template } from '@huggingface/jinja';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';

import { Softprompt } from '../web/softprompt.js';
import { TOKENIZERS } from './lib/tokenizer-corpus.js';
import { tokenizerGguf } from './lib/tokenizer-gguf.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'bin', 'softprompt.js');
const readJson = (p) => JSON.parse(readFileSync(p, 'utf8'));

function cli(args) {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const CONVERSATION = [
  { role: 'system', content: 'You are a terse assistant.' },
  { role: 'user', content: 'What is 2+2?' },
  { role: 'assistant', content: 'It is 4.' },
  { role: 'user', content: 'And 3+3? Answer with "six" — café ☕.' },
];
const NO_SYSTEM = CONVERSATION.slice(1);

for (const name of ['qwen3', 'llama3', 'gemma3']) {
  test(`chat template of ${name} renders exactly as @huggingface/jinja does`, async () => {
    const config = readJson(TOKENIZERS[name].config);
    const tok = await Softprompt.loadTokenizer(TOKENIZERS[name].json);
    try {
      const ref = new Template(config.chat_template);
      const specials = { bos_token: config.bos_token ?? undefined, eos_token: config.eos_token, pad_token: config.pad_token ?? undefined,
        unk_token: config.unk_token ?? undefined };
      for (const messages of [CONVERSATION, NO_SYSTEM]) {
        if (name === 'gemma3' && messages === CONVERSATION) {
          // Gemma folds the system turn into the first user turn; it renders like the others
        }
        for (const addGenerationPrompt of [false, true]) {
          const want = ref.render({ ...specials, messages, add_generation_prompt: addGenerationPrompt });
          const got = await tok.applyChatTemplate(messages, { addGenerationPrompt });
          assert.equal(got, want);
          assert.ok(got.includes('What is 2+2?') && got.includes('It is 4.'));
          const ids = await tok.applyChatTemplate(messages, { addGenerationPrompt, tokenize: true });
          assert.deepEqual(ids, await tok.tokenize(want, { addSpecialTokens: false }));
        }
      }
      // the end-of-turn token of the format ends generation
      const eot = { qwen3: '<|im_end|>', llama3: '<|eot_id|>', gemma3: '<end_of_turn>' }[name];
      const [eotId] = await tok.tokenize(eot, { addSpecialTokens: false });
      assert.ok(tok.eogIds.includes(eotId), `${eot} (${eotId}) not in ${tok.eogIds}`);
    } finally {
      tok.free();
    }
  });
}

test('loadTokenizer: a broken chat template is a typed error at load time; GGUF carries its template', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sp-tok-'));
  try {
    copyFileSync(TOKENIZERS.qwen3.json, join(dir, 'tokenizer.json'));
    const config = readJson(TOKENIZERS.qwen3.config);
    writeFileSync(join(dir, 'tokenizer_config.json'), JSON.stringify({ ...config, chat_template: '{% for m in messages %}{{ m.content }' }));
    await assert.rejects(Softprompt.loadTokenizer(dir), (e) => e.code === 'SP_ERR_TOKENIZER' && /chat template does not parse/.test(e.message));
    // GGUF: tokenizer.chat_template, rendered the same
    const g = join(dir, 'qwen3.gguf');
    writeFileSync(g, tokenizerGguf(readJson(TOKENIZERS.qwen3.json), config, { pre: 'qwen2' }));
    const tok = await Softprompt.loadTokenizer(g);
    try {
      const want = new Template(config.chat_template).render({ messages: CONVERSATION, add_generation_prompt: true, eos_token: config.eos_token });
      assert.equal(await tok.applyChatTemplate(CONVERSATION, { addGenerationPrompt: true }), want);
      await assert.rejects(tok.applyChatTemplate([{ role: 'user' }]), (e) => e.code === 'SP_ERR_INVALID_ARG');
    } finally {
      tok.free();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('softprompt tokenize: PATH forms, --json, --no-special, --file, equal to @huggingface/tokenizers', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sp-tokcli-'));
  try {
    const text = "Hello world! It's 2024 — café";
    for (const name of ['mistral', 'qwen3']) {
      const hf = new HfTokenizer(readJson(TOKENIZERS[name].json), readJson(TOKENIZERS[name].config));
      for (const special of [true, false]) {
        const want = hf.encode(text, { add_special_tokens: special });
        // a tokenizer.json file, and the folder holding only tokenizer.json + tokenizer_config.json
        for (const model of [TOKENIZERS[name].json, dirname(TOKENIZERS[name].json)]) {
          const r = cli(['tokenize', '--model', model, '--text', text, '--json', ...(special ? [] : ['--no-special'])]);
          assert.equal(r.status, 0, r.stderr);
          assert.deepEqual(JSON.parse(r.stdout), { ids: want.ids, tokens: want.tokens });
        }
      }
    }
    // a .gguf, plain output, and a JSONL file of strings and {"text"}
    const g = join(dir, 'm.gguf');
    writeFileSync(g, tokenizerGguf(readJson(TOKENIZERS.mistral.json), readJson(TOKENIZERS.mistral.config)));
    const f = join(dir, 'in.jsonl');
    writeFileSync(f, `${JSON.stringify('a b')}\n${JSON.stringify({ text: 'Hello' })}\n`);
    const hf = new HfTokenizer(readJson(TOKENIZERS.mistral.json), readJson(TOKENIZERS.mistral.config));
    const r = cli(['tokenize', '--model', g, '--file', f]);
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), ['a b', 'Hello'].map((s) => hf.encode(s).ids.join(' ')));
    // usage and data errors
    assert.equal(cli(['tokenize', '--model', g]).status, 2);
    writeFileSync(f, 'not json\n');
    const bad = cli(['tokenize', '--model', g, '--file', f]);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /SP_ERR_DATA: .*line 1/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
