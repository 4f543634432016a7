/* attncast.h - the whole public API of libattncast in one include.
 *
 * attncast trains attention-based time-series forecasters on the CPU. Modules:
 *   engine      error.h (status codes, one-line messages), rng.h (seeded PCG32), threads.h
 *               (OpenBLAS and OpenMP thread count), clock.h, arena.h (per-step activations),
 *               tensor.h, autograd.h (context, tape, backward), ops.h (differentiable ops)
 *   model       forecaster.h (the MODEL.md forecaster), optim.h (optimizers, clipping,
 *               learning-rate schedules)
 *   data        csv.h (CSV tables), sha256.h, dataset.h (cards, fetching by name),
 *               source.h (a config's [data] to a table), windows.h (split, scaler, windows)
 *   experiments config.h (INI configs), trainer.h (training, evaluation), metrics.h (metrics,
 *               baselines), report.h (the run folder), interrupt.h (SIGINT/SIGTERM as a
 *               stop request), parallel.h (MPI ranks for data-parallel training),
 *               batch_slices.h (a batch in slices, one per thread)
 */
#ifndef ATTNCAST_ATTNCAST_H
#define ATTNCAST_ATTNCAST_H

#include "attncast/arena.h"
#include "attncast/autograd.h"
#include "attncast/clock.h"
#include "attncast/config.h"
#include "attncast/csv.h"
#include "attncast/dataset.h"
#include "attncast/error.h"
#include "attncast/forecaster.h"
#include "attncast/interrupt.h"
#include "attncast/metrics.h"
#include "attncast/ops.h"
#include "attncast/optim.h"
#include "attncast/parallel.h"
#include "attncast/report.h"
#include "attncast/rng.h"
#include "attncast/sha256.h"
#include "attncast/source.h"
#include "attncast/tensor.h"
#include "attncast/thread_tuner.h"
#include "attncast/threads.h"
#include "attncast/batch_slices.h"
#include "attncast/trainer.h"
#include "attncast/windows.h"

/* The library version, "MAJOR.MINOR.PATCH". */
const char *ac_version(void);

#endif
