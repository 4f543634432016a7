/* dataset_internal.h - private to src/app: what dataset_card.c and dataset_fetch.c share.
 *
 * dataset_card.c reads and checks a card; dataset_fetch.c gets the file it names. Both check a
 * card's file name and digest with these. The public API is src/app/dataset.h.
 */
#ifndef ATTNCAST_DATA_DATASET_INTERNAL_H
#define ATTNCAST_DATA_DATASET_INTERNAL_H

#include <stdbool.h>

/* 64 lowercase hexadecimal digits. */
bool ac_dataset_valid_sha256(const char *hex);

/* A file name with no folder in it. */
bool ac_dataset_plain_file_name(const char *file);

#endif
