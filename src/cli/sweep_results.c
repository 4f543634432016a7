/* sweep_results.c - the results of `attncast sweep`: each run's metrics.json read back with
 * cJSON, results.csv (one row per run in grid order, written atomically) and the table printed
 * at the end, ranked by validation MSE.
 *
 * The ranking: runs by the MSE of their best weights on the validation split (scaled values,
 * metrics.json "val"."mse"), whatever loss each trained with, so a sweep over train.loss
 * compares like with like; runs whose metrics.json lacks it (written by an older attncast) after
 * those, by their own validation loss; failed runs last. The test split plays no part: the runs
 * train with --no-test, so every number here is of the validation split (val_mse and val_mae from
 * metrics.json "val", naive_mse from "val_vs_naive", RMSE, sMAPE and MASE from "model" when its
 * "split" is "val"; a run folder an older attncast finished, whose "model" is of the test split,
 * leaves those three blank rather than show test numbers). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "app/report.h"
#include "cli/cli.h"
#include "cli/sweep.h"

#define METRICS_MAX (256 << 20) /* a metrics.json is a few kB, more with many channels */

static double number_at(const cJSON *obj, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

int sweep_read_metrics(sweep_run *run) {
    char path[4096];
    snprintf(path, sizeof path, "%s/metrics.json", run->dir);
    FILE *f = fopen(path, "rb");
    long size = f && fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    char *text = size >= 0 && size < METRICS_MAX && fseek(f, 0, SEEK_SET) == 0
                     ? malloc((size_t)size + 1)
                     : NULL;
    size_t n = text ? fread(text, 1, (size_t)size, f) : 0;
    if (f) fclose(f);
    cJSON *root = NULL;
    if (text) {
        text[n] = '\0';
        root = cJSON_Parse(text);
    }
    free(text);
    if (!root) {
        snprintf(run->error, sizeof run->error, "%.400s: %s", path,
                 f ? "not a metrics.json (cannot parse it)" : "cannot read it");
        return -1;
    }
    const cJSON *split = cJSON_GetObjectItemCaseSensitive(root, "split");
    bool of_val = cJSON_IsString(split) && !strcmp(split->valuestring, "val");
    /* the model's metrics on the validation split, never the test split's */
    const cJSON *model = of_val ? cJSON_GetObjectItemCaseSensitive(root, "model") : NULL;
    const cJSON *val = cJSON_GetObjectItemCaseSensitive(root, "val");
    double best_epoch = number_at(root, "best_epoch");
    run->m = (sweep_metrics){
        .val_loss = number_at(root, "best_val_loss"),
        .val_mse = number_at(val, "mse"),
        .mae = number_at(val, "mae"),
        .rmse = number_at(model, "rmse"),
        .smape = number_at(model, "smape"),
        .mase = number_at(model, "mase"),
        .naive_mse = number_at(cJSON_GetObjectItemCaseSensitive(root, "val_vs_naive"), "naive_mse"),
        .train_seconds = number_at(root, "train_seconds"),
        .windows_per_s = number_at(root, "windows_per_s"),
        .best_epoch = isfinite(best_epoch) ? (int)best_epoch : 0};
    cJSON_Delete(root);
    return 0;
}

/* ---- results.csv ---- */

typedef struct text_buf {
    char *data;
    size_t len, cap;
    bool failed;
} text_buf;

static void put(text_buf *b, const char *s) {
    size_t n = strlen(s);
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (b->len + n + 1 > cap) cap *= 2;
        char *grown = realloc(b->data, cap);
        if (!grown) {
            b->failed = true;
            return;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n + 1);
    b->len += n;
}

/* A CSV field, quoted (with doubled quotes) when it holds a comma, quote or line break. */
static void put_field(text_buf *b, const char *s, bool last) {
    if (strpbrk(s, ",\"\r\n")) {
        put(b, "\"");
        for (const char *c = s; *c; c++) {
            char one[2] = {*c, '\0'};
            put(b, *c == '"' ? "\"\"" : one);
        }
        put(b, "\"");
    } else {
        put(b, s);
    }
    put(b, last ? "\n" : ",");
}

static void put_number(text_buf *b, double v, bool ok) {
    char num[40] = "";
    if (ok && isfinite(v)) snprintf(num, sizeof num, "%.9g", v);
    put_field(b, num, false);
}

/* Writes the buffer to SWEEP_DIR/NAME atomically and frees it; 0, or prints the error. */
static int write_text(const char *sweep_dir, const char *name, text_buf *b) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", sweep_dir, name);
    ac_error err;
    int rc = 0;
    if (b->failed) {
        ac_cli_error("%s: out of memory", path);
        rc = -1;
    } else if (ac_write_file_atomic(path, b->data, b->len, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        rc = -1;
    }
    free(b->data);
    return rc;
}

int sweep_write_results(const char *sweep_dir, const sweep_key *keys, int n_keys,
                        const sweep_run *runs, int n_runs) {
    text_buf b = {0};
    for (int k = 0; k < n_keys; k++) put_field(&b, keys[k].key, false);
    put(&b, "run,status,val_loss,val_mse,val_mae,val_rmse,val_smape,val_mase,val_naive_mse,"
            "best_epoch,train_seconds,windows_per_s,error\n");
    for (int i = 0; i < n_runs; i++) {
        const sweep_run *r = &runs[i];
        bool ok = r->status == RUN_OK;
        for (int k = 0; k < n_keys; k++) put_field(&b, keys[k].values[r->choice[k]], false);
        put_field(&b, r->name, false);
        put_field(&b, ok ? "ok" : "failed", false);
        const double values[] = {
            r->m.val_loss,      r->m.val_mse,      r->m.mae,       r->m.rmse,
            r->m.smape,         r->m.mase,         r->m.naive_mse, (double)r->m.best_epoch,
            r->m.train_seconds, r->m.windows_per_s};
        for (size_t v = 0; v < sizeof values / sizeof values[0]; v++) put_number(&b, values[v], ok);
        put_field(&b, ok ? "" : r->error, true);
    }
    return write_text(sweep_dir, "results.csv", &b);
}

/* ---- the ranked table ---- */

/* Compares two values, a missing (not finite) one after the numbers; 0 when both are missing. */
static int compare_present(double a, double b) {
    int na = !isfinite(a), nb = !isfinite(b);
    if (na || nb) return na - nb;
    return (a > b) - (a < b);
}

/* ok runs by validation MSE, then those without one by their validation loss, then failed runs;
 * ties keep grid order. */
static int rank_order(const sweep_run *a, const sweep_run *b) {
    int fa = a->status != RUN_OK, fb = b->status != RUN_OK;
    if (fa != fb) return fa - fb;
    if (fa) return 0;
    int by_mse = compare_present(a->m.val_mse, b->m.val_mse);
    if (by_mse != 0 || isfinite(a->m.val_mse)) return by_mse;
    return compare_present(a->m.val_loss, b->m.val_loss);
}

static void format_number(char *out, size_t n, double v, int decimals) {
    if (isfinite(v))
        snprintf(out, n, "%.*f", decimals, v);
    else
        snprintf(out, n, "-");
}

/* The runs' indices in rank order (malloc'd), or NULL when memory is short. */
static int *ranked(const sweep_run *runs, int n_runs) {
    int *order = malloc((size_t)(n_runs > 0 ? n_runs : 1) * sizeof *order);
    if (!order) return NULL;
    /* insertion sort: stable, and a sweep is at most a few thousand runs */
    for (int i = 0; i < n_runs; i++) {
        int j = i;
        while (j > 0 && rank_order(&runs[order[j - 1]], &runs[i]) > 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    return order;
}

int sweep_write_report(const char *sweep_dir, const char *config, const sweep_key *keys, int n_keys,
                       const sweep_run *runs, int n_runs) {
    int *order = ranked(runs, n_runs);
    text_buf b = {0};
    char line[4096];
    if (!order) b.failed = true;
    snprintf(line, sizeof line,
             "# Sweep report\n\n%d run(s) of `%s`, ranked by the validation MSE of their best "
             "weights, whatever loss they trained with. Every number is of the validation split: "
             "the runs trained with `--no-test`, so the test split stays hidden until you score "
             "the chosen run (`attncast eval RUN/best.h5`). MSE and MAE on z-scored values.\n\n"
             "| rank | run |",
             n_runs, config);
    put(&b, line);
    for (int k = 0; k < n_keys; k++) {
        snprintf(line, sizeof line, " %s |", keys[k].key);
        put(&b, line);
    }
    put(&b, " val MSE | val loss | val MAE | sMAPE % | MASE | naive MSE | best epoch | seconds "
            "|\n|");
    for (int k = 0; k < n_keys + 10; k++) put(&b, " --- |");
    put(&b, "\n");
    for (int i = 0; order && i < n_runs; i++) {
        const sweep_run *r = &runs[order[i]];
        snprintf(line, sizeof line, "| %d | [%s](%s/report.md) |", i + 1, r->name, r->name);
        put(&b, line);
        for (int k = 0; k < n_keys; k++) {
            snprintf(line, sizeof line, " %s |", keys[k].values[r->choice[k]]);
            put(&b, line);
        }
        if (r->status != RUN_OK) {
            snprintf(line, sizeof line, " failed: %s | | | | | | | |\n", r->error);
        } else {
            char val_mse[32] = "-", cells[4][32];
            if (isfinite(r->m.val_mse)) snprintf(val_mse, sizeof val_mse, "%.5g", r->m.val_mse);
            format_number(cells[0], sizeof cells[0], r->m.mae, 4);
            format_number(cells[1], sizeof cells[1], r->m.smape, 3);
            format_number(cells[2], sizeof cells[2], r->m.mase, 4);
            format_number(cells[3], sizeof cells[3], r->m.naive_mse, 4);
            snprintf(line, sizeof line, " %s | %.5g | %s | %s | %s | %s | %d | %.1f |\n", val_mse,
                     r->m.val_loss, cells[0], cells[1], cells[2], cells[3], r->m.best_epoch,
                     r->m.train_seconds);
        }
        put(&b, line);
    }
    if (order && n_runs > 0 && runs[order[0]].status == RUN_OK) {
        const char *best = runs[order[0]].name;
        snprintf(line, sizeof line,
                 "\n## The best run: %s\n\n![learning curves](%s/learning_curves.png)\n\n"
                 "Its test metrics, once it is chosen (run from the sweep folder): `attncast eval "
                 "%s/best.h5`.\n",
                 best, best, best);
        put(&b, line);
    }
    free(order);
    return write_text(sweep_dir, "report.md", &b);
}

void sweep_print_table(const sweep_run *runs, int n_runs) {
    int *order = ranked(runs, n_runs);
    if (!order) return;
    int width = 3;
    for (int i = 0; i < n_runs; i++) {
        int len = (int)strlen(runs[i].name);
        if (len > width) width = len;
    }
    printf("%-*s  %-6s %10s %10s %10s %8s %8s %10s %5s %8s\n", width, "run", "status", "val_mse",
           "val_loss", "val_mae", "sMAPE%", "MASE", "naive_mse", "best", "seconds");
    for (int i = 0; i < n_runs; i++) {
        const sweep_run *r = &runs[order[i]];
        if (r->status != RUN_OK) {
            printf("%-*s  %-6s %s\n", width, r->name, "failed", r->error);
            continue;
        }
        char cells[7][32];
        const double v[] = {r->m.val_mse, r->m.val_loss,  r->m.mae,          r->m.smape,
                            r->m.mase,    r->m.naive_mse, r->m.train_seconds};
        const int decimals[] = {4, 4, 4, 3, 4, 4, 1};
        for (int c = 0; c < 7; c++) format_number(cells[c], sizeof cells[c], v[c], decimals[c]);
        printf("%-*s  %-6s %10s %10s %10s %8s %8s %10s %5d %8s\n", width, r->name, "ok", cells[0],
               cells[1], cells[2], cells[3], cells[4], cells[5], r->m.best_epoch, cells[6]);
    }
    free(order);
    fflush(stdout);
}
