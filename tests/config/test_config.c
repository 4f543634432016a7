/* test_config.c - experiment configs: the documented defaults, real INI files written to a temp
 * folder (every section, comments, CRLF, indentation), each kind of bad value, unknown sections
 * and keys with did-you-mean, syntax errors with their line, --set overrides, the resolved INI
 * text read back exactly, the combination checks (with the lengths and patch they suggest when
 * the given ones do not fit), the model spec and the key reference; the covariate keys (role
 * lists, calendar features) and their checks. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "support/testutil.h"

#include "attncast/calendar.h"
#include "attncast/config.h"
#include "attncast/windows.h"

static char dir[64];
static char path[256];
static ac_config cfg;
static ac_error err;

static int make_dir(void **state) {
    (void)state;
    return tu_make_temp_dir(dir, sizeof dir, "config");
}

static int remove_dir(void **state) {
    (void)state;
    return tu_remove_dir(dir);
}

/* Writes text to <dir>/<name> and returns its path (in a static buffer). */
static const char *write_file(const char *name, const char *text) {
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
    return path;
}

/* Loads text as <dir>/exp.ini into cfg. */
static ac_status load(const char *text) {
    ac_error_clear(&err);
    return ac_config_load(&cfg, write_file("exp.ini", text), &err);
}

static void assert_contains(const char *haystack, const char *needle) {
    if (!strstr(haystack, needle)) fail_msg("'%s' not in '%s'", needle, haystack);
}

/* The load fails as invalid, and the one-line message names exp.ini:line and each of the
 * expected pieces. */
static void expect_invalid(const char *text, int line, const char *piece1, const char *piece2) {
    assert_int_equal(load(text), AC_ERR_INVALID);
    char where[32];
    snprintf(where, sizeof where, "exp.ini:%d: ", line);
    assert_contains(err.msg, where);
    if (piece1) assert_contains(err.msg, piece1);
    if (piece2) assert_contains(err.msg, piece2);
    assert_null(strchr(err.msg, '\n'));
}

static void expect_set_invalid(const char *assignment, const char *piece) {
    ac_config_defaults(&cfg);
    ac_error_clear(&err);
    assert_int_equal(ac_config_set(&cfg, assignment, &err), AC_ERR_INVALID);
    char where[256];
    snprintf(where, sizeof where, "--set %s: ", assignment);
    assert_contains(err.msg, where);
    if (piece) assert_contains(err.msg, piece);
    assert_null(strchr(err.msg, '\n'));
}

/* ---- defaults and good files ---- */

static void test_defaults_are_the_documented_values(void **state) {
    (void)state;
    memset(&cfg, 0x5a, sizeof cfg);
    ac_config_defaults(&cfg);
    assert_string_equal(cfg.data.dataset, "");
    assert_string_equal(cfg.data.csv, "");
    assert_string_equal(cfg.data.columns, "");
    assert_string_equal(cfg.data.date_column, "");
    assert_int_equal(cfg.data.format, AC_FORMAT_WIDE);
    assert_string_equal(cfg.data.id_column, "");
    assert_int_equal(cfg.data.lookback, 96);
    assert_int_equal(cfg.data.horizon, 96);
    assert_true(cfg.data.split[0] == 0.7 && cfg.data.split[1] == 0.1 && cfg.data.split[2] == 0.2);
    assert_false(cfg.data.split_set);
    assert_int_equal(cfg.data.missing, AC_MISSING_ERROR);
    assert_string_equal(cfg.data.frequency, "");
    assert_int_equal(cfg.data.gaps, AC_GAPS_WARN);
    assert_int_equal(cfg.data.season, 0);
    assert_int_equal(cfg.model.attention, AC_ATTN_DOT);
    assert_int_equal(cfg.model.d_model, 64);
    assert_int_equal(cfg.model.heads, 4);
    assert_int_equal(cfg.model.layers, 2);
    assert_int_equal(cfg.model.d_ff, 128);
    assert_int_equal(cfg.model.patch_len, 16);
    assert_int_equal(cfg.model.patch_stride, 8);
    assert_int_equal(cfg.model.channels, AC_CHANNELS_INDEPENDENT);
    assert_true(cfg.model.revin);
    assert_false(cfg.model.causal);
    assert_true(cfg.model.dropout == 0.1);
    assert_int_equal(cfg.train.epochs, 10);
    assert_int_equal(cfg.train.batch_size, 32);
    assert_true(cfg.train.lr == 1e-3);
    assert_int_equal(cfg.train.optimizer, AC_OPT_ADAM);
    assert_true(cfg.train.weight_decay == 0.0);
    assert_true(cfg.train.momentum == 0.9);
    assert_true(cfg.train.clip_grad == 0.0);
    assert_int_equal(cfg.train.schedule, AC_SCHED_CONSTANT);
    assert_int_equal(cfg.train.warmup, 0);
    assert_int_equal(cfg.train.decay_every, 1);
    assert_true(cfg.train.decay_gamma == 0.5);
    assert_int_equal(cfg.train.patience, 3);
    assert_true(cfg.train.seed == 2024);
    assert_int_equal(cfg.train.threads, 0);
    assert_int_equal(cfg.train.loss, AC_LOSS_MSE);
    assert_string_equal(cfg.output.dir, "");
    assert_string_equal(cfg.name, "");
    assert_string_equal(cfg.path, "");
}

static const char *const FULL = "[data]\n"
                                "dataset = weather\n"
                                "columns = OT,HUFL\n"
                                "date_column = when\n"
                                "lookback = 336\n"
                                "horizon = 24\n"
                                "split = 0.6, 0.2, 0.2\n"
                                "missing = interpolate\n"
                                "frequency = 10min\n"
                                "gaps = fill\n"
                                "season = 24\n"
                                "\n"
                                "[model]\n"
                                "attention = gated\n"
                                "d_model = 128\n"
                                "heads = 8\n"
                                "layers = 3\n"
                                "d_ff = 256\n"
                                "patch_len = 24\n"
                                "patch_stride = 12\n"
                                "channels = mixed\n"
                                "revin = off\n"
                                "causal = yes\n"
                                "dropout = 0.25\n"
                                "\n"
                                "[train]\n"
                                "epochs = 30\n"
                                "batch_size = 64\n"
                                "lr = 3e-4\n"
                                "optimizer = adamw\n"
                                "weight_decay = 0.01\n"
                                "momentum = 0.8\n"
                                "clip_grad = 1.5\n"
                                "schedule = step\n"
                                "warmup = 2\n"
                                "decay_every = 5\n"
                                "decay_gamma = 0.3\n"
                                "patience = 0\n"
                                "seed = 18446744073709551615\n"
                                "threads = 2\n"
                                "loss = huber\n"
                                "\n"
                                "[output]\n"
                                "dir = runs/weather-test\n";

static void assert_full_values(const ac_config *c) {
    assert_string_equal(c->data.dataset, "weather");
    assert_string_equal(c->data.csv, "");
    assert_string_equal(c->data.columns, "OT,HUFL");
    assert_string_equal(c->data.date_column, "when");
    assert_int_equal(c->data.lookback, 336);
    assert_int_equal(c->data.horizon, 24);
    assert_true(c->data.split[0] == 0.6 && c->data.split[1] == 0.2 && c->data.split[2] == 0.2);
    assert_true(c->data.split_set);
    assert_int_equal(c->data.missing, AC_MISSING_INTERPOLATE);
    assert_string_equal(c->data.frequency, "10min");
    assert_int_equal(c->data.gaps, AC_GAPS_FILL);
    assert_int_equal(c->data.season, 24);
    assert_int_equal(c->model.attention, AC_ATTN_GATED);
    assert_int_equal(c->model.d_model, 128);
    assert_int_equal(c->model.heads, 8);
    assert_int_equal(c->model.layers, 3);
    assert_int_equal(c->model.d_ff, 256);
    assert_int_equal(c->model.patch_len, 24);
    assert_int_equal(c->model.patch_stride, 12);
    assert_int_equal(c->model.channels, AC_CHANNELS_MIXED);
    assert_false(c->model.revin);
    assert_true(c->model.causal);
    assert_true(c->model.dropout == 0.25);
    assert_int_equal(c->train.epochs, 30);
    assert_int_equal(c->train.batch_size, 64);
    assert_true(c->train.lr == 3e-4);
    assert_int_equal(c->train.optimizer, AC_OPT_ADAMW);
    assert_true(c->train.weight_decay == 0.01);
    assert_true(c->train.momentum == 0.8);
    assert_true(c->train.clip_grad == 1.5);
    assert_int_equal(c->train.schedule, AC_SCHED_STEP);
    assert_int_equal(c->train.warmup, 2);
    assert_int_equal(c->train.decay_every, 5);
    assert_true(c->train.decay_gamma == 0.3);
    assert_int_equal(c->train.patience, 0);
    assert_true(c->train.seed == UINT64_MAX);
    assert_int_equal(c->train.threads, 2);
    assert_int_equal(c->train.loss, AC_LOSS_HUBER);
    assert_string_equal(c->output.dir, "runs/weather-test");
}

