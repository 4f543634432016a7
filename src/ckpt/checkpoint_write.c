/* checkpoint_write.c - ac_ckpt_write: a checkpoint laid out exactly as checkpoint.h (and
 * MODEL.md) say.
 *
 * Writing builds the whole file in memory (HDF5's core driver), writes its bytes to
 * "<path>.tmp.<pid>" in the target's folder, fsyncs it, renames it over the target and fsyncs
 * the folder; any failure removes the temporary file and leaves the previous checkpoint as it
 * was. The file starts with an HDF5 user block; once the image is whole, a checksum of the rest
 * is written into it (checkpoint_seal.c), so a reader finds damage before HDF5 touches it. Building
 * in memory keeps every disk error (full disk, file size limit) in plain POSIX calls with errno:
 * HDF5 1.10 cannot recover from a failed flush of a file on disk (the file id stays registered
 * half-closed and the library crashes at exit when it closes it again). The reading side is
 * checkpoint_read.c; the HDF5 helpers both use are in checkpoint_hdf5.c.
 */
#include "attncast/checkpoint.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>

#include "attncast/attncast.h"
#include "checkpoint_internal.h"

#define CORE_INCREMENT (1 << 20) /* the in-memory file grows by this many bytes at a time */

typedef struct writer {
    hid_t file;
    char what[768]; /* the first step that failed */
} writer;

static bool write_failed(writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static bool write_failed(writer *w, const char *fmt, ...) {
    if (w->what[0]) return false; /* the first failure is the one to report */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->what, sizeof w->what, fmt, ap);
    va_end(ap);
    return false;
}

