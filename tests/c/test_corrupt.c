/* test_corrupt.c - the GGUF reader on corrupted copies of the real GGUF files (stories260K F32
 * and TinyStories-656K Q8_0): truncation at every section boundary and many offsets, flipped
 * magic/version, huge counts/dims/string lengths, offsets past the end or misaligned, unknown
 * types, and random byte mutations. Every case must return an error (never crash), and a failed
 * parse must not have allocated anything (sp_arena.total == 0). */
#include "readers/gguf.h"
#include "tensor.h"
#include "check.h"
#include "files.h"

#include <stdlib.h>
#include <string.h>

/* ---- an independent map of where things are in a (valid) GGUF ---- */
#define MAXN 4096
typedef struct {
    uint64_t n_kv, n_tensors;
    size_t kv_start[MAXN], kv_type_pos[MAXN], kv_val_pos[MAXN];
    size_t ti_start[MAXN], ti_ndims_pos[MAXN], ti_dims_pos[MAXN], ti_type_pos[MAXN], ti_off_pos[MAXN];
    uint64_t ti_off[MAXN];
    size_t infos_end, data_off;
} gguf_map;

static uint32_t rd32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static uint64_t rd64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }
static void wr32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void wr64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

static size_t skip_value(const uint8_t *b, size_t p, uint32_t t) {
    static const size_t w[13] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    if (t == 8) return p + 8 + (size_t)rd64(b + p);
    if (t == 9) {
        uint32_t et = rd32(b + p);
        uint64_t n = rd64(b + p + 4);
        p += 12;
        for (uint64_t i = 0; i < n; i++) p = skip_value(b, p, et);
        return p;
    }
    return p + w[t];
}

static void map_gguf(const uint8_t *b, size_t size, gguf_map *m) {
    m->n_tensors = rd64(b + 8);
    m->n_kv = rd64(b + 16);
    size_t p = 24;
    for (uint64_t i = 0; i < m->n_kv && i < MAXN; i++) {
        m->kv_start[i] = p;
        p += 8 + (size_t)rd64(b + p);
        m->kv_type_pos[i] = p;
        uint32_t t = rd32(b + p);
        p += 4;
        m->kv_val_pos[i] = p;
        p = skip_value(b, p, t);
    }
    for (uint64_t i = 0; i < m->n_tensors && i < MAXN; i++) {
        m->ti_start[i] = p;
        p += 8 + (size_t)rd64(b + p);
        m->ti_ndims_pos[i] = p;
        uint32_t nd = rd32(b + p);
        p += 4;
        m->ti_dims_pos[i] = p;
        p += 8 * nd;
        m->ti_type_pos[i] = p;
        p += 4;
        m->ti_off_pos[i] = p;
        m->ti_off[i] = rd64(b + p);
        p += 8;
    }
    m->infos_end = p;
    m->data_off = (p + 31) / 32 * 32;
    (void)size;
}

/* ---- running one case ---- */
static int n_cases = 0;

/* Parse buf[0..size). Returns the status; checks that a failure allocated nothing and has a
 * "gguf: " message, and that a success stays within a size-proportional arena. */
static sp_status run(const uint8_t *buf, size_t size, const char *label) {
    /* exact-size copy so that ASan catches any read past the end */
    uint8_t *copy = (uint8_t *)malloc(size ? size : 1);
    if (size) memcpy(copy, buf, size);
    sp_arena a;
    sp_arena_init(&a, 0);
    sp_error e = {0};
    sp_gguf g;
    sp_status st = sp_gguf_parse(&g, copy, size, &a, &e);
    n_cases++;
    if (st != SP_OK) {
        if (!strstr(e.msg, "duplicate")) /* duplicates are found after the (bounded) tables exist */
            CHECK_MSG(a.total == 0, "%s: failed parse allocated %zu bytes (%s)", label, a.total, e.msg);
        CHECK_MSG(strncmp(e.msg, "gguf: ", 6) == 0, "%s: message '%s'", label, e.msg);
        CHECK_MSG(st == SP_ERR_FORMAT, "%s: status %d (%s)", label, st, e.msg);
    } else {
        CHECK_MSG(a.total <= 16 * size + (1u << 20) + 4096, "%s: %zu arena bytes for %zu input bytes", label, a.total, size);
        for (uint64_t i = 0; i < g.n_tensors; i++) {
            const sp_gguf_tensor *t = &g.tensors[i];
            if (t->data) CHECK_MSG(t->data >= copy && t->data + t->nbytes <= copy + size, "%s: tensor %llu outside", label, (unsigned long long)i);
        }
    }
    sp_arena_free(&a);
    free(copy);
    return st;
}

/* Mutated copy: overwrite n bytes at pos with val (little-endian u32 or u64). */
static sp_status run_patch(const uint8_t *buf, size_t size, size_t pos, uint64_t val, int width, const char *label) {
    uint8_t *c = (uint8_t *)malloc(size);
    memcpy(c, buf, size);
    if (width == 4) wr32(c + pos, (uint32_t)val);
    else wr64(c + pos, val);
    sp_status st = run(c, size, label);
    free(c);
    return st;
}