static void test_a_full_file_with_every_section_loads(void **state) {
    (void)state;
    assert_int_equal(load(FULL), AC_OK);
    assert_full_values(&cfg);
    assert_string_equal(cfg.path, path);
    assert_string_equal(cfg.name, "exp");
    assert_int_equal(ac_config_check(&cfg, &err), AC_OK);
}

static void test_name_is_the_base_name_without_ini(void **state) {
    (void)state;
    assert_int_equal(
        ac_config_load(&cfg, write_file("etth1.v2.ini", "[data]\ncsv = x.csv\n"), &err), AC_OK);
    assert_string_equal(cfg.name, "etth1.v2");
    assert_int_equal(ac_config_load(&cfg, write_file("plain", "[data]\ncsv = x.csv\n"), &err),
                     AC_OK);
    assert_string_equal(cfg.name, "plain");
}

static void test_keys_left_out_keep_their_defaults(void **state) {
    (void)state;
    assert_int_equal(load("[model]\nheads = 8\n"), AC_OK);
    assert_int_equal(cfg.model.heads, 8);
    assert_int_equal(cfg.model.d_model, 64);
    assert_int_equal(cfg.data.lookback, 96);
    assert_false(cfg.data.split_set);
}

static void test_comments_and_blank_lines_are_ignored(void **state) {
    (void)state;
    assert_int_equal(load("# a comment\n"
                          "; another\n"
                          "\n"
                          "[train] ; the training section\n"
                          "   \n"
                          "lr = 0.5 ; an inline comment\n"
                          "\t# indented comment\n"
                          "epochs = 7\n"),
                     AC_OK);
    assert_true(cfg.train.lr == 0.5);
    assert_int_equal(cfg.train.epochs, 7);
}

static void test_crlf_line_endings_work(void **state) {
    (void)state;
    assert_int_equal(load("\xEF\xBB\xBF[data]\r\ndataset = exchange_rate\r\n\r\n[model]\r\n"
                          "attention = cosine\r\nrevin = false\r\n"),
                     AC_OK);
    assert_string_equal(cfg.data.dataset, "exchange_rate");
    assert_int_equal(cfg.model.attention, AC_ATTN_COSINE);
    assert_false(cfg.model.revin);
    /* errors still count CRLF lines right */
    expect_invalid("[data]\r\nlookback = 5\r\nhorizon = x\r\n", 3, "data.horizon", "'x'");
}

static void test_indented_keys_are_ordinary_keys(void **state) {
    (void)state;
    assert_int_equal(load("[model]\n  d_model = 32\n\theads = 2\n"), AC_OK);
    assert_int_equal(cfg.model.d_model, 32);
    assert_int_equal(cfg.model.heads, 2);
}

static void test_bools_and_enums_accept_every_spelling(void **state) {
    (void)state;
    const char *yes[] = {"true", "YES", "On", "1"}, *no[] = {"False", "no", "OFF", "0"};
    for (int i = 0; i < 4; i++) {
        char text[128];
        snprintf(text, sizeof text, "[model]\nrevin = %s\ncausal = %s\nchannels = MIXED\n", no[i],
                 yes[i]);
        assert_int_equal(load(text), AC_OK);
        assert_false(cfg.model.revin);
        assert_true(cfg.model.causal);
        assert_int_equal(cfg.model.channels, AC_CHANNELS_MIXED);
    }
}

/* ---- bad values ---- */

static void test_int_with_trailing_junk_is_rejected(void **state) {
    (void)state;
    expect_invalid("[model]\nd_model = 64\nheads = 4x\n", 3, "model.heads", "'4x'");
    expect_invalid("[model]\nlayers = 2.5\n", 2, "model.layers", "whole number");
    expect_invalid("[data]\nlookback = 99999999999999999999\n", 2, "data.lookback", NULL);
}

static void test_float_nan_and_inf_are_rejected(void **state) {
    (void)state;
    expect_invalid("[train]\nlr = nan\n", 2, "train.lr", "expected a number > 0, got 'nan'");
    expect_invalid("[train]\n\nlr = inf\n", 3, "train.lr", "'inf'");
    expect_invalid("[train]\nlr = 1e999\n", 2, "train.lr", NULL);
    expect_invalid("[train]\nlr = abc\n", 2, "train.lr: expected a number > 0, got 'abc'", NULL);
}

static void test_bool_maybe_is_rejected(void **state) {
    (void)state;
    expect_invalid("[model]\nrevin = maybe\n", 2, "model.revin", "true or false");
}

static void test_enum_typo_lists_the_allowed_values(void **state) {
    (void)state;
    expect_invalid("[model]\nattention = dott\n", 2, "model.attention",
                   "one of additive, dot, gated, cosine, got 'dott'");
    expect_invalid("[data]\nmissing = skip\n", 2, "data.missing",
                   "error, ffill, interpolate, drop");
}

static void test_out_of_range_values_are_rejected(void **state) {
    (void)state;
    expect_invalid("[model]\ndropout = 1.0\n", 2, "model.dropout", "[0, 1)");
    expect_invalid("[model]\ndropout = -0.1\n", 2, "model.dropout", NULL);
    expect_invalid("[train]\nlr = 0\n", 2, "train.lr", "> 0");
    expect_invalid("[model]\nheads = 0\n", 2, "model.heads", "'0'");
    expect_invalid("[data]\nlookback = 100001\n", 2, "data.lookback", "1 to 100000");
    expect_invalid("[train]\ndecay_gamma = 1.5\n", 2, "train.decay_gamma", "(0, 1]");
    expect_invalid("[train]\nseed = -1\n", 2, "train.seed", NULL);
    expect_invalid("[train]\nseed = 18446744073709551616\n", 2, "train.seed", NULL);
    assert_int_equal(load("[model]\ndropout = 0.999\n[train]\ndecay_gamma = 1\n"), AC_OK);
}

static void test_empty_numeric_value_is_rejected(void **state) {
    (void)state;
    expect_invalid("[model]\nheads =\n", 2, "model.heads", "got ''");
    expect_invalid("[train]\nlr = ; no value\n", 2, "train.lr", NULL);
}

static void test_split_needs_three_fractions_summing_to_one(void **state) {
    (void)state;
    expect_invalid("[data]\nsplit = 0.7,0.2\n", 2, "data.split", "three");
    expect_invalid("[data]\nsplit = 0.7,0.2,0.2\n", 2, "data.split", NULL);
    expect_invalid("[data]\nsplit = 0.7,0.3,0\n", 2, "data.split", NULL);
    expect_invalid("[data]\nsplit = 0.5,0.25,0.25,0\n", 2, "data.split", NULL);
    assert_int_equal(load("[data]\nsplit = 0.5,0.25,0.25\n"), AC_OK);
    assert_true(cfg.data.split_set);
    assert_true(cfg.data.split[1] == 0.25);
}

static void test_text_longer_than_its_buffer_names_the_limit(void **state) {
    (void)state;
    char text[256];
    snprintf(text, sizeof text, "[data]\ndataset = %064d\n", 0);
    expect_invalid(text, 2, "data.dataset", "at most 63 characters");
}

/* ---- unknown names and syntax ---- */

static void test_unknown_section_suggests_the_near_miss(void **state) {
    (void)state;
    expect_invalid("[data]\ncsv = x.csv\n[trian]\nlr = 1\n", 3,
                   "unknown section [trian]; did you mean [train]?",
                   "(sections: data, model, train, output)");
}

