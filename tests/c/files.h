/* files.h - test helpers to read files, in particular the real models in the shared folder
 * (env SP_SHARED, else "../shared" relative to the current directory, the repo root).
 * When the shared folder exists, a missing file is a test FAILURE, not a skip.
 * Under the wasm build (NODERAWFS) getenv does not see the host environment, so the
 * "../shared" fallback is what is used there. */
#ifndef SP_TEST_FILES_H
#define SP_TEST_FILES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static inline const char *test_shared_dir(void) {
    const char *env = getenv("SP_SHARED");
    return (env && env[0]) ? env : "../shared";
}

static inline int test_shared_exists(void) {
    struct stat st;
    return stat(test_shared_dir(), &st) == 0 && S_ISDIR(st.st_mode);
}

/* Read a whole file into malloc'd memory; NULL if it cannot be read. */
static inline unsigned char *test_read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    if (fseek(f, 0, SEEK_END) != 0) { fclose(f); return NULL; }
    long n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) { fclose(f); return NULL; }
    unsigned char *p = (unsigned char *)malloc((size_t)n + 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) { free(p); p = NULL; }
    fclose(f);
    if (p) *size = (size_t)n;
    return p;
}

/* Read <shared>/<rel>. Returns NULL and prints a note when the shared folder is absent
 * (the caller skips); prints an error and bumps check_failures when the folder exists but
 * the file is missing. Needs check.h included first. */
static inline unsigned char *test_read_shared(const char *rel, size_t *size) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", test_shared_dir(), rel);
    if (!test_shared_exists()) {
        fprintf(stderr, "note: shared folder %s not found, skipping %s\n", test_shared_dir(), rel);
        return NULL;
    }
    unsigned char *p = test_read_file(path, size);
    if (!p) {
        fprintf(stderr, "%s:%d: shared file missing or unreadable: %s\n", __FILE__, __LINE__, path);
        check_failures++;
    }
    return p;
}

#endif
