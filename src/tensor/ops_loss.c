/* ops_loss.c - the training losses MSE, MAE and Huber, each a mean over every element.
 *
 * With d = pred - target and n elements:
 *   mse   = sum d^2 / n                         dL/dpred = 2 d / n
 *   mae   = sum |d| / n                         dL/dpred = sign(d) / n  (0 at d = 0)
 *   huber = sum h(d) / n, h = 0.5 d^2 (|d| <= delta) else delta (|d| - 0.5 delta)
 *                                               dL/dpred = clamp(d, -delta, delta) / n
 * and dL/dtarget = -dL/dpred. The pinball (quantile) loss compares pred [..., Q] with target [...]
 * at Q levels q_j (MODEL.md, "Quantile forecasts"), with e = target - pred[..., j]:
 *   pinball = sum max(q_j e, (q_j - 1) e) / n   dL/dpred = (e > 0 ? -q_j : 1 - q_j) / n
 * (0.5 - q_j at e = 0, the mean of the two slopes), n the element count of pred, and
 * dL/dtarget = -(the sum over j of dL/dpred). Sums accumulate in double. On a batch slice
 * (ac_ctx_set_batch_slice) n is the whole batch's element count: the slice's loss is its share of
 * the global mean, and its gradients are those of the whole batch.
 */
#include <math.h>
#include <string.h>

#include "attncast/ops.h"
#include "op_internal.h"

typedef enum { LOSS_MSE, LOSS_MAE, LOSS_HUBER } loss_kind;
static const char *const LOSS_NAMES[] = {"ac_mse_loss", "ac_mae_loss", "ac_huber_loss"};

static double loss_term(loss_kind k, double d, double delta) {
    switch (k) {
    case LOSS_MSE:
        return d * d;
    case LOSS_MAE:
        return fabs(d);
    case LOSS_HUBER:
        return fabs(d) <= delta ? 0.5 * d * d : delta * (fabs(d) - 0.5 * delta);
    }
    return 0.0;
}

static float loss_slope(loss_kind k, float d, float delta) {
    switch (k) {
    case LOSS_MSE:
        return 2.0f * d;
    case LOSS_MAE:
        return d > 0.0f ? 1.0f : (d < 0.0f ? -1.0f : 0.0f);
    case LOSS_HUBER:
        return d > delta ? delta : (d < -delta ? -delta : d);
    }
    return 0.0f;
}

static void loss_backward(ac_ctx *ctx, ac_node *n) {
    ac_tensor *p = n->in[0], *t = n->in[1];
    float *gp = ac_grad_buffer(ctx, p);
    float *gt = ac_grad_buffer(ctx, t);
    if (ac_ctx_failed(ctx)) return;
    loss_kind k = (loss_kind)n->iarg[0];
    float delta = n->farg[0];
    float s = n->out->grad[0] / n->farg[1]; /* farg[1]: n */
    for (int64_t i = 0; i < p->size; i++) {
        float gi = s * loss_slope(k, p->data[i] - t->data[i], delta);
        if (gp) gp[i] += gi;
        if (gt) gt[i] -= gi;
    }
}

static ac_tensor *loss(ac_ctx *ctx, loss_kind k, ac_tensor *pred, ac_tensor *target, float delta) {
    const char *op = LOSS_NAMES[k];
    if (!pred || !target || ac_ctx_failed(ctx)) return NULL;
    if (!ac_tensor_same_shape(pred, target))
        return ac_op_shape_error(ctx, op, "pred and target differ", pred, target);
    if (k == LOSS_HUBER && !(delta > 0.0f))
        return ac_ctx_fail(ctx, AC_ERR_INVALID, "%s: delta must be positive, got %g", op,
                           (double)delta);
    int64_t elements = pred->size; /* n: the whole batch's element count */
    int first = 0, count = 0, total = 0;
    if (ac_op_batch_slice(ctx, &first, &count, &total)) {
        if (count <= 0 || pred->shape[0] % count != 0)
            return ac_op_shape_error(ctx, op,
                                     "leading axis is not a whole number of the slice's "
                                     "windows",
                                     pred, NULL);
        elements = pred->size / count * total;
    }
    ac_tensor *y = ac_op_output(ctx, op, 1, (int[]){1});
    if (!y) return NULL;
    double acc = 0.0;
    for (int64_t i = 0; i < pred->size; i++)
        acc += loss_term(k, (double)pred->data[i] - (double)target->data[i], delta);
    y->data[0] = (float)(acc / (double)elements);
    ac_node *n = ac_op_record(ctx, op, loss_backward, y, 2, (ac_tensor *[]){pred, target});
    if (n) {
        n->iarg[0] = (int)k;
        n->farg[0] = delta;
        n->farg[1] = (float)elements;
    }
    return ac_ctx_failed(ctx) ? NULL : y;
}