static void test_unknown_empty_section_is_still_reported(void **state) {
    (void)state;
    expect_invalid("\xEF\xBB\xBF[trian]\r\n", 1, "unknown section [trian]", NULL);
    expect_invalid("[data]\ncsv = x.csv\n[plots]\n", 3, "unknown section [plots]",
                   "sections: data, model, train, output");
}

static void test_unknown_key_suggests_the_near_miss(void **state) {
    (void)state;
    expect_invalid("[model]\nd_model = 64\nhead = 4\n", 3,
                   "unknown key model.head; did you mean model.heads?", NULL);
    expect_invalid("[train]\nLR = 0.1\n", 2, "did you mean train.lr?", NULL);
}

static void test_key_in_the_wrong_section_suggests_its_home(void **state) {
    (void)state;
    expect_invalid("[model]\nlr = 0.1\n", 2, "unknown key model.lr; did you mean train.lr?", NULL);
}

static void test_unknown_key_far_from_everything_lists_the_section_keys(void **state) {
    (void)state;
    expect_invalid("[output]\nwhere = runs\n", 2, "unknown key output.where",
                   "(output keys: dir, checkpoint_every, plot_channels, intervals)");
}

static void test_key_outside_any_section_is_rejected(void **state) {
    (void)state;
    expect_invalid("lr = 0.1\n[train]\n", 1, "key 'lr' is outside any section", NULL);
}

static void test_duplicate_key_names_both_lines(void **state) {
    (void)state;
    expect_invalid("[model]\n\n\nheads = 4\nlayers = 2\n[train]\nlr = 1\n[model]\nheads = 8\n", 9,
                   "model.heads given twice (first at line 4)", NULL);
}

static void test_malformed_lines_are_reported_with_their_line(void **state) {
    (void)state;
    const char *want = "malformed line (expected key = value or [section])";
    expect_invalid("[model]\nheads = 4\nlayers\n", 3, want, NULL);
    expect_invalid("[model\nheads = 4\n", 1, want, NULL);
    expect_invalid("[model] heads = 4\n", 1, want, NULL);
    /* an indented line is not a continuation of the previous value */
    expect_invalid("[data]\ncolumns = a,\n   b\n", 3, want, NULL);
    /* the first error in the file wins */
    expect_invalid("[model]\nlayers\nheads = x\n", 2, want, NULL);
    expect_invalid("[model]\nheads = x\nlayers\n", 2, "model.heads", NULL);
}

static void test_where_names_the_line_the_override_or_the_file(void **state) {
    (void)state;
    assert_int_equal(load("[data]\n\ndataset = weather\n[model]\nheads = 2\n"), AC_OK);
    char buf[512], want[512];
    snprintf(want, sizeof want, "%s:3", path);
    assert_string_equal(ac_config_where(&cfg, "data.dataset", buf, sizeof buf), want);
    snprintf(want, sizeof want, "%s:5", path);
    assert_string_equal(ac_config_where(&cfg, "model.heads", buf, sizeof buf), want);
    /* a default: the file alone */
    assert_string_equal(ac_config_where(&cfg, "data.columns", buf, sizeof buf), path);
    assert_int_equal(ac_config_set(&cfg, "data.dataset = exchange", &err), AC_OK);
    assert_string_equal(ac_config_where(&cfg, "data.dataset", buf, sizeof buf),
                        "--set data.dataset=exchange");
    assert_int_equal(ac_config_error(&cfg, "data.dataset", &err, "no such card"), AC_ERR_INVALID);
    assert_string_equal(err.msg, "--set data.dataset=exchange: data.dataset: no such card");
    ac_config fresh;
    ac_config_defaults(&fresh);
    assert_string_equal(ac_config_where(&fresh, "data.dataset", buf, sizeof buf), "");
    ac_config_error(&fresh, "data.columns", &err, "x");
    assert_string_equal(err.msg, "data.columns: x");
}

static void test_lines_longer_than_inih_buffer_are_read_whole(void **state) {
    (void)state;
    static char text[8192], want[1024];
    /* a 600-character value, past Debian inih's 199-character lines, with an inline comment */
    memset(want, 'p', 600);
    want[0] = '/';
    want[600] = '\0';
    snprintf(text, sizeof text, "[data]\n; %0300d\r\ncsv =  %s   ; a comment\r\nlookback = 5\n", 0,
             want);
    assert_int_equal(load(text), AC_OK);
    assert_string_equal(cfg.data.csv, want);
    assert_int_equal(cfg.data.lookback, 5);
    /* a long [section] line, and a long value after ':' */
    snprintf(text, sizeof text, "[model]   ; %0300d\n[data]\ncolumns: %s\n", 0, want);
    assert_int_equal(load(text), AC_OK);
    assert_string_equal(cfg.data.columns, want);
    /* the resolved text of such a config reads back the same */
    char *ini = ac_config_to_ini(&cfg);
    assert_non_null(ini);
    ac_config back;
    ac_config_defaults(&back);
    assert_int_equal(ac_config_load_string(&back, ini, "resolved", &err), AC_OK);
    assert_string_equal(back.data.columns, want);
    free(ini);
    /* a long line is checked like any other: key, value, and where */
    snprintf(text, sizeof text, "[data]\ncsv = a.csv\nlookback = 5x%0300d\n", 0);
    expect_invalid(text, 3, "data.lookback", NULL);
    snprintf(text, sizeof text, "[data]\ncsv = a.csv\ncvs = %s\n", want);
    expect_invalid(text, 3, "did you mean data.csv?", NULL);
    snprintf(text, sizeof text, "[data]\ncsv = a.csv\n%s\n", want);
    expect_invalid(text, 3, "malformed line", NULL);
    /* past a field's size: its own limit */
    snprintf(text, sizeof text, "[data]\ndataset = %0100d\n", 0);
    expect_invalid(text, 2, "data.dataset: at most 63 characters", NULL);
}

static void test_line_past_the_limit_is_reported_not_split(void **state) {
    (void)state;
    static char text[16384];
    snprintf(text, sizeof text, "[data]\ncsv = a.csv\n; %04094d\nlookback = 5\n", 0);
    expect_invalid(text, 3, "line longer than 4095 characters", NULL);
    snprintf(text, sizeof text, "[data]\ncsv = %05000d", 0); /* no final newline */
    expect_invalid(text, 2, "line longer than 4095 characters", NULL);
    /* 4095 characters exactly: read (a comment) */
    snprintf(text, sizeof text, "[data]\n; %04093d\r\ncsv = a.csv\n", 0);
    assert_int_equal(load(text), AC_OK);
}

static void test_missing_file_says_cannot_open(void **state) {
    (void)state;
    char missing[300];
    snprintf(missing, sizeof missing, "%s/nope.ini", dir);
    assert_int_equal(ac_config_load(&cfg, missing, &err), AC_ERR_IO);
    assert_contains(err.msg, "nope.ini: cannot open: No such file or directory");
}

static void test_failed_load_leaves_the_config_unchanged(void **state) {
    (void)state;
    ac_config_defaults(&cfg);
    assert_int_equal(ac_config_set(&cfg, "model.heads=2", &err), AC_OK);
    assert_int_equal(ac_config_load_string(&cfg, "[model]\nlayers = 5\nheads = x\n", "s", &err),
                     AC_ERR_INVALID);
    assert_int_equal(cfg.model.layers, 2);
    assert_int_equal(cfg.model.heads, 2);
}

static void test_load_string_names_its_source_and_line(void **state) {
    (void)state;
    ac_config_defaults(&cfg);
    assert_int_equal(
        ac_config_load_string(&cfg, "[train]\nepochs = 0\n", "checkpoint /config", &err),
        AC_ERR_INVALID);
    assert_contains(err.msg, "checkpoint /config:2: train.epochs");
    assert_int_equal(ac_config_load_string(&cfg, "[train]\nepochs = 4\n", "s", &err), AC_OK);
    assert_int_equal(cfg.train.epochs, 4);
    assert_string_equal(cfg.path, "");
}

/* ---- --set ---- */

