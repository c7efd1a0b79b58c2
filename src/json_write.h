/* json_write.h - the JSON writer: a growable byte buffer (sp_buf) with printf and JSON string
 * escaping. Every JSON result of the library (info, reports, previews) is written with it. A failed
 * allocation sets `failed` and turns later calls into no-ops, so a writer checks once at the end. */
#ifndef SP_JSON_WRITE_H
#define SP_JSON_WRITE_H

#include "common.h"

typedef struct { char *data; size_t len, cap; int failed; } sp_buf;
void sp_buf_append(sp_buf *b, const void *data, size_t len);
void sp_buf_printf(sp_buf *b, const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Appends s[0..len) as a JSON string (with quotes). */
void sp_buf_json_string(sp_buf *b, const char *s, size_t len);
void sp_buf_free(sp_buf *b);

#endif
