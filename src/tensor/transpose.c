/* transpose.c - ac_transpose_rows (transpose.h): rows of a block become its columns, 8 x 8 tiles
 * at a time in registers where the CPU has AVX2, one value at a time elsewhere. */
#include "transpose.h"

#include <stdbool.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define AC_TRANSPOSE_X86 1
#include <immintrin.h>
#else
#define AC_TRANSPOSE_X86 0
#endif

#if AC_TRANSPOSE_X86
/* dst[c * ldd + r] = src[r * lds + c] for an 8 x 8 tile. */
__attribute__((target("avx2"))) static void transpose8x8(const float *src, int64_t lds, float *dst,
                                                         int64_t ldd) {
    __m256 r0 = _mm256_loadu_ps(src), r1 = _mm256_loadu_ps(src + lds),
           r2 = _mm256_loadu_ps(src + 2 * lds), r3 = _mm256_loadu_ps(src + 3 * lds),
           r4 = _mm256_loadu_ps(src + 4 * lds), r5 = _mm256_loadu_ps(src + 5 * lds),
           r6 = _mm256_loadu_ps(src + 6 * lds), r7 = _mm256_loadu_ps(src + 7 * lds);
    __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1),
           t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3),
           t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5),
           t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xee),
           u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xee),
           u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xee),
           u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xee);
    _mm256_storeu_ps(dst + 0 * ldd, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(dst + 1 * ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(dst + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(dst + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(dst + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(dst + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(dst + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(dst + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
}
#endif

void ac_transpose_rows(const float *src, int64_t lds, int rows, int cols, float *dst, int64_t ldd,
                       int padded_rows) {
    int c8 = 0;
#if AC_TRANSPOSE_X86
    if (__builtin_cpu_supports("avx2")) {
        c8 = cols / 8 * 8;
        int r8 = padded_rows / 8 * 8; /* rows in whole tiles */
        for (int r0 = 0; r0 < r8; r0 += 8) {
            int live = rows - r0 < 0 ? 0 : rows - r0 < 8 ? rows - r0 : 8;
            for (int c0 = 0; c0 < c8; c0 += 8) {
                if (live == 8) {
                    transpose8x8(src + r0 * lds + c0, lds, dst + c0 * ldd + r0, ldd);
                } else { /* fewer than 8 rows left: through a tile padded with zeros */
                    float tile[64] = {0};
                    for (int r = 0; r < live; r++)
                        memcpy(tile + r * 8, src + (r0 + r) * lds + c0, 8 * sizeof(float));
                    transpose8x8(tile, 8, dst + c0 * ldd + r0, ldd);
                }
            }
        }
        for (int c = 0; c < c8; c++) /* rows past the last whole tile */
            for (int r = r8; r < padded_rows; r++)
                dst[c * ldd + r] = r < rows ? src[r * lds + c] : 0.0f;
    }
#endif
    for (int c = c8; c < cols; c++) {
        float *row = dst + c * ldd;
        for (int r = 0; r < rows; r++) row[r] = src[r * lds + c];
        for (int r = rows; r < padded_rows; r++) row[r] = 0.0f;
    }
}
