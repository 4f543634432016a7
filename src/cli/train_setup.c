/* train_setup.c - a new model and its trainer from a config, as train and each refit of
 * backtest make them (cli.h). */
#include "attncast/attncast.h"
#include "attncast/config.h"
#include "attncast/trainer.h"
#include "cli/cli.h"

ac_status ac_cli_model_and_trainer(const ac_config *cfg, const ac_series *series,
                                   ac_forecaster **model, ac_trainer **tr, ac_error *err) {
    ac_model_spec spec = ac_config_model_spec(cfg, series->channels);
    ac_rng init_rng;
    ac_rng_seed(&init_rng, cfg->train.seed, AC_RNG_STREAM_INIT);
    *tr = NULL;
    *model = ac_forecaster_new(&spec, &init_rng, err);
    if (!*model) return err->code;
    ac_train_options options = ac_config_train_options(cfg);
    *tr = ac_trainer_new(&options, series, *model, err);
    if (!*tr) {
        ac_forecaster_free(*model);
        *model = NULL;
        return err->code;
    }
    return AC_OK;
}
