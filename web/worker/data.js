// data.js (worker) - training data on its way to the engine. The C parser (src/train/data.c) is
// the only parser: text passes through unchanged, an array of examples becomes JSONL (example i on
// line i), and conversations ({"messages"}, {"prompt","completion"} with message lists) are
// rendered here with the model's chat template (@huggingface/jinja, through ../chat.js) into
// {"segments"} records on their own lines, so the C side tokenizes them with their loss mask and
// its line numbers stay the user's. The dataPreview operation reports what the C parser read.

import { ErrorCodes, fail, SoftpromptError, withPlace } from '../errors.js';
import { modelTokenizer } from '../tokenizer.js';
import { conversationSequences } from '../data.js';

/** Data as text for the C parser: {data, format}. Strings pass; an array becomes JSONL. */
function asText(data, format, { allowEmpty = false } = {}) {
  if (typeof data === 'string') {
    if (!allowEmpty && data.trim() === '') fail(ErrorCodes.SP_ERR_DATA, 'the data has no examples');
    return { data, format: format || 'auto' };
  }
  if (!Array.isArray(data)) fail(ErrorCodes.SP_ERR_INVALID_ARG, 'data must be text (JSONL, CSV, TSV, plain) or an array of examples');
  if (!allowEmpty && data.length === 0) fail(ErrorCodes.SP_ERR_DATA, 'the data has no examples');
  const lines = data.map((x, i) => {
    try {
      return JSON.stringify(x) ?? 'null';
    } catch (e) {
      throw withPlace(new SoftpromptError(ErrorCodes.SP_ERR_DATA, `example ${i + 1}: not JSON data (${e?.message ?? e})`), i + 1);
    }
  });
  return { data: lines.join('\n'), format: 'jsonl' };
}

/** The model's chat template and end-of-turn texts (cached on the worker's model record). */
async function chatOf(m, line) {
  if (m.chat) return m.chat;
  const info = m.tokenizer;
  if (!info?.chat_template) {
    throw withPlace(new SoftpromptError(ErrorCodes.SP_ERR_UNSUPPORTED,
      `line ${line}: conversation data needs the model's chat template, and this model has none (tokenizer_config.json chat_template or GGUF tokenizer.chat_template)`), line, 'messages');
  }
  const { compileChatTemplate, renderChat } = await import('../chat.js'); // @huggingface/jinja, only for conversations
  const compiled = await compileChatTemplate(info.chat_template, info.specials ?? {});
  const t = modelTokenizer(m.model);
  let eot;
  try {
    eot = [...new Set([...(t.info.eog_ids ?? []), t.info.eos_id].filter((id) => Number.isInteger(id) && id >= 0))].map((id) => t.tokenText(id));
  } finally {
    t.free();
  }
  m.chat = {
    render: (messages, addGenerationPrompt) => renderChat(compiled, messages, { addGenerationPrompt, specials: info.specials ?? {} }),
    eot: eot.filter((s) => s !== ''),
  };
  return m.chat;
}

/** Conversations rendered in place: -> {data, format, conversations: n, rows: Map(line -> sequences)
 *  for the conversations that became more than one training sequence}. Others pass unchanged. */
async function renderConversations(engine, m, data, format) {
  const { conversations } = engine.dataConversations(data, format);
  const rows = new Map();
  if (!conversations.length) return { data, format, conversations: 0, rows };
  const lines = data.split('\n');
  for (const c of conversations) {
    const chat = await chatOf(m, c.line);
    const seqs = conversationSequences(chat.render, c, chat.eot);
    if (seqs.length > 1) rows.set(c.line, seqs.length);
    lines[c.line - 1] = JSON.stringify({ segments: seqs.length === 1 ? seqs[0] : seqs });
  }
  return { data: lines.join('\n'), format: 'jsonl', conversations: conversations.length, rows };
}

/** For rendered JSONL: how many training sequences (the C parser's examples) each record became, in
 *  record order (a record is a non-blank line). */
function rowsPerRecord(data, rows) {
  const out = [];
  data.split('\n').forEach((l, i) => { if (!/^[ \t\r\n\f\v]*$/.test(l)) out.push(rows.get(i + 1) ?? 1); });
  return out;
}

/** Data for tune/evaluate on model record m: {data, format} as the C tuner reads it. */
export async function prepareData(ctx, m, data, format) {
  const t = asText(data, format);
  return await renderConversations(ctx.getEngine(), m, t.data, t.format);
}

const issue = (e) => ({ code: e.code, line: e.line ?? 0, field: e.field ?? null, message: e.message });

async function dataPreview(ctx, id, args) {
  const { limit = 20, maxLength = 256, ids = false } = args;
  const engine = ctx.getEngine();
  const m = args.model ? ctx.getModel(args.model) : null;
  const { data, format } = asText(args.data, args.format, { allowEmpty: true });
  const c = engine.dataPreview(data, { format, limit, maxLength, ids }, m ? m.model.ptr : 0);
  let tokens = c.tokens;
  const errors = c.errors.map((e) => ({ code: e.code, line: e.line, field: e.field, message: e.message }));
  if (m && errors.length === 0 && (c.kind === 'chat' || c.kind === 'mixed')) {
    // conversations are counted as the tuner will read them: rendered by the chat template
    try {
      const r = await renderConversations(engine, m, data, format);
      if (r.conversations) {
        // per record (what the user wrote), though a conversation may train as several sequences
        const per = rowsPerRecord(r.data, r.rows);
        const shown = per.slice(0, c.examples.length).reduce((a, b) => a + b, 0);
        const rc = engine.dataPreview(r.data, { format: r.format, limit: ids ? shown : 0, maxLength, ids }, m.model.ptr);
        errors.push(...rc.errors);
        tokens = rc.tokens;
        if (tokens && r.rows.size) {
          let k = 0;
          tokens = { ...tokens, per_example: per.map((n) => tokens.per_example.slice(k, (k += n)).reduce((a, b) => a + b, 0)) };
        }
        if (ids && rc.examples.length) {
          let k = 0;
          c.examples.forEach((x, i) => {
            const seqs = rc.examples.slice(k, (k += per[i])).map((y) => ({ ids: y.ids, targets: y.targets }));
            if (!seqs.length) return;
            Object.assign(x, seqs[seqs.length - 1]); // the whole conversation
            if (seqs.length > 1) x.sequences = seqs;
          });
        }
      }
    } catch (e) {
      if (!(e instanceof SoftpromptError)) throw e;
      errors.push(issue(e));
    }
  }
  const out = {
    format: Array.isArray(args.data) ? 'examples' : c.format,
    kind: c.kind ?? 'text',
    count: c.count,
    examples: c.examples,
    errors,
    warnings: c.warnings,
  };
  if (c.labels) out.labels = c.labels;
  if (tokens) {
    out.tokens = { total: tokens.total, min: tokens.min, max: tokens.max, mean: tokens.mean, truncated: tokens.truncated, perExample: tokens.per_example };
  }
  return out;
}

export const ops = { dataPreview };
