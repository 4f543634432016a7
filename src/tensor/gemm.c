/* gemm.c - ac_gemm: the engine's one matrix product, on OpenBLAS or on attncast's own kernels
 * (include/attncast/gemm.h states what each gives).
 *
 * The own kernels follow the layered scheme of BLIS, cut down for the model's shapes:
 *   - B is copied, kc rows at a time, into panels of NR columns (zero beyond N), so that the
 *     micro-kernel reads it with aligned vector loads (a weight that no longer changes is
 *     copied once for good: ac_gemm_pack);
 *   - A is read in place: the micro-kernel broadcasts op(A)[i][k] straight from A for MR rows.
 *     With K and N of 16 to 256, copying A would cost a quarter of the multiply-adds;
 *   - the micro-kernel holds an MR x NR block of C in registers, starts it from beta C (or from
 *     a linear's bias row) and adds kc products per element in k order, then stores it; the
 *     next kc rows of B continue the same chains from the stored values, so blocking k changes
 *     no bit.
 * MR x NR is 12 x 32 on AVX-512 (24 accumulators; 24 x 16 for products at most 16 wide), 6 x 16
 * on AVX2 (12); the last columns are masked, the last rows run a smaller MR. A portable loop,
 * one element at a time with fmaf, serves other CPUs and is the tests' reference.
 */
#include "attncast/gemm.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attncast/ops.h"
#include "core/clock.h"
#include "gemm_internal.h"
#include "transpose.h"

#if defined(__x86_64__) && defined(__GNUC__)
#define AC_GEMM_X86 1
#include <immintrin.h>
#else
#define AC_GEMM_X86 0
#endif

#ifndef ATTNCAST_GEMM_DEFAULT
#define ATTNCAST_GEMM_DEFAULT AC_GEMM_OPENBLAS
#endif

/* ---- backend choice ---- */
static atomic_int g_backend = -1; /* -1: not decided yet */

static ac_gemm_backend backend_now(void) {
    int b = atomic_load_explicit(&g_backend, memory_order_relaxed);
    if (b >= 0) return (ac_gemm_backend)b;
    ac_gemm_backend chosen = ATTNCAST_GEMM_DEFAULT;
    const char *env = getenv("ATTNCAST_GEMM");
    if (env && *env) (void)ac_gemm_backend_parse(env, &chosen); /* unknown names: the default */
    atomic_store(&g_backend, (int)chosen);
    return chosen;
}

ac_gemm_backend ac_gemm_get_backend(void) {
    return backend_now();
}

void ac_gemm_set_backend(ac_gemm_backend backend) {
    atomic_store(&g_backend, (int)backend);
}

const char *ac_gemm_backend_name(ac_gemm_backend backend) {
    return backend == AC_GEMM_OWN ? "own" : "openblas";
}

bool ac_gemm_backend_parse(const char *name, ac_gemm_backend *out) {
    if (!name) return false;
    if (strcmp(name, "openblas") == 0)
        *out = AC_GEMM_OPENBLAS;
    else if (strcmp(name, "own") == 0)
        *out = AC_GEMM_OWN;
    else
        return false;
    return true;
}

/* ---- accounting (ac_blas_stats of ops.h) and tracing ---- */
static atomic_bool stats_on;
static atomic_llong stats_ns, stats_flops, stats_calls;
static ac_gemm_call *trace_calls;
static int trace_cap;
static int *trace_count;

void ac_blas_stats_enable(bool on) {
    atomic_store(&stats_on, on);
}

ac_blas_stats ac_blas_stats_take(void) {
    ac_blas_stats s = {.seconds = (double)atomic_exchange(&stats_ns, 0) * 1e-9,
                       .flops = (double)atomic_exchange(&stats_flops, 0),
                       .calls = atomic_exchange(&stats_calls, 0)};
    return s;
}

void ac_gemm_trace(ac_gemm_call *calls, int cap, int *count) {
    trace_calls = calls;
    trace_cap = cap;
    trace_count = count;
    if (count) *count = 0;
}

/* ---- the reference: one element at a time ---- */
static inline float a_at(const float *A, int64_t rsa, int64_t csa, int i, int k) {
    return A[i * rsa + k * csa];
}

