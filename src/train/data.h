/* data.h - training/evaluation datasets: parse, tokenize, split, shuffle, batch.
 *
 * This is the one parser of training data: the JS API, the worker and the CLI hand it the user's
 * text unchanged, and show its errors.
 * Formats (sp_data_format):
 *   JSONL  one JSON object per line (blank lines are skipped; other keys are ignored), one of
 *            {"text": "..."}
 *            {"input": "...", "output": "..."}
 *            {"messages": [{"role": "...", "content": "..."}, ...]}     (TRL's conversational format)
 *            {"prompt": P, "completion": C}  P and C strings (= input/output) or message lists; a
 *                   string prompt is one user message, a string completion one assistant message
 *            {"segments": [{"text": "...", "train": true|false}, ...]}  rendered text with its loss mask
 *            {"segments": [[...], [...], ...]}  several such sequences from one line, one example each
 *                   (a conversation whose template writes a turn differently once later turns follow)
 *          The kinds may be mixed. A conversation needs at least one "assistant" turn (in the
 *          completion, for prompt/completion).
 *   CSV    RFC 4180 (quoted fields may hold commas, "" and newlines; LF or CRLF). A header row
 *          is required naming the columns "input" and "output", or "text" (any order and case;
 *          other columns are ignored). Every row must have as many fields as the header.
 *   TSV    the same with tabs (a quote inside a field is text). The header is optional: without
 *          one every row must be input<TAB>output.
 *   text   plain text; examples are separated by one or more blank lines; the lines of an
 *          example are joined with "\n" (a CR before LF is dropped).
 *   auto   first non-space byte '{' -> JSONL; else each of the first (up to 5) non-blank lines holding
 *          a tab after some text -> TSV; else a first row that is exactly the
 *          header "input,output" (either order) or "text" -> CSV; else text.
 * A UTF-8 byte-order mark at the start is skipped. Errors are SP_ERR_DATA with the 1-based
 * line number, e.g. "line 7, column 12: expected ',' or '}'" or "line 3: missing \"output\"";
 * sp_error's line and field carry the same as values (field e.g. "messages[1].role", or "").
 *
 * Conversations are rendered by the model's chat template, which this library does not run (it is
 * Jinja; the JS layer renders it with @huggingface/jinja). sp_dataset_conversations_json lists
 * them; the caller renders each into {"segments"} (assistant turns and their end-of-turn token
 * train, the rest does not; a list of sequences when one rendering cannot hold every turn as the
 * model writes it, see web/data.js) and puts that record on the conversation's line. Tokenizing a dataset
 * that still holds a conversation is SP_ERR_UNSUPPORTED naming its line.
 *
 * Tokenization (sp_dataset_tokenize):
 *   {"text"}            ids = BOS + encode(text). Every token after the first is a target.
 *   {"input","output"}  ids = BOS + encode(input) + encode(output) + EOS. The output is encoded
 *                       separately, so the tokenizer's usual space prefix applies to it: the
 *                       output reads as a new word ("Review: great" + "positive" is learnt as
 *                       "... great positive"). Targets are the output tokens and the EOS only.
 *   {"segments"}        ids = encode(seg 0) + encode(seg 1) + ... with no BOS/EOS added (a chat
 *                       template writes its own special tokens as text); each segment is encoded
 *                       on its own, so no token spans two segments. Targets are the tokens of
 *                       segments with train = true.
 *   (BOS/EOS are left out when the tokenizer has none.)
 *   targets[j] = 1 means ids[j] is a label predicted from position j-1, so the loss is
 *   sum over j with targets[j] of -log p(ids[j] | ids[<j]); targets at position 0 are always 0.
 *
 * Truncation to max_length (>= 2) tokens keeps the beginning. If that would remove every target
 * of an input/output example (the input alone fills max_length), the LAST max_length tokens are
 * kept instead (the end of the input, the output, EOS), counted in n_tail. Nothing is dropped.
 * An example with no target at all (an empty "text", or an empty output without an EOS token)
 * is an SP_ERR_DATA error naming its line.
 *
 * Labels: if every example is input/output and there are at most SP_DATA_MAX_LABELS distinct
 * outputs, they form a label set (sorted bytewise) so evaluation can report accuracy.
 *
 * Batches are right-padded with pad_id (tokenizer pad, else 0); padded positions are never
 * targets. With right padding and causal attention no attention mask is needed: a real token
 * at position t only attends to positions <= t, which are all real tokens of its own row, and
 * the outputs at padded positions are never read by the loss. */
