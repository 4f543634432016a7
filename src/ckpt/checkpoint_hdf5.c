/* checkpoint_hdf5.c - the HDF5 plumbing under checkpoint_write.c and checkpoint_read.c.
 *
 * What both sides share: HDF5's error stack kept quiet unless ATTNCAST_DEBUG is set, file access
 * with the strong close degree, the UTF-8 string type h5py writes, the optimizer's state group
 * names and the /train/history table type. Then the reader's checked access to one object at a
 * time: open a group or dataset, check its class and shape, read numbers, strings or an attribute,
 * each failure becoming the "PATH: <message>" line that ac_ckpt_read returns. Declared in
 * checkpoint_internal.h, private to src/ckpt.
 */
#include "checkpoint_internal.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUOTE_MAX 60 /* longest piece of a foreign string quoted in a message */

/* ---- shared by writing and reading ---- */

void ac_ck_quiet_hdf5(void) {
    if (!getenv("ATTNCAST_DEBUG")) H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

/* File access with the strong close degree: H5Fclose closes every object still open. */
hid_t ac_ck_file_access(void) {
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl >= 0 && H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0) {
        H5Pclose(fapl);
        return H5I_INVALID_HID;
    }
    return fapl;
}

/* Variable-length UTF-8 strings, as h5py writes str. */
hid_t ac_ck_utf8_string_type(void) {
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t >= 0 && (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0)) {
        H5Tclose(t);
        return H5I_INVALID_HID;
    }
    return t;
}

/* The optimizer state groups, torch's names: slot 0 and 1 of ac_optimizer_state. */
int ac_ck_kind_slots(ac_optimizer_kind kind) {
    return kind == AC_OPT_SGD ? 1 : 2;
}

const char *ac_ck_slot_group(ac_optimizer_kind kind, int slot) {
    if (kind == AC_OPT_SGD) return "momentum_buffer";
    return slot == 0 ? "exp_avg" : "exp_avg_sq";
}

/* The /train/history table: one int32 column, then float64 columns. */
const history_field ac_ck_history_fields[] = {
    {"epoch", offsetof(ac_epoch_record, epoch), true},
    {"train_loss", offsetof(ac_epoch_record, train_loss), false},
    {"val_loss", offsetof(ac_epoch_record, val_loss), false},
    {"lr", offsetof(ac_epoch_record, lr), false},
    {"seconds", offsetof(ac_epoch_record, seconds), false},
    {"windows_per_s", offsetof(ac_epoch_record, windows_per_s), false},
};
const size_t ac_ck_history_field_count =
    sizeof ac_ck_history_fields / sizeof ac_ck_history_fields[0];

/* The history compound type in memory (native, at ac_epoch_record's offsets) or in the file
 * (little-endian and packed: 4 + 5 * 8 = 44 bytes a row). */
