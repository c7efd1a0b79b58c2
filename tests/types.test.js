// types.test.js - the package's types (web/softprompt.d.ts, web/worker.d.ts) type-check, through the
// package's own exports map, in two fresh TypeScript projects: a Node-only one (lib es2022 and
// @types/node, no DOM) and a browser one (lib dom, bundler resolution). The program uses every
// export of 'softprompt' and 'softprompt/worker', a few deliberate mistakes must be errors, and
// worker.d.ts / the option interfaces match the protocol declared in web/worker/schema.js.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { repoRoot } from './lib/paths.js';

const ROOT = repoRoot();
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

const PROGRAM = `import Softprompt2, {
  Softprompt, SoftpromptError, ErrorCodes, threadsAvailable, Model, Adapter, isAbort, modelCache, hfUrl, HF_ENDPOINT,
  type CreateOptions, type GenerateOptions, type TuneOptions, type GenerateResult, type TuneResult, type ErrorCode,
  type ModelSource, type BenchResult, type DataPreview, type LoadProgress, type EmbedOptions, type Pooling,
} from 'softprompt';
import { serve, type Request, type Reply, type Operations, type Channel } from 'softprompt/worker';

export async function main(): Promise<string> {
  const opts: CreateOptions = { threads: 2, wasmBase: '/wasm/' };
  const sp: Softprompt = await Softprompt.create(opts);
  const same: typeof Softprompt = Softprompt2;
  const model: Model = await sp.loadModel('/models/x.gguf', { onProgress: (p: LoadProgress) => p.loaded, baseModel: 'org/x' });
  const repo: string | null = model.info.source_repo;
  const logits: Float32Array = await model.logits([1, 2]);
  const pooling: Pooling = 'cls';
  const eo: EmbedOptions = { pooling, normalize: false };
  const emb: Float32Array = await model.embed('Once', eo);
  const hub = await sp.loadModel({ hf: 'org/x', file: 'x.gguf', revision: 'main', endpoint: HF_ENDPOINT });
  const cached: boolean = await modelCache.has(hfUrl('org/x', 'x.gguf'));
  const aborted: boolean = isAbort(new Error('x'));
  const g: GenerateOptions = { maxTokens: 8, temperature: 0, seed: 2 ** 40 };
  let text = '';
  for await (const piece of model.generate('Once', g)) text += piece;
  const r: GenerateResult = await model.generate([1, 2, 3], g);
  const t: TuneOptions = { data: [{ text: 'a b c' }], virtualTokens: 4, steps: 2 };
  const job = model.tune(t);
  job.on('progress', (s) => s.loss);
  job.on('paused', () => job.state).on('resumed', () => job.state);
  const acked: 'paused' | 'done' | 'failed' = await job.pause();
  const going: 'running' | 'done' | 'failed' = await job.resume();
  const res: TuneResult = await job.done;
  const a: Adapter = res.adapter;
  const files = await a.save();
  const b: BenchResult = await model.bench({ seconds: 0.1 });
  const pv: DataPreview = await model.dataPreview('a\\n\\nb');
  const code: ErrorCode = ErrorCodes.SP_ERR_DATA;
  const e = new SoftpromptError(code, 'x');
  const parsed: DataPreview = await sp.dataPreview([{ messages: [{ role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }] }], { format: 'tsv' });
  const where: number | undefined = e.line;
  const src: ModelSource = new Uint8Array(4);
  const th: boolean = threadsAvailable();
  const req: Request<'generate'> = { id: 1, op: 'generate', args: { model: 1, prompt: 'x', maxTokens: 4 } };
  const rep: Reply<'tokenize'> = { id: 1, result: [1, 2] };
  const ops: keyof Operations = 'tune';
  const ch: Channel = { post() {}, listen() {}, close() {} };
  const server = serve(ch);
  server.shutdown();
  return [text, r.text, files.config, String(b.peakGflops), String(pv.count), e.code, String(parsed.warnings.length), String(where), String(src), String(th),
    req.op, String(rep), ops, String(same), String(repo), String(logits[0] + emb[0]), String(hub), String(cached), String(aborted), acked, going].join();
}
`;

// Each line must be a compile error: tsc reports an unused @ts-expect-error otherwise.
const MISTAKES = [
  "model.generate('x', { maxTokens: '8' });",
  'model.tune({ virtualTokens: 4 });',
  "const c: ErrorCode = 'SP_ERR_NOPE';",
  "const q: Request<'generate'> = { id: 1, op: 'generate', args: { prompt: 'x' } };",
  "model.embed('x', { pooling: 'max' });",
  "const n: number = await model.embed('x');",
  "const p: 'running' = await model.tune({ data: 'a' }).pause();",
];