/* The dataset loc/name: rank 0 is a scalar, else dims. Nothing is written for 0 elements. */
static bool write_dataset(writer *w, hid_t loc, const char *name, const char *full, hid_t ftype,
                          hid_t mtype, int rank, const hsize_t *dims, const void *buf) {
    hid_t space = rank == 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, NULL);
    hid_t dset = space < 0
                     ? H5I_INVALID_HID
                     : H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    bool ok = dset >= 0 && (H5Sget_simple_extent_npoints(space) == 0 ||
                            H5Dwrite(dset, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    if (dset >= 0 && H5Dclose(dset) < 0) ok = false;
    if (space >= 0) H5Sclose(space);
    return ok || write_failed(w, "writing %s", full);
}

/* A scalar attribute on obj. */
static bool write_attribute(writer *w, hid_t obj, const char *where, const char *name, hid_t ftype,
                            hid_t mtype, const void *buf) {
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t attr =
        space < 0 ? H5I_INVALID_HID : H5Acreate2(obj, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT);
    bool ok = attr >= 0 && H5Awrite(attr, mtype, buf) >= 0;
    if (attr >= 0 && H5Aclose(attr) < 0) ok = false;
    if (space >= 0) H5Sclose(space);
    return ok || write_failed(w, "writing attribute '%s' on %s", name, where);
}

static bool write_string_attribute(writer *w, hid_t obj, const char *where, const char *name,
                                   const char *value) {
    hid_t t = ac_ck_utf8_string_type();
    if (t < 0) return write_failed(w, "making the string type");
    bool ok = write_attribute(w, obj, where, name, t, t, &value);
    H5Tclose(t);
    return ok;
}

/* Strings: a scalar dataset (rank 0, n = 1) or an array of n. */
static bool write_strings(writer *w, hid_t loc, const char *name, const char *full, int rank,
                          const char *const *values, int n) {
    hid_t t = ac_ck_utf8_string_type();
    if (t < 0) return write_failed(w, "making the string type");
    hsize_t dims[1] = {(hsize_t)n};
    bool ok = write_dataset(w, loc, name, full, t, t, rank, dims, values);
    H5Tclose(t);
    return ok;
}

static hid_t create_group(writer *w, hid_t parent, const char *name, const char *full) {
    hid_t g = H5Gcreate2(parent, name, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (g < 0) write_failed(w, "creating %s", full);
    return g;
}

static bool close_group(writer *w, hid_t g, const char *full, bool ok) {
    if (H5Gclose(g) < 0 && ok) return write_failed(w, "closing %s", full);
    return ok;
}

/* One float32 dataset per parameter under parent/name, shaped like the parameter, from src[i]
 * (registration order). */
static bool write_tensor_group(writer *w, hid_t parent, const char *name, const char *full,
                               const ac_forecaster *model, const float *const *src) {
    hid_t g = create_group(w, parent, name, full);
    if (g < 0) return false;
    ac_tensor *const *params = ac_forecaster_params(model);
    bool ok = true;
    for (int i = 0; ok && i < ac_forecaster_param_count(model); i++) {
        const ac_tensor *p = params[i];
        hsize_t dims[AC_MAX_DIMS];
        for (int k = 0; k < p->ndim; k++) dims[k] = (hsize_t)p->shape[k];
        char at[PATH_TEXT];
        snprintf(at, sizeof at, "%s/%s", full, p->name);
        ok = write_dataset(w, g, p->name, at, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, p->ndim, dims,
                           src[i]);
    }
    return close_group(w, g, full, ok);
}

/* Parameter offsets within the flat weight vector, or NULL when memory is short. */
static const float **flat_sources(const ac_forecaster *model, const float *flat) {
    int n = ac_forecaster_param_count(model);
    const float **src = malloc((size_t)n * sizeof *src);
    if (!src) return NULL;
    ac_tensor *const *params = ac_forecaster_params(model);
    int64_t at = 0;
    for (int i = 0; i < n; i++) {
        src[i] = flat + at;
        at += params[i]->size;
    }
    return src;
}

int ac_ckpt_format_version_for(const ac_config *config) {
    bool covariates = config->data.past_covariates[0] || config->data.future_covariates[0] ||
                      config->data.calendar || config->data.format == AC_FORMAT_LONG;
    return config->model.anchor == AC_ANCHOR_LAST || config->model.quantiles.count > 0 || covariates
               ? 2
               : 1;
}

static bool write_root(writer *w, const ac_ckpt_contents *c) {
    char created[32] = "";
    time_t now = time(NULL);
    struct tm utc;
    if (gmtime_r(&now, &utc)) strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &utc);
    int32_t version = ac_ckpt_format_version_for(c->config);
    if (c->calibration && version < 2) version = 2; /* /calibration is a version-2 feature */
    if (!write_string_attribute(w, w->file, "/", "format", AC_CKPT_FORMAT) ||
        !write_attribute(w, w->file, "/", "format_version", H5T_STD_I32LE, H5T_NATIVE_INT32,
                         &version) ||
        !write_string_attribute(w, w->file, "/", "created", created) ||
        !write_string_attribute(w, w->file, "/", "program_version", ac_version()))
        return false;
    char *ini = ac_config_to_ini(c->config);
    if (!ini) return write_failed(w, "out of memory for /config");
    const char *text = ini;
    bool ok = write_strings(w, w->file, "config", "/config", 0, &text, 1);
    free(ini);
    return ok;
}

static bool write_params(writer *w, const ac_ckpt_contents *c) {
    int n = ac_forecaster_param_count(c->model);
    const float **src = malloc((size_t)n * sizeof *src);
    if (!src) return write_failed(w, "out of memory for /params");
    ac_tensor *const *params = ac_forecaster_params(c->model);
    for (int i = 0; i < n; i++) src[i] = params[i]->data;
    bool ok = write_tensor_group(w, w->file, "params", "/params", c->model, src);
    free(src);
    return ok;
}

static bool write_scaler(writer *w, const ac_ckpt_contents *c) {
    hid_t g = create_group(w, w->file, "scaler", "/scaler");
    if (g < 0) return false;
    const ac_scaler *s = c->scaler;
    int S = c->series_count, columns = ac_scaler_columns(s); /* targets, then covariates */
    hsize_t dims[2] = {(hsize_t)(S > 0 ? S : columns), (hsize_t)columns};
    const double *mean = s->mean, *std = s->std;
    double *rows = NULL; /* long format: [S, C] means, then [S, C] stds */
    if (S > 0) {
        rows = malloc((size_t)2 * (size_t)S * (size_t)columns * sizeof *rows);
        if (!rows) {
            close_group(w, g, "/scaler", false);
            return write_failed(w, "out of memory for /scaler");
        }
        for (int i = 0; i < S; i++) {
            memcpy(rows + (size_t)i * columns, c->series_scalers[i].mean,
                   (size_t)columns * sizeof *rows);
            memcpy(rows + ((size_t)S + i) * columns, c->series_scalers[i].std,
                   (size_t)columns * sizeof *rows);
        }
        mean = rows;
        std = rows + (size_t)S * columns;
    }
    int rank = S > 0 ? 2 : 1;
    bool ok = write_dataset(w, g, "mean", "/scaler/mean", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, rank,
                            dims, mean) &&
              write_dataset(w, g, "std", "/scaler/std", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, rank,
                            dims, std) &&
              write_strings(w, g, "channels", "/scaler/channels", 1,
                            (const char *const *)c->channel_names, columns) &&
              (S == 0 ||
               write_strings(w, g, "ids", "/scaler/ids", 1, (const char *const *)c->series_ids, S));
    free(rows);
    return close_group(w, g, "/scaler", ok);
}

static bool write_optimizer(writer *w, const ac_ckpt_contents *c) {
    ac_optimizer_kind kind = c->config->train.optimizer;
    hid_t g = create_group(w, w->file, "optimizer", "/optimizer");
    if (g < 0) return false;
    int64_t step = ac_optimizer_step_count(c->optimizer);
    int64_t schedule_step = c->train ? c->train->step : step;
    bool ok = write_string_attribute(w, g, "/optimizer", "kind", ac_optimizer_kind_name(kind)) &&
              write_dataset(w, g, "step", "/optimizer/step", H5T_STD_I64LE, H5T_NATIVE_INT64, 0,
                            NULL, &step) &&
              write_dataset(w, g, "lr", "/optimizer/lr", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 0, NULL,
                            &c->lr) &&
              write_dataset(w, g, "schedule_step", "/optimizer/schedule_step", H5T_STD_I64LE,
                            H5T_NATIVE_INT64, 0, NULL, &schedule_step);
    int n = ac_forecaster_param_count(c->model);
    const float **src = malloc((size_t)n * sizeof *src);
    if (!src) ok = ok && write_failed(w, "out of memory for /optimizer");
    for (int slot = 0; ok && slot < ac_ck_kind_slots(kind); slot++) {
        for (int i = 0; i < n; i++) src[i] = ac_optimizer_state(c->optimizer, i, slot);
        char full[64];
        snprintf(full, sizeof full, "/optimizer/%s", ac_ck_slot_group(kind, slot));
        ok = write_tensor_group(w, g, ac_ck_slot_group(kind, slot), full, c->model, src);
    }
    free(src);
    return close_group(w, g, "/optimizer", ok);
}

static bool write_train(writer *w, const ac_ckpt_contents *c) {
    const ac_train_state *t = c->train;
    hid_t g = create_group(w, w->file, "train", "/train");
    if (g < 0) return false;
    int32_t epoch = t->epoch, best_epoch = t->best_epoch, bad_epochs = t->bad_epochs,
            stopped = t->stopped_early;
    uint64_t shuffle[2] = {t->shuffle_rng.state, t->shuffle_rng.inc};
    uint64_t dropout[2] = {t->dropout_rng.state, t->dropout_rng.inc};
    hsize_t two[1] = {2}, rows[1] = {(hsize_t)t->history_len};
    hid_t I32 = H5T_STD_I32LE, F64 = H5T_IEEE_F64LE, NI32 = H5T_NATIVE_INT32,
          ND = H5T_NATIVE_DOUBLE;
    bool ok =
        write_dataset(w, g, "epoch", "/train/epoch", I32, NI32, 0, NULL, &epoch) &&
        write_dataset(w, g, "global_step", "/train/global_step", H5T_STD_I64LE, H5T_NATIVE_INT64, 0,
                      NULL, &t->step) &&
        write_dataset(w, g, "best_val_loss", "/train/best_val_loss", F64, ND, 0, NULL,
                      &t->best_val_loss) &&
        write_dataset(w, g, "best_epoch", "/train/best_epoch", I32, NI32, 0, NULL, &best_epoch) &&
        write_dataset(w, g, "bad_epochs", "/train/bad_epochs", I32, NI32, 0, NULL, &bad_epochs) &&
        write_dataset(w, g, "stopped_early", "/train/stopped_early", I32, NI32, 0, NULL,
                      &stopped) &&
        write_dataset(w, g, "seconds", "/train/seconds", F64, ND, 0, NULL, &t->seconds) &&
        write_dataset(w, g, "rng_shuffle", "/train/rng_shuffle", H5T_STD_U64LE, H5T_NATIVE_UINT64,
                      1, two, shuffle) &&
        write_dataset(w, g, "rng_dropout", "/train/rng_dropout", H5T_STD_U64LE, H5T_NATIVE_UINT64,
                      1, two, dropout);
    if (ok) {
        hid_t ftype = ac_ck_history_type(true), mtype = ac_ck_history_type(false);
        ok = ftype >= 0 && mtype >= 0 ? write_dataset(w, g, "history", "/train/history", ftype,
                                                      mtype, 1, rows, t->history)
                                      : write_failed(w, "making the history table type");
        if (ftype >= 0) H5Tclose(ftype);
        if (mtype >= 0) H5Tclose(mtype);
    }
    if (ok && t->best_weights && isfinite(t->best_val_loss)) {
        const float **src = flat_sources(c->model, t->best_weights);
        ok = src ? write_tensor_group(w, g, "best_params", "/train/best_params", c->model, src)
                 : write_failed(w, "out of memory for /train/best_params");
        free(src);
    }
    return close_group(w, g, "/train", ok);
}

static bool write_calibration(writer *w, const ac_ckpt_contents *c) {
    const ac_calibration *cal = c->calibration;
    hid_t g = create_group(w, w->file, "calibration", "/calibration");
    if (g < 0) return false;
    int32_t windows = cal->windows > INT32_MAX ? INT32_MAX : (int32_t)cal->windows;
    hsize_t levels[1] = {(hsize_t)cal->count};
    hsize_t dims[3] = {(hsize_t)cal->count, (hsize_t)cal->horizon, (hsize_t)cal->channels};
    bool ok =
        write_dataset(w, g, "levels", "/calibration/levels", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1,
                      levels, cal->levels) &&
        write_dataset(w, g, "halfwidth", "/calibration/halfwidth", H5T_IEEE_F64LE,
                      H5T_NATIVE_DOUBLE, 3, dims, cal->halfwidth) &&
        write_attribute(w, g, "/calibration", "windows", H5T_STD_I32LE, H5T_NATIVE_INT32, &windows);
    return close_group(w, g, "/calibration", ok);
}

/* What is wrong with the contents (a caller's mistake), or NULL. */
static const char *contents_problem(const ac_ckpt_contents *c, char *buf, size_t n) {
    if (!c || !c->config || !c->model || !c->scaler || !c->scaler->mean || !c->scaler->std ||
        !c->channel_names)
        return "config, model, scaler and channel names are required";
    const ac_model_spec *spec = ac_forecaster_spec(c->model);
    int channels = spec->channels, columns = ac_scaler_columns(c->scaler);
    if (c->scaler->channels != channels) {
        snprintf(buf, n, "the scaler has %d channels, the model %d", c->scaler->channels, channels);
        return buf;
    }
    int past, future_real, calendar;
    ac_config_covariate_counts(c->config, &past, &future_real, &calendar);
    if (columns != channels + past + future_real) {
        snprintf(buf, n,
                 "the scaler has %d columns, the config implies %d targets and %d real "
                 "covariates",
                 columns, channels, past + future_real);
        return buf;
    }
    for (int i = 0; i < columns; i++)
        if (!c->channel_names[i]) return "a channel name is missing";
    if (c->series_count < 0 || (c->series_count > 0 && (!c->series_scalers || !c->series_ids)))
        return "a long-format checkpoint needs every series' id and scaler";
    for (int i = 0; i < c->series_count; i++) {
        const ac_scaler *sc = &c->series_scalers[i];
        if (!c->series_ids[i] || !sc->mean || !sc->std || sc->channels != channels ||
            ac_scaler_columns(sc) != columns)
            return "a series' id or scaler is missing or of another layout";
    }
    if ((c->series_count > 0) != (c->config->data.format == AC_FORMAT_LONG))
        return "series ids and scalers go with data.format = long, and only with it";
    int params = ac_forecaster_param_count(c->model);
    if (c->optimizer) {
        ac_optimizer_kind kind = c->config->train.optimizer;
        if (ac_optimizer_state_slots(c->optimizer) != ac_ck_kind_slots(kind)) {
            snprintf(buf, n,
                     "the optimizer keeps %d state buffers per parameter, train.optimizer "
                     "= %s keeps %d",
                     ac_optimizer_state_slots(c->optimizer), ac_optimizer_kind_name(kind),
                     ac_ck_kind_slots(kind));
            return buf;
        }
        if (!ac_optimizer_state(c->optimizer, params - 1, 0) ||
            ac_optimizer_state(c->optimizer, params, 0))
            return "the optimizer is not over the model's parameters";
    }
    const ac_calibration *cal = c->calibration;
    if (cal) {
        if (cal->count < 1 || !cal->levels || !cal->halfwidth)
            return "the calibration holds no level";
        if (cal->horizon != spec->horizon || cal->channels != channels) {
            snprintf(buf, n,
                     "the calibration is for horizon %d and %d channels, the model %d and %d",
                     cal->horizon, cal->channels, spec->horizon, channels);
            return buf;
        }
    }
    const ac_train_state *t = c->train;
    if (t) {
        if (t->history_len < 0 || (t->history_len > 0 && !t->history))
            return "the training history is missing";
        if (t->best_weights && isfinite(t->best_val_loss) &&
            t->weight_count != ac_forecaster_weight_count(c->model)) {
            snprintf(buf, n, "the best weights hold %lld values, the model %lld",
                     (long long)t->weight_count, (long long)ac_forecaster_weight_count(c->model));
            return buf;
        }
    }
    return NULL;
}

/* The file's bytes to tmp, on disk before this returns. */
static bool write_image(writer *w, const char *tmp, const unsigned char *image, size_t size) {
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    if (fd < 0) return write_failed(w, "cannot create %s: %s", tmp, strerror(errno));
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, image + done, size - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            write_failed(w, "writing %s: %s", tmp, n < 0 ? strerror(errno) : "nothing written");
            close(fd);
            return false;
        }
        done += (size_t)n;
    }
    if (fsync(fd) != 0) {
        write_failed(w, "syncing %s to disk: %s", tmp, strerror(errno));
        close(fd);
        return false;
    }
    return close(fd) == 0 || write_failed(w, "closing %s: %s", tmp, strerror(errno));
}

