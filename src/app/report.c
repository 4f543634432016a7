/* report.c - the run folder and its files: atomic writes, history.csv, metrics.json (cJSON, the
 * metrics beside the run's main settings), report.md. */
#include "app/report.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "attncast/attncast.h"

/* mkdir -p */
static ac_status make_dirs(const char *path, ac_error *err) {
    char buf[AC_CONFIG_TEXT];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return ac_error_set(err, AC_ERR_INVALID, "%s: path too long", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return ac_error_set(err, AC_ERR_IO, "%s: cannot create folder: %s", buf,
                                strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0777) != 0 && errno != EEXIST)
        return ac_error_set(err, AC_ERR_IO, "%s: cannot create folder: %s", buf, strerror(errno));
    struct stat st;
    if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
        return ac_error_set(err, AC_ERR_IO, "%s: exists and is not a folder", buf);
    return AC_OK;
}

ac_status ac_run_dir_create(const ac_config *cfg, char *dir, size_t n, ac_error *err) {
    if (cfg->output.dir[0]) {
        if (snprintf(dir, n, "%s", cfg->output.dir) >= (int)n)
            return ac_error_set(err, AC_ERR_INVALID, "output.dir: path too long");
        return make_dirs(dir, err);
    }
    char stamp[32];
    time_t now = time(NULL);
    struct tm tmv;
    localtime_r(&now, &tmv);
    strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tmv);
    const char *name = cfg->name[0] ? cfg->name : "run";
    for (int k = 1; k < 1000; k++) {
        int w = k == 1 ? snprintf(dir, n, "runs/%s-%s", name, stamp)
                       : snprintf(dir, n, "runs/%s-%s-%d", name, stamp, k);
        if (w < 0 || (size_t)w >= n)
            return ac_error_set(err, AC_ERR_INVALID, "run folder name too long");
        struct stat st;
        if (stat(dir, &st) != 0) return make_dirs(dir, err);
    }
    return ac_error_set(err, AC_ERR_IO, "runs/%s-%s: too many runs with this name", name, stamp);
}

/* The files a trainer writes into its run folder, each through "<name>.tmp.<pid>". */
static const char *const RUN_FILES[] = {"last.h5",     "best.h5",      "config.ini",
                                        "history.csv", "metrics.json", "test_forecasts.csv",
                                        "report.md"};

/* Removes the "<run file>.tmp.<pid>" files that a trainer killed while writing left behind; the
 * caller holds the folder's lock, so no trainer is writing them now. Best effort. */
static void remove_stale_temporaries(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        const char *tmp = strstr(e->d_name, ".tmp.");
        if (!tmp || !tmp[5] || strspn(tmp + 5, "0123456789") != strlen(tmp + 5)) continue;
        size_t stem = (size_t)(tmp - e->d_name);
        for (size_t i = 0; i < sizeof RUN_FILES / sizeof RUN_FILES[0]; i++) {
            if (strlen(RUN_FILES[i]) != stem || strncmp(e->d_name, RUN_FILES[i], stem) != 0)
                continue;
            char path[AC_CONFIG_TEXT + 300];
            if (snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path)
                unlink(path);
        }
    }
    closedir(d);
}

