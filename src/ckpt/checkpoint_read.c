/* checkpoint_read.c - ac_ckpt_read, ac_ckpt_free and ac_ckpt_restore_optimizer.
 *
 * Reading goes from the outside in (a file, HDF5, the format attribute and version, the config,
 * the scaler, the model that config implies, its parameters, then the optional optimizer and
 * training state) and trusts nothing it has not checked. A file attncast sealed (a checksum in
 * its HDF5 user block, checkpoint_seal.c) is verified before HDF5 opens it, since HDF5 itself
 * can crash on a damaged file; an unsealed file gets only the checks below; the first problem
 * becomes one line naming the file and the HDF5 path. Files are opened with the strong close
 * degree, so closing one also closes any handle a failure left open; every helper still closes its
 * own handles on every path. HDF5 prints its error stack only when ATTNCAST_DEBUG is set. The
 * checked access to single groups, datasets and attributes is in checkpoint_hdf5.c; writing is
 * checkpoint_write.c.
 */
#include "attncast/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hdf5.h>

#include "attncast/attncast.h"
#include "checkpoint_internal.h"

#define MAX_CHANNELS 1000000 /* more channels than this is a damaged file, not a dataset */
#define LOCATE_NOTE  " (the stored config implies it)"
#define SHAPE_NOTE   "the stored config implies"

static bool read_header(reader *r, ac_checkpoint *ck) {
    char *format = NULL;
    switch (ac_ck_read_string_attribute(r->file, "format", &format)) {
    case ATTR_MISSING:
        return ac_ck_read_failed(r, AC_ERR_FORMAT,
                                 "not an attncast checkpoint (attribute 'format' on / is missing)");
    case ATTR_WRONG_TYPE:
        return ac_ck_read_failed(
            r, AC_ERR_FORMAT,
            "not an attncast checkpoint (attribute 'format' on / is not a string)");
    case ATTR_FAILED:
        return ac_ck_read_failed(r, AC_ERR_FORMAT, "attribute 'format' on / cannot be read");
    case ATTR_OK:
        break;
    }
    if (strcmp(format, AC_CKPT_FORMAT) != 0) {
        ac_ck_read_failed(r, AC_ERR_FORMAT,
                          "not an attncast checkpoint (attribute 'format' on / is '%.*s')",
                          ac_ck_quote_len(format), format);
        free(format);
        return false;
    }
    free(format);

    switch (ac_ck_read_int_attribute(r->file, "format_version", &ck->format_version)) {
    case ATTR_MISSING:
        return ac_ck_read_failed(
            r, AC_ERR_FORMAT,
            "not an attncast checkpoint (attribute 'format_version' on / is missing)");
    case ATTR_WRONG_TYPE:
        return ac_ck_read_failed(r, AC_ERR_FORMAT,
                                 "attribute 'format_version' on / is not an integer");
    case ATTR_FAILED:
        return ac_ck_read_failed(r, AC_ERR_FORMAT,
                                 "attribute 'format_version' on / cannot be read");
    case ATTR_OK:
        break;
    }
    if (ck->format_version < 1 || ck->format_version > AC_CKPT_FORMAT_VERSION)
        return ac_ck_read_failed(
            r, AC_ERR_FORMAT,
            "checkpoint format_version %d is not supported (this attncast reads "
            "versions 1 to %d)",
            ck->format_version, AC_CKPT_FORMAT_VERSION);

    /* informative only: a file without them still loads */
    char *text = NULL;
    if (ac_ck_read_string_attribute(r->file, "created", &text) == ATTR_OK)
        ac_ck_copy_text(ck->created, sizeof ck->created, text);
    free(text);
    if (ac_ck_read_string_attribute(r->file, "program_version", &text) == ATTR_OK)
        ac_ck_copy_text(ck->program_version, sizeof ck->program_version, text);
    free(text);
    return true;
}

static bool read_config(reader *r, ac_checkpoint *ck) {
    hid_t d = ac_ck_open_dataset(r, r->file, "config", "/config", " (the resolved configuration)");
    if (d < 0) return false;
    char *text = NULL;
    string_result rc = ac_ck_read_strings(d, false, 1, &text);
    H5Dclose(d);
    if (rc == STRINGS_NOT_STRINGS)
        return ac_ck_read_failed(r, AC_ERR_FORMAT, "/config is not a string");
    if (rc != STRINGS_OK) {
        free(text);
        return ac_ck_read_failed(r, AC_ERR_FORMAT, "/config is not one readable string");
    }
    size_t source_size = strlen(r->path) + sizeof ":/config";
    char *source = malloc(source_size);
    if (!source) {
        free(text);
        return ac_ck_nomem(r, "/config");
    }
    snprintf(source, source_size, "%s:/config", r->path);
    ac_config_defaults(&ck->config);
    /* Files from before model.anchor existed do not name it: they were trained centred on the
     * mean, whatever today's default. */
    ck->config.model.anchor = AC_ANCHOR_MEAN;
    ac_status status = ac_config_load_string(&ck->config, text, source, r->err);
    free(text);
    free(source);
    if (status != AC_OK) {
        r->code = status;
        return false;
    }
    ac_error e;
    status = ac_config_check(&ck->config, &e);
    if (status != AC_OK) {
        r->code = status;
        ac_error_set(r->err, status, "%s:/config: %s", r->path, e.msg);
        return false;
    }
    return true;
}

