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
size_t sp_heap_used(void) { struct mallinfo2 mi = mallinfo2(); return mi.uordblks + mi.hblkhd; } /* + mmapped blocks */
size_t sp_heap_unused(void) { return mallinfo2().fordblks; }
#else
size_t sp_heap_used(void) { return 0; }
size_t sp_heap_unused(void) { return 0; }
#endif

/* wasm32 memory: at most 65536 pages of 64 KiB. Natively the same ceiling is applied to what
 * malloc has handed out, so that both builds refuse the same models. */
#define SP_HEAP_MAX 4294967296.0

double sp_heap_room(void) {
#if defined(__EMSCRIPTEN__)
    const double room = SP_HEAP_MAX - (double)__builtin_wasm_memory_size(0) * 65536.0 + (double)sp_heap_unused();
#else
    const double room = SP_HEAP_MAX - (double)sp_heap_used();
#endif
    return room > 0 ? room : 0;
}
