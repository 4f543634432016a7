/* test_calibrate_cli.c - conformal intervals through the real binary: `train` calibrates best.h5
 * on the validation windows (one line on stdout, /calibration as MODEL.md lays it out, seen by
 * h5dump) and leaves last.h5 without; `calibrate` adds /calibration to a checkpoint written
 * without it (format_version 1 before, 2 after), `info` shows it, and a run resumed from the
 * calibrated file ends bit for bit as one resumed from the original; too few validation windows
 * for a level give a note; bad command lines and files give one line, a non-zero exit and leave
 * the checkpoint as it was. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "support/testutil.h"

static char dir[256];
static char out[1 << 16];

#define sh(...) tu_run_in(dir, out, sizeof out, __VA_ARGS__)

/* A mean-anchored model (alone, a format_version 1 file) on a small two-channel CSV: 300 rows,
 * L 24, H 6, so validation holds 30 + ... windows. */
#define TRAIN_ARGS                                                                                 \
    "--csv s.csv " TU_TINY_MODEL_ARGS " --set model.anchor=mean --set train.patience=0"

/* A cycle of 12 steps, a trend. */
static void row(FILE *f, int t, double noise, void *user) {
    (void)user;
    fprintf(f, "%.6f,%.6f\n", (double)(t % 12) + noise, 0.02 * t - noise);
}

static int setup(void **state) {
    (void)state;
    if (tu_make_temp_dir(dir, sizeof dir, "calibrate-cli") != 0 ||
        tu_write_csv(dir, "s.csv", "a,b", 300, 7u, row, NULL) != 0)
        return -1;
    if (tu_write_file(dir, "other.csv", "x,y\n1,2\n3,4\n") != 0) return -1;
    return tu_setup_run_in("train", dir, out, sizeof out, "'%s' train " TRAIN_ARGS " --out run",
                           tu_bin());
}

static int teardown(void **state) {
    (void)state;
    return tu_remove_dir(dir);
}

static void assert_contains(const char *text, const char *piece) {
    if (!strstr(text, piece)) fail_msg("'%s' not in: %s", piece, text);
}

static char *file_bytes(const char *name, size_t *len) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *bytes = tu_read_file(path, len);
    if (!bytes) fail_msg("cannot read %s", path);
    return bytes;
}

static void test_train_calibrates_best_h5_and_leaves_last_h5_alone(void **state) {
    (void)state;
    int rc = sh("'%s' info run/best.h5", tu_bin());
    if (rc != 0) fail_msg("info: exit %d: %s", rc, out);
    assert_contains(out, "intervals      conformal, levels 0.8, 0.95, calibrated on ");
    assert_contains(out, " validation windows");
    assert_contains(out, "mean half-width (z-scored): 0.8: ");
    rc = sh("'%s' info run/last.h5", tu_bin());
    if (rc != 0) fail_msg("info: exit %d: %s", rc, out);
    assert_contains(out, "intervals      none calibrated");

    /* the layout of MODEL.md, as another reader sees it */
    rc = sh("h5dump -H -A run/best.h5");
    if (rc != 0) fail_msg("h5dump: %s", out);
    assert_contains(out, "GROUP \"calibration\"");
    rc = sh("h5dump -H -d /calibration/levels run/best.h5");
    if (rc != 0) fail_msg("h5dump: %s", out);
    assert_contains(out, "H5T_IEEE_F64LE");
    assert_contains(out, "SIMPLE { ( 2 ) / ( 2 ) }");
    rc = sh("h5dump -H -d /calibration/halfwidth run/best.h5");
    if (rc != 0) fail_msg("h5dump: %s", out);
    assert_contains(out, "H5T_IEEE_F64LE");
    assert_contains(out, "SIMPLE { ( 2, 6, 2 ) / ( 2, 6, 2 ) }");
    rc = sh("h5dump -d /calibration/levels run/best.h5");
    assert_contains(out, "(0): 0.8, 0.95");
    rc = sh("h5dump -a format_version run/best.h5");
    assert_contains(out, "(0): 2");
    rc = sh("h5dump -a format_version run/last.h5");
    assert_contains(out, "(0): 1");
}

