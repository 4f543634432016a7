/* train_setup.c - a new model and its trainer from a config, as train and each refit of
 * backtest make them (cli.h). */
#include "attncast/attncast.h"
#include "attncast/config.h"
#include "attncast/trainer.h"
#include "cli/cli.h"

/* A new model of cfg for series of `channels` targets, initialised from train.seed. */
static ac_forecaster *new_model(const ac_config *cfg, int channels, ac_error *err) {
    ac_model_spec spec = ac_config_model_spec(cfg, channels);
    ac_rng init_rng;
    ac_rng_seed(&init_rng, cfg->train.seed, AC_RNG_STREAM_INIT);
    return ac_forecaster_new(&spec, &init_rng, err);
}

/* Hands out the model and its trainer, or frees the model when the trainer failed. */
static ac_status pair(ac_forecaster **model, ac_trainer **tr, ac_trainer *made, ac_error *err) {
    *tr = made;
    if (made) return AC_OK;
    ac_forecaster_free(*model);
    *model = NULL;
    return err->code;
}

ac_status ac_cli_model_and_trainer(const ac_config *cfg, const ac_series *series,
                                   ac_forecaster **model, ac_trainer **tr, ac_error *err) {
    *tr = NULL;
    if (!(*model = new_model(cfg, series->channels, err))) return err->code;
    ac_train_options options = ac_config_train_options(cfg);
    return pair(model, tr, ac_trainer_new(&options, series, *model, err), err);
}

ac_status ac_cli_model_and_panel_trainer(const ac_config *cfg, const ac_panel *panel,
                                         ac_forecaster **model, ac_trainer **tr, ac_error *err) {
    *tr = NULL;
    if (!(*model = new_model(cfg, panel->series[0].channels, err))) return err->code;
    ac_train_options options = ac_config_train_options(cfg);
    return pair(model, tr, ac_trainer_new_panel(&options, panel, *model, err), err);
}