ac_tensor *ac_mse_loss(ac_ctx *ctx, ac_tensor *pred, ac_tensor *target) {
    return loss(ctx, LOSS_MSE, pred, target, 0.0f);
}
ac_tensor *ac_mae_loss(ac_ctx *ctx, ac_tensor *pred, ac_tensor *target) {
    return loss(ctx, LOSS_MAE, pred, target, 0.0f);
}
ac_tensor *ac_huber_loss(ac_ctx *ctx, ac_tensor *pred, ac_tensor *target, float delta) {
    return loss(ctx, LOSS_HUBER, pred, target, delta);
}

/* ---- pinball: pred [..., Q], target [...], levels [Q] (kept in node->saved) ---- */

static void pinball_backward(ac_ctx *ctx, ac_node *n) {
    ac_tensor *p = n->in[0], *t = n->in[1];
    float *gp = ac_grad_buffer(ctx, p);
    float *gt = ac_grad_buffer(ctx, t);
    if (ac_ctx_failed(ctx)) return;
    const float *levels = n->saved;
    int Q = n->iarg[0];
    float s = n->out->grad[0] / n->farg[0]; /* farg[0]: n */
    for (int64_t cell = 0; cell < t->size; cell++) {
        float sum = 0.0f;
        for (int j = 0; j < Q; j++) {
            float e = t->data[cell] - p->data[cell * Q + j], q = levels[j];
            float gi = s * (e > 0.0f ? -q : (e < 0.0f ? 1.0f - q : 0.5f - q));
            if (gp) gp[cell * Q + j] += gi;
            sum += gi;
        }
        if (gt) gt[cell] -= sum;
    }
}

ac_tensor *ac_pinball_loss(ac_ctx *ctx, ac_tensor *pred, ac_tensor *target, const float *levels,
                           int count) {
    static const char *const op = "ac_pinball_loss";
    if (!pred || !target || ac_ctx_failed(ctx)) return NULL;
    bool shapes_ok = count >= 1 && pred->ndim == target->ndim + 1 &&
                     pred->shape[pred->ndim - 1] == count && pred->size == target->size * count;
    for (int i = 0; shapes_ok && i < target->ndim; i++)
        shapes_ok = pred->shape[i] == target->shape[i];
    if (!shapes_ok)
        return ac_op_shape_error(ctx, op, "pred must be target's shape plus [levels]", pred,
                                 target);
    for (int j = 0; j < count; j++)
        if (!(levels[j] > 0.0f && levels[j] < 1.0f))
            return ac_ctx_fail(ctx, AC_ERR_INVALID, "%s: level %d is %g, outside (0, 1)", op, j,
                               (double)levels[j]);
    int64_t elements = pred->size; /* n: the whole batch's element count */
    int first = 0, slice = 0, total = 0;
    if (ac_op_batch_slice(ctx, &first, &slice, &total)) {
        if (slice <= 0 || pred->shape[0] % slice != 0)
            return ac_op_shape_error(ctx, op,
                                     "leading axis is not a whole number of the slice's "
                                     "windows",
                                     pred, NULL);
        elements = pred->size / slice * total;
    }
    ac_tensor *y = ac_op_output(ctx, op, 1, (int[]){1});
    if (!y) return NULL;
    double acc = 0.0;
    for (int64_t cell = 0; cell < target->size; cell++)
        for (int j = 0; j < count; j++) {
            double e = (double)target->data[cell] - (double)pred->data[cell * count + j];
            double q = (double)levels[j];
            acc += e >= 0.0 ? q * e : (q - 1.0) * e;
        }
    y->data[0] = (float)(acc / (double)elements);
    ac_node *n = ac_op_record(ctx, op, pinball_backward, y, 2, (ac_tensor *[]){pred, target});
    if (n) {
        n->saved = ac_op_scratch(ctx, op, count);
        if (n->saved) memcpy(n->saved, levels, (size_t)count * sizeof(float));
        n->iarg[0] = count;
        n->farg[0] = (float)elements;
    }
    return ac_ctx_failed(ctx) ? NULL : y;
}