void ac_gemm_reference(bool trans_a, bool trans_b, int M, int N, int K, const float *A, int lda,
                       const float *B, int ldb, float beta, float *C, int ldc) {
    int64_t rsa = trans_a ? 1 : lda, csa = trans_a ? lda : 1;
    int64_t rsb = trans_b ? 1 : ldb, csb = trans_b ? ldb : 1; /* B(k, j) = B[k rsb + j csb] */
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float *c = C + (int64_t)i * ldc + j;
            float acc = beta == 0.0f ? 0.0f : beta == 1.0f ? *c : beta * *c;
            for (int k = 0; k < K; k++)
                acc = fmaf(a_at(A, rsa, csa, i, k), B[k * rsb + j * csb], acc);
            *c = acc;
        }
}

/* ---- packing B ---- */
/* dst[p][k][jj] = op(B)(k0 + k, p NR + jj) for the kc rows from k0 and every column, 0 beyond N:
 * panels of NR columns, each kc x NR, row after row. A transposed B (a linear's weight, stored
 * [N][K]) goes through ac_transpose_rows (8 x 8 in-register transposes where the CPU has AVX2). */
static void pack_b(const float *B, int ldb, bool trans_b, int k0, int kc, int N, int nr,
                   float *restrict dst) {
    int panels = (N + nr - 1) / nr;
    for (int p = 0; p < panels; p++) {
        float *d = dst + (int64_t)p * kc * nr;
        int j0 = p * nr, w = N - j0 < nr ? N - j0 : nr;
        if (trans_b) {
            ac_transpose_rows(B + (int64_t)j0 * ldb + k0, ldb, w, kc, d, nr, nr);
            continue;
        }
        for (int k = 0; k < kc; k++) {
            const float *src = B + (int64_t)(k0 + k) * ldb + j0;
            float *row = d + (int64_t)k * nr;
            memcpy(row, src, (size_t)w * sizeof(float));
            for (int jj = w; jj < nr; jj++) row[jj] = 0.0f;
        }
    }
}

/* A buffer for packed B per thread, grown as needed and kept for the next call; freed when its
 * thread ends (a pthread key's destructor: worker threads come and go with the thread count). */
static _Thread_local float *pack_buf;
static _Thread_local size_t pack_cap;
static pthread_key_t pack_key;
static pthread_once_t pack_key_once = PTHREAD_ONCE_INIT;

static void pack_buffer_release(void *buf) {
    free(buf);
}

static void pack_key_create(void) {
    (void)pthread_key_create(&pack_key, pack_buffer_release);
}

static float *pack_buffer(size_t floats) {
    if (floats > pack_cap) {
        pthread_once(&pack_key_once, pack_key_create);
        free(pack_buf);
        size_t bytes = (floats * sizeof(float) + 63) / 64 * 64;
        pack_buf = aligned_alloc(64, bytes);
        pack_cap = pack_buf ? bytes / sizeof(float) : 0;
        (void)pthread_setspecific(pack_key, pack_buf);
    }
    return pack_buf;
}

/* How the micro-kernel starts its chains: from 0, from C, or from beta C. */
enum { START_ZERO, START_C, START_BETA_C, START_ROW };

/* ---- micro-kernels ---- */
/* Each computes C[0..mr)[0..cols) for one panel of B (cols <= NR): a(i, k) = a[i rsa + k csa],
 * bp the panel (kc x NR), c the block's first element. */
typedef void (*ukernel_fn)(int mr, int kc, const float *a, int64_t rsa, int64_t csa,
                           const float *bp, float *c, int64_t ldc, int cols, int start, float beta,
                           const float *row);

static void ukernel_portable(int mr, int kc, const float *a, int64_t rsa, int64_t csa,
                             const float *bp, float *c, int64_t ldc, int cols, int start,
                             float beta, const float *row) {
    enum { NR = 8 };
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < cols; j++) {
            float *ci = c + i * ldc + j;
            float acc = start == START_ZERO  ? 0.0f
                        : start == START_ROW ? row[j]
                        : start == START_C   ? *ci
                                             : beta * *ci;
            for (int k = 0; k < kc; k++) acc = fmaf(a[i * rsa + k * csa], bp[k * NR + j], acc);
            *ci = acc;
        }
}

