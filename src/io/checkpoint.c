/* checkpoint.c - HDF5 checkpoints laid out exactly as checkpoint.h (and MODEL.md) say.
 *
 * Writing builds the whole file in memory (HDF5's core driver), writes its bytes to
 * "<path>.tmp.<pid>" in the target's folder, fsyncs it, renames it over the target and fsyncs
 * the folder; any failure removes the temporary file and leaves the previous checkpoint as it
 * was. Building in memory keeps every disk error (full disk, file size limit) in plain POSIX
 * calls with errno: HDF5 1.10 cannot recover from a failed flush of a file on disk (the file id
 * stays registered half-closed and the library crashes at exit when it closes it again). Reading
 * goes from the outside in (a file, HDF5, the format attribute and version, the config, the scaler,
 * the model that config implies, its parameters, then the optional optimizer and training state)
 * and trusts nothing it has not checked; the first problem becomes one line naming the file
 * and the HDF5 path. Files are opened with the strong close degree, so closing one also
 * closes any handle a failure left open; every helper still closes its own handles on every
 * path. HDF5 prints its error stack only when ATTNCAST_DEBUG is set.
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
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <hdf5.h>

#include "attncast/attncast.h"

#define PATH_TEXT      1280    /* an HDF5 path inside the file: group + parameter name */
#define MAX_CHANNELS   1000000 /* more channels than this is a damaged file, not a dataset */
#define QUOTE_MAX      60      /* longest piece of a foreign string quoted in a message */
#define LOCATE_NOTE    " (the stored config implies it)"
#define SHAPE_NOTE     "the stored config implies"
#define CORE_INCREMENT (1 << 20) /* the in-memory file grows by this many bytes at a time */

/* ---- shared by writing and reading ---- */

static void quiet_hdf5(void) {
    if (!getenv("ATTNCAST_DEBUG")) H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

/* File access with the strong close degree: H5Fclose closes every object still open. */
static hid_t file_access(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0 && H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0) {
        H5Pclose(fapl);
        return H5I_INVALID_HID;
    }
    return fapl;
}

/* Variable-length UTF-8 strings, as h5py writes str. */
static hid_t utf8_string_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t >= 0 && (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0)) {
        H5Tclose(t);
        return H5I_INVALID_HID;
    }
    return t;
}

/* The optimizer state groups, torch's names: slot 0 and 1 of ac_optimizer_state. */
static int kind_slots(ac_optimizer_kind kind) {
    return kind == AC_OPT_SGD ? 1 : 2;
}

static const char *slot_group(ac_optimizer_kind kind, int slot) {
    if (kind == AC_OPT_SGD) return "momentum_buffer";
    return slot == 0 ? "exp_avg" : "exp_avg_sq";
}

/* The /train/history table: one int32 column, then float64 columns. */
typedef struct history_field {
    const char *name;
    size_t offset; /* in ac_epoch_record */
    bool integer;
} history_field;

static const history_field HISTORY_FIELDS[] = {
    {"epoch", offsetof(ac_epoch_record, epoch), true},
    {"train_loss", offsetof(ac_epoch_record, train_loss), false},
    {"val_loss", offsetof(ac_epoch_record, val_loss), false},
    {"lr", offsetof(ac_epoch_record, lr), false},
    {"seconds", offsetof(ac_epoch_record, seconds), false},
    {"windows_per_s", offsetof(ac_epoch_record, windows_per_s), false},
};
#define HISTORY_FIELD_COUNT (sizeof HISTORY_FIELDS / sizeof HISTORY_FIELDS[0])

/* The history compound type in memory (native, at ac_epoch_record's offsets) or in the file
 * (little-endian and packed: 4 + 5 * 8 = 44 bytes a row). */
static hid_t history_type(bool in_file) {
    size_t packed = 0;
    for (size_t i = 0; i < HISTORY_FIELD_COUNT; i++) packed += HISTORY_FIELDS[i].integer ? 4 : 8;
    hid_t t = H5Tcreate(H5T_COMPOUND, in_file ? packed : sizeof(ac_epoch_record));
    size_t at = 0;
    for (size_t i = 0; t >= 0 && i < HISTORY_FIELD_COUNT; i++) {
        const history_field *f = &HISTORY_FIELDS[i];
        hid_t member = f->integer ? (in_file ? H5T_STD_I32LE : H5T_NATIVE_INT)
                                  : (in_file ? H5T_IEEE_F64LE : H5T_NATIVE_DOUBLE);
        if (H5Tinsert(t, f->name, in_file ? at : f->offset, member) < 0) {
            H5Tclose(t);
            return H5I_INVALID_HID;
        }
        at += f->integer ? 4 : 8;
    }
    return t;
}

/* "[96, 704]"; "[]" for a scalar. */
static void shape_text(int rank, const hsize_t *dims, char *buf, size_t n) {
    size_t used = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < rank && used < n; i++)
        used += (size_t)snprintf(buf + used, n - used, "%s%llu", i ? ", " : "",
                                 (unsigned long long)dims[i]);
    if (used < n) snprintf(buf + used, n - used, "]");
}

