/* transpose.h - the engine's one block transpose, for the kernels that put a block's columns in
 * vector lanes: the own matrix products (a linear's weight, stored [N][K], packed as k rows) and
 * the attention pair kernels (keys, values and queries, [N, dh] read in place, as dh rows). */
#ifndef ATTNCAST_TRANSPOSE_H
#define ATTNCAST_TRANSPOSE_H

#include <stdbool.h>
#include <stdint.h>

/* dst[c * ldd + r] = src[r * lds + c] for r < rows, c < cols, and 0 for rows <= r < padded_rows
 * (rows <= padded_rows). Tiles go through in-register transposes: 16 x 16 where the CPU has
 * AVX-512, whole 8 x 8 ones where it has AVX2; values are copied, never rounded, so every path
 * gives the same bits. */
void ac_transpose_rows(const float *src, int64_t lds, int rows, int cols, float *dst, int64_t ldd,
                       int padded_rows);

/* For the tests: use at most the named path ("avx512", "avx2", "portable"; NULL: the widest the
 * CPU has) from now on. False for an unknown name. Not thread-safe: call it between runs. */
bool ac_transpose_force_isa(const char *name);

#endif
