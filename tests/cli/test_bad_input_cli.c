/* test_bad_input_cli.c - the bad-input suite: one table of inputs a user could hand attncast
 * (CSV files, configs and --set options, checkpoints), each fed to the real binary. A rejected
 * input must give a non-zero exit of the wanted code, not a signal or a sanitizer report, and
 * exactly one line on stderr, beginning "attncast: " and naming the file and the position, key or
 * HDF5 path. A form that is legitimately accepted (CRLF, quoted numbers, a BOM, ...) must load
 * exactly as the plain file does: the same metrics.json, bit for bit.
 *
 * Checkpoint cases start from one real checkpoint and are edited through the HDF5 C API; an
 * edited file is then (a) left with its now stale SHA-256 seal, (b) unsealed (user block
 * cleared) or (c) re-sealed, so both the checksum and the reader's deeper checks are exercised. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <hdf5.h>

#include "data/sha256.h"
#include "support/testutil.h"

#define USERBLOCK  512 /* the checkpoint's user block, which holds the seal line */
#define SEAL_MAGIC "attncast-checkpoint-seal sha256 "

static char dir[256];
static char out[1 << 16];
static char *plain_metrics; /* metrics.json of the plain CSV's run, timings removed */

/* ---- files ---- */

static void write_bytes(const char *name, const void *data, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static char *read_named(const char *name, size_t *len) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *data = tu_read_file(path, len);
    if (!data) fail_msg("cannot read %s", path);
    return data;
}

typedef enum row_style { PLAIN, QUOTED, SPACED, TRAILING_COMMA } row_style;

/* A CSV with the header and `rows` rows of two channels, each line ending in eol. */
static void write_csv(const char *name, const char *header, int rows, const char *eol,
                      row_style style) {
    size_t cap = 128 + (size_t)rows * 96, used = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    used += (size_t)snprintf(text, cap, "%s%s", header, eol);
    for (int t = 0; t < rows; t++) {
        double a = sin(t * 0.3), b = cos(t * 0.17);
        char *at = text + used;
        size_t room = cap - used;
        used += (size_t)(style == QUOTED   ? snprintf(at, room, "\"%.6f\",\"%.6f\"%s", a, b, eol)
                         : style == SPACED ? snprintf(at, room, " %.6f , %.6f %s", a, b, eol)
                         : style == TRAILING_COMMA ? snprintf(at, room, "%.6f,%.6f,%s", a, b, eol)
                                                   : snprintf(at, room, "%.6f,%.6f%s", a, b, eol));
    }
    write_bytes(name, text, used);
    free(text);
}

/* ---- checkpoints: edits through HDF5, then the seal ---- */

static hid_t open_copy(const char *from, const char *to) {
    size_t n = 0;
    char *data = read_named(from, &n);
    write_bytes(to, data, n);
    free(data);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, to);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    assert_true(f >= 0);
    return f;
}

