/* explain_input.c - the window and future covariates `explain` reads for a checkpoint with
 * covariates (see explain_input.h). */
#include "cli/explain_input.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "attncast/config.h"
#include "cli/cli.h"
#include "cli/window_input.h"

int ac_cli_read_covariate_window(const ac_checkpoint *ck, const char *input, int at,
                                 ac_table **table, int *end_out, float *window, float *future) {
    if (ac_cli_load_checkpoint_csv(ck, ck->columns, input, table) != 0) return -1;
    return ac_cli_table_window(ck, *table, input, at, end_out, window, future);
}

int ac_cli_table_window(const ac_checkpoint *ck, ac_table *t, const char *input, int at,
                        int *end_out, float *window, float *future) {
    const ac_model_spec *s = ac_forecaster_spec(ck->model);
    int L = s->lookback, H = s->horizon, C = s->channels, Kp = s->past_covariates;
    int Kf = s->future_covariates, cols = ac_model_spec_columns(s);
    ac_error err;
    ac_config_roles roles;
    ac_config_column_roles(&ck->config, &roles);
    roles.roles.columns_at = NULL; /* the columns loaded are the checkpoint's, not data.columns' */
    if (cols > C && ac_table_arrange(t, &roles.roles, &err) != AC_OK) {
        ac_cli_error("%s: %s", input, err.msg);
        return -1;
    }
    if (cols > C && (t->cols != cols || t->targets != C || t->past != Kp ||
                     t->future + t->calendar_columns != Kf)) {
        ac_cli_error("%s: arranged as %s's config says, its columns are %d targets, %d past and "
                     "%d future covariates; the model reads %d, %d and %d",
                     input, ck->path, t->targets, t->past, t->future + t->calendar_columns, C, Kp,
                     Kf);
        return -1;
    }
    int end = at ? at : t->rows - (Kf > 0 ? H : 0);
    if (end > t->rows) {
        ac_cli_error("%s: --at %d is past the last data row (%d)", input, end, t->rows);
        return -1;
    }
    if (Kf > 0 && !at && end < L) {
        ac_cli_error("%s: the model needs %d rows before the forecast and %d after it (its future "
                     "covariates), the input has %d",
                     input, L, H, t->rows);
        return -1;
    }
    if (end < L) {
        ac_cli_error("%s: the model needs %d rows before the forecast, the input has %d%s", input,
                     L, end, at ? " up to --at" : "");
        return -1;
    }
    if (Kf > 0 && end + H > t->rows) {
        ac_cli_error("%s: the model reads %d future covariate columns over the %d-step horizon; "
                     "data row %d has %d rows after it (explain takes them from the data: "
                     "--at %d or earlier)",
                     input, Kf, H, end, t->rows - end, t->rows - H);
        return -1;
    }
    if (Kf > 0 && !at)
        fprintf(stderr,
                "attncast: note: %s: the model reads future covariates over the horizon, so "
                "explain takes the last window with %d rows after it (ending at data row %d; "
                "--at chooses another)\n",
                input, H, end);
    for (int r = 0; r < L; r++)
        for (int c = 0; c < cols; c++)
            window[(size_t)r * cols + c] = (float)t->values[(size_t)(end - L + r) * cols + c];
    for (int h = 0; h < H && Kf > 0; h++)
        for (int k = 0; k < Kf; k++)
            future[(size_t)h * Kf + k] = (float)t->values[(size_t)(end + h) * cols + C + Kp + k];
    *end_out = end;
    return 0;
}
