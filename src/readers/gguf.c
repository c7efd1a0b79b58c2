/* gguf.c - GGUF v2/v3 reader (ggml docs/gguf.md), parsing in place.
 *
 * File layout (little-endian):
 *   "GGUF" u32 version, u64 n_tensors, u64 n_kv
 *   n_kv x   { string key, u32 type, value }
 *   n_tensors x { string name, u32 n_dims, u64 dims[n_dims], u32 type, u64 offset }
 *   padding to general.alignment, then the data section (tensor offsets are relative to it)
 *   string = u64 len + bytes; array value = u32 elem type, u64 count, elements.
 *
 * The file is walked twice by the same code: pass 1 only validates (every count against
 * the bytes left, every string length, dims, overflow, offsets, alignment) and allocates
 * nothing; pass 2 allocates the tables (their sizes are now known to be backed by real
 * bytes of the file) and fills them, then rejects duplicate keys and tensor names.
 * Arrays of arrays are accepted: they are validated recursively (depth <= 8) and exposed
 * as arr_type = SP_GGUF_ARRAY with arr_data pointing at the raw nested payload. */
#include "gguf.h"
#include "../tensor.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define GGUF_MAX_ARRAY_DEPTH 8
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MIN_KV_BYTES 13      /* u64 key len + u32 type + 1-byte value */
#define GGUF_MIN_TENSOR_BYTES 24  /* u64 name len + u32 n_dims + u32 type + u64 offset */

typedef struct {
    const uint8_t *buf;  /* the file's first `size` bytes (all of it unless header_only) */
    size_t size;
    uint64_t file_size;  /* bytes of the whole file */
    int header_only;     /* buf holds a prefix: walk the header, leave tensor data pointers NULL */
    int short_read;      /* the walk ran past buf, inside the file: more bytes are needed */
    size_t pos;
    sp_gguf *g;          /* pass 2 fills g->kv / g->tensors; NULL-tables in pass 1 */
    int fill;            /* 0 = validate only, 1 = fill */
    sp_arena *a;
    sp_error *err;
    int data_known;      /* data_off/data_size below are valid: check tensor offsets */
    size_t data_off;     /* start of the data section */
    uint64_t data_size;  /* bytes from data_off to the end of the file */
    char where[120];     /* "in KV 3 (key 'x')" for error messages */
} gguf_walk;

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24); }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | ((uint64_t)rd32(p + 4) << 32); }

static size_t remaining(const gguf_walk *w) { return w->size - w->pos; }

static sp_status truncated(gguf_walk *w) {
    if (w->size < w->file_size) w->short_read = 1;
    return sp_error_set(w->err, SP_ERR_FORMAT, "gguf: truncated %s (file is %llu bytes)", w->where, (unsigned long long)w->file_size);
}

static int get_u32(gguf_walk *w, uint32_t *v) {
    if (remaining(w) < 4) return 0;
    *v = rd32(w->buf + w->pos);
    w->pos += 4;
    return 1;
}

static int get_u64(gguf_walk *w, uint64_t *v) {
    if (remaining(w) < 8) return 0;
    *v = rd64(w->buf + w->pos);
    w->pos += 8;
    return 1;
}

/* string = u64 length + bytes; the length is checked against the bytes left */
static int get_str(gguf_walk *w, sp_str *s) {
    uint64_t len;
    if (!get_u64(w, &len)) return 0;
    if (len > remaining(w)) return 0;
    s->ptr = (const char *)(w->buf + w->pos);
    s->len = len;
    w->pos += (size_t)len;
    return 1;
}

/* A printable, bounded copy of a name for error messages. */
static void show_name(char *out, size_t cap, sp_str s) {
    size_t n = s.len < cap - 4 ? (size_t)s.len : cap - 4, o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        out[o++] = (c >= 0x20 && c < 0x7f && c != '\'') ? (char)c : '?';
    }
    if (n < s.len) { out[o++] = '.'; out[o++] = '.'; out[o++] = '.'; }
    out[o] = '\0';
}

