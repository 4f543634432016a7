/* gemm.h - the one matrix product every op of the engine calls, and its two backends.
 *
 *   C[M, N] = op(A)[M, K] op(B)[K, N] + beta C     (row-major; op(X) = X, or X^T when flagged)
 *
 * Backends:
 *   - "openblas": cblas_sgemm, the portable fallback. Its bits depend on the kernels OpenBLAS
 *     picks for the CPU (and its version), so two machines may disagree in the last bits.
 *   - "own": attncast's kernels for the model's shapes (long M, short K and N: 16 to 256). Each
 *     element is one chain of fused multiply-adds in k order, started from beta C (0 when beta
 *     is 0, C itself when beta is 1):
 *         c = beta C[i][j];  for k = 0 .. K-1:  c = fmaf(op(A)[i][k], op(B)[k][j], c)
 *     The AVX-512, AVX2 and portable versions differ only in how many elements they run side by
 *     side, so every version, on every machine, gives exactly these bits, with any number of
 *     threads. A is read in place (never copied); B is copied once per call into panels, or
 *     once for good for a weight that no longer changes (ac_gemm_pack). A linear's bias may
 *     start the chains instead of beta C (ac_gemm_linear).
 * The build option ATTNCAST_GEMM picks the default backend (own); the environment variable
 * ATTNCAST_GEMM (openblas or own), read on first use, overrides it; ac_gemm_set_backend
 * overrides both. A model trained with one backend gives results within float32 round-off of
 * the other; the same backend gives the same bits for the same seed.
 */
#ifndef ATTNCAST_GEMM_H
#define ATTNCAST_GEMM_H

#include <stdbool.h>

typedef enum ac_gemm_backend { AC_GEMM_OPENBLAS = 0, AC_GEMM_OWN = 1 } ac_gemm_backend;

/* The product above on the current backend. M, N >= 0, K >= 0; lda, ldb, ldc are the stored
 * matrices' row lengths. beta == 0 never reads C (it may hold NaN). Also counts the product in
 * the ac_blas_stats of ops.h and in a trace, when either is on. */
void ac_gemm(bool trans_a, bool trans_b, int M, int N, int K, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc);

/* The same product on the own kernels, whatever the backend. Outside a parallel region a large
 * product splits its rows across the threads of threads.h (the bits do not change). */
void ac_gemm_own(bool trans_a, bool trans_b, int M, int N, int K, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc);
/* The same product as the plain loop in the comment above, one element at a time: the reference
 * the own kernels match bit for bit (the tests check it). */
void ac_gemm_reference(bool trans_a, bool trans_b, int M, int N, int K, const float *A, int lda,
                       const float *B, int ldb, float beta, float *C, int ldc);

/* A weight that no longer changes (a loaded model's), copied once into the own kernels'
 * panels: op(B) [K, N], B stored [N, K] when trans_b (a linear's weight), else [K, N]. NULL when
 * K or N is not positive or memory is short. Products on it give the bits of ac_gemm_own on the
 * unpacked B. */
typedef struct ac_gemm_packed ac_gemm_packed;
ac_gemm_packed *ac_gemm_pack(bool trans_b, int K, int N, const float *B, int ldb);
void ac_gemm_packed_free(ac_gemm_packed *packed);
/* Whether products may read packed now: the backend is the own kernels, and the kernel version
 * it was packed for is the one running. */
bool ac_gemm_packed_usable(const ac_gemm_packed *packed);
/* C[M, N] = op(A)[M, K] op(B) + beta C on the own kernels, from the packed B. */
void ac_gemm_own_packed(bool trans_a, int M, const float *A, int lda, const ac_gemm_packed *packed,
                        float beta, float *C, int ldc);
/* A linear map, y[rows, out] = x[rows, in] W^T + bias (W [out, in], bias [out] or NULL): on the
 * own kernels each chain starts from bias[j] (no pass writing the bias rows first), reading the
 * panels of packed when it is W's packing for the running kernels, else packing W; on OpenBLAS,
 * the bias rows and then cblas_sgemm with beta 1. Counted in the stats and the trace. */
void ac_gemm_linear(int rows, int in, int out, const float *x, const float *W,
                    const ac_gemm_packed *packed, const float *bias, float *y);

ac_gemm_backend ac_gemm_get_backend(void);
void ac_gemm_set_backend(ac_gemm_backend backend);
const char *ac_gemm_backend_name(ac_gemm_backend backend); /* "openblas", "own" */
/* Parses "openblas" or "own"; false for anything else. */
bool ac_gemm_backend_parse(const char *name, ac_gemm_backend *out);
/* Which of the own kernels this CPU runs: "avx512", "avx2" or "portable". */
const char *ac_gemm_own_isa(void);

/* A trace of products, for benchmarks that replay a step's products on other libraries: while
 * set, every ac_gemm stores its geometry in calls[] (the first cap of them) and counts them all
 * in *count. NULL stops tracing. Not for use while several threads run products. */
typedef struct ac_gemm_call {
    bool trans_a, trans_b;
    int M, N, K, lda, ldb, ldc;
    float beta;
} ac_gemm_call;
void ac_gemm_trace(ac_gemm_call *calls, int cap, int *count);

#endif
