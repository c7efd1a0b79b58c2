// data.js (worker) - training data on its way to the engine. The C parser (src/train/data.c) is
// the only parser: text passes through unchanged, an array of examples becomes JSONL (example i on
// line i), and conversations ({"messages"}, {"prompt","completion"} with message lists) are
// rendered here with the model's chat template (@huggingface/jinja, through ../chat.js) into
// {"segments"} records on their own lines, so the C side tokenizes them with their loss mask and
// its line numbers stay the user's. The dataPreview operation reports what the C parser read.

import { ErrorCodes, fail, SoftpromptError, withPlace } from '../errors.js';
import { modelTokenizer } from '../tokenizer.js';
import { conversationSegments } from '../data.js';

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
  const compiled = compileChatTemplate(info.chat_template);
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

/** Conversations rendered in place: -> {data, format, conversations: n}. Others pass unchanged. */
async function renderConversations(engine, m, data, format) {
  const { conversations } = engine.dataConversations(data, format);
  if (!conversations.length) return { data, format, conversations: 0 };
  const lines = data.split('\n');
  for (const c of conversations) {
    const chat = await chatOf(m, c.line);
    lines[c.line - 1] = JSON.stringify({ segments: conversationSegments(chat.render, c, chat.eot) });
  }
  return { data: lines.join('\n'), format: 'jsonl', conversations: conversations.length };
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
        const rc = engine.dataPreview(r.data, { format: r.format, limit: ids ? limit : 0, maxLength, ids }, m.model.ptr);
        tokens = rc.tokens;
        errors.push(...rc.errors);
        if (ids) rc.examples.forEach((x, i) => { if (c.examples[i]) Object.assign(c.examples[i], { ids: x.ids, targets: x.targets }); });
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