#ifndef SP_DATA_H
#define SP_DATA_H

#include "../common.h"
#include "../tokenizer/tokenizer.h"

typedef enum { SP_DATA_AUTO = 0, SP_DATA_JSONL = 1, SP_DATA_CSV = 2, SP_DATA_TEXT = 3, SP_DATA_TSV = 4 } sp_data_format;
typedef enum { SP_EX_TEXT = 0, SP_EX_PAIR = 1, SP_EX_CHAT = 2, SP_EX_SEGMENTS = 3 } sp_example_kind;

#define SP_DATA_MAX_LABELS 20

typedef struct {
    int32_t kind;          /* sp_example_kind */
    int32_t line;          /* 1-based line where the example starts */
    const char *text;      /* TEXT: the text; PAIR: the input. NUL-terminated, arena (may hold NULs: use len) */
    size_t text_len;
    const char *output;    /* PAIR: the output (NULL for TEXT) */
    size_t output_len;
    /* CHAT: n_parts messages (roles[k], parts[k]); assistant turns from train_from on are learnt.
     * SEGMENTS: n_parts texts parts[k], learnt where train[k]. Arena, NUL-terminated. */
    int32_t n_parts;
    const char **parts;
    size_t *part_lens;
    const char **roles;    /* CHAT */
    size_t *role_lens;     /* CHAT */
    int32_t train_from;    /* CHAT: 0 for "messages", the completion's first message for prompt/completion */
    uint8_t *train;        /* SEGMENTS */
} sp_example;

typedef struct {
    int32_t format;        /* the format actually parsed (never AUTO) */
    int32_t n;             /* number of examples */
    sp_example *ex;        /* [n] in file order */
    int32_t all_pairs;     /* 1 if every example is input/output */

    /* ---- filled by sp_dataset_tokenize ---- */
    int32_t max_length;    /* truncation length used */
    int64_t n_tokens;      /* total tokens over all examples */
    int64_t n_targets;     /* total target tokens */
    int64_t *offsets;      /* (n+1) example i is ids[offsets[i] .. offsets[i+1]) */
    int32_t *ids;          /* (n_tokens) token ids, examples back to back */
    uint8_t *targets;      /* (n_tokens) 1 where ids[j] is a label (see above) */
    int32_t max_len;       /* longest example in tokens (<= max_length) */
    int32_t n_truncated;   /* examples cut to max_length */
    int32_t n_tail;        /* of those, kept the last max_length tokens */

    /* ---- label set (n_labels = 0 when there is none) ---- */
    int32_t n_labels;
    const char **labels;   /* [n_labels] distinct outputs, sorted bytewise, NUL-terminated */
    size_t *label_lens;    /* [n_labels] */
    int32_t *label_of;     /* (n) label index of each example (NULL when no label set) */
    int64_t *label_offsets;/* (n_labels+1) label k is label_ids[label_offsets[k] .. label_offsets[k+1]) */
    int32_t *label_ids;    /* encode(label) + EOS, as in the training sequences (filled by tokenize) */

    sp_arena arena;        /* everything above */
} sp_dataset;

/* A padded batch (buffers sized once for cap_B x cap_T by sp_batch_init). */
typedef struct {
    int32_t B;             /* rows in this batch */
    int32_t T;             /* longest row in this batch */
    int32_t cap_B, cap_T;  /* capacity */
    int32_t *ids;          /* (B, T) row-major with stride T, right-padded with the pad id */
    uint8_t *targets;      /* (B, T) 1 at target positions, 0 elsewhere and at all padding */
    int32_t *lengths;      /* (B) real tokens in each row */
    int32_t *example;      /* (B) dataset index of each row */
    int64_t n_targets;     /* targets in this batch */
} sp_batch;

