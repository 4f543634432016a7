/* gradcheck.c - the finite-difference gradient harness (see gradcheck.h). */
#include "support/gradcheck.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define MAX_INPUTS 8

static double project(const ac_tensor *out, const float *r) {
    double f = 0.0;
    for (int64_t k = 0; k < out->size; k++) f += (double)r[k] * (double)out->data[k];
    return f;
}

static double forward_value(ac_ctx *ctx, gc_build_fn build, const void *arg, ac_tensor **in,
                            const float *r, const char *label) {
    ac_ctx_reset(ctx);
    ac_tensor *out = build(ctx, in, arg);
    if (!out) fail_msg("%s: forward failed: %s", label, ac_ctx_error(ctx));
    return project(out, r);
}

/* Accumulates |analytic - numeric| statistics; see gc_report. */
typedef struct gc_tally {
    double diff2, a2, n2, worst, largest;
} gc_tally;

static void tally_add(gc_tally *t, double analytic, double numeric) {
    double d = fabs(analytic - numeric);
    t->diff2 += d * d;
    t->a2 += analytic * analytic;
    t->n2 += numeric * numeric;
    if (d > t->worst) t->worst = d;
    if (fabs(numeric) > t->largest) t->largest = fabs(numeric);
}

static gc_report tally_report(const gc_tally *t, const char *label) {
    double denom = sqrt(t->a2 > t->n2 ? t->a2 : t->n2);
    gc_report rep = {.rel_error = denom > 0 ? sqrt(t->diff2) / denom : sqrt(t->diff2),
                     .max_component = t->largest > 0 ? t->worst / t->largest : t->worst};
    if (rep.rel_error > 1e-2 || rep.max_component > 2e-2)
        fail_msg("%s: gradient mismatch: relative error %.3g (limit 1e-2), worst component %.3g "
                 "of the largest (limit 2e-2)",
                 label, rep.rel_error, rep.max_component);
    if (denom == 0.0) fail_msg("%s: every gradient is zero: the check would prove nothing", label);
    return rep;
}

gc_report gc_check(const char *label, gc_build_fn build, const void *arg, int n_inputs,
                   const gc_input *inputs, gc_prepare_fn prepare, float eps, uint64_t seed) {
    assert_true(n_inputs > 0 && n_inputs <= MAX_INPUTS);
    if (eps <= 0.0f) eps = 5e-3f;
    ac_rng rng;
    ac_rng_seed(&rng, seed, 7);
    ac_tensor *in[MAX_INPUTS];
    ac_error err;
    for (int i = 0; i < n_inputs; i++) {
        const gc_input *spec = &inputs[i];
        in[i] = ac_tensor_new(spec->ndim, spec->shape, !spec->no_grad, &err);
        if (!in[i]) fail_msg("%s: input %d: %s", label, i, err.msg);
        float lo = spec->lo, hi = spec->hi;
        if (lo == 0.0f && hi == 0.0f) lo = -1.0f, hi = 1.0f;
        for (int64_t k = 0; k < in[i]->size; k++) {
            float v;
            do v = ac_rng_uniform_range(&rng, lo, hi);
            while (fabsf(v) < spec->min_abs);
            in[i]->data[k] = v;
        }
    }
    if (prepare) prepare(in, n_inputs, &rng);

    ac_ctx *ctx = ac_ctx_new(0, 0);
    assert_non_null(ctx);
    ac_tensor *out = build(ctx, in, arg);
    if (!out) fail_msg("%s: forward failed: %s", label, ac_ctx_error(ctx));
    float *r = malloc((size_t)out->size * sizeof(float));
    assert_non_null(r);
    for (int64_t k = 0; k < out->size; k++) r[k] = ac_rng_uniform_range(&rng, -1.0f, 1.0f);
    if (ac_backward_seeded(ctx, out, r) != AC_OK)
        fail_msg("%s: backward failed: %s", label, ac_ctx_error(ctx));

    gc_tally tally = {0};
    bool was = ac_ctx_set_grad_enabled(ctx, false);
    for (int i = 0; i < n_inputs; i++) {
        if (inputs[i].no_grad) continue;
        float *analytic = malloc((size_t)in[i]->size * sizeof(float));
        assert_non_null(analytic);
        memcpy(analytic, in[i]->grad, (size_t)in[i]->size * sizeof(float));
        for (int64_t k = 0; k < in[i]->size; k++) {
            float v = in[i]->data[k];
            in[i]->data[k] = v + eps;
            double fp = forward_value(ctx, build, arg, in, r, label);
            in[i]->data[k] = v - eps;
            double fm = forward_value(ctx, build, arg, in, r, label);
            in[i]->data[k] = v;
            tally_add(&tally, analytic[k], (fp - fm) / (2.0 * (double)eps));
        }
        free(analytic);
    }
    ac_ctx_set_grad_enabled(ctx, was);
    gc_report rep = tally_report(&tally, label);
    free(r);
    ac_ctx_free(ctx);
    for (int i = 0; i < n_inputs; i++) ac_tensor_free(in[i]);
    return rep;
}

static double loss_value(ac_ctx *ctx, gc_loss_fn loss, void *arg, const char *label) {
    ac_ctx_reset(ctx);
    ac_tensor *l = loss(ctx, arg);
    if (!l) fail_msg("%s: forward failed: %s", label, ac_ctx_error(ctx));
    return (double)l->data[0];
}

gc_report gc_check_params(const char *label, ac_tensor *const *params, int n_params,
                          gc_loss_fn loss, void *arg, float eps) {
    if (eps <= 0.0f) eps = 5e-3f;
    ac_ctx *ctx = ac_ctx_new(0, 0);
    assert_non_null(ctx);
    ac_zero_grad(params, n_params);
    ac_tensor *l = loss(ctx, arg);
    if (!l) fail_msg("%s: forward failed: %s", label, ac_ctx_error(ctx));
    if (ac_backward(ctx, l) != AC_OK) fail_msg("%s: backward failed: %s", label, ac_ctx_error(ctx));
    gc_tally t = {0};
    bool was = ac_ctx_set_grad_enabled(ctx, false);
    for (int i = 0; i < n_params; i++) {
        ac_tensor *p = params[i];
        for (int64_t k = 0; k < p->size; k++) {
            float v = p->data[k];
            p->data[k] = v + eps;
            double fp = loss_value(ctx, loss, arg, label);
            p->data[k] = v - eps;
            double fm = loss_value(ctx, loss, arg, label);
            p->data[k] = v;
            tally_add(&t, p->grad[k], (fp - fm) / (2.0 * (double)eps));
        }
    }
    ac_ctx_set_grad_enabled(ctx, was);
    ac_ctx_free(ctx);
    return tally_report(&t, label);
}
