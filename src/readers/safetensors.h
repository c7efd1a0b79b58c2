/* safetensors.h - reader for Hugging Face .safetensors files (u64 header length,
 * JSON header, data). Parses in place: tensor data points into the caller's buffer. */
#ifndef SP_SAFETENSORS_H
#define SP_SAFETENSORS_H

#include "../common.h"
#include "json.h"

typedef struct {
    const char *name;        /* NUL-terminated, arena */
    uint32_t dtype;          /* sp_dtype: F32, F16, BF16 (others: SP_DTYPE_UNKNOWN) */
    const char *dtype_name;  /* as written in the header, e.g. "F32" */
    uint32_t n_dims;
    int64_t shape[8];        /* torch order: shape[0] is the slowest */
    const uint8_t *data;     /* NULL after sp_safetensors_parse_header */
    uint64_t offset;         /* from the start of the data section */
    uint64_t nbytes;
} sp_st_tensor;

typedef struct {
    sp_st_tensor *tensors;   /* [n] */
    uint32_t n;
    const sp_json *metadata; /* the "__metadata__" object, or NULL */
} sp_safetensors;

/* Checks header length, JSON, dtype/shape vs byte ranges, ranges inside the buffer. */
sp_status sp_safetensors_parse(sp_safetensors *st, const uint8_t *buf, size_t size, sp_arena *a, sp_error *err);
/* The header only, from the first `size` bytes of a file of file_size bytes: the same checks
 * (ranges against file_size), data pointers NULL. When the header is longer than size, *need is
 * set to its length (with SP_ERR_FORMAT): call again with that many bytes. */
sp_status sp_safetensors_parse_header(sp_safetensors *st, const uint8_t *buf, size_t size, uint64_t file_size, uint64_t *need, sp_arena *a,
                                      sp_error *err);
const sp_st_tensor *sp_safetensors_find(const sp_safetensors *st, const char *name);

/* Write a file holding one F32 tensor, header metadata {"format":"pt"}, header padded
 * with spaces to a multiple of 8. Returns malloc'd bytes in *out (caller frees). */
sp_status sp_safetensors_write_f32(const char *name, const int64_t *shape, uint32_t n_dims,
                                   const float *data, uint8_t **out, size_t *out_size, sp_error *err);

#endif
