/* test_gemm.c - ac_gemm and its backends (include/attncast/gemm.h): the own kernels match the
 * one-element-at-a-time reference bit for bit, for every kernel version this CPU runs, every
 * transpose, beta, padded leading dimension and edge of the register blocks; split across
 * threads they give the same bits; OpenBLAS agrees with them within float32 round-off; the
 * backend switch, its names and the trace of products. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attncast/gemm.h"
#include "attncast/rng.h"
#include "attncast/threads.h"
#include "tensor/gemm_internal.h"

static const char *const ISAS[] = {"avx512", "avx2", "portable"};

/* n floats uniform in [-1, 1) from rng, in a block with 64-byte alignment. */
static float *random_floats(ac_rng *rng, size_t n) {
    float *x = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64 + 64);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++) x[i] = ac_rng_uniform_range(rng, -1.0f, 1.0f);
    return x;
}

typedef struct product {
    bool ta, tb;
    int M, N, K, lda, ldb, ldc;
    float beta;
    float *A, *B, *C;
} product;

/* A product of the given geometry with random operands; leading dimensions padded by pad. */
static product make_product(ac_rng *rng, bool ta, bool tb, int M, int N, int K, int pad,
                            float beta) {
    product p = {.ta = ta, .tb = tb, .M = M, .N = N, .K = K, .beta = beta};
    p.lda = (ta ? M : K) + pad;
    p.ldb = (tb ? K : N) + pad;
    p.ldc = N + pad;
    if (p.lda < 1) p.lda = 1;
    if (p.ldb < 1) p.ldb = 1;
    p.A = random_floats(rng, (size_t)p.lda * (size_t)(ta ? K : M) + 1);
    p.B = random_floats(rng, (size_t)p.ldb * (size_t)(tb ? N : K) + 1);
    p.C = random_floats(rng, (size_t)p.ldc * (size_t)M + 1);
    return p;
}

static void free_product(product *p) {
    free(p->A);
    free(p->B);
    free(p->C);
}

static float *copy_c(const product *p) {
    size_t n = (size_t)p->ldc * (size_t)p->M + 1;
    float *c = malloc(n * sizeof(float));
    assert_non_null(c);
    memcpy(c, p->C, n * sizeof(float));
    return c;
}

/* C from the own kernels and from the reference, compared bit for bit (padding included: the
 * kernels must not write outside the N columns). */
static void check_own_matches_reference(const product *p) {
    float *own = copy_c(p), *ref = copy_c(p);
    ac_gemm_own(p->ta, p->tb, p->M, p->N, p->K, p->A, p->lda, p->B, p->ldb, p->beta, own, p->ldc);
    ac_gemm_reference(p->ta, p->tb, p->M, p->N, p->K, p->A, p->lda, p->B, p->ldb, p->beta, ref,
                      p->ldc);
    size_t n = (size_t)p->ldc * (size_t)p->M + 1;
    if (memcmp(own, ref, n * sizeof(float)) != 0)
        fail_msg("own kernels (%s) differ from the reference: M %d N %d K %d ta %d tb %d beta %g",
                 ac_gemm_own_isa(), p->M, p->N, p->K, p->ta, p->tb, (double)p->beta);
    free(own);
    free(ref);
}

/* ac_gemm_linear on the own kernels (packed weight or not) against the bias rows and then the
 * reference with beta 1, bit for bit. */