static void test_set_overrides_the_file_and_the_later_set_wins(void **state) {
    (void)state;
    assert_int_equal(load("[train]\nlr = 0.1\n"), AC_OK);
    assert_int_equal(ac_config_set(&cfg, "train.lr=0.01", &err), AC_OK);
    assert_true(cfg.train.lr == 0.01);
    assert_int_equal(ac_config_set(&cfg, " train.lr = 0.02 ", &err), AC_OK);
    assert_true(cfg.train.lr == 0.02);
    assert_int_equal(ac_config_set(&cfg, "data.split=0.8,0.1,0.1", &err), AC_OK);
    assert_true(cfg.data.split_set && cfg.data.split[0] == 0.8);
    assert_int_equal(ac_config_set(&cfg, "output.dir=", &err), AC_OK);
    assert_string_equal(cfg.output.dir, "");
}

static void test_set_errors_name_the_assignment(void **state) {
    (void)state;
    expect_set_invalid("train.lr=abc", "train.lr: expected a number > 0, got 'abc'");
    expect_set_invalid("train.lr", "expected section.key=value");
    expect_set_invalid("lr=0.1", "expected section.key=value");
    expect_set_invalid(".lr=0.1", "expected section.key=value");
    expect_set_invalid("model.head=4", "unknown key model.head; did you mean model.heads?");
    expect_set_invalid("trian.lr=1", "unknown section [trian]; did you mean [train]?");
    expect_set_invalid("data.csv=a ;b.csv", "data.csv");
    /* input with a newline still gives one line */
    assert_int_equal(ac_config_set(&cfg, "train.lr=1\n2", &err), AC_ERR_INVALID);
    assert_string_equal(err.msg, "--set train.lr=1?2: train.lr: expected a number > 0, got '1?2'");
}

static void test_set_text_must_fit_its_field(void **state) {
    (void)state;
    char assignment[1200];
    snprintf(assignment, sizeof assignment, "data.csv=%01100d", 0);
    ac_config_defaults(&cfg);
    assert_int_equal(ac_config_set(&cfg, assignment, &err), AC_ERR_INVALID);
    assert_true(strncmp(err.msg, "--set data.csv=000", 18) == 0);
    assert_contains(err.msg, "...: data.csv: at most 1023 characters, got 1100");
    snprintf(assignment, sizeof assignment, "data.csv=%01023d", 0);
    assert_int_equal(ac_config_set(&cfg, assignment, &err), AC_OK);
}

/* ---- resolved INI text ---- */

static void assert_same_config(const ac_config *a, const ac_config *b) {
    assert_string_equal(a->data.dataset, b->data.dataset);
    assert_string_equal(a->data.csv, b->data.csv);
    assert_string_equal(a->data.columns, b->data.columns);
    assert_string_equal(a->data.date_column, b->data.date_column);
    assert_int_equal(a->data.format, b->data.format);
    assert_string_equal(a->data.id_column, b->data.id_column);
    assert_int_equal(a->data.lookback, b->data.lookback);
    assert_int_equal(a->data.horizon, b->data.horizon);
    assert_memory_equal(a->data.split, b->data.split, sizeof a->data.split);
    assert_int_equal(a->data.split_set, b->data.split_set);
    assert_memory_equal(a->data.split_rows, b->data.split_rows, sizeof a->data.split_rows);
    assert_int_equal(a->data.missing, b->data.missing);
    assert_string_equal(a->data.frequency, b->data.frequency);
    assert_int_equal(a->data.gaps, b->data.gaps);
    assert_int_equal(a->data.season, b->data.season);
    assert_int_equal(a->model.attention, b->model.attention);
    assert_int_equal(a->model.d_model, b->model.d_model);
    assert_int_equal(a->model.heads, b->model.heads);
    assert_int_equal(a->model.layers, b->model.layers);
    assert_int_equal(a->model.d_ff, b->model.d_ff);
    assert_int_equal(a->model.patch_len, b->model.patch_len);
    assert_int_equal(a->model.patch_stride, b->model.patch_stride);
    assert_int_equal(a->model.channels, b->model.channels);
    assert_int_equal(a->model.revin, b->model.revin);
    assert_int_equal(a->model.causal, b->model.causal);
    assert_memory_equal(&a->model.dropout, &b->model.dropout, sizeof(double));
    assert_int_equal(a->train.epochs, b->train.epochs);
    assert_int_equal(a->train.batch_size, b->train.batch_size);
    assert_memory_equal(&a->train.lr, &b->train.lr, sizeof(double));
    assert_int_equal(a->train.optimizer, b->train.optimizer);
    assert_memory_equal(&a->train.weight_decay, &b->train.weight_decay, sizeof(double));
    assert_memory_equal(&a->train.momentum, &b->train.momentum, sizeof(double));
    assert_memory_equal(&a->train.clip_grad, &b->train.clip_grad, sizeof(double));
    assert_int_equal(a->train.schedule, b->train.schedule);
    assert_int_equal(a->train.warmup, b->train.warmup);
    assert_int_equal(a->train.decay_every, b->train.decay_every);
    assert_memory_equal(&a->train.decay_gamma, &b->train.decay_gamma, sizeof(double));
    assert_int_equal(a->train.patience, b->train.patience);
    assert_true(a->train.seed == b->train.seed);
    assert_int_equal(a->train.threads, b->train.threads);
    assert_int_equal(a->train.loss, b->train.loss);
    assert_int_equal(a->model.quantiles.count, b->model.quantiles.count);
    assert_memory_equal(a->model.quantiles.value, b->model.quantiles.value,
                        (size_t)a->model.quantiles.count * sizeof(double));
    assert_string_equal(a->output.dir, b->output.dir);
}

static void test_to_ini_reads_back_as_the_same_config(void **state) {
    (void)state;
    assert_int_equal(load(FULL), AC_OK);
    /* values that need all 17 digits, and a tiny one */
    assert_int_equal(ac_config_set(&cfg, "train.lr=0.00030000000000000003", &err), AC_OK);
    assert_int_equal(ac_config_set(&cfg, "model.dropout=0.1234567890123456789", &err), AC_OK);
    assert_int_equal(ac_config_set(&cfg, "data.format=long", &err), AC_OK);
    assert_int_equal(ac_config_set(&cfg, "data.id_column=store id", &err), AC_OK);
    assert_int_equal(ac_config_set(&cfg, "train.weight_decay=4.9e-324", &err), AC_OK);
    assert_int_equal(ac_config_set(&cfg,
                                   "data.split=0.3333333333333333,0.3333333333333333,"
                                   "0.33333333333333337",
                                   &err),
                     AC_OK);
    char *text = ac_config_to_ini(&cfg);
    assert_non_null(text);
    ac_config back;
    memset(&back, 0, sizeof back);
    ac_config_defaults(&back);
    assert_int_equal(ac_config_load_string(&back, text, "resolved", &err), AC_OK);
    assert_same_config(&cfg, &back);
    assert_contains(text, "[data]\n");
    assert_contains(text, "\nrevin = false\n");
    assert_contains(text, "\nattention = gated\n");
    assert_contains(text, "\nformat = long\n");
    assert_contains(text, "\nid_column = store id\n");
    assert_contains(text, "\nseed = 18446744073709551615\n");
    assert_true(strstr(text, "[data]") < strstr(text, "[model]"));
    assert_true(strstr(text, "[model]") < strstr(text, "[train]"));
    assert_true(strstr(text, "[train]") < strstr(text, "[output]"));
    free(text);
}

static void test_to_ini_of_the_defaults_has_every_key(void **state) {
    (void)state;
    ac_config_defaults(&cfg);
    char *text = ac_config_to_ini(&cfg);
    assert_non_null(text);
    assert_contains(text, "\nlr = 0.001\n");
    assert_contains(text, "\nsplit = 0.7,0.1,0.2\n");
    assert_contains(text, "\ndataset =\n");
    int keys = 0;
    for (const char *c = text; (c = strstr(c, " =")) != NULL; c++) keys++;
    assert_int_equal(keys, 51);
    ac_config back;
    ac_config_defaults(&back);
    assert_int_equal(ac_config_load_string(&back, text, "resolved", &err), AC_OK);
    assert_true(back.data.split_set); /* written explicitly, so now given */
    back.data.split_set = false;
    assert_same_config(&cfg, &back);
    free(text);
}

/* ---- combinations ---- */

