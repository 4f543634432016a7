/* test_checkpoint.c - HDF5 checkpoints on real files in a temp folder: a full training
 * checkpoint round trips bit for bit (parameters, config, scaler, optimizer moments, training
 * state, and so the forecasts and the next optimizer step) for every attention kind in both
 * channel modes; model-only and fresh-state files; each kind of damaged, foreign or mismatched
 * file refused with one line naming the file and the HDF5 path; the checksum in the user block
 * refusing damaged bytes anywhere (HDF5 itself would crash on some) before HDF5 opens the file;
 * a write that fails half-way
 * (file size limit in a child process) keeps the previous checkpoint; /calibration round trips,
 * ac_ckpt_rewrite keeps every other dataset, and a bad /calibration is refused with its path;
 * h5dump reads the layout. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "support/testutil.h"

#include <hdf5.h>

#include "attncast/attncast.h"
#include "attncast/checkpoint.h"

static char dir[64];

static int make_dir(void **state) {
    (void)state;
    return tu_make_temp_dir(dir, sizeof dir, "ckpt");
}

static int remove_dir(void **state) {
    (void)state;
    return tu_remove_dir(dir);
}

/* <dir>/<name> into buf. */
static const char *in_dir(char *buf, size_t n, const char *name) {
    snprintf(buf, n, "%s/%s", dir, name);
    return buf;
}

static void assert_contains(const char *haystack, const char *needle) {
    if (!strstr(haystack, needle)) fail_msg("'%s' not in '%s'", needle, haystack);
}

/* ---- a small trained-looking model with everything a training checkpoint holds ---- */

typedef struct fixture {
    ac_config cfg;
    ac_forecaster *model;
    double mean[2], std[2];
    ac_scaler scaler;
    char names[2][8];
    char *name_ptrs[2];
    ac_optimizer *opt;
    ac_epoch_record history[2];
    float *best;
    ac_train_state train;
} fixture;

static void fake_grads(ac_forecaster *m, ac_rng *rng) {
    ac_tensor *const *ps = ac_forecaster_params(m);
    for (int i = 0; i < ac_forecaster_param_count(m); i++)
        for (int64_t j = 0; j < ps[i]->size; j++) ps[i]->grad[j] = ac_rng_uniform_range(rng, -1, 1);
}

/* A fixture of a quantile model when quantiles is a list ("0.1,0.5,0.9"), else of a point one. */
static void fixture_init_levels(fixture *f, ac_attention_kind kind, ac_channel_mode mode,
                                ac_optimizer_kind opt_kind, int layers, uint64_t seed,
                                const char *quantiles) {
    memset(f, 0, sizeof *f);
    ac_config *c = &f->cfg;
    ac_config_defaults(c);
    snprintf(c->data.csv, sizeof c->data.csv, "x.csv");
    c->data.lookback = 12;
    c->data.horizon = 3;
    c->model.attention = kind;
    c->model.channels = mode;
    c->model.d_model = 8;
    c->model.heads = 2;
    c->model.layers = layers;
    c->model.d_ff = 12;
    c->model.patch_len = 4;
    c->model.patch_stride = 2;
    c->train.optimizer = opt_kind;
    c->train.seed = seed;

    ac_error err;
    if (quantiles) {
        char set[64];
        snprintf(set, sizeof set, "model.quantiles=%s", quantiles);
        if (ac_config_set(c, set, &err) != AC_OK) fail_msg("quantiles: %s", err.msg);
    }
    ac_model_spec spec = ac_config_model_spec(c, 2);
    ac_rng rng;
    ac_rng_seed(&rng, seed, AC_RNG_STREAM_INIT);
    f->model = ac_forecaster_new(&spec, &rng, &err);
    if (!f->model) fail_msg("model: %s", err.msg);

    f->mean[0] = 1.5;
    f->mean[1] = -2.25;
    f->std[0] = 0.5;
    f->std[1] = 3.0 + (double)seed;
    f->scaler = (ac_scaler){.channels = 2, .columns = 2, .mean = f->mean, .std = f->std};
    strcpy(f->names[0], "a");
    strcpy(f->names[1], "b");
    f->name_ptrs[0] = f->names[0];
    f->name_ptrs[1] = f->names[1];

    ac_optim_config oc = ac_optim_config_default(opt_kind);
    f->opt = ac_optimizer_new(&oc, ac_forecaster_params(f->model),
                              ac_forecaster_param_count(f->model), &err);
    if (!f->opt) fail_msg("optimizer: %s", err.msg);
    for (int s = 0; s < 2; s++) { /* non-zero moments */
        fake_grads(f->model, &rng);
        ac_optimizer_step(f->opt, 1e-3f);
    }

    f->history[0] = (ac_epoch_record){1, 0.9, 0.8, 1e-3, 1.5, 100.0};
    f->history[1] = (ac_epoch_record){2, 0.7, 0.85, 5e-4, 2.25, 120.5};
    int64_t count = ac_forecaster_weight_count(f->model);
    f->best = malloc((size_t)count * sizeof(float));
    ac_tensor *const *ps = ac_forecaster_params(f->model);
    int64_t at = 0;
    for (int i = 0; i < ac_forecaster_param_count(f->model); i++) {
        memcpy(f->best + at, ps[i]->data, (size_t)ps[i]->size * sizeof(float));
        at += ps[i]->size;
    }
    ac_train_state *t = &f->train;
    *t = (ac_train_state){.epoch = 2,
                          .step = 14,
                          .best_epoch = 1,
                          .best_val_loss = 0.8,
                          .bad_epochs = 1,
                          .stopped_early = 0,
                          .seconds = 3.75,
                          .lr = f->history[1].lr,
                          .history = f->history,
                          .history_len = 2,
                          .best_weights = f->best,
                          .weight_count = count};
    ac_rng_seed(&t->shuffle_rng, seed, AC_RNG_STREAM_SHUFFLE);
    for (int k = 0; k < 5; k++) ac_rng_u32(&t->shuffle_rng);
    ac_rng_seed(&t->dropout_rng, seed, AC_RNG_STREAM_DROPOUT);
}

static void fixture_init(fixture *f, ac_attention_kind kind, ac_channel_mode mode,
                         ac_optimizer_kind opt_kind, int layers, uint64_t seed) {
    fixture_init_levels(f, kind, mode, opt_kind, layers, seed, NULL);
}

static void fixture_free(fixture *f) {
    ac_optimizer_free(f->opt);
    ac_forecaster_free(f->model);
    free(f->best);
}

static ac_ckpt_contents contents_of(fixture *f, bool training) {
    return (ac_ckpt_contents){.config = &f->cfg,
                              .model = f->model,
                              .scaler = &f->scaler,
                              .channel_names = f->name_ptrs,
                              .optimizer = training ? f->opt : NULL,
                              .lr = 5e-4,
                              .train = training ? &f->train : NULL};
}

static void write_ok(const char *path, fixture *f, bool training) {
    ac_ckpt_contents c = contents_of(f, training);
    ac_error err;
    if (ac_ckpt_write(path, &c, &err) != AC_OK) fail_msg("write: %s", err.msg);
}

static ac_checkpoint *read_ok(const char *path) {
    ac_checkpoint *ck = NULL;
    ac_error err;
    if (ac_ckpt_read(&ck, path, &err) != AC_OK) fail_msg("read: %s", err.msg);
    assert_non_null(ck);
    return ck;
}