static void check_linear_matches_reference(ac_rng *rng, int rows, int in, int out) {
    float *x = random_floats(rng, (size_t)rows * in), *W = random_floats(rng, (size_t)out * in);
    float *bias = random_floats(rng, (size_t)out);
    float *y = random_floats(rng, (size_t)rows * out), *yp = random_floats(rng, (size_t)rows * out);
    float *ref = malloc((size_t)rows * out * sizeof(float));
    assert_non_null(ref);
    for (int i = 0; i < rows; i++) memcpy(ref + (size_t)i * out, bias, (size_t)out * sizeof(float));
    ac_gemm_reference(false, true, rows, out, in, x, in, W, in, 1.0f, ref, out);
    ac_gemm_packed *packed = ac_gemm_pack(true, in, out, W, in);
    assert_true(packed != NULL || in == 0); /* nothing to pack without k */
    ac_gemm_set_backend(AC_GEMM_OWN);
    ac_gemm_linear(rows, in, out, x, W, NULL, bias, y);
    ac_gemm_linear(rows, in, out, x, W, packed, bias, yp);
    if (memcmp(y, ref, (size_t)rows * out * sizeof(float)) ||
        memcmp(yp, ref, (size_t)rows * out * sizeof(float)))
        fail_msg("ac_gemm_linear (%s) differs from the reference: %d x %d -> %d", ac_gemm_own_isa(),
                 rows, in, out);
    ac_gemm_packed_free(packed);
    free(x);
    free(W);
    free(bias);
    free(y);
    free(yp);
    free(ref);
}

static void test_every_kernel_matches_the_reference_bit_for_bit(void **state) {
    (void)state;
    int checked = 0;
    for (size_t v = 0; v < sizeof ISAS / sizeof ISAS[0]; v++) {
        if (!ac_gemm_force_isa(ISAS[v])) continue; /* this CPU cannot run it */
        checked++;
        ac_rng rng;
        ac_rng_seed(&rng, 11 + v, 0);
        /* the register blocks' edges (MR 4, 6, 12; NR 8, 16, 32), k blocks of 256 */
        static const int Ms[] = {1, 5, 6, 7, 12, 13, 25, 97};
        static const int Ns[] = {1, 7, 8, 16, 17, 31, 32, 33, 65};
        static const int Ks[] = {0, 1, 3, 64, 255, 256, 257, 600};
        static const float betas[] = {0.0f, 1.0f, 0.5f};
        for (int t = 0; t < 160; t++) {
            int M = Ms[ac_rng_below(&rng, 8)], N = Ns[ac_rng_below(&rng, 9)];
            int K = Ks[ac_rng_below(&rng, 8)];
            product p = make_product(&rng, ac_rng_below(&rng, 2), ac_rng_below(&rng, 2), M, N, K,
                                     (int)ac_rng_below(&rng, 3), betas[ac_rng_below(&rng, 3)]);
            check_own_matches_reference(&p);
            free_product(&p);
        }
        /* the linear map starts its chains from the bias row */
        check_linear_matches_reference(&rng, 29, 64, 40);
        check_linear_matches_reference(&rng, 7, 300, 96);
        check_linear_matches_reference(&rng, 50, 16, 12);
        check_linear_matches_reference(&rng, 13, 0, 5);
    }
    assert_true(ac_gemm_force_isa(NULL));
    assert_true(checked >= 1);
    assert_false(ac_gemm_force_isa("sse9"));
}

static void test_a_packed_b_gives_the_same_bits(void **state) {
    (void)state;
    ac_rng rng;
    ac_rng_seed(&rng, 21, 0);
    static const int Ns[] = {5, 16, 40, 96};
    static const int Ks[] = {7, 64, 300};
    for (int t = 0; t < 12; t++) {
        product p =
            make_product(&rng, t % 2, true, 37, Ns[t % 4], Ks[t % 3], 1, t % 3 ? 1.0f : 0.0f);
        ac_gemm_packed *packed = ac_gemm_pack(true, p.K, p.N, p.B, p.ldb);
        assert_non_null(packed);
        float *c1 = copy_c(&p), *c2 = copy_c(&p);
        ac_gemm_own(p.ta, true, p.M, p.N, p.K, p.A, p.lda, p.B, p.ldb, p.beta, c1, p.ldc);
        ac_gemm_own_packed(p.ta, p.M, p.A, p.lda, packed, p.beta, c2, p.ldc);
        assert_memory_equal(c1, c2, ((size_t)p.ldc * p.M + 1) * sizeof(float));
        ac_gemm_set_backend(AC_GEMM_OWN);
        assert_true(ac_gemm_packed_usable(packed));
        ac_gemm_set_backend(AC_GEMM_OPENBLAS);
        assert_false(ac_gemm_packed_usable(packed)); /* OpenBLAS reads B itself */
        ac_gemm_set_backend(AC_GEMM_OWN);
        free(c1);
        free(c2);
        ac_gemm_packed_free(packed);
        free_product(&p);
    }
    assert_null(ac_gemm_pack(true, 0, 4, NULL, 1));
}