static size_t scalar_width(uint32_t t) {
    switch (t) {
    case SP_GGUF_UINT8: case SP_GGUF_INT8: case SP_GGUF_BOOL: return 1;
    case SP_GGUF_UINT16: case SP_GGUF_INT16: return 2;
    case SP_GGUF_UINT32: case SP_GGUF_INT32: case SP_GGUF_FLOAT32: return 4;
    case SP_GGUF_UINT64: case SP_GGUF_INT64: case SP_GGUF_FLOAT64: return 8;
    }
    return 0;
}

/* float -> integer without undefined behaviour on NaN / out of range (gives 0) */
static int64_t f64_to_i64(double v) { return (isfinite(v) && v >= -9.2e18 && v <= 9.2e18) ? (int64_t)v : 0; }
static uint64_t f64_to_u64(double v) { return (isfinite(v) && v >= 0 && v <= 1.8e19) ? (uint64_t)v : 0; }

/* Widen a scalar of type t at p into kv->u64 / i64 / f64. */
static void widen(sp_gguf_kv *kv, uint32_t t, const uint8_t *p) {
    uint64_t u = 0;
    int64_t i = 0;
    double f = 0;
    switch (t) {
    case SP_GGUF_UINT8: u = p[0]; i = (int64_t)u; f = (double)u; break;
    case SP_GGUF_BOOL: u = p[0] != 0; i = (int64_t)u; f = (double)u; break;
    case SP_GGUF_INT8: i = (int8_t)p[0]; u = (uint64_t)i; f = (double)i; break;
    case SP_GGUF_UINT16: u = rd16(p); i = (int64_t)u; f = (double)u; break;
    case SP_GGUF_INT16: i = (int16_t)rd16(p); u = (uint64_t)i; f = (double)i; break;
    case SP_GGUF_UINT32: u = rd32(p); i = (int64_t)u; f = (double)u; break;
    case SP_GGUF_INT32: i = (int32_t)rd32(p); u = (uint64_t)i; f = (double)i; break;
    case SP_GGUF_UINT64: u = rd64(p); memcpy(&i, &u, 8); f = (double)u; break;
    case SP_GGUF_INT64: u = rd64(p); memcpy(&i, &u, 8); f = (double)i; break;
    case SP_GGUF_FLOAT32: { uint32_t b = rd32(p); float x; memcpy(&x, &b, 4); f = x; i = f64_to_i64(f); u = f64_to_u64(f); break; }
    case SP_GGUF_FLOAT64: { uint64_t b = rd64(p); memcpy(&f, &b, 8); i = f64_to_i64(f); u = f64_to_u64(f); break; }
    }
    kv->u64 = u;
    kv->i64 = i;
    kv->f64 = f;
}

/* Walk an array body (after the u32 elem type and u64 count were read). In pass 2,
 * when strs is not NULL, string elements are recorded into strs[count]. */
static sp_status walk_array(gguf_walk *w, uint32_t et, uint64_t n, sp_str *strs, int depth) {
    size_t width = scalar_width(et);
    if (width) {
        if (n > remaining(w) / width) return truncated(w);
        w->pos += (size_t)n * width;
        return SP_OK;
    }
    if (et == SP_GGUF_STRING) {
        if (n > remaining(w) / 8) return truncated(w);
        for (uint64_t i = 0; i < n; i++) {
            sp_str s;
            if (!get_str(w, &s)) return truncated(w);
            if (strs) strs[i] = s;
        }
        return SP_OK;
    }
    if (et == SP_GGUF_ARRAY) {
        if (depth >= GGUF_MAX_ARRAY_DEPTH)
            return sp_error_set(w->err, SP_ERR_FORMAT, "gguf: arrays nested deeper than %d %s", GGUF_MAX_ARRAY_DEPTH, w->where);
        if (n > remaining(w) / 12) return truncated(w);
        for (uint64_t i = 0; i < n; i++) {
            uint32_t et2;
            uint64_t n2;
            if (!get_u32(w, &et2) || !get_u64(w, &n2)) return truncated(w);
            sp_status st = walk_array(w, et2, n2, NULL, depth + 1);
            if (st) return st;
        }
        return SP_OK;
    }
    return sp_error_set(w->err, SP_ERR_FORMAT, "gguf: unknown array element type %u %s", et, w->where);
}