static void assert_same_params(const ac_forecaster *a, const ac_forecaster *b) {
    assert_int_equal(ac_forecaster_param_count(a), ac_forecaster_param_count(b));
    ac_tensor *const *pa = ac_forecaster_params(a), *const *pb = ac_forecaster_params(b);
    for (int i = 0; i < ac_forecaster_param_count(a); i++) {
        assert_string_equal(pa[i]->name, pb[i]->name);
        assert_int_equal(pa[i]->ndim, pb[i]->ndim);
        assert_memory_equal(pa[i]->shape, pb[i]->shape, sizeof pa[i]->shape);
        assert_memory_equal(pa[i]->data, pb[i]->data, (size_t)pa[i]->size * sizeof(float));
    }
}

static void assert_same_config(const ac_config *a, const ac_config *b) {
    char *ta = ac_config_to_ini(a), *tb = ac_config_to_ini(b);
    assert_non_null(ta);
    assert_non_null(tb);
    assert_string_equal(ta, tb);
    free(ta);
    free(tb);
}

/* The same windows through both models give the same bytes. */
static void assert_same_forecasts(ac_forecaster *a, ac_forecaster *b) {
    ac_ctx *ctx = ac_ctx_new(0, 0);
    ac_ctx_set_grad_enabled(ctx, false);
    ac_tensor *x = ac_tensor_temp(ctx, 3, (int[]){3, 12, 2});
    ac_rng rng;
    ac_rng_seed(&rng, 99, 7);
    for (int64_t i = 0; i < x->size; i++) x->data[i] = ac_rng_uniform_range(&rng, -2, 2);
    ac_tensor *ya = ac_forecaster_forward(ctx, a, x);
    ac_tensor *yb = ac_forecaster_forward(ctx, b, x);
    if (!ya || !yb) fail_msg("forward: %s", ac_ctx_error(ctx));
    assert_int_equal(ya->size, 3 * 3 * 2 * ac_model_spec_quantiles(ac_forecaster_spec(a)));
    assert_memory_equal(ya->data, yb->data, (size_t)ya->size * sizeof(float));
    ac_ctx_free(ctx);
}

/* ---- round trips ---- */

static void check_round_trip(ac_attention_kind kind, ac_channel_mode mode,
                             ac_optimizer_kind opt_kind) {
    fixture f;
    fixture_init(&f, kind, mode, opt_kind, 1, 3);
    char path[128];
    in_dir(path, sizeof path, "round.h5");
    write_ok(path, &f, true);
    ac_checkpoint *ck = read_ok(path);

    assert_string_equal(ck->path, path);
    assert_int_equal(ck->format_version, ac_ckpt_format_version_for(&f.cfg));
    assert_int_equal(strlen(ck->created), 20); /* 2026-11-25T07:56:00Z */
    assert_int_equal(ck->created[10], 'T');
    assert_int_equal(ck->created[19], 'Z');
    assert_string_equal(ck->program_version, ac_version());
    assert_same_config(&f.cfg, &ck->config);
    assert_int_equal(ck->config.model.attention, kind);
    assert_int_equal(ck->config.model.channels, mode);

    assert_int_equal(ck->channels, 2);
    assert_string_equal(ck->channel_names[0], "a");
    assert_string_equal(ck->channel_names[1], "b");
    assert_int_equal(ck->scaler.channels, 2);
    assert_memory_equal(ck->scaler.mean, f.mean, sizeof f.mean);
    assert_memory_equal(ck->scaler.std, f.std, sizeof f.std);

    assert_same_params(f.model, ck->model);
    assert_same_forecasts(f.model, ck->model);

    int n = ac_forecaster_param_count(f.model);
    int slots = opt_kind == AC_OPT_SGD ? 1 : 2;
    ac_tensor *const *ps = ac_forecaster_params(f.model);
    assert_true(ck->has_optimizer);
    assert_int_equal(ck->optimizer_kind, opt_kind);
    assert_int_equal(ck->optimizer_step, 2);
    assert_int_equal(ck->schedule_step, 14);
    assert_true(ck->lr == 5e-4);
    assert_int_equal(ck->optimizer_slots, slots);
    for (int i = 0; i < n; i++)
        for (int s = 0; s < slots; s++)
            assert_memory_equal(ck->optimizer_state[i * slots + s], ac_optimizer_state(f.opt, i, s),
                                (size_t)ps[i]->size * sizeof(float));

    assert_true(ck->has_train);
    const ac_train_state *t = &ck->train;
    assert_int_equal(t->epoch, 2);
    assert_int_equal(t->step, 14);
    assert_int_equal(t->best_epoch, 1);
    assert_true(t->best_val_loss == 0.8);
    assert_int_equal(t->bad_epochs, 1);
    assert_int_equal(t->stopped_early, 0);
    assert_true(t->seconds == 3.75);
    assert_true(t->lr == f.train.lr);
    assert_memory_equal(&t->shuffle_rng, &f.train.shuffle_rng, sizeof(ac_rng));
    assert_memory_equal(&t->dropout_rng, &f.train.dropout_rng, sizeof(ac_rng));
    assert_int_equal(t->history_len, 2);
    assert_ptr_equal(t->history, ck->history);
    for (int r = 0; r < 2; r++) {
        assert_int_equal(t->history[r].epoch, f.history[r].epoch);
        assert_true(t->history[r].train_loss == f.history[r].train_loss);
        assert_true(t->history[r].val_loss == f.history[r].val_loss);
        assert_true(t->history[r].lr == f.history[r].lr);
        assert_true(t->history[r].seconds == f.history[r].seconds);
        assert_true(t->history[r].windows_per_s == f.history[r].windows_per_s);
    }
    assert_int_equal(t->weight_count, f.train.weight_count);
    assert_ptr_equal(t->best_weights, ck->best_weights);
    assert_memory_equal(t->best_weights, f.best, (size_t)t->weight_count * sizeof(float));

    /* exact resume: a fresh optimizer restored from the file takes the same next step */
    ac_error err;
    ac_optim_config oc = ac_optim_config_default(opt_kind);
    ac_optimizer *resumed = ac_optimizer_new(&oc, ac_forecaster_params(ck->model), n, &err);
    assert_non_null(resumed);
    assert_int_equal(ac_ckpt_restore_optimizer(ck, resumed, &err), AC_OK);
    assert_int_equal(ac_optimizer_step_count(resumed), 2);
    ac_rng g1, g2;
    ac_rng_seed(&g1, 5, 5);
    ac_rng_seed(&g2, 5, 5);
    fake_grads(f.model, &g1);
    fake_grads(ck->model, &g2);
    ac_optimizer_step(f.opt, 1e-3f);
    ac_optimizer_step(resumed, 1e-3f);
    assert_same_params(f.model, ck->model);

    ac_optimizer_free(resumed);
    ac_ckpt_free(ck);
    fixture_free(&f);
}

static void test_training_checkpoint_round_trips_bit_for_bit_for_every_kind_and_mode(void **s) {
    (void)s;
    const ac_attention_kind kinds[] = {AC_ATTN_ADDITIVE, AC_ATTN_DOT, AC_ATTN_GATED,
                                       AC_ATTN_COSINE};
    const ac_optimizer_kind opts[] = {AC_OPT_ADAM, AC_OPT_ADAMW, AC_OPT_SGD, AC_OPT_ADAM};
    for (int k = 0; k < 4; k++)
        for (int mode = 0; mode < 2; mode++)
            check_round_trip(kinds[k], (ac_channel_mode)mode, opts[(k + mode) % 4]);
}

