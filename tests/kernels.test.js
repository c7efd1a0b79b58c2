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