static void expect_check_fails(const char *text, const char *piece1, const char *piece2) {
    assert_int_equal(load(text), AC_OK);
    assert_int_equal(ac_config_check(&cfg, &err), AC_ERR_INVALID);
    char where[300];
    snprintf(where, sizeof where, "%s:", path); /* "path: " or "path:line: " */
    assert_true(strncmp(err.msg, where, strlen(where)) == 0);
    assert_contains(err.msg, piece1);
    if (piece2) assert_contains(err.msg, piece2);
    assert_null(strchr(err.msg, '\n'));
}

static void test_check_wants_exactly_one_of_dataset_and_csv(void **state) {
    (void)state;
    expect_check_fails("[model]\nheads = 4\n", "data.dataset and data.csv: give exactly one", NULL);
    expect_check_fails("[data]\ndataset = weather\ncsv = w.csv\n", "data.dataset and data.csv",
                       "not both");
    ac_config_defaults(&cfg);
    assert_int_equal(ac_config_check(&cfg, &err), AC_ERR_INVALID);
    assert_true(strncmp(err.msg, "data.dataset and data.csv", 25) == 0); /* no path, no prefix */
}

static void test_check_rejects_d_model_not_divisible_by_heads(void **state) {
    (void)state;
    expect_check_fails("[data]\ndataset = weather\n[model]\nheads = 5\n",
                       "model.d_model = 64 is not divisible by model.heads = 5", NULL);
}

static void test_check_rejects_patch_longer_than_lookback(void **state) {
    (void)state;
    expect_check_fails("[data]\ndataset = weather\nlookback = 12\n",
                       "model.patch_len = 16 is longer than data.lookback = 12", NULL);
    expect_check_fails("[data]\ndataset = weather\n[model]\npatch_stride = 17\n",
                       "model.patch_stride", "model.patch_len = 16");
}

/* Applies the "--set k=v --set k=v ..." options of text (up to its end) to c. */
static void apply_options(ac_config *c, const char *text) {
    char buf[512];
    snprintf(buf, sizeof buf, "%s", text);
    int n = 0;
    for (char *save = NULL, *word = strtok_r(buf, " ", &save); word;
         word = strtok_r(NULL, " ", &save), n++) {
        if (n % 2 == 0) {
            assert_string_equal(word, "--set");
            continue;
        }
        if (ac_config_set(c, word, &err) != AC_OK) fail_msg("%s: %s", text, err.msg);
    }
    assert_true(n >= 2 && n % 2 == 0);
}

/* A patch that does not fit the lookback is refused with --set options that fit; applying them
 * passes the check, for every small lookback, patch and stride. */
static void test_patch_errors_suggest_a_patch_that_fits(void **state) {
    (void)state;
    expect_check_fails("[data]\ndataset = weather\nlookback = 8\n",
                       "model.patch_len = 16 is longer than data.lookback = 8; try --set "
                       "model.patch_len=4 --set model.patch_stride=2",
                       NULL);
    expect_check_fails("[data]\ndataset = weather\n[model]\npatch_stride = 17\n",
                       "model.patch_stride = 17 is longer than model.patch_len = 16; try --set "
                       "model.patch_stride=8",
                       NULL);
    for (int L = 1; L <= 40; L++)
        for (int P = 1; P <= 40; P++)
            for (int S = 1; S <= 40; S += 3) {
                ac_config c;
                ac_config_defaults(&c);
                strcpy(c.data.csv, "a.csv");
                c.data.lookback = L;
                c.model.patch_len = P;
                c.model.patch_stride = S;
                if (ac_config_check(&c, &err) == AC_OK) {
                    assert_true(P <= L && S <= P);
                    continue;
                }
                const char *options = strstr(err.msg, "try ");
                if (!options) fail_msg("no suggestion: %s", err.msg);
                apply_options(&c, options + 4);
                if (ac_config_check(&c, &err) != AC_OK)
                    fail_msg("L=%d P=%d S=%d: %s", L, P, S, err.msg);
                assert_int_equal(c.data.lookback, L); /* only the patch changes */
            }
}

/* Lengths that do not fit a series come with --set options that do: applied, they pass both
 * ac_config_check and ac_split_compute; lengths that fit get none. */
static void test_suggested_lengths_pass_the_config_check_and_the_split(void **state) {
    (void)state;
    static const double split[3] = {0.7, 0.1, 0.2};
    char options[160];
    ac_config c;
    ac_split s;
    ac_config_defaults(&c);
    strcpy(c.data.csv, "a.csv");
    assert_true(ac_config_suggest_lengths(&c, 240, split, options, sizeof options));
    assert_string_equal(options, "--set data.lookback=96 --set data.horizon=24");
    assert_false(ac_config_suggest_lengths(&c, 2000, split, options, sizeof options));
    assert_string_equal(options, "");
    assert_false(ac_config_suggest_lengths(&c, 4, split, options, sizeof options));
    assert_true(ac_config_suggest_lengths(&c, 30, split, options, sizeof options));
    assert_string_equal(options, "--set data.lookback=9 --set data.horizon=3 --set "
                                 "model.patch_len=4 --set model.patch_stride=2");

    static const double splits[][3] = {{0.7, 0.1, 0.2}, {0.6, 0.2, 0.2}, {0.8, 0.1, 0.1}};
    static const int lookbacks[] = {1, 4, 16, 96, 512};
    static const int horizons[] = {1, 24, 96, 336};
    static const int patches[][2] = {{16, 8}, {4, 4}, {1, 1}, {64, 32}};
    static const int rows[] = {5, 10, 17, 30, 60, 100, 240, 500, 1000, 5000};
    for (size_t k = 0; k < 3; k++)
        for (size_t t = 0; t < sizeof rows / sizeof rows[0]; t++)
            for (size_t i = 0; i < sizeof lookbacks / sizeof lookbacks[0]; i++)
                for (size_t j = 0; j < sizeof horizons / sizeof horizons[0]; j++)
                    for (size_t p = 0; p < sizeof patches / sizeof patches[0]; p++) {
                        const double *f = splits[k];
                        int T = rows[t];
                        ac_config_defaults(&c);
                        strcpy(c.data.csv, "a.csv");
                        c.data.lookback = lookbacks[i];
                        c.data.horizon = horizons[j];
                        c.model.patch_len = patches[p][0];
                        c.model.patch_stride = patches[p][1];
                        bool fits = ac_split_compute(T, f, c.data.lookback, c.data.horizon, &s,
                                                     &err) == AC_OK;
                        if (!ac_config_suggest_lengths(&c, T, f, options, sizeof options)) {
                            assert_string_equal(options, "");
                            assert_true(fits || ac_split_compute(T, f, 1, 1, &s, &err) != AC_OK);
                            continue;
                        }
                        assert_false(fits);
                        apply_options(&c, options);
                        if (ac_config_check(&c, &err) != AC_OK ||
                            ac_split_compute(T, f, c.data.lookback, c.data.horizon, &s, &err) !=
                                AC_OK)
                            fail_msg("T=%d: %s: %s", T, options, err.msg);
                    }
}

static void test_check_rejects_a_bad_dataset_name(void **state) {
    (void)state;
    expect_check_fails("[data]\ndataset = ../etc/passwd\n", "data.dataset = ../etc/passwd", NULL);
    expect_check_fails("[data]\ndataset = ex change\n", "data.dataset", NULL);
}

static void test_check_rejects_warmup_as_long_as_training(void **state) {
    (void)state;
    expect_check_fails("[data]\ncsv = a.csv\n[train]\nepochs = 3\nwarmup = 3\n",
                       "train.warmup = 3 must be less than train.epochs = 3", NULL);
    assert_int_equal(load("[data]\ncsv = a.csv\n[train]\nepochs = 3\nwarmup = 2\n"), AC_OK);
    assert_int_equal(ac_config_check(&cfg, &err), AC_OK);
}

/* The check names the file and line of data.missing_marker, then what it expected. */
static void expect_bad_marker(const char *value) {
    char text[128], piece[160];
    snprintf(text, sizeof text, "[data]\ncsv = a.csv\nmissing_marker = %s\n", value);
    assert_int_equal(load(text), AC_OK);
    assert_int_equal(ac_config_check(&cfg, &err), AC_ERR_INVALID);
    snprintf(piece, sizeof piece,
             "exp.ini:3: data.missing_marker: expected a finite number such as -9999 (or "
             "nothing), got '%s'",
             value);
    assert_contains(err.msg, piece);
    assert_null(strchr(err.msg, '\n'));
}