/* Builds the whole file in memory; its bytes in *image (malloc'd). */
static bool build_image(writer *w, const ac_ckpt_contents *c, const char *tmp,
                        unsigned char **image, size_t *size) {
    hid_t fapl = ac_ck_file_access();
    hid_t fcpl = H5Pcreate(H5P_FILE_CREATE);
    if (fapl >= 0 && fcpl >= 0 && H5Pset_fapl_core(fapl, CORE_INCREMENT, 0) >= 0 &&
        H5Pset_userblock(fcpl, CK_USERBLOCK) >= 0)
        w->file = H5Fcreate(tmp, H5F_ACC_TRUNC, fcpl, fapl); /* the name is a label */
    if (fapl >= 0) H5Pclose(fapl);
    if (fcpl >= 0) H5Pclose(fcpl);
    if (w->file < 0) return write_failed(w, "cannot start an HDF5 file in memory");
    bool ok = write_root(w, c) && write_params(w, c) && write_scaler(w, c) &&
              (!c->optimizer || write_optimizer(w, c)) && (!c->train || write_train(w, c)) &&
              (!c->calibration || write_calibration(w, c));
    if (ok && H5Fflush(w->file, H5F_SCOPE_GLOBAL) < 0) ok = write_failed(w, "flushing the file");
    ssize_t n = ok ? H5Fget_file_image(w->file, NULL, 0) : -1;
    if (ok && n <= 0) ok = write_failed(w, "taking the file image");
    /* HDF5's image leaves out the user block: it goes in front, then the seal into it */
    size_t total = ok ? CK_USERBLOCK + (size_t)n : 0;
    if (ok && !(*image = calloc(total, 1))) ok = write_failed(w, "out of memory for the file");
    if (ok && H5Fget_file_image(w->file, *image + CK_USERBLOCK, (size_t)n) != n)
        ok = write_failed(w, "taking the file image");
    if (H5Fclose(w->file) < 0) ok = ok && write_failed(w, "closing the file");
    if (ok) ac_ck_seal_image(*image, total);
    *size = ok ? total : 0;
    return ok;
}

