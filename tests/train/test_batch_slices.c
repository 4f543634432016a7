/* test_batch_slices.c - a training step's batch in slices, one per thread: the thread count that
 * runs the slices changes no bit; one slice is the plain whole-batch step; slices agree with it to
 * float round-off; a batch shorter than the slice count works; dropout's stream ends where the
 * whole batch's does. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attncast/attncast.h"
#include "train/batch_slices.h"

enum { L = 24, H = 6, C = 3, BATCH = 7 };

static float g_x[BATCH * L * C], g_y[BATCH * H * C];

static void fill(void *user, int first, int count, float *x, float *y, float *future) {
    (void)future;
    (void)user;
    memcpy(x, g_x + first * L * C, (size_t)count * L * C * sizeof(float));
    memcpy(y, g_y + first * H * C, (size_t)count * H * C * sizeof(float));
}

static ac_forecaster *model_new(ac_attention_kind kind) {
    ac_config cfg;
    ac_config_defaults(&cfg);
    cfg.data.lookback = L;
    cfg.data.horizon = H;
    cfg.model.patch_len = 8;
    cfg.model.patch_stride = 4;
    cfg.model.d_model = 16;
    cfg.model.heads = 2;
    cfg.model.layers = 2;
    cfg.model.d_ff = 32;
    cfg.model.dropout = 0.2;
    cfg.model.attention = kind;
    ac_model_spec spec = ac_config_model_spec(&cfg, C);
    ac_rng rng;
    ac_rng_seed(&rng, 3, 0);
    ac_error err;
    ac_forecaster *m = ac_forecaster_new(&spec, &rng, &err);
    assert_non_null(m);
    return m;
}

/* All gradients of m, concatenated, then zeroed. */
static float *take_grads(ac_forecaster *m) {
    ac_tensor *const *ps = ac_forecaster_params(m);
    float *g = malloc((size_t)ac_forecaster_weight_count(m) * sizeof(float)), *at = g;
    for (int i = 0; i < ac_forecaster_param_count(m); i++) {
        memcpy(at, ps[i]->grad, (size_t)ps[i]->size * sizeof(float));
        at += ps[i]->size;
    }
    ac_zero_grad(ps, ac_forecaster_param_count(m));
    return g;
}

/* One sliced step of the first n windows: loss, gradients and the dropout stream's end. */
static float *sliced(ac_forecaster *m, int slices, int threads, int n, float *loss, ac_rng *rng) {
    ac_error err;
    assert_int_equal(ac_threads_init(threads, &err), AC_OK);
    ac_batch_slices *b = ac_batch_slices_new(m, slices, &err);
    assert_non_null(b);
    assert_int_equal(ac_batch_slices_count(b), slices);
    ac_rng_seed(rng, 9, 1);
    assert_int_equal(ac_batch_slices_step(b, m, AC_LOSS_MSE, 0, n, n, fill, NULL, rng, loss, &err),
                     AC_OK);
    ac_batch_slices_free(b);
    return take_grads(m);
}

/* The same step without slices, on one context. */
static float *whole(ac_forecaster *m, int n, float *loss, ac_rng *rng) {
    ac_ctx *ctx = ac_ctx_new(0, 0);
    ac_rng_seed(rng, 9, 1);
    ac_ctx_set_rng(ctx, rng);
    ac_tensor *x = ac_tensor_temp(ctx, 3, (int[]){n, L, C});
    ac_tensor *y = ac_tensor_temp(ctx, 3, (int[]){n, H, C});
    fill(NULL, 0, n, x->data, y->data, NULL);
    ac_tensor *l = ac_mse_loss(ctx, ac_forecaster_forward(ctx, m, x), y);
    assert_int_equal(ac_backward(ctx, l), AC_OK);
    *loss = l->data[0];
    ac_ctx_free(ctx);
    return take_grads(m);
}

static void test_slices_give_the_whole_batch_step(void **state) {
    (void)state;
    ac_rng data;
    ac_rng_seed(&data, 4, 4);
    for (int i = 0; i < BATCH * L * C; i++) g_x[i] = ac_rng_normal(&data);
    for (int i = 0; i < BATCH * H * C; i++) g_y[i] = ac_rng_normal(&data);
    const ac_attention_kind kinds[] = {AC_ATTN_DOT, AC_ATTN_ADDITIVE};
    for (int k = 0; k < 2; k++) {
        ac_forecaster *m = model_new(kinds[k]);
        int64_t nw = ac_forecaster_weight_count(m);
        size_t bytes = (size_t)nw * sizeof(float);
        float lw, l1, l2a, l2b;
        ac_rng rw, r1, r2a, r2b;
        float *gw = whole(m, BATCH, &lw, &rw);
        float *g1 = sliced(m, 1, 2, BATCH, &l1, &r1);
        float *g2a = sliced(m, 2, 1, BATCH, &l2a, &r2a); /* two slices, one thread */
        float *g2b = sliced(m, 2, 2, BATCH, &l2b, &r2b); /* two slices, two threads */
        /* one slice is the whole-batch step, bit for bit */
        assert_memory_equal(&lw, &l1, sizeof lw);
        assert_memory_equal(gw, g1, bytes);
        /* the thread count that runs the slices changes nothing */
        assert_memory_equal(&l2a, &l2b, sizeof l2a);
        assert_memory_equal(g2a, g2b, bytes);
        /* slices sum the same terms in another grouping */
        assert_true(fabsf(l2a - lw) <= 1e-5f * fabsf(lw));
        double scale = 0.0;
        for (int64_t i = 0; i < nw; i++) scale = fmax(scale, fabs(gw[i]));
        for (int64_t i = 0; i < nw; i++)
            if (fabs(g2a[i] - gw[i]) > 1e-4 * scale)
                fail_msg("gradient %lld: %g in slices, %g whole", (long long)i, (double)g2a[i],
                         (double)gw[i]);
        /* every slice's dropout stream ends where the whole batch's does */
        assert_true(rw.state == r1.state && rw.state == r2a.state && rw.state == r2b.state);
        free(gw), free(g1), free(g2a), free(g2b);
        ac_forecaster_free(m);
    }
}

/* A short last batch: 2 windows in 3 slices (one slice idle). */
static void test_a_batch_shorter_than_the_slices(void **state) {
    (void)state;
    ac_forecaster *m = model_new(AC_ATTN_DOT);
    float lw, ls;
    ac_rng rw, rs;
    float *gw = whole(m, 2, &lw, &rw);
    float *gs = sliced(m, 3, 2, 2, &ls, &rs);
    assert_true(fabsf(ls - lw) <= 1e-5f * fabsf(lw));
    assert_true(rw.state == rs.state);
    int64_t nw = ac_forecaster_weight_count(m);
    for (int64_t i = 0; i < nw; i++) assert_true(fabsf(gs[i] - gw[i]) <= 1e-4f);
    free(gw), free(gs);
    ac_forecaster_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slices_give_the_whole_batch_step),
        cmocka_unit_test(test_a_batch_shorter_than_the_slices),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
