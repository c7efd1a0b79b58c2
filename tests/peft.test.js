// peft.test.js - PEFT compatibility of saved adapters, with the checker in tests/lib/peft.js:
//   * the checker itself (valid hand-made adapters pass, each kind of defect is named);
//   * prompt adapters trained on stories260K and prefix adapters on a GQA model are PEFT files,
//     and load -> save gives back the same bytes;
//   * the GGUF K-row permutation: one PEFT prefix file (HF order) loaded into the GGUF and the HF
//     copies of the same tiny model gives the same logits (it would not if K were left unpermuted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

import { loadEngine } from '../web/engine.js';
import { modelPath } from './lib/paths.js';
import { makeTinyLlama, makeTinyHF, rng } from './lib/tiny-model.js';
import { checkPeftAdapter, prefixSlice, PeftFormatError, PROMPT_TUNING_KEYS, PREFIX_TUNING_KEYS } from './lib/peft.js';

let engine;
test.before(async () => { engine = await loadEngine({ threads: 1 }); });
test.after(() => engine?.dispose());

/** adapter_model.safetensors as PEFT writes it (compact header, padded to 8 with spaces). */
function peftSafetensors(rows, cols, values, { dtype = 'F32', metadata = { format: 'pt' }, name = 'prompt_embeddings', pad = true } = {}) {
  const nbytes = rows * cols * 4;
  const header = {};
  if (metadata) header.__metadata__ = metadata;
  header[name] = { dtype, shape: [rows, cols], data_offsets: [0, nbytes] };
  let h = JSON.stringify(header);
  if (pad) while (h.length % 8) h += ' ';
  else if (h.length % 8 === 0) h += ' '; // make sure it is misaligned
  const hb = new TextEncoder().encode(h);
  const out = new Uint8Array(8 + hb.length + nbytes);
  const dv = new DataView(out.buffer);
  dv.setBigUint64(0, BigInt(hb.length), true);
  out.set(hb, 8);
  for (let i = 0; i < rows * cols; i++) dv.setFloat32(8 + hb.length + 4 * i, values[i], true);
  return out;
}

function peftConfig(method, fields = {}) {
  const keys = method === 'prompt' ? PROMPT_TUNING_KEYS : PREFIX_TUNING_KEYS;
  const base = {
    auto_mapping: null, base_model_name_or_path: 'org/model', inference_mode: true, modules_to_save: null,
    num_attention_heads: 4, num_layers: 2, num_transformer_submodules: 1, num_virtual_tokens: 3,
    peft_type: method === 'prompt' ? 'PROMPT_TUNING' : 'PREFIX_TUNING', peft_version: '0.18.0', revision: null,
    task_type: 'CAUSAL_LM', token_dim: 8,
    prompt_tuning_init: 'RANDOM', prompt_tuning_init_text: null, tokenizer_kwargs: null, tokenizer_name_or_path: null,
    encoder_hidden_size: 8, init_weights: null, prefix_projection: false,
  };
  const o = {};
  for (const k of keys) o[k] = k in fields ? fields[k] : base[k];
  for (const [k, v] of Object.entries(fields)) if (!keys.includes(k)) o[k] = v;
  return JSON.stringify(o, Object.keys(o).sort(), 2);
}

function problemsOf(fn) {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof PeftFormatError, e.stack);
    assert.equal(e.code, 'SP_ERR_FORMAT');
    return e.problems.join('\n');
  }
  assert.fail('expected a PeftFormatError');
}

