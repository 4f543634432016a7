/* test_optim.c - the optimizers, gradient clipping and learning-rate schedules.
 *
 * Updates are checked against references written here as plain double-precision loops straight
 * from the formulas in optim.h (not PyTorch's operation order), and against hand-computed
 * sequences for SGD. Exact resume (copying weights, state and step count into a fresh
 * optimizer) is checked bit for bit, since checkpoints rely on it. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attncast/optim.h"

#define MAX_REF 8 /* elements in the small reference runs */

static const double PI = 3.14159265358979323846;

static ac_tensor *param_new(int size, const float *values) {
    ac_error err;
    ac_tensor *t = ac_tensor_new(1, &size, true, &err);
    assert_non_null(t);
    assert_non_null(t->grad);
    if (values) memcpy(t->data, values, (size_t)size * sizeof(float));
    return t;
}

static ac_optimizer *optimizer_new(const ac_optim_config *cfg, ac_tensor **params, int n) {
    ac_error err = {0};
    ac_optimizer *opt = ac_optimizer_new(cfg, params, n, &err);
    if (!opt) fail_msg("ac_optimizer_new failed: %s", err.msg);
    return opt;
}

static void assert_near(double got, double want, double rel) {
    if (!(fabs(got - want) <= rel * (fabs(want) + 1e-12)))
        fail_msg("got %.9g, want %.9g (relative tolerance %g)", got, want, rel);
}

/* A gradient for step t (1-based) and element j that varies in sign and size. */
static float grad_at(int t, int j) {
    return (float)(sin(0.7 * t + 1.3 * j) * (1.0 + 0.5 * j));
}

/* The Adam / AdamW update as optim.h writes it, in double. decoupled: AdamW; bias_correction
 * off gives the uncorrected update a wrong implementation would make. */
typedef struct adam_ref {
    double w[MAX_REF], m[MAX_REF], v[MAX_REF];
} adam_ref;

static void adam_ref_run(adam_ref *r, int n, int steps, const ac_optim_config *c, double lr,
                         bool decoupled, bool bias_correction) {
    double b1 = c->beta1, b2 = c->beta2, eps = c->eps, wd = c->weight_decay;
    for (int t = 1; t <= steps; t++) {
        for (int j = 0; j < n; j++) {
            double g = grad_at(t, j);
            if (decoupled)
                r->w[j] -= lr * wd * r->w[j];
            else
                g += wd * r->w[j];
            r->m[j] = b1 * r->m[j] + (1 - b1) * g;
            r->v[j] = b2 * r->v[j] + (1 - b2) * g * g;
            double mhat = r->m[j], vhat = r->v[j];
            if (bias_correction) {
                mhat /= 1 - pow(b1, t);
                vhat /= 1 - pow(b2, t);
            }
            r->w[j] -= lr * mhat / (sqrt(vhat) + eps);
        }
    }
}

/* Runs `steps` steps of the library's optimizer on one parameter starting from w0, with the
 * gradients grad_at; leaves the final weights in out. */
static void adam_lib_run(float *out, const float *w0, int n, int steps, const ac_optim_config *c,
                         float lr) {
    ac_tensor *p = param_new(n, w0);
    ac_optimizer *opt = optimizer_new(c, &p, 1);
    for (int t = 1; t <= steps; t++) {
        for (int j = 0; j < n; j++) p->grad[j] = grad_at(t, j);
        ac_optimizer_step(opt, lr);
    }
    memcpy(out, p->data, (size_t)n * sizeof(float));
    ac_optimizer_free(opt);
    ac_tensor_free(p);
}

