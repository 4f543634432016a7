/* metrics_table.c - the table of test metrics that `train` and `eval` print. */
#include <stdio.h>

#include "attncast/trainer.h"
#include "cli/cli.h"

void ac_cli_print_metrics(const ac_eval_result *e, const ac_series *s) {
    printf("\n%s split: %lld windows x %d steps x %d channels (MSE, MAE on scaled values; the "
           "rest on the original scale)\n",
           ac_split_kind_name(e->split), (long long)e->windows, s->horizon, s->channels);
    printf("%-16s %10s %10s %12s %9s %9s %8s\n", "", "MSE", "MAE", "RMSE", "MAPE%", "sMAPE%",
           "MASE");
    const ac_metrics *rows[1 + AC_BASELINE_COUNT] = {&e->model};
    const char *names[1 + AC_BASELINE_COUNT] = {"model"};
    for (int k = 0; k < AC_BASELINE_COUNT; k++) {
        rows[k + 1] = &e->baseline[k];
        names[k + 1] = ac_baseline_name((ac_baseline_kind)k);
    }
    for (int i = 0; i <= AC_BASELINE_COUNT; i++) {
        const ac_metrics *m = rows[i];
        printf("%-16s %10.4f %10.4f %12.5g %9.3f %9.3f %8.4f\n", names[i], m->mse, m->mae, m->rmse,
               m->mape, m->smape, m->mase);
    }
    double ratio = e->model.mse / e->baseline[AC_BASELINE_NAIVE].mse;
    printf("model MSE is %.3f x the naive baseline's (%s)\n", ratio,
           ratio < 1.0 ? "better" : "not better");
}