static void test_model_only_file_loads_without_optimizer_or_training_state(void **s) {
    (void)s;
    fixture f;
    fixture_init(&f, AC_ATTN_GATED, AC_CHANNELS_MIXED, AC_OPT_ADAM, 2, 4);
    char path[128];
    in_dir(path, sizeof path, "model.h5");
    write_ok(path, &f, false);
    ac_checkpoint *ck = read_ok(path);
    assert_false(ck->has_optimizer);
    assert_false(ck->has_train);
    assert_null(ck->optimizer_state);
    assert_null(ck->history);
    assert_null(ck->best_weights);
    assert_same_params(f.model, ck->model);
    assert_same_config(&f.cfg, &ck->config);
    assert_same_forecasts(f.model, ck->model);

    ac_error err;
    assert_int_equal(ac_ckpt_restore_optimizer(ck, f.opt, &err), AC_ERR_STATE);
    assert_contains(err.msg, path);
    ac_ckpt_free(ck);
    fixture_free(&f);
}

static void test_fresh_training_state_has_no_history_and_no_best_params(void **s) {
    (void)s;
    fixture f;
    fixture_init(&f, AC_ATTN_DOT, AC_CHANNELS_INDEPENDENT, AC_OPT_ADAM, 1, 5);
    f.train.epoch = f.train.best_epoch = f.train.bad_epochs = 0;
    f.train.step = 0;
    f.train.history_len = 0;
    f.train.history = NULL;
    f.train.best_val_loss = INFINITY;
    char path[128];
    in_dir(path, sizeof path, "fresh.h5");
    write_ok(path, &f, true);

    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    assert_true(file >= 0);
    assert_true(H5Lexists(file, "/train/history", H5P_DEFAULT) > 0);
    assert_true(H5Lexists(file, "/train/best_params", H5P_DEFAULT) == 0);
    H5Fclose(file);

    ac_checkpoint *ck = read_ok(path);
    assert_true(ck->has_train);
    assert_int_equal(ck->train.epoch, 0);
    assert_int_equal(ck->train.history_len, 0);
    assert_null(ck->train.history);
    assert_null(ck->train.best_weights);
    assert_true(isinf(ck->train.best_val_loss));
    assert_true(ck->train.lr == 0.0);
    ac_ckpt_free(ck);
    fixture_free(&f);
}

/* ---- refused files ---- */

/* Reading path fails with code; the one-line message names the path and each piece. */
static void expect_refused(const char *path, ac_status code, const char *piece1,
                           const char *piece2) {
    static ac_checkpoint sentinel;
    ac_checkpoint *ck = &sentinel; /* the read must set it to NULL */
    ac_error err;
    ac_error_clear(&err);
    ac_status got = ac_ckpt_read(&ck, path, &err);
    if (got != code) fail_msg("expected code %d, got %d: %s", code, got, err.msg);
    assert_null(ck);
    assert_contains(err.msg, path);
    if (piece1) assert_contains(err.msg, piece1);
    if (piece2) assert_contains(err.msg, piece2);
    assert_null(strchr(err.msg, '\n'));
}

static fixture *g_fixture; /* the model behind every damaged copy */

/* A good training checkpoint at <dir>/<name>. */
static const char *good_copy(char *buf, size_t n, const char *name) {
    in_dir(buf, n, name);
    write_ok(buf, g_fixture, true);
    return buf;
}

static int make_fixture(void **state) {
    (void)state;
    g_fixture = malloc(sizeof *g_fixture);
    fixture_init(g_fixture, AC_ATTN_ADDITIVE, AC_CHANNELS_INDEPENDENT, AC_OPT_ADAM, 1, 6);
    return 0;
}

static int free_fixture(void **state) {
    (void)state;
    fixture_free(g_fixture);
    free(g_fixture);
    return 0;
}

