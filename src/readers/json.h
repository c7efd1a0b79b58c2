/* json.h - a small JSON DOM parser (RFC 8259) for config.json, tokenizer.json,
 * adapter_config.json, the safetensors header and JSONL training data.
 * All nodes and unescaped strings live in the caller's arena. */
#ifndef SP_JSON_H
#define SP_JSON_H

#include "../common.h"

typedef enum {
    SP_JSON_NULL, SP_JSON_BOOL, SP_JSON_NUMBER, SP_JSON_STRING, SP_JSON_ARRAY, SP_JSON_OBJECT
} sp_json_type;

typedef struct sp_json sp_json;
struct sp_json {
    sp_json_type type;
    int boolean;          /* BOOL */
    double number;        /* NUMBER */
    const char *str;      /* STRING: unescaped UTF-8, NUL-terminated (may contain NUL: use len) */
    size_t len;           /* STRING: byte length; ARRAY/OBJECT: number of items */
    sp_json *items;       /* ARRAY/OBJECT: [len] children, in document order */
    const char *key;      /* set on children of an OBJECT: unescaped, NUL-terminated */
    size_t key_len;
};

/* Parse text[0..len). Rejects trailing garbage, invalid escapes/UTF-8 surrogates,
 * nesting deeper than 256. Error messages give "line L, column C: what". */
sp_json *sp_json_parse(sp_arena *a, const char *text, size_t len, sp_error *err);

const sp_json *sp_json_get(const sp_json *obj, const char *key); /* NULL if absent/not object */
/* Typed getters: return def when absent or of another type. */
double sp_json_number(const sp_json *obj, const char *key, double def);
const char *sp_json_string(const sp_json *obj, const char *key, const char *def);
int sp_json_bool(const sp_json *obj, const char *key, int def);


#endif
