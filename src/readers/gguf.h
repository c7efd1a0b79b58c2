/* gguf.h - GGUF v2/v3 reader (ggml docs/gguf.md), and the writer of a v3 header. The reader
 * parses in place: tensor data and array payloads point into the caller's buffer, which must
 * outlive the sp_gguf. */
#ifndef SP_GGUF_H
#define SP_GGUF_H

#include "../common.h"
#include "../json_write.h"

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

/* ---- writer: the header of a GGUF v3 file (key/values, then tensor infos), built in memory.
 * The file is that header followed by each tensor's bytes in the order added, each padded with
 * zeros to SP_GGUF_ALIGNMENT (sp_gguf_pad); the writer assigns the offsets. An allocation that
 * fails is reported once, by sp_gguf_w_finish. */
#define SP_GGUF_ALIGNMENT 32
typedef struct {
    sp_buf kv, ti;          /* key/value pairs; tensor infos */
    uint64_t n_kv, n_tensors;
    uint64_t offset;        /* where the next tensor starts in the data section */
} sp_gguf_writer;
void sp_gguf_w_u32(sp_gguf_writer *w, const char *key, uint32_t v);
void sp_gguf_w_f32(sp_gguf_writer *w, const char *key, float v);
void sp_gguf_w_bool(sp_gguf_writer *w, const char *key, int v);
void sp_gguf_w_str(sp_gguf_writer *w, const char *key, const char *v);
/* An array of n elements of elem_type: then exactly n sp_gguf_w_item_str (STRING) or the
 * elements' raw little-endian bytes with sp_gguf_w_items. */
void sp_gguf_w_array(sp_gguf_writer *w, const char *key, uint32_t elem_type, uint64_t n);
void sp_gguf_w_item_str(sp_gguf_writer *w, const char *s, size_t len);
void sp_gguf_w_items(sp_gguf_writer *w, const void *data, size_t bytes);
/* A tensor of nbytes bytes, dims in ggml order (dims[0] the row length). */
void sp_gguf_w_tensor(sp_gguf_writer *w, const char *name, uint32_t n_dims, const uint64_t *dims, uint32_t type, uint64_t nbytes);
/* The header, padded to the alignment (malloc'd; the caller frees it), or NULL (SP_ERR_NOMEM).
 * Frees the writer's buffers either way. */
uint8_t *sp_gguf_w_finish(sp_gguf_writer *w, size_t *size, sp_error *err);
/* The zeros written after a tensor of nbytes bytes. */
uint64_t sp_gguf_pad(uint64_t nbytes);

#endif
