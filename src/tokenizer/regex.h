/* regex.h - the regular expressions of tokenizer.json Split pre-tokenizers (and the GPT-2 pattern
 * of ByteLevel), matched with Oniguruma's semantics (what HF tokenizers uses): leftmost-first
 * alternation, greedy (or lazy) quantifiers, backtracking.
 * Covered: literals and escapes (\r \n \t \f \v \xHH \x{H..} \uHHHH, escaped punctuation), `.`,
 * \s \S (White_Space), \d \D (Nd), \p{X} \P{X} with X a general category or its one-letter
 * group (L, Lu, N, Nd, P, S, Z, M, C, ...), classes [...] of those with ranges and ^, groups
 * (...), (?:...), (?i:...) (simple case folding), lookahead (?=...) (?!...), and the quantifiers
 * ? * + {n} {n,} {n,m} (each optionally lazy with a trailing ?).
 * Anything else (anchors, backreferences, lookbehind, \w, \b, possessive quantifiers, nested
 * classes, patterns that can match the empty string, quantified sub-patterns that can) is
 * refused at compile time with SP_ERR_UNSUPPORTED quoting the pattern: never matched some other way. */
#ifndef SP_REGEX_H
#define SP_REGEX_H

#include "../common.h"

typedef struct sp_regex sp_regex;

/* Compile pat[0..len) into the arena. SP_ERR_UNSUPPORTED names the construct and quotes the pattern. */
sp_status sp_regex_compile(sp_regex **out, const char *pat, size_t len, sp_arena *a, sp_error *err);

/* Backtracking scratch, reused across calls (free with sp_regex_scratch_free). */
typedef struct { void *stack; size_t cap; } sp_regex_scratch;
void sp_regex_scratch_free(sp_regex_scratch *s);

/* The leftmost match in s[0..n) that starts at or after pos (a character boundary); matches never
 * start inside a UTF-8 sequence. Returns 1 with [*ms, *me), 0 when there is none, -1 when out of
 * memory or the backtracking budget is spent (a pathological pattern/input pair). */
int sp_regex_find(const sp_regex *re, const char *s, size_t n, size_t pos, size_t *ms, size_t *me,
                  sp_regex_scratch *scratch);

#endif