static void test_adam_first_step_moves_each_weight_by_lr(void **state) {
    (void)state;
    const float grads[] = {0.5f, -2.0f, 0.05f, -100.0f, 7.0f};
    const int n = 5;
    const float lr = 1e-3f;
    ac_tensor *p = param_new(n, NULL); /* weights 0: the displacement is exact in float */
    memcpy(p->grad, grads, sizeof grads);
    ac_optim_config c = ac_optim_config_default(AC_OPT_ADAM);
    ac_optimizer *opt = optimizer_new(&c, &p, 1);
    ac_optimizer_step(opt, lr);
    assert_int_equal(ac_optimizer_step_count(opt), 1);
    for (int j = 0; j < n; j++) assert_near(p->data[j], grads[j] > 0 ? -lr : lr, 1e-6);
    ac_optimizer_free(opt);
    ac_tensor_free(p);
}

static void test_adam_matches_double_reference_over_several_steps(void **state) {
    (void)state;
    const float w0[] = {1.0f, -0.5f, 2.0f, 0.25f, -3.0f, 0.0f};
    const int n = 6, steps = 7;
    const float lr = 0.01f;
    /* torch's defaults, then betas and an eps large enough to show in the result */
    ac_optim_config configs[2] = {ac_optim_config_default(AC_OPT_ADAM),
                                  ac_optim_config_default(AC_OPT_ADAM)};
    configs[1].beta1 = 0.3f;
    configs[1].beta2 = 0.9f;
    configs[1].eps = 1e-2f;
    for (int k = 0; k < 2; k++) {
        float got[MAX_REF];
        adam_lib_run(got, w0, n, steps, &configs[k], lr);
        adam_ref r = {0};
        for (int j = 0; j < n; j++) r.w[j] = w0[j];
        adam_ref_run(&r, n, steps, &configs[k], lr, false, true);
        for (int j = 0; j < n; j++) assert_near(got[j], r.w[j], 1e-6);
    }
}

static void test_adam_l2_decay_differs_from_adamw_decoupled_decay(void **state) {
    (void)state;
    const float w0[] = {2.0f, -1.5f, 0.75f, 4.0f};
    const int n = 4, steps = 5;
    const float lr = 0.05f;
    ac_optim_config adam = ac_optim_config_default(AC_OPT_ADAM);
    ac_optim_config adamw = ac_optim_config_default(AC_OPT_ADAMW);
    adam.weight_decay = adamw.weight_decay = 0.2f;
    float got_adam[MAX_REF], got_adamw[MAX_REF];
    adam_lib_run(got_adam, w0, n, steps, &adam, lr);
    adam_lib_run(got_adamw, w0, n, steps, &adamw, lr);
    adam_ref l2 = {0}, decoupled = {0};
    for (int j = 0; j < n; j++) l2.w[j] = decoupled.w[j] = w0[j];
    adam_ref_run(&l2, n, steps, &adam, lr, false, true);
    adam_ref_run(&decoupled, n, steps, &adamw, lr, true, true);
    for (int j = 0; j < n; j++) {
        assert_near(got_adam[j], l2.w[j], 1e-6);
        assert_near(got_adamw[j], decoupled.w[j], 1e-6);
        /* the two references are far apart, so each match above means something */
        assert_true(fabs(l2.w[j] - decoupled.w[j]) > 1e-3);
    }
}

static void test_adam_applies_bias_correction_at_steps_one_and_two(void **state) {
    (void)state;
    const float w0[] = {0.5f, -1.0f, 3.0f};
    const int n = 3;
    const float lr = 0.1f;
    ac_optim_config c = ac_optim_config_default(AC_OPT_ADAM);
    for (int steps = 1; steps <= 2; steps++) {
        float got[MAX_REF];
        adam_lib_run(got, w0, n, steps, &c, lr);
        adam_ref corrected = {0}, uncorrected = {0};
        for (int j = 0; j < n; j++) corrected.w[j] = uncorrected.w[j] = w0[j];
        adam_ref_run(&corrected, n, steps, &c, lr, false, true);
        adam_ref_run(&uncorrected, n, steps, &c, lr, false, false);
        for (int j = 0; j < n; j++) {
            assert_near(got[j], corrected.w[j], 1e-6);
            assert_true(fabs(got[j] - uncorrected.w[j]) > 1e-2);
        }
    }
}