/* Every mean finite, every std finite and positive; row >= 0 names a long-format row. */
static bool check_scaler(reader *r, const ac_scaler *sc, int row) {
    char at[32] = "";
    if (row >= 0) snprintf(at, sizeof at, "%d, ", row);
    for (int c = 0; c < sc->columns; c++) {
        if (!isfinite(sc->mean[c]))
            return ac_ck_read_failed(r, AC_ERR_FORMAT, "/scaler/mean[%s%d] is not a finite number",
                                     at, c);
        if (!isfinite(sc->std[c]) || !(sc->std[c] > 0))
            return ac_ck_read_failed(r, AC_ERR_FORMAT,
                                     "/scaler/std[%s%d] = %g is not a positive finite number", at,
                                     c, sc->std[c]);
    }
    return true;
}

/* The most series a long-format checkpoint may hold: more is a damaged file. */
#define MAX_SERIES 10000000

/* /scaler/ids of a long-format checkpoint: 1 to MAX_SERIES distinct strings. */
static bool read_series_ids(reader *r, hid_t g, ac_checkpoint *ck) {
    hid_t d = ac_ck_open_dataset(r, g, "ids", "/scaler/ids",
                                 " (data.format = long needs one id per series)");
    bool ok = d >= 0 && ac_ck_check_class(r, d, "/scaler/ids", H5T_STRING);
    hsize_t dims[H5S_MAX_RANK];
    if (ok && (ac_ck_dataset_shape(d, dims) != 1 || dims[0] < 1 || dims[0] > MAX_SERIES))
        ok = ac_ck_read_failed(r, AC_ERR_FORMAT, "/scaler/ids is not a list of 1 to %d series ids",
                               MAX_SERIES);
    if (ok) {
        ck->series_ids = calloc(dims[0], sizeof *ck->series_ids);
        ck->series_scalers = calloc(dims[0], sizeof *ck->series_scalers);
        if (ck->series_ids && ck->series_scalers) ck->series_count = (int)dims[0];
        if (!ck->series_ids || !ck->series_scalers)
            ok = ac_ck_nomem(r, "/scaler/ids");
        else if (ac_ck_read_strings(d, false, ck->series_count, ck->series_ids) != STRINGS_OK)
            ok = ac_ck_damaged(r, "/scaler/ids");
    }
    if (d >= 0) H5Dclose(d);
    return ok;
}

/* /scaler/mean and /std [S, C] of a long-format checkpoint, one scaler per series; ck->scaler
 * becomes a copy of the first. */
static bool read_series_scalers(reader *r, hid_t g, ac_checkpoint *ck) {
    int S = ck->series_count, C = ck->scaler.columns;
    hsize_t dims[2] = {(hsize_t)S, (hsize_t)C};
    double *rows = malloc((size_t)2 * (size_t)S * (size_t)C * sizeof *rows);
    if (!rows) return ac_ck_nomem(r, "/scaler");
    const char *implied = "/scaler/ids and /scaler/channels imply";
    bool ok = ac_ck_read_numbers(r, g, "mean", "/scaler/mean", H5T_FLOAT, H5T_NATIVE_DOUBLE, 2,
                                 dims, implied, rows) &&
              ac_ck_read_numbers(r, g, "std", "/scaler/std", H5T_FLOAT, H5T_NATIVE_DOUBLE, 2, dims,
                                 implied, rows + (size_t)S * C);
    for (int i = 0; ok && i < S; i++) {
        ac_scaler *sc = &ck->series_scalers[i];
        sc->channels = ck->channels;
        sc->columns = C;
        sc->mean = malloc((size_t)C * sizeof *sc->mean);
        sc->std = malloc((size_t)C * sizeof *sc->std);
        if (!sc->mean || !sc->std) {
            ok = ac_ck_nomem(r, "/scaler");
            break;
        }
        memcpy(sc->mean, rows + (size_t)i * C, (size_t)C * sizeof *rows);
        memcpy(sc->std, rows + ((size_t)S + i) * C, (size_t)C * sizeof *rows);
        ok = check_scaler(r, sc, i);
    }
    if (ok) {
        memcpy(ck->scaler.mean, ck->series_scalers[0].mean, (size_t)C * sizeof *rows);
        memcpy(ck->scaler.std, ck->series_scalers[0].std, (size_t)C * sizeof *rows);
    }
    free(rows);
    return ok;
}

