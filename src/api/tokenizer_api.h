/* tokenizer_api.h - not exported: the argument checks and buffer-size protocol that the ABI's
 * tokenize/detokenize share (api.c's sp_tokenize / sp_detokenize, tokenizer_api.c's sp_tok_*). */
#ifndef SP_TOKENIZER_API_H
#define SP_TOKENIZER_API_H

#include "../tokenizer/tokenizer.h"

/* ids needed (writes min(n, cap)); -1 on error */
int32_t sp_api_encode(const sp_tokenizer *t, const char *text, int32_t len, int32_t add_special, int32_t *ids, int32_t cap, sp_error *err);
/* bytes needed (writes min(n, cap)); -1 on a bad id */
int32_t sp_api_decode(const sp_tokenizer *t, const int32_t *ids, int32_t n, char *out, int32_t cap, sp_error *err);

#endif
