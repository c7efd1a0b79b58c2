/* test_fuzz_regressions.c - replays every input kept under tests/fuzz/regressions/<target>/
 * (minimised crashes found by scripts/fuzz.sh, plus hand-made nasty seeds) through the same
 * harness bodies as the fuzzers (tests/fuzz/fuzz_targets.h). A crash, sanitizer report or
 * property failure aborts, failing the test. The model inputs go through the C ABI loaders
 * (tests/fuzz/fuzz_model.h), the tokenizer inputs through tests/fuzz/fuzz_tokenizer.h. Run from
 * the repo root (or set SP_FUZZ_REGRESSIONS). */
#include "../fuzz/fuzz_targets.h"
#include "../fuzz/fuzz_model.h"
#include "../fuzz/fuzz_tokenizer.h"
#include "check.h"
#include "files.h"

#include <dirent.h>

typedef void (*fuzz_fn)(const uint8_t *, size_t);

static int replay_dir(const char *root, const char *target, fuzz_fn fn) {
    char dir[1024];
    snprintf(dir, sizeof(dir), "%s/%s", root, target);
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "cannot open %s (run from the repo root)\n", dir);
        check_failures++;
        return 0;
    }
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') continue;
        char path[2048];
        snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        size_t size = 0;
        unsigned char *buf = test_read_file(path, &size);
        if (!buf) { fprintf(stderr, "cannot read %s\n", path); check_failures++; continue; }
        /* an exactly-sized copy, as libFuzzer passes it, so ASan sees one byte past the end */
        unsigned char *exact = (unsigned char *)malloc(size ? size : 1);
        memcpy(exact, buf, size);
        fn(exact, size);
        free(exact);
        free(buf);
        n++;
    }
    closedir(d);
    printf("%s: replayed %d inputs\n", target, n);
    return n;
}

int main(void) {
    const char *root = getenv("SP_FUZZ_REGRESSIONS");
    if (!root || !root[0]) root = "tests/fuzz/regressions";
    CHECK(replay_dir(root, "gguf", fuzz_gguf_one) > 0);
    CHECK(replay_dir(root, "safetensors", fuzz_safetensors_one) > 0);
    CHECK(replay_dir(root, "json", fuzz_json_one) > 0);
    CHECK(replay_dir(root, "model", fuzz_model_one) > 0);
    CHECK(replay_dir(root, "tokenizer", fuzz_tokenizer_one) > 0);
    CHECK_DONE();
}