static void write_bytes(const char *path, const void *bytes, size_t n) {
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static size_t read_whole(const char *path, unsigned char **bytes) {
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    *bytes = malloc(1 << 20);
    size_t n = fread(*bytes, 1, 1 << 20, f);
    fclose(f);
    assert_true(n > 4096 && n < (1 << 20));
    return n;
}

/* Overwrites n bytes at offset of the file at path with bytes. */
static void patch_bytes(const char *path, long offset, const void *bytes, size_t n) {
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, offset, SEEK_SET), 0);
    assert_int_equal(fwrite(bytes, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Zeroes the user block: the file is then like one another program wrote, with no seal. */
static void clear_seal(const char *path) {
    static const char zeros[512];
    patch_bytes(path, 0, zeros, sizeof zeros);
}

/* The tests that edit a checkpoint through HDF5 clear its seal first, so that what they see is
 * the reader's own checks of an unsealed file, not the checksum. */
static hid_t open_rw(const char *path) {
    clear_seal(path);
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(file >= 0);
    return file;
}

/* A float32 dataset of the given shape under file at name, filled with 0.5. */
static void add_float_dataset(hid_t file, const char *name, int rank, const hsize_t *dims) {
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(file, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(d >= 0);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    float *buf = malloc((size_t)n * sizeof(float));
    for (hssize_t i = 0; i < n; i++) buf[i] = 0.5f;
    assert_true(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    free(buf);
    H5Dclose(d);
    H5Sclose(space);
}

static void replace_config(const char *path, const char *text) {
    hid_t file = open_rw(path);
    assert_true(H5Ldelete(file, "/config", H5P_DEFAULT) >= 0);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t d = H5Dcreate2(file, "/config", t, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(d >= 0);
    assert_true(H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &text) >= 0);
    H5Dclose(d);
    H5Sclose(space);
    H5Tclose(t);
    H5Fclose(file);
}

/* model.anchor = last is a MODEL.md version-2 feature: the file says format_version 2 and the
 * anchor round trips; a mean-anchored model still writes version 1. */
static void test_last_value_anchor_writes_format_version_2(void **s) {
    (void)s;
    for (int anchor = 0; anchor < 2; anchor++) {
        fixture f;
        memset(&f, 0, sizeof f);
        fixture_init(&f, AC_ATTN_DOT, AC_CHANNELS_INDEPENDENT, AC_OPT_ADAM, 1, 7);
        f.cfg.model.anchor = (ac_norm_anchor)anchor;
        char path[128];
        in_dir(path, sizeof path, anchor ? "anchor_last.h5" : "anchor_mean.h5");
        write_ok(path, &f, false);
        ac_checkpoint *ck = read_ok(path);
        assert_int_equal(ck->format_version, anchor ? 2 : 1);
        assert_int_equal(ck->config.model.anchor, anchor);
        assert_int_equal(ac_forecaster_spec(ck->model)->anchor, anchor);
        ac_ckpt_free(ck);
        fixture_free(&f);
    }
}

/* Long format (MODEL.md version 2, "Many series"): /scaler/mean and /std [S, C] and /scaler/ids
 * [S] round-trip, one scaler per series; the writer refuses series without data.format = long
 * and the reader a long-format file whose ids are gone. */
static void test_long_format_scalers_round_trip_by_series(void **s) {
    (void)s;
    fixture f;
    memset(&f, 0, sizeof f);
    fixture_init(&f, AC_ATTN_DOT, AC_CHANNELS_INDEPENDENT, AC_OPT_ADAM, 1, 9);
    enum { S = 3 };
    double means[S][2] = {{1, 2}, {3, 4}, {5, 6}}, stds[S][2] = {{1, 0.5}, {2, 0.25}, {3, 8}};
    ac_scaler scalers[S];
    char id0[] = "store 1", id1[] = "store 2", id2[] = "ünïcode";
    char *ids[S] = {id0, id1, id2};
    for (int i = 0; i < S; i++)
        scalers[i] = (ac_scaler){.channels = 2, .columns = 2, .mean = means[i], .std = stds[i]};
    ac_ckpt_contents c = contents_of(&f, true);
    c.series_count = S;
    c.series_scalers = scalers;
    c.series_ids = ids;
    char path[128];
    in_dir(path, sizeof path, "long.h5");
    ac_error err;
    assert_int_equal(ac_ckpt_write(path, &c, &err), AC_ERR_INVALID); /* data.format = wide */
    assert_contains(err.msg, "data.format = long");
    f.cfg.data.format = AC_FORMAT_LONG;
    assert_int_equal(ac_ckpt_write(path, &c, &err), AC_OK);
    ac_checkpoint *ck = read_ok(path);
    assert_int_equal(ck->format_version, 2);
    assert_int_equal(ck->series_count, S);
    for (int i = 0; i < S; i++) {
        assert_string_equal(ck->series_ids[i], ids[i]);
        assert_memory_equal(ck->series_scalers[i].mean, means[i], sizeof means[i]);
        assert_memory_equal(ck->series_scalers[i].std, stds[i], sizeof stds[i]);
        assert_int_equal(ck->series_scalers[i].channels, 2);
    }
    assert_memory_equal(ck->scaler.mean, means[0], sizeof means[0]); /* the first series' */
    ac_checkpoint *again = NULL;
    char copy[128];
    in_dir(copy, sizeof copy, "long_rewritten.h5");
    assert_int_equal(ac_ckpt_rewrite(copy, ck, NULL, &err), AC_OK);
    assert_int_equal(ac_ckpt_read(&again, copy, &err), AC_OK);
    assert_int_equal(again->series_count, S);
    assert_memory_equal(again->series_scalers[2].std, stds[2], sizeof stds[2]);
    ac_ckpt_free(again);
    ac_ckpt_free(ck);
    /* the [S, C] means without their ids */
    clear_seal(path);
    hid_t file = open_rw(path);
    assert_true(H5Ldelete(file, "/scaler/ids", H5P_DEFAULT) >= 0);
    H5Fclose(file);
    expect_refused(path, AC_ERR_FORMAT, "/scaler/ids", NULL);
    /* a wide file's scaler rows stay [C] */
    fixture_free(&f);
}

/* A quantile model (MODEL.md version 2) writes format_version 2, its levels and loss in /config
 * and a head of H Cout Q rows, and reads back bit for bit in both channel modes; a /config
 * without the levels does not fit its head. */
static void test_quantile_model_round_trips_as_format_version_2(void **s) {
    (void)s;
    for (int mode = 0; mode < 2; mode++) {
        fixture f;
        fixture_init_levels(&f, AC_ATTN_GATED, (ac_channel_mode)mode, AC_OPT_ADAM, 1, 9,
                            "0.1,0.5,0.9");
        ac_config mean = f.cfg; /* version 2 for the quantiles alone */
        mean.model.anchor = AC_ANCHOR_MEAN;
        assert_int_equal(ac_ckpt_format_version_for(&mean), 2);
        char path[128];
        in_dir(path, sizeof path, "quantile.h5");
        write_ok(path, &f, true);
        ac_checkpoint *ck = read_ok(path);
        assert_int_equal(ck->format_version, 2);
        assert_same_config(&f.cfg, &ck->config);
        assert_int_equal(ck->config.train.loss, AC_LOSS_PINBALL);
        const ac_model_spec *spec = ac_forecaster_spec(ck->model);
        assert_int_equal(spec->quantile_count, 3);
        assert_true(spec->quantiles[0] == 0.1f && spec->quantiles[2] == 0.9f);
        ac_tensor *head = ac_forecaster_param(ck->model, "head.weight");
        assert_int_equal(head->shape[0], 3 * (mode ? 2 : 1) * 3); /* H Cout Q */
        assert_int_equal(head->shape[1], 5 * 8);                  /* N d */
        assert_same_params(f.model, ck->model);
        assert_same_forecasts(f.model, ck->model);
        ac_ckpt_free(ck);

        char *ini = ac_config_to_ini(&f.cfg);
        char *line = strstr(ini, "\nquantiles = ");
        assert_non_null(line);
        char *end = strchr(line + 1, '\n');
        memmove(line, end, strlen(end) + 1);
        line = strstr(ini, "\nloss = pinball");
        assert_non_null(line);
        end = strchr(line + 1, '\n');
        memmove(line, end, strlen(end) + 1);
        replace_config(path, ini);
        free(ini);
        char want[96];
        snprintf(want, sizeof want, "/params/head.weight has shape [%d, 40]", mode ? 18 : 9);
        expect_refused(path, AC_ERR_FORMAT, want, mode ? "implies [6, 40]" : "implies [3, 40]");
        fixture_free(&f);
    }
}

/* A file written before model.anchor existed has no such key in /config: it reads as mean (how
 * it was trained), whatever the built-in default is now. */
static void test_config_without_anchor_reads_as_mean(void **s) {
    (void)s;
    fixture f;
    fixture_init(&f, AC_ATTN_DOT, AC_CHANNELS_INDEPENDENT, AC_OPT_ADAM, 1, 8);
    char path[128];
    in_dir(path, sizeof path, "old.h5");
    write_ok(path, &f, false);
    char *ini = ac_config_to_ini(&f.cfg);
    char *line = strstr(ini, "\nanchor = ");
    assert_non_null(line);
    char *end = strchr(line + 1, '\n');
    memmove(line, end, strlen(end) + 1);
    assert_null(strstr(ini, "anchor"));
    replace_config(path, ini);
    free(ini);
    ac_checkpoint *ck = read_ok(path);
    assert_int_equal(ck->config.model.anchor, AC_ANCHOR_MEAN);
    ac_ckpt_free(ck);
    fixture_free(&f);
}

static void test_missing_file_says_cannot_open(void **s) {
    (void)s;
    char path[128];
    expect_refused(in_dir(path, sizeof path, "nowhere.h5"), AC_ERR_IO, "cannot open",
                   strerror(ENOENT));
}

static void test_text_and_empty_files_are_not_hdf5(void **s) {
    (void)s;
    char path[128];
    in_dir(path, sizeof path, "notes.h5");
    write_bytes(path, "epoch,loss\n1,0.5\n", 17);
    expect_refused(path, AC_ERR_FORMAT, ": not an HDF5 file", NULL);
    in_dir(path, sizeof path, "empty.h5");
    write_bytes(path, "", 0);
    expect_refused(path, AC_ERR_FORMAT, ": not an HDF5 file", NULL);
}

static void test_truncated_checkpoint_is_reported_as_damaged(void **s) {
    (void)s;
    char good[128], cut[128];
    good_copy(good, sizeof good, "whole.h5");
    FILE *f = fopen(good, "rb");
    assert_non_null(f);
    char *bytes = malloc(1 << 20);
    size_t n = fread(bytes, 1, 1 << 20, f);
    fclose(f);
    assert_true(n > 4096 && n < (1 << 20));
    write_bytes(in_dir(cut, sizeof cut, "half.h5"), bytes, n / 2);
    free(bytes);
    expect_refused(cut, AC_ERR_FORMAT, "cannot be read as HDF5 (truncated or damaged file)", NULL);
}

static void test_foreign_hdf5_file_is_not_a_checkpoint(void **s) {
    (void)s;
    char path[128];
    in_dir(path, sizeof path, "foreign.h5");
    hid_t file = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(file >= 0);
    hsize_t dims[1] = {3};
    add_float_dataset(file, "temperature", 1, dims);
    H5Fclose(file);
    expect_refused(path, AC_ERR_FORMAT,
                   "not an attncast checkpoint (attribute 'format' on / is missing)", NULL);

    /* a format attribute of another program */
    good_copy(path, sizeof path, "other.h5");
    file = open_rw(path);
    assert_true(H5Adelete(file, "format") >= 0);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(file, "format", t, space, H5P_DEFAULT, H5P_DEFAULT);
    const char *other = "keras-weights";
    assert_true(H5Awrite(a, t, &other) >= 0);
    H5Aclose(a);
    H5Sclose(space);
    H5Tclose(t);
    H5Fclose(file);
    expect_refused(path, AC_ERR_FORMAT, "(attribute 'format' on / is 'keras-weights')", NULL);
}

static void test_other_format_version_is_not_supported(void **s) {
    (void)s;
    char path[128];
    good_copy(path, sizeof path, "v7.h5");
    hid_t file = open_rw(path);
    hid_t a = H5Aopen(file, "format_version", H5P_DEFAULT);
    assert_true(a >= 0);
    int32_t seven = 7;
    assert_true(H5Awrite(a, H5T_NATIVE_INT32, &seven) >= 0);
    H5Aclose(a);
    H5Fclose(file);
    expect_refused(
        path, AC_ERR_FORMAT,
        "checkpoint format_version 7 is not supported (this attncast reads versions 1 to 2)", NULL);
}

static void test_parameter_of_another_shape_names_both_shapes(void **s) {
    (void)s;
    char path[128];
    good_copy(path, sizeof path, "shape.h5");
    hid_t file = open_rw(path);
    assert_true(H5Ldelete(file, "/params/head.weight", H5P_DEFAULT) >= 0);
    hsize_t dims[2] = {4, 40}; /* horizon 4; the stored config says 3 x (N 5 * d 8) */
    add_float_dataset(file, "/params/head.weight", 2, dims);
    H5Fclose(file);
    expect_refused(path, AC_ERR_FORMAT,
                   "/params/head.weight has shape [4, 40], the stored config implies [3, 40]",
                   NULL);
}

static void test_missing_parameter_is_named(void **s) {
    (void)s;
    char path[128];
    good_copy(path, sizeof path, "missing.h5");
    hid_t file = open_rw(path);
    assert_true(H5Ldelete(file, "/params/layers.0.attn.q_proj.weight", H5P_DEFAULT) >= 0);
    H5Fclose(file);
    expect_refused(path, AC_ERR_FORMAT,
                   "/params/layers.0.attn.q_proj.weight is missing (the stored config implies it)",
                   NULL);
}

static void test_unexpected_parameter_is_refused(void **s) {
    (void)s;
    char path[128];
    good_copy(path, sizeof path, "extra.h5");
    hid_t file = open_rw(path);
    hsize_t dims[1] = {2};
    add_float_dataset(file, "/params/bogus", 1, dims);
    H5Fclose(file);
    expect_refused(path, AC_ERR_FORMAT, "/params/bogus is not a parameter of this architecture",
                   NULL);
}

static void test_nan_parameter_is_refused(void **s) {
    (void)s;
    char path[128];
    good_copy(path, sizeof path, "nan.h5");
    hid_t file = open_rw(path);
    hid_t d = H5Dopen2(file, "/params/pos_embed", H5P_DEFAULT);
    assert_true(d >= 0);
    float values[5 * 8];
    assert_true(H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) >= 0);
    values[17] = NAN;
    assert_true(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) >= 0);
    H5Dclose(d);
    H5Fclose(file);
    expect_refused(path, AC_ERR_FORMAT, "/params/pos_embed holds a non-finite value (NaN or Inf)",
                   NULL);
}

static void test_bad_config_text_is_reported_with_its_source(void **s) {
    (void)s;
    char path[128], source[160];
    good_copy(path, sizeof path, "config.h5");
    snprintf(source, sizeof source, "%s:/config", path);
    replace_config(path, "[model]\nd_model = banana\n");
    expect_refused(path, AC_ERR_INVALID, source, "d_model");
    /* parses, but the architecture is impossible */
    replace_config(path, "[data]\ncsv = x.csv\nlookback = 12\nhorizon = 3\n[model]\nd_model = "
                         "8\nheads = 3\n");
    expect_refused(path, AC_ERR_INVALID, source, "model.heads = 3");
}

static void test_damaged_optimizer_and_training_state_are_refused(void **s) {
    (void)s;
    char path[128];
    good_copy(path, sizeof path, "state.h5");
    hid_t file = open_rw(path);
    assert_true(H5Ldelete(file, "/optimizer/exp_avg/head.bias", H5P_DEFAULT) >= 0);
    hsize_t seven[1] = {7};
    add_float_dataset(file, "/optimizer/exp_avg/head.bias", 1, seven);
    H5Fclose(file);
    expect_refused(path, AC_ERR_FORMAT, "/optimizer/exp_avg/head.bias has shape [7]", "[3]");

    good_copy(path, sizeof path, "state.h5");
    file = open_rw(path);
    hid_t d = H5Dopen2(file, "/train/rng_shuffle", H5P_DEFAULT);
    uint64_t words[2] = {12345, 42};
    assert_true(H5Dwrite(d, H5T_NATIVE_UINT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, words) >= 0);
    H5Dclose(d);
    H5Fclose(file);
    expect_refused(path, AC_ERR_FORMAT, "/train/rng_shuffle has an even increment 42", NULL);

    good_copy(path, sizeof path, "state.h5");
    file = open_rw(path);
    assert_true(H5Ldelete(file, "/train/best_params/norm_f.bias", H5P_DEFAULT) >= 0);
    H5Fclose(file);
    expect_refused(path, AC_ERR_FORMAT, "/train/best_params/norm_f.bias is missing", NULL);
}

/* ---- the checksum in the user block ---- */

static void test_checkpoint_starts_with_a_checksum_line_in_its_user_block(void **s) {
    (void)s;
    char path[128];
    good_copy(path, sizeof path, "sealed.h5");
    unsigned char *bytes;
    size_t n = read_whole(path, &bytes);
    char line[160];
    snprintf(line, sizeof line, "%.*s", (int)strcspn((char *)bytes, "\n"), (char *)bytes);
    assert_int_equal(strncmp(line, "attncast-checkpoint-seal sha256 ", 32), 0);
    char length[32];
    snprintf(length, sizeof length, " %zu", n - 512);
    assert_contains(line, length);
    assert_memory_equal(bytes + 512, "\x89HDF\r\n\x1a\n", 8); /* the superblock after it */
    free(bytes);
    hid_t file = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT); /* plain HDF5 still opens it */
    assert_true(file >= 0);
    H5Fclose(file);
    ac_checkpoint *ck = read_ok(path);
    ac_ckpt_free(ck);
}

/* The offset of the first global heap collection ("GCOL": the variable-length strings). */
static long string_heap_offset(const unsigned char *bytes, size_t n) {
    for (size_t i = 0; i + 4 <= n; i++)
        if (!memcmp(bytes + i, "GCOL", 4)) return (long)i;
    fail_msg("no global heap in the checkpoint");
    return -1;
}

static void test_damaged_bytes_anywhere_fail_the_checksum(void **s) {
    (void)s;
    char good[128], path[128];
    good_copy(good, sizeof good, "whole.h5");
    unsigned char *bytes;
    size_t n = read_whole(good, &bytes);
    long heap = string_heap_offset(bytes, n);
    /* inside the string heap (object lengths: HDF5 segfaults reading these unchecked), the
     * superblock, the middle and the end */
    long offsets[] = {heap + 24, heap + 64, heap + 104, 512, 600, (long)n / 2, (long)n - 8};
    static const unsigned char junk[4] = {0xff, 0xff, 0xff, 0x7f};
    for (size_t i = 0; i < sizeof offsets / sizeof *offsets; i++) {
        in_dir(path, sizeof path, "damaged.h5");
        write_bytes(path, bytes, n);
        patch_bytes(path, offsets[i], junk, sizeof junk);
        expect_refused(path, AC_ERR_FORMAT, "checksum mismatch: the file is damaged", NULL);
    }
    /* a garbled checksum line, and a file edited in place with its seal left as it was */
    write_bytes(path, bytes, n);
    patch_bytes(path, 40, "zz", 2);
    expect_refused(path, AC_ERR_FORMAT, "checksum line in the HDF5 user block is garbled", NULL);
    write_bytes(path, bytes, n);
    hid_t file = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(file >= 0);
    assert_true(H5Adelete(file, "created") >= 0);
    H5Fclose(file);
    expect_refused(path, AC_ERR_FORMAT, "checksum mismatch", "changed after attncast wrote it");
    /* a damaged magic leaves the file unsealed: the HDF5 inside is whole and still loads */
    write_bytes(path, bytes, n);
    patch_bytes(path, 0, "X", 1);
    ac_checkpoint *ck = read_ok(path);
    ac_ckpt_free(ck);
    free(bytes);
}

/* ---- writing ---- */

static int count_temporaries(void) {
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));) n += strstr(e->d_name, ".tmp.") != NULL;
    closedir(d);
    return n;
}