static bool read_scaler(reader *r, ac_checkpoint *ck) {
    hid_t g = ac_ck_open_group(r, r->file, "scaler", "/scaler");
    if (g < 0) return false;
    hid_t d = ac_ck_open_dataset(r, g, "channels", "/scaler/channels", "");
    bool ok = d >= 0 && ac_ck_check_class(r, d, "/scaler/channels", H5T_STRING);
    hsize_t dims[H5S_MAX_RANK];
    if (ok && (ac_ck_dataset_shape(d, dims) != 1 || dims[0] < 1 || dims[0] > MAX_CHANNELS))
        ok = ac_ck_read_failed(r, AC_ERR_FORMAT,
                               "/scaler/channels is not a list of 1 to %d channel names",
                               MAX_CHANNELS);
    int columns = ok ? (int)dims[0] : 0, past = 0, future_real = 0, calendar = 0;
    ac_config_covariate_counts(&ck->config, &past, &future_real, &calendar);
    if (ok && columns <= past + future_real)
        ok = ac_ck_read_failed(r, AC_ERR_FORMAT,
                               "/scaler/channels lists %d columns, but /config names %d real "
                               "covariates and the targets come first",
                               columns, past + future_real);
    if (ok) {
        ck->channels = columns - past - future_real;
        ck->channel_names = calloc(dims[0], sizeof *ck->channel_names);
        if (ck->channel_names) ck->columns = columns;
        if (!ck->channel_names)
            ok = ac_ck_nomem(r, "/scaler/channels");
        else if (ac_ck_read_strings(d, false, columns, ck->channel_names) != STRINGS_OK)
            ok = ac_ck_damaged(r, "/scaler/channels");
    }
    if (d >= 0) H5Dclose(d);
    if (ok) {
        ck->scaler.channels = ck->channels;
        ck->scaler.columns = columns;
        ck->scaler.mean = malloc(dims[0] * sizeof(double));
        ck->scaler.std = malloc(dims[0] * sizeof(double));
        if (!ck->scaler.mean || !ck->scaler.std) ok = ac_ck_nomem(r, "/scaler");
    }
    bool long_format = ck->config.data.format == AC_FORMAT_LONG;
    if (ok && long_format) {
        ok = read_series_ids(r, g, ck) && read_series_scalers(r, g, ck);
    } else if (ok) {
        const char *implied = "/scaler/channels implies";
        ok = ac_ck_read_numbers(r, g, "mean", "/scaler/mean", H5T_FLOAT, H5T_NATIVE_DOUBLE, 1, dims,
                                implied, ck->scaler.mean) &&
             ac_ck_read_numbers(r, g, "std", "/scaler/std", H5T_FLOAT, H5T_NATIVE_DOUBLE, 1, dims,
                                implied, ck->scaler.std) &&
             check_scaler(r, &ck->scaler, -1);
    }
    H5Gclose(g);
    return ok;
}

static bool build_model(reader *r, ac_checkpoint *ck) {
    ac_model_spec spec = ac_config_model_spec(&ck->config, ck->channels);
    ac_rng rng; /* any seed: every weight is overwritten from /params */
    ac_rng_seed(&rng, 0, AC_RNG_STREAM_INIT);
    ac_error e;
    ck->model = ac_forecaster_new(&spec, &rng, &e);
    if (ck->model) return true;
    r->code = e.code;
    ac_error_set(r->err, e.code, "%s:/config: %s", r->path, e.msg);
    return false;
}

typedef struct link_check {
    const ac_forecaster *model;
    char unknown[256]; /* the first link that is not a parameter */
} link_check;

static herr_t find_unknown_link(hid_t group, const char *name, const H5L_info_t *info, void *data) {
    (void)group;
    (void)info;
    link_check *check = data;
    if (ac_forecaster_param(check->model, name)) return 0;
    snprintf(check->unknown, sizeof check->unknown, "%.*s", ac_ck_quote_len(name), name);
    return 1;
}

/* MODEL.md stores parameters as float32: a float64 (or half) dataset is refused, not rounded. */
static bool check_float32(reader *r, hid_t dset, const char *full) {
    hid_t t = H5Dget_type(dset);
    size_t bytes = t >= 0 ? H5Tget_size(t) : 0;
    if (t >= 0) H5Tclose(t);
    if (bytes == sizeof(float)) return true;
    return ac_ck_read_failed(r, AC_ERR_FORMAT,
                             "%s holds %zu-bit floating-point numbers, expected "
                             "float32",
                             full, bytes * 8);
}

