// data.js - helpers around training data that are not parsing. The engine's C parser
// (src/train/data.c) is the one parser of every format (JSONL with text, input/output, messages,
// prompt/completion and segments records; CSV; TSV; plain text): pages ask it through
// sp.dataPreview / model.dataPreview, which report problems with their line and field.
//
//   conversationSequences(render, conv, eotTexts) a conversation -> [[{text, train}], ...] (see below)
//   isLabelLike(labels, count)                    whether a label set reads as labels to a person

import { SoftpromptError, ErrorCodes, withPlace } from './errors.js';

/**
 * The loss mask of one conversation, as training sequences of text segments: the assistant turns
 * (from conv.train_from on) and their end-of-turn token train, everything else (system, user, the
 * template's role headers, what follows an end-of-turn token) does not.
 *
 * render(messages, addGenerationPrompt) is the model's chat template. Each learnt assistant turn i is
 * the text between prompt(i) = render(messages[0..i), true) (what the model is given when it writes
 * that turn) and answered(i) = render(messages[0..i]); a template whose answered(i) does not begin
 * with prompt(i) is refused, naming the turn. The turn ends after the last end-of-turn text in it
 * (eotTexts: '<|im_end|>', ...), so the newline a template writes after it is not learnt.
 *
 * Most templates render earlier turns the same whatever follows (answered(i), up to the turn's end, is
 * a prefix of the whole conversation): then the conversation is one sequence learning every turn. Some do not: Qwen3's
 * writes the last assistant turn with its <think> block and drops the thinking of turns before the
 * last user message. A turn learnt in the whole rendering would then be learnt in a form the model
 * never writes, so such a turn gets a sequence of its own, render(messages[0..i]), which the earlier
 * turns that stay prefixes of it share. Working from the last turn back: the whole conversation
 * learns the turns it renders as they are written, the first turn that differs starts the next
 * sequence, and so on. Each turn is learnt once, in the context the model sees when writing it.
 *
 * conv: {messages: [{role, content}], train_from, line} as sp_data_conversations_json gives it.
 * Returns [[{text, train}, ...], ...]: the sequences in conversation order (the whole conversation
 * last). Throws SoftpromptError with .line and .field.
 */
export function conversationSequences(render, conv, eotTexts = []) {
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
  // every learnt turn: where it starts (prompt) and ends (its end-of-turn text), in its own rendering
  const turns = [];
  for (let i = conv.train_from ?? 0; i < messages.length; i++) {
    if (messages[i].role !== 'assistant') continue;
    if (i === 0) {
      throw place(new SoftpromptError(ErrorCodes.SP_ERR_DATA, `line ${line}: messages[0] is an assistant turn; a learnt turn needs a message before it (the prompt it answers)`), 'messages[0]');
    }
    const prompt = run(messages.slice(0, i), true, i);
    const answered = i === messages.length - 1 ? full : run(messages.slice(0, i + 1), false, i);
    if (!answered.startsWith(prompt)) {
      throw place(new SoftpromptError(ErrorCodes.SP_ERR_UNSUPPORTED,
        `line ${line}: the chat template renders assistant turn messages[${i}] differently from the prompt it gives the model for it ` +
        '(rendering the turns before it with add_generation_prompt must give the start of the rendering with it), so its tokens cannot be found'), `messages[${i}]`);
    }
    let end = answered.length;
    let cut = -1;
    for (const t of eotTexts) {
      if (!t) continue;
      const k = answered.lastIndexOf(t);
      if (k >= prompt.length && k + t.length > cut) cut = k + t.length;
    }
    if (cut > 0) end = cut;
    turns.push({ i, prompt, answered, end });
  }
  // group from the last turn back: a turn joins the sequence after it when its rendering up to the
  // turn's end is a prefix of that sequence's text (what a template writes after the end-of-turn
  // token is not learnt: Llama 3's always appends a generation prompt) and ends before the turns
  // already in it begin
  const groups = [];
  let g = { text: full, turns: [] };
  for (let k = turns.length - 1; k >= 0; k--) {
    const t = turns[k];
    const room = g.turns.length ? g.turns[0].prompt.length : g.text.length;
    if (!(t.end <= room && g.text.startsWith(t.answered.slice(0, t.end)))) {
      if (g.turns.length) groups.unshift(g);
      g = { text: t.answered, turns: [] };
    }
    g.turns.unshift(t);
  }
  if (g.turns.length) groups.unshift(g);
  return groups.map(({ text, turns: ts }) => {
    const segments = [];
    let pos = 0;
    for (const t of ts) {
      if (t.prompt.length > pos) segments.push({ text: text.slice(pos, t.prompt.length), train: false });
      if (t.end > t.prompt.length) segments.push({ text: text.slice(t.prompt.length, t.end), train: true });
      pos = t.end;
    }
    if (pos < text.length) segments.push({ text: text.slice(pos), train: false });
    return segments;
  });
}

/** Whether a label set (as the engine reports it) looks like labels to a person: short outputs,
 *  each used by several examples on average. 16 distinct sentences over 16 examples are answers,
 *  not labels. */
export function isLabelLike(labels, count) {
  if (!Array.isArray(labels) || labels.length < 2 || !(count > 0)) return false;
  if (labels.length * 2 > count) return false;
  return labels.every((l) => l.length <= 24 && l.trim().split(/\s+/).length <= 3);
}
