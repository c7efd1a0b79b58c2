/* check.h - a tiny assertion helper for the C unit tests (native ASan/UBSan and wasm builds).
 * CHECK failures print file:line and the expression, and make main return 1. */
#ifndef SP_CHECK_H
#define SP_CHECK_H
#include <stdio.h>
#include <math.h>

static int check_failures = 0;
#define CHECK(cond) do { if (!(cond)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); check_failures++; } } while (0)
#define CHECK_MSG(cond, ...) do { if (!(cond)) { fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); check_failures++; } } while (0)
#define CHECK_NEAR(a, b, tol) do { double _a = (a), _b = (b); if (!(fabs(_a - _b) <= (tol))) { fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s=%g %s=%g tol=%g\n", __FILE__, __LINE__, #a, _a, #b, _b, (double)(tol)); check_failures++; } } while (0)
#define CHECK_DONE() do { if (check_failures) { fprintf(stderr, "%d check(s) failed\n", check_failures); return 1; } printf("ok\n"); return 0; } while (0)
#endif