/* Reads the float32 dataset of every parameter under parent/name into dst[i] (registration
 * order), each shaped as the model's parameter and finite, and refuses any other link there. */
static bool read_tensor_group(reader *r, hid_t parent, const char *name, const char *full,
                              const ac_forecaster *model, float *const *dst) {
    hid_t g = ac_ck_open_group(r, parent, name, full);
    if (g < 0) return false;
    ac_tensor *const *params = ac_forecaster_params(model);
    bool ok = true;
    for (int i = 0; ok && i < ac_forecaster_param_count(model); i++) {
        const ac_tensor *p = params[i];
        char at[PATH_TEXT];
        snprintf(at, sizeof at, "%s/%s", full, p->name);
        hid_t d = ac_ck_open_dataset(r, g, p->name, at, LOCATE_NOTE);
        if (d < 0) {
            ok = false;
            break;
        }
        hsize_t dims[AC_MAX_DIMS];
        for (int k = 0; k < p->ndim; k++) dims[k] = (hsize_t)p->shape[k];
        ok = ac_ck_check_class(r, d, at, H5T_FLOAT) && check_float32(r, d, at) &&
             ac_ck_check_shape(r, d, at, p->ndim, dims, SHAPE_NOTE);
        if (ok && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst[i]) < 0)
            ok = ac_ck_damaged(r, at);
        H5Dclose(d);
        for (int64_t k = 0; ok && k < p->size; k++)
            if (!isfinite(dst[i][k]))
                ok = ac_ck_read_failed(r, AC_ERR_FORMAT, "%s holds a non-finite value (NaN or Inf)",
                                       at);
    }
    if (ok) {
        link_check check = {.model = model};
        herr_t rc = H5Literate(g, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, find_unknown_link, &check);
        if (rc > 0)
            ok =
                ac_ck_read_failed(r, AC_ERR_FORMAT, "%s/%s is not a parameter of this architecture",
                                  full, check.unknown);
        else if (rc < 0)
            ok = ac_ck_damaged(r, full);
    }
    H5Gclose(g);
    return ok;
}

static bool read_params(reader *r, ac_checkpoint *ck) {
    int n = ac_forecaster_param_count(ck->model);
    float **dst = malloc((size_t)n * sizeof *dst);
    if (!dst) return ac_ck_nomem(r, "/params");
    ac_tensor *const *params = ac_forecaster_params(ck->model);
    for (int i = 0; i < n; i++) dst[i] = params[i]->data;
    bool ok = read_tensor_group(r, r->file, "params", "/params", ck->model, dst);
    free(dst);
    return ok;
}

