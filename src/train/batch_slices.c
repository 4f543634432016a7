/* batch_slices.c - one training step's batch in slices, one per thread (see
 * src/train/batch_slices.h). */
#include "train/batch_slices.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attncast/autograd.h"
#include "attncast/threads.h"
#include "data_parallel.h"

typedef struct slice {
    ac_ctx *ctx;
    ac_forecaster *model; /* the weights are copied in before each step */
    ac_rng rng;
    int first, count; /* this step's windows, within the batch */
    float loss;
    ac_status status;
    char error[AC_ERROR_MAX];
} slice;

struct ac_batch_slices {
    int n;
    slice *s;
};

/* What the slice threads share during one step. */
typedef struct step_job {
    ac_batch_slices *b;
    ac_loss_kind loss_kind;
    int first, total; /* the batch within the global batch */
    ac_batch_fill_fn fill;
    void *user;
} step_job;

void ac_batch_slices_free(ac_batch_slices *b) {
    if (!b) return;
    for (int i = 0; i < b->n; i++) {
        ac_ctx_free(b->s[i].ctx);
        ac_forecaster_free(b->s[i].model);
    }
    free(b->s);
    free(b);
}

ac_batch_slices *ac_batch_slices_new(const ac_forecaster *model, int slices, ac_error *err) {
    ac_batch_slices *b = calloc(1, sizeof *b);
    if (b) b->s = calloc((size_t)(slices > 0 ? slices : 1), sizeof *b->s);
    if (!b || !b->s) {
        free(b);
        ac_error_set(err, AC_ERR_NOMEM, "batch slices: out of memory");
        return NULL;
    }
    b->n = slices > 0 ? slices : 1;
    ac_rng init; /* the copies' initial weights are overwritten before every step */
    ac_rng_seed(&init, 0, 0);
    for (int i = 0; i < b->n; i++) {
        b->s[i].model = ac_forecaster_new(ac_forecaster_spec(model), &init, err);
        b->s[i].ctx = b->s[i].model ? ac_ctx_new(0, 0) : NULL;
        if (!b->s[i].ctx) {
            if (b->s[i].model) ac_error_set(err, AC_ERR_NOMEM, "batch slices: out of memory");
            ac_batch_slices_free(b);
            return NULL;
        }
    }
    return b;
}

int ac_batch_slices_count(const ac_batch_slices *b) {
    return b->n;
}

static void copy_weights(const ac_forecaster *from, ac_forecaster *to) {
    ac_tensor *const *src = ac_forecaster_params(from);
    ac_tensor *const *dst = ac_forecaster_params(to);
    for (int i = 0; i < ac_forecaster_param_count(from); i++)
        memcpy(dst[i]->data, src[i]->data, (size_t)src[i]->size * sizeof(float));
}

/* One slice's forward and backward, on its own thread. */
static void run_slice(void *arg, int index) {
    step_job *job = arg;
    slice *s = &job->b->s[index];
    s->status = AC_OK;
    s->loss = 0.0f;
    if (s->count == 0) return;
    const ac_model_spec *spec = ac_forecaster_spec(s->model);
    int L = spec->lookback, H = spec->horizon, C = spec->channels, Kf = spec->future_covariates;
    ac_ctx *ctx = s->ctx;
    ac_ctx_set_rng(ctx, &s->rng);
    ac_ctx_set_batch_slice(ctx, job->first + s->first, s->count, job->total);
    ac_tensor *x = ac_tensor_temp(ctx, 3, (int[]){s->count, L, ac_model_spec_columns(spec)});
    ac_tensor *y = ac_tensor_temp(ctx, 3, (int[]){s->count, H, C});
    ac_tensor *f = Kf ? ac_tensor_temp(ctx, 3, (int[]){s->count, H, Kf}) : NULL;
    if (x && y && (f || !Kf))
        job->fill(job->user, s->first, s->count, x->data, y->data, f ? f->data : NULL);
    ac_tensor *pred = ac_forecaster_forward_future(ctx, s->model, x, f, NULL);
    ac_tensor *loss = ac_forecast_loss(ctx, spec, job->loss_kind, pred, y);
    if (!loss || ac_backward(ctx, loss) != AC_OK) {
        s->status = ac_ctx_failed(ctx) ? ac_ctx_status(ctx) : AC_ERR_NOMEM;
        snprintf(s->error, sizeof s->error, "%s",
                 ac_ctx_failed(ctx) ? ac_ctx_error(ctx) : "out of memory");
        return;
    }
    s->loss = loss->data[0];
}

ac_status ac_batch_slices_step(ac_batch_slices *b, ac_forecaster *model, ac_loss_kind loss_kind,
                               int first, int count, int total, ac_batch_fill_fn fill, void *user,
                               ac_rng *dropout, float *loss, ac_error *err) {
    for (int i = 0; i < b->n; i++) {
        ac_dp_slice part = ac_dp_slice_of(i, b->n, count);
        b->s[i].first = part.first;
        b->s[i].count = part.count;
        b->s[i].rng = *dropout;
        if (part.count > 0) copy_weights(model, b->s[i].model);
    }
    step_job job = {
        .b = b, .loss_kind = loss_kind, .first = first, .total = total, .fill = fill, .user = user};
    ac_threads_run(b->n, run_slice, &job);
    ac_status status = AC_OK;
    for (int i = 0; i < b->n && status == AC_OK; i++)
        if (b->s[i].status != AC_OK)
            status = ac_error_set(err, b->s[i].status, "training step failed: %s", b->s[i].error);
    /* the gradients and the loss, summed in slice order */
    ac_tensor *const *ps = ac_forecaster_params(model);
    float sum = 0.0f;
    for (int i = 0; i < b->n; i++) {
        slice *s = &b->s[i];
        if (s->count > 0 && status == AC_OK) {
            ac_tensor *const *qs = ac_forecaster_params(s->model);
            for (int p = 0; p < ac_forecaster_param_count(model); p++) {
                float *g = ps[p]->grad;
                const float *h = qs[p]->grad;
                for (int64_t k = 0; k < ps[p]->size; k++) g[k] += h[k];
            }
            sum += s->loss;
        }
        ac_zero_grad(ac_forecaster_params(s->model), ac_forecaster_param_count(s->model));
        ac_ctx_reset(s->ctx);
    }
    if (status != AC_OK) return status;
    if (count > 0) *dropout = b->s[0].rng; /* every slice ends where the global batch does */
    *loss = sum;
    return AC_OK;
}
