/* eval.c - the evaluation ABI (softprompt.h): the eval options object and the data it names.
 * The loss and accuracy are computed in src/train/tuner.c, with the tuner's runner. */
#include "softprompt.h"
#include "options.h"
#include "../train/tuner.h"

#include <string.h>

/* {"max_length":256,"batch_size":8,"format":"auto","accuracy":true} */
char *sp_eval_json(sp_model *m, sp_adapter *ad, const char *data, size_t data_len, const char *opts_json, sp_error *err) {
    sp_error_clear(err);
    if (!m) { sp_error_set(err, SP_ERR_INVALID_ARG, "no model"); return NULL; }
    if (ad && ad->model != m) { sp_error_set(err, SP_ERR_INVALID_ARG, "the adapter belongs to another model"); return NULL; }
    static const char *const known[] = {"max_length", "batch_size", "format", "accuracy", NULL};
    sp_arena a;
    sp_arena_init(&a, 4096);
    sp_dataset ds;
    memset(&ds, 0, sizeof(ds));
    char *out = NULL;
    int32_t max_length = 256, batch_size = 8, fmt;
    const char *format = "auto";
    sp_json *j = sp_opt_parse(&a, opts_json, err);
    if (!j || sp_opt_check_keys(j, known, err) || sp_opt_int(j, "max_length", &max_length, 2, 1 << 20, err) ||
        sp_opt_int(j, "batch_size", &batch_size, 1, 4096, err) || sp_opt_string(j, "format", &format, err) ||
        sp_data_format_parse(format, &fmt, err))
        goto done;
    const int32_t accuracy = sp_json_bool(j, "accuracy", 1);
    if (sp_dataset_load(&ds, &m->tok, data, data_len, fmt, max_length, err)) goto done;
    out = sp_eval_dataset_json(m, ad, &ds, batch_size, accuracy, err);
done:
    sp_dataset_free(&ds);
    sp_arena_free(&a);
    return out;
}