/* ---- writing ---- */

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
    hid_t t = utf8_string_type();
    if (t < 0) return write_failed(w, "making the string type");
    bool ok = write_attribute(w, obj, where, name, t, t, &value);
    H5Tclose(t);
    return ok;
}

/* Strings: a scalar dataset (rank 0, n = 1) or an array of n. */
static bool write_strings(writer *w, hid_t loc, const char *name, const char *full, int rank,
                          const char *const *values, int n) {
    hid_t t = utf8_string_type();
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

static bool write_root(writer *w, const ac_ckpt_contents *c) {
    char created[32] = "";
    time_t now = time(NULL);
    struct tm utc;
    if (gmtime_r(&now, &utc)) strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &utc);
    int32_t version = AC_CKPT_FORMAT_VERSION;
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
    hsize_t dims[1] = {(hsize_t)s->channels};
    bool ok = write_dataset(w, g, "mean", "/scaler/mean", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1,
                            dims, s->mean) &&
              write_dataset(w, g, "std", "/scaler/std", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, dims,
                            s->std) &&
              write_strings(w, g, "channels", "/scaler/channels", 1,
                            (const char *const *)c->channel_names, s->channels);
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
    for (int slot = 0; ok && slot < kind_slots(kind); slot++) {
        for (int i = 0; i < n; i++) src[i] = ac_optimizer_state(c->optimizer, i, slot);
        char full[64];
        snprintf(full, sizeof full, "/optimizer/%s", slot_group(kind, slot));
        ok = write_tensor_group(w, g, slot_group(kind, slot), full, c->model, src);
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
        hid_t ftype = history_type(true), mtype = history_type(false);
        ok = ftype >= 0 && mtype >= 0 ? write_dataset(w, g, "history", "/train/history", ftype,
                                                      mtype, 1, rows, t->history)
                                      : write_failed(w, "making the history table type");
        if (ftype >= 0) H5Tclose(ftype);
        if (mtype >= 0) H5Tclose(mtype);
    }
    if (ok && t->best_weights && t->best_epoch > 0) {
        const float **src = flat_sources(c->model, t->best_weights);
        ok = src ? write_tensor_group(w, g, "best_params", "/train/best_params", c->model, src)
                 : write_failed(w, "out of memory for /train/best_params");
        free(src);
    }
    return close_group(w, g, "/train", ok);
}

