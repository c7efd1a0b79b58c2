/* json_write.c - sp_buf, the growable byte buffer every JSON result is written into. */
#include "json_write.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- sp_buf: data is kept NUL-terminated (data[len] == 0) whenever it is non-NULL ---- */
static int buf_reserve(sp_buf *b, size_t extra) {
    if (b->failed) return 0;
    size_t need;
    if (!sp_add_size(b->len, extra, &need) || !sp_add_size(need, 1, &need)) { b->failed = 1; return 0; }
    if (need <= b->cap) return 1;
    size_t nc = b->cap ? b->cap : 256;
    while (nc < need) {
        if (nc > SIZE_MAX / 2) { nc = need; break; }
        nc *= 2;
    }
    char *nd = (char *)realloc(b->data, nc);
    if (!nd) { b->failed = 1; return 0; }
    b->data = nd;
    b->cap = nc;
    return 1;
}

void sp_buf_append(sp_buf *b, const void *data, size_t len) {
    if (!buf_reserve(b, len)) return;
    if (len) memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void sp_buf_printf(sp_buf *b, const char *fmt, ...) {
    if (b->failed) return;
    va_list ap;
    va_start(ap, fmt);
    char small[256];
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) { b->failed = 1; return; }
    if ((size_t)n < sizeof(small)) { sp_buf_append(b, small, (size_t)n); return; }
    if (!buf_reserve(b, (size_t)n)) return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Escapes '"', '\\' and control characters; valid UTF-8 is copied as is and each byte of
 * an invalid sequence becomes \ufffd, so the output is always valid JSON. */
void sp_buf_json_string(sp_buf *b, const char *s, size_t len) {
    static const char hex[] = "0123456789abcdef";
    sp_buf_append(b, "\"", 1);
    size_t i = 0;
    while (i < len && !b->failed) {
        unsigned char c = (unsigned char)s[i];
        size_t run = i;
        /* copy a run of plain characters at once */
        while (run < len) {
            unsigned char d = (unsigned char)s[run];
            if (d < 0x20 || d == '"' || d == '\\' || d >= 0x80) break;
            run++;
        }
        if (run > i) { sp_buf_append(b, s + i, run - i); i = run; continue; }
        if (c >= 0x80) {
            size_t l = sp_utf8_valid_len((const unsigned char *)s + i, len - i);
            if (l) { sp_buf_append(b, s + i, l); i += l; }
            else { sp_buf_append(b, "\\ufffd", 6); i++; }
            continue;
        }
        char esc[7];
        switch (c) {
        case '"': sp_buf_append(b, "\\\"", 2); break;
        case '\\': sp_buf_append(b, "\\\\", 2); break;
        case '\n': sp_buf_append(b, "\\n", 2); break;
        case '\r': sp_buf_append(b, "\\r", 2); break;
        case '\t': sp_buf_append(b, "\\t", 2); break;
        case '\b': sp_buf_append(b, "\\b", 2); break;
        case '\f': sp_buf_append(b, "\\f", 2); break;
        default:
            esc[0] = '\\'; esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
            esc[4] = hex[c >> 4]; esc[5] = hex[c & 15]; esc[6] = 0;
            sp_buf_append(b, esc, 6);
            break;
        }
        i++;
    }
    sp_buf_append(b, "\"", 1);
}

void sp_buf_free(sp_buf *b) {
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
    b->failed = 0;
}