/* Replaces dataset `name` with one of type `type`, rank 2 dims, filled by value. */
static void replace_dataset(hid_t f, const char *name, hid_t type, hsize_t d0, hsize_t d1,
                            double value) {
    if (H5Lexists(f, name, H5P_DEFAULT) > 0) assert_true(H5Ldelete(f, name, H5P_DEFAULT) >= 0);
    hsize_t dims[2] = {d0, d1};
    hid_t space = H5Screate_simple(d1 ? 2 : 1, dims, NULL);
    hid_t ds = H5Dcreate2(f, name, type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(ds >= 0);
    size_t count = (size_t)d0 * (size_t)(d1 ? d1 : 1);
    double *buf = malloc(count * sizeof *buf);
    for (size_t i = 0; i < count; i++) buf[i] = value;
    assert_true(H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    free(buf);
    H5Dclose(ds);
    H5Sclose(space);
}

/* Sets element 0 of a float dataset to value. */
static void poke_first(hid_t f, const char *name, float value) {
    hid_t ds = H5Dopen2(f, name, H5P_DEFAULT);
    assert_true(ds >= 0);
    hid_t space = H5Dget_space(ds);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    float *buf = malloc((size_t)n * sizeof *buf);
    assert_true(H5Dread(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    buf[0] = value;
    assert_true(H5Dwrite(ds, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    free(buf);
    H5Sclose(space);
    H5Dclose(ds);
}

/* Rewrites the /config text with `from` replaced by `to`. */
static void edit_config_text(hid_t f, const char *from, const char *to) {
    hid_t ds = H5Dopen2(f, "/config", H5P_DEFAULT);
    assert_true(ds >= 0);
    hid_t type = H5Dget_type(ds);
    char *text = NULL;
    assert_true(H5Dread(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, &text) >= 0);
    H5Dclose(ds);
    char *at = strstr(text, from);
    if (!at) fail_msg("'%s' not in /config", from);
    size_t n = strlen(text) + strlen(to) + 1;
    char *edited = malloc(n);
    snprintf(edited, n, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from));
    H5free_memory(text);
    assert_true(H5Ldelete(f, "/config", H5P_DEFAULT) >= 0);
    hid_t space = H5Screate(H5S_SCALAR);
    ds = H5Dcreate2(f, "/config", type, space, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(ds >= 0 && H5Dwrite(ds, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, &edited) >= 0);
    free(edited);
    H5Dclose(ds);
    H5Sclose(space);
    H5Tclose(type);
}

/* Sets the integer attribute `name` on the root group. */
static void set_root_int(hid_t f, const char *name, int value) {
    if (H5Aexists(f, name) > 0) H5Adelete(f, name);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5Acreate2(f, name, H5T_STD_I32LE, space, H5P_DEFAULT, H5P_DEFAULT);
    assert_true(a >= 0 && H5Awrite(a, H5T_NATIVE_INT, &value) >= 0);
    H5Aclose(a);
    H5Sclose(space);
}

typedef enum seal { STALE_SEAL, UNSEALED, RESEALED } seal;

/* Closes an edited copy and leaves its seal as asked. */
static void finish_copy(hid_t f, const char *name, seal how) {
    assert_true(H5Fclose(f) >= 0);
    if (how == STALE_SEAL) return;
    size_t n = 0;
    char *data = read_named(name, &n);
    memset(data, 0, USERBLOCK);
    if (how == RESEALED) {
        ac_sha256 ctx;
        uint8_t digest[32];
        ac_sha256_init(&ctx);
        ac_sha256_update(&ctx, data + USERBLOCK, n - USERBLOCK);
        ac_sha256_final(&ctx, digest);
        int used = snprintf(data, USERBLOCK, SEAL_MAGIC);
        for (int i = 0; i < 32; i++) used += snprintf(data + used, 3, "%02x", digest[i]);
        snprintf(data + used, (size_t)(USERBLOCK - used), " %zu\n", n - USERBLOCK);
    }
    write_bytes(name, data, n);
    free(data);
}

/* The first n bytes of good.h5, with the user block cleared when unsealed. */
static void truncated_copy(const char *name, size_t n, bool unsealed) {
    size_t len = 0;
    char *data = read_named("good.h5", &len);
    if (n > len) n = len;
    if (unsealed) memset(data, 0, n < USERBLOCK ? n : USERBLOCK);
    write_bytes(name, data, n);
    free(data);
}

/* ---- the table ---- */

typedef struct bad_input {
    const char *what;    /* the input, in words */
    const char *args;    /* the command line after the binary, run in dir */
    int exit_code;       /* wanted; 0: accepted, and must load as the plain CSV does */
    const char *says[3]; /* what the one error line must hold: file, position, key, path */
} bad_input;

#define TRAIN  "train base.ini --set train.epochs=1 --out runs/x "
#define CSV(f) TRAIN "--set data.csv=" f

static const bad_input CASES[] = {
    /* CSV files */
    {"an empty CSV", CSV("empty.csv"), 1, {"empty.csv", "empty file"}},
    {"a CSV of blank lines", CSV("blank.csv"), 1, {"blank.csv"}},
    {"a binary CSV (NUL bytes)", CSV("binary.csv"), 1, {"binary.csv:2", "NUL byte"}},
    {"a binary CSV without NUL bytes", CSV("noise.csv"), 1, {"noise.csv:"}},
    {"a header only", CSV("header.csv"), 1, {"header.csv:1", "no data rows"}},
    {"a header only, no newline", CSV("header_nonl.csv"), 1, {"header_nonl.csv:1"}},
    {"a BOM and a header only", CSV("bom_header.csv"), 1, {"bom_header.csv:1"}},
    {"a trailing comma on data rows", CSV("trailing.csv"), 1, {"trailing.csv:2:3"}},
    {"a trailing comma on every line", CSV("trailing_all.csv"), 1, {"trailing_all.csv:1:3"}},
    {"a text cell", CSV("text.csv"), 1, {"text.csv:12:2", "column 'b'", "'oops'"}},
    {"a number beyond double (1e400)", CSV("e400.csv"), 1, {"e400.csv:7:1", "column 'a'"}},
    {"inf in a cell", CSV("inf.csv"), 1, {"inf.csv:9:2", "column 'b'", "finite"}},
    {"-Infinity in a cell", CSV("minf.csv"), 1, {"minf.csv:9:1", "column 'a'", "finite"}},
    {"NaN in a cell (data.missing = error)", CSV("nan.csv"), 1, {"nan.csv:5:1", "column 'a'"}},
    {"an empty cell", CSV("hole.csv"), 1, {"hole.csv:6:2", "column 'b'"}},
    {"values whose variance overflows", CSV("overflow.csv"), 1, {"overflow.csv", "column 'a'"}},
    {"a test value 1e300 beyond the training range",
     CSV("outlier.csv"),
     1,
     {"outlier.csv", "data row 190", "column 'b'"}},
    {"a row with a field missing", CSV("short.csv"), 1, {"short.csv:4:2", "ends early"}},
    {"a duplicate column name", CSV("dupcol.csv"), 1, {"dupcol.csv:1", "'a'"}},
    {"an empty column name", CSV("nocol.csv"), 1, {"nocol.csv:1"}},
    {"an unterminated quote", CSV("quote_open.csv"), 1, {"quote_open.csv:3"}},
    {"a quoted field holding a comma", CSV("quote_comma.csv"), 1, {"quote_comma.csv:3:2"}},
    {"tab-separated values", CSV("tabs.csv"), 1, {"tabs.csv:2:1"}},
    {"a CSV that does not exist", CSV("nosuch.csv"), 1, {"nosuch.csv", "cannot open"}},
    {"a folder given as the CSV", CSV("folder"), 1, {"folder"}},
    {"a date column that is not in the header",
     CSV("series.csv") " --set data.date_column=day",
     2,
     {"--set data.date_column=day", "day"}},
    {"a channel that is not in the header",
     CSV("series.csv") " --set data.columns=a,c",
     2,
     {"--set data.columns=a,c", "'c'"}},
    {"lookback longer than the data",
     CSV("series.csv") " --set data.lookback=5000",
     2,
     {"series.csv", "5000"}},
    {"horizon longer than the test split",
     CSV("series.csv") " --set data.horizon=200",
     2,
     {"series.csv", "200"}},
    /* accepted forms: they must load exactly as series.csv does */
    {"CRLF line ends", CSV("crlf.csv"), 0, {0}},
    {"quoted numeric fields", CSV("quoted.csv"), 0, {0}},
    {"a UTF-8 BOM", CSV("bom.csv"), 0, {0}},
    {"no final newline", CSV("nonl.csv"), 0, {0}},
    {"spaces around numbers", CSV("spaces.csv"), 0, {0}},
    /* configs and --set */
    {"a key given twice", "train dup.ini", 2, {"dup.ini:5", "data.lookback"}},
    {"an unknown section", "train section.ini", 2, {"section.ini:3", "modle"}},
    {"an unknown key", "train key.ini", 2, {"key.ini:4", "model.head"}},
    {"a negative size", "train negative.ini", 2, {"negative.ini:4", "model.d_model"}},
    {"a zero horizon", "train zero_h.ini", 2, {"zero_h.ini:4", "data.horizon"}},
    {"a negative lookback", TRAIN "--set data.lookback=-4", 2, {"--set data.lookback=-4"}},
    {"a zero batch size", TRAIN "--set train.batch_size=0", 2, {"train.batch_size"}},
    {"a learning rate that is not a number", "train lr.ini", 2, {"lr.ini:7", "train.lr", "abc"}},
    {"a NaN learning rate", TRAIN "--set train.lr=nan", 2, {"--set train.lr=nan", "train.lr"}},
    {"an infinite learning rate", TRAIN "--set train.lr=1e999", 2, {"train.lr"}},
    {"epochs beyond int", TRAIN "--set train.epochs=99999999999", 2, {"train.epochs"}},
    {"dropout of 1", TRAIN "--set model.dropout=1", 2, {"model.dropout"}},
    {"heads that do not divide d_model",
     TRAIN "--set model.heads=3",
     2,
     {"model.heads", "model.d_model"}},
    {"a patch longer than the lookback", TRAIN "--set model.patch_len=99", 2, {"model.patch_len"}},
    {"a line without '='", "train noeq.ini", 2, {"noeq.ini:3"}},
    {"a key before any section", "train nosection.ini", 2, {"nosection.ini:1"}},
    {"a line of 5000 characters", "train longline.ini", 2, {"longline.ini:2"}},
    {"a binary config", "train binary.ini", 2, {"binary.ini"}},
    {"an empty config", "train empty.ini", 2, {"empty.ini"}},
    {"a config that does not exist", "train nosuch.ini", 2, {"nosuch.ini"}},
    {"--set without '='", TRAIN "--set train.lr", 2, {"--set train.lr"}},
    {"--set of an unknown key", TRAIN "--set train.rate=1", 2, {"train.rate"}},
    /* checkpoints */
    {"an empty checkpoint", "info empty.h5", 1, {"empty.h5"}},
    {"a checkpoint cut inside its user block", "info cut100.h5", 1, {"cut100.h5", "truncated"}},
    {"a checkpoint cut after its user block", "eval cut600.h5", 1, {"cut600.h5", "truncated"}},
    {"a checkpoint cut in half",
     "predict cut_half.h5 --input series.csv",
     1,
     {"cut_half.h5", "truncated"}},
    {"a checkpoint one byte short", TRAIN "--resume cut_last.h5", 1, {"cut_last.h5", "truncated"}},
    {"an unsealed checkpoint cut after its superblock",
     "info cut600_unsealed.h5",
     1,
     {"cut600_unsealed.h5"}},
    {"an unsealed checkpoint cut in half",
     "eval cut_half_unsealed.h5",
     1,
     {"cut_half_unsealed.h5"}},
    {"a text file as a checkpoint", "info text.h5", 1, {"text.h5"}},
    {"a folder as a checkpoint", "info folder", 1, {"folder"}},
    {"a checkpoint that does not exist", "eval nosuch.h5", 1, {"nosuch.h5"}},
    {"a wrong shape, stale seal", "info shape_stale.h5", 1, {"shape_stale.h5", "checksum"}},
    {"a wrong shape, unsealed",
     "eval shape_unsealed.h5",
     1,
     {"shape_unsealed.h5", "/params/input_proj.weight"}},
    {"a wrong shape, re-sealed",
     "info shape_sealed.h5",
     1,
     {"shape_sealed.h5", "/params/input_proj.weight"}},
    {"a float64 parameter, re-sealed",
     "predict dtype_sealed.h5 --input series.csv",
     1,
     {"dtype_sealed.h5", "/params/head.bias", "float32"}},
    {"an int32 parameter, unsealed", "info dtype_int.h5", 1, {"dtype_int.h5", "/params/head.bias"}},
    {"another attention kind in /config, re-sealed",
     "info kind_sealed.h5",
     1,
     {"kind_sealed.h5", "/params/"}},
    {"another attention kind in /config, unsealed",
     "eval kind_unsealed.h5",
     1,
     {"kind_unsealed.h5", "/params/"}},
    {"resuming another attention kind",
     TRAIN "--set model.attention=gated --resume good.h5",
     1,
     {"good.h5", "model.attention"}},
    {"a NaN weight, re-sealed",
     "info nan_sealed.h5",
     1,
     {"nan_sealed.h5", "/params/layers.0.ff1.weight"}},
    {"an infinite weight, unsealed",
     "eval inf_unsealed.h5",
     1,
     {"inf_unsealed.h5", "/params/norm_f.weight"}},
    {"a NaN weight, stale seal", "info nan_stale.h5", 1, {"nan_stale.h5", "checksum"}},
    {"a NaN Adam moment, re-sealed",
     TRAIN "--resume moment_nan.h5",
     1,
     {"moment_nan.h5", "/optimizer/exp_avg/head.weight"}},
    {"a missing parameter, re-sealed",
     "info missing_sealed.h5",
     1,
     {"missing_sealed.h5", "/params/head.bias"}},
    {"an unexpected parameter, re-sealed",
     "info extra_sealed.h5",
     1,
     {"extra_sealed.h5", "/params/bogus"}},
    {"an unsupported format_version, re-sealed",
     "info version_sealed.h5",
     1,
     {"version_sealed.h5", "format_version"}},
    {"a garbled seal line", "info garbled_seal.h5", 1, {"garbled_seal.h5"}},
    {"a NaN scaler std, re-sealed",
     "predict scaler_nan.h5 --input series.csv",
     1,
     {"scaler_nan.h5", "/scaler/std"}},
    /* inputs next to a good checkpoint */
    {"predict from fewer rows than the lookback",
     "predict good.h5 --input few.csv",
     1,
     {"few.csv", "24 rows"}},
    {"predict from a window with a NaN",
     "predict good.h5 --input nan.csv",
     1,
     {"nan.csv:5:1", "column 'a'"}},
    {"explain a window with an infinite value",
     "explain good.h5 --input inf.csv --out ex",
     1,
     {"inf.csv:9:2", "column 'b'"}},
    {"predict from a CSV without a channel",
     "predict good.h5 --input only_a.csv",
     1,
     {"only_a.csv", "'b'"}},
    {"eval on a CSV without a channel", "eval good.h5 --data only_a.csv", 1, {"only_a.csv", "'b'"}},
    {"eval on a split that does not exist", "eval good.h5 --split bogus", 2, {"--split", "bogus"}},
    {"predict past the last row",
     "predict good.h5 --input series.csv --at 9999",
     1,
     {"series.csv", "--at 9999"}},
    {"resuming a folder without last.h5", TRAIN "--resume folder", 1, {"folder/last.h5"}},
    {"resuming from a CSV", TRAIN "--resume series.csv", 1, {"series.csv", "HDF5"}},
};
#define N_CASES (sizeof CASES / sizeof CASES[0])

/* ---- the inputs ---- */

static void write_configs(void) {
    const char *base = "[data]\ncsv = series.csv\nlookback = 24\nhorizon = 6\n"
                       "[model]\nd_model = 8\nheads = 2\nlayers = 1\nd_ff = 16\npatch_len = 6\n"
                       "patch_stride = 3\n"
                       "[train]\nepochs = 2\nbatch_size = 16\nseed = 3\nthreads = 1\n";
    assert_int_equal(tu_write_file(dir, "base.ini", base), 0);
    assert_int_equal(tu_write_file(dir, "dup.ini",
                                   "[data]\ncsv = series.csv\nlookback = 24\n"
                                   "horizon = 6\nlookback = 12\n"),
                     0);
    assert_int_equal(tu_write_file(dir, "section.ini",
                                   "[data]\ncsv = series.csv\n[modle]\n"
                                   "d_model = 8\n"),
                     0);
    assert_int_equal(tu_write_file(dir, "key.ini", "[data]\ncsv = series.csv\n[model]\nhead = 2\n"),
                     0);
    assert_int_equal(tu_write_file(dir, "negative.ini",
                                   "[data]\ncsv = series.csv\n[model]\n"
                                   "d_model = -8\n"),
                     0);
    assert_int_equal(tu_write_file(dir, "zero_h.ini",
                                   "[data]\ncsv = series.csv\nlookback = 24\n"
                                   "horizon = 0\n"),
                     0);
    assert_int_equal(tu_write_file(dir, "lr.ini",
                                   "[data]\ncsv = series.csv\nlookback = 24\n"
                                   "horizon = 6\n[train]\nepochs = 1\nlr = abc\n"),
                     0);
    assert_int_equal(tu_write_file(dir, "noeq.ini", "[data]\ncsv = series.csv\nlookback 24\n"), 0);
    assert_int_equal(tu_write_file(dir, "nosection.ini", "lookback = 24\n[data]\ncsv = x.csv\n"),
                     0);
    char *longline = malloc(5100);
    int n = snprintf(longline, 5100, "[data]\ncsv = ");
    memset(longline + n, 'x', 5000);
    strcpy(longline + n + 5000, ".csv\n");
    assert_int_equal(tu_write_file(dir, "longline.ini", longline), 0);
    free(longline);
    write_bytes("binary.ini", "[data]\x00\x01\xff\xfe\ncsv\x00= a\n", 17);
    write_bytes("empty.ini", "", 0);
}

static void write_csvs(void) {
    write_csv("series.csv", "a,b", 200, "\n", PLAIN);
    write_bytes("empty.csv", "", 0);
    write_bytes("blank.csv", "\n\n\n", 3);
    write_bytes("binary.csv", "a,b\n\x00\x01\x02,\x03\n", 10);
    write_bytes("noise.csv", "\xff\xfe\x80\x81\n\xc3\x28\xa0\xa1,\xe2\x82\n\xf0\x28\x8c\x28\n", 17);
    write_bytes("header.csv", "a,b\n", 4);
    write_bytes("header_nonl.csv", "a,b", 3);
    write_bytes("bom_header.csv",
                "\xef\xbb\xbf"
                "a,b\n",
                7);
    write_csv("trailing.csv", "a,b", 200, "\n", TRAILING_COMMA);
    write_csv("trailing_all.csv", "a,b,", 200, "\n", TRAILING_COMMA);
    write_csv("crlf.csv", "a,b", 200, "\r\n", PLAIN);
    write_csv("quoted.csv", "\"a\",\"b\"", 200, "\n", QUOTED);
    write_csv("nonl.csv", "a,b", 200, "\n", PLAIN);
    size_t n = 0;
    char *text = read_named("nonl.csv", &n);
    write_bytes("nonl.csv", text, n - 1);
    write_bytes("bom.csv", "\xef\xbb\xbf", 3);
    char path[512];
    snprintf(path, sizeof path, "%s/bom.csv", dir);
    FILE *f = fopen(path, "ab");
    fwrite(text, 1, n, f);
    fclose(f);
    free(text);
    write_csv("spaces.csv", "a,b", 200, "\n", SPACED);
    /* one bad cell in an otherwise good file: line L (1 = header), field F (1-based) */
    struct {
        const char *name, *cell;
        int line, field;
    } cells[] = {{"text.csv", "oops", 12, 2},     {"e400.csv", "1e400", 7, 1},
                 {"inf.csv", "inf", 9, 2},        {"minf.csv", "-Infinity", 9, 1},
                 {"nan.csv", "NaN", 5, 1},        {"hole.csv", "", 6, 2},
                 {"outlier.csv", "1e300", 191, 2}};
    for (size_t k = 0; k < sizeof cells / sizeof cells[0]; k++) {
        char *csv = malloc(200 * 64), *at = csv;
        at += sprintf(at, "a,b\n");
        for (int line = 2; line <= 201; line++) {
            double v[2] = {sin(line * 0.3), cos(line * 0.17)};
            for (int fld = 0; fld < 2; fld++) {
                if (line == cells[k].line && fld + 1 == cells[k].field)
                    at += sprintf(at, "%s", cells[k].cell);
                else
                    at += sprintf(at, "%.6f", v[fld]);
                *at++ = fld ? '\n' : ',';
            }
        }
        write_bytes(cells[k].name, csv, (size_t)(at - csv));
        free(csv);
    }
    char *csv = malloc(200 * 64), *at = csv;
    at += sprintf(at, "a,b\n");
    for (int t = 0; t < 200; t++)
        at += sprintf(at, "%s,%.6f\n", t % 2 ? "1e300" : "-1e300", 0.1 * t);
    write_bytes("overflow.csv", csv, (size_t)(at - csv));
    free(csv);
    assert_int_equal(tu_write_file(dir, "short.csv", "a,b\n1,2\n3,4\n5\n6,7\n"), 0);
    assert_int_equal(tu_write_file(dir, "dupcol.csv", "a,a\n1,2\n3,4\n"), 0);
    assert_int_equal(tu_write_file(dir, "nocol.csv", "a,,b\n1,2,3\n"), 0);
    assert_int_equal(tu_write_file(dir, "quote_open.csv", "a,b\n1,2\n\"3,4\n5,6\n"), 0);
    assert_int_equal(tu_write_file(dir, "quote_comma.csv", "a,b\n1,2\n3,\"4,5\"\n"), 0);
    assert_int_equal(tu_write_file(dir, "few.csv", "a,b\n1,2\n3,4\n5,6\n"), 0);
    assert_int_equal(tu_write_file(dir, "only_a.csv",
                                   "a\n1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n"
                                   "11\n12\n13\n14\n15\n16\n17\n18\n19\n20\n"
                                   "21\n22\n23\n24\n25\n"),
                     0);
    assert_int_equal(tu_write_file(dir, "tabs.csv", "a\tb\n1\t2\n3\t4\n"), 0);
    snprintf(path, sizeof path, "%s/folder", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(tu_write_file(dir, "text.h5", "this is not HDF5\n"), 0);
}

static void write_checkpoints(void) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && '%s' train base.ini --out good --quiet && cp good/last.h5 good.h5", dir,
             tu_bin());
    int rc = tu_run(cmd, out, sizeof out);
    if (rc != 0) fail_msg("exit %d: %s", rc, out);
    size_t len = 0;
    free(read_named("good.h5", &len));
    truncated_copy("empty.h5", 0, false);
    truncated_copy("cut100.h5", 100, false);
    truncated_copy("cut600.h5", 600, false);
    truncated_copy("cut_half.h5", len / 2, false);
    truncated_copy("cut_last.h5", len - 1, false);
    truncated_copy("cut600_unsealed.h5", 600, true);
    truncated_copy("cut_half_unsealed.h5", len / 2, true);
    /* input_proj.weight is [d_model 8, patch_len 6] */
    const struct {
        const char *name;
        seal how;
    } shapes[] = {{"shape_stale.h5", STALE_SEAL},
                  {"shape_unsealed.h5", UNSEALED},
                  {"shape_sealed.h5", RESEALED}};
    for (int k = 0; k < 3; k++) {
        hid_t f = open_copy("good.h5", shapes[k].name);
        replace_dataset(f, "/params/input_proj.weight", H5T_IEEE_F32LE, 8, 7, 0.01);
        finish_copy(f, shapes[k].name, shapes[k].how);
    }
    hid_t f = open_copy("good.h5", "dtype_sealed.h5"); /* head.bias is [H * 1 = 6] */
    replace_dataset(f, "/params/head.bias", H5T_IEEE_F64LE, 6, 0, 0.01);
    finish_copy(f, "dtype_sealed.h5", RESEALED);
    f = open_copy("good.h5", "dtype_int.h5");
    replace_dataset(f, "/params/head.bias", H5T_STD_I32LE, 6, 0, 1);
    finish_copy(f, "dtype_int.h5", UNSEALED);
    f = open_copy("good.h5", "kind_sealed.h5");
    edit_config_text(f, "attention = dot", "attention = gated");
    finish_copy(f, "kind_sealed.h5", RESEALED);
    f = open_copy("good.h5", "kind_unsealed.h5");
    edit_config_text(f, "attention = dot", "attention = additive");
    finish_copy(f, "kind_unsealed.h5", UNSEALED);
    f = open_copy("good.h5", "nan_sealed.h5");
    poke_first(f, "/params/layers.0.ff1.weight", NAN);
    finish_copy(f, "nan_sealed.h5", RESEALED);
    f = open_copy("good.h5", "inf_unsealed.h5");
    poke_first(f, "/params/norm_f.weight", INFINITY);
    finish_copy(f, "inf_unsealed.h5", UNSEALED);
    f = open_copy("good.h5", "nan_stale.h5");
    poke_first(f, "/params/head.weight", NAN);
    finish_copy(f, "nan_stale.h5", STALE_SEAL);
    f = open_copy("good.h5", "moment_nan.h5");
    poke_first(f, "/optimizer/exp_avg/head.weight", NAN);
    finish_copy(f, "moment_nan.h5", RESEALED);
    f = open_copy("good.h5", "missing_sealed.h5");
    assert_true(H5Ldelete(f, "/params/head.bias", H5P_DEFAULT) >= 0);
    finish_copy(f, "missing_sealed.h5", RESEALED);
    f = open_copy("good.h5", "extra_sealed.h5");
    replace_dataset(f, "/params/bogus", H5T_IEEE_F32LE, 2, 2, 0.5);
    finish_copy(f, "extra_sealed.h5", RESEALED);
    f = open_copy("good.h5", "version_sealed.h5");
    set_root_int(f, "format_version", 99);
    finish_copy(f, "version_sealed.h5", RESEALED);
    f = open_copy("good.h5", "scaler_nan.h5");
    hid_t ds = H5Dopen2(f, "/scaler/std", H5P_DEFAULT);
    double std2[2] = {NAN, 1.0};
    assert_true(ds >= 0 &&
                H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, std2) >= 0);
    H5Dclose(ds);
    finish_copy(f, "scaler_nan.h5", RESEALED);
    char *data = read_named("good.h5", &len);
    memcpy(data + strlen(SEAL_MAGIC), "zz", 2); /* the digest is no longer hex */
    write_bytes("garbled_seal.h5", data, len);
    free(data);
}

/* metrics.json without its timings, as compact JSON. */
static char *metrics_without_timings(void) {
    char *text = read_named("runs/x/metrics.json", NULL);
    cJSON *json = cJSON_Parse(text);
    free(text);
    assert_non_null(json);
    cJSON_DeleteItemFromObject(json, "train_seconds");
    cJSON_DeleteItemFromObject(json, "windows_per_s");
    cJSON_DeleteItemFromObject(json, "data"); /* the CSV's path */
    char *compact = cJSON_PrintUnformatted(json);
    cJSON_Delete(json);
    return compact;
}

static int run(const char *args) {
    char cmd[2048];
    /* stderr alone is captured: stdout goes away */
    snprintf(cmd, sizeof cmd, "{ cd '%s' && rm -rf runs/x && '%s' %s 2>&1 >/dev/null; }", dir,
             tu_bin(), args);
    return tu_run(cmd, out, sizeof out);
}

static int setup(void **state) {
    (void)state;
    if (tu_make_temp_dir(dir, sizeof dir, "bad-input") != 0) return -1;
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
    write_configs();
    write_csvs();
    write_checkpoints();
    if (run(CSV("series.csv")) != 0) {
        fprintf(stderr, "the plain CSV failed: %s\n", out);
        return -1;
    }
    plain_metrics = metrics_without_timings();
    return 0;
}

static int teardown(void **state) {
    (void)state;
    free(plain_metrics);
    return tu_remove_dir(dir);
}

/* Checks one case; returns a description of what is wrong, or NULL. */
static const char *check(const bad_input *c, int rc, char *why, size_t n) {
    if (rc < 0 || rc >= 128) return "died of a signal";
    if (strstr(out, "Sanitizer") || strstr(out, "runtime error"))
        return "the sanitizers reported an error";
    if (c->exit_code == 0) {
        if (rc != 0) return "was refused";
        char *metrics = metrics_without_timings();
        bool same = strcmp(metrics, plain_metrics) == 0;
        free(metrics);
        return same ? NULL : "loaded differently from the plain CSV";
    }
    if (rc != c->exit_code) {
        snprintf(why, n, "exit %d, wanted %d", rc, c->exit_code);
        return why;
    }
    if (tu_count_lines(out) != 1) return "not one line on stderr";
    if (strncmp(out, "attncast: ", 10) != 0) return "does not begin with 'attncast: '";
    for (int k = 0; k < 3 && c->says[k]; k++)
        if (!strstr(out, c->says[k])) {
            snprintf(why, n, "does not name '%s'", c->says[k]);
            return why;
        }
    return NULL;
}

static void test_every_bad_input_is_refused_in_one_line_and_every_good_form_loads(void **state) {
    (void)state;
    int failures = 0, refused = 0, accepted = 0;
    for (size_t i = 0; i < N_CASES; i++) {
        const bad_input *c = &CASES[i];
        int rc = run(c->args);
        char why[160];
        const char *wrong = check(c, rc, why, sizeof why);
        if (wrong) {
            failures++;
            print_error("case %zu, %s (attncast %s): %s; stderr: %s\n", i + 1, c->what, c->args,
                        wrong, out);
        } else if (c->exit_code) {
            refused++;
        } else {
            accepted++;
        }
    }
    print_message("%zu cases: %d refused in one line as wanted, %d accepted forms loaded as the "
                  "plain CSV, %d wrong\n",
                  N_CASES, refused, accepted, failures);
    assert_int_equal(failures, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_bad_input_is_refused_in_one_line_and_every_good_form_loads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