static void test_beta_zero_never_reads_c(void **state) {
    (void)state;
    ac_rng rng;
    ac_rng_seed(&rng, 5, 0);
    product p = make_product(&rng, false, true, 30, 40, 50, 0, 0.0f);
    for (int i = 0; i < p.M * p.ldc; i++) p.C[i] = NAN;
    ac_gemm_own(p.ta, p.tb, p.M, p.N, p.K, p.A, p.lda, p.B, p.ldb, 0.0f, p.C, p.ldc);
    for (int i = 0; i < p.M * p.ldc; i++) assert_false(isnan(p.C[i]));
    free_product(&p);
}

static void test_threads_give_the_same_bits(void **state) {
    (void)state;
    ac_rng rng;
    ac_rng_seed(&rng, 9, 0);
    /* large enough to split its rows across threads */
    product p = make_product(&rng, false, true, 700, 96, 128, 1, 1.0f);
    float *two = copy_c(&p), *one = copy_c(&p);
    assert_int_equal(ac_threads_init(2, NULL), AC_OK);
    ac_gemm_own(p.ta, p.tb, p.M, p.N, p.K, p.A, p.lda, p.B, p.ldb, p.beta, two, p.ldc);
    assert_int_equal(ac_threads_init(1, NULL), AC_OK);
    ac_gemm_own(p.ta, p.tb, p.M, p.N, p.K, p.A, p.lda, p.B, p.ldb, p.beta, one, p.ldc);
    assert_memory_equal(two, one, (size_t)p.ldc * p.M * sizeof(float));
    free(two);
    free(one);
    free_product(&p);
}

static void test_openblas_agrees_within_round_off(void **state) {
    (void)state;
    ac_rng rng;
    ac_rng_seed(&rng, 3, 0);
    for (int t = 0; t < 8; t++) {
        bool ta = t & 1, tb = (t >> 1) & 1;
        product p = make_product(&rng, ta, tb, 77, 45, 300, 2, t < 4 ? 0.0f : 1.0f);
        float *own = copy_c(&p), *blas = copy_c(&p);
        ac_gemm_set_backend(AC_GEMM_OWN);
        ac_gemm(ta, tb, p.M, p.N, p.K, p.A, p.lda, p.B, p.ldb, p.beta, own, p.ldc);
        ac_gemm_set_backend(AC_GEMM_OPENBLAS);
        ac_gemm(ta, tb, p.M, p.N, p.K, p.A, p.lda, p.B, p.ldb, p.beta, blas, p.ldc);
        for (int i = 0; i < p.M; i++)
            for (int j = 0; j < p.N; j++) {
                /* |error| <= K eps sum |a b|; sum |a b| <= K for entries in [-1, 1] */
                double d = fabs((double)own[i * p.ldc + j] - (double)blas[i * p.ldc + j]);
                assert_true(d <= 300.0 * 300.0 * 1.2e-7);
                assert_true(d <= 1e-3);
            }
        free(own);
        free(blas);
        free_product(&p);
    }
}

