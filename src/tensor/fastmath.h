/* fastmath.h - float32 exp, erf and tanh written as straight-line arithmetic, so that loops over
 * arrays of them vectorise (libm's expf / erff / tanhf are opaque calls, one element at a time,
 * and were a quarter of a training step through GELU alone).
 *
 * Accuracy against double precision, measured over their whole float32 range:
 *   ac_fast_expf    range reduction x = n ln2 + r, |r| <= ln2/2, degree-7 Taylor of exp(r),
 *                   scaled by 2^n through the exponent bits: relative error at most 7.9e-8
 *                   fused, 1.1e-7 unfused (every float in (-87, 88), checked exhaustively).
 *   ac_fast_erff    erf(x) = x P(x^2) / Q(x^2), |x| clamped to 4 (erf(4) rounds to 1 in float32),
 *                   P of degree 6 and Q of degree 4 fitted by us for relative error: at most
 *                   4.5e-7 (every positive float below 6, checked exhaustively).
 *   ac_fast_tanhf   x P(x^2) / Q(x^2), P and Q of degree 4 with positive coefficients (no
 *                   cancellation), x^2 clamped to 81 (|x| = 9), the result to +-1; fitted by us
 *                   for relative error: 2e-8 in exact arithmetic, at most 3.4e-7 in float32
 *                   with fused multiply-adds, 4.2e-7 without (every float, checked
 *                   exhaustively). One division and no exp: about 2.5 times cheaper than
 *                   sign(x) (1 - 2 / (exp(2|x|) + 1)).
 * The AVX2 and AVX-512 clones below fuse their multiply-adds (half the instructions, one rounding
 * instead of two); the accuracies above hold with and without.
 * Special values follow libm: exp(-inf) = 0 (the causal mask relies on it), exp(+inf) = +inf,
 * and NaN in gives NaN out (a diverging run must still be seen as diverging). Every branch is a
 * select, computed for all lanes.
 */
#ifndef ATTNCAST_FASTMATH_H
#define ATTNCAST_FASTMATH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#define AC_LOG2E 1.44269504088896341f
/* Marks a kernel to be compiled three times, for plain x86-64 (SSE2), AVX2 + FMA and AVX-512, the
 * one the CPU supports being picked when the program loads. The files that hold such kernels are
 * compiled with -ffp-contract=fast (CMakeLists.txt), so the AVX2 and AVX-512 clones fuse each
 * multiply and add into one FMA instruction, rounded once, while the plain clone, for CPUs
 * without FMA, rounds both: the two vector clones give the same bits, the plain one may differ
 * from them in the last bits (never an fmaf library call, a hundred times slower there). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define AC_VECTOR_CLONES                                                                           \
    __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define AC_VECTOR_CLONES
#endif

/* For helpers of such kernels: inlined, so that they are compiled for the clone's instruction set
 * (a helper left out of line is compiled once, for plain x86-64: no wide vectors, no FMA). */
#if defined(__GNUC__)
#define AC_ALWAYS_INLINE __attribute__((always_inline))
#else
#define AC_ALWAYS_INLINE
#endif

#define AC_LN2_HI      0.693145751953125f /* ln 2 split in two for an exact n * ln2_hi */
#define AC_LN2_LO      1.42860682030941723212e-6f
#define AC_EXP_HI      88.72283905206835f     /* exp overflows above */
#define AC_EXP_LO      -87.33654475055310898f /* exp underflows below (as a normal float) */
#define AC_ROUND_MAGIC 12582912.0f            /* 1.5 * 2^23: adding and subtracting it rounds */
#define AC_TANH_CLAMP2 81.0f                  /* x^2 past which tanh(x) rounds to +-1 (|x| = 9) */

static inline float ac_fast_expf(float x) {
    float xc = x > AC_EXP_HI ? AC_EXP_HI : x; /* comparisons keep NaN as it is */
    xc = xc < AC_EXP_LO ? AC_EXP_LO : xc;
    float n = (xc * AC_LOG2E + AC_ROUND_MAGIC) - AC_ROUND_MAGIC; /* nearest integer */
    float r = (xc - n * AC_LN2_HI) - n * AC_LN2_LO;
    /* exp(r) by Horner: 1 + r + r^2/2! + ... + r^7/7! */
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    n = n == n ? n : 0.0f;                         /* NaN: no float-to-int conversion of it */
    int32_t bits = ((int32_t)n + 127) * (1 << 23); /* 2^n as a float's bit pattern */
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    float y = p * scale;
    y = x < AC_EXP_LO ? 0.0f : y;
    return x > AC_EXP_HI ? INFINITY : y;
}

static inline float ac_fast_erff(float x) {
    float a = x < 0.0f ? -x : x;
    a = a > 4.0f ? 4.0f : a;
    float t = a * a;
    float p = 1.967245034e-08f;
    p = p * t - 1.942201607e-06f;
    p = p * t + 1.412625861e-04f;
    p = p * t + 3.699686145e-03f;
    p = p * t + 5.057457462e-02f;
    p = p * t + 2.000396252e-01f;
    p = p * t + 1.128379107e+00f;
    float q = 9.538884042e-04f;
    q = q * t + 1.435374189e-02f;
    q = q * t + 1.150329858e-01f;
    q = q * t + 5.106123090e-01f;
    q = q * t + 1.0f;
    float y = a * p / q;
    y = y > 1.0f ? 1.0f : y;
    y = x < 0.0f ? -y : y;
    return x != x ? x : y; /* NaN */
}

static inline float ac_fast_tanhf(float x) {
    float t = x * x;
    t = t > AC_TANH_CLAMP2 ? AC_TANH_CLAMP2 : t; /* the comparison keeps NaN as it is */
    float p = 1.33550184e-08f;
    p = p * t + 2.06095665e-05f;
    p = p * t + 3.49562801e-03f;
    p = p * t + 1.33810624e-01f;
    p = p * t + 1.0f;
    float q = 7.77677030e-07f;
    q = q * t + 3.28569266e-04f;
    q = q * t + 2.58771461e-02f;
    q = q * t + 4.67143774e-01f;
    q = q * t + 1.0f;
    float y = x * p / q; /* |x| > 9: |x| P(81) / Q(81) > 1 (or inf), clamped to 1 below */
    y = y > 1.0f ? 1.0f : y;
    return y < -1.0f ? -1.0f : y; /* NaN stays NaN through every step */
}

/* y = softmax(y) in place over n values whose maximum mx is finite: exp(y - mx), then divided by
 * their sum, taken in order. Inlined into the clone of its caller. */
AC_ALWAYS_INLINE
static inline void ac_softmax_from_max(float *restrict y, int n, float mx) {
#pragma omp simd
    for (int j = 0; j < n; j++) y[j] = ac_fast_expf(y[j] - mx);
    float sum = 0.0f;
    for (int j = 0; j < n; j++) sum += y[j];
    float inv = 1.0f / sum;
    for (int j = 0; j < n; j++) y[j] *= inv;
}

#endif