hid_t ac_ck_history_type(bool in_file) {
    size_t packed = 0;
    for (size_t i = 0; i < ac_ck_history_field_count; i++)
        packed += ac_ck_history_fields[i].integer ? 4 : 8;
    hid_t t = H5Tcreate(H5T_COMPOUND, in_file ? packed : sizeof(ac_epoch_record));
    size_t at = 0;
    for (size_t i = 0; t >= 0 && i < ac_ck_history_field_count; i++) {
        const history_field *f = &ac_ck_history_fields[i];
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

/* ---- checked reading ---- */

/* ---- reading ---- */

/* "PATH: <message>"; always false. */
bool ac_ck_read_failed(reader *r, ac_status code, const char *fmt, ...) {
    char msg[AC_ERROR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    r->code = code;
    ac_error_set(r->err, code, "%s: %s", r->path, msg);
    return false;
}

bool ac_ck_damaged(reader *r, const char *full) {
    return ac_ck_read_failed(r, AC_ERR_FORMAT, "%s cannot be read (damaged file)", full);
}

bool ac_ck_nomem(reader *r, const char *full) {
    return ac_ck_read_failed(r, AC_ERR_NOMEM, "out of memory while reading %s", full);
}

bool ac_ck_has_link(hid_t loc, const char *name) {
    return H5Lexists(loc, name, H5P_DEFAULT) > 0;
}

hid_t ac_ck_open_group(reader *r, hid_t loc, const char *name, const char *full) {
    if (!ac_ck_has_link(loc, name)) {
        ac_ck_read_failed(r, AC_ERR_FORMAT, "%s is missing", full);
        return H5I_INVALID_HID;
    }
    hid_t g = H5Gopen2(loc, name, H5P_DEFAULT);
    if (g < 0) ac_ck_read_failed(r, AC_ERR_FORMAT, "%s is not a group", full);
    return g;
}

/* missing_note follows "FULL is missing" in the message. */
hid_t ac_ck_open_dataset(reader *r, hid_t loc, const char *name, const char *full,
                         const char *missing_note) {
    if (!ac_ck_has_link(loc, name)) {
        ac_ck_read_failed(r, AC_ERR_FORMAT, "%s is missing%s", full, missing_note);
        return H5I_INVALID_HID;
    }
    hid_t d = H5Dopen2(loc, name, H5P_DEFAULT);
    if (d < 0) ac_ck_read_failed(r, AC_ERR_FORMAT, "%s is not a dataset", full);
    return d;
}

const char *ac_ck_class_text(H5T_class_t cls) {
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

bool ac_ck_check_class(reader *r, hid_t dset, const char *full, H5T_class_t want) {
    hid_t t = H5Dget_type(dset);
    if (t < 0) return ac_ck_damaged(r, full);
    H5T_class_t got = H5Tget_class(t);
    H5Tclose(t);
    if (got == want) return true;
    return ac_ck_read_failed(r, AC_ERR_FORMAT, "%s holds %s, expected %s", full,
                             ac_ck_class_text(got), ac_ck_class_text(want));
}

/* The dataset's rank (0 for a scalar) and dims; -1 when it has no shape (a null dataspace). */
int ac_ck_dataset_shape(hid_t dset, hsize_t dims[H5S_MAX_RANK]) {
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
bool ac_ck_check_shape(reader *r, hid_t dset, const char *full, int rank, const hsize_t *dims,
                       const char *expectation) {
    hsize_t got[H5S_MAX_RANK];
    int got_rank = ac_ck_dataset_shape(dset, got);
    if (got_rank < 0) return ac_ck_read_failed(r, AC_ERR_FORMAT, "%s holds no data", full);
    bool same = got_rank == rank;
    for (int i = 0; same && i < rank; i++) same = got[i] == dims[i];
    if (rank == 0 && got_rank == 1 && got[0] == 1) same = true;
    if (same) return true;
    char have[128], want[128];
    shape_text(got_rank, got, have, sizeof have);
    shape_text(rank, dims, want, sizeof want);
    return ac_ck_read_failed(r, AC_ERR_FORMAT, "%s has shape %s, %s %s", full, have, expectation,
                             want);
}

/* Reads loc/name, of class cls and exactly the given shape, as mtype into buf. */
bool ac_ck_read_numbers(reader *r, hid_t loc, const char *name, const char *full, H5T_class_t cls,
                        hid_t mtype, int rank, const hsize_t *dims, const char *expectation,
                        void *buf) {
    hid_t d = ac_ck_open_dataset(r, loc, name, full, "");
    if (d < 0) return false;
    bool ok = ac_ck_check_class(r, d, full, cls) &&
              ac_ck_check_shape(r, d, full, rank, dims, expectation);
    if (ok && H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        ok = ac_ck_damaged(r, full);
    H5Dclose(d);
    return ok;
}

bool ac_ck_read_scalar(reader *r, hid_t g, const char *group, const char *name, H5T_class_t cls,
                       hid_t mtype, void *buf) {
    char full[128];
    snprintf(full, sizeof full, "%s/%s", group, name);
    return ac_ck_read_numbers(r, g, name, full, cls, mtype, 0, NULL, "expected", buf);
}

/* Reads the n strings of an attribute (is_attr) or a dataset, variable- or fixed-length, into
 * out[0..n) as malloc'd copies (a NULL variable-length string reads as ""). */
string_result ac_ck_read_strings(hid_t obj, bool is_attr, int n, char **out) {
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

/* The string attribute name on obj, malloc'd into *out. */
attr_result ac_ck_read_string_attribute(hid_t obj, const char *name, char **out) {
    *out = NULL;
    if (H5Aexists(obj, name) <= 0) return ATTR_MISSING;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return ATTR_FAILED;
    string_result rc = ac_ck_read_strings(a, true, 1, out);
    H5Aclose(a);
    return rc == STRINGS_OK ? ATTR_OK : rc == STRINGS_NOT_STRINGS ? ATTR_WRONG_TYPE : ATTR_FAILED;
}

attr_result ac_ck_read_int_attribute(hid_t obj, const char *name, int *out) {
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
int ac_ck_quote_len(const char *s) {
    int n = 0;
    while (n < QUOTE_MAX && s[n] && (unsigned char)s[n] >= 0x20) n++;
    return n;
}

void ac_ck_copy_text(char *dst, size_t n, const char *src) {
    snprintf(dst, n, "%.*s", (int)strcspn(src, "\r\n"), src);
}
