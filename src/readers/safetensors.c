/* safetensors.c - Hugging Face .safetensors reader (in place) and a one-tensor F32 writer.
 *
 * Layout: u64 LE header length N, N bytes of JSON (an object; may be padded with spaces),
 * then the data section. Each tensor entry is
 *   "name": {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]}
 * with offsets relative to the data section. "__metadata__" (optional) is an object of
 * strings. Checks: header length within the file and <= 100 MB, JSON valid, every
 * entry complete, integers exact and non-negative, dtype known, shape product x dtype
 * size == end - begin without overflow, ranges inside the data section, no two
 * non-empty ranges overlap, no duplicate names. Gaps between ranges are tolerated. */
#include "safetensors.h"
#include "../tensor.h"
#include "../json_write.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define ST_MAX_HEADER ((uint64_t)100000000) /* as the reference implementation */
#define ST_MAX_DIMS 8

typedef struct { const char *name; uint32_t dtype; size_t size; } st_dtype_info;

static const st_dtype_info st_dtypes[] = {
    {"F32", SP_DTYPE_F32, 4}, {"F16", SP_DTYPE_F16, 2}, {"BF16", SP_DTYPE_BF16, 2},
    {"F64", SP_DTYPE_UNKNOWN, 8}, {"I64", SP_DTYPE_UNKNOWN, 8}, {"U64", SP_DTYPE_UNKNOWN, 8},
    {"I32", SP_DTYPE_UNKNOWN, 4}, {"U32", SP_DTYPE_UNKNOWN, 4}, {"I16", SP_DTYPE_UNKNOWN, 2},
    {"U16", SP_DTYPE_UNKNOWN, 2}, {"I8", SP_DTYPE_UNKNOWN, 1}, {"U8", SP_DTYPE_UNKNOWN, 1},
    {"BOOL", SP_DTYPE_UNKNOWN, 1}, {"F8_E4M3", SP_DTYPE_UNKNOWN, 1}, {"F8_E5M2", SP_DTYPE_UNKNOWN, 1},
};

static const st_dtype_info *find_dtype(const sp_json *s) {
    for (size_t i = 0; i < sizeof(st_dtypes) / sizeof(st_dtypes[0]); i++)
        if (strlen(st_dtypes[i].name) == s->len && memcmp(st_dtypes[i].name, s->str, s->len) == 0) return &st_dtypes[i];
    return NULL;
}

/* An exact non-negative integer <= 2^53 (JSON numbers are doubles). */
static int json_uint(const sp_json *v, uint64_t *out) {
    if (!v || v->type != SP_JSON_NUMBER) return 0;
    double d = v->number;
    if (!(d >= 0 && d <= 9007199254740992.0) || floor(d) != d) return 0;
    *out = (uint64_t)d;
    return 1;
}

static int cmp_by_begin(const void *pa, const void *pb) {
    const sp_st_tensor *a = *(const sp_st_tensor *const *)pa, *b = *(const sp_st_tensor *const *)pb;
    if (a->offset != b->offset) return a->offset < b->offset ? -1 : 1;
    return a->nbytes < b->nbytes ? -1 : a->nbytes > b->nbytes;
}

static int cmp_by_name(const void *pa, const void *pb) {
    const sp_st_tensor *a = *(const sp_st_tensor *const *)pa, *b = *(const sp_st_tensor *const *)pb;
    return strcmp(a->name, b->name);
}

/* The whole file (header_only 0, size == file_size) or its first size bytes; *need (header_only)
 * is set to the bytes the header takes when size is short of them. */
