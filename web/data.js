// data.js - helpers around training data that are not parsing. The engine's C parser
// (src/train/data.c) is the one parser of every format (JSONL with text, input/output, messages,
// prompt/completion and segments records; CSV; TSV; plain text): pages ask it through
// sp.dataPreview / model.dataPreview, which report problems with their line and field.
//
//   conversationSegments(render, conv, eotTexts)  a conversation -> [{text, train}] (see below)
//   isLabelLike(labels, count)                    whether a label set reads as labels to a person

import { SoftpromptError, ErrorCodes, withPlace } from './errors.js';

/**
 * The loss mask of one conversation, as text segments: the assistant turns (from conv.train_from on)
 * and their end-of-turn token train, everything else (system, user, the template's role headers,
 * what follows an end-of-turn token) does not.
 *
 * render(messages, addGenerationPrompt) is the model's chat template. Each learnt assistant turn i is
 * found as the text between render(messages[0..i), true) (the prompt the model would be given) and
 * render(messages[0..i]) (the turn answered); both must be prefixes of the next, and of the whole
 * conversation, or the turn's tokens are not well defined: a template that renders earlier turns
 * differently once later ones follow (Qwen3 drops earlier turns' thinking) is refused, naming the
 * turn. The turn ends after the last end-of-turn text in it (eotTexts: '<|im_end|>', ...), so the
 * newline a template writes after it is not learnt.
 *
 * conv: {messages: [{role, content}], train_from, line} as sp_data_conversations_json gives it.
 * Throws SoftpromptError with .line and .field.
 */
export function conversationSegments(render, conv, eotTexts = []) {
  const { messages, line } = conv;
  const place = (e, field) => withPlace(e, line, field);
  const run = (msgs, agp, i) => {
    try {
      return render(msgs, agp);
    } catch (e) {
      throw place(e instanceof SoftpromptError ? e : new SoftpromptError(ErrorCodes.SP_ERR_INVALID_ARG, String(e?.message ?? e)), `messages[${i}]`);
    }
  };
  const full = run(messages, false, messages.length - 1);
  const segments = [];
  let pos = 0;
  for (let i = conv.train_from ?? 0; i < messages.length; i++) {
    if (messages[i].role !== 'assistant') continue;
    if (i === 0) {
      throw place(new SoftpromptError(ErrorCodes.SP_ERR_DATA, `line ${line}: messages[0] is an assistant turn; a learnt turn needs a message before it (the prompt it answers)`), 'messages[0]');
    }
    const prompt = run(messages.slice(0, i), true, i);
    const answered = run(messages.slice(0, i + 1), false, i);
    if (!answered.startsWith(prompt) || !full.startsWith(answered) || prompt.length < pos) {
      throw place(new SoftpromptError(ErrorCodes.SP_ERR_UNSUPPORTED,
        `line ${line}: the chat template renders assistant turn messages[${i}] differently once other turns follow it, ` +
        'so its tokens cannot be found in the conversation (rendering the turns before it with add_generation_prompt, then with it, ' +
        'must give prefixes of the whole conversation); train on conversations that end with this turn'), `messages[${i}]`);
    }
    let end = answered.length;
    let cut = -1;
    for (const t of eotTexts) {
      if (!t) continue;
      const k = answered.lastIndexOf(t);
      if (k >= prompt.length && k + t.length > cut) cut = k + t.length;
    }
    if (cut > 0) end = cut;
    if (prompt.length > pos) segments.push({ text: full.slice(pos, prompt.length), train: false });
    if (end > prompt.length) segments.push({ text: full.slice(prompt.length, end), train: true });
    pos = end;
  }
  if (pos < full.length) segments.push({ text: full.slice(pos), train: false });
  return segments;
}

/** Whether a label set (as the engine reports it) looks like labels to a person: short outputs,
 *  each used by several examples on average. 16 distinct sentences over 16 examples are answers,
 *  not labels. */
export function isLabelLike(labels, count) {
  if (!Array.isArray(labels) || labels.length < 2 || !(count > 0)) return false;
  if (labels.length * 2 > count) return false;
  return labels.every((l) => l.length <= 24 && l.trim().split(/\s+/).length <= 3);
}