/* Reads the name that opens entry idx of a section (a KV's key, a tensor info's name); from then
 * on errors say which entry and name they are in. shown: the name as error text. */
static int get_entry_name(gguf_walk *w, const char *section, const char *field, uint64_t idx, sp_str *s, char *shown, size_t cap) {
    snprintf(w->where, sizeof(w->where), "in %s %llu", section, (unsigned long long)idx);
    if (!get_str(w, s)) return 0;
    show_name(shown, cap, *s);
    snprintf(w->where, sizeof(w->where), "in %s %llu (%s '%s')", section, (unsigned long long)idx, field, shown);
    return 1;
}

static sp_status walk_kv(gguf_walk *w, uint64_t idx) {
    sp_gguf_kv tmp;
    sp_gguf_kv *kv = w->fill ? &w->g->kv[idx] : &tmp;
    memset(kv, 0, sizeof(*kv));
    char name[72];
    if (!get_entry_name(w, "KV", "key", idx, &kv->key, name, sizeof(name))) return truncated(w);
    if (!get_u32(w, &kv->type)) return truncated(w);
    size_t width = scalar_width(kv->type);
    if (width) {
        if (remaining(w) < width) return truncated(w);
        widen(kv, kv->type, w->buf + w->pos);
        w->pos += width;
    } else if (kv->type == SP_GGUF_STRING) {
        if (!get_str(w, &kv->str)) return truncated(w);
    } else if (kv->type == SP_GGUF_ARRAY) {
        if (!get_u32(w, &kv->arr_type) || !get_u64(w, &kv->arr_n)) return truncated(w);
        kv->arr_data = w->buf + w->pos;
        sp_str *strs = NULL;
        if (w->fill && kv->arr_type == SP_GGUF_STRING && kv->arr_n) {
            /* arr_n strings of >= 8 bytes each were seen in pass 1, so this is bounded by the file size */
            size_t bytes;
            if (!sp_mul_size((size_t)kv->arr_n, sizeof(sp_str), &bytes) || !(strs = sp_arena_alloc(w->a, bytes)))
                return sp_error_set(w->err, SP_ERR_NOMEM, "gguf: out of memory for string array %s", w->where);
            kv->arr_strs = strs;
        }
        sp_status st = walk_array(w, kv->arr_type, kv->arr_n, strs, 0);
        if (st) return st;
        if (kv->arr_type == SP_GGUF_STRING) kv->arr_data = NULL;
    } else {
        return sp_error_set(w->err, SP_ERR_FORMAT, "gguf: unknown value type %u %s", kv->type, w->where);
    }
    if (kv->key.len == 17 && memcmp(kv->key.ptr, "general.alignment", 17) == 0) {
        if (kv->type != SP_GGUF_UINT32)
            return sp_error_set(w->err, SP_ERR_FORMAT, "gguf: general.alignment must be a uint32 (type %u)", kv->type);
        uint64_t al = kv->u64;
        if (al == 0 || (al & (al - 1)))
            return sp_error_set(w->err, SP_ERR_FORMAT, "gguf: general.alignment %llu is not a power of two", (unsigned long long)al);
        w->g->alignment = (uint32_t)al;
    }
    return SP_OK;
}

