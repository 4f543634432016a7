/* fuzz_checkpoint.c - libFuzzer target for the checkpoint loader (src/ckpt/checkpoint_read.c,
 * checkpoint_seal.c, checkpoint_hdf5.c), built twice:
 *
 *   fuzz_checkpoint           the bytes are the file, as a user hands it to `attncast info`: a
 *                             sealed file must pass the SHA-256 seal in the user block before
 *                             HDF5 sees it, an unsealed one goes to HDF5 directly;
 *   fuzz_checkpoint_resealed  (FUZZ_RESEAL) the seal is recomputed over every input longer than
 *                             the user block, as a hostile writer would, so mutations reach
 *                             HDF5's parser and the reader's own checks behind a valid seal.
 *
 * Each input is loaded with ac_ckpt_read, the path of every verb. A rejected file must give one
 * line that begins with its path. An accepted one must be consistent (config passes
 * ac_config_check, scaler and names of every channel, history as long as the epochs) and usable:
 * loaded through the embedding API, it forecasts a window.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attncast/checkpoint.h"
#include "attncast/embed.h"
#include "fuzz_support.h"
#include "ckpt/checkpoint_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_usable(const ac_checkpoint *ck, const char *path) {
    ac_error err;
    ac_error_clear(&err);
    if (!ck->model) fz_fail("accepted without a model");
    if (ac_config_check(&ck->config, &err) != AC_OK) fz_fail("accepted a bad config: %s", err.msg);
    if (ck->channels < 1 || ck->scaler.channels != ck->channels)
        fz_fail("%d channels, a scaler of %d", ck->channels, ck->scaler.channels);
    for (int c = 0; c < ck->channels; c++)
        if (!ck->channel_names[c] || !(ck->scaler.std[c] > 0))
            fz_fail("channel %d: no name or a bad scale", c);
    if (ck->has_train && ck->train.history_len != ck->train.epoch)
        fz_fail("history of %d rows for %d epochs", ck->train.history_len, ck->train.epoch);

    ac_model *m = ac_model_load(path, &err);
    if (!m) fz_fail("ac_ckpt_read accepts the file but ac_model_load does not: %s", err.msg);
    int L = ac_model_lookback(m), H = ac_model_horizon(m), C = ac_model_channels(m);
    float *window = malloc((size_t)L * (size_t)C * sizeof *window);
    float *out = malloc((size_t)H * (size_t)C * sizeof *out);
    if (window && out) {
        for (int i = 0; i < L * C; i++) window[i] = (float)(i % 7) - 3.0f;
        ac_status st = ac_model_forecast(m, window, out, &err);
        if (st != AC_OK) fz_fail("a loaded model cannot forecast: %s", err.msg);
    }
    free(window);
    free(out);
    ac_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path;
#ifdef FUZZ_RESEAL
    if (size > CK_USERBLOCK) {
        unsigned char *image = malloc(size);
        if (!image) return 0;
        memcpy(image, data, size);
        ac_ck_seal_image(image, size);
        path = fz_write_input("input.h5", image, size);
        free(image);
    } else {
        path = fz_write_input("input.h5", data, size);
    }
#else
    path = fz_write_input("input.h5", data, size);
#endif
    const char *const prefixes[] = {path, NULL};
    ac_checkpoint *ck = NULL;
    ac_error err;
    ac_error_clear(&err);
    ac_status st = ac_ckpt_read(&ck, path, &err);
    if (st != AC_OK) {
        if (ck) fz_fail("a rejected load returned a checkpoint");
        fz_check_rejection(st, &err, prefixes);
        return 0;
    }
    check_usable(ck, path);
    ac_ckpt_free(ck);
    return 0;
}
