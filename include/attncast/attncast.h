/* attncast.h - the whole public API of libattncast in one include.
 *
 * attncast trains attention-based time-series forecasters on the CPU. The engine is a small
 * reverse-mode autograd over float32 tensors with matrix products on OpenBLAS. Modules:
 *   error.h     status codes and one-line messages
 *   rng.h       the seeded PCG32 generator
 *   threads.h   the thread count (OpenBLAS and OpenMP)
 *   arena.h     the per-step activation allocator
 *   tensor.h    tensors and their two lifetimes
 *   autograd.h  the context: tape, grad mode, backward
 *   ops.h       the differentiable operations
 */
#ifndef ATTNCAST_ATTNCAST_H
#define ATTNCAST_ATTNCAST_H

#include "attncast/arena.h"
#include "attncast/autograd.h"
#include "attncast/error.h"
#include "attncast/ops.h"
#include "attncast/rng.h"
#include "attncast/tensor.h"
#include "attncast/threads.h"

/* The library version, "MAJOR.MINOR.PATCH". */
const char *ac_version(void);

#endif