static void test_failed_write_keeps_the_previous_checkpoint(void **s) {
    (void)s;
    char path[128];
    in_dir(path, sizeof path, "atomic.h5");
    fixture a, b;
    fixture_init(&a, AC_ATTN_DOT, AC_CHANNELS_INDEPENDENT, AC_OPT_ADAM, 1, 21);
    fixture_init(&b, AC_ATTN_DOT, AC_CHANNELS_INDEPENDENT, AC_OPT_ADAM, 2, 22);
    write_ok(path, &a, true);

    fflush(NULL);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) { /* the disk "fills up" after 4 KiB */
        struct rlimit limit = {4096, 4096};
        signal(SIGXFSZ, SIG_IGN);
        if (setrlimit(RLIMIT_FSIZE, &limit) != 0) _exit(2);
        ac_ckpt_contents c = contents_of(&b, true);
        ac_error err;
        ac_status rc = ac_ckpt_write(path, &c, &err);
        _exit(rc == AC_ERR_IO && strstr(err.msg, "previous file is kept") && strstr(err.msg, path)
                  ? 0
                  : 1);
    }
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    ac_checkpoint *ck = read_ok(path);
    assert_same_params(a.model, ck->model);
    ac_ckpt_free(ck);
    assert_int_equal(count_temporaries(), 0);

    /* the same in this process: nothing leaks, nothing is left half-open for exit to trip on */
    struct rlimit saved, limit;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &saved), 0);
    limit = saved;
    limit.rlim_cur = 16384;
    void (*was)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &limit), 0);
    ac_ckpt_contents c = contents_of(&b, true);
    ac_error err;
    ac_status rc = ac_ckpt_write(path, &c, &err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &saved), 0);
    signal(SIGXFSZ, was);
    assert_int_equal(rc, AC_ERR_IO);
    assert_contains(err.msg, "File too large (the previous file is kept)");
    ck = read_ok(path);
    assert_same_params(a.model, ck->model);
    ac_ckpt_free(ck);
    assert_int_equal(count_temporaries(), 0);

    /* without the limit, the same write replaces it */
    write_ok(path, &b, true);
    ck = read_ok(path);
    assert_same_params(b.model, ck->model);
    ac_ckpt_free(ck);
    assert_int_equal(count_temporaries(), 0);
    fixture_free(&a);
    fixture_free(&b);
}