#define EXPECT_FAIL(expr, label) do { sp_status _s = (expr); CHECK_MSG(_s != SP_OK, "%s: accepted", label); } while (0)

static void corrupt_file(const char *rel) {
    size_t size = 0;
    uint8_t *buf = test_read_shared(rel, &size);
    if (!buf) return;
    gguf_map *m = (gguf_map *)calloc(1, sizeof(gguf_map));
    map_gguf(buf, size, m);
    CHECK_MSG(run(buf, size, rel) == SP_OK, "%s: the intact file must parse", rel);
    char label[160];

    /* 1. truncation: at every section boundary (and one byte either side), then at many offsets */
    size_t cuts[4 * MAXN + 8];
    size_t nc = 0;
    cuts[nc++] = 0; cuts[nc++] = 4; cuts[nc++] = 8; cuts[nc++] = 16; cuts[nc++] = 24;
    for (uint64_t i = 0; i < m->n_kv; i++) { cuts[nc++] = m->kv_start[i]; cuts[nc++] = m->kv_type_pos[i]; cuts[nc++] = m->kv_val_pos[i]; }
    for (uint64_t i = 0; i < m->n_tensors; i++) { cuts[nc++] = m->ti_start[i]; cuts[nc++] = m->ti_dims_pos[i]; cuts[nc++] = m->ti_off_pos[i]; cuts[nc++] = m->data_off + m->ti_off[i]; }
    cuts[nc++] = m->infos_end;
    cuts[nc++] = m->data_off;
    cuts[nc++] = size - 1;
    for (size_t i = 0; i < nc; i++)
        for (int d = -1; d <= 1; d++) {
            size_t n = cuts[i] + (size_t)d;
            if (cuts[i] == 0 && d < 0) continue;
            if (n >= size) continue;
            snprintf(label, sizeof(label), "%s truncated at %zu", rel, n);
            EXPECT_FAIL(run(buf, n, label), label);
        }
    for (size_t n = 0; n < m->data_off; n += 61) {
        snprintf(label, sizeof(label), "%s truncated at %zu", rel, n);
        EXPECT_FAIL(run(buf, n, label), label);
    }
    for (size_t n = m->data_off; n < size; n += 4099) {
        snprintf(label, sizeof(label), "%s truncated at %zu", rel, n);
        EXPECT_FAIL(run(buf, n, label), label);
    }

    /* 2. magic and version */
    for (int i = 0; i < 4; i++) {
        uint8_t *c = (uint8_t *)malloc(size);
        memcpy(c, buf, size);
        c[i] ^= 0x20;
        snprintf(label, sizeof(label), "%s magic byte %d", rel, i);
        EXPECT_FAIL(run(c, size, label), label);
        free(c);
    }
    const uint32_t versions[] = {0, 1, 4, 0x03000000u, 0xFFFFFFFFu};
    for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        snprintf(label, sizeof(label), "%s version %u", rel, versions[i]);
        EXPECT_FAIL(run_patch(buf, size, 4, versions[i], 4, label), label);
    }

    /* 3. counts */
    const uint64_t huge[] = {1ull << 60, UINT64_MAX, 1ull << 32, size};
    for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
        snprintf(label, sizeof(label), "%s n_tensors %llu", rel, (unsigned long long)huge[i]);
        EXPECT_FAIL(run_patch(buf, size, 8, huge[i], 8, label), label);
        snprintf(label, sizeof(label), "%s n_kv %llu", rel, (unsigned long long)huge[i]);
        EXPECT_FAIL(run_patch(buf, size, 16, huge[i], 8, label), label);
    }
    snprintf(label, sizeof(label), "%s n_tensors+1", rel);
    EXPECT_FAIL(run_patch(buf, size, 8, m->n_tensors + 1, 8, label), label);
    snprintf(label, sizeof(label), "%s n_kv+1", rel);
    EXPECT_FAIL(run_patch(buf, size, 16, m->n_kv + 1, 8, label), label);
    snprintf(label, sizeof(label), "%s n_kv-1", rel);
    run_patch(buf, size, 16, m->n_kv - 1, 8, label); /* may or may not fail; must not crash */

    /* 4. KV keys, types and arrays */
    for (uint64_t i = 0; i < m->n_kv; i += (m->n_kv > 8 ? m->n_kv / 8 : 1)) {
        snprintf(label, sizeof(label), "%s KV %llu key length 2^63", rel, (unsigned long long)i);
        EXPECT_FAIL(run_patch(buf, size, m->kv_start[i], 1ull << 63, 8, label), label);
        snprintf(label, sizeof(label), "%s KV %llu key length = file size", rel, (unsigned long long)i);
        EXPECT_FAIL(run_patch(buf, size, m->kv_start[i], size, 8, label), label);
        const uint32_t types[] = {13, 99, 0xFFFFFFFFu};
        for (int k = 0; k < 3; k++) {
            snprintf(label, sizeof(label), "%s KV %llu type %u", rel, (unsigned long long)i, types[k]);
            EXPECT_FAIL(run_patch(buf, size, m->kv_type_pos[i], types[k], 4, label), label);
        }
        uint32_t t = rd32(buf + m->kv_type_pos[i]);
        if (t == SP_GGUF_ARRAY || t == SP_GGUF_STRING) {
            size_t cpos = m->kv_val_pos[i] + (t == SP_GGUF_ARRAY ? 4 : 0);
            for (int k = 0; k < 3; k++) {
                uint64_t v = k == 0 ? 1ull << 60 : k == 1 ? UINT64_MAX : size;
                snprintf(label, sizeof(label), "%s KV %llu count/length %llu", rel, (unsigned long long)i, (unsigned long long)v);
                EXPECT_FAIL(run_patch(buf, size, cpos, v, 8, label), label);
            }
        }
        if (t == SP_GGUF_ARRAY) {
            snprintf(label, sizeof(label), "%s KV %llu array element type 13", rel, (unsigned long long)i);
            EXPECT_FAIL(run_patch(buf, size, m->kv_val_pos[i], 13, 4, label), label);
            if (rd32(buf + m->kv_val_pos[i]) == SP_GGUF_STRING && rd64(buf + m->kv_val_pos[i] + 4) > 5) {
                /* the 1st element string's length */
                snprintf(label, sizeof(label), "%s KV %llu string element length 2^40", rel, (unsigned long long)i);
                EXPECT_FAIL(run_patch(buf, size, m->kv_val_pos[i] + 12, 1ull << 40, 8, label), label);
            }
        }
    }

    /* 5. tensor infos: first, middle, last */
    uint64_t picks[3] = {0, m->n_tensors / 2, m->n_tensors - 1};
    for (int pi = 0; pi < 3; pi++) {
        uint64_t i = picks[pi];
        const char *what[] = {"n_dims 5", "n_dims 2^32-1", "name length 2^62"};
        size_t pos[] = {m->ti_ndims_pos[i], m->ti_ndims_pos[i], m->ti_start[i]};
        uint64_t val[] = {5, 0xFFFFFFFFu, 1ull << 62};
        int wid[] = {4, 4, 8};
        for (int k = 0; k < 3; k++) {
            snprintf(label, sizeof(label), "%s tensor %llu %s", rel, (unsigned long long)i, what[k]);
            EXPECT_FAIL(run_patch(buf, size, pos[k], val[k], wid[k], label), label);
        }
        const uint64_t dims[] = {1ull << 62, 1ull << 63, UINT64_MAX, 1ull << 40};
        for (int k = 0; k < 4; k++) {
            snprintf(label, sizeof(label), "%s tensor %llu dims[0] %llu", rel, (unsigned long long)i, (unsigned long long)dims[k]);
            EXPECT_FAIL(run_patch(buf, size, m->ti_dims_pos[i], dims[k], 8, label), label);
        }
        const uint64_t offs[] = {size, m->ti_off[i] + 1, m->ti_off[i] + 16, UINT64_MAX - 31, (uint64_t)(size - m->data_off) / 32 * 32};
        for (int k = 0; k < 5; k++) {
            snprintf(label, sizeof(label), "%s tensor %llu offset %llu", rel, (unsigned long long)i, (unsigned long long)offs[k]);
            EXPECT_FAIL(run_patch(buf, size, m->ti_off_pos[i], offs[k], 8, label), label);
        }
        /* a type we do not know: kept (nbytes 0, data NULL) for the loader to refuse; no crash */
        snprintf(label, sizeof(label), "%s tensor %llu type 99", rel, (unsigned long long)i);
        sp_status st = run_patch(buf, size, m->ti_type_pos[i], 99, 4, label);
        CHECK_MSG(st == SP_OK, "%s: unknown tensor type should parse (the loader refuses it)", label);
        /* Q4_0 on a row that is not a multiple of 32 or bigger than the data: must fail or stay inside */
        snprintf(label, sizeof(label), "%s tensor %llu type Q4_0", rel, (unsigned long long)i);
        run_patch(buf, size, m->ti_type_pos[i], SP_DTYPE_Q4_0, 4, label);
        snprintf(label, sizeof(label), "%s tensor %llu type F32", rel, (unsigned long long)i);
        run_patch(buf, size, m->ti_type_pos[i], SP_DTYPE_F32, 4, label);
    }

    /* 6. random mutations of 1..4 bytes in the metadata (deterministic) */
    uint64_t s = 0x9E3779B97F4A7C15ull;
    uint8_t *c = (uint8_t *)malloc(size);
    for (int it = 0; it < 600; it++) {
        memcpy(c, buf, size);
        int k = 1 + (int)(s % 4);
        for (int j = 0; j < k; j++) {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            size_t p = (size_t)(s % m->infos_end);
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            c[p] = (uint8_t)(it & 1 ? s : c[p] ^ (1u << (s % 8)));
        }
        snprintf(label, sizeof(label), "%s random mutation %d", rel, it);
        run(c, size, label);
    }
    free(c);
    free(m);
    free(buf);
}

int main(void) {
    corrupt_file("models/stories260K/stories260K.gguf");
    corrupt_file("models/TinyStories-656K/TinyStories-656K-Q8_0.gguf");
    printf("%d corrupted cases\n", n_cases);
    CHECK_DONE();
}