static void test_sgd_momentum_follows_hand_computed_three_steps(void **state) {
    (void)state;
    ac_tensor *p = param_new(1, (const float[]){1.0f});
    ac_optim_config c = ac_optim_config_default(AC_OPT_SGD); /* momentum 0.9 */
    ac_optimizer *opt = optimizer_new(&c, &p, 1);
    /* buf = 1 -> w = 0.9;  buf = 0.9 + 2 = 2.9 -> w = 0.61;  buf = 2.61 - 1 = 1.61 -> 0.449 */
    const float grads[] = {1.0f, 2.0f, -1.0f};
    const double bufs[] = {1.0, 2.9, 1.61}, weights[] = {0.9, 0.61, 0.449};
    for (int t = 0; t < 3; t++) {
        p->grad[0] = grads[t];
        ac_optimizer_step(opt, 0.1f);
        assert_near(ac_optimizer_state(opt, 0, 0)[0], bufs[t], 1e-6);
        assert_near(p->data[0], weights[t], 1e-6);
    }
    ac_optimizer_free(opt);
    ac_tensor_free(p);
}

static void test_sgd_without_momentum_is_plain_gradient_descent(void **state) {
    (void)state;
    const int n = 4;
    const float lr = 0.3f;
    ac_tensor *p = param_new(n, (const float[]){1.0f, -2.0f, 0.5f, 3.0f});
    float expect[4];
    memcpy(expect, p->data, sizeof expect);
    ac_optim_config c = ac_optim_config_default(AC_OPT_SGD);
    c.momentum = 0.0f;
    ac_optimizer *opt = optimizer_new(&c, &p, 1);
    for (int t = 1; t <= 6; t++) {
        for (int j = 0; j < n; j++) {
            p->grad[j] = grad_at(t, j);
            expect[j] = expect[j] - lr * p->grad[j];
        }
        ac_optimizer_step(opt, lr);
        assert_memory_equal(p->data, expect, sizeof expect);
    }
    ac_optimizer_free(opt);
    ac_tensor_free(p);
}

static void test_sgd_weight_decay_adds_decay_times_weight_to_gradient(void **state) {
    (void)state;
    ac_tensor *p = param_new(1, (const float[]){2.0f});
    ac_optim_config c = ac_optim_config_default(AC_OPT_SGD);
    c.weight_decay = 0.5f;
    ac_optimizer *opt = optimizer_new(&c, &p, 1);
    /* g = 1 + 0.5 * 2 = 2 -> buf 2, w = 1.8;  g = 1 + 0.9 = 1.9 -> buf 3.7, w = 1.43 */
    p->grad[0] = 1.0f;
    ac_optimizer_step(opt, 0.1f);
    assert_near(p->data[0], 1.8, 1e-6);
    ac_optimizer_step(opt, 0.1f);
    assert_near(p->data[0], 1.43, 1e-6);
    assert_near(p->grad[0], 1.0, 0.0); /* the gradient buffer itself is left alone */
    ac_optimizer_free(opt);
    ac_tensor_free(p);
}

/* Minimises sum (w - c)^2 with a cosine-annealed rate; returns the largest |w - c|. */
static double minimise_quadratic(ac_optimizer_kind kind, double lr, int steps) {
    const float target[] = {1.0f, 1.0f, -1.0f, 4.0f, 0.0f};
    const int n = 5;
    ac_tensor *p = param_new(n, (const float[]){3.0f, -2.0f, 0.5f, 10.0f, -0.3f});
    ac_optim_config c = ac_optim_config_default(kind);
    ac_optimizer *opt = optimizer_new(&c, &p, 1);
    ac_lr_schedule s = {.kind = AC_SCHED_COSINE, .lr = lr, .total_steps = steps};
    for (int t = 0; t < steps; t++) {
        for (int j = 0; j < n; j++) p->grad[j] = 2.0f * (p->data[j] - target[j]);
        ac_optimizer_step(opt, (float)ac_lr_at(&s, t));
    }
    double worst = 0.0;
    for (int j = 0; j < n; j++) worst = fmax(worst, fabs((double)p->data[j] - target[j]));
    ac_optimizer_free(opt);
    ac_tensor_free(p);
    return worst;
}