static sp_status walk_tensor_info(gguf_walk *w, uint64_t idx) {
    sp_gguf_tensor tmp;
    sp_gguf_tensor *t = w->fill ? &w->g->tensors[idx] : &tmp;
    memset(t, 0, sizeof(*t));
    char name[72];
    if (!get_entry_name(w, "tensor info", "name", idx, &t->name, name, sizeof(name))) return truncated(w);
    if (t->name.len == 0)
        return sp_error_set(w->err, SP_ERR_FORMAT, "gguf: tensor info %llu has an empty name", (unsigned long long)idx);
    if (!get_u32(w, &t->n_dims)) return truncated(w);
    if (t->n_dims > 4)
        return sp_error_set(w->err, SP_ERR_FORMAT, "gguf: tensor '%s' has %u dims (max 4)", name, t->n_dims);
    uint64_t ne = 1;
    for (uint32_t d = 0; d < 4; d++) t->dims[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        if (!get_u64(w, &t->dims[d])) return truncated(w);
        if (t->dims[d] > (uint64_t)INT64_MAX)
            return sp_error_set(w->err, SP_ERR_FORMAT, "gguf: tensor '%s' has a negative dim %u", name, d);
        if (t->dims[d] && ne > (uint64_t)INT64_MAX / t->dims[d])
            return sp_error_set(w->err, SP_ERR_FORMAT, "gguf: tensor '%s' element count overflows", name);
        ne *= t->dims[d];
    }
    if (!get_u32(w, &t->type) || !get_u64(w, &t->offset)) return truncated(w);
    if (sp_dtype_supported(t->type)) {
        uint64_t row = t->dims[0];
        size_t rb = row ? sp_dtype_row_bytes(t->type, (int64_t)row) : 0;
        if (row && rb == 0) {
            const int32_t block = sp_dtype_get(t->type)->block;
            if (row % (uint64_t)block)
                return sp_error_set(w->err, SP_ERR_FORMAT, "gguf: tensor '%s' of type %s has rows of %llu values, not a multiple of %d",
                                    name, sp_dtype_name(t->type), (unsigned long long)row, block);
            return sp_error_set(w->err, SP_ERR_FORMAT, "gguf: tensor '%s' size overflows", name);
        }
        if (ne == 0) {
            t->nbytes = 0;
        } else {
            uint64_t nrows = ne / row;
            if (nrows > UINT64_MAX / rb) return sp_error_set(w->err, SP_ERR_FORMAT, "gguf: tensor '%s' size overflows", name);
            t->nbytes = nrows * (uint64_t)rb;
        }
    } else {
        t->nbytes = 0; /* unknown type: kept as-is for the loader to refuse */
    }
    if (w->data_known) {
        size_t al = w->g->alignment;
        if (t->offset % al)
            return sp_error_set(w->err, SP_ERR_FORMAT, "gguf: tensor '%s' offset %llu is not a multiple of the alignment %zu",
                                name, (unsigned long long)t->offset, al);
        if (t->offset > w->data_size || t->nbytes > w->data_size - t->offset)
            return sp_error_set(w->err, SP_ERR_FORMAT, "gguf: tensor '%s' data [%llu, +%llu) is past the end of the file (data section is %llu bytes)",
                                name, (unsigned long long)t->offset, (unsigned long long)t->nbytes, (unsigned long long)w->data_size);
        t->data = sp_dtype_supported(t->type) && !w->header_only ? w->buf + w->data_off + t->offset : NULL;
    }
    return SP_OK;
}

/* One pass over the whole file. The first pass (data_known = 0) finds where the data
 * section starts; later passes also check every tensor's offset and size against it. */
static sp_status gguf_walk_all(gguf_walk *w) {
    sp_gguf *g = w->g;
    w->pos = 24;
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        sp_status st = walk_kv(w, i);
        if (st) return st;
    }
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        sp_status st = walk_tensor_info(w, i);
        if (st) return st;
    }
    /* data section: padded to the alignment (a file without tensor data may end early) */
    size_t al = g->alignment;
    size_t data_off = w->pos;
    if (data_off % al) {
        size_t pad = al - data_off % al;
        data_off = pad > w->file_size - data_off ? (size_t)w->file_size : data_off + pad;
    }
    w->data_off = data_off;
    w->data_size = w->file_size - data_off;
    g->data = w->header_only ? NULL : w->buf + data_off;
    g->header_bytes = data_off;
    return SP_OK;
}

/* FNV-1a over a byte string */
static uint32_t hash_str(sp_str s) {
    uint32_t h = 2166136261u;
    for (uint64_t i = 0; i < s.len; i++) h = (h ^ (uint8_t)s.ptr[i]) * 16777619u;
    return h;
}

/* Returns the index of a duplicate (>= 0) or -1; -2 when out of memory. names[i] at
 * (const sp_str *)((const char *)base + i * stride). */
