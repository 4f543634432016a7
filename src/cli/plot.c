/* plot.c - `attncast plot RUN_DIR`: redraws a run folder's pictures (learning curves, test
 * forecasts) with gnuplot and rewrites the run's report.md so that it embeds them. */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "attncast/plot.h"
#include "attncast/report.h"
#include "cli/cli.h"

int ac_cli_plot(int argc, char **argv) {
    static const char *const usage = "usage: attncast plot RUN_DIR   (redraws learning_curves "
                                     "and forecasts as PNG and SVG; needs gnuplot)";
    int rc = ac_cli_single_operand(argc, argv, usage);
    if (rc >= 0) return rc;
    const char *dir = argv[1];
    struct stat st;
    if (stat(dir, &st) != 0) {
        ac_cli_error("plot: %s: the folder does not exist%s", dir,
                     errno == ENOENT ? "" : " or cannot be read");
        return AC_EXIT_FAILURE;
    }
    if (!S_ISDIR(st.st_mode)) {
        ac_cli_error("plot: %s: not a folder (expected a run folder)", dir);
        return AC_EXIT_FAILURE;
    }
    ac_error err;
    bool updated = false;
    if (ac_plot_run(dir, &err) != AC_OK ||
        ac_run_report_embed_pictures(dir, &updated, &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        return AC_EXIT_FAILURE;
    }
    printf("drew %s/learning_curves.png (and .svg) and forecasts.png (and .svg)%s\n", dir,
           updated ? "; report.md embeds them" : "");
    return AC_EXIT_OK;
}
