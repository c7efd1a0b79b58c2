/* fuzz_model.c - libFuzzer harness for the model loaders through the C ABI (sp_model_load_gguf,
 * sp_model_load_hf: take-ownership semantics), then a little use of every model that loads
 * (body and input format in fuzz_model.h). Run by scripts/fuzz.sh; seeds from make-corpus.js. */
#include "fuzz_model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_model_one(data, size);
    return 0;
}