ac_status ac_run_dir_lock(const char *dir, int *fd, ac_error *err) {
    char path[AC_CONFIG_TEXT + 32];
    if (snprintf(path, sizeof path, "%s/%s", dir, AC_RUN_LOCK_FILE) >= (int)sizeof path)
        return ac_error_set(err, AC_ERR_INVALID, "%s: path too long", dir);
    *fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (*fd < 0) return ac_error_set(err, AC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    int rc;
    while ((rc = flock(*fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR) continue;
    if (rc == 0) {
        remove_stale_temporaries(dir);
        return AC_OK;
    }
    int e = errno;
    close(*fd);
    *fd = -1;
    if (e == EWOULDBLOCK)
        return ac_error_set(err, AC_ERR_STATE,
                            "%s: another attncast train is writing to this run folder (%s is "
                            "locked); wait for it to end or use another --out",
                            dir, AC_RUN_LOCK_FILE);
    return ac_error_set(err, AC_ERR_IO, "%s: cannot lock: %s", path, strerror(e));
}

ac_status ac_write_file_atomic(const char *path, const char *data, size_t len, ac_error *err) {
    char tmp[AC_CONFIG_TEXT + 32];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return ac_error_set(err, AC_ERR_INVALID, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) return ac_error_set(err, AC_ERR_IO, "%s: cannot write: %s", path, strerror(errno));
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = w < 0 ? errno : ENOSPC;
            close(fd);
            unlink(tmp);
            return ac_error_set(err, AC_ERR_IO, "%s: write failed: %s (the previous file is kept)",
                                path, strerror(e));
        }
        done += (size_t)w;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return ac_error_set(err, AC_ERR_IO, "%s: flush failed: %s (the previous file is kept)",
                            path, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return ac_error_set(err, AC_ERR_IO, "%s: cannot replace: %s", path, strerror(e));
    }
    return AC_OK;
}

char *ac_history_csv(const ac_epoch_record *h, int n) {
    size_t cap = 128 + (size_t)n * 160;
    char *out = malloc(cap);
    if (!out) return NULL;
    size_t used =
        (size_t)snprintf(out, cap, "epoch,train_loss,val_loss,lr,seconds,windows_per_s\n");
    for (int i = 0; i < n && used < cap; i++)
        used += (size_t)snprintf(out + used, cap - used, "%d,%.9g,%.9g,%.6g,%.3f,%.1f\n",
                                 h[i].epoch, h[i].train_loss, h[i].val_loss, h[i].lr, h[i].seconds,
                                 h[i].windows_per_s);
    return out;
}

static void add_number(cJSON *obj, const char *key, double v) {
    if (isfinite(v))
        cJSON_AddNumberToObject(obj, key, v);
    else
        cJSON_AddNullToObject(obj, key);
}

/* ---- the model against the naive repeat on the validation split ---- */

/* The model's validation MSE is below the naive repeat's (a NaN never is). */
static bool beats_naive(const ac_run_info *info) {
    return info->val_mse < info->val_vs_naive.naive_mse;
}

/* model.anchor = last is worth suggesting unless the run used it already. */
static bool anchor_suggested(const ac_config *cfg) {
    return cfg->model.anchor != AC_ANCHOR_LAST;
}

bool ac_run_val_verdict(const ac_config *cfg, const ac_run_info *info, char *buf, size_t n) {
    if (n) buf[0] = '\0';
    if (!info->val_vs_naive.measured || beats_naive(info)) return false;
    snprintf(buf, n,
             "on the validation split the model (MSE %.4g) does not beat the naive repeat of the "
             "last value (MSE %.4g); what usually helps: a longer lookback (data.lookback)%s",
             info->val_mse, info->val_vs_naive.naive_mse,
             anchor_suggested(cfg) ? ", model.anchor = last (the model starts from the naive "
                                     "forecast and learns corrections to it)"
                                   : "");
    return true;
}

static cJSON *metrics_object(const ac_metrics *m) {
    cJSON *o = cJSON_CreateObject();
    add_number(o, "mse", m->mse);
    add_number(o, "mae", m->mae);
    add_number(o, "rmse", m->rmse);
    add_number(o, "mae_orig", m->mae_orig);
    add_number(o, "wape", m->wape);
    add_number(o, "smape", m->smape);
    add_number(o, "mape", m->mape);
    add_number(o, "mase", m->mase);
    return o;
}

/* name with every byte that is not part of valid UTF-8 replaced by '?' (JSON text is UTF-8). */
static void utf8_clean(char *out, size_t n, const char *name) {
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p && o + 5 < n;) {
        int len = *p < 0x80         ? 1
                  : (*p >> 5) == 6  ? 2
                  : (*p >> 4) == 14 ? 3
                  : (*p >> 3) == 30 ? 4
                                    : 0;
        for (int i = 1; i < len; i++)
            if ((p[i] & 0xC0) != 0x80) len = 0;
        if (len == 0) {
            out[o++] = '?';
            p++;
            continue;
        }
        memcpy(out + o, p, (size_t)len);
        o += (size_t)len;
        p += len;
    }
    out[o] = '\0';
}

#define MAPE_RULE_TEXT                                                                             \
    "mape counts the points whose |y| is at least 0.1 x the channel's mean |y| over the scored "   \
    "rows; a channel's mape is null when fewer than 90% of its points count; the pooled mape is "  \
    "over the counted points of the channels that have one"

/* {"method", "level", "coverage", "width", "width_scaled", "winkler", "winkler_scaled", "points"}
 */
static cJSON *interval_object(const ac_interval_def *def, const ac_interval_metrics *m) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "method", ac_interval_method_name(def->method));
    add_number(o, "level", def->level);
    add_number(o, "coverage", m->coverage);
    add_number(o, "width", m->width);
    add_number(o, "width_scaled", m->width_scaled);
    add_number(o, "winkler", m->winkler);
    add_number(o, "winkler_scaled", m->winkler_scaled);
    cJSON_AddNumberToObject(o, "points", (double)m->points);
    return o;
}

