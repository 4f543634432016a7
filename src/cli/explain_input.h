/* explain_input.h - the window `explain` reads for a checkpoint with covariates: every column of
 * the input steps and the future covariates over the horizon, taken from the rows of the data
 * after the window. */
#ifndef ATTNCAST_CLI_EXPLAIN_INPUT_H
#define ATTNCAST_CLI_EXPLAIN_INPUT_H

#include "attncast/checkpoint.h"
#include "attncast/csv.h"

/* Loads the checkpoint's columns by name (its targets and real covariates) from input, dates
 * checked as ac_cli_read_window does, arranges them as the checkpoint's config says (the
 * calendar columns computed from the dates), and copies the L rows ending at data row `at`
 * (1-based) into window [L, C + Kp + Kf] and, when the model has future covariates, their values
 * in the H rows after it into future [H, Kf]. at = 0: the last row, or with future covariates
 * the last row that has H rows after it (a note on stderr says so). A window whose horizon is
 * not in the data is refused: explain reads the future covariates from the data alone. Prints
 * a one-line error and returns -1 on failure (the table, if loaded, is still handed out for
 * freeing); *end is the window's last data row. */
int ac_cli_read_covariate_window(const ac_checkpoint *ck, const char *input, int at,
                                 ac_table **table, int *end, float *window, float *future);
/* The same for a table already loaded with the checkpoint's columns (a series of a long-format
 * input, say), named input in the messages: arranged in place (a model with covariates), then
 * the window and future values copied. A model without covariates reads its L rows ending at
 * `at` (0: the last row). 0, or -1 after a one-line error. */
int ac_cli_table_window(const ac_checkpoint *ck, ac_table *table, const char *input, int at,
                        int *end, float *window, float *future);

#endif
