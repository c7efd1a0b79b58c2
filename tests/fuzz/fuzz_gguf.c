/* fuzz_gguf.c - libFuzzer harness for the gguf reader (body in fuzz_targets.h). Run by scripts/fuzz.sh. */
#include "fuzz_targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fuzz_gguf_one(data, size);
    return 0;
}
