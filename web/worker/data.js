// data.js (worker) - training data on its way to the engine: text passes through to the C parser,
// examples become JSONL; and the dataPreview operation (counts, labels, token lengths).

import { ErrorCodes, fail } from '../errors.js';
import { tick } from '../env.js';
import { parseData, labelSet } from '../data.js';

/** Data for the C side: text in any format passes through (the C parser reports problems with
 *  the user's line numbers); an array of examples becomes JSONL. -> {data, format} */
export function prepareData(data, format) {
  if (typeof data === 'string') {
    if (data.trim() === '') fail(ErrorCodes.SP_ERR_DATA, 'the data has no examples');
    return { data, format: format || 'auto' };
  }
  if (!Array.isArray(data)) fail(ErrorCodes.SP_ERR_INVALID_ARG, 'data must be text (JSONL, CSV, plain) or an array of examples');
  const parsed = parseData(data);
  if (parsed.errors.length) {
    const e0 = parsed.errors[0];
    fail(ErrorCodes.SP_ERR_DATA, `example ${e0.line}: ${e0.message}`);
  }
  if (parsed.examples.length === 0) fail(ErrorCodes.SP_ERR_DATA, 'the data has no examples');
  return { data: parsed.jsonl, format: 'jsonl' };
}

async function dataPreview(ctx, id, args) {
  const { data, format, limit = 20, maxLength = 256 } = args;
  let parsed;
  try {
    parsed = parseData(data, { format: format || 'auto' });
  } catch (err) {
    fail(ErrorCodes.SP_ERR_INVALID_ARG, err.message);
  }
  const out = {
    format: parsed.format,
    kind: parsed.kind,
    count: parsed.examples.length,
    examples: parsed.examples.slice(0, Math.max(0, limit)),
    errors: parsed.errors,
  };
  const labels = labelSet(parsed.examples);
  if (labels) out.labels = labels;
  if (args.model) {
    const m = ctx.getModel(args.model);
    // The engine's own parser has the last word (it is what tune/evaluate will read).
    if (typeof data === 'string' && out.errors.length === 0) {
      const c = m.model.dataPreview(data, format || 'auto', 0);
      if (c.error) {
        const mm = /^line (\d+)[,:]\s*(.*)$/.exec(c.error.message);
        out.errors.push(mm ? { line: Number(mm[1]), message: mm[2] } : { line: 1, message: c.error.message });
      } else if (c.result) {
        out.count = c.result.examples ?? out.count;
        if (Array.isArray(c.result.labels)) out.labels = c.result.labels;
      }
    }
    const per = [];
    let total = 0;
    let min = Infinity;
    let max = 0;
    let truncated = 0;
    for (let i = 0; i < parsed.examples.length; i++) {
      const ex = parsed.examples[i];
      const n = 'text' in ex
        ? m.model.tokenize(ex.text, true).length
        : m.model.tokenize(ex.input, true).length + m.model.tokenize(ex.output, false).length + 1;
      per.push(n);
      total += n;
      if (n < min) min = n;
      if (n > max) max = n;
      if (n > maxLength) truncated++;
      if (i % 256 === 255) await tick();
    }
    out.tokens = { total, min: per.length ? min : 0, max, mean: per.length ? total / per.length : 0, truncated, perExample: per };
  }
  return out;
}

export const ops = { dataPreview };
