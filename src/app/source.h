/* source.h - resolving a config's [data] section to a loaded table (application layer, src/app:
 * a dataset may be fetched).
 *
 * data.dataset names a card: the file is fetched (mirror, cache or download, checksum verified)
 * and the card supplies the defaults for the date column, the split and the season. data.csv
 * names a local file: split 0.7,0.1,0.2 and the season of the dates' frequency (ac_freq_season:
 * 24 for hourly dates, 7 for daily, 1 when unknown) unless the config says otherwise. Explicit
 * config values always win over a card's defaults: data.split_rows, else data.split (fractions
 * of every row), else the card's split_rows, else its split. A row split cuts each table to the
 * sum of its counts (a table with fewer rows is an error naming the key and where it was set). The
 * table's dates are checked as data.gaps and data.frequency say (csv.h); table->freq is the
 * frequency found.
 *
 * A config value that proves wrong only here (data.dataset naming no card, a data.columns or
 * data.date_column name missing from the header) fails like a config error: the message names
 * where the key was set (ac_config_where) and the key, with a did-you-mean, and config_error is
 * set so the CLI can exit as it does for a bad config.
 */
#ifndef ATTNCAST_SOURCE_H
#define ATTNCAST_SOURCE_H

#include <stdbool.h>

#include "attncast/config.h"
#include "attncast/csv.h"
#include "app/dataset.h"

typedef struct ac_data_source {
    ac_table *table; /* the table; in long format the first series' */
    /* Every series: one (tables = &table, ids NULL) for a wide table; in long format (data.format
     * = long) one table per id, in the order the ids first appear in the file. */
    int series;
    ac_table **tables;
    char **ids;
    ac_table_set set; /* long format: owns tables and ids */
    bool has_card;
    ac_dataset_card card;
    char path[AC_DATASET_PATH];  /* the CSV that was read */
    char label[AC_DATASET_PATH]; /* dataset name, or the CSV path */
    double split[3];             /* the fractions applied, of the rows kept */
    /* A row split (data.split_rows, else the card's split_rows unless data.split is given):
     * train, val, test row counts from row 0; every table was cut to their sum, and split holds
     * fractions that give exactly these counts. All 0: split is of every row. */
    int split_rows[3];
    int rows_unused;   /* rows cut from the (first) table by a row split */
    int season;        /* data.season, else the card's, else the frequency's */
    bool config_error; /* after a failed open: the config's value was wrong, not the data */
} ac_data_source;

ac_status ac_data_source_open(ac_data_source *src, const ac_config *cfg, ac_error *err);
void ac_data_source_close(ac_data_source *src);

#endif