static sp_status st_parse(sp_safetensors *st, const uint8_t *buf, size_t size, uint64_t file_size, int header_only, uint64_t *need,
                          sp_arena *a, sp_error *err) {
    if (!st || !a || (!buf && size) || file_size < size) return sp_error_set(err, SP_ERR_INVALID_ARG, "safetensors: NULL argument");
    memset(st, 0, sizeof(*st));
    if (header_only && size < 8 && file_size >= 8) {
        *need = 8;
        return sp_error_set(err, SP_ERR_FORMAT, "safetensors: truncated header (%zu bytes read)", size);
    }
    if (size < 8) return sp_error_set(err, SP_ERR_FORMAT, "safetensors: file too short (%zu bytes)", size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | buf[i];
    if (hlen > ST_MAX_HEADER)
        return sp_error_set(err, SP_ERR_FORMAT, "safetensors: header length %llu is too large (not a safetensors file?)", (unsigned long long)hlen);
    if (hlen > file_size - 8)
        return sp_error_set(err, SP_ERR_FORMAT, "safetensors: header length %llu is past the end of the %llu-byte file", (unsigned long long)hlen,
                            (unsigned long long)file_size);
    if (hlen > size - 8) {
        *need = 8 + hlen;
        return sp_error_set(err, SP_ERR_FORMAT, "safetensors: truncated header (%zu of %llu bytes read)", size, (unsigned long long)(8 + hlen));
    }
    if (hlen < 2 || buf[8] != '{')
        return sp_error_set(err, SP_ERR_FORMAT, "safetensors: header is not a JSON object");
    const uint8_t *data = buf + 8 + hlen;
    uint64_t data_size = file_size - 8 - hlen;

    sp_error jerr = {0};
    const sp_json *root = sp_json_parse(a, (const char *)buf + 8, (size_t)hlen, &jerr);
    if (!root) return sp_error_set(err, jerr.code == SP_ERR_NOMEM ? SP_ERR_NOMEM : SP_ERR_FORMAT, "safetensors: header JSON: %s", jerr.msg);
    if (root->type != SP_JSON_OBJECT) return sp_error_set(err, SP_ERR_FORMAT, "safetensors: header is not a JSON object");

    size_t n = 0;
    for (size_t i = 0; i < root->len; i++) {
        const sp_json *it = &root->items[i];
        if (strcmp(it->key, "__metadata__") == 0 && it->key_len == 12) {
            if (it->type != SP_JSON_OBJECT) return sp_error_set(err, SP_ERR_FORMAT, "safetensors: __metadata__ is not an object");
            for (size_t j = 0; j < it->len; j++)
                if (it->items[j].type != SP_JSON_STRING)
                    return sp_error_set(err, SP_ERR_FORMAT, "safetensors: __metadata__ value '%.64s' is not a string", it->items[j].key);
            st->metadata = it;
        } else {
            n++;
        }
    }
    if (n > UINT32_MAX) return sp_error_set(err, SP_ERR_FORMAT, "safetensors: too many tensors");
    st->n = (uint32_t)n;
    if (n == 0) return SP_OK;
    /* each entry costs far more header bytes than these tables, so they are bounded by the file */
    sp_st_tensor *ts = (sp_st_tensor *)sp_arena_alloc(a, n * sizeof(sp_st_tensor));
    sp_st_tensor **order = (sp_st_tensor **)sp_arena_alloc(a, n * sizeof(sp_st_tensor *));
    if (!ts || !order) return sp_error_set(err, SP_ERR_NOMEM, "safetensors: out of memory");

    size_t k = 0;
    for (size_t i = 0; i < root->len; i++) {
        const sp_json *it = &root->items[i];
        if (it == st->metadata) continue;
        const char *name = it->key;
        if (strlen(name) != it->key_len) return sp_error_set(err, SP_ERR_FORMAT, "safetensors: tensor name contains a NUL byte");
        if (it->type != SP_JSON_OBJECT) return sp_error_set(err, SP_ERR_FORMAT, "safetensors: entry '%.64s' is not an object", name);
        const sp_json *jd = sp_json_get(it, "dtype"), *js = sp_json_get(it, "shape"), *jo = sp_json_get(it, "data_offsets");
        if (!jd || jd->type != SP_JSON_STRING) return sp_error_set(err, SP_ERR_FORMAT, "safetensors: tensor '%.64s' has no dtype string", name);
        if (!js || js->type != SP_JSON_ARRAY) return sp_error_set(err, SP_ERR_FORMAT, "safetensors: tensor '%.64s' has no shape array", name);
        if (!jo || jo->type != SP_JSON_ARRAY || jo->len != 2)
            return sp_error_set(err, SP_ERR_FORMAT, "safetensors: tensor '%.64s' has no data_offsets [begin, end]", name);
        const st_dtype_info *dt = find_dtype(jd);
        if (!dt) return sp_error_set(err, SP_ERR_UNSUPPORTED, "safetensors: tensor '%.64s' has unknown dtype '%.16s'", name, jd->str);
        if (js->len > ST_MAX_DIMS) return sp_error_set(err, SP_ERR_FORMAT, "safetensors: tensor '%.64s' has %zu dims (max %d)", name, js->len, ST_MAX_DIMS);
        sp_st_tensor *t = &ts[k];
        t->name = name;
        t->dtype = dt->dtype;
        t->dtype_name = jd->str;
        t->n_dims = (uint32_t)js->len;
        uint64_t count = 1;
        int overflow = 0;
        for (size_t d = 0; d < js->len; d++) {
            uint64_t v;
            if (!json_uint(&js->items[d], &v))
                return sp_error_set(err, SP_ERR_FORMAT, "safetensors: tensor '%.64s' shape[%zu] is not a non-negative integer", name, d);
            t->shape[d] = (int64_t)v;
            if (v && count > UINT64_MAX / v) overflow = 1;
            else count *= v;
        }
        uint64_t begin, end;
        if (!json_uint(&jo->items[0], &begin) || !json_uint(&jo->items[1], &end) || begin > end)
            return sp_error_set(err, SP_ERR_FORMAT, "safetensors: tensor '%.64s' data_offsets are not 0 <= begin <= end", name);
        if (overflow || count > UINT64_MAX / dt->size)
            return sp_error_set(err, SP_ERR_FORMAT, "safetensors: tensor '%.64s' shape overflows", name);
        if (count * dt->size != end - begin)
            return sp_error_set(err, SP_ERR_FORMAT, "safetensors: tensor '%.64s' shape needs %llu bytes of %s but data_offsets give %llu",
                                name, (unsigned long long)(count * dt->size), dt->name, (unsigned long long)(end - begin));
        if (end > data_size)
            return sp_error_set(err, SP_ERR_FORMAT, "safetensors: tensor '%.64s' data [%llu, %llu) is past the end of the data (%llu bytes)",
                                name, (unsigned long long)begin, (unsigned long long)end, (unsigned long long)data_size);
        t->data = header_only ? NULL : data + begin;
        t->offset = begin;
        t->nbytes = end - begin;
        order[k] = t;
        k++;
    }
    /* no duplicate names (the JSON parser keeps duplicate keys) */
    qsort(order, n, sizeof(*order), cmp_by_name);
    for (size_t i = 1; i < n; i++)
        if (strcmp(order[i - 1]->name, order[i]->name) == 0)
            return sp_error_set(err, SP_ERR_FORMAT, "safetensors: duplicate tensor '%.64s'", order[i]->name);
    /* no overlapping non-empty ranges */
    qsort(order, n, sizeof(*order), cmp_by_begin);
    const sp_st_tensor *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        const sp_st_tensor *t = order[i];
        if (!t->nbytes) continue;
        if (prev && t->offset < prev->offset + prev->nbytes)
            return sp_error_set(err, SP_ERR_FORMAT, "safetensors: tensors '%.64s' and '%.64s' overlap", prev->name, t->name);
        prev = t;
    }
    st->tensors = ts;
    return SP_OK;
}