static void test_write_into_a_missing_folder_fails_cleanly(void **s) {
    (void)s;
    char path[128];
    in_dir(path, sizeof path, "no/such/folder/x.h5");
    ac_ckpt_contents c = contents_of(g_fixture, true);
    ac_error err;
    assert_int_equal(ac_ckpt_write(path, &c, &err), AC_ERR_IO);
    assert_contains(err.msg, path);
    assert_contains(err.msg, "cannot write checkpoint: cannot create");
    assert_contains(err.msg, strerror(ENOENT));
    assert_contains(err.msg, "(the previous file is kept)");
    assert_null(strchr(err.msg, '\n'));
}

static void test_contents_that_do_not_fit_the_model_are_refused(void **s) {
    (void)s;
    char path[128];
    in_dir(path, sizeof path, "misfit.h5");
    ac_ckpt_contents c = contents_of(g_fixture, true);
    ac_scaler three = {.channels = 3, .columns = 3, .mean = g_fixture->mean, .std = g_fixture->std};
    c.scaler = &three;
    ac_error err;
    assert_int_equal(ac_ckpt_write(path, &c, &err), AC_ERR_INVALID);
    assert_contains(err.msg, "the scaler has 3 channels, the model 2");
    assert_int_equal(access(path, F_OK), -1);
}

/* ---- /calibration ---- */

/* Levels 0.8, 0.95 for the fixture's horizon 3 and 2 channels; w[k] = 0.25 (k + 1). */
static double cal_levels[2] = {0.8, 0.95};
static double cal_widths[2 * 3 * 2];

static ac_calibration small_calibration(void) {
    for (int k = 0; k < 12; k++) cal_widths[k] = 0.25 * (k + 1);
    return (ac_calibration){.count = 2,
                            .levels = cal_levels,
                            .horizon = 3,
                            .channels = 2,
                            .windows = 57,
                            .halfwidth = cal_widths};
}

static void write_calibrated(const char *path, fixture *f, bool training) {
    ac_calibration cal = small_calibration();
    ac_ckpt_contents c = contents_of(f, training);
    c.calibration = &cal;
    ac_error err;
    if (ac_ckpt_write(path, &c, &err) != AC_OK) fail_msg("write: %s", err.msg);
}

static void assert_small_calibration(const ac_checkpoint *ck) {
    assert_true(ck->has_calibration);
    assert_int_equal(ck->calibration.count, 2);
    assert_int_equal(ck->calibration.horizon, 3);
    assert_int_equal(ck->calibration.channels, 2);
    assert_int_equal(ck->calibration.windows, 57);
    assert_memory_equal(ck->calibration.levels, cal_levels, sizeof cal_levels);
    assert_memory_equal(ck->calibration.halfwidth, cal_widths, sizeof cal_widths);
}

/* /calibration round trips; it makes the file version 2 even for a version-1 config; a file
 * without it (every file before it existed) loads with has_calibration false. */
static void test_calibration_round_trips_and_its_absence_still_loads(void **s) {
    (void)s;
    fixture f;
    fixture_init(&f, AC_ATTN_DOT, AC_CHANNELS_INDEPENDENT, AC_OPT_ADAM, 1, 4);
    f.cfg.model.anchor = AC_ANCHOR_MEAN; /* alone, a version-1 config */
    char path[128];
    in_dir(path, sizeof path, "calibrated.h5");
    write_calibrated(path, &f, false);
    ac_checkpoint *ck = read_ok(path);
    assert_int_equal(ck->format_version, 2);
    assert_small_calibration(ck);
    ac_ckpt_free(ck);

    in_dir(path, sizeof path, "uncalibrated.h5");
    write_ok(path, &f, true);
    ck = read_ok(path);
    assert_int_equal(ck->format_version, 1);
    assert_false(ck->has_calibration);
    assert_null(ck->calibration.levels);
    ac_ckpt_free(ck);
    fixture_free(&f);
}

