/* test_transpose.c - ac_transpose_rows (src/tensor/transpose.h): every path this CPU runs
 * (AVX-512 16 x 16 tiles, AVX2 8 x 8 tiles, one value at a time) gives exactly the transpose,
 * with zeros in the padding rows, for blocks cut short at every edge of their tiles, strided
 * sources and destinations, and leaves everything outside the destination block untouched. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attncast/rng.h"
#include "tensor/transpose.h"

static const char *const PATHS[] = {"avx512", "avx2", "portable"};

#define CANARY (-777.0f)

/* One geometry: the source is rows x cols inside rows of lds floats, the destination cols rows
 * of ldd floats (padded_rows of them written); both surrounded by canaries. */
static void check_one(ac_rng *rng, int rows, int cols, int padded_rows, int lds_pad, int ldd_pad) {
    int lds = cols + lds_pad, ldd = padded_rows + ldd_pad;
    size_t src_n = (size_t)(rows > 0 ? rows : 1) * lds, dst_n = (size_t)cols * ldd + 32;
    float *src = malloc(src_n * sizeof(float)), *dst = malloc(dst_n * sizeof(float));
    assert_non_null(src);
    assert_non_null(dst);
    for (size_t i = 0; i < src_n; i++) src[i] = ac_rng_uniform_range(rng, -1.0f, 1.0f);
    for (size_t i = 0; i < dst_n; i++) dst[i] = CANARY;
    ac_transpose_rows(src, lds, rows, cols, dst, ldd, padded_rows);
    for (int c = 0; c < cols; c++)
        for (int r = 0; r < ldd; r++) {
            float got = dst[(size_t)c * ldd + r];
            float want = r < rows ? src[(size_t)r * lds + c] : r < padded_rows ? 0.0f : CANARY;
            if (memcmp(&got, &want, sizeof got) != 0)
                fail_msg("rows %d cols %d padded %d lds %d ldd %d: dst[%d][%d] = %g, want %g", rows,
                         cols, padded_rows, lds, ldd, c, r, (double)got, (double)want);
        }
    for (size_t i = (size_t)cols * ldd; i < dst_n; i++) assert_true(dst[i] == CANARY);
    free(src);
    free(dst);
}

static void test_every_path_gives_the_exact_transpose(void **state) {
    (void)state;
    ac_rng rng;
    ac_rng_seed(&rng, 7, 0);
    static const int sizes[] = {1, 3, 7, 8, 9, 11, 15, 16, 17, 24, 31, 33, 40};
    int n = (int)(sizeof sizes / sizeof sizes[0]);
    for (int p = 0; p < 3; p++) {
        assert_true(ac_transpose_force_isa(PATHS[p]));
        for (int a = 0; a < n; a++)
            for (int b = 0; b < n; b++) {
                int rows = sizes[a], cols = sizes[b];
                check_one(&rng, rows, cols, rows, 0, 0);                  /* tight */
                check_one(&rng, rows, cols, (rows + 15) / 16 * 16, 5, 0); /* padded to 16 */
                check_one(&rng, rows, cols, rows + 3, 1, 2);              /* odd padding */
            }
        check_one(&rng, 0, 5, 16, 0, 0); /* no source rows: all zeros */
    }
    assert_true(ac_transpose_force_isa(NULL));
    assert_false(ac_transpose_force_isa("sse9"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_path_gives_the_exact_transpose),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
