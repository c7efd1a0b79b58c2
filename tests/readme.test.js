// readme.test.js - the README's "Where things are" names what the tree holds: every folder of src/
// and tests/, every file of src/ (a kernel family by its name: <family>_scalar.c and
// <family>_wasmsimd.c are one entry), every module of web/, web/worker/ and web/page/, and every
// script. A file added without a line there fails here, so the map stays the layout.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { repoRoot } from './lib/paths.js';

const root = repoRoot();

function section() {
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const at = readme.indexOf('\n## Where things are');
  assert.ok(at >= 0, 'README.md has a "Where things are" section');
  const end = readme.indexOf('\n## ', at + 1);
  return readme.slice(at, end < 0 ? undefined : end);
}

const list = (dir) => readdirSync(join(root, dir)).sort();
const isDir = (p) => statSync(join(root, p)).isDirectory();

/** name.c is named as `name.c`, or with its header as `name.c/.h` or `name.h/.c`. */
function named(text, file) {
  const m = /^(.*)\.[ch]$/.exec(file);
  const forms = [`\`${file}\``];
  if (m) forms.push(`\`${m[1]}.c/.h\``, `\`${m[1]}.h/.c\``);
  return forms.some((s) => text.includes(s));
}

test('README "Where things are": every folder, C file, web module and script is named', () => {
  const text = section();
  const missing = [];
  for (const d of list('src').filter((f) => isDir(`src/${f}`))) {
    if (!text.includes(`\`src/${d}/\``)) missing.push(`src/${d}/`);
    for (const f of list(`src/${d}`)) {
      const family = /^(.*)_(scalar|wasmsimd)\.c$/.exec(f);
      if (d === 'kernels' && family) {
        if (!new RegExp(`\\b${family[1]}\\b`).test(text)) missing.push(`src/kernels/${f} (family ${family[1]})`);
      } else if (!named(text, f)) missing.push(`src/${d}/${f}`);
    }
  }
  for (const f of list('src').filter((x) => !isDir(`src/${x}`))) if (!named(text, f)) missing.push(`src/${f}`);
  for (const dir of ['web', 'web/worker', 'web/page']) {
    for (const f of list(dir).filter((x) => /\.(js|html|css|d\.ts)$/.test(x))) if (!text.includes(f)) missing.push(`${dir}/${f}`);
  }
  for (const f of list('scripts')) if (!text.includes(`\`${f}\``)) missing.push(`scripts/${f}`);
  for (const d of list('tests').filter((f) => isDir(`tests/${f}`))) if (!text.includes(`\`tests/${d}/\``)) missing.push(`tests/${d}/`);
  assert.deepEqual(missing, [], `README.md "Where things are" does not name: ${missing.join(', ')}`);
});