static void test_every_kind_minimises_a_quadratic(void **state) {
    (void)state;
    assert_true(minimise_quadratic(AC_OPT_ADAM, 0.2, 1500) < 1e-3);
    assert_true(minimise_quadratic(AC_OPT_ADAMW, 0.2, 1500) < 1e-3);
    assert_true(minimise_quadratic(AC_OPT_SGD, 0.05, 500) < 1e-4);
}

/* Parameters of several sizes, one above the size at which updates go multi-threaded. */
enum { NPARAM = 3 };
static const int SIZES[NPARAM] = {7, 1000, 70001};

static void params_new(ac_tensor **ps) {
    for (int i = 0; i < NPARAM; i++) {
        ps[i] = param_new(SIZES[i], NULL);
        for (int j = 0; j < SIZES[i]; j++) ps[i]->data[j] = (float)cos(0.1 * j + i);
    }
}

static void params_free(ac_tensor **ps) {
    for (int i = 0; i < NPARAM; i++) ac_tensor_free(ps[i]);
}

/* Gradient of step t: depends on the weights, as in training. */
static void params_set_grads(ac_tensor **ps, int t) {
    for (int i = 0; i < NPARAM; i++)
        for (int j = 0; j < SIZES[i]; j++)
            ps[i]->grad[j] = 2.0f * ps[i]->data[j] + grad_at(t, j % 13);
}

static void run_steps(ac_optimizer *opt, ac_tensor **ps, int from, int to) {
    for (int t = from; t <= to; t++) {
        params_set_grads(ps, t);
        ac_optimizer_step(opt, 0.01f);
    }
}

static void assert_params_identical(ac_tensor **a, ac_tensor **b) {
    for (int i = 0; i < NPARAM; i++)
        assert_memory_equal(a[i]->data, b[i]->data, (size_t)SIZES[i] * sizeof(float));
}

static bool params_identical(ac_tensor **a, ac_tensor **b) {
    for (int i = 0; i < NPARAM; i++)
        if (memcmp(a[i]->data, b[i]->data, (size_t)SIZES[i] * sizeof(float))) return false;
    return true;
}

static void test_identical_runs_give_bit_identical_weights(void **state) {
    (void)state;
    const ac_optimizer_kind kinds[] = {AC_OPT_ADAM, AC_OPT_ADAMW, AC_OPT_SGD};
    for (int k = 0; k < 3; k++) {
        ac_optim_config c = ac_optim_config_default(kinds[k]);
        c.weight_decay = 0.01f;
        ac_tensor *a[NPARAM], *b[NPARAM];
        params_new(a);
        params_new(b);
        ac_optimizer *oa = optimizer_new(&c, a, NPARAM), *ob = optimizer_new(&c, b, NPARAM);
        run_steps(oa, a, 1, 10);
        run_steps(ob, b, 1, 10);
        assert_params_identical(a, b);
        ac_optimizer_free(oa);
        ac_optimizer_free(ob);
        params_free(a);
        params_free(b);
    }
}

