/* data.c - the data preview ABI (softprompt.h). Parsing and the summary live in src/train/data.c. */
#include "softprompt.h"
#include "../model/model.h"
#include "../train/data.h"

char *sp_data_preview_json(sp_model *m, const char *data, size_t len, const char *format, int32_t max_examples, sp_error *err) {
    sp_error_clear(err);
    return sp_dataset_preview_json(m ? &m->tok : NULL, m ? m->cfg.ctx_len : 0, data, len, format, max_examples, err);
}
