/* transpose.c - ac_transpose_rows (transpose.h): rows of a block become its columns, 16 x 16 tiles
 * at a time in registers where the CPU has AVX-512 (masked loads and stores: any tile, cut
 * short or not, is one pass), 8 x 8 tiles where it has AVX2, one value at a time elsewhere. */
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

#if AC_TRANSPOSE_X86
/* dst[c * ldd + r] = src[r * lds + c] for r < rows, c < cols, 0 for rows <= r < padded_rows, a
 * tile of at most 16 x 16: rows of 16 lanes (zero past cols, and past rows), four rounds of
 * shuffles, columns stored under a mask of padded_rows lanes. */
__attribute__((target("avx512f"))) static void transpose16x16(const float *src, int64_t lds,
                                                              int rows, int cols, float *dst,
                                                              int64_t ldd, int padded_rows) {
    __mmask16 col_mask = (__mmask16)((1u << cols) - 1u);
    __mmask16 row_mask = (__mmask16)((1u << padded_rows) - 1u);
    __m512 r[16], t[16];
    for (int i = 0; i < 16; i++)
        r[i] = i < rows ? _mm512_maskz_loadu_ps(col_mask, src + i * lds) : _mm512_setzero_ps();
    /* within each 128-bit lane k (columns 4k .. 4k + 3): pairs of rows interleaved, then
     * t[4g + j] holds column 4k + j of rows 4g .. 4g + 3 */
    for (int i = 0; i < 16; i += 2) {
        __m512 lo = _mm512_unpacklo_ps(r[i], r[i + 1]), hi = _mm512_unpackhi_ps(r[i], r[i + 1]);
        r[i] = lo;
        r[i + 1] = hi;
    }
    for (int g = 0; g < 16; g += 4) {
        t[g] = _mm512_shuffle_ps(r[g], r[g + 2], 0x44);
        t[g + 1] = _mm512_shuffle_ps(r[g], r[g + 2], 0xee);
        t[g + 2] = _mm512_shuffle_ps(r[g + 1], r[g + 3], 0x44);
        t[g + 3] = _mm512_shuffle_ps(r[g + 1], r[g + 3], 0xee);
    }
    /* column 4k + j gathers 128-bit lane k of t[j], t[4 + j], t[8 + j], t[12 + j] */
    for (int j = 0; j < 4; j++) {
        __m512 ab_lo = _mm512_shuffle_f32x4(t[j], t[4 + j], 0x44);
        __m512 ab_hi = _mm512_shuffle_f32x4(t[j], t[4 + j], 0xee);
        __m512 cd_lo = _mm512_shuffle_f32x4(t[8 + j], t[12 + j], 0x44);
        __m512 cd_hi = _mm512_shuffle_f32x4(t[8 + j], t[12 + j], 0xee);
        __m512 col[4] = {
            _mm512_shuffle_f32x4(ab_lo, cd_lo, 0x88), _mm512_shuffle_f32x4(ab_lo, cd_lo, 0xdd),
            _mm512_shuffle_f32x4(ab_hi, cd_hi, 0x88), _mm512_shuffle_f32x4(ab_hi, cd_hi, 0xdd)};
        for (int k = 0; k < 4; k++)
            if (4 * k + j < cols) _mm512_mask_storeu_ps(dst + (4 * k + j) * ldd, row_mask, col[k]);
    }
}
#endif

/* The widest path allowed: 2 AVX-512, 1 AVX2, 0 one value at a time (ac_transpose_force_isa). */
static int g_widest = 2;

bool ac_transpose_force_isa(const char *name) {
    int level = !name                       ? 2
                : !strcmp(name, "avx512")   ? 2
                : !strcmp(name, "avx2")     ? 1
                : !strcmp(name, "portable") ? 0
                                            : -1;
    if (level < 0) return false;
    g_widest = level;
    return true;
}

void ac_transpose_rows(const float *src, int64_t lds, int rows, int cols, float *dst, int64_t ldd,
                       int padded_rows) {
    int c8 = 0;
#if AC_TRANSPOSE_X86
    if (g_widest >= 2 && __builtin_cpu_supports("avx512f")) {
        for (int r0 = 0; r0 < padded_rows; r0 += 16)
            for (int c0 = 0; c0 < cols; c0 += 16) {
                int tr = rows - r0 < 0 ? 0 : rows - r0 < 16 ? rows - r0 : 16;
                int tc = cols - c0 < 16 ? cols - c0 : 16;
                int tp = padded_rows - r0 < 16 ? padded_rows - r0 : 16;
                transpose16x16(src + (int64_t)r0 * lds + c0, lds, tr, tc,
                               dst + (int64_t)c0 * ldd + r0, ldd, tp);
            }
        return;
    }
    if (g_widest >= 1 && __builtin_cpu_supports("avx2")) {
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