static void test_state_slots_and_pointers_are_as_documented(void **state) {
    (void)state;
    ac_tensor *ps[NPARAM];
    params_new(ps);
    ac_optim_config adam = ac_optim_config_default(AC_OPT_ADAM);
    ac_optim_config sgd = ac_optim_config_default(AC_OPT_SGD);
    ac_optimizer *oa = optimizer_new(&adam, ps, NPARAM), *os = optimizer_new(&sgd, ps, NPARAM);
    assert_int_equal(ac_optimizer_state_slots(oa), 2);
    assert_int_equal(ac_optimizer_state_slots(os), 1);
    assert_int_equal(ac_optimizer_step_count(oa), 0);
    for (int i = 0; i < NPARAM; i++) {
        assert_non_null(ac_optimizer_state(oa, i, 0));
        assert_non_null(ac_optimizer_state(oa, i, 1));
        assert_non_null(ac_optimizer_state(os, i, 0));
        assert_null(ac_optimizer_state(os, i, 1));
        assert_null(ac_optimizer_state(oa, i, 2));
        assert_null(ac_optimizer_state(oa, i, -1));
    }
    assert_null(ac_optimizer_state(oa, -1, 0));
    assert_null(ac_optimizer_state(oa, NPARAM, 0));
    /* zeroed, and each buffer has the parameter's full size without overlapping the others */
    for (int i = 0; i < NPARAM; i++)
        for (int s = 0; s < 2; s++) {
            float *buf = ac_optimizer_state(oa, i, s);
            for (int j = 0; j < SIZES[i]; j++) assert_true(buf[j] == 0.0f);
            for (int j = 0; j < SIZES[i]; j++) buf[j] = (float)(10 * i + s);
        }
    for (int i = 0; i < NPARAM; i++)
        for (int s = 0; s < 2; s++) {
            const float *buf = ac_optimizer_state(oa, i, s);
            for (int j = 0; j < SIZES[i]; j++) assert_true(buf[j] == (float)(10 * i + s));
        }
    ac_optimizer_set_step_count(oa, 42);
    assert_int_equal(ac_optimizer_step_count(oa), 42);
    ac_optimizer_free(oa);
    ac_optimizer_free(os);
    params_free(ps);
}

/* Runs 5 steps straight; runs 3, copies weights, state and step count into a fresh optimizer
 * (what a checkpoint does) and runs 2 more: both must match bit for bit. Also checks that
 * leaving out the step count does not match, so the copy is really needed. */
static void check_exact_resume(ac_optimizer_kind kind) {
    ac_optim_config c = ac_optim_config_default(kind);
    c.weight_decay = 0.01f;
    ac_tensor *straight[NPARAM], *first[NPARAM], *resumed[NPARAM], *no_count[NPARAM];
    params_new(straight);
    params_new(first);
    params_new(resumed);
    params_new(no_count);
    ac_optimizer *o_straight = optimizer_new(&c, straight, NPARAM);
    ac_optimizer *o_first = optimizer_new(&c, first, NPARAM);
    ac_optimizer *o_resumed = optimizer_new(&c, resumed, NPARAM);
    ac_optimizer *o_no_count = optimizer_new(&c, no_count, NPARAM);
    run_steps(o_straight, straight, 1, 5);
    run_steps(o_first, first, 1, 3);
    int slots = ac_optimizer_state_slots(o_first);
    for (int i = 0; i < NPARAM; i++) {
        size_t bytes = (size_t)SIZES[i] * sizeof(float);
        memcpy(resumed[i]->data, first[i]->data, bytes);
        memcpy(no_count[i]->data, first[i]->data, bytes);
        for (int s = 0; s < slots; s++) {
            memcpy(ac_optimizer_state(o_resumed, i, s), ac_optimizer_state(o_first, i, s), bytes);
            memcpy(ac_optimizer_state(o_no_count, i, s), ac_optimizer_state(o_first, i, s), bytes);
        }
    }
    ac_optimizer_set_step_count(o_resumed, ac_optimizer_step_count(o_first));
    run_steps(o_resumed, resumed, 4, 5);
    run_steps(o_no_count, no_count, 4, 5);
    assert_int_equal(ac_optimizer_step_count(o_resumed), 5);
    assert_params_identical(straight, resumed);
    assert_false(params_identical(straight, no_count));
    ac_optimizer_free(o_straight);
    ac_optimizer_free(o_first);
    ac_optimizer_free(o_resumed);
    ac_optimizer_free(o_no_count);
    params_free(straight);
    params_free(first);
    params_free(resumed);
    params_free(no_count);
}