static bool read_optimizer(reader *r, ac_checkpoint *ck) {
    if (!ac_ck_has_link(r->file, "optimizer")) return true;
    hid_t g = ac_ck_open_group(r, r->file, "optimizer", "/optimizer");
    if (g < 0) return false;
    char *kind = NULL;
    bool ok = true, known = false;
    switch (ac_ck_read_string_attribute(g, "kind", &kind)) {
    case ATTR_MISSING:
        ok = ac_ck_read_failed(r, AC_ERR_FORMAT, "/optimizer has no attribute 'kind'");
        break;
    case ATTR_WRONG_TYPE:
        ok = ac_ck_read_failed(r, AC_ERR_FORMAT, "/optimizer attribute 'kind' is not a string");
        break;
    case ATTR_FAILED:
        ok = ac_ck_damaged(r, "/optimizer attribute 'kind'");
        break;
    case ATTR_OK:
        for (int k = AC_OPT_ADAM; k <= AC_OPT_SGD && !known; k++)
            if (strcmp(kind, ac_optimizer_kind_name((ac_optimizer_kind)k)) == 0) {
                ck->optimizer_kind = (ac_optimizer_kind)k;
                known = true;
            }
        if (!known)
            ok = ac_ck_read_failed(
                r, AC_ERR_FORMAT,
                "/optimizer attribute 'kind' is '%.*s' (expected adam, adamw or sgd)",
                ac_ck_quote_len(kind), kind);
        else if (ck->optimizer_kind != ck->config.train.optimizer)
            ok = ac_ck_read_failed(r, AC_ERR_FORMAT,
                                   "/optimizer attribute 'kind' is '%s' but /config has "
                                   "train.optimizer = %s",
                                   kind, ac_optimizer_kind_name(ck->config.train.optimizer));
        break;
    }
    free(kind);
    ok = ok &&
         ac_ck_read_scalar(r, g, "/optimizer", "step", H5T_INTEGER, H5T_NATIVE_INT64,
                           &ck->optimizer_step) &&
         ac_ck_read_scalar(r, g, "/optimizer", "lr", H5T_FLOAT, H5T_NATIVE_DOUBLE, &ck->lr) &&
         ac_ck_read_scalar(r, g, "/optimizer", "schedule_step", H5T_INTEGER, H5T_NATIVE_INT64,
                           &ck->schedule_step);
    if (ok && ck->optimizer_step < 0)
        ok = ac_ck_read_failed(r, AC_ERR_FORMAT, "/optimizer/step is negative");
    if (ok && ck->schedule_step < 0)
        ok = ac_ck_read_failed(r, AC_ERR_FORMAT, "/optimizer/schedule_step is negative");
    if (ok && !(isfinite(ck->lr) && ck->lr >= 0))
        ok = ac_ck_read_failed(r, AC_ERR_FORMAT,
                               "/optimizer/lr is not a finite non-negative number");

    int n = ac_forecaster_param_count(ck->model);
    ac_tensor *const *params = ac_forecaster_params(ck->model);
    float **dst = NULL;
    if (ok) {
        ck->optimizer_slots = ac_ck_kind_slots(ck->optimizer_kind);
        ck->optimizer_state = calloc((size_t)n * (size_t)ck->optimizer_slots, sizeof(float *));
        dst = malloc((size_t)n * sizeof *dst);
        if (!ck->optimizer_state || !dst) ok = ac_ck_nomem(r, "/optimizer");
    }
    for (int slot = 0; ok && slot < ck->optimizer_slots; slot++) {
        for (int i = 0; ok && i < n; i++) {
            float *buf = malloc((size_t)params[i]->size * sizeof(float));
            ck->optimizer_state[i * ck->optimizer_slots + slot] = buf;
            dst[i] = buf;
            if (!buf) ok = ac_ck_nomem(r, "/optimizer");
        }
        const char *name = ac_ck_slot_group(ck->optimizer_kind, slot);
        char full[64];
        snprintf(full, sizeof full, "/optimizer/%s", name);
        ok = ok && read_tensor_group(r, g, name, full, ck->model, dst);
    }
    free(dst);
    H5Gclose(g);
    ck->has_optimizer = ok;
    return ok;
}

/* The history table: a compound with every column of ac_ck_history_fields, epoch rows long. */
static bool read_history(reader *r, hid_t g, ac_checkpoint *ck) {
    const char *full = "/train/history";
    hid_t d = ac_ck_open_dataset(r, g, "history", full, "");
    if (d < 0) return false;
    bool ok = ac_ck_check_class(r, d, full, H5T_COMPOUND);
    hid_t t = ok ? H5Dget_type(d) : H5I_INVALID_HID;
    if (ok && t < 0) ok = ac_ck_damaged(r, full);
    for (size_t i = 0; ok && i < ac_ck_history_field_count; i++) {
        const history_field *f = &ac_ck_history_fields[i];
        int at = H5Tget_member_index(t, f->name);
        H5T_class_t want = f->integer ? H5T_INTEGER : H5T_FLOAT;
        H5T_class_t got = at < 0 ? H5T_NO_CLASS : H5Tget_member_class(t, (unsigned)at);
        if (at < 0)
            ok = ac_ck_read_failed(r, AC_ERR_FORMAT, "%s has no column '%s'", full, f->name);
        else if (got != want)
            ok = ac_ck_read_failed(r, AC_ERR_FORMAT, "%s column '%s' holds %s, expected %s", full,
                                   f->name, ac_ck_class_text(got), ac_ck_class_text(want));
    }
    if (t >= 0) H5Tclose(t);
    hsize_t rows[1] = {(hsize_t)ck->train.epoch};
    ok = ok && ac_ck_check_shape(r, d, full, 1, rows, "/train/epoch implies");
    hid_t mtype = ok ? ac_ck_history_type(false) : H5I_INVALID_HID;
    if (ok && mtype < 0) ok = ac_ck_damaged(r, full);
    if (ok && rows[0] > 0) {
        ck->history = calloc(rows[0], sizeof *ck->history);
        if (!ck->history)
            ok = ac_ck_nomem(r, full);
        else if (H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, ck->history) < 0)
            ok = ac_ck_damaged(r, full);
    }
    if (mtype >= 0) H5Tclose(mtype);
    H5Dclose(d);
    for (int i = 0; ok && i < ck->train.epoch; i++)
        if (ck->history[i].epoch != i + 1)
            ok = ac_ck_read_failed(r, AC_ERR_FORMAT, "%s row %d has epoch %d (expected %d)", full,
                                   i + 1, ck->history[i].epoch, i + 1);
    return ok;
}

