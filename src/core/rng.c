/* rng.c - PCG32 (XSH-RR 64/32) and the draws built on it; see include/attncast/rng.h. */
#include "attncast/rng.h"

#include <math.h>

#define PCG_MULT 6364136223846793005ULL

void ac_rng_seed(ac_rng *rng, uint64_t seed, uint64_t stream) {
    /* The reference pcg32_srandom_r: state 0, one step, add the seed, one step. */
    rng->state = 0U;
    rng->inc = (stream << 1u) | 1u;
    (void)ac_rng_u32(rng);
    rng->state += seed;
    (void)ac_rng_u32(rng);
}

uint32_t ac_rng_u32(ac_rng *rng) {
    uint64_t old = rng->state;
    rng->state = old * PCG_MULT + rng->inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31u));
}

void ac_rng_fill_u32(ac_rng *rng, uint32_t *out, size_t n) {
    uint64_t state = rng->state, inc = rng->inc;
    for (size_t i = 0; i < n; i++) {
        uint64_t old = state;
        state = old * PCG_MULT + inc;
        uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
        uint32_t rot = (uint32_t)(old >> 59u);
        out[i] = (xorshifted >> rot) | (xorshifted << ((-rot) & 31u));
    }
    rng->state = state;
}

uint32_t ac_rng_below(ac_rng *rng, uint32_t bound) {
    /* Reject the low (2^32 mod bound) outputs so every residue is equally likely. */
    uint32_t threshold = (uint32_t)(-bound) % bound;
    for (;;) {
        uint32_t r = ac_rng_u32(rng);
        if (r >= threshold) return r % bound;
    }
}

float ac_rng_uniform(ac_rng *rng) {
    return (float)(ac_rng_u32(rng) >> 8) * (1.0f / 16777216.0f); /* 24 bits: exact in float */
}

float ac_rng_uniform_range(ac_rng *rng, float lo, float hi) {
    return lo + (hi - lo) * ac_rng_uniform(rng);
}

float ac_rng_normal(ac_rng *rng) {
    /* u1 in (0, 1] so log(u1) is finite; 32-bit resolution for each uniform. */
    double u1 = ((double)ac_rng_u32(rng) + 1.0) / 4294967296.0;
    double u2 = (double)ac_rng_u32(rng) / 4294967296.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(2.0 * 3.14159265358979323846 * u2));
}

void ac_rng_shuffle_u32(ac_rng *rng, uint32_t *items, size_t n) {
    for (size_t i = n; i > 1; i--) {
        uint32_t j = ac_rng_below(rng, (uint32_t)i);
        uint32_t tmp = items[i - 1];
        items[i - 1] = items[j];
        items[j] = tmp;
    }
}