static int64_t find_duplicate(sp_arena *a, const void *base, size_t stride, uint64_t n) {
    if (n < 2) return -1;
    size_t cap = 1;
    while (cap < n * 2) cap <<= 1;
    size_t bytes;
    if (!sp_mul_size(cap, sizeof(uint64_t), &bytes)) return -2;
    uint64_t *tab = (uint64_t *)sp_arena_alloc(a, bytes); /* 0 = empty, else index + 1 */
    if (!tab) return -2;
    for (uint64_t i = 0; i < n; i++) {
        const sp_str *s = (const sp_str *)((const char *)base + i * stride);
        size_t h = hash_str(*s) & (cap - 1);
        while (tab[h]) {
            const sp_str *o = (const sp_str *)((const char *)base + (tab[h] - 1) * stride);
            if (o->len == s->len && memcmp(o->ptr, s->ptr, (size_t)s->len) == 0) return (int64_t)i;
            h = (h + 1) & (cap - 1);
        }
        tab[h] = i + 1;
    }
    return -1;
}

/* The whole file (header_only 0: size == file_size), or its first `size` bytes. */
static sp_status gguf_parse(sp_gguf *g, const uint8_t *buf, size_t size, uint64_t file_size, int header_only, int *short_read,
                            sp_arena *a, sp_error *err) {
    if (!g || !a || (!buf && size)) return sp_error_set(err, SP_ERR_INVALID_ARG, "gguf: NULL argument");
    memset(g, 0, sizeof(*g));
    if (size >= 4 && memcmp(buf, "GGUF", 4) != 0) return sp_error_set(err, SP_ERR_FORMAT, "gguf: bad magic (not a GGUF file)");
    if (header_only && size < 24 && size < file_size) {
        *short_read = 1;
        return sp_error_set(err, SP_ERR_FORMAT, "gguf: truncated header (%zu bytes read)", size);
    }
    if (size < 4) return sp_error_set(err, SP_ERR_FORMAT, "gguf: bad magic (not a GGUF file)");
    if (size < 8) return sp_error_set(err, SP_ERR_FORMAT, "gguf: truncated header (file is %zu bytes)", size);
    uint32_t version = rd32(buf + 4);
    if (version != 2 && version != 3) {
        if (version == 1) return sp_error_set(err, SP_ERR_FORMAT, "gguf: unsupported version 1 (obsolete GGUF v1; re-convert the model)");
        if ((version & 0xFFFF) == 0 && version != 0)
            return sp_error_set(err, SP_ERR_FORMAT, "gguf: unsupported version %u (a big-endian GGUF file?)", version);
        return sp_error_set(err, SP_ERR_FORMAT, "gguf: unsupported version %u", version);
    }
    if (size < 24) return sp_error_set(err, SP_ERR_FORMAT, "gguf: truncated header (file is %zu bytes)", size);
    if (file_size < size) return sp_error_set(err, SP_ERR_INVALID_ARG, "gguf: %zu bytes read of a %llu-byte file", size, (unsigned long long)file_size);
    g->version = version;
    g->n_tensors = rd64(buf + 8);
    g->n_kv = rd64(buf + 16);
    const uint64_t rest = file_size - 24;
    if (g->n_kv > rest / GGUF_MIN_KV_BYTES)
        return sp_error_set(err, SP_ERR_FORMAT, "gguf: KV count %llu is too large for a %llu-byte file", (unsigned long long)g->n_kv,
                            (unsigned long long)file_size);
    if (g->n_tensors > rest / GGUF_MIN_TENSOR_BYTES)
        return sp_error_set(err, SP_ERR_FORMAT, "gguf: tensor count %llu is too large for a %llu-byte file", (unsigned long long)g->n_tensors,
                            (unsigned long long)file_size);
    if (g->n_kv * GGUF_MIN_KV_BYTES + g->n_tensors * GGUF_MIN_TENSOR_BYTES > rest)
        return sp_error_set(err, SP_ERR_FORMAT, "gguf: KV count %llu and tensor count %llu are too large for a %llu-byte file",
                            (unsigned long long)g->n_kv, (unsigned long long)g->n_tensors, (unsigned long long)file_size);

    /* pass 1: validate everything, allocate nothing */
    gguf_walk w = {0};
    w.buf = buf;
    w.size = size;
    w.file_size = file_size;
    w.header_only = header_only;
    w.g = g;
    w.a = a;
    w.err = err;
    sp_status st = gguf_walk_all(&w);      /* structure, counts, strings, dims, types */
    if (st) {
        if (short_read) *short_read = w.short_read;
        return st;
    }
    w.data_known = 1;
    st = gguf_walk_all(&w);                /* tensor offsets and sizes vs the data section */
    if (st) return st;

    /* pass 2: allocate the tables (bounded by the file size) and fill them */
    size_t kv_bytes, t_bytes;
    if (!sp_mul_size((size_t)g->n_kv, sizeof(sp_gguf_kv), &kv_bytes) || !sp_mul_size((size_t)g->n_tensors, sizeof(sp_gguf_tensor), &t_bytes))
        return sp_error_set(err, SP_ERR_TOO_LARGE, "gguf: too many entries");
    if (g->n_kv && !(g->kv = (sp_gguf_kv *)sp_arena_alloc(a, kv_bytes)))
        return sp_error_set(err, SP_ERR_NOMEM, "gguf: out of memory for %llu KV entries", (unsigned long long)g->n_kv);
    if (g->n_tensors && !(g->tensors = (sp_gguf_tensor *)sp_arena_alloc(a, t_bytes)))
        return sp_error_set(err, SP_ERR_NOMEM, "gguf: out of memory for %llu tensor infos", (unsigned long long)g->n_tensors);
    w.fill = 1;
    st = gguf_walk_all(&w);
    if (st) return st;

    char name[72];
    int64_t dup = find_duplicate(a, g->kv, sizeof(sp_gguf_kv), g->n_kv);
    if (dup == -2) return sp_error_set(err, SP_ERR_NOMEM, "gguf: out of memory");
    if (dup >= 0) {
        show_name(name, sizeof(name), g->kv[dup].key);
        return sp_error_set(err, SP_ERR_FORMAT, "gguf: duplicate key '%s'", name);
    }
    dup = find_duplicate(a, g->tensors, sizeof(sp_gguf_tensor), g->n_tensors);
    if (dup == -2) return sp_error_set(err, SP_ERR_NOMEM, "gguf: out of memory");
    if (dup >= 0) {
        show_name(name, sizeof(name), g->tensors[dup].name);
        return sp_error_set(err, SP_ERR_FORMAT, "gguf: duplicate tensor name '%s'", name);
    }
    return SP_OK;
}

