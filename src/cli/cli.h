/* cli.h - the verbs of the attncast program, one source file each, and what they share. */
#ifndef ATTNCAST_CLI_H
#define ATTNCAST_CLI_H

#include <stdbool.h>

/* Exit codes of every verb. */
enum {
    AC_EXIT_OK = 0,
    AC_EXIT_FAILURE = 1, /* the work failed: bad data, bad file, numeric trouble */
    AC_EXIT_USAGE = 2    /* the command line itself is wrong */
};

/* Each verb gets argv after the verb name (argv[0] is the verb) and returns an exit code. */
int ac_cli_bench_ops(int argc, char **argv);
int ac_cli_train(int argc, char **argv);
int ac_cli_eval(int argc, char **argv);
int ac_cli_predict(int argc, char **argv);
int ac_cli_info(int argc, char **argv);
int ac_cli_explain(int argc, char **argv);
int ac_cli_sweep(int argc, char **argv);
int ac_cli_datasets(int argc, char **argv);
int ac_cli_plot(int argc, char **argv);
int ac_cli_bench(int argc, char **argv);
int ac_cli_calibrate(int argc, char **argv);

/* Prints "attncast: <message>" as one line on stderr. */
void ac_cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parses a whole positive int option value; on failure prints an error naming the option. */
int ac_cli_parse_positive(const char *option, const char *text, int *out);

/* An argument of train or sweep that no option took: an unknown option, or the one config
 * file (stored in *config); on failure prints an error naming the verb and returns -1. */
int ac_cli_config_argument(const char *verb, const char *arg, const char **config);

/* The command line of a verb that takes exactly one operand (info, plot): -1 when that is what
 * it is (the operand is argv[1]), else the exit code to return, after printing the usage and
 * the help text on stdout for --help or -h, or the usage alone as an error otherwise. */
int ac_cli_single_operand(int argc, char **argv, const char *usage, const char *help);

struct ac_calibration;
/* The line that says which intervals were calibrated on how many validation windows and where
 * they went (on stdout, unless quiet), and a note on stderr for each level whose rank exceeds the
 * windows (its half-width is the largest error; the interval may cover less). */
void ac_cli_report_calibration(const struct ac_calibration *cal, const char *path, bool quiet);

struct ac_eval_result;
struct ac_series;
/* The metrics table of the model and the baselines, pooled over the channels (train, eval). */
void ac_cli_print_metrics(const struct ac_eval_result *eval, const struct ac_series *series);
/* One row per channel, model beside naive (eval --per-channel); names: the channels' names. */
void ac_cli_print_channel_metrics(const struct ac_eval_result *eval, char *const *names);

#endif