#if AC_GEMM_X86
/* AVX-512: MR = 12 rows by NR = 32 columns (two vectors a row). */
#define MR512 12
#define NR512 32
__attribute__((target("avx512f"), always_inline)) static inline void
ukr512_body(const int mr, int kc, const float *a, int64_t rsa, int64_t csa, const float *bp,
            float *c, int64_t ldc, int cols, int start, float beta, const float *row) {
    __mmask16 m0 = cols >= 16 ? 0xffff : (__mmask16)((1u << cols) - 1u);
    __mmask16 m1 = cols >= 32 ? 0xffff : cols > 16 ? (__mmask16)((1u << (cols - 16)) - 1u) : 0;
    __m512 acc[MR512][2];
    __m512 r0 = _mm512_setzero_ps(), r1 = r0;
    if (start == START_ROW) {
        r0 = _mm512_maskz_loadu_ps(m0, row);
        r1 = _mm512_maskz_loadu_ps(m1, row + 16);
    }
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
        if (start == START_ZERO || start == START_ROW) {
            acc[i][0] = r0;
            acc[i][1] = r1;
        } else {
            acc[i][0] = _mm512_maskz_loadu_ps(m0, c + i * ldc);
            acc[i][1] = _mm512_maskz_loadu_ps(m1, c + i * ldc + 16);
            if (start == START_BETA_C) {
                __m512 bv = _mm512_set1_ps(beta);
                acc[i][0] = _mm512_mul_ps(acc[i][0], bv);
                acc[i][1] = _mm512_mul_ps(acc[i][1], bv);
            }
        }
    }
    for (int k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(bp + (int64_t)k * NR512);
        __m512 b1 = _mm512_load_ps(bp + (int64_t)k * NR512 + 16);
        const float *ak = a + k * csa;
#pragma GCC unroll 12
        for (int i = 0; i < mr; i++) {
            __m512 ai = _mm512_set1_ps(ak[i * rsa]);
            acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
        }
    }
#pragma GCC unroll 12
    for (int i = 0; i < mr; i++) {
        _mm512_mask_storeu_ps(c + i * ldc, m0, acc[i][0]);
        _mm512_mask_storeu_ps(c + i * ldc + 16, m1, acc[i][1]);
    }
}

#define UKR512_CASE(n)                                                                             \
    case n:                                                                                        \
        ukr512_body(n, kc, a, rsa, csa, bp, c, ldc, cols, start, beta, row);                       \
        break;

__attribute__((target("avx512f"))) static void
ukernel_avx512(int mr, int kc, const float *a, int64_t rsa, int64_t csa, const float *bp, float *c,
               int64_t ldc, int cols, int start, float beta, const float *row) {
    switch (mr) {
        UKR512_CASE(1)
        UKR512_CASE(2)
        UKR512_CASE(3)
        UKR512_CASE(4)
        UKR512_CASE(5)
        UKR512_CASE(6)
        UKR512_CASE(7)
        UKR512_CASE(8)
        UKR512_CASE(9) UKR512_CASE(10) UKR512_CASE(11) UKR512_CASE(12) default : break;
    }
}

/* AVX-512 for products 16 columns wide or less (a patch embedding's gradient): MR = 24 rows by
 * NR = 16 columns (one vector a row), where the 32-column kernel would waste half its work. */
#define MR512N 24
#define NR512N 16
__attribute__((target("avx512f"), always_inline)) static inline void
ukr512n_body(const int mr, int kc, const float *a, int64_t rsa, int64_t csa, const float *bp,
             float *c, int64_t ldc, int cols, int start, float beta, const float *row) {
    __mmask16 m0 = cols >= 16 ? 0xffff : (__mmask16)((1u << cols) - 1u);
    __m512 acc[MR512N];
    __m512 r0 = start == START_ROW ? _mm512_maskz_loadu_ps(m0, row) : _mm512_setzero_ps();
#pragma GCC unroll 24
    for (int i = 0; i < mr; i++) {
        if (start == START_ZERO || start == START_ROW) {
            acc[i] = r0;
        } else {
            acc[i] = _mm512_maskz_loadu_ps(m0, c + i * ldc);
            if (start == START_BETA_C) acc[i] = _mm512_mul_ps(acc[i], _mm512_set1_ps(beta));
        }
    }
    for (int k = 0; k < kc; k++) {
        __m512 b0 = _mm512_load_ps(bp + (int64_t)k * NR512N);
        const float *ak = a + k * csa;
#pragma GCC unroll 24
        for (int i = 0; i < mr; i++)
            acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(ak[i * rsa]), b0, acc[i]);
    }
