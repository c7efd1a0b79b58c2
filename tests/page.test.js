// page.test.js - the studio page's pure helpers, under Node (the page itself is tested in a real
// browser by browser.test.js).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { niceTicks, ema } from '../web/page/chart.js';
import { EXAMPLES } from '../web/page/examples.js';
import { parseData } from '../web/softprompt.js';

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

test('every built-in example parses without errors in its declared format', () => {
  assert.ok(EXAMPLES.length >= 2);
  for (const ex of EXAMPLES) {
    const p = parseData(ex.text, { format: ex.format });
    assert.deepEqual(p.errors, [], `${ex.id}: ${JSON.stringify(p.errors)}`);
    assert.ok(p.examples.length >= 8, `${ex.id} has ${p.examples.length} examples`);
    // auto-detection agrees with the declared format
    assert.equal(parseData(ex.text).format, ex.format, `${ex.id} auto-detects as ${ex.format}`);
  }
  const qa = parseData(EXAMPLES.find((e) => e.id === 'who-had').text);
  assert.equal(qa.kind, 'input-output');
  // SentencePiece-style tokenizers put a space before the output themselves (as PEFT's separate
  // tokenization of targets does), so outputs must not start with one.
  for (const ex of EXAMPLES) {
    for (const e of parseData(ex.text).examples) if ('output' in e) assert.ok(!/^\s/.test(e.output), `${ex.id}: ${JSON.stringify(e.output)}`);
  }
});