test('peft checker: valid prompt and prefix adapters pass; defects are named', () => {
  const vals = Float32Array.from({ length: 3 * 8 }, (_, i) => i / 7);
  const r = checkPeftAdapter({ safetensors: peftSafetensors(3, 8, vals), config: peftConfig('prompt') },
    { method: 'prompt', numVirtualTokens: 3, hidden: 8, numLayers: 2, numHeads: 4 });
  assert.equal(r.method, 'prompt');
  assert.deepEqual(Array.from(r.values), Array.from(vals));

  const pv = Float32Array.from({ length: 3 * 2 * 2 * 8 }, (_, i) => i);
  const rp = checkPeftAdapter({ safetensors: peftSafetensors(3, 32, pv), config: peftConfig('prefix') },
    { method: 'prefix', numKvHeads: 4, headDim: 2 });
  assert.equal(rp.width, 32);
  assert.deepEqual(Array.from(prefixSlice(rp, 1, 1, 'V')), [56, 57, 58, 59, 60, 61, 62, 63]); // row 1, L1.V

  const ok = peftSafetensors(3, 8, vals);
  assert.match(problemsOf(() => checkPeftAdapter({ safetensors: peftSafetensors(3, 8, vals, { dtype: 'F16' }), config: peftConfig('prompt') })), /dtype F16/);
  assert.match(problemsOf(() => checkPeftAdapter({ safetensors: peftSafetensors(3, 8, vals, { metadata: null }), config: peftConfig('prompt') })), /__metadata__/);
  assert.match(problemsOf(() => checkPeftAdapter({ safetensors: peftSafetensors(3, 8, vals, { name: 'weight' }), config: peftConfig('prompt') })), /exactly one tensor/);
  assert.match(problemsOf(() => checkPeftAdapter({ safetensors: peftSafetensors(3, 8, vals, { pad: false }), config: peftConfig('prompt') })), /multiple of 8/);
  assert.match(problemsOf(() => checkPeftAdapter({ safetensors: ok, config: peftConfig('prompt', { num_virtual_tokens: 4 }) })), /shape \[3, 8\], expected \[4, 8\]/);
  assert.match(problemsOf(() => checkPeftAdapter({ safetensors: ok, config: peftConfig('prompt', { inference_mode: false }) })), /inference_mode/);
  assert.match(problemsOf(() => checkPeftAdapter({ safetensors: ok, config: peftConfig('prompt', { prompt_tuning_init: 'TEXT', prompt_tuning_init_text: 'x' }) })), /tokenizer_name_or_path/);
  assert.match(problemsOf(() => checkPeftAdapter({ safetensors: ok, config: peftConfig('prompt', { lora_alpha: 8 }) })), /unexpected keys \["lora_alpha"\]/);
  assert.match(problemsOf(() => checkPeftAdapter({ safetensors: ok, config: peftConfig('prompt', { peft_type: 'LORA' }) })), /peft_type "LORA"/);
  assert.match(problemsOf(() => checkPeftAdapter({ safetensors: ok, config: peftConfig('prompt') }, { hidden: 16 })), /token_dim is 8, expected 16/);
  const unsorted = JSON.stringify({ peft_type: 'PROMPT_TUNING', ...JSON.parse(peftConfig('prompt')) });
  assert.match(problemsOf(() => checkPeftAdapter({ safetensors: ok, config: unsorted })), /not sorted/);
  const nan = Float32Array.from(vals);
  nan[9] = NaN;
  assert.match(problemsOf(() => checkPeftAdapter({ safetensors: peftSafetensors(3, 8, nan), config: peftConfig('prompt') })), /value 9 \(row 1\) is not finite/);
  // several problems at once are all listed
  const many = problemsOf(() => checkPeftAdapter({ safetensors: peftSafetensors(3, 8, vals, { dtype: 'F16', metadata: null }), config: peftConfig('prompt', { task_type: 'SEQ_CLS' }) }));
  assert.match(many, /dtype F16/);
  assert.match(many, /__metadata__/);
  assert.match(many, /task_type/);
});

const STORY_DATA = [
  '{"input": "Once upon a time there was a", "output": "dog"}',
  '{"input": "The cat sat on the", "output": "mat"}',
  '{"text": "Lily liked to play in the park with her friends."}',
].join('\n');

test('peft: a prompt adapter tuned on stories260K is a PEFT adapter and reloads to the same bytes', () => {
  const m = engine.loadGguf(new Uint8Array(readFileSync(modelPath('stories260K/stories260K.gguf'))));
  try {
    for (const init of ['random', 'vocab', 'text']) {
      const t = m.createTuner({ virtual_tokens: 5, steps: 2, batch_size: 2, eval_split: 0, init, init_text: 'Once upon a time', lr: 0.01 }, STORY_DATA);
      try {
        while (t.step()) { /* 2 steps */ }
        const a = t.adapter(false);
        try {
          const st = a.saveSafetensors();
          const cfg = a.saveConfig('karpathy/tinyllamas');
          const r = checkPeftAdapter({ safetensors: st, config: cfg }, {
            method: 'prompt', numVirtualTokens: 5, hidden: m.info.dim, numLayers: m.info.n_layers, numHeads: m.info.n_heads,
            baseModel: 'karpathy/tinyllamas', init: { random: 'RANDOM', vocab: 'SAMPLE_VOCAB', text: 'TEXT' }[init],
            initText: init === 'text' ? 'Once upon a time' : null,
          });
          assert.ok(r.values.some((v) => v !== 0));
          const b = m.loadAdapter(st, cfg);
          try {
            assert.deepEqual(b.saveSafetensors(), st);
            assert.equal(b.saveConfig('karpathy/tinyllamas'), cfg);
            assert.equal(b.info.method, 'prompt');
            assert.equal(b.info.num_virtual_tokens, 5);
          } finally {
            b.free();
          }
        } finally {
          a.free();
        }
      } finally {
        t.free();
      }
    }
  } finally {
    m.free();
  }
});

