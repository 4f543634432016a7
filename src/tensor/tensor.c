/* tensor.c - tensor headers, shapes and persistent tensors (see include/attncast/tensor.h). */
#include "attncast/tensor.h"

#include "attncast/gemm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Cache-line aligned (as the arena's blocks are), so kernels see the same alignment for
 * parameters and activations. */
#define TENSOR_ALIGN 64

float *ac_aligned_zeros(size_t bytes) {
    size_t rounded = (bytes + TENSOR_ALIGN - 1) / TENSOR_ALIGN * TENSOR_ALIGN;
    float *p = aligned_alloc(TENSOR_ALIGN, rounded ? rounded : TENSOR_ALIGN);
    if (p) memset(p, 0, rounded);
    return p;
}

bool ac_tensor_set_shape(ac_tensor *t, int ndim, const int *shape) {
    if (ndim < 1 || ndim > AC_MAX_DIMS) return false;
    int64_t size = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 1) return false;
        size *= shape[i];
        if (size > ((int64_t)1 << 40)) return false;
    }
    t->ndim = ndim;
    int64_t stride = 1;
    for (int i = AC_MAX_DIMS - 1; i >= 0; i--) {
        if (i >= ndim) {
            t->shape[i] = 1;
            t->stride[i] = 1;
            continue;
        }
        t->shape[i] = shape[i];
        t->stride[i] = stride;
        stride *= shape[i];
    }
    t->size = size;
    return true;
}

bool ac_tensor_same_shape(const ac_tensor *a, const ac_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

bool ac_tensor_is_contiguous(const ac_tensor *t) {
    int64_t expect = 1;
    for (int i = t->ndim - 1; i >= 0; i--) {
        if (t->shape[i] != 1 && t->stride[i] != expect) return false;
        expect *= t->shape[i];
    }
    return true;
}

char *ac_shape_str(const ac_tensor *t, char *buf, size_t n) {
    size_t used = 0;
    int w = snprintf(buf, n, "[");
    used = w > 0 ? (size_t)w : 0;
    for (int i = 0; i < t->ndim && used < n; i++) {
        w = snprintf(buf + used, n - used, i ? ", %d" : "%d", t->shape[i]);
        if (w > 0) used += (size_t)w;
    }
    if (used < n) snprintf(buf + used, n - used, "]");
    return buf;
}

ac_tensor *ac_tensor_new(int ndim, const int *shape, bool requires_grad, ac_error *err) {
    ac_tensor *t = calloc(1, sizeof *t);
    if (!t) {
        ac_error_set(err, AC_ERR_NOMEM, "tensor: out of memory");
        return NULL;
    }
    if (!ac_tensor_set_shape(t, ndim, shape)) {
        free(t);
        ac_error_set(err, AC_ERR_SHAPE,
                     "tensor: a shape needs 1 to %d dimensions of positive size (got %d dims)",
                     AC_MAX_DIMS, ndim);
        return NULL;
    }
    size_t bytes = (size_t)t->size * sizeof(float);
    t->data = ac_aligned_zeros(bytes);
    if (requires_grad) t->grad = ac_aligned_zeros(bytes);
    if (!t->data || (requires_grad && !t->grad)) {
        free(t->data);
        free(t->grad);
        free(t);
        ac_error_set(err, AC_ERR_NOMEM, "tensor: out of memory allocating %zu bytes", bytes);
        return NULL;
    }
    t->requires_grad = requires_grad;
    t->persistent = true;
    return t;
}

void ac_tensor_free(ac_tensor *t) {
    if (!t) return;
    ac_tensor_unpack(t);
    if (t->persistent) {
        free(t->data);
        free(t->grad);
        free(t);
    }
}

void ac_tensor_fill(ac_tensor *t, float v) {
    for (int64_t i = 0; i < t->size; i++) t->data[i] = v;
    ac_tensor_zero_grad(t);
}

void ac_tensor_zero_grad(ac_tensor *t) {
    if (t->grad) memset(t->grad, 0, (size_t)t->size * sizeof(float));
}

bool ac_tensor_pack(ac_tensor *t) {
    if (t->ndim != 2) return false;
    ac_tensor_unpack(t);
    t->packed = ac_gemm_pack(true, t->shape[1], t->shape[0], t->data, t->shape[1]);
    return t->packed != NULL;
}

void ac_tensor_unpack(ac_tensor *t) {
    ac_gemm_packed_free(t->packed);
    t->packed = NULL;
}