#pragma GCC unroll 24
    for (int i = 0; i < mr; i++) _mm512_mask_storeu_ps(c + i * ldc, m0, acc[i]);
}

#define UKR512N_CASE(n)                                                                            \
    case n:                                                                                        \
        ukr512n_body(n, kc, a, rsa, csa, bp, c, ldc, cols, start, beta, row);                      \
        break;

__attribute__((target("avx512f"))) static void
ukernel_avx512_narrow(int mr, int kc, const float *a, int64_t rsa, int64_t csa, const float *bp,
                      float *c, int64_t ldc, int cols, int start, float beta, const float *row) {
    switch (mr) {
        UKR512N_CASE(1)
        UKR512N_CASE(2)
        UKR512N_CASE(3)
        UKR512N_CASE(4)
        UKR512N_CASE(5)
        UKR512N_CASE(6)
        UKR512N_CASE(7)
        UKR512N_CASE(8)
        UKR512N_CASE(9)
        UKR512N_CASE(10) UKR512N_CASE(11) UKR512N_CASE(12) UKR512N_CASE(13) UKR512N_CASE(14)
            UKR512N_CASE(15) UKR512N_CASE(16) UKR512N_CASE(17) UKR512N_CASE(18) UKR512N_CASE(19)
                UKR512N_CASE(20) UKR512N_CASE(21) UKR512N_CASE(22) UKR512N_CASE(23)
                    UKR512N_CASE(24) default : break;
    }
}

/* AVX2 + FMA: MR = 6 rows by NR = 16 columns (two vectors a row). */
#define MR256 6
#define NR256 16
__attribute__((target("avx2,fma"))) static inline __m256i mask256(int cols) {
    /* lane l is on when l < cols */
    __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(cols), lanes);
}

__attribute__((target("avx2,fma"), always_inline)) static inline void
ukr256_body(const int mr, int kc, const float *a, int64_t rsa, int64_t csa, const float *bp,
            float *c, int64_t ldc, int cols, int start, float beta, const float *row) {
    __m256i m0 = mask256(cols), m1 = mask256(cols - 8);
    __m256 acc[MR256][2];
    __m256 r0 = _mm256_setzero_ps(), r1 = r0;
    if (start == START_ROW) {
        r0 = _mm256_maskload_ps(row, m0);
        r1 = _mm256_maskload_ps(row + 8, m1);
    }
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++) {
        if (start == START_ZERO || start == START_ROW) {
            acc[i][0] = r0;
            acc[i][1] = r1;
        } else {
            acc[i][0] = _mm256_maskload_ps(c + i * ldc, m0);
            acc[i][1] = _mm256_maskload_ps(c + i * ldc + 8, m1);
            if (start == START_BETA_C) {
                __m256 bv = _mm256_set1_ps(beta);
                acc[i][0] = _mm256_mul_ps(acc[i][0], bv);
                acc[i][1] = _mm256_mul_ps(acc[i][1], bv);
            }
        }
    }
    for (int k = 0; k < kc; k++) {
        __m256 b0 = _mm256_load_ps(bp + (int64_t)k * NR256);
        __m256 b1 = _mm256_load_ps(bp + (int64_t)k * NR256 + 8);
        const float *ak = a + k * csa;
#pragma GCC unroll 6
        for (int i = 0; i < mr; i++) {
            __m256 ai = _mm256_broadcast_ss(ak + i * rsa);
            acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
            acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
        }
    }
#pragma GCC unroll 6
    for (int i = 0; i < mr; i++) {
        _mm256_maskstore_ps(c + i * ldc, m0, acc[i][0]);
        _mm256_maskstore_ps(c + i * ldc + 8, m1, acc[i][1]);
    }
}

#define UKR256_CASE(n)                                                                             \
    case n:                                                                                        \
        ukr256_body(n, kc, a, rsa, csa, bp, c, ldc, cols, start, beta, row);                       \
        break;

