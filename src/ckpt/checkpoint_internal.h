/* checkpoint_internal.h - private to src/ckpt: what the checkpoint writer and reader share.
 *
 * checkpoint_write.c builds a file, checkpoint_read.c checks and reads one; both use the HDF5
 * helpers of checkpoint_hdf5.c declared here. The public API is include/attncast/checkpoint.h.
 */
#ifndef ATTNCAST_IO_CHECKPOINT_INTERNAL_H
#define ATTNCAST_IO_CHECKPOINT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <hdf5.h>

#include "attncast/attncast.h"

#define PATH_TEXT 1280 /* an HDF5 path inside the file: group + parameter name */

/* ---- shared by writing and reading ---- */

void ac_ck_quiet_hdf5(void);

/* File access with the strong close degree: H5Fclose closes every object still open. */
hid_t ac_ck_file_access(void);

/* Variable-length UTF-8 strings, as h5py writes str. */
hid_t ac_ck_utf8_string_type(void);

/* The optimizer state groups, torch's names: slot 0 and 1 of ac_optimizer_state. */
int ac_ck_kind_slots(ac_optimizer_kind kind);
const char *ac_ck_slot_group(ac_optimizer_kind kind, int slot);

/* The /train/history table: one int32 column, then float64 columns. */
typedef struct history_field {
    const char *name;
    size_t offset; /* in ac_epoch_record */
    bool integer;
} history_field;

extern const history_field ac_ck_history_fields[];
extern const size_t ac_ck_history_field_count;

/* The history compound type in memory (native, at ac_epoch_record's offsets) or in the file
 * (little-endian and packed: 4 + 5 * 8 = 44 bytes a row). */
hid_t ac_ck_history_type(bool in_file);

/* ---- the checksum in the user block (checkpoint_seal.c) ---- */

#define CK_USERBLOCK 512 /* bytes before the HDF5 superblock, holding the seal line */

/* Writes the seal line (magic, SHA-256 and length of image[CK_USERBLOCK..size)) into the user
 * block at the start of a whole file image. */
void ac_ck_seal_image(unsigned char *image, size_t size);

/* Checks path's seal before HDF5 opens it. AC_OK with *sealed false for a file without one;
 * AC_OK with *sealed true when it matches; otherwise a one-line error naming the file. */
ac_status ac_ck_check_seal(const char *path, bool *sealed, ac_error *err);

/* ---- checked reading ---- */

typedef struct reader {
    const char *path; /* the file, for messages */
    hid_t file;
    ac_error *err;
    ac_status code; /* of the first failure */
} reader;

/* "PATH: <message>"; always false. */
bool ac_ck_read_failed(reader *r, ac_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
bool ac_ck_damaged(reader *r, const char *full);
bool ac_ck_nomem(reader *r, const char *full);
bool ac_ck_has_link(hid_t loc, const char *name);
hid_t ac_ck_open_group(reader *r, hid_t loc, const char *name, const char *full);
/* missing_note follows "FULL is missing" in the message. */
hid_t ac_ck_open_dataset(reader *r, hid_t loc, const char *name, const char *full,
                         const char *missing_note);
const char *ac_ck_class_text(H5T_class_t cls);
bool ac_ck_check_class(reader *r, hid_t dset, const char *full, H5T_class_t want);
/* The dataset's rank (0 for a scalar) and dims; -1 when it has no shape (a null dataspace). */
int ac_ck_dataset_shape(hid_t dset, hsize_t dims[H5S_MAX_RANK]);
/* The dataset has exactly rank and dims (a scalar also accepts one element of rank 1); the
 * message says "FULL has shape [..], <expectation> [..]". */
bool ac_ck_check_shape(reader *r, hid_t dset, const char *full, int rank, const hsize_t *dims,
                       const char *expectation);
/* Reads loc/name, of class cls and exactly the given shape, as mtype into buf. */
bool ac_ck_read_numbers(reader *r, hid_t loc, const char *name, const char *full, H5T_class_t cls,
                        hid_t mtype, int rank, const hsize_t *dims, const char *expectation,
                        void *buf);
bool ac_ck_read_scalar(reader *r, hid_t g, const char *group, const char *name, H5T_class_t cls,
                       hid_t mtype, void *buf);

typedef enum string_result { STRINGS_OK, STRINGS_NOT_STRINGS, STRINGS_FAILED } string_result;

/* Reads the n strings of an attribute (is_attr) or a dataset, variable- or fixed-length, into
 * out[0..n) as malloc'd copies (a NULL variable-length string reads as ""). */
string_result ac_ck_read_strings(hid_t obj, bool is_attr, int n, char **out);

typedef enum attr_result { ATTR_OK, ATTR_MISSING, ATTR_WRONG_TYPE, ATTR_FAILED } attr_result;

/* The string attribute name on obj, malloc'd into *out. */
attr_result ac_ck_read_string_attribute(hid_t obj, const char *name, char **out);
attr_result ac_ck_read_int_attribute(hid_t obj, const char *name, int *out);

/* Length of the printable start of a foreign string, for quoting it on one line. */
int ac_ck_quote_len(const char *s);
/* src up to its first line break, truncated to fit dst[n]. */
void ac_ck_copy_text(char *dst, size_t n, const char *src);

#endif