sp_status sp_safetensors_parse(sp_safetensors *st, const uint8_t *buf, size_t size, sp_arena *a, sp_error *err) {
    return st_parse(st, buf, size, size, 0, NULL, a, err);
}

sp_status sp_safetensors_parse_header(sp_safetensors *st, const uint8_t *buf, size_t size, uint64_t file_size, uint64_t *need, sp_arena *a,
                                      sp_error *err) {
    *need = 0;
    return st_parse(st, buf, size, file_size, 1, need, a, err);
}

const sp_st_tensor *sp_safetensors_find(const sp_safetensors *st, const char *name) {
    if (!st || !name) return NULL;
    for (uint32_t i = 0; i < st->n; i++)
        if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
    return NULL;
}

sp_status sp_safetensors_write_f32(const char *name, const int64_t *shape, uint32_t n_dims,
                                   const float *data, uint8_t **out, size_t *out_size, sp_error *err) {
    if (!out || !out_size || !name || (n_dims && !shape)) return sp_error_set(err, SP_ERR_INVALID_ARG, "safetensors: NULL argument");
    *out = NULL;
    *out_size = 0;
    if (n_dims > ST_MAX_DIMS) return sp_error_set(err, SP_ERR_INVALID_ARG, "safetensors: %u dims (max %d)", n_dims, ST_MAX_DIMS);
    size_t count = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        if (shape[d] < 0 || (uint64_t)shape[d] > 9007199254740992ull)
            return sp_error_set(err, SP_ERR_INVALID_ARG, "safetensors: shape[%u] = %lld is invalid", d, (long long)shape[d]);
        if ((uint64_t)shape[d] > SIZE_MAX || !sp_mul_size(count, (size_t)shape[d], &count))
            return sp_error_set(err, SP_ERR_TOO_LARGE, "safetensors: tensor too large");
    }
    size_t nbytes;
    if (!sp_mul_size(count, 4, &nbytes)) return sp_error_set(err, SP_ERR_TOO_LARGE, "safetensors: tensor too large");
    if (nbytes && !data) return sp_error_set(err, SP_ERR_INVALID_ARG, "safetensors: NULL data");

    sp_buf h = {0};
    sp_buf_printf(&h, "{\"__metadata__\":{\"format\":\"pt\"},");
    sp_buf_json_string(&h, name, strlen(name));
    sp_buf_printf(&h, ":{\"dtype\":\"F32\",\"shape\":[");
    for (uint32_t d = 0; d < n_dims; d++) sp_buf_printf(&h, "%s%lld", d ? "," : "", (long long)shape[d]);
    sp_buf_printf(&h, "],\"data_offsets\":[0,%llu]}}", (unsigned long long)nbytes);
    while (!h.failed && h.len % 8) sp_buf_append(&h, " ", 1);
    size_t total;
    if (h.failed || !sp_add_size(8 + h.len, nbytes, &total)) {
        sp_buf_free(&h);
        return sp_error_set(err, SP_ERR_NOMEM, "safetensors: out of memory");
    }
    uint8_t *o = (uint8_t *)malloc(total);
    if (!o) {
        sp_buf_free(&h);
        return sp_error_set(err, SP_ERR_NOMEM, "safetensors: out of memory for %zu bytes", total);
    }
    uint64_t hl = h.len;
    for (int i = 0; i < 8; i++) o[i] = (uint8_t)(hl >> (8 * i));
    memcpy(o + 8, h.data, h.len);
    uint8_t *p = o + 8 + h.len;
    for (size_t i = 0; i < count; i++) { /* explicit little-endian */
        uint32_t u;
        memcpy(&u, &data[i], 4);
        p[4 * i] = (uint8_t)u; p[4 * i + 1] = (uint8_t)(u >> 8); p[4 * i + 2] = (uint8_t)(u >> 16); p[4 * i + 3] = (uint8_t)(u >> 24);
    }
    sp_buf_free(&h);
    *out = o;
    *out_size = total;
    return SP_OK;
}
