// kernels.test.js - the kernel tests (tests/c/test_kernels.c) in both builds: natively with
// ASan/UBSan (scalar table) and in wasm under node (scalar and wasm SIMD128 tables, compared
// against each other). Fails, never skips, when a binary is missing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', timeout: 1_800_000 }); // only ends a hung binary
  return { status: r.status, signal: r.signal, out: `${r.stdout || ''}${r.stderr || ''}` };
}

test('kernels, native scalar table (ASan/UBSan)', () => {
  const bin = join(root, 'build', 'native', 'tests', 'test_kernels');
  assert.ok(existsSync(bin), `${bin} is missing: run SP_BUILD=native bash scripts/build.sh`);
  const r = run(bin, []);
  assert.equal(r.status, 0, `test_kernels failed (status ${r.status}, signal ${r.signal}):\n${r.out.slice(-4000)}`);
  assert.match(r.out, /tables tested: scalar\n/);
});

test('kernels, wasm scalar and SIMD128 tables under node', () => {
  const js = join(root, 'build', 'wasm', 'tests', 'test_kernels.cjs');
  assert.ok(existsSync(js), `${js} is missing: run SP_BUILD=wasm bash scripts/build.sh`);
  const r = run(process.execPath, [js]);
  assert.equal(r.status, 0, `test_kernels.cjs failed (status ${r.status}):\n${r.out.slice(-4000)}`);
  assert.match(r.out, /tables tested: scalar,wasmsimd\n/, 'the wasm build must include the SIMD128 kernels');
});

// tests/lib/quant.js's K-quant and Q5_0 / Q5_1 encoders (what the tests use to write tiny models) against the
// engine's sp_quantize_row: the same row (test_kernels.c's kquant_row) encodes to the same bytes,
// compared through the FNV-1a hash that test_kernels prints; its dequantizer round-trips within
// the bounds test_kernels checks for the engine.
test('quant.js K-quant and Q5_0 / Q5_1 encoders write the bytes of sp_quantize_row', async () => {
  const { quantizeQ4_K, quantizeQ5_K, quantizeQ6_K, quantizeQ5_0, quantizeQ5_1, dequantize } = await import('./lib/quant.js');
  const bin = join(root, 'build', 'native', 'tests', 'test_kernels');
  assert.ok(existsSync(bin), `${bin} is missing: run SP_BUILD=native bash scripts/build.sh`);
  const out = run(bin, []).out;
  const x = new Float32Array(512);
  for (let i = 0; i < 512; i++) {
    const k = ((i * 7919) % 2003) - 1001, sub = Math.floor(i / 32);
    x[i] = k / (1024 << (sub % 4)) + ((sub % 5) - 2) * 0.125; // exact in f32
  }
  x.fill(0, 256, 288);
  x.fill(0.75, 288, 320);
  const fnv = (b) => { let h = 2166136261; for (const v of b) h = Math.imul(h ^ v, 16777619) >>> 0; return h; };
  let rms = 0;
  for (const v of x) rms += v * v;
  rms = Math.sqrt(rms / 512);
  const encoders = [['Q4_K', quantizeQ4_K, 0.06], ['Q5_K', quantizeQ5_K, 0.03], ['Q6_K', quantizeQ6_K, 0.016],
    ['Q5_0', quantizeQ5_0, 0.04], ['Q5_1', quantizeQ5_1, 0.03]];
  for (const [name, enc, bound] of encoders) {
    const bytes = enc(x);
    const m = out.match(new RegExp(`${name} fnv1a (0x[0-9a-f]{8})`));
    assert.ok(m, `test_kernels printed no ${name} hash:\n${out.slice(-2000)}`);
    assert.equal('0x' + fnv(bytes).toString(16).padStart(8, '0'), m[1], `${name}: quant.js and sp_quantize_row differ`);
    const back = dequantize(name, bytes, 512);
    let e = 0;
    for (let i = 0; i < 512; i++) e += (back[i] - x[i]) ** 2;
    assert.ok(Math.sqrt(e / 512) / rms < bound, `${name} round trip error ${Math.sqrt(e / 512) / rms}`);
    for (let i = 256; i < 288; i++) assert.ok(back[i] === 0, `${name} zero sub-block [${i}] = ${back[i]}`); // -0 allowed
  }
});
