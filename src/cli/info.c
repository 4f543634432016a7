/* info.c - `attncast info CHECKPOINT`: what a checkpoint holds, checked as it loads (a
 * long-format model's series too). */
#include <math.h>
#include <stdio.h>

#include "attncast/calendar.h"
#include "attncast/checkpoint.h"
#include "cli/checkpoint_data.h"
#include "cli/cli.h"

/* The names of columns [from, to) of the checkpoint's scaler, space-separated (at most 24). */
static void print_names(const ac_checkpoint *ck, int from, int to) {
    for (int i = from; i < to && i < from + 24; i++) printf(" %s", ck->channel_names[i]);
    if (to - from > 24) printf(" ...");
}

/* The column roles of a covariate model (MODEL.md "Covariates"): nothing for a model without. */
static void print_roles(const ac_checkpoint *ck) {
    const ac_config *c = &ck->config;
    int past = 0, future = 0, calendar_columns = 0;
    ac_config_covariate_counts(c, &past, &future, &calendar_columns);
    if (past + future + calendar_columns == 0) return;
    printf("covariates     targets (%d):", ck->channels);
    print_names(ck, 0, ck->channels);
    printf("\n               past (%d):", past);
    print_names(ck, ck->channels, ck->channels + past);
    if (!past) printf(" none");
    printf("\n               future (%d):", future);
    print_names(ck, ck->channels + past, ck->columns);
    if (!future) printf(" none");
    printf("\n               calendar (%d columns):", calendar_columns);
    for (int i = 0; i < AC_CALENDAR_FEATURE_COUNT; i++)
        if (c->data.calendar & (1u << i)) printf(" %s", ac_calendar_feature_name(i));
    if (!calendar_columns) printf(" none");
    printf("\n");
}

int ac_cli_info(int argc, char **argv) {
    static const char *const usage = "usage: attncast info CHECKPOINT   (architecture, data, "
                                     "training progress)";
    static const char *const help =
        "\n"
        "Describes a checkpoint as it loads and checks it: format and version, data and\n"
        "channels, a covariate model's column roles (targets, past and future covariates,\n"
        "calendar features), a long-format model's series (how many, the first ids), windows\n"
        "and split, the dates' frequency and season, the architecture, the parameter count,\n"
        "and the training progress with its history (best epoch 0 is the untrained model, the\n"
        "naive repeat of a last-anchored model), and the conformal\n"
        "intervals when calibrated (levels, validation windows, mean half-width per level).\n"
        "\n"
        "options:\n"
        "  --help, -h    this help\n"
        "\n"
        "example:\n"
        "  attncast info runs/fx/best.h5\n";
    int rc = ac_cli_single_operand(argc, argv, usage, help);
    if (rc >= 0) return rc;
    ac_checkpoint *ck = ac_cli_checkpoint_read(argv[1]);
    if (!ck) return AC_EXIT_FAILURE;
    const ac_config *c = &ck->config;
    const ac_model_spec *s = ac_forecaster_spec(ck->model);
    printf("checkpoint     %s\n", ck->path);
    printf("format         %s version %d, written %s by attncast %s\n", AC_CKPT_FORMAT,
           ck->format_version, ck->created, ck->program_version);
    printf("data           %s (%d channels:", c->data.dataset[0] ? c->data.dataset : c->data.csv,
           ck->channels);
    for (int i = 0; i < ck->channels && i < 24; i++) printf(" %s", ck->channel_names[i]);
    printf("%s)\n", ck->channels > 24 ? " ..." : "");
    print_roles(ck);
    if (ck->series_count > 0) { /* long format: one scaler per series */
        printf("series         long format (id column %s): %d series:",
               c->data.id_column[0] ? c->data.id_column : "id", ck->series_count);
        for (int i = 0; i < ck->series_count && i < 8; i++) printf(" %s", ck->series_ids[i]);
        printf("%s\n", ck->series_count > 8 ? " ..." : "");
    }
    if (c->data.split_rows[0] > 0)
        printf("windows        lookback %d, horizon %d, split by rows %d/%d/%d (later rows "
               "unused)\n",
               s->lookback, s->horizon, c->data.split_rows[0], c->data.split_rows[1],
               c->data.split_rows[2]);
    else
        printf("windows        lookback %d, horizon %d, split %g/%g/%g\n", s->lookback, s->horizon,
               c->data.split[0], c->data.split[1], c->data.split[2]);
    printf("calendar       frequency %s, season %d\n",
           c->data.frequency[0] ? c->data.frequency : "unknown", c->data.season);
    printf("architecture   %s attention, %s channels, patch %d stride %d (%d tokens), d_model %d, "
           "%d heads, %d layers, d_ff %d, revin %s, causal %s, dropout %g\n",
           ac_attention_kind_name(s->attention), ac_channel_mode_name(s->channel_mode),
           s->patch_len, s->patch_stride, ac_model_spec_tokens(s), s->d_model, s->heads, s->layers,
           s->d_ff, s->revin ? "on" : "off", s->causal ? "on" : "off", (double)s->dropout);
    printf("parameters     %lld in %d tensors\n", (long long)ac_forecaster_weight_count(ck->model),
           ac_forecaster_param_count(ck->model));
    if (ck->has_train) {
        const ac_train_state *t = &ck->train;
        printf("training       epoch %d of %d, step %lld, %s loss, %s, lr %.3g%s\n", t->epoch,
               c->train.epochs, (long long)t->step, ac_loss_kind_name(c->train.loss),
               ac_optimizer_kind_name(c->train.optimizer), ck->lr,
               t->stopped_early ? ", stopped early" : "");
        printf("best           epoch %d%s, validation loss %.6g (%d epoch(s) since)\n",
               t->best_epoch,
               t->best_epoch == 0 && isfinite(t->best_val_loss)
                   ? " (the untrained model: the naive repeat)"
                   : "",
               t->best_val_loss, t->bad_epochs);
        for (int i = 0; i < t->history_len; i++)
            printf("  epoch %3d  train %.5f  val %.5f  lr %.2e  %.1f s\n", t->history[i].epoch,
                   t->history[i].train_loss, t->history[i].val_loss, t->history[i].lr,
                   t->history[i].seconds);
    } else {
        printf("training       none stored (a model-only checkpoint)\n");
    }
    if (ck->has_calibration) {
        const ac_calibration *cal = &ck->calibration;
        printf("intervals      conformal, levels");
        for (int a = 0; a < cal->count; a++) printf("%s %g", a ? "," : "", cal->levels[a]);
        if (cal->windows > 0)
            printf(", calibrated on %lld validation windows\n", (long long)cal->windows);
        else
            printf(" (the number of validation windows is not recorded)\n");
        printf("  mean half-width (z-scored):");
        for (int a = 0; a < cal->count; a++)
            printf("%s %g: %.4f", a ? "," : "", cal->levels[a],
                   ac_calibration_mean_halfwidth(cal, a));
        printf("\n");
    } else {
        printf("intervals      none calibrated (attncast calibrate adds them)\n");
    }
    ac_ckpt_free(ck);
    return AC_EXIT_OK;
}