static void test_train_prints_one_calibration_line(void **state) {
    (void)state;
    int rc = sh("'%s' train " TRAIN_ARGS " --set output.intervals=0.5,0.99 --out few", tu_bin());
    if (rc != 0) fail_msg("train: exit %d: %s", rc, out);
    assert_contains(out, "calibrated intervals 0.5, 0.99 on ");
    assert_contains(out, " validation windows: few/best.h5\n");
    /* 0.99 needs 99 windows, more than validation holds: a note says what that means */
    assert_contains(out, "too few for level 0.99 (it needs 99)");
    assert_contains(out, "may cover less than 99% of outcomes");
    if (strstr(out, "level 0.5 ")) fail_msg("a note for level 0.5: %s", out);

    /* output.intervals empty: no intervals, best.h5 has none */
    rc = sh("'%s' train " TRAIN_ARGS " --set output.intervals= --out none", tu_bin());
    if (rc != 0) fail_msg("train: exit %d: %s", rc, out);
    if (strstr(out, "calibrated intervals")) fail_msg("calibrated anyway: %s", out);
    rc = sh("'%s' info none/best.h5", tu_bin());
    assert_contains(out, "intervals      none calibrated");
    /* and calibrate then needs --levels */
    rc = sh("'%s' calibrate none/best.h5", tu_bin());
    assert_int_equal(rc, 2);
    assert_contains(out, "output.intervals empty (no intervals); give the levels with --levels");
}

/* Bytes of /params, /optimizer and /train of a checkpoint as h5dump prints them (all digits). */
static void dump_state(const char *file, const char *to) {
    int rc = sh("h5dump -m %%.9g -g /params -g /optimizer -g /train/best_params %s | sed 1d > %s",
                file, to);
    if (rc != 0) fail_msg("h5dump %s: %s", file, out);
}

static void test_calibrate_adds_intervals_to_an_old_checkpoint_and_resume_is_unchanged(void **s) {
    (void)s;
    int rc = sh("'%s' train " TRAIN_ARGS " --set train.epochs=3 --quiet --out a --stop-after 1",
                tu_bin());
    if (rc != 0) fail_msg("train --stop-after 1: exit %d: %s", rc, out);
    rc = sh("cp -r a b && h5dump -a format_version b/last.h5");
    assert_contains(out, "(0): 1");
    rc = sh("'%s' calibrate b/last.h5 --levels 0.5,0.9", tu_bin());
    if (rc != 0) fail_msg("calibrate: exit %d: %s", rc, out);
    assert_contains(out, "calibrated intervals 0.5, 0.9 on ");
    assert_contains(out, " validation windows: b/last.h5");
    rc = sh("'%s' info b/last.h5", tu_bin());
    if (rc != 0) fail_msg("info: exit %d: %s", rc, out);
    assert_contains(out, "intervals      conformal, levels 0.5, 0.9, calibrated on ");
    assert_contains(out, "training       epoch 1 of 3");
    rc = sh("h5dump -a format_version b/last.h5");
    assert_contains(out, "(0): 2");
    dump_state("a/last.h5", "a_before.txt");
    dump_state("b/last.h5", "b_before.txt");
    rc = sh("cmp a_before.txt b_before.txt");
    if (rc != 0) fail_msg("calibrate changed the training state: %s", out);

    /* the data given explicitly, as a CSV: the same validation windows, the same half-widths */
    rc =
        sh("cp b/last.h5 c.h5 && '%s' calibrate c.h5 --levels 0.5,0.9 --data s.csv && "
           "h5dump -m %%.17g -d /calibration/halfwidth b/last.h5 | sed 1d > hb.txt && "
           "h5dump -m %%.17g -d /calibration/halfwidth c.h5 | sed 1d > hc.txt && cmp hb.txt hc.txt",
           tu_bin());
    if (rc != 0) fail_msg("calibrate --data s.csv: %s", out);

    /* both resume to the same end */
    rc = sh("'%s' train " TRAIN_ARGS " --set train.epochs=3 --quiet --resume a", tu_bin());
    if (rc != 0) fail_msg("resume a: exit %d: %s", rc, out);
    rc = sh("'%s' train " TRAIN_ARGS " --set train.epochs=3 --quiet --resume b", tu_bin());
    if (rc != 0) fail_msg("resume b: exit %d: %s", rc, out);
    dump_state("a/last.h5", "a_after.txt");
    dump_state("b/last.h5", "b_after.txt");
    rc = sh("cmp a_after.txt b_after.txt && ! cmp -s a_before.txt a_after.txt");
    if (rc != 0) fail_msg("the resumed runs differ (or did not train): %s", out);
}

