// page.test.js - the studio page's pure helpers, under Node (the page itself is tested in a real
// browser by browser.test.js).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { niceTicks, ema } from '../web/page/chart.js';
import { EXAMPLES } from '../web/page/examples.js';
import { isLabelLike, conversationSegments } from '../web/data.js';
import { MODELS, modelByUrl } from '../web/page/models.js';

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

test('the model picker: the local models first, every entry a GGUF URL with a size', () => {
  assert.equal(MODELS[0].id, 'tinystories-656k');
  for (const m of MODELS) {
    assert.match(m.url, /\.gguf$/, m.id);
    assert.ok(m.bytes > 0, m.id);
    if (!m.local) assert.match(m.url, /^https:\/\/huggingface\.co\/[^/]+\/[^/]+\/resolve\/main\/[^/]+\.gguf$/, m.id);
  }
  for (const want of ['SmolLM2-135M', 'SmolLM2-360M', 'Qwen2.5-0.5B', 'Qwen3-0.6B', 'Llama-3.2-1B', 'Gemma-3-270M', 'GPT-2']) {
    assert.ok(MODELS.some((m) => m.label.startsWith(want)), `the picker offers ${want}`);
  }
  assert.equal(modelByUrl(MODELS[1].url), MODELS[1]);
  assert.equal(modelByUrl('/elsewhere.gguf'), null);
});