sp_status sp_gguf_parse(sp_gguf *g, const uint8_t *buf, size_t size, sp_arena *a, sp_error *err) {
    return gguf_parse(g, buf, size, size, 0, NULL, a, err);
}

sp_status sp_gguf_parse_header(sp_gguf *g, const uint8_t *buf, size_t size, uint64_t file_size, int *short_read, sp_arena *a, sp_error *err) {
    *short_read = 0;
    return gguf_parse(g, buf, size, file_size, 1, short_read, a, err);
}

static int str_eq(sp_str s, const char *z) {
    size_t n = strlen(z);
    return s.len == n && memcmp(s.ptr, z, n) == 0;
}

const sp_gguf_kv *sp_gguf_find(const sp_gguf *g, const char *key) {
    if (!g || !key) return NULL;
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (str_eq(g->kv[i].key, key)) return &g->kv[i];
    return NULL;
}

const sp_gguf_tensor *sp_gguf_find_tensor(const sp_gguf *g, const char *name) {
    if (!g || !name) return NULL;
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (str_eq(g->tensors[i].name, name)) return &g->tensors[i];
    return NULL;
}

int64_t sp_gguf_get_int(const sp_gguf *g, const char *key, int64_t def) {
    const sp_gguf_kv *kv = sp_gguf_find(g, key);
    return kv && scalar_width(kv->type) ? kv->i64 : def;
}

double sp_gguf_get_float(const sp_gguf *g, const char *key, double def) {
    const sp_gguf_kv *kv = sp_gguf_find(g, key);
    return kv && scalar_width(kv->type) ? kv->f64 : def;
}