static void assert_same_checkpoint(const ac_checkpoint *a, const ac_checkpoint *b) {
    assert_same_config(&a->config, &b->config);
    assert_int_equal(a->channels, b->channels);
    for (int c = 0; c < a->channels; c++)
        assert_string_equal(a->channel_names[c], b->channel_names[c]);
    assert_memory_equal(a->scaler.mean, b->scaler.mean, (size_t)a->channels * sizeof(double));
    assert_memory_equal(a->scaler.std, b->scaler.std, (size_t)a->channels * sizeof(double));
    assert_same_params(a->model, b->model);
    assert_int_equal(a->has_optimizer, b->has_optimizer);
    assert_int_equal(a->optimizer_kind, b->optimizer_kind);
    assert_int_equal(a->optimizer_step, b->optimizer_step);
    assert_int_equal(a->schedule_step, b->schedule_step);
    assert_true(a->lr == b->lr);
    assert_int_equal(a->optimizer_slots, b->optimizer_slots);
    ac_tensor *const *ps = ac_forecaster_params(a->model);
    for (int i = 0; i < ac_forecaster_param_count(a->model); i++)
        for (int k = 0; k < a->optimizer_slots; k++)
            assert_memory_equal(a->optimizer_state[i * a->optimizer_slots + k],
                                b->optimizer_state[i * b->optimizer_slots + k],
                                (size_t)ps[i]->size * sizeof(float));
    assert_int_equal(a->has_train, b->has_train);
    const ac_train_state *ta = &a->train, *tb = &b->train;
    assert_int_equal(ta->epoch, tb->epoch);
    assert_int_equal(ta->step, tb->step);
    assert_int_equal(ta->best_epoch, tb->best_epoch);
    assert_true(ta->best_val_loss == tb->best_val_loss);
    assert_int_equal(ta->bad_epochs, tb->bad_epochs);
    assert_int_equal(ta->stopped_early, tb->stopped_early);
    assert_true(ta->seconds == tb->seconds);
    assert_true(ta->lr == tb->lr);
    assert_memory_equal(&ta->shuffle_rng, &tb->shuffle_rng, sizeof(ac_rng));
    assert_memory_equal(&ta->dropout_rng, &tb->dropout_rng, sizeof(ac_rng));
    assert_int_equal(ta->history_len, tb->history_len);
    assert_memory_equal(ta->history, tb->history, (size_t)ta->history_len * sizeof *ta->history);
    assert_int_equal(ta->best_weights != NULL, tb->best_weights != NULL);
    if (ta->best_weights)
        assert_memory_equal(ta->best_weights, tb->best_weights,
                            (size_t)ta->weight_count * sizeof(float));
}

/* ac_ckpt_rewrite keeps every dataset of a training checkpoint and adds /calibration; rewriting
 * with no calibration given keeps the file's own; a model-only file stays model-only. */
static void test_rewrite_keeps_everything_and_adds_the_calibration(void **s) {
    (void)s;
    char plain[128], calibrated[128], again[128];
    good_copy(plain, sizeof plain, "plain.h5");
    in_dir(calibrated, sizeof calibrated, "rewritten.h5");
    in_dir(again, sizeof again, "rewritten_again.h5");
    ac_checkpoint *original = read_ok(plain);
    ac_calibration cal = small_calibration();
    ac_error err;
    if (ac_ckpt_rewrite(calibrated, original, &cal, &err) != AC_OK)
        fail_msg("rewrite: %s", err.msg);
    ac_checkpoint *ck = read_ok(calibrated);
    assert_same_checkpoint(original, ck);
    assert_small_calibration(ck);
    assert_int_equal(ck->format_version, 2);
    if (ac_ckpt_rewrite(again, ck, NULL, &err) != AC_OK) fail_msg("rewrite: %s", err.msg);
    ac_checkpoint *ck2 = read_ok(again);
    assert_same_checkpoint(original, ck2);
    assert_small_calibration(ck2);
    ac_ckpt_free(ck2);
    ac_ckpt_free(ck);

    /* in place, over the file it was read from */
    if (ac_ckpt_rewrite(plain, original, &cal, &err) != AC_OK) fail_msg("rewrite: %s", err.msg);
    ck = read_ok(plain);
    assert_same_checkpoint(original, ck);
    assert_small_calibration(ck);
    ac_ckpt_free(ck);
    ac_ckpt_free(original);

    in_dir(plain, sizeof plain, "model_only.h5");
    write_ok(plain, g_fixture, false);
    original = read_ok(plain);
    if (ac_ckpt_rewrite(plain, original, &cal, &err) != AC_OK) fail_msg("rewrite: %s", err.msg);
    ck = read_ok(plain);
    assert_false(ck->has_optimizer);
    assert_false(ck->has_train);
    assert_same_checkpoint(original, ck);
    assert_small_calibration(ck);
    ac_ckpt_free(ck);
    ac_ckpt_free(original);
}

/* A calibration of another horizon is the caller's mistake: refused, nothing written. */
static void test_calibration_of_another_shape_is_not_written(void **s) {
    (void)s;
    ac_calibration cal = small_calibration();
    cal.horizon = 4;
    ac_ckpt_contents c = contents_of(g_fixture, true);
    c.calibration = &cal;
    char path[128];
    in_dir(path, sizeof path, "never_calibrated.h5");
    ac_error err;
    assert_int_equal(ac_ckpt_write(path, &c, &err), AC_ERR_INVALID);
    assert_contains(err.msg, "the calibration is for horizon 4 and 2 channels, the model 3 and 2");
    assert_int_equal(access(path, F_OK), -1);
}

/* A good calibrated copy, unsealed and open for editing through HDF5. */
static hid_t calibrated_rw(char *path, size_t n, const char *name) {
    in_dir(path, n, name);
    write_calibrated(path, g_fixture, true);
    return open_rw(path);
}

static void replace_doubles(hid_t file, const char *name, int rank, const hsize_t *dims,
                            const double *values) {
    if (H5Lexists(file, name, H5P_DEFAULT) > 0)
        assert_true(H5Ldelete(file, name, H5P_DEFAULT) >= 0);
    hid_t space = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(file, name, H5T_IEEE_F64LE, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(d >= 0);
    assert_true(H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) >= 0);
    H5Dclose(d);
    H5Sclose(space);
}