static void test_check_wants_a_number_for_the_missing_marker(void **state) {
    (void)state;
    expect_bad_marker("none");
    expect_bad_marker("-9999x");
    expect_bad_marker("inf");
    expect_bad_marker("1e999");
    double marker = 0.0;
    assert_int_equal(load("[data]\ncsv = a.csv\nmissing_marker = -9999\n"), AC_OK);
    assert_int_equal(ac_config_check(&cfg, &err), AC_OK);
    assert_true(ac_config_missing_marker(&cfg, &marker));
    assert_true(marker == -9999.0);
    assert_int_equal(load("[data]\ncsv = a.csv\n"), AC_OK);
    assert_false(ac_config_missing_marker(&cfg, &marker));
    ac_config_defaults(&cfg);
    assert_int_equal(ac_config_set(&cfg, "data.csv=a.csv", &err), AC_OK);
    assert_int_equal(ac_config_set(&cfg, "data.missing_marker=oops", &err), AC_OK);
    assert_int_equal(ac_config_check(&cfg, &err), AC_ERR_INVALID);
    assert_contains(err.msg, "--set data.missing_marker=oops: data.missing_marker: expected");
}

/* ---- the model spec and the key reference ---- */

/* text fails ac_config_check with a message holding piece (and one line). */
static void expect_check_message(const char *text, const char *piece) {
    assert_int_equal(load(text), AC_OK);
    assert_int_equal(ac_config_check(&cfg, &err), AC_ERR_INVALID);
    assert_contains(err.msg, piece);
    assert_null(strchr(err.msg, '\n'));
}

static void test_check_wants_a_known_frequency(void **state) {
    (void)state;
    expect_check_message("[data]\ncsv = a.csv\nfrequency = daily\n",
                         "exp.ini:3: data.frequency: expected a frequency such as 10min, h, D, B");
    expect_check_message("[data]\ncsv = a.csv\nfrequency = 0h\n", "got '0h'");
    static const char *const good[] = {"10min", "h",  "D",  "B",  "W",  "MS",
                                       "ME",    "QS", "QE", "YS", "YE", "30s"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        char text[128];
        snprintf(text, sizeof text, "[data]\ncsv = a.csv\nfrequency = %s\n", good[i]);
        assert_int_equal(load(text), AC_OK);
        assert_int_equal(ac_config_check(&cfg, &err), AC_OK);
    }
}

static void test_check_wants_a_filling_missing_policy_for_gaps_fill(void **state) {
    (void)state;
    expect_check_message("[data]\ncsv = a.csv\ngaps = fill\n",
                         "exp.ini:3: data.gaps: fill inserts the missing dates as rows of missing "
                         "cells, which data.missing = error cannot fill: set data.missing = ffill "
                         "or interpolate");
    expect_check_message("[data]\ncsv = a.csv\ngaps = fill\nmissing = drop\n",
                         "data.missing = drop cannot fill");
    assert_int_equal(load("[data]\ncsv = a.csv\ngaps = fill\nmissing = ffill\n"), AC_OK);
    assert_int_equal(ac_config_check(&cfg, &err), AC_OK);
    assert_int_equal(load("[data]\ncsv = a.csv\ngaps = error\n"), AC_OK);
    assert_int_equal(ac_config_check(&cfg, &err), AC_OK);
}

static void test_format_long_and_the_id_column(void **state) {
    (void)state;
    assert_int_equal(load("[data]\ncsv = a.csv\nformat = long\nid_column = store\n"), AC_OK);
    assert_int_equal(cfg.data.format, AC_FORMAT_LONG);
    assert_string_equal(cfg.data.id_column, "store");
    assert_int_equal(ac_config_check(&cfg, &err), AC_OK);
    /* long without an id column: the loader looks for a column named id */
    assert_int_equal(load("[data]\ncsv = a.csv\nformat = LONG\n"), AC_OK);
    assert_int_equal(cfg.data.format, AC_FORMAT_LONG);
    assert_int_equal(ac_config_check(&cfg, &err), AC_OK);
    expect_invalid("[data]\ncsv = a.csv\nformat = tall\n", 3, "data.format", "wide, long");
    /* an id column means nothing to a wide file: both keys named, with where each was set */
    expect_check_message(
        "[data]\ncsv = a.csv\nid_column = store\n",
        "exp.ini:3: data.id_column: 'store' is set, but data.format = wide "
        "(the default) has no id column: set data.format = long for a file of many "
        "series, or leave data.id_column empty");
    expect_check_message("[data]\ncsv = a.csv\nformat = wide\nid_column = store\n",
                         "exp.ini:4: data.id_column: 'store' is set, but data.format = wide (");
    assert_contains(err.msg, "/exp.ini:3) has no id column");
    assert_int_equal(load("[data]\ncsv = a.csv\n"), AC_OK);
    assert_int_equal(ac_config_set(&cfg, "data.format=long", &err), AC_OK);
    assert_int_equal(ac_config_set(&cfg, "data.id_column=store", &err), AC_OK);
    assert_int_equal(ac_config_check(&cfg, &err), AC_OK);
    assert_int_equal(ac_config_set(&cfg, "data.format=wide", &err), AC_OK);
    assert_int_equal(ac_config_check(&cfg, &err), AC_ERR_INVALID);
    assert_contains(err.msg, "data.format = wide (--set data.format=wide) has no id column");
}

static void test_model_spec_carries_the_model_keys(void **state) {
    (void)state;
    assert_int_equal(load(FULL), AC_OK);
    ac_model_spec s = ac_config_model_spec(&cfg, 7);
    assert_int_equal(s.lookback, 336);
    assert_int_equal(s.horizon, 24);
    assert_int_equal(s.channels, 7);
    assert_int_equal(s.channel_mode, AC_CHANNELS_MIXED);
    assert_int_equal(s.patch_len, 24);
    assert_int_equal(s.patch_stride, 12);
    assert_int_equal(s.d_model, 128);
    assert_int_equal(s.heads, 8);
    assert_int_equal(s.layers, 3);
    assert_int_equal(s.d_ff, 256);
    assert_int_equal(s.attention, AC_ATTN_GATED);
    assert_false(s.revin);
    assert_true(s.causal);
    assert_true(s.dropout == 0.25f);
}

static void test_train_options_carry_the_train_keys(void **state) {
    (void)state;
    assert_int_equal(load(FULL), AC_OK);
    assert_int_equal(ac_config_set(&cfg, "train.patience=4", &err), AC_OK);
    ac_train_options o = ac_config_train_options(&cfg);
    assert_int_equal(o.epochs, 30);
    assert_int_equal(o.batch_size, 64);
    assert_true(o.lr == 3e-4);
    assert_int_equal(o.optimizer, AC_OPT_ADAMW);
    assert_true(o.weight_decay == 0.01);
    assert_true(o.momentum == 0.8);
    assert_true(o.clip_grad == 1.5);
    assert_int_equal(o.schedule, AC_SCHED_STEP);
    assert_int_equal(o.warmup, 2);
    assert_int_equal(o.decay_every, 5);
    assert_true(o.decay_gamma == 0.3);
    assert_int_equal(o.patience, 4);
    assert_true(o.seed == UINT64_MAX);
    assert_int_equal(o.loss, AC_LOSS_HUBER);
}

/* ---- quantile models: model.quantiles and train.loss = pinball ---- */

