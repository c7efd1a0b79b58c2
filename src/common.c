/* common.c - errors, arena, size arithmetic, half-float conversions, UTF-8 check, clock, RNG. */
#define _POSIX_C_SOURCE 199309L /* clock_gettime */
#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <math.h>
#include <time.h>

sp_status sp_error_set(sp_error *err, sp_status code, const char *fmt, ...) {
    if (err) {
        err->code = (int32_t)code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        err->line = 0;
        err->field[0] = '\0';
    }
    return code;
}

sp_status sp_error_prefix(sp_error *err, sp_status code, const char *fmt, ...) {
    if (err) {
        char msg[SP_ERROR_MSG_MAX];
        memcpy(msg, err->msg, sizeof(msg));
        msg[sizeof(msg) - 1] = '\0';
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        size_t at = n < 0 ? 0 : (size_t)n < sizeof(err->msg) ? (size_t)n : sizeof(err->msg) - 1;
        /* then ": " and the old message, as much as fits */
        const char *parts[2] = {": ", msg};
        for (int i = 0; i < 2; i++)
            for (const char *c = parts[i]; *c && at + 1 < sizeof(err->msg); c++) err->msg[at++] = *c;
        err->msg[at] = '\0';
        err->code = (int32_t)code;
    }
    return code;
}

void sp_error_clear(sp_error *err) {
    if (err) {
        err->code = SP_OK;
        err->msg[0] = '\0';
        err->line = 0;
        err->field[0] = '\0';
    }
}

void sp_error_at(sp_error *err, int32_t line, const char *field) {
    if (!err) return;
    err->line = line;
    snprintf(err->field, sizeof(err->field), "%s", field ? field : "");
}

const char *sp_status_name(sp_status code) {
    switch (code) {
    case SP_OK: return "SP_OK";
    case SP_ERR_INVALID_ARG: return "SP_ERR_INVALID_ARG";
    case SP_ERR_NOMEM: return "SP_ERR_NOMEM";
    case SP_ERR_FORMAT: return "SP_ERR_FORMAT";
    case SP_ERR_UNSUPPORTED: return "SP_ERR_UNSUPPORTED";
    case SP_ERR_SHAPE: return "SP_ERR_SHAPE";
    case SP_ERR_TOKENIZER: return "SP_ERR_TOKENIZER";
    case SP_ERR_CONTEXT: return "SP_ERR_CONTEXT";
    case SP_ERR_DATA: return "SP_ERR_DATA";
    case SP_ERR_NUMERIC: return "SP_ERR_NUMERIC";
    case SP_ERR_TOO_LARGE: return "SP_ERR_TOO_LARGE";
    case SP_ERR_ABORTED: return "SP_ERR_ABORTED";
    case SP_ERR_STATE: return "SP_ERR_STATE";
    }
    return "SP_ERR_UNKNOWN";
}

/* ---- arena ---- */
struct sp_arena_chunk {
    sp_arena_chunk *prev;
    size_t size, used;
    /* data follows, 16-byte aligned */
};
#define SP_CHUNK_HDR ((sizeof(sp_arena_chunk) + 15) & ~(size_t)15)

void sp_arena_init(sp_arena *a, size_t chunk_size) {
    a->head = NULL;
    a->total = 0;
    a->chunk_size = chunk_size ? chunk_size : ((size_t)1 << 20);
}

void *sp_arena_alloc(sp_arena *a, size_t size) {
    size_t need = (size + 15) & ~(size_t)15;
    if (need < size) return NULL; /* overflow */
    if (!a->head || a->head->size - a->head->used < need) {
        size_t cs = a->chunk_size ? a->chunk_size : ((size_t)1 << 20);
        if (need > cs) cs = need;
        if (cs > SIZE_MAX - SP_CHUNK_HDR) return NULL;
        sp_arena_chunk *c = (sp_arena_chunk *)malloc(SP_CHUNK_HDR + cs);
        if (!c) return NULL;
        c->prev = a->head;
        c->size = cs;
        c->used = 0;
        a->head = c;
        a->total += SP_CHUNK_HDR + cs;
    }
    uint8_t *p = (uint8_t *)a->head + SP_CHUNK_HDR + a->head->used;
    a->head->used += need;
    memset(p, 0, size);
    return p;
}

