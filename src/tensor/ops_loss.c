/* ops_loss.c - the training losses MSE, MAE and Huber, each a mean over every element.
 *
 * With d = pred - target and n elements:
 *   mse   = sum d^2 / n                         dL/dpred = 2 d / n
 *   mae   = sum |d| / n                         dL/dpred = sign(d) / n  (0 at d = 0)
 *   huber = sum h(d) / n, h = 0.5 d^2 (|d| <= delta) else delta (|d| - 0.5 delta)
 *                                               dL/dpred = clamp(d, -delta, delta) / n
 * and dL/dtarget = -dL/dpred. Sums accumulate in double. On a batch slice
 * (ac_ctx_set_batch_slice) n is the whole batch's element count: the slice's loss is its share of
 * the global mean, and its gradients are those of the whole batch.
 */
#include <math.h>

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