/* What is wrong with the contents (a caller's mistake), or NULL. */
static const char *contents_problem(const ac_ckpt_contents *c, char *buf, size_t n) {
    if (!c || !c->config || !c->model || !c->scaler || !c->scaler->mean || !c->scaler->std ||
        !c->channel_names)
        return "config, model, scaler and channel names are required";
    int channels = ac_forecaster_spec(c->model)->channels;
    if (c->scaler->channels != channels) {
        snprintf(buf, n, "the scaler has %d channels, the model %d", c->scaler->channels, channels);
        return buf;
    }
    for (int i = 0; i < channels; i++)
        if (!c->channel_names[i]) return "a channel name is missing";
    int params = ac_forecaster_param_count(c->model);
    if (c->optimizer) {
        ac_optimizer_kind kind = c->config->train.optimizer;
        if (ac_optimizer_state_slots(c->optimizer) != kind_slots(kind)) {
            snprintf(buf, n,
                     "the optimizer keeps %d state buffers per parameter, train.optimizer "
                     "= %s keeps %d",
                     ac_optimizer_state_slots(c->optimizer), ac_optimizer_kind_name(kind),
                     kind_slots(kind));
            return buf;
        }
        if (!ac_optimizer_state(c->optimizer, params - 1, 0) ||
            ac_optimizer_state(c->optimizer, params, 0))
            return "the optimizer is not over the model's parameters";
    }
    const ac_train_state *t = c->train;
    if (t) {
        if (t->history_len < 0 || (t->history_len > 0 && !t->history))
            return "the training history is missing";
        if (t->best_weights && t->best_epoch > 0 &&
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
    hid_t fapl = file_access();
    if (fapl >= 0 && H5Pset_fapl_core(fapl, CORE_INCREMENT, 0) >= 0)
        w->file = H5Fcreate(tmp, H5F_ACC_TRUNC, H5P_DEFAULT, fapl); /* the name is a label */
    if (fapl >= 0) H5Pclose(fapl);
    if (w->file < 0) return write_failed(w, "cannot start an HDF5 file in memory");
    bool ok = write_root(w, c) && write_params(w, c) && write_scaler(w, c) &&
              (!c->optimizer || write_optimizer(w, c)) && (!c->train || write_train(w, c));
    if (ok && H5Fflush(w->file, H5F_SCOPE_GLOBAL) < 0) ok = write_failed(w, "flushing the file");
    ssize_t n = ok ? H5Fget_file_image(w->file, NULL, 0) : -1;
    if (ok && n <= 0) ok = write_failed(w, "taking the file image");
    if (ok && !(*image = malloc((size_t)n))) ok = write_failed(w, "out of memory for the file");
    if (ok && H5Fget_file_image(w->file, *image, (size_t)n) != n)
        ok = write_failed(w, "taking the file image");
    if (H5Fclose(w->file) < 0) ok = ok && write_failed(w, "closing the file");
    *size = ok ? (size_t)n : 0;
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
    quiet_hdf5();

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

/* ---- reading ---- */

typedef struct reader {
    const char *path; /* the file, for messages */
    hid_t file;
    ac_error *err;
    ac_status code; /* of the first failure */
} reader;

static bool read_failed(reader *r, ac_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "PATH: <message>"; always false. */
static bool read_failed(reader *r, ac_status code, const char *fmt, ...) {
    char msg[AC_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->code = code;
    ac_error_set(r->err, code, "%s: %s", r->path, msg);
    return false;
}

static bool damaged(reader *r, const char *full) {
    return read_failed(r, AC_ERR_FORMAT, "%s cannot be read (damaged file)", full);
}

static bool nomem(reader *r, const char *full) {
    return read_failed(r, AC_ERR_NOMEM, "out of memory while reading %s", full);
}

static bool has_link(hid_t loc, const char *name) {
    return H5Lexists(loc, name, H5P_DEFAULT) > 0;
}

static hid_t open_group(reader *r, hid_t loc, const char *name, const char *full) {
    if (!has_link(loc, name)) {
        read_failed(r, AC_ERR_FORMAT, "%s is missing", full);
        return H5I_INVALID_HID;
    }
    hid_t g = H5Gopen2(loc, name, H5P_DEFAULT);
    if (g < 0) read_failed(r, AC_ERR_FORMAT, "%s is not a group", full);
    return g;
}

/* missing_note follows "FULL is missing" in the message. */
static hid_t open_dataset(reader *r, hid_t loc, const char *name, const char *full,
                          const char *missing_note) {
    if (!has_link(loc, name)) {
        read_failed(r, AC_ERR_FORMAT, "%s is missing%s", full, missing_note);
        return H5I_INVALID_HID;
    }
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) read_failed(r, AC_ERR_FORMAT, "%s is not a dataset", full);
    return d;
}

static const char *class_text(H5T_class_t cls) {
    switch (cls) {
    case H5T_INTEGER:
        return "integers";
    case H5T_FLOAT:
        return "floating-point numbers";
    case H5T_STRING:
        return "strings";
    case H5T_COMPOUND:
        return "a compound table";
    default:
        return "values of another type";
    }
}

static bool check_class(reader *r, hid_t dset, const char *full, H5T_class_t want) {
    hid_t t = H5Dget_type(dset);
    if (t < 0) return damaged(r, full);
    H5T_class_t got = H5Tget_class(t);
    H5Tclose(t);
    if (got == want) return true;
    return read_failed(r, AC_ERR_FORMAT, "%s holds %s, expected %s", full, class_text(got),
                       class_text(want));
}

/* The dataset's rank (0 for a scalar) and dims; -1 when it has no shape (a null dataspace). */
static int dataset_shape(hid_t dset, hsize_t dims[H5S_MAX_RANK]) {
    hid_t space = H5Dget_space(dset);
    if (space < 0) return -1;
    int rank = -1;
    H5S_class_t cls = H5Sget_simple_extent_type(space);
    if (cls == H5S_SCALAR)
        rank = 0;
    else if (cls == H5S_SIMPLE)
        rank = H5Sget_simple_extent_dims(space, dims, NULL);
    H5Sclose(space);
    return rank;
}

/* The dataset has exactly rank and dims (a scalar also accepts one element of rank 1); the
 * message says "FULL has shape [..], <expectation> [..]". */
static bool check_shape(reader *r, hid_t dset, const char *full, int rank, const hsize_t *dims,
                        const char *expectation) {
    hsize_t got[H5S_MAX_RANK];
    int got_rank = dataset_shape(dset, got);
    if (got_rank < 0) return read_failed(r, AC_ERR_FORMAT, "%s holds no data", full);
    bool same = got_rank == rank;
    for (int i = 0; same && i < rank; i++) same = got[i] == dims[i];
    if (rank == 0 && got_rank == 1 && got[0] == 1) same = true;
    if (same) return true;
    char have[128], want[128];
    shape_text(got_rank, got, have, sizeof have);
    shape_text(rank, dims, want, sizeof want);
    return read_failed(r, AC_ERR_FORMAT, "%s has shape %s, %s %s", full, have, expectation, want);
}

/* Reads loc/name, of class cls and exactly the given shape, as mtype into buf. */
static bool read_numbers(reader *r, hid_t loc, const char *name, const char *full, H5T_class_t cls,
                         hid_t mtype, int rank, const hsize_t *dims, const char *expectation,
                         void *buf) {
    hid_t d = open_dataset(r, loc, name, full, "");
    if (d < 0) return false;
    bool ok = check_class(r, d, full, cls) && check_shape(r, d, full, rank, dims, expectation);
    if (ok && H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) ok = damaged(r, full);
    H5Dclose(d);
    return ok;
}

static bool read_scalar(reader *r, hid_t g, const char *group, const char *name, H5T_class_t cls,
                        hid_t mtype, void *buf) {
    char full[128];
    snprintf(full, sizeof full, "%s/%s", group, name);
    return read_numbers(r, g, name, full, cls, mtype, 0, NULL, "expected", buf);
}

typedef enum string_result { STRINGS_OK, STRINGS_NOT_STRINGS, STRINGS_FAILED } string_result;

/* Reads the n strings of an attribute (is_attr) or a dataset, variable- or fixed-length, into
 * out[0..n) as malloc'd copies (a NULL variable-length string reads as ""). */
static string_result read_strings(hid_t obj, bool is_attr, int n, char **out) {
    hid_t ftype = is_attr ? H5Aget_type(obj) : H5Dget_type(obj);
    hid_t space = is_attr ? H5Aget_space(obj) : H5Dget_space(obj);
    hid_t mtype = H5I_INVALID_HID;
    string_result result = STRINGS_FAILED;
    if (ftype < 0 || space < 0) goto done;
    if (H5Tget_class(ftype) != H5T_STRING) {
        result = STRINGS_NOT_STRINGS;
        goto done;
    }
    if (H5Sget_simple_extent_npoints(space) != n) goto done;
    htri_t variable = H5Tis_variable_str(ftype);
    size_t fixed = variable > 0 ? 0 : H5Tget_size(ftype);
    mtype = H5Tcopy(H5T_C_S1);
    if (variable < 0 || mtype < 0 || H5Tset_cset(mtype, H5Tget_cset(ftype)) < 0 ||
        H5Tset_size(mtype, variable > 0 ? H5T_VARIABLE : fixed + 1) < 0 ||
        (!variable && H5Tset_strpad(mtype, H5T_STR_NULLTERM) < 0))
        goto done;
    size_t each = variable > 0 ? sizeof(char *) : fixed + 1;
    char *buf = calloc((size_t)n, each);
    if (!buf) goto done;
    herr_t rc = is_attr ? H5Aread(obj, mtype, buf)
                        : H5Dread(obj, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    if (rc >= 0) {
        result = STRINGS_OK;
        for (int i = 0; i < n; i++) {
            const char *s = variable > 0 ? ((char **)(void *)buf)[i] : buf + (size_t)i * each;
            out[i] = strdup(s ? s : "");
            if (!out[i]) result = STRINGS_FAILED;
        }
        if (variable > 0) H5Dvlen_reclaim(mtype, space, H5P_DEFAULT, buf);
    }
    free(buf);
done:
    if (mtype >= 0) H5Tclose(mtype);
    if (space >= 0) H5Sclose(space);
    if (ftype >= 0) H5Tclose(ftype);
    return result;
}

typedef enum attr_result { ATTR_OK, ATTR_MISSING, ATTR_WRONG_TYPE, ATTR_FAILED } attr_result;

/* The string attribute name on obj, malloc'd into *out. */
static attr_result read_string_attribute(hid_t obj, const char *name, char **out) {
    *out = NULL;
    if (H5Aexists(obj, name) <= 0) return ATTR_MISSING;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return ATTR_FAILED;
    string_result rc = read_strings(a, true, 1, out);
    H5Aclose(a);
    return rc == STRINGS_OK ? ATTR_OK : rc == STRINGS_NOT_STRINGS ? ATTR_WRONG_TYPE : ATTR_FAILED;
}

static attr_result read_int_attribute(hid_t obj, const char *name, int *out) {
    if (H5Aexists(obj, name) <= 0) return ATTR_MISSING;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return ATTR_FAILED;
    hid_t t = H5Aget_type(a), space = H5Aget_space(a);
    attr_result result = ATTR_FAILED;
    if (t >= 0 && H5Tget_class(t) != H5T_INTEGER)
        result = ATTR_WRONG_TYPE;
    else if (t >= 0 && space >= 0 && H5Sget_simple_extent_npoints(space) == 1 &&
             H5Aread(a, H5T_NATIVE_INT, out) >= 0)
        result = ATTR_OK;
    if (space >= 0) H5Sclose(space);
    if (t >= 0) H5Tclose(t);
    H5Aclose(a);
    return result;
}

/* Length of the printable start of a foreign string, for quoting it on one line. */
static int quote_len(const char *s) {
    int n = 0;
    while (n < QUOTE_MAX && s[n] && (unsigned char)s[n] >= 0x20) n++;
    return n;
}

static void copy_text(char *dst, size_t n, const char *src) {
    snprintf(dst, n, "%.*s", (int)strcspn(src, "\r\n"), src);
}

static bool read_header(reader *r, ac_checkpoint *ck) {
    char *format = NULL;
    switch (read_string_attribute(r->file, "format", &format)) {
    case ATTR_MISSING:
        return read_failed(r, AC_ERR_FORMAT,
                           "not an attncast checkpoint (attribute 'format' on / is missing)");
    case ATTR_WRONG_TYPE:
        return read_failed(r, AC_ERR_FORMAT,
                           "not an attncast checkpoint (attribute 'format' on / is not a string)");
    case ATTR_FAILED:
        return read_failed(r, AC_ERR_FORMAT, "attribute 'format' on / cannot be read");
    case ATTR_OK:
        break;
    }
    if (strcmp(format, AC_CKPT_FORMAT) != 0) {
        read_failed(r, AC_ERR_FORMAT,
                    "not an attncast checkpoint (attribute 'format' on / is '%.*s')",
                    quote_len(format), format);
        free(format);
        return false;
    }
    free(format);

    switch (read_int_attribute(r->file, "format_version", &ck->format_version)) {
    case ATTR_MISSING:
        return read_failed(
            r, AC_ERR_FORMAT,
            "not an attncast checkpoint (attribute 'format_version' on / is missing)");
    case ATTR_WRONG_TYPE:
        return read_failed(r, AC_ERR_FORMAT, "attribute 'format_version' on / is not an integer");
    case ATTR_FAILED:
        return read_failed(r, AC_ERR_FORMAT, "attribute 'format_version' on / cannot be read");
    case ATTR_OK:
        break;
    }
    if (ck->format_version != AC_CKPT_FORMAT_VERSION)
        return read_failed(r, AC_ERR_FORMAT,
                           "checkpoint format_version %d is not supported (this attncast reads "
                           "version %d)",
                           ck->format_version, AC_CKPT_FORMAT_VERSION);

    /* informative only: a file without them still loads */
    char *text = NULL;
    if (read_string_attribute(r->file, "created", &text) == ATTR_OK)
        copy_text(ck->created, sizeof ck->created, text);
    free(text);
    if (read_string_attribute(r->file, "program_version", &text) == ATTR_OK)
        copy_text(ck->program_version, sizeof ck->program_version, text);
    free(text);
    return true;
}

static bool read_config(reader *r, ac_checkpoint *ck) {
    hid_t d = open_dataset(r, r->file, "config", "/config", " (the resolved configuration)");
    if (d < 0) return false;
    char *text = NULL;
    string_result rc = read_strings(d, false, 1, &text);
    H5Dclose(d);
    if (rc == STRINGS_NOT_STRINGS) return read_failed(r, AC_ERR_FORMAT, "/config is not a string");
    if (rc != STRINGS_OK) {
        free(text);
        return read_failed(r, AC_ERR_FORMAT, "/config is not one readable string");
    }
    size_t source_size = strlen(r->path) + sizeof ":/config";
    char *source = malloc(source_size);
    if (!source) {
        free(text);
        return nomem(r, "/config");
    }
    snprintf(source, source_size, "%s:/config", r->path);
    ac_config_defaults(&ck->config);
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

static bool read_scaler(reader *r, ac_checkpoint *ck) {
    hid_t g = open_group(r, r->file, "scaler", "/scaler");
    if (g < 0) return false;
    hid_t d = open_dataset(r, g, "channels", "/scaler/channels", "");
    bool ok = d >= 0 && check_class(r, d, "/scaler/channels", H5T_STRING);
    hsize_t dims[H5S_MAX_RANK];
    if (ok && (dataset_shape(d, dims) != 1 || dims[0] < 1 || dims[0] > MAX_CHANNELS))
        ok = read_failed(r, AC_ERR_FORMAT,
                         "/scaler/channels is not a list of 1 to %d channel names", MAX_CHANNELS);
    if (ok) {
        ck->channels = (int)dims[0];
        ck->channel_names = calloc(dims[0], sizeof *ck->channel_names);
        if (!ck->channel_names)
            ok = nomem(r, "/scaler/channels");
        else if (read_strings(d, false, ck->channels, ck->channel_names) != STRINGS_OK)
            ok = damaged(r, "/scaler/channels");
    }
    if (d >= 0) H5Dclose(d);
    if (ok) {
        ck->scaler.channels = ck->channels;
        ck->scaler.mean = malloc(dims[0] * sizeof(double));
        ck->scaler.std = malloc(dims[0] * sizeof(double));
        if (!ck->scaler.mean || !ck->scaler.std) ok = nomem(r, "/scaler");
    }
    const char *implied = "/scaler/channels implies";
    ok = ok &&
         read_numbers(r, g, "mean", "/scaler/mean", H5T_FLOAT, H5T_NATIVE_DOUBLE, 1, dims, implied,
                      ck->scaler.mean) &&
         read_numbers(r, g, "std", "/scaler/std", H5T_FLOAT, H5T_NATIVE_DOUBLE, 1, dims, implied,
                      ck->scaler.std);
    H5Gclose(g);
    for (int c = 0; ok && c < ck->channels; c++) {
        if (!isfinite(ck->scaler.mean[c]))
            ok = read_failed(r, AC_ERR_FORMAT, "/scaler/mean[%d] is not a finite number", c);
        else if (!isfinite(ck->scaler.std[c]) || !(ck->scaler.std[c] > 0))
            ok = read_failed(r, AC_ERR_FORMAT,
                             "/scaler/std[%d] = %g is not a positive finite "
                             "number",
                             c, ck->scaler.std[c]);
    }
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
    snprintf(check->unknown, sizeof check->unknown, "%.*s", quote_len(name), name);
    return 1;
}

/* Reads the float32 dataset of every parameter under parent/name into dst[i] (registration
 * order), each shaped as the model's parameter and finite, and refuses any other link there. */
static bool read_tensor_group(reader *r, hid_t parent, const char *name, const char *full,
                              const ac_forecaster *model, float *const *dst) {
    hid_t g = open_group(r, parent, name, full);
    if (g < 0) return false;
    ac_tensor *const *params = ac_forecaster_params(model);
    bool ok = true;
    for (int i = 0; ok && i < ac_forecaster_param_count(model); i++) {
        const ac_tensor *p = params[i];
        char at[PATH_TEXT];
        snprintf(at, sizeof at, "%s/%s", full, p->name);
        hid_t d = open_dataset(r, g, p->name, at, LOCATE_NOTE);
        if (d < 0) {
            ok = false;
            break;
        }
        hsize_t dims[AC_MAX_DIMS];
        for (int k = 0; k < p->ndim; k++) dims[k] = (hsize_t)p->shape[k];
        ok = check_class(r, d, at, H5T_FLOAT) && check_shape(r, d, at, p->ndim, dims, SHAPE_NOTE);
        if (ok && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, dst[i]) < 0)
            ok = damaged(r, at);
        H5Dclose(d);
        for (int64_t k = 0; ok && k < p->size; k++)
            if (!isfinite(dst[i][k]))
                ok = read_failed(r, AC_ERR_FORMAT, "%s holds a non-finite value (NaN or Inf)", at);
    }
    if (ok) {
        link_check check = {.model = model};
        herr_t rc = H5Literate(g, H5_INDEX_NAME, H5_ITER_NATIVE, NULL, find_unknown_link, &check);
        if (rc > 0)
            ok = read_failed(r, AC_ERR_FORMAT, "%s/%s is not a parameter of this architecture",
                             full, check.unknown);
        else if (rc < 0)
            ok = damaged(r, full);
    }
    H5Gclose(g);
    return ok;
}

static bool read_params(reader *r, ac_checkpoint *ck) {
    int n = ac_forecaster_param_count(ck->model);
    float **dst = malloc((size_t)n * sizeof *dst);
    if (!dst) return nomem(r, "/params");
    ac_tensor *const *params = ac_forecaster_params(ck->model);
    for (int i = 0; i < n; i++) dst[i] = params[i]->data;
    bool ok = read_tensor_group(r, r->file, "params", "/params", ck->model, dst);
    free(dst);
    return ok;
}

static bool read_optimizer(reader *r, ac_checkpoint *ck) {
    if (!has_link(r->file, "optimizer")) return true;
    hid_t g = open_group(r, r->file, "optimizer", "/optimizer");
    if (g < 0) return false;
    char *kind = NULL;
    bool ok = true, known = false;
    switch (read_string_attribute(g, "kind", &kind)) {
    case ATTR_MISSING:
        ok = read_failed(r, AC_ERR_FORMAT, "/optimizer has no attribute 'kind'");
        break;
    case ATTR_WRONG_TYPE:
        ok = read_failed(r, AC_ERR_FORMAT, "/optimizer attribute 'kind' is not a string");
        break;
    case ATTR_FAILED:
        ok = damaged(r, "/optimizer attribute 'kind'");
        break;
    case ATTR_OK:
        for (int k = AC_OPT_ADAM; k <= AC_OPT_SGD && !known; k++)
            if (strcmp(kind, ac_optimizer_kind_name((ac_optimizer_kind)k)) == 0) {
                ck->optimizer_kind = (ac_optimizer_kind)k;
                known = true;
            }
        if (!known)
            ok = read_failed(r, AC_ERR_FORMAT,
                             "/optimizer attribute 'kind' is '%.*s' (expected adam, adamw or sgd)",
                             quote_len(kind), kind);
        else if (ck->optimizer_kind != ck->config.train.optimizer)
            ok = read_failed(r, AC_ERR_FORMAT,
                             "/optimizer attribute 'kind' is '%s' but /config has "
                             "train.optimizer = %s",
                             kind, ac_optimizer_kind_name(ck->config.train.optimizer));
        break;
    }
    free(kind);
    ok = ok &&
         read_scalar(r, g, "/optimizer", "step", H5T_INTEGER, H5T_NATIVE_INT64,
                     &ck->optimizer_step) &&
         read_scalar(r, g, "/optimizer", "lr", H5T_FLOAT, H5T_NATIVE_DOUBLE, &ck->lr) &&
         read_scalar(r, g, "/optimizer", "schedule_step", H5T_INTEGER, H5T_NATIVE_INT64,
                     &ck->schedule_step);
    if (ok && ck->optimizer_step < 0)
        ok = read_failed(r, AC_ERR_FORMAT, "/optimizer/step is negative");
    if (ok && ck->schedule_step < 0)
        ok = read_failed(r, AC_ERR_FORMAT, "/optimizer/schedule_step is negative");
    if (ok && !(isfinite(ck->lr) && ck->lr >= 0))
        ok = read_failed(r, AC_ERR_FORMAT, "/optimizer/lr is not a finite non-negative number");

    int n = ac_forecaster_param_count(ck->model);
    ac_tensor *const *params = ac_forecaster_params(ck->model);
    float **dst = NULL;
    if (ok) {
        ck->optimizer_slots = kind_slots(ck->optimizer_kind);
        ck->optimizer_state = calloc((size_t)n * (size_t)ck->optimizer_slots, sizeof(float *));
        dst = malloc((size_t)n * sizeof *dst);
        if (!ck->optimizer_state || !dst) ok = nomem(r, "/optimizer");
    }
    for (int slot = 0; ok && slot < ck->optimizer_slots; slot++) {
        for (int i = 0; ok && i < n; i++) {
            float *buf = malloc((size_t)params[i]->size * sizeof(float));
            ck->optimizer_state[i * ck->optimizer_slots + slot] = buf;
            dst[i] = buf;
            if (!buf) ok = nomem(r, "/optimizer");
        }
        const char *name = slot_group(ck->optimizer_kind, slot);
        char full[64];
        snprintf(full, sizeof full, "/optimizer/%s", name);
        ok = ok && read_tensor_group(r, g, name, full, ck->model, dst);
    }
    free(dst);
    H5Gclose(g);
    ck->has_optimizer = ok;
    return ok;
}

/* The history table: a compound with every column of HISTORY_FIELDS, epoch rows long. */
static bool read_history(reader *r, hid_t g, ac_checkpoint *ck) {
    const char *full = "/train/history";
    hid_t d = open_dataset(r, g, "history", full, "");
    if (d < 0) return false;
    bool ok = check_class(r, d, full, H5T_COMPOUND);
    hid_t t = ok ? H5Dget_type(d) : H5I_INVALID_HID;
    if (ok && t < 0) ok = damaged(r, full);
    for (size_t i = 0; ok && i < HISTORY_FIELD_COUNT; i++) {
        const history_field *f = &HISTORY_FIELDS[i];
        int at = H5Tget_member_index(t, f->name);
        H5T_class_t want = f->integer ? H5T_INTEGER : H5T_FLOAT;
        H5T_class_t got = at < 0 ? H5T_NO_CLASS : H5Tget_member_class(t, (unsigned)at);
        if (at < 0)
            ok = read_failed(r, AC_ERR_FORMAT, "%s has no column '%s'", full, f->name);
        else if (got != want)
            ok = read_failed(r, AC_ERR_FORMAT, "%s column '%s' holds %s, expected %s", full,
                             f->name, class_text(got), class_text(want));
    }
    if (t >= 0) H5Tclose(t);
    hsize_t rows[1] = {(hsize_t)ck->train.epoch};
    ok = ok && check_shape(r, d, full, 1, rows, "/train/epoch implies");
    hid_t mtype = ok ? history_type(false) : H5I_INVALID_HID;
    if (ok && mtype < 0) ok = damaged(r, full);
    if (ok && rows[0] > 0) {
        ck->history = calloc(rows[0], sizeof *ck->history);
        if (!ck->history)
            ok = nomem(r, full);
        else if (H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, ck->history) < 0)
            ok = damaged(r, full);
    }
    if (mtype >= 0) H5Tclose(mtype);
    H5Dclose(d);
    for (int i = 0; ok && i < ck->train.epoch; i++)
        if (ck->history[i].epoch != i + 1)
            ok = read_failed(r, AC_ERR_FORMAT, "%s row %d has epoch %d (expected %d)", full, i + 1,
                             ck->history[i].epoch, i + 1);
    return ok;
}

static bool read_rng(reader *r, hid_t g, const char *name, ac_rng *rng) {
    char full[64];
    snprintf(full, sizeof full, "/train/%s", name);
    uint64_t words[2];
    hsize_t two[1] = {2};
    if (!read_numbers(r, g, name, full, H5T_INTEGER, H5T_NATIVE_UINT64, 1, two, "expected", words))
        return false;
    if (!(words[1] & 1))
        return read_failed(r, AC_ERR_FORMAT,
                           "%s has an even increment %llu (a PCG32 increment is odd)", full,
                           (unsigned long long)words[1]);
    rng->state = words[0];
    rng->inc = words[1];
    return true;
}

static bool read_train(reader *r, ac_checkpoint *ck) {
    if (!has_link(r->file, "train")) return true;
    hid_t g = open_group(r, r->file, "train", "/train");
    if (g < 0) return false;
    ac_train_state *t = &ck->train;
    const char *G = "/train";
    bool ok =
        read_scalar(r, g, G, "epoch", H5T_INTEGER, H5T_NATIVE_INT, &t->epoch) &&
        read_scalar(r, g, G, "global_step", H5T_INTEGER, H5T_NATIVE_INT64, &t->step) &&
        read_scalar(r, g, G, "best_val_loss", H5T_FLOAT, H5T_NATIVE_DOUBLE, &t->best_val_loss) &&
        read_scalar(r, g, G, "best_epoch", H5T_INTEGER, H5T_NATIVE_INT, &t->best_epoch) &&
        read_scalar(r, g, G, "bad_epochs", H5T_INTEGER, H5T_NATIVE_INT, &t->bad_epochs) &&
        read_scalar(r, g, G, "stopped_early", H5T_INTEGER, H5T_NATIVE_INT, &t->stopped_early) &&
        read_scalar(r, g, G, "seconds", H5T_FLOAT, H5T_NATIVE_DOUBLE, &t->seconds) &&
        read_rng(r, g, "rng_shuffle", &t->shuffle_rng) &&
        read_rng(r, g, "rng_dropout", &t->dropout_rng);
    if (ok && t->epoch < 0)
        ok = read_failed(r, AC_ERR_FORMAT, "/train/epoch = %d is negative", t->epoch);
    if (ok && t->step < 0)
        ok = read_failed(r, AC_ERR_FORMAT, "/train/global_step = %lld is negative",
                         (long long)t->step);
    if (ok && (t->best_epoch < 0 || t->best_epoch > t->epoch))
        ok = read_failed(r, AC_ERR_FORMAT,
                         "/train/best_epoch = %d is not between 0 and /train/epoch = %d",
                         t->best_epoch, t->epoch);
    if (ok && (t->bad_epochs < 0 || t->bad_epochs > t->epoch))
        ok = read_failed(r, AC_ERR_FORMAT,
                         "/train/bad_epochs = %d is not between 0 and /train/epoch = %d",
                         t->bad_epochs, t->epoch);
    if (ok && t->stopped_early != 0 && t->stopped_early != 1)
        ok = read_failed(r, AC_ERR_FORMAT, "/train/stopped_early = %d is not 0 or 1",
                         t->stopped_early);
    if (ok && (!isfinite(t->seconds) || t->seconds < 0))
        ok = read_failed(r, AC_ERR_FORMAT, "/train/seconds is not a finite non-negative number");
    if (ok && isnan(t->best_val_loss))
        ok = read_failed(r, AC_ERR_FORMAT, "/train/best_val_loss is NaN");
    ok = ok && read_history(r, g, ck);

    t->weight_count = ac_forecaster_weight_count(ck->model);
    if (ok && has_link(g, "best_params")) {
        int n = ac_forecaster_param_count(ck->model);
        ck->best_weights = malloc((size_t)t->weight_count * sizeof(float));
        float **dst = malloc((size_t)n * sizeof *dst);
        if (!ck->best_weights || !dst) {
            ok = nomem(r, "/train/best_params");
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

ac_status ac_ckpt_read(ac_checkpoint **out, const char *path, ac_error *err) {
    *out = NULL;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return ac_error_set(err, AC_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    bool folder = fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
    close(fd);
    if (folder) return ac_error_set(err, AC_ERR_IO, "%s: cannot open: %s", path, strerror(EISDIR));
    quiet_hdf5();
    if (H5Fis_hdf5(path) <= 0)
        return ac_error_set(err, AC_ERR_FORMAT, "%s: not an HDF5 file", path);
    hid_t fapl = file_access();
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
    copy_text(ck->path, sizeof ck->path, path);
    reader r = {.path = path, .file = file, .err = err, .code = AC_OK};
    bool ok = read_header(&r, ck) && read_config(&r, ck) && read_scaler(&r, ck) &&
              build_model(&r, ck) && read_params(&r, ck) && read_optimizer(&r, ck) &&
              read_train(&r, ck);
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
        for (int i = 0; i < ck->channels; i++) free(ck->channel_names[i]);
    free(ck->channel_names);
    ac_scaler_free(&ck->scaler);
    if (ck->optimizer_state && ck->model) {
        int n = ac_forecaster_param_count(ck->model) * ck->optimizer_slots;
        for (int i = 0; i < n; i++) free(ck->optimizer_state[i]);
    }
    free(ck->optimizer_state);
    free(ck->history);
    free(ck->best_weights);
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