/* Runs calibrate on a checkpoint with the given arguments; it must fail with code, print one
 * line holding piece, and leave the checkpoint's bytes as they were. */
static void expect_failure(const char *checkpoint, const char *args, int code, const char *piece) {
    size_t len_before = 0, len_after = 0;
    char *before = checkpoint ? file_bytes(checkpoint, &len_before) : NULL;
    int rc = sh("'%s' calibrate %s %s", tu_bin(), checkpoint ? checkpoint : "", args);
    if (rc != code)
        fail_msg("calibrate %s %s: exit %d, expected %d: %s", checkpoint, args, rc, code, out);
    assert_contains(out, piece);
    if (strncmp(out, "attncast: ", 10) != 0 || tu_count_lines(out) != 1)
        fail_msg("not one 'attncast: ' line: %s", out);
    if (checkpoint) {
        char *after = file_bytes(checkpoint, &len_after);
        if (len_after != len_before || memcmp(before, after, len_before) != 0)
            fail_msg("calibrate %s %s changed the checkpoint", checkpoint, args);
        free(after);
    }
    free(before);
}

static void test_bad_inputs_fail_in_one_line_and_keep_the_checkpoint(void **state) {
    (void)state;
    int rc = sh("cp run/last.h5 keep.h5 && printf 'not hdf5\\n' > text.h5 && "
                "head -c 3000 run/last.h5 > cut.h5");
    if (rc != 0) fail_msg("setup: %s", out);
    expect_failure(NULL, "missing.h5", 1, "missing.h5: cannot open");
    expect_failure("text.h5", "", 1, "text.h5: ");
    expect_failure("cut.h5", "", 1, "cut.h5: ");
    expect_failure("keep.h5", "--levels 0.8,1.2", 2, "--levels: '1.2' is not in (0, 1)");
    expect_failure("keep.h5", "--levels 0.9,0.8", 2, "'0.8' is not greater than");
    expect_failure("keep.h5", "--levels 0.5,0.5", 2, "'0.5' is given twice");
    expect_failure("keep.h5", "--levels 0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9", 2,
                   "'0.9' is one level too many (at most 8)");
    expect_failure("keep.h5", "--levels 80,95", 2,
                   "'80' is not in (0, 1); levels are fractions, not percents: write 0.8,0.95");
    /* a write that fails (the file size limit standing in for a full disk) keeps the original
     * and leaves no temporary file */
    size_t len_before = 0, len_after = 0;
    char *before = file_bytes("keep.h5", &len_before);
    int rc2 = sh("trap '' XFSZ; ulimit -f 8; '%s' calibrate keep.h5 --levels 0.5", tu_bin());
    if (rc2 != 1 || tu_count_lines(out) != 1 || !strstr(out, "(the previous file is kept)"))
        fail_msg("calibrate with a failing write: exit %d: %s", rc2, out);
    char *after = file_bytes("keep.h5", &len_after);
    assert_true(len_after == len_before && memcmp(before, after, len_before) == 0);
    free(before);
    free(after);
    assert_int_equal(sh("find . -name '*.tmp.*' | wc -l"), 0);
    assert_int_equal(atoi(out), 0);
    /* a folder it may not write into: refused the same way (root may write anywhere) */
    if (geteuid() != 0) {
        assert_int_equal(sh("mkdir ro && cp keep.h5 ro/ && chmod 555 ro"), 0);
        expect_failure("ro/keep.h5", "--levels 0.5", 1, "Permission denied");
        assert_int_equal(sh("chmod 755 ro"), 0);
    }
    expect_failure("keep.h5", "--levels ''", 2, "--levels: no level given");
    expect_failure("keep.h5", "--levels", 2, "--levels needs a value");
    expect_failure("keep.h5", "--bogus", 2, "unknown option '--bogus'");
    expect_failure("keep.h5", "another.h5", 2, "one checkpoint expected");
    expect_failure("keep.h5", "--data other.csv", 1, "other.csv");
    expect_failure("keep.h5", "--data no_such_dataset", 1, "no_such_dataset");
    expect_failure(NULL, "", 2, "no checkpoint given");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_train_calibrates_best_h5_and_leaves_last_h5_alone),
        cmocka_unit_test(test_train_prints_one_calibration_line),
        cmocka_unit_test(
            test_calibrate_adds_intervals_to_an_old_checkpoint_and_resume_is_unchanged),
        cmocka_unit_test(test_bad_inputs_fail_in_one_line_and_keep_the_checkpoint),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
