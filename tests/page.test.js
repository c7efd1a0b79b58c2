// page.test.js - the studio page's pure helpers, under Node (the page itself is tested in a real
// browser by browser.test.js).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { niceTicks, ema } from '../web/page/chart.js';
import { EXAMPLES } from '../web/page/examples.js';
import { MODELS, modelByUrl, modelLabel } from '../web/page/models.js';

test('niceTicks covers the range with round steps', () => {
  assert.deepEqual(niceTicks(0, 20, 4, true), [0, 5, 10, 15, 20]);
  assert.deepEqual(niceTicks(2.1, 5.9, 4), [2, 3, 4, 5, 6]);
  const t = niceTicks(0, 7, 8, true);
  assert.ok(t.every((x) => Number.isInteger(x)), `integer ticks: ${t}`);
  assert.ok(t[0] <= 0 && t[t.length - 1] >= 7);
  const f = niceTicks(0.013, 0.052, 5);
  assert.ok(f[0] <= 0.013 && f[f.length - 1] >= 0.052, `covers: ${f}`);
  for (let i = 1; i < f.length; i++) assert.ok(f[i] > f[i - 1]);
});

test('ema starts at the data and follows a constant exactly', () => {
  const pts = [[1, 5], [2, 5], [3, 5]];
  assert.deepEqual(ema(pts, 0.9).map((p) => p[1]), [5, 5, 5]);
  const s = ema([[1, 10], [2, 0]], 0.5);
  assert.equal(s[0][1], 10); // debiased: the first point is the first value
  // second: (0.5*0.5*10 + 0.5*0) / (1 - 0.25) = 2.5 / 0.75
  assert.ok(Math.abs(s[1][1] - 2.5 / 0.75) < 1e-12);
});

test('built-in examples name the model that learns them, one the picker offers (their parsing: data.test.js)', () => {
  for (const ex of EXAMPLES) if (ex.needs) assert.ok(MODELS.find((m) => m.id === ex.needs), `${ex.id} needs ${ex.needs}`);
});

test('the model picker: the local models first, every entry a GGUF URL with a size (exact, or estimated from the weights)', () => {
  assert.equal(MODELS[0].id, 'tinystories-656k');
  const mb = (n) => `${(n / 1e6).toFixed(0)} MB`;
  for (const m of MODELS) {
    assert.match(m.url, /\.gguf$/, m.id);
    assert.ok(m.bytes > 0, m.id);
    if (!m.local) {
      assert.match(m.url, /^https:\/\/huggingface\.co\/[^/]+\/[^/]+\/resolve\/main\/[^/]+\.gguf$/, m.id);
      assert.ok(!m.exact, `${m.id}: a Hub file's size is an estimate`);
      assert.match(modelLabel(m, mb), new RegExp(`\\(${m.quant}, ≈ \\d+ MB\\)$`), m.id);
    }
  }
  // an estimate is the weights at the quantization's bits: Q8_0 is 34 bytes per 32 weights
  const smol = MODELS.find((m) => m.id === 'smollm2-135m');
  assert.equal(smol.bytes, Math.round((smol.params * 34) / 32));
  assert.equal(modelLabel(smol, mb), 'SmolLM2-135M-Instruct (Q8_0, ≈ 143 MB)');
  assert.equal(modelLabel(MODELS[0], mb), 'TinyStories-656K (Q8_0, 1 MB)');
  for (const want of ['SmolLM2-135M-Instruct', 'SmolLM2-360M-Instruct', 'Qwen2.5-0.5B-Instruct', 'Qwen3-0.6B', 'Llama-3.2-1B-Instruct', 'Gemma-3-270M-it', 'GPT-2']) {
    assert.ok(MODELS.some((m) => m.name.startsWith(want)), `the picker offers ${want}`);
  }
  for (const arch of ['llama', 'qwen2', 'qwen3', 'gemma3', 'gpt2']) assert.ok(MODELS.some((m) => m.arch === arch), arch);
  assert.equal(modelByUrl(MODELS[1].url), MODELS[1]);
  assert.equal(modelByUrl('/elsewhere.gguf'), null);
});
