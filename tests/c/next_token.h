/* next_token.h - for tests: one generation step as a token id (sp_gen_next, then sp_gen_token),
 * -1 when the generation has finished, -2 on an error. */
#ifndef SP_TEST_NEXT_TOKEN_H
#define SP_TEST_NEXT_TOKEN_H

#include "api/softprompt.h"

static inline int32_t next_token(sp_gen *g, sp_error *err) {
    const int32_t r = sp_gen_next(g, err);
    return r > 0 ? sp_gen_token(g) : r == 0 ? -1 : -2;
}

#endif