/* "jsonl" | "csv" | "tsv" | "text" | "auto" (NULL or "" = auto). */
sp_status sp_data_format_parse(const char *name, int32_t *format, sp_error *err);
const char *sp_data_format_name(int32_t format);
/* The format auto-detection would choose for data[0..len). */
int32_t sp_data_detect_format(const char *data, size_t len);

/* Parse data[0..len) into ds->ex (ds is initialised here; free with sp_dataset_free, also after
 * an error). SP_ERR_DATA "no examples" when nothing is found. */
sp_status sp_dataset_parse(sp_dataset *ds, const char *data, size_t len, int32_t format, sp_error *err);
/* Tokenize the parsed examples (see above) and build the label set. max_length >= 2. */
sp_status sp_dataset_tokenize(sp_dataset *ds, const sp_tokenizer *tok, int32_t max_length, sp_error *err);
/* parse + tokenize */
sp_status sp_dataset_load(sp_dataset *ds, const sp_tokenizer *tok, const char *data, size_t len,
                          int32_t format, int32_t max_length, sp_error *err);
void sp_dataset_free(sp_dataset *ds);
/* B examples of T token ids drawn from 0..vocab-1 with a generator seeded by seed, every token after
 * the first of a row a target: a dataset as sp_dataset_tokenize would leave it, for measuring the
 * training step without a tokenizer (the benchmark, tests/experiments). Free with sp_dataset_free. */
sp_status sp_dataset_random(sp_dataset *ds, int32_t B, int32_t T, int32_t vocab, uint64_t seed, sp_error *err);
/* Length in tokens of example i (after tokenize). */
int32_t sp_dataset_len(const sp_dataset *ds, int32_t i);

/* order[i] = i */
void sp_data_order_init(int32_t *order, int32_t n);
/* Fisher-Yates: for i = n-1 .. 1, swap order[i] with order[sp_rng_below(rng, i+1)]. */
void sp_data_shuffle(int32_t *order, int32_t n, sp_rng *rng);
/* Seeded split of 0..n-1: n_eval = round(fraction * n), at least 1 when fraction > 0 and n >= 2,
 * at most n-1. train (n_train) and eval (n_eval) come out in increasing index order; both arrays
 * need room for n. fraction must be in [0, 1). */
sp_status sp_data_split(int32_t n, float eval_fraction, uint64_t seed, int32_t *train, int32_t *n_train,
                        int32_t *eval, int32_t *n_eval, sp_error *err);

/* The id used for padding: the tokenizer's pad id, else 0. */
int32_t sp_data_pad_id(const sp_tokenizer *tok);
/* Allocate batch buffers for up to cap_B rows of up to cap_T tokens in the arena. */
sp_status sp_batch_init(sp_batch *b, sp_arena *a, int32_t cap_B, int32_t cap_T, sp_error *err);
/* Fill b with examples idx[0..n) of ds (n <= cap_B, each no longer than cap_T). */
sp_status sp_batch_fill(sp_batch *b, const sp_dataset *ds, const int32_t *idx, int32_t n, int32_t pad_id, sp_error *err);

/* Parses data as the tuner would and summarises it (the C ABI's sp_data_preview_json documents the
 * JSON). tok may be NULL (then there are no token counts). Token counts are before truncation;
 * "truncated" counts examples longer than max_length. with_ids adds each listed example's "ids" and
 * "targets" (0/1, see above; not for an unrendered conversation). Malformed data (SP_ERR_DATA) is not a failure
 * here: the JSON lists the problem under "errors". malloc'd JSON, NULL on other errors. */
char *sp_dataset_preview_json(const sp_tokenizer *tok, const char *data, size_t len, int32_t format,
                              int32_t limit, int32_t max_length, int32_t with_ids, sp_error *err);
/* The conversations in data, for rendering with a chat template: malloc'd JSON
 * {"conversations":[{"line":L,"messages":[{"role","content"},...],"train_from":K},...]}, NULL with
 * the parse error (SP_ERR_DATA, line and field) when data is malformed. */
char *sp_dataset_conversations_json(const char *data, size_t len, int32_t format, sp_error *err);

#endif
