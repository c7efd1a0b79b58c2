// build.test.js - a failing compile fails the build. Copies the build script and CMakeLists.txt into
// a temporary tree with one tiny C file (cheap: no engine sources), builds it natively once as it is
// (must pass), then again with a C file that does not compile, then with one that only warns
// (SP_WERROR: both must fail, with the compiler's message). The wasm build (emcc) gets the same
// broken file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, copyFileSync, writeFileSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function build(dir, what = 'native') {
  const r = spawnSync('bash', [join(dir, 'scripts', 'build.sh')], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 900_000, // only ends a hung build
    env: { ...process.env, SP_BUILD: what },
  });
  return { status: r.status, out: `${r.stdout || ''}${r.stderr || ''}` };
}

/** A temporary tree with the build files and one C file that compiles cleanly. */
function tree(t) {
  const dir = mkdtempSync(join(tmpdir(), 'sp-build-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'scripts'));
  mkdirSync(join(dir, 'src'));
  mkdirSync(join(dir, 'tests', 'c'), { recursive: true });
  for (const f of ['scripts/build.sh', 'scripts/wasm-esm.js', 'CMakeLists.txt', 'emscripten.cmake']) copyFileSync(join(root, f), join(dir, f));
  writeFileSync(join(dir, 'src', 'fine.c'), 'int sp_fine(int x) { return x + 1; }\n');
  return dir;
}

test('scripts/build.sh: an injected compile error or warning fails the native build', (t) => {
  const dir = tree(t);

  const good = build(dir);
  assert.equal(good.status, 0, `the clean tree must build:\n${good.out.slice(-3000)}`);

  writeFileSync(join(dir, 'src', 'broken.c'), 'int sp_broken(void) { return undeclared_name; }\n');
  const bad = build(dir);
  assert.notEqual(bad.status, 0, `a compile error must fail the build:\n${bad.out.slice(-3000)}`);
  assert.match(bad.out, /broken\.c/);
  assert.match(bad.out, /undeclared_name/);

  rmSync(join(dir, 'src', 'broken.c'));
  writeFileSync(join(dir, 'src', 'warns.c'), 'int sp_warns(int unused_arg) { return 0; }\n');
  const warned = build(dir);
  assert.notEqual(warned.status, 0, `a warning must fail the build (SP_WERROR):\n${warned.out.slice(-3000)}`);
  assert.match(warned.out, /warns\.c/);
  assert.match(warned.out, /unused_arg/);
});

test('scripts/build.sh: an injected compile error fails the wasm build', (t) => {
  const dir = tree(t);
  writeFileSync(join(dir, 'src', 'broken.c'), 'int sp_broken(void) { return undeclared_name; }\n');
  const bad = build(dir, 'wasm');
  assert.notEqual(bad.status, 0, `a compile error must fail the wasm build:\n${bad.out.slice(-3000)}`);
  assert.match(bad.out, /broken\.c/);
  assert.match(bad.out, /undeclared_name/);
});