static void test_quantiles_parse_and_make_pinball_the_default_loss(void **state) {
    (void)state;
    ac_config_defaults(&cfg);
    assert_int_equal(cfg.model.quantiles.count, 0);
    assert_int_equal(cfg.train.loss, AC_LOSS_MSE);
    assert_int_equal(load("[data]\ndataset = weather\n[model]\nquantiles = 0.1, 0.5,0.9\n"), AC_OK);
    assert_int_equal(cfg.model.quantiles.count, 3);
    assert_true(cfg.model.quantiles.value[0] == 0.1 && cfg.model.quantiles.value[1] == 0.5 &&
                cfg.model.quantiles.value[2] == 0.9);
    assert_int_equal(cfg.train.loss, AC_LOSS_PINBALL);
    assert_int_equal(ac_config_check(&cfg, &err), AC_OK);
    ac_model_spec s = ac_config_model_spec(&cfg, 2);
    assert_int_equal(s.quantile_count, 3);
    assert_true(s.quantiles[0] == 0.1f && s.quantiles[1] == 0.5f && s.quantiles[2] == 0.9f);
    assert_int_equal(ac_model_spec_median(&s), 1);
    /* the resolved text says both, and reads back as the same config */
    char *text = ac_config_to_ini(&cfg);
    assert_non_null(text);
    assert_contains(text, "\nquantiles = 0.1,0.5,0.9\n");
    assert_contains(text, "\nloss = pinball\n");
    ac_config back;
    ac_config_defaults(&back);
    assert_int_equal(ac_config_load_string(&back, text, "resolved", &err), AC_OK);
    back.data.split_set = false; /* written explicitly, so now given */
    assert_same_config(&cfg, &back);
    assert_int_equal(ac_config_check(&back, &err), AC_OK);
    free(text);
    /* an override that empties the list makes a point model again, with the point default */
    assert_int_equal(ac_config_set(&cfg, "model.quantiles=", &err), AC_OK);
    assert_int_equal(cfg.model.quantiles.count, 0);
    assert_int_equal(cfg.train.loss, AC_LOSS_MSE);
    assert_int_equal(ac_config_model_spec(&cfg, 2).quantile_count, 0);
    /* and one that sets it on a point model's file makes pinball the default */
    assert_int_equal(load("[data]\ndataset = weather\n"), AC_OK);
    assert_int_equal(ac_config_set(&cfg, "model.quantiles=0.05,0.5", &err), AC_OK);
    assert_int_equal(cfg.train.loss, AC_LOSS_PINBALL);
    assert_int_equal(ac_config_check(&cfg, &err), AC_OK);
    assert_int_equal(ac_config_set(&cfg, "train.loss=pinball", &err), AC_OK); /* explicit: fine */
    assert_int_equal(ac_config_check(&cfg, &err), AC_OK);
}

static void test_bad_quantile_lists_name_the_key_and_the_token(void **state) {
    (void)state;
    expect_invalid("[model]\nquantiles = 0.1,abc,0.9\n", 2, "model.quantiles", "'abc'");
    expect_invalid("[model]\nquantiles = 0.1,,0.9\n", 2, "model.quantiles", "empty entry");
    expect_invalid("[model]\nquantiles = 0.5,0.1\n", 2,
                   "'0.1' is not greater than the level before it (0.5)", NULL);
    expect_invalid("[model]\nquantiles = 0.1,0.5,0.5\n", 2, "model.quantiles",
                   "'0.5' is given twice");
    expect_invalid("[model]\nquantiles = 10,50,90\n", 2, "model.quantiles",
                   "levels are fractions, not percents: write 0.1,0.5,0.9");
    expect_invalid("[model]\nquantiles = 0.1,0.9\n", 2, "model.quantiles", "include 0.5");
    expect_invalid("[model]\nquantiles = 0,0.5\n", 2, "model.quantiles: '0' is not in (0, 1)",
                   NULL);
    expect_invalid("[model]\nquantiles = 0.5,1\n", 2, "'1' is not in (0, 1)", NULL);
    expect_invalid("[model]\nquantiles = 0.5,nan\n", 2, "'nan' is not a number", NULL);
    expect_invalid("[model]\nquantiles = 0.01,0.02,0.03,0.04,0.05,0.06,0.07,0.08,0.09,0.1,0.2,"
                   "0.3,0.4,0.5,0.6,0.7\n",
                   2, "model.quantiles", "at most 15");
    expect_set_invalid("model.quantiles=0.2,0.8", "include 0.5");
    /* 15 is allowed */
    assert_int_equal(load("[model]\nquantiles = 0.01,0.02,0.03,0.04,0.05,0.06,0.07,0.08,0.09,0.1,"
                          "0.2,0.3,0.4,0.5,0.6\n"),
                     AC_OK);
    assert_int_equal(cfg.model.quantiles.count, 15);
}

static void test_pinball_goes_with_quantiles_and_only_with_them(void **state) {
    (void)state;
    expect_check_fails("[data]\ndataset = weather\n[model]\nquantiles = 0.1,0.5,0.9\n"
                       "[train]\nloss = mae\n",
                       ":6: train.loss: mae with model.quantiles (", ":4): a quantile model");
    expect_check_fails("[data]\ndataset = weather\n[train]\nloss = pinball\n",
                       ":4: train.loss: pinball needs model.quantiles", NULL);
    /* an explicit loss on the command line counts too */
    assert_int_equal(load("[data]\ndataset = weather\n[model]\nquantiles = 0.5\n"), AC_OK);
    assert_int_equal(ac_config_set(&cfg, "train.loss=huber", &err), AC_OK);
    assert_int_equal(ac_config_check(&cfg, &err), AC_ERR_INVALID);
    assert_contains(err.msg, "--set train.loss=huber: train.loss: huber with model.quantiles");
}

static void test_print_keys_lists_every_key_with_its_default(void **state) {
    (void)state;
    snprintf(path, sizeof path, "%s/keys.txt", dir);
    FILE *f = fopen(path, "w+");
    assert_non_null(f);
    ac_config_print_keys(f);
    rewind(f);
    char line[512];
    int lines = 0;
    long doc_column = -1;
    bool saw_lr = false, saw_attention = false;
    while (fgets(line, sizeof line, f)) {
        lines++;
        assert_true(strncmp(line, "  ", 2) == 0 && line[2] != ' ');
        if (strstr(line, "  train.lr ")) saw_lr = strstr(line, " 1e-3 ") != NULL;
        if (strstr(line, "  model.attention ")) saw_attention = strstr(line, "cosine") != NULL;
        /* the doc column starts at the same place on every line */
        char *key_end = strchr(line + 2, ' ');
        char *def = key_end + strspn(key_end, " ");
        char *doc = strchr(def, ' ');
        doc += strspn(doc, " ");
        if (doc_column < 0) doc_column = doc - line;
        assert_int_equal(doc - line, doc_column);
    }
    fclose(f);
    assert_int_equal(lines, 51);
    assert_true(saw_lr);
    assert_true(saw_attention);
}

/* ---- covariates (data.targets, data.past_covariates, data.future_covariates, data.calendar) ----
 */

static void test_covariate_keys_load_and_read_back(void **state) {
    (void)state;
    assert_int_equal(load("[data]\ncsv = a.csv\ntargets = OT\npast_covariates = HUFL, HULL\n"
                          "future_covariates = MUFL\ncalendar = month_of_year , hour_of_day\n"
                          "lookback = 48\nhorizon = 24\n"),
                     AC_OK);
    assert_string_equal(cfg.data.targets, "OT");
    assert_string_equal(cfg.data.past_covariates, "HUFL, HULL");
    assert_string_equal(cfg.data.future_covariates, "MUFL");
    assert_int_equal(cfg.data.calendar, AC_CALENDAR_MONTH_OF_YEAR | AC_CALENDAR_HOUR_OF_DAY);
    assert_int_equal(ac_config_check(&cfg, &err), AC_OK);
    char *text = ac_config_to_ini(&cfg);
    assert_non_null(text);
    assert_contains(text, "\ncalendar = hour_of_day,month_of_year\n");
    assert_contains(text, "\npast_covariates = HUFL, HULL\n");
    ac_config back;
    ac_config_defaults(&back);
    assert_int_equal(ac_config_load_string(&back, text, "resolved", &err), AC_OK);
    free(text);
    assert_int_equal(back.data.calendar, cfg.data.calendar);
    assert_string_equal(back.data.targets, "OT");

    /* Kp = 2, Kf = 1 real + 2 per calendar feature */
    int past, future, calendar;
    ac_config_covariate_counts(&cfg, &past, &future, &calendar);
    assert_int_equal(past, 2);
    assert_int_equal(future, 1);
    assert_int_equal(calendar, 4);
    ac_model_spec spec = ac_config_model_spec(&cfg, 1);
    assert_int_equal(spec.channels, 1);
    assert_int_equal(spec.past_covariates, 2);
    assert_int_equal(spec.future_covariates, 5);

    ac_config_roles roles;
    ac_config_column_roles(&cfg, &roles);
    assert_ptr_equal(roles.roles.targets, cfg.data.targets);
    assert_string_equal(roles.roles.past, "HUFL, HULL");
    assert_int_equal(roles.roles.calendar, cfg.data.calendar);
    assert_non_null(strstr(roles.roles.targets_at, "exp.ini:3"));
    assert_non_null(strstr(roles.roles.past_at, "exp.ini:4"));
    assert_non_null(strstr(roles.roles.future_at, "exp.ini:5"));
    assert_non_null(strstr(roles.roles.calendar_at, "exp.ini:6"));
    assert_null(roles.roles.columns_at); /* data.columns unset */

    /* the defaults: no covariates at all */
    ac_config_defaults(&cfg);
    assert_int_equal(cfg.data.calendar, 0);
    spec = ac_config_model_spec(&cfg, 7);
    assert_int_equal(spec.past_covariates + spec.future_covariates, 0);
    assert_int_equal(ac_config_set(&cfg, "data.calendar=day_of_week", &err), AC_OK);
    assert_int_equal(cfg.data.calendar, AC_CALENDAR_DAY_OF_WEEK);
    ac_config_column_roles(&cfg, &roles);
    assert_string_equal(roles.roles.calendar_at, "--set data.calendar=day_of_week");
}

