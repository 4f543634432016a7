/* checkpoint_rewrite.c - ac_ckpt_rewrite: a loaded checkpoint written back whole, with a new
 * /calibration (attncast calibrate, and train's best.h5 once its intervals are calibrated).
 *
 * Everything ac_ckpt_read loaded goes back through ac_ckpt_write: the config, parameters and
 * scaler as they are, the optimizer state through an optimizer of the stored kind over the
 * loaded model's parameters (ac_ckpt_restore_optimizer fills it), the training state with its
 * history and best weights. So the file is replaced atomically, and a run resumed from it goes
 * on exactly as from the original.
 */
#include "attncast/checkpoint.h"

#include <stddef.h>

ac_status ac_ckpt_rewrite(const char *path, const ac_checkpoint *ck,
                          const ac_calibration *calibration, ac_error *err) {
    ac_optimizer *opt = NULL;
    if (ck->has_optimizer) {
        ac_optim_config oc = ac_optim_config_default(ck->optimizer_kind);
        opt = ac_optimizer_new(&oc, ac_forecaster_params(ck->model),
                               ac_forecaster_param_count(ck->model), err);
        if (!opt) return err->code;
        if (ac_ckpt_restore_optimizer(ck, opt, err) != AC_OK) {
            ac_optimizer_free(opt);
            return err->code;
        }
    }
    ac_ckpt_contents c = {
        .config = &ck->config,
        .model = ck->model,
        .scaler = &ck->scaler,
        .channel_names = ck->channel_names,
        .optimizer = opt,
        .lr = ck->lr,
        .train = ck->has_train ? &ck->train : NULL,
        .calibration = calibration           ? calibration
                       : ck->has_calibration ? &ck->calibration
                                             : NULL,
        .series_count = ck->series_count,
        .series_scalers = ck->series_scalers,
        .series_ids = ck->series_ids,
    };
    ac_status st = ac_ckpt_write(path, &c, err);
    ac_optimizer_free(opt);
    return st;
}
