/* embed.h - using a saved forecaster from another C program.
 *
 *     ac_error err;
 *     ac_model *m = ac_model_load("runs/default/best.h5", &err);   // NULL: err.msg says why
 *     int L = ac_model_lookback(m), H = ac_model_horizon(m), C = ac_model_channels(m);
 *     float window[L * C], forecast[H * C];   // row-major, oldest row first, original units
 *     ... fill window with the last L rows ...
 *     if (ac_model_forecast(m, window, forecast, &err) != AC_OK) ...
 *     ac_model_free(m);
 *
 * A loaded model is read-only: any number of threads may call ac_model_forecast on it at once
 * (each call takes its own scratch context from a small pool). Inputs and outputs are in the
 * data's original units; scaling with the checkpoint's scaler happens inside.
 */
#ifndef ATTNCAST_EMBED_H
#define ATTNCAST_EMBED_H

#include "attncast/checkpoint.h"
#include "attncast/error.h"

typedef struct ac_model ac_model;

/* Loads and checks a checkpoint (see checkpoint.h for what is verified). */
ac_model *ac_model_load(const char *path, ac_error *err);
void ac_model_free(ac_model *model);

int ac_model_lookback(const ac_model *model); /* L: rows the window must have */
int ac_model_horizon(const ac_model *model);  /* H: rows the forecast has */
int ac_model_channels(const ac_model *model); /* C: values per row */
const char *ac_model_channel_name(const ac_model *model, int channel);

/* window: [L, C], out: [H, C], both row-major in original units; for a quantile model
 * (model.quantiles) out is the median of its sorted levels. A non-finite value in the window is
 * an AC_ERR_INVALID naming its row and channel. Thread-safe. */
ac_status ac_model_forecast(ac_model *model, const float *window, float *out, ac_error *err);

/* The checkpoint behind the model (config, scaler, training state), for tools. */
const ac_checkpoint *ac_model_checkpoint(const ac_model *model);

#endif