static void test_adam_resumes_exactly_from_copied_state(void **state) {
    (void)state;
    check_exact_resume(AC_OPT_ADAM);
}

static void test_sgd_resumes_exactly_from_copied_state(void **state) {
    (void)state;
    check_exact_resume(AC_OPT_SGD);
}

/* ac_optimizer_new must fail with AC_ERR_INVALID and a message containing `needle`. */
static void assert_new_fails(const ac_optim_config *c, ac_tensor **ps, int n, const char *needle) {
    ac_error err = {0};
    ac_optimizer *opt = ac_optimizer_new(c, ps, n, &err);
    assert_null(opt);
    assert_int_equal(err.code, AC_ERR_INVALID);
    if (!strstr(err.msg, needle)) fail_msg("message '%s' lacks '%s'", err.msg, needle);
}

static void test_parameter_without_gradient_is_rejected_by_name_or_index(void **state) {
    (void)state;
    ac_error err;
    int shape[] = {3};
    ac_tensor *ps[2] = {param_new(3, NULL), ac_tensor_new(1, shape, false, &err)};
    assert_non_null(ps[1]);
    ac_optim_config c = ac_optim_config_default(AC_OPT_ADAM);
    assert_new_fails(&c, ps, 2, "parameter 1");
    ps[1]->name = "encoder.w_q";
    assert_new_fails(&c, ps, 2, "encoder.w_q");
    ac_tensor *with_null[2] = {ps[0], NULL};
    assert_new_fails(&c, with_null, 2, "parameter 1");
    assert_new_fails(&c, ps, 0, "at least one");
    ac_tensor_free(ps[0]);
    ac_tensor_free(ps[1]);
}

static void test_bad_betas_eps_and_momentum_are_rejected(void **state) {
    (void)state;
    ac_tensor *p = param_new(2, NULL);
    const float bad_betas[] = {1.0f, -0.1f, 1.5f, NAN};
    for (size_t k = 0; k < sizeof bad_betas / sizeof bad_betas[0]; k++) {
        ac_optim_config c = ac_optim_config_default(AC_OPT_ADAMW);
        c.beta1 = bad_betas[k];
        assert_new_fails(&c, &p, 1, "beta1");
        c = ac_optim_config_default(AC_OPT_ADAM);
        c.beta2 = bad_betas[k];
        assert_new_fails(&c, &p, 1, "beta2");
        c = ac_optim_config_default(AC_OPT_SGD);
        c.momentum = bad_betas[k];
        assert_new_fails(&c, &p, 1, "momentum");
    }
    ac_optim_config c = ac_optim_config_default(AC_OPT_ADAM);
    c.eps = 0.0f;
    assert_new_fails(&c, &p, 1, "eps");
    ac_tensor_free(p);
}

static void test_negative_weight_decay_is_rejected(void **state) {
    (void)state;
    ac_tensor *p = param_new(2, NULL);
    const ac_optimizer_kind kinds[] = {AC_OPT_ADAM, AC_OPT_ADAMW, AC_OPT_SGD};
    for (int k = 0; k < 3; k++) {
        ac_optim_config c = ac_optim_config_default(kinds[k]);
        c.weight_decay = -0.01f;
        assert_new_fails(&c, &p, 1, "weight_decay");
    }
    ac_tensor_free(p);
}

static void test_clip_returns_global_norm_over_parameters(void **state) {
    (void)state;
    ac_error err;
    int one = 1;
    ac_tensor *ps[3] = {param_new(1, NULL), ac_tensor_new(1, &one, false, &err),
                        param_new(1, NULL)};
    ps[0]->grad[0] = 3.0f;
    ps[2]->grad[0] = -4.0f; /* the middle one has no gradient and is skipped */
    assert_near(ac_clip_grad_norm(ps, 3, 0.0), 5.0, 1e-12);
    assert_true(ps[0]->grad[0] == 3.0f && ps[2]->grad[0] == -4.0f);
    for (int i = 0; i < 3; i++) ac_tensor_free(ps[i]);
}