static bool read_rng(reader *r, hid_t g, const char *name, ac_rng *rng) {
    char full[64];
    snprintf(full, sizeof full, "/train/%s", name);
    uint64_t words[2];
    hsize_t two[1] = {2};
    if (!ac_ck_read_numbers(r, g, name, full, H5T_INTEGER, H5T_NATIVE_UINT64, 1, two, "expected",
                            words))
        return false;
    if (!(words[1] & 1))
        return ac_ck_read_failed(r, AC_ERR_FORMAT,
                                 "%s has an even increment %llu (a PCG32 increment is odd)", full,
                                 (unsigned long long)words[1]);
    rng->state = words[0];
    rng->inc = words[1];
    return true;
}

static bool read_train(reader *r, ac_checkpoint *ck) {
    if (!ac_ck_has_link(r->file, "train")) return true;
    hid_t g = ac_ck_open_group(r, r->file, "train", "/train");
    if (g < 0) return false;
    ac_train_state *t = &ck->train;
    const char *G = "/train";
    bool ok =
        ac_ck_read_scalar(r, g, G, "epoch", H5T_INTEGER, H5T_NATIVE_INT, &t->epoch) &&
        ac_ck_read_scalar(r, g, G, "global_step", H5T_INTEGER, H5T_NATIVE_INT64, &t->step) &&
        ac_ck_read_scalar(r, g, G, "best_val_loss", H5T_FLOAT, H5T_NATIVE_DOUBLE,
                          &t->best_val_loss) &&
        ac_ck_read_scalar(r, g, G, "best_epoch", H5T_INTEGER, H5T_NATIVE_INT, &t->best_epoch) &&
        ac_ck_read_scalar(r, g, G, "bad_epochs", H5T_INTEGER, H5T_NATIVE_INT, &t->bad_epochs) &&
        ac_ck_read_scalar(r, g, G, "stopped_early", H5T_INTEGER, H5T_NATIVE_INT,
                          &t->stopped_early) &&
        ac_ck_read_scalar(r, g, G, "seconds", H5T_FLOAT, H5T_NATIVE_DOUBLE, &t->seconds) &&
        read_rng(r, g, "rng_shuffle", &t->shuffle_rng) &&
        read_rng(r, g, "rng_dropout", &t->dropout_rng);
    if (ok && t->epoch < 0)
        ok = ac_ck_read_failed(r, AC_ERR_FORMAT, "/train/epoch = %d is negative", t->epoch);
    if (ok && t->step < 0)
        ok = ac_ck_read_failed(r, AC_ERR_FORMAT, "/train/global_step = %lld is negative",
                               (long long)t->step);
    if (ok && (t->best_epoch < 0 || t->best_epoch > t->epoch))
        ok = ac_ck_read_failed(r, AC_ERR_FORMAT,
                               "/train/best_epoch = %d is not between 0 and /train/epoch = %d",
                               t->best_epoch, t->epoch);
    if (ok && (t->bad_epochs < 0 || t->bad_epochs > t->epoch))
        ok = ac_ck_read_failed(r, AC_ERR_FORMAT,
                               "/train/bad_epochs = %d is not between 0 and /train/epoch = %d",
                               t->bad_epochs, t->epoch);
    if (ok && t->stopped_early != 0 && t->stopped_early != 1)
        ok = ac_ck_read_failed(r, AC_ERR_FORMAT, "/train/stopped_early = %d is not 0 or 1",
                               t->stopped_early);
    if (ok && (!isfinite(t->seconds) || t->seconds < 0))
        ok = ac_ck_read_failed(r, AC_ERR_FORMAT,
                               "/train/seconds is not a finite non-negative number");
    if (ok && isnan(t->best_val_loss))
        ok = ac_ck_read_failed(r, AC_ERR_FORMAT, "/train/best_val_loss is NaN");
    ok = ok && read_history(r, g, ck);

    t->weight_count = ac_forecaster_weight_count(ck->model);
    if (ok && ac_ck_has_link(g, "best_params")) {
        int n = ac_forecaster_param_count(ck->model);
        ck->best_weights = malloc((size_t)t->weight_count * sizeof(float));
        float **dst = malloc((size_t)n * sizeof *dst);
        if (!ck->best_weights || !dst) {
            ok = ac_ck_nomem(r, "/train/best_params");
        } else {
            ac_tensor *const *params = ac_forecaster_params(ck->model);
            int64_t at = 0;
            for (int i = 0; i < n; i++) {
                dst[i] = ck->best_weights + at;
                at += params[i]->size;
            }
            ok = read_tensor_group(r, g, "best_params", "/train/best_params", ck->model, dst);
        }
        free(dst);
    }
    H5Gclose(g);
    if (!ok) return false;
    t->history = ck->history;
    t->history_len = t->epoch;
    t->best_weights = ck->best_weights;
    /* the rate of the last step taken is the last epoch's (the trainer's own definition) */
    t->lr = t->history_len > 0 ? ck->history[t->history_len - 1].lr : 0.0;
    ck->has_train = true;
    return true;
}

