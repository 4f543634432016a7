/* checkpoint_data.h - what the verbs that read a saved checkpoint share: reading it, and (eval,
 * calibrate, backtest) the config that reads the data it is scored or calibrated on, finding the
 * checkpoint's own CSV when it moved, and that data opened as the checkpoint's series. */
#ifndef ATTNCAST_CLI_CHECKPOINT_DATA_H
#define ATTNCAST_CLI_CHECKPOINT_DATA_H

#include <stdbool.h>

#include "app/source.h"
#include "attncast/checkpoint.h"
#include "attncast/config.h"
#include "attncast/windows.h"

/* The checkpoint at path (free with ac_ckpt_free), or NULL after printing its one-line error.
 * Its linear weights come packed for forecasting (ac_forecaster_pack_weights). */
ac_checkpoint *ac_cli_checkpoint_read(const char *path);

/* The data asked for on the command line; NULL csv and dataset: the checkpoint's own. */
typedef struct ac_cli_data_choice {
    const char *checkpoint; /* the checkpoint's path (its CSV is looked for from its folder) */
    const char *csv;        /* another CSV holding the checkpoint's channels, or NULL */
    const char *dataset;    /* another dataset card's name, or NULL */
    bool split_given;       /* a split was asked for (else another CSV is read whole) */
    const char *id;         /* long format: only the series of this id (NULL: every one) */
} ac_cli_data_choice;

/* The checkpoint's config, pointed at the data chosen, always selecting the checkpoint's columns
 * by name (its channels and real covariates, so another CSV may hold more columns, in any order;
 * the config's role keys arrange them). The checkpoint's own CSV is looked
 * for as stored, then from the checkpoint's folder and each folder above it, then through the
 * dataset card with its file name (a note on stderr says where it was found). *whole: every
 * window of an unsplit file (another CSV, no split asked for). 0, or -1 after printing a one-line
 * error that begins with verb. */
int ac_cli_checkpoint_data(const ac_checkpoint *ck, const char *verb,
                           const ac_cli_data_choice *choice, ac_config *cfg, bool *whole);

/* The data chosen for a checkpoint, open and windowed. */
typedef struct ac_cli_checkpoint_input {
    ac_config cfg;      /* the checkpoint's config, pointed at the data (ac_cli_checkpoint_data) */
    bool whole;         /* the series is every window of an unsplit file, not cfg.data.split's */
    ac_data_source src; /* the data, read */
    ac_series series;   /* a wide checkpoint's: its windows, scaled with the checkpoint's scaler */
    /* A long-format checkpoint's (series_count > 0): the data's series (or only choice->id's),
     * each scaled with the checkpoint's scaler of its id; series is then empty. Empty for a wide
     * checkpoint. */
    ac_panel panel;
} ac_cli_checkpoint_input;

/* ac_cli_checkpoint_data, then the thread count of the checkpoint's config, the data source
 * opened (a note on stderr about its dates, if any) and its series built with the checkpoint's
 * scaler. A long-format checkpoint's data is read in long format and built as a panel, each
 * series with the scaler of its id (a series whose id the checkpoint lacks is an error naming
 * it; ids of the checkpoint missing from the data are left out); choice->id keeps that series
 * alone (ac_cli_checkpoint_series checks it). A choice->id for a wide checkpoint is an error. 0, or
 * -1 after printing a one-line error; either way in is to be closed with
 * ac_cli_checkpoint_input_close. */
int ac_cli_checkpoint_input_open(const ac_checkpoint *ck, const char *verb,
                                 const ac_cli_data_choice *choice, ac_cli_checkpoint_input *in);
void ac_cli_checkpoint_input_close(ac_cli_checkpoint_input *in);

/* The index of series id among a long-format checkpoint's ids (ck->series_ids), or -1 after a
 * one-line error beginning with verb: --id on a wide checkpoint, or an id it does not have (with
 * how many it has, the first few, and the nearest as "did you mean"). */
int ac_cli_checkpoint_series(const ac_checkpoint *ck, const char *verb, const char *id);

#endif
