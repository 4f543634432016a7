/* source.c - from a config's [data] section to a loaded table (see include/attncast/source.h). */
#include "attncast/source.h"

#include <stdio.h>
#include <string.h>

ac_status ac_data_source_open(ac_data_source *src, const ac_config *cfg, ac_error *err) {
    memset(src, 0, sizeof *src);
    const double default_split[3] = {0.7, 0.1, 0.2};
    memcpy(src->split, default_split, sizeof src->split);
    src->season = 1;
    const char *date_column = cfg->data.date_column;
    if (cfg->data.dataset[0]) {
        if (ac_dataset_card_load(&src->card, cfg->data.dataset, err) != AC_OK) return err->code;
        src->has_card = true;
        if (ac_dataset_fetch(&src->card, src->path, sizeof src->path, err) != AC_OK)
            return err->code;
        memcpy(src->split, src->card.split, sizeof src->split);
        src->season = src->card.season;
        if (!date_column[0]) date_column = src->card.date_column;
        snprintf(src->label, sizeof src->label, "%s", src->card.name);
    } else {
        snprintf(src->path, sizeof src->path, "%s", cfg->data.csv);
        snprintf(src->label, sizeof src->label, "%s", cfg->data.csv);
    }
    if (cfg->data.split_set) memcpy(src->split, cfg->data.split, sizeof src->split);
    if (cfg->data.season > 0) src->season = cfg->data.season;
    ac_csv_options opt = {
        .date_column = date_column, .columns = cfg->data.columns, .missing = cfg->data.missing};
    return ac_table_load_csv(&src->table, src->path, &opt, err);
}

void ac_data_source_close(ac_data_source *src) {
    ac_table_free(src->table);
    src->table = NULL;
}
