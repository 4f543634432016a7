/* rng.h - the seeded random number generator used for initialisation, shuffling and dropout.
 *
 * The generator is PCG32 (O'Neill 2014, "PCG: A Family of Simple Fast Space-Efficient
 * Statistically Good Algorithms for Random Number Generation"), variant XSH-RR with a 64-bit
 * LCG state and a 64-bit odd stream increment:
 *     state' = state * 6364136223846793005 + inc
 *     out    = rotr32(((state >> 18) ^ state) >> 27, state >> 59)
 * Seeding follows the reference pcg32_srandom_r(seed, stream). The whole state is the two
 * 64-bit words below, so saving and restoring them (checkpoints do) continues the exact
 * sequence. Every derived draw (uniform, normal, bounded integers, shuffles) consumes a fixed,
 * documented number of 32-bit outputs, so sequences are identical on every platform.
 *
 * The caller owns an ac_rng by value; there is no global generator.
 */
#ifndef ATTNCAST_RNG_H
#define ATTNCAST_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct ac_rng {
    uint64_t state;
    uint64_t inc; /* always odd */
} ac_rng;

/* Seeds the generator; different streams give independent sequences for the same seed. */
void ac_rng_seed(ac_rng *rng, uint64_t seed, uint64_t stream);

/* Next 32 random bits (one output). */
uint32_t ac_rng_u32(ac_rng *rng);

/* The next n outputs into out[0..n): the same values as n calls of ac_rng_u32, faster. */
void ac_rng_fill_u32(ac_rng *rng, uint32_t *out, size_t n);

/* Uniform integer in [0, bound), bound >= 1, without modulo bias (rejection; usually one
 * output). */
uint32_t ac_rng_below(ac_rng *rng, uint32_t bound);

/* Uniform float in [0, 1) with 24 random bits (one output). */
float ac_rng_uniform(ac_rng *rng);

/* Uniform float in [lo, hi) (one output). */
float ac_rng_uniform_range(ac_rng *rng, float lo, float hi);

/* Standard normal by the Box-Muller transform in double precision (two outputs, no cached
 * spare, so the state alone determines the sequence). */
float ac_rng_normal(ac_rng *rng);

/* Fisher-Yates shuffle of n indices in place (n - 1 bounded draws). */
void ac_rng_shuffle_u32(ac_rng *rng, uint32_t *items, size_t n);

#endif
