/* shared.h - locate and read files of ../shared (the real models and data) for C tests.
 * The directory is $SP_SHARED, else ../shared relative to the working directory (the repo root).
 * A missing file is a test failure, never a skip. */
#ifndef SP_TEST_SHARED_H
#define SP_TEST_SHARED_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>

static const char *shared_dir(void) {
    const char *d = getenv("SP_SHARED");
    return d && *d ? d : "../shared";
}

/* malloc'd file contents (plus a NUL), or NULL with a message on stderr. */
static uint8_t *shared_read(const char *rel, size_t *size) {
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", shared_dir(), rel);
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "missing shared file: %s (set SP_SHARED)\n", path); return NULL; }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = (uint8_t *)malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) { fclose(f); free(buf); return NULL; }
    fclose(f);
    buf[n] = 0;
    *size = (size_t)n;
    return buf;
}
#endif