__attribute__((target("avx2,fma"))) static void
ukernel_avx2(int mr, int kc, const float *a, int64_t rsa, int64_t csa, const float *bp, float *c,
             int64_t ldc, int cols, int start, float beta, const float *row) {
    switch (mr) {
        UKR256_CASE(1)
        UKR256_CASE(2) UKR256_CASE(3) UKR256_CASE(4) UKR256_CASE(5) UKR256_CASE(6) default : break;
    }
}
#endif

/* A micro-kernel with its MR and NR, and the k rows packed per block (a B panel of kc x NR
 * floats, 16 to 32 KiB, stays in the level-1 cache while A's rows stream past it; 14 rows on
 * AVX-512 ran at two thirds of 12's speed, its accumulators spilling). */
typedef struct gemm_plan {
    ukernel_fn kernel;
    int mr, nr, kc;
} gemm_plan;

/* The kernels of one instruction set. */
typedef struct gemm_isa {
    const char *name;
    gemm_plan wide;
    gemm_plan narrow; /* for products no wider than narrow.nr (kernel NULL: none) */
} gemm_isa;

static const gemm_isa ISA_PORTABLE = {"portable", {ukernel_portable, 4, 8, 256}, {NULL, 0, 0, 0}};
#if AC_GEMM_X86
static const gemm_isa ISA_AVX512 = {
    "avx512", {ukernel_avx512, MR512, NR512, 256}, {ukernel_avx512_narrow, MR512N, NR512N, 256}};
static const gemm_isa ISA_AVX2 = {"avx2", {ukernel_avx2, MR256, NR256, 256}, {NULL, 0, 0, 0}};
#endif

/* The widest kernel this CPU runs, or the named one when it runs it too (NULL otherwise). */
static const gemm_isa *isa_pick(const char *name) {
    const gemm_isa *best = &ISA_PORTABLE;
#if AC_GEMM_X86
    bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    bool avx512 = __builtin_cpu_supports("avx512f");
    if (avx512)
        best = &ISA_AVX512;
    else if (avx2)
        best = &ISA_AVX2;
    if (name && strcmp(name, "avx512") == 0) return avx512 ? &ISA_AVX512 : NULL;
    if (name && strcmp(name, "avx2") == 0) return avx2 ? &ISA_AVX2 : NULL;
#endif
    if (name && strcmp(name, "portable") == 0) return &ISA_PORTABLE;
    return name ? NULL : best;
}

static _Atomic(const gemm_isa *) g_isa;

static const gemm_isa *isa_now(void) {
    const gemm_isa *isa = atomic_load_explicit(&g_isa, memory_order_relaxed);
    if (!isa) {
        isa = isa_pick(NULL);
        atomic_store(&g_isa, isa);
    }
    return isa;
}

bool ac_gemm_force_isa(const char *name) {
    const gemm_isa *isa = isa_pick(name);
    if (!isa && name) return false;
    atomic_store(&g_isa, isa);
    (void)ac_transpose_force_isa(name); /* packing a transposed B: the same instruction set */
    return true;
}

const char *ac_gemm_own_isa(void) {
    return isa_now()->name;
}

/* Rows of C handed to one thread at a time when a product is split across threads. */
#define GEMM_ROW_BLOCK 96
/* Below this many multiply-adds a product stays on the calling thread. */
#define GEMM_PARALLEL_MIN (1 << 21)

/* The plan the own kernels use for products N columns wide. */
static gemm_plan plan_for(int N) {
    const gemm_isa *isa = isa_now();
    return isa->narrow.kernel && N <= isa->narrow.nr ? isa->narrow : isa->wide;
}

/* C = beta C, for a product with no k. */
static void scale_c(int M, int N, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            float *c = C + (int64_t)i * ldc + j;
            *c = beta == 0.0f ? 0.0f : beta == 1.0f ? *c : beta * *c;
        }
}

/* One block of kc rows of B, packed at bp: C (+)= op(A)[:, k0 .. k0 + kc) bp, every row of C.
 * The first block starts each chain from bias[j] when bias is given, else from beta C. */
