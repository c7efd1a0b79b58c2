/* probe.h - machine probes and kernel benchmarks (for `npm run bench` and tuning).
 *
 * All timings use sp_now_ms. Under V8 a wasm function first runs in the baseline
 * compiler and is only replaced by optimised code on a later call, so every probe calls
 * short chunks repeatedly and reports the best chunk, never one long call. */
#ifndef SP_PROBE_H
#define SP_PROBE_H

#include "kernels.h"

/* Milliseconds from a monotonic clock (CLOCK_MONOTONIC, in wasm and natively). */
double sp_now_ms(void);

/* GFLOP/s of a 12-accumulator f32x4 mul+add loop (scalar natively): the roof for f32 kernels.
 * Runs for about `seconds`. */
double sp_probe_peak_gflops(double seconds);

/* The default probe sizes are larger than the part of the last-level cache one process gets
 * on the machines this was measured on (a shared 480 MB L3): there a copy of 8-32 MiB runs
 * at about twice the speed of one of 128 MiB or more, which is memory's. A memory probe must
 * not be served by the cache (STREAM's rule), or a decode that streams from memory is
 * compared with the cache's bandwidth. */
#define SP_PROBE_COPY_BYTES ((size_t)256 << 20) /* per buffer: 512 MiB touched */
#define SP_PROBE_READ_BYTES ((size_t)512 << 20)

/* One thread moves more bytes per second the more sequential streams it has going at once:
 * measured here (Node, one thread, 1 / 2 / 4 / 8 / 16 interleaved streams), a copy of 256 MiB
 * 11.4 / 12.9 / 13.8 / 14.7 / 13.6 GB/s and a read of 512 MiB 10.6 / 12.3 / 13.9 / 14.8 / 14.3.
 * The memory probes alternate passes of 1 and SP_PROBE_STREAMS streams (per thread, in each
 * call of SP_PROBE_PIECE bytes) and report the best pass: the roof that the decode kernels, which
 * read their rows in streams (wasmsimd.h, "Streams"), are measured against. */
#define SP_PROBE_STREAMS 8
#define SP_PROBE_PIECE ((size_t)8 << 20)

/* Copy bandwidth in GB/s, counting bytes read plus bytes written, over a `bytes` buffer
 * (0 = SP_PROBE_COPY_BYTES), for about `seconds`: the best of passes in which every thread of `p` (NULL:
 * the caller alone) copies its own slice at the same time, timed from the first thread's
 * start to the last one's end. Returns -1 if the buffers cannot be allocated. */
double sp_probe_copy_gbs(sp_pool *p, size_t bytes, double seconds);

/* Read bandwidth in GB/s of a plain streaming read (16-byte loads, four accumulators, streams as
 * above) over a
 * `bytes` buffer (0 = SP_PROBE_READ_BYTES), for about `seconds`: what a decode kernel that reads every
 * weight once can reach at best. Returns -1 if the buffer cannot be allocated. */
double sp_probe_read_gbs(size_t bytes, double seconds);

/* GFLOP/s (2*n*rows*cols per call) of sp_matmul (Y = X·Wᵀ; n == 1: sp_matvec_decode, the
 * decoding path) / sp_matmul_dx (dX += dY·W) on random weights of `type`, for about `seconds`. Returns -1 on bad arguments
 * (unsupported type, cols not a multiple of 32 for quantized types) or out of memory. */
double sp_bench_matmul_gflops(sp_pool *p, const sp_kernels *k, uint32_t type, int32_t n, int32_t rows, int32_t cols, double seconds);
double sp_bench_matmul_dx_gflops(sp_pool *p, const sp_kernels *k, uint32_t type, int32_t n, int32_t rows, int32_t cols, double seconds);

/* Bytes of a rows x cols weight of `type` (what a matvec streams), 0 if invalid. */
size_t sp_bench_weight_bytes(uint32_t type, int32_t rows, int32_t cols);

#endif