static void test_invalid_calibration_is_refused_with_its_path(void **s) {
    (void)s;
    char path[128];
    hsize_t two[1] = {2}, widths[3] = {2, 3, 2};
    double w[16]; /* room for the [2, 4, 2] of the misshapen copy */
    for (int k = 0; k < 16; k++) w[k] = 0.5;

    hid_t file = calibrated_rw(path, sizeof path, "cal_range.h5");
    replace_doubles(file, "/calibration/levels", 1, two, (double[]){0.8, 1.5});
    H5Fclose(file);
    expect_refused(path, AC_ERR_FORMAT, "/calibration/levels[1] = 1.5 is not in (0, 1)", NULL);

    file = calibrated_rw(path, sizeof path, "cal_order.h5");
    replace_doubles(file, "/calibration/levels", 1, two, (double[]){0.95, 0.8});
    H5Fclose(file);
    expect_refused(path, AC_ERR_FORMAT,
                   "/calibration/levels[1] = 0.8 is not greater than /calibration/levels[0] = 0.95",
                   NULL);

    file = calibrated_rw(path, sizeof path, "cal_count.h5");
    replace_doubles(file, "/calibration/levels", 1, (hsize_t[]){3}, (double[]){0.5, 0.8, 0.9});
    H5Fclose(file);
    expect_refused(path, AC_ERR_FORMAT, "/calibration/halfwidth has shape [2, 3, 2]",
                   "imply [3, 3, 2]");

    file = calibrated_rw(path, sizeof path, "cal_shape.h5");
    replace_doubles(file, "/calibration/halfwidth", 3, (hsize_t[]){2, 4, 2}, w);
    H5Fclose(file);
    expect_refused(path, AC_ERR_FORMAT, "/calibration/halfwidth has shape [2, 4, 2]",
                   "imply [2, 3, 2]");

    w[3] = -0.5; /* level 0, step 1, channel 1 */
    file = calibrated_rw(path, sizeof path, "cal_negative.h5");
    replace_doubles(file, "/calibration/halfwidth", 3, widths, w);
    H5Fclose(file);
    expect_refused(path, AC_ERR_FORMAT,
                   "/calibration/halfwidth[0, 1, 1] = -0.5 is not a finite number >= 0", NULL);

    w[3] = 0.5;
    w[11] = NAN;
    file = calibrated_rw(path, sizeof path, "cal_nan.h5");
    replace_doubles(file, "/calibration/halfwidth", 3, widths, w);
    H5Fclose(file);
    expect_refused(path, AC_ERR_FORMAT, "/calibration/halfwidth[1, 2, 1] = nan", NULL);

    file = calibrated_rw(path, sizeof path, "cal_missing.h5");
    assert_true(H5Ldelete(file, "/calibration/levels", H5P_DEFAULT) >= 0);
    H5Fclose(file);
    expect_refused(path, AC_ERR_FORMAT, "/calibration/levels is missing", NULL);

    file = calibrated_rw(path, sizeof path, "cal_not_group.h5");
    assert_true(H5Ldelete(file, "/calibration", H5P_DEFAULT) >= 0);
    replace_doubles(file, "/calibration", 1, two, (double[]){0.8, 0.9});
    H5Fclose(file);
    expect_refused(path, AC_ERR_FORMAT, "/calibration is not a group", NULL);

    file = calibrated_rw(path, sizeof path, "cal_windows.h5");
    hid_t g = H5Gopen2(file, "/calibration", H5P_DEFAULT);
    hid_t a = H5Aopen(g, "windows", H5P_DEFAULT);
    int32_t negative = -4;
    assert_true(H5Awrite(a, H5T_NATIVE_INT32, &negative) >= 0);
    H5Aclose(a);
    H5Gclose(g);
    H5Fclose(file);
    expect_refused(path, AC_ERR_FORMAT, "/calibration attribute 'windows' = -4 is negative", NULL);

    /* without the optional windows attribute it loads, windows unknown (0) */
    file = calibrated_rw(path, sizeof path, "cal_no_windows.h5");
    assert_true(H5Adelete_by_name(file, "/calibration", "windows", H5P_DEFAULT) >= 0);
    H5Fclose(file);
    ac_checkpoint *ck = read_ok(path);
    assert_true(ck->has_calibration);
    assert_int_equal(ck->calibration.windows, 0);
    ac_ckpt_free(ck);
}

/* ---- other readers ---- */

static void test_h5dump_reads_the_layout(void **s) {
    (void)s;
    if (system("command -v h5dump >/dev/null 2>&1") != 0) skip();
    char path[128], cmd[256];
    good_copy(path, sizeof path, "dump.h5");
    snprintf(cmd, sizeof cmd, "h5dump -H '%s' 2>&1", path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 20, n = 0;
    char *out = malloc(cap);
    for (size_t got; (got = fread(out + n, 1, cap - 1 - n, p)) > 0;) n += got;
    out[n] = '\0';
    assert_int_equal(pclose(p), 0);
    assert_contains(out, "GROUP \"params\"");
    assert_contains(out, "DATASET \"layers.0.attn.q_proj.weight\"");
    assert_contains(out, "GROUP \"optimizer\"");
    assert_contains(out, "GROUP \"exp_avg_sq\"");
    assert_contains(out, "GROUP \"scaler\"");
    assert_contains(out, "GROUP \"train\"");
    assert_contains(out, "DATASET \"history\"");
    assert_contains(out, "DATASET \"config\"");
    assert_contains(out, "ATTRIBUTE \"format\"");
    assert_contains(out, "ATTRIBUTE \"format_version\"");
    assert_contains(out, "H5T_CSET_UTF8");
    assert_contains(out, "H5T_IEEE_F32LE");
    free(out);
}

static int setup(void **state) {
    return make_dir(state) || make_fixture(state);
}

static int teardown(void **state) {
    int rc = free_fixture(state);
    return remove_dir(state) || rc;
}

int main(void) {
    unsetenv("ATTNCAST_DEBUG"); /* HDF5 stays quiet on the damaged files */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_training_checkpoint_round_trips_bit_for_bit_for_every_kind_and_mode),
        cmocka_unit_test(test_model_only_file_loads_without_optimizer_or_training_state),
        cmocka_unit_test(test_long_format_scalers_round_trip_by_series),
        cmocka_unit_test(test_fresh_training_state_has_no_history_and_no_best_params),
        cmocka_unit_test(test_last_value_anchor_writes_format_version_2),
        cmocka_unit_test(test_quantile_model_round_trips_as_format_version_2),
        cmocka_unit_test(test_config_without_anchor_reads_as_mean),
        cmocka_unit_test(test_missing_file_says_cannot_open),
        cmocka_unit_test(test_text_and_empty_files_are_not_hdf5),
        cmocka_unit_test(test_truncated_checkpoint_is_reported_as_damaged),
        cmocka_unit_test(test_foreign_hdf5_file_is_not_a_checkpoint),
        cmocka_unit_test(test_other_format_version_is_not_supported),
        cmocka_unit_test(test_parameter_of_another_shape_names_both_shapes),
        cmocka_unit_test(test_missing_parameter_is_named),
        cmocka_unit_test(test_unexpected_parameter_is_refused),
        cmocka_unit_test(test_nan_parameter_is_refused),
        cmocka_unit_test(test_bad_config_text_is_reported_with_its_source),
        cmocka_unit_test(test_damaged_optimizer_and_training_state_are_refused),
        cmocka_unit_test(test_checkpoint_starts_with_a_checksum_line_in_its_user_block),
        cmocka_unit_test(test_damaged_bytes_anywhere_fail_the_checksum),
        cmocka_unit_test(test_failed_write_keeps_the_previous_checkpoint),
        cmocka_unit_test(test_write_into_a_missing_folder_fails_cleanly),
        cmocka_unit_test(test_contents_that_do_not_fit_the_model_are_refused),
        cmocka_unit_test(test_calibration_round_trips_and_its_absence_still_loads),
        cmocka_unit_test(test_rewrite_keeps_everything_and_adds_the_calibration),
        cmocka_unit_test(test_calibration_of_another_shape_is_not_written),
        cmocka_unit_test(test_invalid_calibration_is_refused_with_its_path),
        cmocka_unit_test(test_h5dump_reads_the_layout),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
