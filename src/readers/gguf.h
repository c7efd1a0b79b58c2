/* gguf.h - GGUF v2/v3 reader (ggml docs/gguf.md). Parses in place: tensor data and
 * array payloads point into the caller's buffer, which must outlive the sp_gguf. */
#ifndef SP_GGUF_H
#define SP_GGUF_H

#include "../common.h"

typedef enum {
    SP_GGUF_UINT8 = 0, SP_GGUF_INT8 = 1, SP_GGUF_UINT16 = 2, SP_GGUF_INT16 = 3,
    SP_GGUF_UINT32 = 4, SP_GGUF_INT32 = 5, SP_GGUF_FLOAT32 = 6, SP_GGUF_BOOL = 7,
    SP_GGUF_STRING = 8, SP_GGUF_ARRAY = 9, SP_GGUF_UINT64 = 10, SP_GGUF_INT64 = 11,
    SP_GGUF_FLOAT64 = 12,
} sp_gguf_type;

typedef struct {
    sp_str key;
    uint32_t type;          /* sp_gguf_type */
    /* scalars (any numeric/bool type is widened into all three) */
    uint64_t u64;
    int64_t i64;
    double f64;
    sp_str str;             /* STRING */
    /* ARRAY */
    uint32_t arr_type;      /* element type */
    uint64_t arr_n;         /* element count */
    const uint8_t *arr_data;/* fixed-width elements: raw little-endian payload */
    sp_str *arr_strs;       /* string elements: [arr_n], pointing into the buffer (arena-allocated table) */
} sp_gguf_kv;

typedef struct {
    sp_str name;
    uint32_t n_dims;
    uint64_t dims[4];       /* ggml order: dims[0] is the fastest (a torch [out,in] weight is [in,out]) */
    uint32_t type;          /* sp_dtype value (F32=0, F16=1, Q4_0=2, Q8_0=8, BF16=30, others kept as-is) */
    uint64_t offset;        /* relative to the data section */
    uint64_t nbytes;        /* 0 when the type is unknown */
    const uint8_t *data;    /* NULL when the type is unknown */
} sp_gguf_tensor;

typedef struct {
    uint32_t version;
    uint64_t n_kv, n_tensors;
    sp_gguf_kv *kv;             /* [n_kv] */
    sp_gguf_tensor *tensors;    /* [n_tensors] */
    uint32_t alignment;         /* general.alignment, default 32 */
    const uint8_t *data;        /* start of the tensor data section (NULL after sp_gguf_parse_header) */
    size_t header_bytes;        /* bytes before the data section */
} sp_gguf;

/* Validates everything before allocating anything large: counts are checked against
 * the remaining bytes, offsets/sizes against the buffer, alignment of offsets.
 * Errors: SP_ERR_FORMAT (bad magic/version, truncation, overflow, misaligned),
 * SP_ERR_UNSUPPORTED (a tensor of an unknown type is allowed here; the model loader refuses it). */
sp_status sp_gguf_parse(sp_gguf *g, const uint8_t *buf, size_t size, sp_arena *a, sp_error *err);

/* The header only, from the first `size` bytes of a file of file_size bytes: the same checks
 * (tensor ranges against file_size), tensor data pointers NULL. When the header runs past the
 * bytes given, *short_read is set (with SP_ERR_FORMAT): call again with more. */
sp_status sp_gguf_parse_header(sp_gguf *g, const uint8_t *buf, size_t size, uint64_t file_size, int *short_read, sp_arena *a, sp_error *err);

const sp_gguf_kv *sp_gguf_find(const sp_gguf *g, const char *key);
const sp_gguf_tensor *sp_gguf_find_tensor(const sp_gguf *g, const char *name);
/* Numeric getters with widening; return def if absent or not numeric. */
int64_t sp_gguf_get_int(const sp_gguf *g, const char *key, int64_t def);
double sp_gguf_get_float(const sp_gguf *g, const char *key, double def);
/* Returns 1 and fills *out if key is a STRING. */
int sp_gguf_get_str(const sp_gguf *g, const char *key, sp_str *out);

#endif
