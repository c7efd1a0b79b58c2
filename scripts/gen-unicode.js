#!/usr/bin/env node
// gen-unicode.js - writes src/tokenizer/unicode_tables.h from the Unicode Character Database that
// Debian's `unicode-data` package installs in /usr/share/unicode (or the directory given as argv[2]).
// The tables serve src/tokenizer/unicode.c:
//   general category   as ranges: (start << 5) | category, sorted, covering 0..0x10FFFF (gaps = Cn)
//   White_Space        (PropList.txt), the set regex \s matches (as Oniguruma does)
//   case folding       the non-ASCII code points whose simple case folding is an ASCII letter
//                      (CaseFolding.txt, statuses C and S), for (?i:...) groups
//   combining class    as ranges: (start << 8) | ccc
//   NFC quick check    ranges whose NFC_QC is No or Maybe (DerivedNormalizationProps.txt)
//   decompositions     full canonical decompositions (recursively expanded; Hangul is algorithmic)
//   compositions       primary composites: canonical pairs minus CompositionExclusions.txt,
//                      singletons and non-starter decompositions
// Run: node scripts/gen-unicode.js [UCD dir]  (the output is committed; CI does not regenerate it).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');
const ucd = process.argv[2] || '/usr/share/unicode';
const out = path.join(root, 'src/tokenizer/unicode_tables.h');
const read = (f) => {
  const p = path.join(ucd, f);
  if (!fs.existsSync(p)) throw new Error(`gen-unicode: ${p} is missing (apt-get install unicode-data)`);
  return fs.readFileSync(p, 'utf8');
};
const lines = (text) => text.split('\n').map((l) => l.replace(/#.*/, '').trim()).filter(Boolean);

const CATS = ['Lu', 'Ll', 'Lt', 'Lm', 'Lo', 'Mn', 'Mc', 'Me', 'Nd', 'Nl', 'No', 'Pc', 'Pd', 'Ps', 'Pe', 'Pi', 'Pf', 'Po',
  'Sm', 'Sc', 'Sk', 'So', 'Zs', 'Zl', 'Zp', 'Cc', 'Cf', 'Cs', 'Co', 'Cn'];
const MAX = 0x110000;
const gc = new Uint8Array(MAX).fill(CATS.indexOf('Cn'));
const ccc = new Uint8Array(MAX);
const decomp = new Map(); // cp -> [cps] canonical, one level
let version = '';
{
  let first = -1;
  for (const l of read('UnicodeData.txt').split('\n')) {
    if (!l) continue;
    const f = l.split(';');
    const cp = parseInt(f[0], 16);
    const cat = CATS.indexOf(f[2]);
    if (cat < 0) throw new Error(`gen-unicode: unknown category ${f[2]}`);
    if (f[1].endsWith(', First>')) { first = cp; continue; }
    const lo = f[1].endsWith(', Last>') ? first : cp;
    for (let c = lo; c <= cp; c++) { gc[c] = cat; ccc[c] = +f[3]; }
    if (f[5] && !f[5].startsWith('<')) decomp.set(cp, f[5].split(' ').map((h) => parseInt(h, 16)));
  }
  const m = read('DerivedAge.txt').match(/DerivedAge-([\d.]+)\.txt/);
  version = m ? m[1] : 'unknown';
}
const space = [];
for (const l of lines(read('PropList.txt'))) {
  const [r, prop] = l.split(';').map((s) => s.trim());
  if (prop !== 'White_Space') continue;
  const [a, b] = r.split('..').map((h) => parseInt(h, 16));
  for (let c = a; c <= (b ?? a); c++) space.push(c);
}
const foldAscii = [];
for (const l of lines(read('CaseFolding.txt'))) {
  const [c, status, to] = l.split(';').map((s) => s.trim());
  const cp = parseInt(c, 16), t = parseInt(to, 16);
  if ((status === 'C' || status === 'S') && cp >= 0x80 && !to.includes(' ') && t < 0x80) foldAscii.push([cp, t]);
}
const exclusions = new Set();
for (const l of lines(read('CompositionExclusions.txt'))) exclusions.add(parseInt(l, 16));
const qc = new Uint8Array(MAX); // 1: NFC_QC No or Maybe
for (const l of lines(read('DerivedNormalizationProps.txt'))) {
  const f = l.split(';').map((s) => s.trim());
  if (f[1] !== 'NFC_QC') continue;
  const [a, b] = f[0].split('..').map((h) => parseInt(h, 16));
  for (let c = a; c <= (b ?? a); c++) qc[c] = 1;
}

// ranges of equal values over 0..MAX
function ranges(arr, shift) {
  const r = [];
  for (let c = 0; c < MAX; c++) if (c === 0 || arr[c] !== arr[c - 1]) r.push(c * 2 ** shift + arr[c]);
  return r;
}
const gcRanges = ranges(gc, 5);
const cccRanges = ranges(ccc, 8);
const qcRanges = [];
for (let c = 0; c < MAX; c++) if (qc[c] && (c === 0 || !qc[c - 1])) {
  let e = c; while (e + 1 < MAX && qc[e + 1]) e++;
  qcRanges.push(c, e);
}

// full decompositions and primary composites
function full(cp) {
  const d = decomp.get(cp);
  return d ? d.flatMap(full) : [cp];
}
const decKeys = [...decomp.keys()].sort((a, b) => a - b);
const decData = [], decIdx = [];
for (const cp of decKeys) {
  const f = full(cp);
  if (f.length > 7) throw new Error(`gen-unicode: decomposition of ${cp.toString(16)} has ${f.length} code points`);
  decIdx.push(decData.length * 8 + f.length);
  decData.push(...f);
}
if (decData.length >= 8192) throw new Error('gen-unicode: decomposition data does not fit 13-bit offsets');
const comps = [];
for (const [cp, d] of decomp) {
  if (d.length !== 2 || exclusions.has(cp) || ccc[cp] !== 0 || ccc[d[0]] !== 0) continue;
  comps.push([d[0], d[1], cp]);
}
comps.sort((x, y) => x[0] - y[0] || x[1] - y[1]);

function arr(type, name, vals, per = 12, fmt = (v) => String(v)) {
  const rows = [];
  for (let i = 0; i < vals.length; i += per) rows.push('    ' + vals.slice(i, i + per).map(fmt).join(', ') + ',');
  return `static const ${type} ${name}[${vals.length}] = {\n${rows.join('\n')}\n};\n`;
}
const hex = (v) => '0x' + v.toString(16);
let src = `/* unicode_tables.h - generated by scripts/gen-unicode.js from the Unicode Character Database
 * ${version} (Debian's unicode-data, /usr/share/unicode). Do not edit; rerun the script.
 * Included only by src/tokenizer/unicode.c. */
#ifndef SP_UNICODE_TABLES_H
#define SP_UNICODE_TABLES_H

#include <stdint.h>

#define SP_UCD_VERSION "${version}"

/* general category ranges: (first code point << 5) | category (sp_uc_cat order) */
${arr('uint32_t', 'uc_gc_ranges', gcRanges, 10, hex)}
/* general category of ASCII */
${arr('uint8_t', 'uc_gc_ascii', [...gc.slice(0, 128)], 16)}
/* White_Space */
${arr('uint32_t', 'uc_space', space, 10, hex)}
/* {code point, ASCII letter} whose simple case folding is an ASCII letter */
${arr('uint32_t', 'uc_fold_ascii', foldAscii.flat(), 10, hex)}
/* canonical combining class ranges: (first code point << 8) | ccc */
${arr('uint32_t', 'uc_ccc_ranges', cccRanges, 10, hex)}
/* NFC_QC No/Maybe: [first, last] pairs */
${arr('uint32_t', 'uc_nfc_qc', qcRanges, 10, hex)}
/* canonical decompositions: code point, (offset << 3) | length into uc_dec_data (fully expanded) */
${arr('uint32_t', 'uc_dec_cp', decKeys, 10, hex)}
${arr('uint16_t', 'uc_dec_idx', decIdx, 12)}
${arr('uint32_t', 'uc_dec_data', decData, 10, hex)}
/* primary composites: (first << 21 | second) sorted, and the composite */
${arr('uint64_t', 'uc_comp_key', comps.map((c) => c[0] * 2 ** 21 + c[1]), 6, (v) => hex(v) + 'ull')}
${arr('uint32_t', 'uc_comp_val', comps.map((c) => c[2]), 10, hex)}
#endif
`;
fs.writeFileSync(out, src);
console.log(`gen-unicode: ${path.relative(root, out)}: UCD ${version}, ${gcRanges.length} category ranges, ${cccRanges.length} ccc ranges, ` +
  `${decKeys.length} decompositions, ${comps.length} compositions, ${space.length} spaces, ${foldAscii.length} ASCII folds`);
