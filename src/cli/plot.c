/* plot.c - `attncast plot RUN_DIR`: redraws a run folder's pictures (learning curves, test
 * forecasts) with gnuplot and rewrites the run's report.md so that it embeds them. */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "app/plot.h"
#include "app/report.h"
#include "cli/cli.h"

int ac_cli_plot(int argc, char **argv) {
    static const char *const usage = "usage: attncast plot RUN_DIR   (redraws learning_curves "
                                     "and forecasts as PNG and SVG; needs gnuplot)";
    static const char *const help =
        "\n"
        "Redraws a run folder's pictures from its history.csv and test_forecasts.csv, as PNG and\n"
        "SVG: learning_curves (training and validation loss by epoch) and forecasts (the first,\n"
        "middle and last test windows of output.plot_channels), then rewrites report.md so that\n"
        "it embeds exactly the pictures now in the folder. Needs gnuplot (Debian gnuplot-nox).\n"
        "\n"
        "options:\n"
        "  --help, -h    this help\n"
        "\n"
        "example:\n"
        "  attncast plot runs/fx\n";
    int rc = ac_cli_single_operand(argc, argv, usage, help);
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
