// examples.test.js - the shipped example adapter (web/examples/max-the-dog) is what its README's
// command makes from the studio's built-in example, bit for bit; and the built-in examples parse.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { EXAMPLES } from '../web/page/examples.js';
import { MODELS } from '../web/page/models.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SHARED = process.env.SP_SHARED || path.resolve(ROOT, '..', 'shared');
const DIR = path.join(ROOT, 'web', 'examples', 'max-the-dog');

/** The `softprompt tune ...` command in the README's sh block, as argv. */
function readmeCommand() {
  const md = fs.readFileSync(path.join(DIR, 'README.md'), 'utf8');
  const block = /```sh\n(softprompt tune [^\n]+)\n```/.exec(md);
  assert.ok(block, 'the README names its command in a ```sh block');
  return [...block[1].matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]).slice(1);
}

test('web/examples/max-the-dog is reproducible bit for bit from its README command', { timeout: 600_000 }, (t) => {
  const model = path.join(SHARED, 'models', 'TinyStories-656K', 'TinyStories-656K-Q8_0.gguf');
  if (!fs.existsSync(model)) { t.skip(`${model} is missing (set SP_SHARED)`); return; }
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sp-example-'));
  t.after(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const ex = EXAMPLES.find((e) => e.id === 'stories');
  fs.writeFileSync(path.join(tmp, 'max.txt'), ex.text);
  const args = readmeCommand().map((a) => (a === 'TinyStories-656K-Q8_0.gguf' ? model : a === 'max.txt' ? path.join(tmp, 'max.txt') : a === 'max-the-dog' ? path.join(tmp, 'out') : a));
  // the studio's defaults are the README's settings
  const html = fs.readFileSync(path.join(ROOT, 'web', 'index.html'), 'utf8');
  const value = (name) => new RegExp(`name="${name}"[^>]*value="([^"]*)"`).exec(html)?.[1];
  const flag = (f) => args[args.indexOf(f) + 1];
  assert.equal(flag('--lr'), value('lr'));
  assert.equal(flag('--steps'), value('length'));
  assert.equal(flag('--batch-size'), value('batchSize'));
  assert.equal(flag('--max-length'), value('maxLength'));
  assert.equal(flag('--eval-split'), value('evalSplit'));
  assert.equal(flag('--eval-every'), value('evalEvery'));
  assert.equal(flag('--seed'), value('seed'));
  assert.equal(flag('--virtual-tokens'), value('virtualTokens'));
  assert.equal(flag('--init'), `text:${value('initText')}`);
  assert.match(html, new RegExp(`id="model-url"[^>]*value="${MODELS[0].url}"`), 'the studio loads the picker\'s first model by default');
  assert.ok(MODELS[0].url.endsWith('/TinyStories-656K-Q8_0.gguf'));
  execFileSync(process.execPath, [path.join(ROOT, 'bin', 'softprompt.js'), ...args, '--threads', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  for (const f of ['adapter_model.safetensors', 'adapter_config.json']) {
    const want = fs.readFileSync(path.join(DIR, f));
    const got = fs.readFileSync(path.join(tmp, 'out', f));
    assert.ok(want.equals(got), `${f} differs from the one the README's command makes`);
  }
});