static void test_clip_scales_gradients_down_to_max_norm(void **state) {
    (void)state;
    ac_tensor *ps[2] = {param_new(2, (const float[]){0, 0}), param_new(1, NULL)};
    ps[0]->grad[0] = 3.0f;
    ps[0]->grad[1] = 0.0f;
    ps[1]->grad[0] = 4.0f;
    assert_near(ac_clip_grad_norm(ps, 2, 1.0), 5.0, 1e-12);
    assert_near(ps[0]->grad[0], 0.6, 1e-6);
    assert_near(ps[1]->grad[0], 0.8, 1e-6);
    assert_near(ac_clip_grad_norm(ps, 2, 0.0), 1.0, 1e-6); /* norm after scaling */
    for (int i = 0; i < 2; i++) ac_tensor_free(ps[i]);
}

static void test_clip_leaves_gradients_under_the_limit_or_without_limit(void **state) {
    (void)state;
    ac_tensor *p = param_new(2, NULL);
    const double limits[] = {5.5, 0.0, -1.0};
    for (int k = 0; k < 3; k++) {
        p->grad[0] = 3.0f;
        p->grad[1] = 4.0f;
        assert_near(ac_clip_grad_norm(&p, 1, limits[k]), 5.0, 1e-12);
        assert_true(p->grad[0] == 3.0f && p->grad[1] == 4.0f);
    }
    ac_tensor_free(p);
}

static void test_constant_schedule_keeps_the_rate(void **state) {
    (void)state;
    ac_lr_schedule s = {.kind = AC_SCHED_CONSTANT, .lr = 0.003};
    assert_true(ac_lr_at(&s, 0) == 0.003);
    assert_true(ac_lr_at(&s, 123456) == 0.003);
}

static void test_warmup_ramps_linearly_then_hands_over(void **state) {
    (void)state;
    ac_lr_schedule s = {.kind = AC_SCHED_CONSTANT, .lr = 2.0, .warmup_steps = 4};
    assert_near(ac_lr_at(&s, 0), 0.5, 1e-15);
    assert_near(ac_lr_at(&s, 1), 1.0, 1e-15);
    assert_near(ac_lr_at(&s, 3), 2.0, 1e-15);
    assert_near(ac_lr_at(&s, 4), 2.0, 1e-15);
    /* warm-up also comes before cosine and step decay */
    s.kind = AC_SCHED_COSINE;
    s.total_steps = 104;
    assert_near(ac_lr_at(&s, 1), 1.0, 1e-15);
    assert_near(ac_lr_at(&s, 4), 2.0, 1e-15);
    s.kind = AC_SCHED_STEP;
    s.steps_per_epoch = 1;
    s.decay_every = 1;
    s.decay_gamma = 0.5;
    assert_near(ac_lr_at(&s, 2), 1.5, 1e-15);
}

static void test_cosine_starts_at_lr_halves_midway_and_ends_at_zero(void **state) {
    (void)state;
    ac_lr_schedule s = {.kind = AC_SCHED_COSINE, .lr = 0.1, .total_steps = 100};
    assert_near(ac_lr_at(&s, 0), 0.1, 1e-15);
    assert_near(ac_lr_at(&s, 50), 0.05, 1e-12);
    assert_near(ac_lr_at(&s, 25), 0.05 * (1 + cos(PI / 4)), 1e-12);
    assert_true(fabs(ac_lr_at(&s, 100)) < 1e-15);
    assert_true(fabs(ac_lr_at(&s, 1000)) < 1e-15); /* clamped after the end */
    /* with warm-up, the cosine spans the steps after it */
    s.warmup_steps = 10;
    s.total_steps = 110;
    assert_near(ac_lr_at(&s, 10), 0.1, 1e-15);
    assert_near(ac_lr_at(&s, 60), 0.05, 1e-12);
}