/* {["method", "levels",] "wql", "crps"}: with q, its method and levels first */
static cJSON *quantile_object(const ac_eval_quantiles *q, const ac_quantile_metrics *m) {
    cJSON *o = cJSON_CreateObject();
    if (q) {
        cJSON_AddStringToObject(o, "method", ac_interval_method_name(q->method));
        cJSON_AddItemToObject(o, "levels", cJSON_CreateDoubleArray(q->levels, q->count));
    }
    add_number(o, "wql", m->wql);
    add_number(o, "crps", m->crps);
    return o;
}

/* The interval and quantile scores of channel c (c < 0: pooled) into obj: "intervals",
 * "quantile_loss" (pooled: with "method" and "levels") and "seasonal_naive_quantiles"; nothing
 * when the evaluation scored none. */
static void add_interval_scores(cJSON *obj, const ac_eval_result *e, int c) {
    if (e->interval_count > 0) {
        cJSON *list = cJSON_AddArrayToObject(obj, "intervals");
        for (int i = 0; i < e->interval_count; i++) {
            const ac_eval_interval *r = &e->intervals[i];
            cJSON_AddItemToArray(list,
                                 interval_object(&r->def, c < 0 ? &r->pooled : &r->channels[c]));
        }
    }
    if (e->quantile_sets == 0) return;
    const ac_eval_quantiles *q = &e->quantiles[0];
    cJSON_AddItemToObject(
        obj, "quantile_loss",
        quantile_object(c < 0 ? q : NULL, c < 0 ? &q->model : &q->model_channels[c]));
    if (q->has_baseline)
        cJSON_AddItemToObject(
            obj, "seasonal_naive_quantiles",
            quantile_object(NULL, c < 0 ? &q->baseline : &q->baseline_channels[c]));
}

#define INTERVAL_NOTE_TEXT                                                                         \
    "coverage: the share of the points with lo <= y <= hi; width and winkler in each channel's "   \
    "own units (pooled only for a single channel, else null), width_scaled and winkler_scaled "    \
    "on z-scored values; quantile_loss: wql (GluonTS mean_wQuantileLoss) and crps (on the "        \
    "quantile grid, channel units) of the quantiles at levels"
/* added when the seasonal-naive quantile baseline is there */
#define BASELINE_NOTE_TEXT                                                                         \
    "; seasonal_naive_quantiles: the seasonal-naive forecast plus the empirical quantiles of its " \
    "errors on the validation windows, at the same levels"

/* per_channel: {"<column>": {"model": {...}, "naive": {...}, ..., "mape_share"[, "mape_note"]}} */
static cJSON *per_channel_object(const ac_eval_result *e, const ac_run_info *info) {
    cJSON *all = cJSON_CreateObject();
    for (int c = 0; c < e->channels && e->model_channels; c++) {
        char key[512];
        if (info->channel_names && c < info->channels)
            utf8_clean(key, sizeof key, info->channel_names[c]);
        else
            snprintf(key, sizeof key, "%d", c);
        cJSON *ch = cJSON_AddObjectToObject(all, key);
        const ac_metrics *m = &e->model_channels[c];
        cJSON_AddItemToObject(ch, "model", metrics_object(m));
        for (int k = 0; k < AC_BASELINE_COUNT; k++)
            cJSON_AddItemToObject(ch, ac_baseline_name((ac_baseline_kind)k),
                                  metrics_object(&e->baseline_channels[k][c]));
        add_interval_scores(ch, e, c);
        add_number(ch, "mape_share", m->mape_share);
        if (!isfinite(m->mape) && m->points > 0) {
            char note[160];
            snprintf(note, sizeof note,
                     "left out: %.1f%% of the points have |y| >= %g x the channel's mean |y|, "
                     "%g%% needed",
                     100.0 * m->mape_share, AC_MAPE_FLOOR, 100.0 * AC_MAPE_MIN_SHARE);
            cJSON_AddStringToObject(ch, "mape_note", note);
        }
    }
    return all;
}

