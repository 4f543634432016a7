/* tensor.h - float32 tensors of up to four dimensions.
 *
 * A tensor is a row-major block of floats with a shape and strides (in elements). Tensors made
 * by ops are always contiguous; strides are kept so that callers can check layout and so that
 * views (ac_reshape) share memory safely. A tensor may carry a gradient buffer of the same
 * layout.
 *
 * Two lifetimes exist:
 *   - persistent tensors (parameters, and anything a caller keeps across steps) come from
 *     ac_tensor_new and are freed with ac_tensor_free; they own `data` and `grad`;
 *   - activations come from a context's arena (ac_tensor_temp in autograd.h, and every op
 *     output) and vanish at ac_ctx_reset; nobody frees them.
 */
#ifndef ATTNCAST_TENSOR_H
#define ATTNCAST_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attncast/error.h"

#define AC_MAX_DIMS 4

typedef struct ac_tensor {
    float *data;
    float *grad; /* NULL when the tensor needs no gradient (or none has been allocated yet) */
    int ndim;    /* 1..AC_MAX_DIMS */
    int shape[AC_MAX_DIMS];
    int64_t stride[AC_MAX_DIMS]; /* elements between neighbours along each dimension */
    int64_t size;                /* product of shape */
    bool requires_grad;          /* gradients flow into this tensor */
    bool persistent;             /* made by ac_tensor_new: owns data and grad */
    const char *name;            /* optional; parameters carry their MODEL.md name */
    /* a linear weight packed for the own matrix kernels (gemm.h), owned by the tensor; set only
     * while the weight no longer changes (ac_forecaster_pack_weights), else NULL */
    struct ac_gemm_packed *packed;
} ac_tensor;

/* A persistent zero-filled tensor (and a zero gradient buffer when requires_grad). Shapes must
 * have 1..4 positive dimensions; anything else is an AC_ERR_SHAPE in err and NULL. */
ac_tensor *ac_tensor_new(int ndim, const int *shape, bool requires_grad, ac_error *err);
void ac_tensor_free(ac_tensor *t);
/* Packs a linear weight [out, in] for the own matrix kernels (kept in t->packed, used by
 * ac_linear whenever the own kernels run); false when memory is short (t then works unpacked).
 * Only for weights that no longer change: ac_tensor_unpack drops the copy (the optimizer's step
 * does so for every parameter). */
bool ac_tensor_pack(ac_tensor *t);
void ac_tensor_unpack(ac_tensor *t);

/* A zero-filled block of at least `bytes` bytes aligned to 64 bytes; free() releases it. NULL
 * when memory is short. */
float *ac_aligned_zeros(size_t bytes);

/* Fills shape and strides of a tensor header and its size; returns false for a bad shape. */
bool ac_tensor_set_shape(ac_tensor *t, int ndim, const int *shape);

bool ac_tensor_same_shape(const ac_tensor *a, const ac_tensor *b);
bool ac_tensor_is_contiguous(const ac_tensor *t);

/* Writes "[2, 3, 4]" into buf (at most n bytes) and returns buf. */
char *ac_shape_str(const ac_tensor *t, char *buf, size_t n);

/* Fills data with v; zeroes the gradient buffer if there is one. */
void ac_tensor_fill(ac_tensor *t, float v);
void ac_tensor_zero_grad(ac_tensor *t);

#endif
