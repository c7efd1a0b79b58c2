// build.test.js - a failing compile fails the build. Copies the build script and CMakeLists.txt into
// a temporary tree with one tiny C file (cheap: no engine sources), builds it natively once as it is
// (must pass), then again with a C file that does not compile (must fail, with the compiler's message).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, copyFileSync, writeFileSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

function build(dir) {
  const r = spawnSync('bash', [join(dir, 'scripts', 'build.sh')], {
    cwd: dir,
    encoding: 'utf8',
    timeout: 900_000, // only ends a hung build
    env: { ...process.env, SP_BUILD: 'native' },
  });
  return { status: r.status, out: `${r.stdout || ''}${r.stderr || ''}` };
}

test('scripts/build.sh: an injected compile error fails the build', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'sp-build-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'scripts'));
  mkdirSync(join(dir, 'src'));
  mkdirSync(join(dir, 'tests', 'c'), { recursive: true });
  copyFileSync(join(root, 'scripts', 'build.sh'), join(dir, 'scripts', 'build.sh'));
  copyFileSync(join(root, 'CMakeLists.txt'), join(dir, 'CMakeLists.txt'));
  writeFileSync(join(dir, 'src', 'fine.c'), 'int sp_fine(int x) { return x + 1; }\n');

  const good = build(dir);
  assert.equal(good.status, 0, `the clean tree must build:\n${good.out.slice(-3000)}`);

  writeFileSync(join(dir, 'src', 'broken.c'), 'int sp_broken(void) { return undeclared_name; }\n');
  const bad = build(dir);
  assert.notEqual(bad.status, 0, `a compile error must fail the build:\n${bad.out.slice(-3000)}`);
  assert.match(bad.out, /broken\.c/);
  assert.match(bad.out, /undeclared_name/);
});