/* series: {"<id>": {"windows", "model", the baselines, ["per_channel",] the interval scores}} */
static cJSON *per_series_object(const ac_run_info *info) {
    cJSON *all = cJSON_CreateObject();
    for (int i = 0; i < info->series_count; i++) {
        const ac_eval_result *e = &info->per_series[i];
        char key[512];
        utf8_clean(key, sizeof key, info->series_ids[i]);
        cJSON *one = cJSON_AddObjectToObject(all, key);
        cJSON_AddNumberToObject(one, "windows", (double)e->windows);
        cJSON_AddItemToObject(one, "model", metrics_object(&e->model));
        for (int k = 0; k < AC_BASELINE_COUNT; k++)
            cJSON_AddItemToObject(one, ac_baseline_name((ac_baseline_kind)k),
                                  metrics_object(&e->baseline[k]));
        if (e->channels > 1) cJSON_AddItemToObject(one, "per_channel", per_channel_object(e, info));
        add_interval_scores(one, e, -1);
    }
    return all;
}

char *ac_metrics_json(const ac_config *cfg, const ac_eval_result *e, const ac_run_info *info) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "split", ac_split_kind_name(e->split));
    if (info->test_hidden) cJSON_AddBoolToObject(root, "test_hidden", true);
    cJSON_AddItemToObject(root, "model", metrics_object(&e->model));
    cJSON *base = cJSON_AddObjectToObject(root, "baselines");
    for (int k = 0; k < AC_BASELINE_COUNT; k++)
        cJSON_AddItemToObject(base, ac_baseline_name((ac_baseline_kind)k),
                              metrics_object(&e->baseline[k]));
    add_interval_scores(root, e, -1);
    if (e->interval_count > 0 || e->quantile_sets > 0)
        cJSON_AddStringToObject(root, "interval_note",
                                e->quantile_sets > 0 && e->quantiles[0].has_baseline
                                    ? INTERVAL_NOTE_TEXT BASELINE_NOTE_TEXT
                                    : INTERVAL_NOTE_TEXT);
    cJSON_AddItemToObject(root, "per_channel", per_channel_object(e, info));
    if (info->series_count > 0) {
        cJSON_AddNumberToObject(root, "series_count", info->series_count);
        cJSON_AddItemToObject(root, "series", per_series_object(info));
    }
    cJSON_AddNumberToObject(root, "windows", (double)e->windows);
    cJSON_AddNumberToObject(root, "points", (double)e->model.points);
    cJSON_AddStringToObject(root, "scale_note",
                            "mse and mae on z-scored values; rmse and mae_orig in each channel's "
                            "own units (pooled only for a single channel, else null: see "
                            "per_channel); wape, smape, mape and mase on the original scale, "
                            "free of units");
    cJSON_AddStringToObject(root, "mape_rule", MAPE_RULE_TEXT);
    if (e->model.mape_channels_out > 0) {
        char note[160];
        snprintf(note, sizeof note, "mape left out for %d of %d channel(s) (see per_channel)",
                 e->model.mape_channels_out, e->channels);
        cJSON_AddStringToObject(root, "mape_note", note);
    }
    if (isfinite(info->val_mse)) {
        cJSON *val = cJSON_AddObjectToObject(root, "val");
        add_number(val, "mse", info->val_mse);
        add_number(val, "mae", info->val_mae);
    }
    cJSON_AddNumberToObject(root, "season", e->season);
    cJSON_AddStringToObject(root, "data", info->data_source);
    cJSON_AddNumberToObject(root, "rows", info->rows);
    cJSON_AddNumberToObject(root, "channels", info->channels);
    cJSON_AddNumberToObject(root, "lookback", cfg->data.lookback);
    cJSON_AddNumberToObject(root, "horizon", cfg->data.horizon);
    cJSON_AddStringToObject(root, "attention", ac_attention_kind_name(cfg->model.attention));
    cJSON_AddStringToObject(root, "channel_mode", ac_channel_mode_name(cfg->model.channels));
    /* the main settings under their config key names; "channels" above is the channel count,
     * so model.channels is "channel_mode" */
    cJSON_AddNumberToObject(root, "d_model", cfg->model.d_model);
    cJSON_AddNumberToObject(root, "heads", cfg->model.heads);
    cJSON_AddNumberToObject(root, "layers", cfg->model.layers);
    cJSON_AddNumberToObject(root, "d_ff", cfg->model.d_ff);
    cJSON_AddNumberToObject(root, "patch_len", cfg->model.patch_len);
    cJSON_AddNumberToObject(root, "patch_stride", cfg->model.patch_stride);
    cJSON_AddStringToObject(root, "optimizer", ac_optimizer_kind_name(cfg->train.optimizer));
    add_number(root, "lr", cfg->train.lr);
    cJSON_AddNumberToObject(root, "batch_size", cfg->train.batch_size);
    cJSON_AddStringToObject(root, "loss", ac_loss_kind_name(cfg->train.loss));
    cJSON_AddNumberToObject(root, "epochs", cfg->train.epochs);
    cJSON_AddNumberToObject(root, "parameters", (double)info->parameters);
    cJSON_AddNumberToObject(root, "seed", (double)cfg->train.seed);
    cJSON_AddNumberToObject(root, "threads", info->threads);
    cJSON_AddNumberToObject(root, "epochs_run", info->epochs_run);
    cJSON_AddNumberToObject(root, "best_epoch", info->best_epoch);
    add_number(root, "best_val_loss", info->best_val_loss);
    cJSON_AddBoolToObject(root, "stopped_early", info->stopped_early);
    add_number(root, "train_seconds", info->train_seconds);
    add_number(root, "windows_per_s", info->windows_per_s);
    if (info->val_vs_naive.measured) {
        cJSON *val = cJSON_AddObjectToObject(root, "val_vs_naive");
        add_number(val, "model_mse", info->val_mse);
        add_number(val, "naive_mse", info->val_vs_naive.naive_mse);
        cJSON_AddBoolToObject(val, "beats_naive", beats_naive(info));
    }
    cJSON_AddStringToObject(root, "attncast_version", ac_version());
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    return text;
}

