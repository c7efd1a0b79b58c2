// layers.test.js - the layer rules of the C core (kernels <- readers/tokenizer <- model <- train <- api),
// read from the #include lines, and the benchmark's training figure coming from the tuner's own step:
// the symbols the compiled bench.c uses (native build) include sp_tune_step and none of the pieces
// of a step (forward, backward, LM head, activation buffers), so there is no second runner to time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'src');

function includes(rel) {
  return [...readFileSync(join(src, rel), 'utf8').matchAll(/^\s*#\s*include\s+"([^"]+)"/gm)].map((m) => m[1]);
}
function files(dir) {
  return readdirSync(join(src, dir)).filter((f) => /\.[ch]$/.test(f)).map((f) => `${dir}/${f}`);
}

test('layers: nothing below src/api/ includes softprompt.h', () => {
  for (const dir of ['kernels', 'readers', 'tokenizer', 'model', 'train']) {
    for (const f of files(dir)) assert.ok(!includes(f).some((i) => i.endsWith('softprompt.h')), `${f} includes softprompt.h`);
  }
  for (const f of ['common.h', 'common.c', 'tensor.h', 'tensor.c', 'json_write.h', 'json_write.c']) {
    assert.ok(!includes(f).some((i) => i.includes('api/')), `${f} includes an api/ header`);
  }
});

test('layers: each layer includes only the layers below it', () => {
  const below = {
    kernels: [],
    readers: [],
    tokenizer: ['readers'],
    model: ['kernels', 'readers', 'tokenizer'],
    train: ['kernels', 'readers', 'tokenizer', 'model'],
  };
  for (const [dir, allowed] of Object.entries(below)) {
    for (const f of files(dir)) {
      for (const inc of includes(f)) {
        const m = inc.match(/^\.\.\/([a-z_]+)\//);
        if (m) assert.ok(allowed.includes(m[1]), `${f} includes ${inc}: ${dir}/ may use ${allowed.join(', ') || 'no other layer'}`);
      }
    }
  }
  // the pool must not take anything from the probes, which run on the pool
  assert.ok(!includes('kernels/pool.c').includes('probe.h'), 'kernels/pool.c includes probe.h');
});

test('bench: the training figure is the tuner\'s own step (no copy of the runner in bench.c)', () => {
  const obj = join(root, 'build', 'native', 'CMakeFiles', 'sp.dir', 'src', 'api', 'bench.c.o');
  assert.ok(existsSync(obj), `${obj} is missing: run npm run build`);
  const r = spawnSync('nm', ['-u', obj], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const used = new Set(r.stdout.split('\n').map((l) => l.trim().split(/\s+/).pop()).filter(Boolean));
  for (const s of ['sp_tune_create', 'sp_tune_step']) assert.ok(used.has(s), `bench.c does not call ${s}`);
  for (const s of ['sp_forward', 'sp_backward', 'sp_lm_head_loss', 'sp_acts_alloc', 'sp_grads_alloc', 'sp_embed']) {
    assert.ok(!used.has(s), `bench.c calls ${s}: it must time sp_tune_step, not its own step`);
  }
});
