/* forecasts_csv.c - the one writer of forecasts CSV files (backtest's forecasts.csv, eval
 * --forecasts): a row per origin, step and channel, in the data's own units, written to a
 * temporary file and renamed over the target when complete (cli.h). */
#define _POSIX_C_SOURCE 200809L /* fileno, fsync */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attncast/csv.h"
#include "attncast/windows.h"
#include "cli/cli.h"

struct ac_cli_forecasts {
    FILE *f;
    const ac_table *table;
    int horizon;
    char path[4096], tmp[4200];
};

ac_cli_forecasts *ac_cli_forecasts_open(const char *path, const ac_table *table, int horizon) {
    ac_cli_forecasts *w = calloc(1, sizeof *w);
    if (!w) {
        ac_cli_error("%s: out of memory", path);
        return NULL;
    }
    if (snprintf(w->path, sizeof w->path, "%s", path) >= (int)sizeof w->path) {
        ac_cli_error("%.200s...: path too long", path);
        free(w);
        return NULL;
    }
    snprintf(w->tmp, sizeof w->tmp, "%s.tmp.%ld", path, (long)getpid());
    w->f = fopen(w->tmp, "w");
    if (!w->f) {
        ac_cli_error("%s: cannot write: %s", path, strerror(errno));
        free(w);
        return NULL;
    }
    w->table = table;
    w->horizon = horizon;
    fputs("origin,origin_date,step,date,channel,actual,forecast\n", w->f);
    return w;
}

void ac_cli_forecasts_add(ac_cli_forecasts *w, int t, const float *point, const ac_scaler *scaler) {
    const ac_table *tb = w->table;
    int C = tb->cols;
    const char *origin_date = tb->dates ? tb->dates[t] : "";
    for (int h = 0; h < w->horizon; h++) {
        int row = t + h;
        for (int c = 0; c < C; c++)
            fprintf(w->f, "%d,%s,%d,%s,%s,%.9g,%.9g\n", t, origin_date, h + 1,
                    tb->dates ? tb->dates[row] : "", tb->names[c], tb->values[(size_t)row * C + c],
                    ac_scaler_unscale(scaler, c, point[(size_t)h * C + c]));
    }
}

int ac_cli_forecasts_close(ac_cli_forecasts *w, bool commit) {
    bool ok = !ferror(w->f) && fflush(w->f) == 0 && fsync(fileno(w->f)) == 0;
    ok = fclose(w->f) == 0 && ok;
    int rc = 0;
    if (commit && ok && rename(w->tmp, w->path) == 0) {
        rc = 0;
    } else {
        if (commit) ac_cli_error("%s: cannot write: %s", w->path, strerror(errno));
        remove(w->tmp);
        rc = -1;
    }
    free(w);
    return rc;
}
