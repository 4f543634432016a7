/* checkpoint_data.h - what `eval`, `calibrate` and `backtest` share: the config that reads the data a saved
 * checkpoint is scored or calibrated on, finding the checkpoint's own CSV when it moved. */
#ifndef ATTNCAST_CLI_CHECKPOINT_DATA_H
#define ATTNCAST_CLI_CHECKPOINT_DATA_H

#include <stdbool.h>

#include "attncast/checkpoint.h"
#include "attncast/config.h"

/* The data asked for on the command line; NULL csv and dataset: the checkpoint's own. */
typedef struct ac_cli_data_choice {
    const char *checkpoint; /* the checkpoint's path (its CSV is looked for from its folder) */
    const char *csv;        /* another CSV holding the checkpoint's channels, or NULL */
    const char *dataset;    /* another dataset card's name, or NULL */
    bool split_given;       /* a split was asked for (else another CSV is read whole) */
} ac_cli_data_choice;

/* The checkpoint's config, pointed at the data chosen, always selecting the checkpoint's channels
 * by name (so another CSV may hold more columns, in any order). The checkpoint's own CSV is looked
 * for as stored, then from the checkpoint's folder and each folder above it, then through the
 * dataset card with its file name (a note on stderr says where it was found). *whole: every
 * window of an unsplit file (another CSV, no split asked for). 0, or -1 after printing a one-line
 * error that begins with verb. */
int ac_cli_checkpoint_data(const ac_checkpoint *ck, const char *verb,
                           const ac_cli_data_choice *choice, ac_config *cfg, bool *whole);

#endif