static void gemm_block(const gemm_plan *pl, int M, int N, int k0, int kc, bool trans_a,
                       const float *A, int lda, const float *bp, const float *bias, float beta,
                       float *C, int ldc) {
    int64_t rsa = trans_a ? 1 : lda, csa = trans_a ? lda : 1;
    int mr = pl->mr, nr = pl->nr, panels = (N + nr - 1) / nr;
    ukernel_fn kernel = pl->kernel;
    int row_blocks = (M + GEMM_ROW_BLOCK - 1) / GEMM_ROW_BLOCK;
    bool split = (double)M * N * kc >= GEMM_PARALLEL_MIN && row_blocks > 1;
    int start = k0 > 0         ? START_C
                : bias         ? START_ROW
                : beta == 1.0f ? START_C
                : beta == 0.0f ? START_ZERO
                               : START_BETA_C;
    const float *ak = A + k0 * csa;
#pragma omp parallel for schedule(static) if (split)
    for (int rb = 0; rb < row_blocks; rb++) {
        int i0 = rb * GEMM_ROW_BLOCK;
        int i1 = i0 + GEMM_ROW_BLOCK < M ? i0 + GEMM_ROW_BLOCK : M;
        for (int p = 0; p < panels; p++) {
            int j0 = p * nr, cols = N - j0 < nr ? N - j0 : nr;
            const float *panel = bp + (int64_t)p * kc * nr;
            const float *row = bias ? bias + j0 : NULL;
            for (int i = i0; i < i1; i += mr) {
                int rows = i1 - i < mr ? i1 - i : mr;
                kernel(rows, kc, ak + i * rsa, rsa, csa, panel, C + (int64_t)i * ldc + j0, ldc,
                       cols, start, beta, row);
            }
        }
    }
}

/* The own kernels on B, packed here per call, or on packed (a weight packed once); the chains
 * start from bias[j] when bias is given, else from beta C. */
static void own_product(bool trans_a, bool trans_b, int M, int N, int K, const float *A, int lda,
                        const float *B, int ldb, const ac_gemm_packed *packed, const float *bias,
                        float beta, float *C, int ldc);

void ac_gemm_own(bool trans_a, bool trans_b, int M, int N, int K, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc) {
    own_product(trans_a, trans_b, M, N, K, A, lda, B, ldb, NULL, NULL, beta, C, ldc);
}

/* ---- B packed once ---- */
struct ac_gemm_packed {
    const gemm_isa *isa; /* the kernels it was packed for */
    int K, N;
    gemm_plan plan;
    float *panels; /* k block after k block, each as pack_b leaves it */
};

ac_gemm_packed *ac_gemm_pack(bool trans_b, int K, int N, const float *B, int ldb) {
    if (K <= 0 || N <= 0) return NULL;
    ac_gemm_packed *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->isa = isa_now();
    p->K = K;
    p->N = N;
    p->plan = plan_for(N);
    int panels = (N + p->plan.nr - 1) / p->plan.nr;
    size_t floats = (size_t)K * panels * p->plan.nr;
    p->panels = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
    if (!p->panels) {
        free(p);
        return NULL;
    }
    for (int k0 = 0; k0 < K; k0 += p->plan.kc) {
        int kc = K - k0 < p->plan.kc ? K - k0 : p->plan.kc;
        pack_b(B, ldb, trans_b, k0, kc, N, p->plan.nr,
               p->panels + (size_t)k0 * panels * p->plan.nr);
    }
    return p;
}

void ac_gemm_packed_free(ac_gemm_packed *p) {
    if (!p) return;
    free(p->panels);
    free(p);
}

bool ac_gemm_packed_usable(const ac_gemm_packed *p) {
    return p && backend_now() == AC_GEMM_OWN && p->isa == isa_now();
}

void ac_gemm_own_packed(bool trans_a, int M, const float *A, int lda, const ac_gemm_packed *B,
                        float beta, float *C, int ldc) {
    own_product(trans_a, true, M, B->N, B->K, A, lda, NULL, 0, B, NULL, beta, C, ldc);
}

/* C[i][j] = bias[j] for every row of C [M, N]: the first row, then the rows done so far copied
 * after themselves, doubling (a few large copies, not one small one per row). */