test('types: the program imports every runtime export of softprompt and softprompt/worker', async () => {
  const names = (mod) => Object.keys(mod).filter((k) => k !== 'default');
  const imported = PROGRAM.slice(0, PROGRAM.indexOf('export async function'));
  for (const [spec, file] of [['softprompt', '../web/softprompt.js'], ['softprompt/worker', '../web/worker.js']]) {
    for (const k of names(await import(file))) assert.ok(new RegExp(`\\b${k}\\b`).test(imported), `${spec}: the type test uses ${k}`);
  }
});

/**
 * The declared types against the runtime's declarations: worker.d.ts's Operations has exactly the
 * ops and arguments of web/worker/schema.js OPS, and the public option interfaces hold every
 * option name the client accepts (GENERATE_OPTIONS, BENCH_OPTIONS, TUNE_OPTIONS). Written as
 * type-level assertions that tsc checks.
 */
async function protocolChecks() {
  const { OPS, GENERATE_OPTIONS, BENCH_OPTIONS, TUNE_OPTIONS } = await import('../web/worker/schema.js');
  const union = (names) => (names.length ? names.map((n) => `'${n}'`).join(' | ') : 'never');
  const lines = [
    "import type { Operations } from 'softprompt/worker';",
    "import type { GenerateOptions, BenchOptions, TuneOptions } from 'softprompt';",
    'type Exact<T, K extends PropertyKey> = [Exclude<keyof T, K>, Exclude<K, keyof T>] extends [never, never] ? true : false;',
    'type Holds<T, K extends PropertyKey> = [Exclude<K, keyof T>] extends [never] ? true : false;',
    `export const ops: Exact<Operations, ${union(Object.keys(OPS))}> = true;`,
  ];
  for (const [op, spec] of Object.entries(OPS)) {
    const names = Object.keys(spec.args);
    lines.push(names.length ? `export const args_${op}: Exact<Operations['${op}'][0], ${union(names)}> = true;`
      : `export const args_${op}: Operations['${op}'][0] extends Record<string, never> ? true : false = true;`);
  }
  lines.push(`export const generate: Holds<GenerateOptions, ${union(GENERATE_OPTIONS)}> = true;`);
  lines.push(`export const bench: Holds<BenchOptions, ${union(BENCH_OPTIONS)}> = true;`);
  lines.push(`export const tune: Holds<TuneOptions, ${union(TUNE_OPTIONS)}> = true;`);
  return lines.join('\n') + '\n';
}

function project(name, compilerOptions) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `softprompt-types-${name}-`));
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'softprompt'));
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: `types-${name}`, private: true, type: 'module' }));
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { strict: true, noEmit: true, target: 'es2022', skipLibCheck: false, ...compilerOptions },
    include: ['*.ts'],
  }));
  return dir;
}

function tsc(dir) {
  try {
    execFileSync(process.execPath, [TSC, '-p', dir], { encoding: 'utf8', stdio: 'pipe' });
    return '';
  } catch (e) {
    return `${e.stdout}${e.stderr}` || String(e);
  }
}

const PROJECTS = {
  node: { lib: ['es2022'], module: 'nodenext', moduleResolution: 'nodenext', types: ['node'], typeRoots: [path.join(ROOT, 'node_modules', '@types')] },
  browser: { lib: ['es2022', 'dom', 'dom.iterable'], module: 'esnext', moduleResolution: 'bundler', types: [] },
};

for (const [name, options] of Object.entries(PROJECTS)) {
  test(`types: every export type-checks in a ${name} project, mistakes are errors, the protocol matches`, { timeout: 300_000 }, async () => {
    const dir = project(name, options);
    try {
      // one tsc run: the program, then each mistake under @ts-expect-error
      const body = PROGRAM.slice(0, PROGRAM.lastIndexOf('  return ['));
      const mistakes = MISTAKES.map((m, i) => `  // @ts-expect-error mistake ${i}\n  ${m}\n`).join('');
      fs.writeFileSync(path.join(dir, 'main.ts'), `${body}${mistakes}${PROGRAM.slice(PROGRAM.lastIndexOf('  return ['))}`);
      fs.writeFileSync(path.join(dir, 'protocol.ts'), await protocolChecks());
      assert.equal(tsc(dir), '', `tsc (${name}): the program compiles, every mistake is an error, the types match the protocol`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
}