static void test_an_unknown_calendar_feature_says_the_nearest(void **state) {
    (void)state;
    expect_invalid(
        "[data]\ncalendar = hour_of_dya\n", 2,
        "data.calendar: unknown calendar feature 'hour_of_dya'; did you mean hour_of_day?",
        "day_of_week");
    expect_invalid("[data]\n\ncalendar = day_of_week, weekday\n", 3, "'weekday'",
                   "known: hour_of_day, day_of_week, day_of_month, day_of_year, month_of_year");
    expect_invalid("[data]\ncalendar = day_of_week,day_of_week\n", 2, "given twice", NULL);
    expect_invalid("[data]\ncalendar = day_of_week,\n", 2, "an empty entry", NULL);
    expect_set_invalid("data.calendar=month", "unknown calendar feature 'month'");
}

static void test_check_refuses_a_column_in_two_role_lists(void **state) {
    (void)state;
    expect_check_message("[data]\ncsv = a.csv\ntargets = OT\npast_covariates = HUFL\n"
                         "future_covariates = MUFL,HUFL\n",
                         "exp.ini:5: data.future_covariates: 'HUFL' is also in "
                         "data.past_covariates (");
    assert_contains(err.msg, "exp.ini:4)");
    expect_check_message("[data]\ncsv = a.csv\ntargets = HUFL,OT\npast_covariates = HUFL\n",
                         "exp.ini:4: data.past_covariates: 'HUFL' is also in data.targets (");
    expect_check_message("[data]\ncsv = a.csv\npast_covariates = HUFL, HULL ,HUFL\n",
                         "exp.ini:3: data.past_covariates: 'HUFL' is named twice");
    expect_check_message("[data]\ncsv = a.csv\ntargets = OT,,HUFL\n",
                         "exp.ini:3: data.targets: an empty name");
}

static void test_check_wants_a_horizon_a_patch_long_for_future_covariates(void **state) {
    (void)state;
    expect_check_message("[data]\ncsv = a.csv\nhorizon = 8\ncalendar = day_of_week\n",
                         "exp.ini:3: data.horizon: 8 is shorter than model.patch_len = 16");
    assert_contains(err.msg, "need data.horizon >= model.patch_len: the horizon is patched like "
                             "the lookback");
    expect_check_message("[data]\ncsv = a.csv\nhorizon = 8\nfuture_covariates = x\n",
                         "data.future_covariates, ");
    /* past covariates alone do not patch the horizon; a horizon of one patch is enough */
    assert_int_equal(load("[data]\ncsv = a.csv\nhorizon = 8\npast_covariates = x\n"), AC_OK);
    assert_int_equal(ac_config_check(&cfg, &err), AC_OK);
    assert_int_equal(load("[data]\ncsv = a.csv\nhorizon = 16\ncalendar = day_of_week\n"), AC_OK);
    assert_int_equal(ac_config_check(&cfg, &err), AC_OK);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_are_the_documented_values),
        cmocka_unit_test(test_quantiles_parse_and_make_pinball_the_default_loss),
        cmocka_unit_test(test_bad_quantile_lists_name_the_key_and_the_token),
        cmocka_unit_test(test_pinball_goes_with_quantiles_and_only_with_them),
        cmocka_unit_test(test_a_full_file_with_every_section_loads),
        cmocka_unit_test(test_name_is_the_base_name_without_ini),
        cmocka_unit_test(test_keys_left_out_keep_their_defaults),
        cmocka_unit_test(test_comments_and_blank_lines_are_ignored),
        cmocka_unit_test(test_crlf_line_endings_work),
        cmocka_unit_test(test_indented_keys_are_ordinary_keys),
        cmocka_unit_test(test_bools_and_enums_accept_every_spelling),
        cmocka_unit_test(test_int_with_trailing_junk_is_rejected),
        cmocka_unit_test(test_float_nan_and_inf_are_rejected),
        cmocka_unit_test(test_bool_maybe_is_rejected),
        cmocka_unit_test(test_enum_typo_lists_the_allowed_values),
        cmocka_unit_test(test_out_of_range_values_are_rejected),
        cmocka_unit_test(test_empty_numeric_value_is_rejected),
        cmocka_unit_test(test_split_needs_three_fractions_summing_to_one),
        cmocka_unit_test(test_text_longer_than_its_buffer_names_the_limit),
        cmocka_unit_test(test_unknown_section_suggests_the_near_miss),
        cmocka_unit_test(test_unknown_empty_section_is_still_reported),
        cmocka_unit_test(test_unknown_key_suggests_the_near_miss),
        cmocka_unit_test(test_key_in_the_wrong_section_suggests_its_home),
        cmocka_unit_test(test_unknown_key_far_from_everything_lists_the_section_keys),
        cmocka_unit_test(test_key_outside_any_section_is_rejected),
        cmocka_unit_test(test_duplicate_key_names_both_lines),
        cmocka_unit_test(test_malformed_lines_are_reported_with_their_line),
        cmocka_unit_test(test_where_names_the_line_the_override_or_the_file),
        cmocka_unit_test(test_lines_longer_than_inih_buffer_are_read_whole),
        cmocka_unit_test(test_line_past_the_limit_is_reported_not_split),
        cmocka_unit_test(test_missing_file_says_cannot_open),
        cmocka_unit_test(test_failed_load_leaves_the_config_unchanged),
        cmocka_unit_test(test_load_string_names_its_source_and_line),
        cmocka_unit_test(test_set_overrides_the_file_and_the_later_set_wins),
        cmocka_unit_test(test_set_errors_name_the_assignment),
        cmocka_unit_test(test_set_text_must_fit_its_field),
        cmocka_unit_test(test_to_ini_reads_back_as_the_same_config),
        cmocka_unit_test(test_to_ini_of_the_defaults_has_every_key),
        cmocka_unit_test(test_check_wants_exactly_one_of_dataset_and_csv),
        cmocka_unit_test(test_check_rejects_d_model_not_divisible_by_heads),
        cmocka_unit_test(test_check_rejects_patch_longer_than_lookback),
        cmocka_unit_test(test_patch_errors_suggest_a_patch_that_fits),
        cmocka_unit_test(test_suggested_lengths_pass_the_config_check_and_the_split),
        cmocka_unit_test(test_check_rejects_a_bad_dataset_name),
        cmocka_unit_test(test_check_rejects_warmup_as_long_as_training),
        cmocka_unit_test(test_check_wants_a_number_for_the_missing_marker),
        cmocka_unit_test(test_check_wants_a_known_frequency),
        cmocka_unit_test(test_check_wants_a_filling_missing_policy_for_gaps_fill),
        cmocka_unit_test(test_format_long_and_the_id_column),
        cmocka_unit_test(test_model_spec_carries_the_model_keys),
        cmocka_unit_test(test_train_options_carry_the_train_keys),
        cmocka_unit_test(test_print_keys_lists_every_key_with_its_default),
        cmocka_unit_test(test_covariate_keys_load_and_read_back),
        cmocka_unit_test(test_an_unknown_calendar_feature_says_the_nearest),
        cmocka_unit_test(test_check_refuses_a_column_in_two_role_lists),
        cmocka_unit_test(test_check_wants_a_horizon_a_patch_long_for_future_covariates),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
