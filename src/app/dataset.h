/* dataset.h - dataset cards and fetching datasets by name (application layer: fetching runs
 * curl, so this lives in src/app, outside libattncast).
 *
 * A card is a small INI file `<datasets dir>/<name>.ini` with a [dataset] section: name, file,
 * url, sha256, date_column, step, domain, split (train,val,test fractions) or split_rows
 * (train,val,test row counts from row 0, the rows after them unused: ETTh1's 8640,2880,2880),
 * season, description, and optionally archive_member (the url is then a .zip holding the CSV at
 * that path) and archive_sha256. The datasets dir is $ATTNCAST_DATASETS_DIR, else the source tree's
 * datasets/.
 *
 * Fetching resolves a card to a verified local file, in this order:
 *   1. $ATTNCAST_DATA_MIRROR/<file> when that variable names a folder (offline installs);
 *   2. the cache, $ATTNCAST_CACHE_DIR, else $XDG_CACHE_HOME/attncast, else ~/.cache/attncast;
 *   3. a download of the url with curl into the cache (a .zip is unpacked with unzip).
 * Every file is checked against the card's SHA-256 before use; a file whose checksum differs is
 * refused (and a downloaded one deleted), naming both digests. Offline with no mirror, the error
 * says where to get the file and how to point ATTNCAST_DATA_MIRROR at it.
 */
#ifndef ATTNCAST_DATASET_H
#define ATTNCAST_DATASET_H

#include <stddef.h>

#include "attncast/error.h"

#define AC_DATASET_TEXT 256
#define AC_DATASET_PATH 1024

typedef struct ac_dataset_card {
    char name[64];
    char file[AC_DATASET_TEXT];           /* file name, e.g. exchange_rate.csv */
    char url[AC_DATASET_PATH];            /* canonical download URL */
    char sha256[65];                      /* of the CSV itself, lower-case hex */
    char archive_member[AC_DATASET_TEXT]; /* "" unless url is a .zip */
    char archive_sha256[65];              /* of the .zip, "" if not given */
    char date_column[64];
    char step[32];   /* e.g. "1d", "10min" */
    char domain[32]; /* finance, weather, ... */
    char description[AC_DATASET_TEXT];
    double split[3];   /* default train / val / test fractions */
    int split_rows[3]; /* split_rows: train / val / test row counts from row 0, later rows
                        * unused; all 0 when the card splits by fractions */
    int season;        /* default season length for the seasonal-naive baseline */
    char card_path[AC_DATASET_PATH]; /* the .ini it was read from */
} ac_dataset_card;

/* The folder holding the cards: $ATTNCAST_DATASETS_DIR, else the source tree's datasets/ while it
 * exists, else the installed copy (share/attncast/datasets). */
const char *ac_datasets_dir(void);

/* Reads and checks the card of that name (name: letters, digits, '_', '-'). Errors name the
 * card file and the offending key; an unknown name lists the known ones. */
ac_status ac_dataset_card_load(ac_dataset_card *card, const char *name, ac_error *err);

/* Names of every card in the datasets dir, sorted; returns how many (at most max). */
int ac_dataset_list(char names[][64], int max);

/* Resolves the card to a verified local CSV path (see the order above). */
ac_status ac_dataset_fetch(const ac_dataset_card *card, char *path, size_t path_size,
                           ac_error *err);

/* The cache folder (created on demand by ac_dataset_fetch). */
const char *ac_dataset_cache_dir(char *buf, size_t n);

#endif