/* /calibration/levels: 1 to AC_INTERVALS_MAX levels, strictly increasing, each in (0, 1). */
static bool read_levels(reader *r, hid_t g, ac_calibration *cal) {
    const char *full = "/calibration/levels";
    hid_t d = ac_ck_open_dataset(r, g, "levels", full, "");
    if (d < 0) return false;
    hsize_t dims[H5S_MAX_RANK];
    bool ok = ac_ck_check_class(r, d, full, H5T_FLOAT);
    if (ok && (ac_ck_dataset_shape(d, dims) != 1 || dims[0] < 1 || dims[0] > AC_INTERVALS_MAX))
        ok = ac_ck_read_failed(r, AC_ERR_FORMAT, "%s is not a list of 1 to %d levels", full,
                               AC_INTERVALS_MAX);
    if (ok) {
        cal->count = (int)dims[0];
        cal->levels = malloc(dims[0] * sizeof(double));
        if (!cal->levels)
            ok = ac_ck_nomem(r, full);
        else if (H5Dread(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, cal->levels) < 0)
            ok = ac_ck_damaged(r, full);
    }
    H5Dclose(d);
    for (int i = 0; ok && i < cal->count; i++) {
        double v = cal->levels[i];
        if (!(isfinite(v) && v > 0.0 && v < 1.0))
            ok = ac_ck_read_failed(r, AC_ERR_FORMAT, "%s[%d] = %g is not in (0, 1)", full, i, v);
        else if (i > 0 && !(v > cal->levels[i - 1]))
            ok = ac_ck_read_failed(r, AC_ERR_FORMAT,
                                   "%s[%d] = %g is not greater than %s[%d] = %g (levels are "
                                   "strictly increasing)",
                                   full, i, v, full, i - 1, cal->levels[i - 1]);
    }
    return ok;
}

/* The optional /calibration group: levels, then halfwidth [K, H, C] (finite, >= 0) for the
 * stored config's horizon and the scaler's channels, and the optional windows attribute. */
static bool read_calibration(reader *r, ac_checkpoint *ck) {
    if (!ac_ck_has_link(r->file, "calibration")) return true;
    hid_t g = ac_ck_open_group(r, r->file, "calibration", "/calibration");
    if (g < 0) return false;
    ac_calibration *cal = &ck->calibration;
    const char *full = "/calibration/halfwidth";
    bool ok = read_levels(r, g, cal);
    if (ok) {
        cal->horizon = ac_forecaster_spec(ck->model)->horizon;
        cal->channels = ck->channels;
        size_t values = (size_t)cal->count * (size_t)cal->horizon * (size_t)cal->channels;
        cal->halfwidth = malloc(values * sizeof(double));
        hsize_t dims[3] = {(hsize_t)cal->count, (hsize_t)cal->horizon, (hsize_t)cal->channels};
        ok = cal->halfwidth ? ac_ck_read_numbers(r, g, "halfwidth", full, H5T_FLOAT,
                                                 H5T_NATIVE_DOUBLE, 3, dims,
                                                 "/calibration/levels, the stored config's "
                                                 "horizon and the channels imply",
                                                 cal->halfwidth)
                            : ac_ck_nomem(r, full);
        for (size_t j = 0; ok && j < values; j++) {
            double w = cal->halfwidth[j];
            if (!(isfinite(w) && w >= 0.0)) {
                size_t per_level = (size_t)cal->horizon * (size_t)cal->channels;
                ok = ac_ck_read_failed(r, AC_ERR_FORMAT,
                                       "%s[%zu, %zu, %zu] = %g is not a finite number >= 0", full,
                                       j / per_level, j % per_level / (size_t)cal->channels,
                                       j % (size_t)cal->channels, w);
            }
        }
    }
    int windows = 0;
    switch (ok ? ac_ck_read_int_attribute(g, "windows", &windows) : ATTR_MISSING) {
    case ATTR_OK:
        if (windows < 0)
            ok = ac_ck_read_failed(r, AC_ERR_FORMAT,
                                   "/calibration attribute 'windows' = %d is negative", windows);
        cal->windows = windows;
        break;
    case ATTR_MISSING:
        break;
    case ATTR_WRONG_TYPE:
    case ATTR_FAILED:
        ok = ac_ck_read_failed(r, AC_ERR_FORMAT,
                               "/calibration attribute 'windows' is not one integer");
        break;
    }
    H5Gclose(g);
    ck->has_calibration = ok;
    return ok;
}

