// c.test.js - runs every C unit test binary: the native build (AddressSanitizer + UBSan) and the
// same tests compiled to wasm SIMD and run under node. Each test/c/test_*.c must have both.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, existsSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const sources = readdirSync(join(root, 'tests', 'c')).filter((f) => /^test_.*\.c$/.test(f)).map((f) => f.slice(0, -2));

function run(cmd, args) {
  const r = spawnSync(cmd, args, {
    cwd: root,
    encoding: 'utf8',
    timeout: 1_800_000, // only ends a hung binary: on a loaded machine one test may take minutes
    env: { ...process.env, ASAN_OPTIONS: 'detect_leaks=1:abort_on_error=0', UBSAN_OPTIONS: 'print_stacktrace=1:halt_on_error=1' },
  });
  const out = `${r.stdout || ''}${r.stderr || ''}`;
  return { status: r.status, signal: r.signal, out };
}

for (const name of sources) {
  test(`native (ASan/UBSan): ${name}`, () => {
    const bin = join(root, 'build', 'native', 'tests', name);
    assert.ok(existsSync(bin), `${bin} is missing: run npm run build`);
    const r = run(bin, []);
    assert.equal(r.status, 0, `${name} failed (status ${r.status}, signal ${r.signal}):\n${r.out.slice(-4000)}`);
  });
  test(`wasm SIMD: ${name}`, () => {
    const js = join(root, 'build', 'wasm', 'tests', `${name}.cjs`);
    assert.ok(existsSync(js), `${js} is missing: run npm run build`);
    const r = run(process.execPath, [js]);
    assert.equal(r.status, 0, `${name}.cjs failed (status ${r.status}):\n${r.out.slice(-4000)}`);
  });
}