char *sp_arena_strndup(sp_arena *a, const char *s, size_t len) {
    if (len == SIZE_MAX) return NULL;
    char *p = (char *)sp_arena_alloc(a, len + 1);
    if (!p) return NULL;
    if (len) memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void sp_arena_free(sp_arena *a) {
    sp_arena_chunk *c = a->head;
    while (c) {
        sp_arena_chunk *prev = c->prev;
        free(c);
        c = prev;
    }
    a->head = NULL;
    a->total = 0;
}

int sp_mul_size(size_t a, size_t b, size_t *out) {
    if (a && b > SIZE_MAX / a) return 0;
    *out = a * b;
    return 1;
}

int sp_add_size(size_t a, size_t b, size_t *out) {
    if (b > SIZE_MAX - a) return 0;
    *out = a + b;
    return 1;
}

/* ---- half floats ---- */
static float f32_from_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

float sp_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t man = h & 0x3ff;
    if (exp == 0) {
        if (man == 0) return f32_from_bits(sign);
        /* subnormal: value = man * 2^-24 */
        float v = (float)man * (1.0f / 16777216.0f);
        return sign ? -v : v;
    }
    if (exp == 31) return f32_from_bits(sign | 0x7f800000u | (man << 13));
    return f32_from_bits(sign | ((exp + 112) << 23) | (man << 13));
}

uint16_t sp_f32_to_f16(float f) {
    uint32_t u = f32_bits(f);
    uint32_t sign = (u >> 16) & 0x8000;
    uint32_t exp = (u >> 23) & 0xff;
    uint32_t man = u & 0x7fffff;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0)); /* inf / nan */
    int32_t e = (int32_t)exp - 127 + 15;
    if (e >= 31) return (uint16_t)(sign | 0x7c00); /* overflow -> inf */
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign; /* underflow -> 0 */
        man |= 0x800000;
        uint32_t shift = (uint32_t)(14 - e);
        uint32_t half = man >> shift;
        uint32_t rem = man & ((1u << shift) - 1);
        uint32_t mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)e << 10) | (man >> 13);
    uint32_t rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++; /* round to nearest even; carries into exp correctly */
    return (uint16_t)half;
}

float sp_bf16_to_f32(uint16_t h) { return f32_from_bits((uint32_t)h << 16); }

/* ---- rng ---- */
void sp_rng_seed(sp_rng *r, uint64_t seed) {
    uint64_t z = seed + 0x9e3779b97f4a7c15ull; /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    r->s = z ? z : 0x2545f4914f6cdd1dull;
}

uint32_t sp_rng_u32(sp_rng *r) {
    uint64_t x = r->s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->s = x;
    return (uint32_t)((x * 0x2545f4914f6cdd1dull) >> 32);
}

float sp_rng_f32(sp_rng *r) { return (float)(sp_rng_u32(r) >> 8) * (1.0f / 16777216.0f); }

float sp_rng_normal(sp_rng *r) {
    float u1 = sp_rng_f32(r), u2 = sp_rng_f32(r);
    if (u1 < 1e-7f) u1 = 1e-7f;
    return sqrtf(-2.0f * logf(u1)) * cosf(6.2831853f * u2);
}

uint32_t sp_rng_below(sp_rng *r, uint32_t n) { return (uint32_t)(((uint64_t)sp_rng_u32(r) * n) >> 32); }

/* Length of a valid UTF-8 sequence starting at s[0..avail), or 0 if invalid. */
sp_status sp_name_parse(const sp_name *names, const char *what, const char *name, int32_t *value, sp_error *err) {
    int n_listed = 0;
    for (const sp_name *e = names; e->name; e++) {
        if (name && !strcmp(name, e->name)) {
            *value = e->value;
            return SP_OK;
        }
        n_listed += !e->alias;
    }
    char list[SP_ERROR_MSG_MAX];
    size_t at = 0;
    int k = 0;
    list[0] = '\0';
    for (const sp_name *e = names; e->name && at < sizeof(list); e++) {
        if (e->alias) continue;
        k++;
        const char *sep = k == 1 ? "" : k == n_listed ? " or " : ", ";
        int w = snprintf(list + at, sizeof(list) - at, "%s\"%s\"", sep, e->name);
        if (w < 0) break;
        at += (size_t)w;
    }
    return sp_error_set(err, SP_ERR_INVALID_ARG, "%s must be %s, got \"%s\"", what, list, name ? name : "(null)");
}

int sp_hex_digit(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

size_t sp_utf8_valid_len(const unsigned char *s, size_t avail) {
    unsigned char c = s[0];
    if (c < 0x80) return 1;
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
    else return 0;
    if (avail < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) return 0;
    if (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) return 0;
    return len;
}

double sp_now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}