static void test_linear_on_openblas_is_within_round_off(void **state) {
    (void)state;
    ac_rng rng;
    ac_rng_seed(&rng, 8, 0);
    int rows = 40, in = 130, out = 33;
    float *x = random_floats(&rng, (size_t)rows * in), *W = random_floats(&rng, (size_t)out * in);
    float *bias = random_floats(&rng, (size_t)out);
    float *own = random_floats(&rng, (size_t)rows * out),
          *blas = random_floats(&rng, (size_t)rows * out);
    ac_gemm_set_backend(AC_GEMM_OWN);
    ac_gemm_linear(rows, in, out, x, W, NULL, bias, own);
    ac_gemm_set_backend(AC_GEMM_OPENBLAS);
    ac_gemm_linear(rows, in, out, x, W, NULL, bias, blas);
    for (int i = 0; i < rows * out; i++) assert_true(fabsf(own[i] - blas[i]) < 1e-4f);
    ac_gemm_linear(rows, in, out, x, W, NULL, NULL, blas); /* no bias */
    ac_gemm_set_backend(AC_GEMM_OWN);
    ac_gemm_linear(rows, in, out, x, W, NULL, NULL, own);
    for (int i = 0; i < rows * out; i++) assert_true(fabsf(own[i] - blas[i]) < 1e-4f);
    free(x);
    free(W);
    free(bias);
    free(own);
    free(blas);
}

static void test_backend_names_and_trace(void **state) {
    (void)state;
    ac_gemm_backend b;
    assert_true(ac_gemm_backend_parse("own", &b));
    assert_int_equal(b, AC_GEMM_OWN);
    assert_true(ac_gemm_backend_parse("openblas", &b));
    assert_int_equal(b, AC_GEMM_OPENBLAS);
    assert_false(ac_gemm_backend_parse("blis", &b));
    assert_false(ac_gemm_backend_parse(NULL, &b));
    assert_string_equal(ac_gemm_backend_name(AC_GEMM_OWN), "own");
    assert_string_equal(ac_gemm_backend_name(AC_GEMM_OPENBLAS), "openblas");
    const char *isa = ac_gemm_own_isa();
    assert_true(strcmp(isa, "avx512") == 0 || strcmp(isa, "avx2") == 0 ||
                strcmp(isa, "portable") == 0);

    float a[6] = {1, 2, 3, 4, 5, 6}, b2[6] = {1, 0, 0, 1, 1, 1}, c[4];
    ac_gemm_call calls[1];
    int count = -1;
    ac_gemm_trace(calls, 1, &count);
    assert_int_equal(count, 0);
    ac_gemm(false, false, 2, 2, 3, a, 3, b2, 2, 0.0f, c, 2); /* [2x3] [3x2] */
    ac_gemm(true, false, 3, 3, 2, a, 3, a, 3, 0.0f, (float[9]){0}, 3);
    ac_gemm_trace(NULL, 0, NULL);
    ac_gemm(false, false, 2, 2, 3, a, 3, b2, 2, 0.0f, c, 2);
    assert_int_equal(count, 2); /* both counted, the first stored */
    assert_false(calls[0].trans_a);
    assert_int_equal(calls[0].M, 2);
    assert_int_equal(calls[0].N, 2);
    assert_int_equal(calls[0].K, 3);
    assert_int_equal(calls[0].lda, 3);
    /* [1 2 3; 4 5 6] [1 0; 0 1; 1 1] = [4 5; 10 11] */
    assert_true(c[0] == 4.0f && c[1] == 5.0f && c[2] == 10.0f && c[3] == 11.0f);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kernel_matches_the_reference_bit_for_bit),
        cmocka_unit_test(test_a_packed_b_gives_the_same_bits),
        cmocka_unit_test(test_beta_zero_never_reads_c),
        cmocka_unit_test(test_threads_give_the_same_bits),
        cmocka_unit_test(test_openblas_agrees_within_round_off),
        cmocka_unit_test(test_linear_on_openblas_is_within_round_off),
        cmocka_unit_test(test_backend_names_and_trace),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
