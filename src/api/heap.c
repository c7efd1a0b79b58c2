/* heap.c - allocator statistics for the JS side: leak checks (tests/faults.test.js) and the
 * "does it fit" checks made before big allocations (web/worker.js). Under Emscripten these are
 * dlmalloc's mallinfo(); natively glibc's mallinfo2() where it exists, else 0. */
#include "softprompt.h"

#if defined(__EMSCRIPTEN__) || defined(__GLIBC__)
#include <malloc.h>
#endif

#if defined(__EMSCRIPTEN__)
size_t sp_heap_used(void) { return (size_t)mallinfo().uordblks; }
size_t sp_heap_unused(void) { return (size_t)mallinfo().fordblks; }
#elif defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
size_t sp_heap_used(void) { return mallinfo2().uordblks; }
size_t sp_heap_unused(void) { return mallinfo2().fordblks; }
#else
size_t sp_heap_used(void) { return 0; }
size_t sp_heap_unused(void) { return 0; }
#endif