static bool file_exists(const char *dir, const char *name) {
    char path[AC_CONFIG_TEXT + 64];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    return stat(path, &st) == 0 && st.st_size > 0;
}

/* The run pictures report.md embeds, in order, and their Markdown. */
static const struct {
    const char *file, *link;
} PICTURES[] = {{"learning_curves.png", "![learning curves](learning_curves.png)"},
                {"forecasts.png", "![test forecasts](forecasts.png)"}};

#define CONFIG_HEADING "## Config\n" /* the pictures go just before it */

/* A table cell: the number with digits decimals (general: significant digits, %g), or "-" when
 * it is not defined. */
static void md_number(char *cell, double v, int digits, bool general) {
    if (isfinite(v))
        snprintf(cell, 32, general ? "%.*g" : "%.*f", digits, v);
    else
        snprintf(cell, 32, "-");
}

char *ac_run_report_md(const ac_config *cfg, const ac_eval_result *e, const ac_run_info *info,
                       const char *run_dir) {
    char *ini = ac_config_to_ini(cfg);
    size_t cap = 8192 + (ini ? strlen(ini) : 0) + (size_t)e->channels * (AC_CONFIG_TEXT + 256) +
                 (size_t)e->interval_count * 160 + (size_t)e->quantile_sets * 2048;
    char *out = ini ? malloc(cap) : NULL;
    if (!out) {
        free(ini);
        return NULL;
    }
    size_t n = 0;
#define ADD(...) n += (size_t)snprintf(out + n, n < cap ? cap - n : 0, __VA_ARGS__)
    ADD("# Run report: %s\n\n", cfg->name[0] ? cfg->name : "attncast run");
    ADD("%s attention forecaster on **%s** (%d rows x %d channels), lookback %d, horizon %d; "
        "%lld weights. attncast %s.\n\n",
        ac_attention_kind_name(cfg->model.attention), info->data_source, info->rows, info->channels,
        cfg->data.lookback, cfg->data.horizon, (long long)info->parameters, ac_version());
    bool one = e->channels == 1;
    ADD("## %s metrics\n\n%s split, %lld windows. MSE and MAE on z-scored values; %sWAPE, "
        "sMAPE, MAPE and MASE on the original scale, free of units (MAPE as metrics.json's "
        "mape_rule says; - where left out).%s\n\n",
        e->split == AC_SPLIT_VAL ? "Validation" : "Test", ac_split_kind_name(e->split),
        (long long)e->windows, one ? "RMSE in the channel's own units; " : "",
        info->test_hidden ? " The test split stays hidden (trained with --no-test): score it "
                            "with `attncast eval best.h5`."
                          : "");
    ADD("| forecaster | MSE | MAE |%s WAPE %% | sMAPE %% | MAPE %% | MASE |\n| --- | --- | --- |%s "
        "--- | --- | --- | --- |\n",
        one ? " RMSE |" : "", one ? " --- |" : "");
    for (int k = -1; k < AC_BASELINE_COUNT; k++) {
        const ac_metrics *m = k < 0 ? &e->model : &e->baseline[k];
        char cells[5][32];
        md_number(cells[0], m->rmse, 5, true);
        md_number(cells[1], m->wape, 3, false);
        md_number(cells[2], m->smape, 3, false);
        md_number(cells[3], m->mape, 3, false);
        md_number(cells[4], m->mase, 4, false);
        ADD("| %s | %.4f | %.4f |", k < 0 ? "**model**" : ac_baseline_name((ac_baseline_kind)k),
            m->mse, m->mae);
        if (one) ADD(" %s |", cells[0]);
        ADD(" %s | %s | %s | %s |\n", cells[1], cells[2], cells[3], cells[4]);
    }
    if (!one && e->model_channels) {
        ADD("\n### Per channel\n\nRMSE and MAE in the channel's own units.\n\n| channel | MSE | "
            "naive MSE | RMSE | naive RMSE | MAE | WAPE %% | sMAPE %% | MAPE %% | MASE | naive "
            "MASE |\n|%s\n",
            " --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
        for (int c = 0; c < e->channels; c++) {
            const ac_metrics *m = &e->model_channels[c];
            const ac_metrics *nv = &e->baseline_channels[AC_BASELINE_NAIVE][c];
            const double v[] = {m->mse,  nv->mse,  m->rmse, nv->rmse, m->mae_orig,
                                m->wape, m->smape, m->mape, m->mase,  nv->mase};
            const int digits[] = {4, 4, 5, 5, 5, 3, 3, 3, 4, 4};
            ADD("| %s |", info->channel_names && c < info->channels ? info->channel_names[c] : "?");
            for (int i = 0; i < 10; i++) {
                char cell[32];
                md_number(cell, v[i], digits[i], i >= 2 && i <= 4);
                ADD(" %s |", cell);
            }
            ADD("\n");
        }
    }
    if (e->interval_count > 0 || e->quantile_sets > 0) {
        ADD("\n## Prediction intervals\n\nCoverage is the share of the %s points that fall "
            "inside an interval (a well-calibrated 80%% interval covers about 80%%); mean width "
            "and Winkler score (the width plus 2 / (1 - level) times the distance of a point "
            "outside) on z-scored values, lower is better.\n\n",
            ac_split_kind_name(e->split));
        if (e->interval_count > 0)
            ADD("| interval | coverage %% | mean width | Winkler |\n| --- | --- | --- | --- |\n");
        for (int i = 0; i < e->interval_count; i++) {
            const ac_eval_interval *r = &e->intervals[i];
            char pct[32], cells[3][32];
            ac_level_percent(r->def.level, pct, sizeof pct);
            md_number(cells[0], 100.0 * r->pooled.coverage, 2, false);
            md_number(cells[1], r->pooled.width_scaled, 4, false);
            md_number(cells[2], r->pooled.winkler_scaled, 4, false);
            ADD("| %s %s%% | %s | %s | %s |\n", ac_interval_method_name(r->def.method), pct,
                cells[0], cells[1], cells[2]);
        }
        for (int i = 0; i < e->quantile_sets; i++) {
            const ac_eval_quantiles *q = &e->quantiles[i];
            char levels[AC_EVAL_LEVELS_MAX * 16] = "", wql[2][32];
            for (int k = 0, used = 0; k < q->count; k++)
                used += snprintf(levels + used, sizeof levels - (size_t)used, "%s%g", k ? ", " : "",
                                 q->levels[k]);
            md_number(wql[0], q->model.wql, 4, false);
            md_number(wql[1], q->baseline.wql, 4, false);
            ADD("\nWeighted quantile loss (wQL) of the %s quantiles at levels %s: %s",
                q->method == AC_INTERVAL_QUANTILE ? "model's" : "conformal intervals'", levels,
                wql[0]);
            if (q->has_baseline)
                ADD("; the seasonal-naive quantile baseline (the seasonal-naive forecast plus the "
                    "empirical quantiles of its errors on the validation windows): %s",
                    wql[1]);
            ADD(".\n");
        }
    }
    ADD("\n## Training\n\n%d epoch(s)%s, best epoch %d (validation loss %.5g); %.1f s in all, "
        "%.0f training windows/s on %d thread(s).\n\n",
        info->epochs_run, info->stopped_early ? " (stopped early)" : "", info->best_epoch,
        info->best_val_loss, info->train_seconds, info->windows_per_s, info->threads);
    char verdict[512];
    if (ac_run_val_verdict(cfg, info, verdict, sizeof verdict))
        ADD("**Note:** %s.\n\n", verdict);
    else if (info->val_vs_naive.measured)
        ADD("On the validation split the model (MSE %.4g) beats the naive repeat of the last "
            "value (MSE %.4g).\n\n",
            info->val_mse, info->val_vs_naive.naive_mse);
    for (size_t i = 0; i < sizeof PICTURES / sizeof *PICTURES; i++)
        if (file_exists(run_dir, PICTURES[i].file)) ADD("%s\n\n", PICTURES[i].link);
    ADD("## Config\n\n```ini\n%s```\n", ini);
#undef ADD
    free(ini);
    if (n >= cap) {
        free(out);
        return NULL;
    }
    return out;
}

/* Whether the line at p (up to its newline) is one of the picture links. */
static bool is_picture_line(const char *p, size_t len) {
    for (size_t i = 0; i < sizeof PICTURES / sizeof *PICTURES; i++)
        if (len == strlen(PICTURES[i].link) && !strncmp(p, PICTURES[i].link, len)) return true;
    return false;
}

/* old without its picture links (and the blank line after each), with a link to every picture
 * now in run_dir just before the config heading (or at the end); malloc'd. */
static char *with_pictures(const char *old, const char *run_dir) {
    size_t cap = strlen(old) + 512, n = 0;
    char *out = malloc(cap);
    if (!out) return NULL;
    bool placed = false;
    for (const char *p = old; *p;) {
        size_t len = strcspn(p, "\n"), next = len + (p[len] == '\n');
        if (is_picture_line(p, len)) {
            p += next;
            if (*p == '\n') p++;
            continue;
        }
        if (!placed && !strncmp(p, CONFIG_HEADING, strlen(CONFIG_HEADING))) {
            for (size_t i = 0; i < sizeof PICTURES / sizeof *PICTURES; i++)
                if (file_exists(run_dir, PICTURES[i].file))
                    n += (size_t)snprintf(out + n, cap - n, "%s\n\n", PICTURES[i].link);
            placed = true;
        }
        memcpy(out + n, p, next);
        n += next;
        p += next;
    }
    for (size_t i = 0; !placed && i < sizeof PICTURES / sizeof *PICTURES; i++)
        if (file_exists(run_dir, PICTURES[i].file))
            n += (size_t)snprintf(out + n, cap - n, "\n%s\n", PICTURES[i].link);
    out[n] = '\0';
    return out;
}

ac_status ac_run_report_embed_pictures(const char *run_dir, bool *updated, ac_error *err) {
    *updated = false;
    char path[AC_CONFIG_TEXT + 32];
    snprintf(path, sizeof path, "%s/report.md", run_dir);
    FILE *f = fopen(path, "rb");
    if (!f && errno == ENOENT) return AC_OK; /* nothing to update */
    if (!f) return ac_error_set(err, AC_ERR_IO, "%s: cannot read: %s", path, strerror(errno));
    char *old = NULL;
    long size = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (size >= 0 && fseek(f, 0, SEEK_SET) == 0 && (old = malloc((size_t)size + 1)) &&
        fread(old, 1, (size_t)size, f) == (size_t)size)
        old[size] = '\0';
    else {
        free(old);
        old = NULL;
    }
    fclose(f);
    if (!old) return ac_error_set(err, AC_ERR_IO, "%s: cannot read", path);
    char *text = with_pictures(old, run_dir);
    ac_status status = AC_OK;
    if (!text)
        status = ac_error_set(err, AC_ERR_NOMEM, "%s: out of memory", path);
    else if (strcmp(text, old) != 0)
        status = ac_write_file_atomic(path, text, strlen(text), err);
    *updated = status == AC_OK;
    free(text);
    free(old);
    return status;
}
