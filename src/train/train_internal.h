/* train_internal.h - what the trainer and the evaluation share inside src/train. */
#ifndef ATTNCAST_TRAIN_INTERNAL_H
#define ATTNCAST_TRAIN_INTERNAL_H

#include "attncast/trainer.h"

/* The mean loss over every window of a split of `count` series (ac_split_loss of one series,
 * ac_panel_split_loss of a panel's): one sum over the windows in series order, then one
 * division. */
ac_status ac_series_loss(ac_forecaster *model, const ac_series *series, int count,
                         ac_split_kind split, ac_loss_kind loss, int batch_size, double *out,
                         ac_error *err);

#endif
