/* attncast.h - the whole public API of libattncast in one include.
 *
 * attncast trains attention-based time-series forecasters on the CPU. libattncast is the
 * embeddable core: it spawns no process, installs no signal handler and needs no JSON library.
 * Modules:
 *   engine      error.h (status codes, one-line messages), rng.h (seeded PCG32), threads.h
 *               (OpenBLAS and OpenMP thread count), arena.h (per-step activations), tensor.h,
 *               autograd.h (context, tape, backward), ops.h (differentiable ops), gemm.h (the
 *               matrix product: OpenBLAS or the own kernels)
 *   model       forecaster.h (the MODEL.md forecaster), optim.h (optimizers, clipping,
 *               learning-rate schedules), explain.h (what a forecast looked at)
 *   data        csv.h (CSV tables), calendar.h (dates), windows.h (split, scaler, windows)
 *   training    config.h (INI configs), trainer.h (training with ac_train_options, evaluation),
 *               metrics.h (metrics, baselines), intervals.h (conformal prediction intervals),
 *               parallel.h (MPI ranks for data-parallel training)
 *   saved models checkpoint.h (HDF5 checkpoints), embed.h (a saved forecaster in a C program)
 * The run folder (report, pictures), dataset download, sweeps and signal handling belong to the
 * command-line program (src/app, src/cli), not to this library.
 */
#ifndef ATTNCAST_ATTNCAST_H
#define ATTNCAST_ATTNCAST_H

#include "attncast/arena.h"
#include "attncast/autograd.h"
#include "attncast/calendar.h"
#include "attncast/checkpoint.h"
#include "attncast/config.h"
#include "attncast/csv.h"
#include "attncast/embed.h"
#include "attncast/error.h"
#include "attncast/explain.h"
#include "attncast/forecaster.h"
#include "attncast/gemm.h"
#include "attncast/intervals.h"
#include "attncast/metrics.h"
#include "attncast/ops.h"
#include "attncast/optim.h"
#include "attncast/parallel.h"
#include "attncast/rng.h"
#include "attncast/tensor.h"
#include "attncast/threads.h"
#include "attncast/trainer.h"
#include "attncast/windows.h"

/* The library version, "MAJOR.MINOR.PATCH". */
const char *ac_version(void);

#endif