/* Makes the rename itself durable; best effort (some file systems refuse fsync on folders). */
static void sync_folder(const char *path) {
    const char *slash = strrchr(path, '/');
    size_t len = !slash ? 1 : slash == path ? 1 : (size_t)(slash - path);
    char *dir = malloc(len + 1);
    if (!dir) return;
    if (!slash)
        strcpy(dir, ".");
    else
        memcpy(dir, slash == path ? "/" : path, len);
    dir[len] = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

ac_status ac_ckpt_write(const char *path, const ac_ckpt_contents *contents, ac_error *err) {
    char problem[160];
    const char *bad = contents_problem(contents, problem, sizeof problem);
    if (bad)
        return ac_error_set(err, AC_ERR_INVALID,
                            "%s: cannot write checkpoint: %s (the previous file is kept)", path,
                            bad);
    size_t tmp_size = strlen(path) + 32;
    char *tmp = malloc(tmp_size);
    if (!tmp)
        return ac_error_set(
            err, AC_ERR_NOMEM,
            "%s: cannot write checkpoint: out of memory (the previous file is kept)", path);
    snprintf(tmp, tmp_size, "%s.tmp.%ld", path, (long)getpid());
    ac_ck_quiet_hdf5();

    writer w = {.file = H5I_INVALID_HID};
    unsigned char *image = NULL;
    size_t size = 0;
    bool ok = build_image(&w, contents, tmp, &image, &size) && write_image(&w, tmp, image, size);
    free(image);
    if (ok && rename(tmp, path) != 0)
        ok = write_failed(&w, "renaming %s over it: %s", tmp, strerror(errno));
    if (!ok) {
        unlink(tmp);
        free(tmp);
        return ac_error_set(err, AC_ERR_IO,
                            "%s: cannot write checkpoint: %s (the previous file is kept)", path,
                            w.what);
    }
    free(tmp);
    sync_folder(path);
    return AC_OK;
}