static void copy_to_rows(float *C, const float *bias, int M, int N, int ldc) {
    if (ldc != N) {
        for (int i = 0; i < M; i++) memcpy(C + (int64_t)i * ldc, bias, (size_t)N * sizeof(float));
        return;
    }
    memcpy(C, bias, (size_t)N * sizeof(float));
    for (int64_t done = 1; done < M; done *= 2) {
        int64_t n = M - done < done ? M - done : done;
        memcpy(C + done * N, C, (size_t)(n * N) * sizeof(float));
    }
}

static void own_product(bool trans_a, bool trans_b, int M, int N, int K, const float *A, int lda,
                        const float *B, int ldb, const ac_gemm_packed *packed, const float *bias,
                        float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        if (bias)
            copy_to_rows(C, bias, M, N, ldc);
        else
            scale_c(M, N, beta, C, ldc);
        return;
    }
    gemm_plan pl = packed ? packed->plan : plan_for(N);
    int panels = (N + pl.nr - 1) / pl.nr;
    float *bp = packed ? NULL : pack_buffer((size_t)panels * pl.nr * (K < pl.kc ? K : pl.kc));
    if (!packed && !bp) { /* no memory for the panels: the reference gives the same bits */
        if (bias) copy_to_rows(C, bias, M, N, ldc);
        ac_gemm_reference(trans_a, trans_b, M, N, K, A, lda, B, ldb, bias ? 1.0f : beta, C, ldc);
        return;
    }
    for (int k0 = 0; k0 < K; k0 += pl.kc) {
        int kc = K - k0 < pl.kc ? K - k0 : pl.kc;
        const float *block = packed ? packed->panels + (size_t)k0 * panels * pl.nr : bp;
        if (!packed) pack_b(B, ldb, trans_b, k0, kc, N, pl.nr, bp);
        gemm_block(&pl, M, N, k0, kc, trans_a, A, lda, block, bias, beta, C, ldc);
    }
}

static void gemm_dispatch(bool trans_a, bool trans_b, int M, int N, int K, const float *A, int lda,
                          const float *B, int ldb, float beta, float *C, int ldc) {
    if (backend_now() == AC_GEMM_OWN) {
        ac_gemm_own(trans_a, trans_b, M, N, K, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}

/* The accounting of ac_blas_stats around one product of M x N x K. */
static double stats_begin(void) {
    return atomic_load_explicit(&stats_on, memory_order_relaxed) ? ac_seconds() : -1.0;
}

static void stats_end(double t0, int M, int N, int K) {
    if (t0 < 0) return;
    atomic_fetch_add_explicit(&stats_ns, (long long)((ac_seconds() - t0) * 1e9),
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&stats_flops, 2LL * M * N * K, memory_order_relaxed);
    atomic_fetch_add_explicit(&stats_calls, 1, memory_order_relaxed);
}

static void trace_add(bool trans_a, bool trans_b, int M, int N, int K, int lda, int ldb, int ldc,
                      float beta) {
    if (!trace_count) return;
    int n = (*trace_count)++;
    if (n < trace_cap)
        trace_calls[n] = (ac_gemm_call){trans_a, trans_b, M, N, K, lda, ldb, ldc, beta};
}

void ac_gemm_linear(int rows, int in, int out, const float *x, const float *W,
                    const ac_gemm_packed *packed, const float *bias, float *y) {
    trace_add(false, true, rows, out, in, in, in, out, bias ? 1.0f : 0.0f);
    double t0 = stats_begin();
    if (backend_now() == AC_GEMM_OWN) {
        bool use = ac_gemm_packed_usable(packed) && packed->K == in && packed->N == out;
        own_product(false, true, rows, out, in, x, in, W, in, use ? packed : NULL, bias, 0.0f, y,
                    out);
    } else {
        if (bias) copy_to_rows(y, bias, rows, out, out);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, out, in, 1.0f, x, in, W, in,
                    bias ? 1.0f : 0.0f, y, out);
    }
    stats_end(t0, rows, out, in);
}

void ac_gemm(bool trans_a, bool trans_b, int M, int N, int K, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc) {
    trace_add(trans_a, trans_b, M, N, K, lda, ldb, ldc, beta);
    double t0 = stats_begin();
    gemm_dispatch(trans_a, trans_b, M, N, K, A, lda, B, ldb, beta, C, ldc);
    stats_end(t0, M, N, K);
}
