/* data.c - the data ABI (softprompt.h): the preview options object, and the conversations to render.
 * Parsing and the summaries live in src/train/data.c (the one data parser). */
#include "softprompt.h"
#include "options.h"
#include "../model/model.h"
#include "../train/data.h"

/* {"format":"auto","limit":20,"max_length":0,"ids":false} */
char *sp_data_preview_json(sp_model *m, const char *data, size_t len, const char *opts_json, sp_error *err) {
    sp_error_clear(err);
    static const char *const known[] = {"format", "limit", "max_length", "ids", NULL};
    sp_arena a;
    sp_arena_init(&a, 4096);
    char *out = NULL;
    int32_t limit = 20, max_length = 0, fmt;
    const char *format = "auto";
    sp_json *j = sp_opt_parse(&a, opts_json, err);
    if (j && !sp_opt_check_keys(j, known, err) && !sp_opt_int(j, "limit", &limit, 0, 1 << 30, err) &&
        !sp_opt_int(j, "max_length", &max_length, 0, 1 << 30, err) && !sp_opt_string(j, "format", &format, err) &&
        !sp_data_format_parse(format, &fmt, err))
        out = sp_dataset_preview_json(m ? &m->tok : NULL, data, len, fmt, limit, max_length, sp_json_bool(j, "ids", 0), err);
    sp_arena_free(&a);
    return out;
}

char *sp_data_conversations_json(const char *data, size_t len, const char *format, sp_error *err) {
    sp_error_clear(err);
    int32_t fmt;
    if (sp_data_format_parse(format, &fmt, err)) return NULL;
    return sp_dataset_conversations_json(data, len, fmt, err);
}
