/* plot.c - `attncast plot RUN_DIR`: redraws a run folder's pictures (learning curves, test
 * forecasts) with gnuplot. */
#include <stdio.h>
#include <string.h>

#include "attncast/plot.h"
#include "cli/cli.h"

int ac_cli_plot(int argc, char **argv) {
    static const char *const usage = "usage: attncast plot RUN_DIR   (redraws learning_curves "
                                     "and forecasts as PNG and SVG; needs gnuplot)";
    if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        puts(usage);
        return AC_EXIT_OK;
    }
    if (argc != 2 || argv[1][0] == '-') {
        ac_cli_error("%s", usage);
        return AC_EXIT_USAGE;
    }
    ac_error err;
    if (ac_plot_run(argv[1], &err) != AC_OK) {
        ac_cli_error("%s", err.msg);
        return AC_EXIT_FAILURE;
    }
    printf("drew %s/learning_curves.png (and .svg) and forecasts.png (and .svg)\n", argv[1]);
    return AC_EXIT_OK;
}
