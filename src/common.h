/* common.h - status codes, error reporting and the arena allocator.
 *
 * Every fallible function takes an sp_error* and returns an sp_status (or NULL).
 * The library never exits or aborts on user input: it fills the error and returns.
 * Memory: one arena per model and one per training run; everything inside is freed
 * at once by sp_arena_free. No global mutable state anywhere in the library. */
#ifndef SP_COMMON_H
#define SP_COMMON_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    SP_OK = 0,
    SP_ERR_INVALID_ARG = 1,  /* bad options or arguments (N=0, negative lr, ...) */
    SP_ERR_NOMEM = 2,        /* an allocation failed */
    SP_ERR_FORMAT = 3,       /* not the expected format, malformed or truncated */
    SP_ERR_UNSUPPORTED = 4,  /* unsupported architecture, tensor type or feature */
    SP_ERR_SHAPE = 5,        /* tensor shapes inconsistent with the metadata */
    SP_ERR_TOKENIZER = 6,    /* tokenizer missing, malformed or not matching the model */
    SP_ERR_CONTEXT = 7,      /* sequence longer than the context */
    SP_ERR_DATA = 8,         /* training/eval data is malformed or empty */
    SP_ERR_NUMERIC = 9,      /* NaN or Inf met (weights, loss) */
    SP_ERR_TOO_LARGE = 10,   /* would not fit in memory; refused before allocating */
    SP_ERR_ABORTED = 11,     /* cancelled by the caller */
    SP_ERR_STATE = 12,       /* call not valid in the current state */
} sp_status;

#define SP_ERROR_MSG_MAX 256
#define SP_ERROR_FIELD_MAX 64
typedef struct {
    int32_t code;                 /* sp_status */
    char msg[SP_ERROR_MSG_MAX];   /* one line, names the problem */
    int32_t line;                 /* 1-based line of the input the problem is on (data), 0 = none */
    char field[SP_ERROR_FIELD_MAX]; /* the field it is in, e.g. "messages[2].role" ("" = none) */
} sp_error;

/* Fill err (if not NULL) with code and a printf-style message; returns code. */
sp_status sp_error_set(sp_error *err, sp_status code, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Prefix err's message (if err is not NULL) with a printf-style context and ": ", and set code;
 * returns code. For a caller that adds where a lower layer's error happened. */
sp_status sp_error_prefix(sp_error *err, sp_status code, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void sp_error_clear(sp_error *err);
/* Where the error is (after sp_error_set, which clears both): line (0 = none) and field (NULL = none). */
void sp_error_at(sp_error *err, int32_t line, const char *field);
const char *sp_status_name(sp_status code); /* "SP_ERR_FORMAT", ... */

/* ---- arena: a list of malloc'd chunks, freed together ---- */
typedef struct sp_arena_chunk sp_arena_chunk;
typedef struct {
    sp_arena_chunk *head;   /* most recent chunk */
    size_t total;           /* bytes reserved from malloc, for memory reports */
    size_t chunk_size;      /* default chunk size (0 = 1 MiB) */
} sp_arena;

void sp_arena_init(sp_arena *a, size_t chunk_size);
/* 16-byte aligned, zero-filled. Returns NULL when out of memory (never aborts). */
void *sp_arena_alloc(sp_arena *a, size_t size);
/* Copy of s[0..len) plus a terminating NUL. */
char *sp_arena_strndup(sp_arena *a, const char *s, size_t len);
void sp_arena_free(sp_arena *a);

/* A byte string that is not NUL-terminated (points into some buffer). */
typedef struct {
    const char *ptr;
    uint64_t len;
} sp_str;

/* Overflow-checked size arithmetic: return 0 on overflow, else set *out. */
int sp_mul_size(size_t a, size_t b, size_t *out);
int sp_add_size(size_t a, size_t b, size_t *out);

/* IEEE half and bfloat16 conversions (exact, handle inf/nan/subnormals). */
float sp_f16_to_f32(uint16_t h);
uint16_t sp_f32_to_f16(float f);
float sp_bf16_to_f32(uint16_t h);

/* Length of the valid UTF-8 sequence starting at s[0..avail), or 0 if it is invalid (overlong,
 * surrogate, above U+10FFFF or truncated). */
size_t sp_utf8_valid_len(const unsigned char *s, size_t avail);

/* A name for an option's value, in a table that ends with {NULL}. An alias (alias = 1) is accepted
 * but not listed in the error. */
typedef struct {
    const char *name;
    int32_t value;
    int32_t alias;
} sp_name;
/* *value = the value of name in names; otherwise SP_ERR_INVALID_ARG: `what must be "a", "b" or
 * "c", got "name"`. */
sp_status sp_name_parse(const sp_name *names, const char *what, const char *name, int32_t *value, sp_error *err);

/* Value of the hexadecimal digit c (0-9, a-f, A-F), or -1. */
int sp_hex_digit(int c);

/* Milliseconds from a monotonic clock (CLOCK_MONOTONIC, in wasm and natively). */
double sp_now_ms(void);

/* ---- a small seeded RNG (splitmix64 seeding + xorshift64*): same seed, same stream on every machine ---- */
typedef struct { uint64_t s; } sp_rng;
void sp_rng_seed(sp_rng *r, uint64_t seed);
uint32_t sp_rng_u32(sp_rng *r);
float sp_rng_f32(sp_rng *r);          /* uniform in [0, 1), 24 random bits */
float sp_rng_normal(sp_rng *r);       /* standard normal (Box-Muller, float math) */
uint32_t sp_rng_below(sp_rng *r, uint32_t n); /* uniform in [0, n), n > 0 */

#endif