ac_status ac_ckpt_read(ac_checkpoint **out, const char *path, ac_error *err) {
    *out = NULL;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return ac_error_set(err, AC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    bool folder = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
    close(fd);
    if (folder) return ac_error_set(err, AC_ERR_IO, "%s: cannot open: %s", path, strerror(EISDIR));
    bool sealed = false;
    ac_status seal = ac_ck_check_seal(path, &sealed, err);
    if (seal != AC_OK) return seal;
    ac_ck_quiet_hdf5();
    if (H5Fis_hdf5(path) <= 0)
        return ac_error_set(err, AC_ERR_FORMAT, "%s: not an HDF5 file", path);
    hid_t fapl = ac_ck_file_access();
    hid_t file = fapl < 0 ? H5I_INVALID_HID : H5Fopen(path, H5F_ACC_RDONLY, fapl);
    if (fapl >= 0) H5Pclose(fapl);
    if (file < 0)
        return ac_error_set(err, AC_ERR_FORMAT,
                            "%s: cannot be read as HDF5 (truncated or damaged file)", path);
    ac_checkpoint *ck = calloc(1, sizeof *ck);
    if (!ck) {
        H5Fclose(file);
        return ac_error_set(err, AC_ERR_NOMEM, "%s: out of memory", path);
    }
    ac_ck_copy_text(ck->path, sizeof ck->path, path);
    reader r = {.path = path, .file = file, .err = err, .code = AC_OK};
    bool ok = read_header(&r, ck) && read_config(&r, ck) && read_scaler(&r, ck) &&
              build_model(&r, ck) && read_params(&r, ck) && read_optimizer(&r, ck) &&
              read_train(&r, ck) && read_calibration(&r, ck);
    H5Fclose(file);
    if (!ok) {
        ac_ckpt_free(ck);
        return r.code != AC_OK ? r.code : AC_ERR_FORMAT;
    }
    *out = ck;
    return AC_OK;
}

void ac_ckpt_free(ac_checkpoint *ck) {
    if (!ck) return;
    if (ck->channel_names)
        for (int i = 0; i < ck->columns; i++) free(ck->channel_names[i]);
    for (int i = 0; i < ck->series_count; i++) {
        if (ck->series_ids) free(ck->series_ids[i]);
        if (ck->series_scalers) ac_scaler_free(&ck->series_scalers[i]);
    }
    free(ck->series_ids);
    free(ck->series_scalers);
    free(ck->channel_names);
    ac_scaler_free(&ck->scaler);
    if (ck->optimizer_state && ck->model) {
        int n = ac_forecaster_param_count(ck->model) * ck->optimizer_slots;
        for (int i = 0; i < n; i++) free(ck->optimizer_state[i]);
    }
    free(ck->optimizer_state);
    free(ck->history);
    free(ck->best_weights);
    ac_calibration_free(&ck->calibration);
    ac_forecaster_free(ck->model);
    free(ck);
}

ac_status ac_ckpt_restore_optimizer(const ac_checkpoint *ck, ac_optimizer *opt, ac_error *err) {
    if (!ck->has_optimizer)
        return ac_error_set(err, AC_ERR_STATE,
                            "%s: holds no optimizer state (a model-only checkpoint)", ck->path);
    int slots = ac_optimizer_state_slots(opt);
    if (slots != ck->optimizer_slots)
        return ac_error_set(err, AC_ERR_INVALID,
                            "%s: the checkpoint's optimizer is %s (%d state buffers per "
                            "parameter), this optimizer keeps %d",
                            ck->path, ac_optimizer_kind_name(ck->optimizer_kind),
                            ck->optimizer_slots, slots);
    int n = ac_forecaster_param_count(ck->model);
    if (!ac_optimizer_state(opt, n - 1, 0) || ac_optimizer_state(opt, n, 0))
        return ac_error_set(err, AC_ERR_INVALID,
                            "%s: the optimizer is not over the checkpoint's %d parameters",
                            ck->path, n);
    ac_tensor *const *params = ac_forecaster_params(ck->model);
    for (int i = 0; i < n; i++)
        for (int slot = 0; slot < slots; slot++)
            memcpy(ac_optimizer_state(opt, i, slot), ck->optimizer_state[i * slots + slot],
                   (size_t)params[i]->size * sizeof(float));
    ac_optimizer_set_step_count(opt, ck->optimizer_step);
    return AC_OK;
}