function firstLogits(model, ids, adapter) {
  const g = model.startGeneration(ids, { maxTokens: 1, temperature: 0, stopAtEos: false }, adapter);
  try {
    assert.ok(g.next());
    return g.logits();
  } finally {
    g.free();
  }
}

const maxAbsDiff = (a, b) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

test('peft: one PEFT prefix file gives the same logits on the GGUF and HF copies of a GQA model', () => {
  const opts = { dim: 32, n_layers: 2, n_heads: 4, n_kv_heads: 2, seed: 3 };
  const gm = engine.loadGguf(makeTinyLlama(opts).gguf);
  const hf = makeTinyHF(opts);
  const hm = engine.loadHf(hf.configJson, hf.safetensors, hf.tokenizerJson);
  try {
    const kv = gm.info.n_kv_heads * gm.info.head_dim;
    const N = 3;
    const width = gm.info.n_layers * 2 * kv;
    const r = rng(17);
    const vals = Float32Array.from({ length: N * width }, () => r.normal());
    const st = peftSafetensors(N, width, vals);
    const cfg = peftConfig('prefix', {
      num_virtual_tokens: N, token_dim: kv, encoder_hidden_size: kv, num_attention_heads: gm.info.n_kv_heads,
      num_layers: gm.info.n_layers,
    });
    const ga = gm.loadAdapter(st, cfg);
    const ha = hm.loadAdapter(st, cfg);
    try {
      const ids = gm.tokenize('Once upon a time', true);
      assert.deepEqual(hm.tokenize('Once upon a time', true), ids);
      const lg = firstLogits(gm, ids, ga);
      const lh = firstLogits(hm, ids, ha);
      const l0 = firstLogits(gm, ids, null);
      const scale = lh.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assert.ok(maxAbsDiff(lg, l0) > 1e-2 * scale, 'the prefix must change the logits for this test to mean anything');
      assert.ok(maxAbsDiff(lg, lh) < 1e-4 * Math.max(1, scale), `GGUF vs HF logits differ by ${maxAbsDiff(lg, lh)}`);
      // saving from either model gives back the PEFT bytes exactly (permute then un-permute)
      assert.deepEqual(ga.saveSafetensors(), st);
      assert.deepEqual(ha.saveSafetensors(), st);
      checkPeftAdapter({ safetensors: ga.saveSafetensors(), config: ga.saveConfig('org/model') },
        { method: 'prefix', numVirtualTokens: N, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: gm.info.head_dim });
    } finally {
      ga.free();
      ha.free();
    }
  } finally {
    gm.free();
    hm.free();
  }
});

test('peft: a prefix adapter tuned on a GQA model follows PEFT\'s GQA rule (token_dim = kv_dim)', () => {
  const m = engine.loadGguf(makeTinyLlama({ n_heads: 4, n_kv_heads: 1, seed: 2 }).gguf);
  try {
    const t = m.createTuner({ method: 'prefix', virtual_tokens: 2, steps: 1, batch_size: 2, eval_split: 0 }, '{"text":"a b c"}\n{"text":"b c a"}\n');
    try {
      t.step();
      const a = t.adapter(false);
      try {
        const r = checkPeftAdapter({ safetensors: a.saveSafetensors(), config: a.saveConfig('') },
          { method: 'prefix', numVirtualTokens: 2, numLayers: m.info.n_layers, numKvHeads: 1, headDim: m.info.head_dim });
        assert.equal(r.tokenDim, m.info.head_dim);
        assert.equal(r.config.base_model_name_or_path, null);
      } finally {
        a.free();
      }
    } finally {
      t.free();
    }
  } finally {
    m.free();
  }
});