static void test_step_decay_multiplies_by_gamma_every_few_epochs(void **state) {
    (void)state;
    ac_lr_schedule s = {.kind = AC_SCHED_STEP,
                        .lr = 1.0,
                        .steps_per_epoch = 10,
                        .decay_every = 2,
                        .decay_gamma = 0.5};
    assert_near(ac_lr_at(&s, 0), 1.0, 1e-15);
    assert_near(ac_lr_at(&s, 19), 1.0, 1e-15);
    assert_near(ac_lr_at(&s, 20), 0.5, 1e-15);
    assert_near(ac_lr_at(&s, 39), 0.5, 1e-15);
    assert_near(ac_lr_at(&s, 40), 0.25, 1e-15);
    assert_near(ac_lr_at(&s, 65), 0.125, 1e-15);
}

static void test_schedules_survive_zero_divisors(void **state) {
    (void)state;
    /* step decay: zero steps per epoch and zero decay_every count as one */
    ac_lr_schedule s = {.kind = AC_SCHED_STEP, .lr = 1.0, .decay_gamma = 0.5};
    assert_near(ac_lr_at(&s, 3), 0.125, 1e-15);
    /* cosine with no steps after warm-up: finished, rate zero, no NaN */
    ac_lr_schedule c = {.kind = AC_SCHED_COSINE, .lr = 1.0, .warmup_steps = 10, .total_steps = 10};
    assert_near(ac_lr_at(&c, 9), 1.0, 1e-15);
    assert_true(fabs(ac_lr_at(&c, 10)) < 1e-15);
    c.warmup_steps = 0;
    c.total_steps = 0;
    assert_true(isfinite(ac_lr_at(&c, 0)));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_adam_first_step_moves_each_weight_by_lr),
        cmocka_unit_test(test_adam_matches_double_reference_over_several_steps),
        cmocka_unit_test(test_adam_l2_decay_differs_from_adamw_decoupled_decay),
        cmocka_unit_test(test_adam_applies_bias_correction_at_steps_one_and_two),
        cmocka_unit_test(test_sgd_momentum_follows_hand_computed_three_steps),
        cmocka_unit_test(test_sgd_without_momentum_is_plain_gradient_descent),
        cmocka_unit_test(test_sgd_weight_decay_adds_decay_times_weight_to_gradient),
        cmocka_unit_test(test_every_kind_minimises_a_quadratic),
        cmocka_unit_test(test_identical_runs_give_bit_identical_weights),
        cmocka_unit_test(test_state_slots_and_pointers_are_as_documented),
        cmocka_unit_test(test_adam_resumes_exactly_from_copied_state),
        cmocka_unit_test(test_sgd_resumes_exactly_from_copied_state),
        cmocka_unit_test(test_parameter_without_gradient_is_rejected_by_name_or_index),
        cmocka_unit_test(test_bad_betas_eps_and_momentum_are_rejected),
        cmocka_unit_test(test_negative_weight_decay_is_rejected),
        cmocka_unit_test(test_clip_returns_global_norm_over_parameters),
        cmocka_unit_test(test_clip_scales_gradients_down_to_max_norm),
        cmocka_unit_test(test_clip_leaves_gradients_under_the_limit_or_without_limit),
        cmocka_unit_test(test_constant_schedule_keeps_the_rate),
        cmocka_unit_test(test_warmup_ramps_linearly_then_hands_over),
        cmocka_unit_test(test_cosine_starts_at_lr_halves_midway_and_ends_at_zero),
        cmocka_unit_test(test_step_decay_multiplies_by_gamma_every_few_epochs),
        cmocka_unit_test(test_schedules_survive_zero_divisors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
