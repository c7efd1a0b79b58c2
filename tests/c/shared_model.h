/* shared_model.h - load a GGUF model of ../shared for C tests (a missing or unreadable file is a
 * test failure, never a skip). Include after check.h. */
#ifndef SP_TEST_SHARED_MODEL_H
#define SP_TEST_SHARED_MODEL_H
#include "check.h"
#include "shared.h"
#include "api/softprompt.h"

static sp_model *load_gguf(sp_engine *eng, const char *rel) {
    size_t n;
    uint8_t *b = shared_read(rel, &n);
    CHECK_MSG(b != NULL, "missing %s", rel);
    if (!b) return NULL;
    sp_error err;
    sp_model *m = sp_model_load_gguf(eng, b, n, &err);
    CHECK_MSG(m != NULL, "%s: %s", rel, err.msg);
    return m;
}
#endif