int sp_gguf_get_str(const sp_gguf *g, const char *key, sp_str *out) {
    const sp_gguf_kv *kv = sp_gguf_find(g, key);
    if (!kv || kv->type != SP_GGUF_STRING) return 0;
    if (out) *out = kv->str;
    return 1;
}

/* ---- writer ---- */
static void w_u32(sp_buf *b, uint32_t v) {
    const uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
    sp_buf_append(b, x, 4);
}
static void w_u64(sp_buf *b, uint64_t v) {
    w_u32(b, (uint32_t)v);
    w_u32(b, (uint32_t)(v >> 32));
}
static void w_string(sp_buf *b, const char *s, size_t len) {
    w_u64(b, len);
    sp_buf_append(b, s, len);
}
static void w_key(sp_gguf_writer *w, const char *key, uint32_t type) {
    w_string(&w->kv, key, strlen(key));
    w_u32(&w->kv, type);
    w->n_kv++;
}

void sp_gguf_w_u32(sp_gguf_writer *w, const char *key, uint32_t v) {
    w_key(w, key, SP_GGUF_UINT32);
    w_u32(&w->kv, v);
}
void sp_gguf_w_f32(sp_gguf_writer *w, const char *key, float v) {
    uint32_t u;
    memcpy(&u, &v, 4);
    w_key(w, key, SP_GGUF_FLOAT32);
    w_u32(&w->kv, u);
}
void sp_gguf_w_bool(sp_gguf_writer *w, const char *key, int v) {
    const uint8_t x = v ? 1 : 0;
    w_key(w, key, SP_GGUF_BOOL);
    sp_buf_append(&w->kv, &x, 1);
}
void sp_gguf_w_str(sp_gguf_writer *w, const char *key, const char *v) {
    w_key(w, key, SP_GGUF_STRING);
    w_string(&w->kv, v, strlen(v));
}
void sp_gguf_w_array(sp_gguf_writer *w, const char *key, uint32_t elem_type, uint64_t n) {
    w_key(w, key, SP_GGUF_ARRAY);
    w_u32(&w->kv, elem_type);
    w_u64(&w->kv, n);
}
void sp_gguf_w_item_str(sp_gguf_writer *w, const char *s, size_t len) { w_string(&w->kv, s, len); }
void sp_gguf_w_items(sp_gguf_writer *w, const void *data, size_t bytes) { sp_buf_append(&w->kv, data, bytes); }

uint64_t sp_gguf_pad(uint64_t nbytes) { return (SP_GGUF_ALIGNMENT - nbytes % SP_GGUF_ALIGNMENT) % SP_GGUF_ALIGNMENT; }

void sp_gguf_w_tensor(sp_gguf_writer *w, const char *name, uint32_t n_dims, const uint64_t *dims, uint32_t type, uint64_t nbytes) {
    w_string(&w->ti, name, strlen(name));
    w_u32(&w->ti, n_dims);
    for (uint32_t i = 0; i < n_dims; i++) w_u64(&w->ti, dims[i]);
    w_u32(&w->ti, type);
    w_u64(&w->ti, w->offset);
    w->offset += nbytes + sp_gguf_pad(nbytes);
    w->n_tensors++;
}

uint8_t *sp_gguf_w_finish(sp_gguf_writer *w, size_t *size, sp_error *err) {
    sp_buf h = {0};
    sp_buf_append(&h, "GGUF", 4);
    w_u32(&h, 3);
    w_u64(&h, w->n_tensors);
    w_u64(&h, w->n_kv);
    if (w->kv.len) sp_buf_append(&h, w->kv.data, w->kv.len);
    if (w->ti.len) sp_buf_append(&h, w->ti.data, w->ti.len);
    static const uint8_t zeros[SP_GGUF_ALIGNMENT];
    sp_buf_append(&h, zeros, (size_t)sp_gguf_pad(h.len));
    const int failed = h.failed || w->kv.failed || w->ti.failed;
    sp_buf_free(&w->kv);
    sp_buf_free(&w->ti);
    if (failed) {
        sp_buf_free(&h);
        sp_error_set(err, SP_ERR_NOMEM, "gguf: out of memory writing the header");
        return NULL;
    }
    *size = h.len;
    return (uint8_t *)h.data;
}
