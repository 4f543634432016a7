#!/usr/bin/python3
"""accuracy.py - attncast on the long-horizon benchmarks, beside the published tables (issue 7).

Runs the table: for each dataset x lookback x horizon cell it trains the cell's tuned config,
models/accuracy/<dataset>_L<L>_H<H>.ini, with `attncast train` (one run at a time, each for
every seed asked for), appends each run's test metrics (from the run folder's metrics.json) to a
CSV, and writes a Markdown table from every row of that CSV: attncast's MSE and MAE (mean and
spread over seeds), the naive repeat baseline on the same test windows, the published numbers of
DLinear, PatchTST and iTransformer (with paper, table and lookback), and the training time.

The protocol is MODEL.md's and the literature's: 70/10/20 split by rows with look-back across the
borders, z-score fitted on the training rows, all channels in and out, stride-1 windows, MSE and
MAE on the scaled values over every test window, channel and step (no window dropped).

  /usr/bin/python3 tools/accuracy.py                       # every L=96 cell, 1 seed
  /usr/bin/python3 tools/accuracy.py --cells weather:96:96,exchange_rate:96:96 --seeds 3
  /usr/bin/python3 tools/accuracy.py --lookback 512         # the longer-lookback cells (L=512:
                                                            # Weather; Exchange's are L=336)
  /usr/bin/python3 tools/accuracy.py --variant missing --datasets weather   # -9999 as missing
  /usr/bin/python3 tools/accuracy.py --table-only           # rewrite the table from the CSV
  /usr/bin/python3 tools/accuracy.py val-mse SWEEP_DIR      # rank a sweep by validation MSE
  /usr/bin/python3 tools/accuracy.py --datasets exchange_rate --set model.dropout=0.5 \
      --label drop5 --csv docs/accuracy/tries.csv            # every cell's config, overridden

Each row also holds the validation MSE and MAE of the run's best weights (and the naive repeat's
on the validation windows), from `attncast eval best.h5 --split val`, so a choice between
configs can be made without the test split.

Rerunning resumes: a (dataset, lookback, horizon, variant, seed, config digest) already in the CSV
is skipped, so an interrupted table finishes where it stopped and a changed config runs again.
Standard library only; run it with /usr/bin/python3.
"""
import argparse
import csv
import datetime
import hashlib
import io
import json
import math
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATASETS = ("exchange_rate", "weather", "ETTh1", "ETTh2")
HORIZONS = (96, 192, 336, 720)
DEFAULT_CSV = os.path.join(ROOT, "docs", "accuracy", "runs.csv")
DEFAULT_TABLE = os.path.join(ROOT, "docs", "accuracy", "table.md")

# Variants of the data: "published" leaves weather's -9999 cells as numbers, as the published
# runs did; "missing" treats them as missing cells, filled linearly (labelled apart in the table).
VARIANTS = {
    "published": [],
    "missing": ["data.missing_marker=-9999", "data.missing=interpolate"],
}

# Published test MSE / MAE, multivariate, on the same split and scaling. Every number below was
# checked against the paper's table as reproduced by a second paper citing it (see docs/accuracy.md).
ITRANSFORMER_T10 = "Liu et al., iTransformer, ICLR 2024, Table 10 (L=96)"
PATCHTST_T3 = "Nie et al., PatchTST, ICLR 2023, Table 3"
DLINEAR_T2 = "Zeng et al., DLinear, AAAI 2023, Table 2 (L=336)"
TIMEMIXER_T13 = "Wang et al., TimeMixer, ICLR 2024, Table 13 (L=96)"
PUBLISHED = {
    # (dataset, lookback class) -> list of (model, lookback, source, {H: (mse, mae)})
    ("exchange_rate", 96): [
        ("iTransformer", 96, ITRANSFORMER_T10,
         {96: (0.086, 0.206), 192: (0.177, 0.299), 336: (0.331, 0.417), 720: (0.847, 0.691)}),
        ("PatchTST", 96, ITRANSFORMER_T10,
         {96: (0.088, 0.205), 192: (0.176, 0.299), 336: (0.301, 0.397), 720: (0.901, 0.714)}),
        ("DLinear", 96, ITRANSFORMER_T10,
         {96: (0.088, 0.218), 192: (0.176, 0.315), 336: (0.313, 0.427), 720: (0.839, 0.695)}),
    ],
    ("weather", 96): [
        ("iTransformer", 96, ITRANSFORMER_T10,
         {96: (0.174, 0.214), 192: (0.221, 0.254), 336: (0.278, 0.296), 720: (0.358, 0.347)}),
        ("PatchTST", 96, ITRANSFORMER_T10,
         {96: (0.177, 0.218), 192: (0.225, 0.259), 336: (0.278, 0.297), 720: (0.354, 0.348)}),
        ("DLinear", 96, ITRANSFORMER_T10,
         {96: (0.196, 0.255), 192: (0.237, 0.296), 336: (0.283, 0.335), 720: (0.345, 0.381)}),
        ("TimeMixer", 96, TIMEMIXER_T13,
         {96: (0.163, 0.209), 192: (0.208, 0.250), 336: (0.251, 0.287), 720: (0.339, 0.341)}),
    ],
    ("ETTh1", 96): [
        ("iTransformer", 96, ITRANSFORMER_T10,
         {96: (0.386, 0.405), 192: (0.441, 0.436), 336: (0.487, 0.458), 720: (0.503, 0.491)}),
        ("PatchTST", 96, ITRANSFORMER_T10,
         {96: (0.414, 0.419), 192: (0.460, 0.445), 336: (0.501, 0.466), 720: (0.500, 0.488)}),
        ("DLinear", 96, ITRANSFORMER_T10,
         {96: (0.386, 0.400), 192: (0.437, 0.432), 336: (0.481, 0.459), 720: (0.519, 0.516)}),
        ("TimeMixer", 96, TIMEMIXER_T13,
         {96: (0.375, 0.400), 192: (0.429, 0.421), 336: (0.484, 0.458), 720: (0.498, 0.482)}),
    ],
    ("ETTh2", 96): [
        ("iTransformer", 96, ITRANSFORMER_T10,
         {96: (0.297, 0.349), 192: (0.380, 0.400), 336: (0.428, 0.432), 720: (0.427, 0.445)}),
        ("PatchTST", 96, ITRANSFORMER_T10,
         {96: (0.302, 0.348), 192: (0.388, 0.400), 336: (0.426, 0.433), 720: (0.431, 0.446)}),
        ("DLinear", 96, ITRANSFORMER_T10,
         {96: (0.333, 0.387), 192: (0.477, 0.476), 336: (0.594, 0.541), 720: (0.831, 0.657)}),
        ("TimeMixer", 96, TIMEMIXER_T13,
         {96: (0.289, 0.341), 192: (0.372, 0.392), 336: (0.386, 0.414), 720: (0.412, 0.434)}),
    ],
    ("weather", "long"): [
        ("PatchTST/64", 512, PATCHTST_T3,
         {96: (0.149, 0.198), 192: (0.194, 0.241), 336: (0.245, 0.282), 720: (0.314, 0.334)}),
        ("PatchTST/42", 336, PATCHTST_T3,
         {96: (0.152, 0.199), 192: (0.197, 0.243), 336: (0.249, 0.283), 720: (0.320, 0.335)}),
        ("DLinear", 336, PATCHTST_T3,
         {96: (0.176, 0.237), 192: (0.220, 0.282), 336: (0.265, 0.319), 720: (0.323, 0.362)}),
    ],
    ("exchange_rate", "long"): [
        # PatchTST's paper has no Exchange results.
        ("DLinear", 336, DLINEAR_T2,
         {96: (0.081, 0.203), 192: (0.157, 0.293), 336: (0.305, 0.414), 720: (0.643, 0.601)}),
    ],
}

CSV_FIELDS = [
    "date", "dataset", "lookback", "horizon", "variant", "seed", "config", "config_sha256",
    "mse", "mae", "naive_mse", "naive_mae", "best_val_loss", "loss", "best_epoch", "epochs_run",
    "train_seconds", "threads", "windows", "parameters", "attncast_version", "git_commit",
    "run_dir", "val_mse", "val_mae", "val_naive_mse", "overrides",
]


def fail(msg):
    sys.exit("accuracy.py: " + msg)


def published_for(dataset, lookback):
    return PUBLISHED.get((dataset, 96 if lookback == 96 else "long"), [])


def config_path(models_dir, dataset, lookback, horizon):
    return os.path.join(models_dir, "%s_L%d_H%d.ini" % (dataset, lookback, horizon))


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def git_commit():
    try:
        out = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def read_rows(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def csv_text(rows):
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=CSV_FIELDS, restval="", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: r.get(k) or "" for k in CSV_FIELDS})
    return out.getvalue()


def append_row(path, row):
    """Appends one run; a CSV written with older columns is first rewritten under the current
    ones (the new columns empty for its rows)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    header = None
    if os.path.exists(path):
        with open(path, newline="") as f:
            header = next(csv.reader(f), None)
    if header != CSV_FIELDS:
        write_atomic(path, csv_text(read_rows(path) + [row]))
        return
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_FIELDS, lineterminator="\n")
        w.writerow(row)
        f.flush()
        os.fsync(f.fileno())


def parse_cells(args):
    """The (dataset, lookback, horizon) cells to run, from --cells or the other options."""
    if args.cells:
        cells = []
        for item in args.cells.split(","):
            parts = item.split(":")
            if len(parts) != 3:
                fail("--cells: expected dataset:lookback:horizon (e.g. weather:96:96), got '%s'"
                     % item)
            if parts[0] not in DATASETS:
                fail("--cells: unknown dataset '%s' in '%s' (known: %s)"
                     % (parts[0], item, ", ".join(DATASETS)))
            try:
                cells.append((parts[0], int(parts[1]), int(parts[2])))
            except ValueError:
                fail("--cells: lookback and horizon are whole numbers, got '%s'" % item)
        return cells
    datasets = args.datasets.split(",")
    for d in datasets:
        if d not in DATASETS:
            fail("--datasets: unknown dataset '%s' (known: %s)" % (d, ", ".join(DATASETS)))
    try:
        horizons = [int(h) for h in args.horizons.split(",")]
    except ValueError:
        fail("--horizons: expected comma-separated whole numbers, got '%s'" % args.horizons)
    return [(d, args.lookback, h) for d in datasets for h in horizons]


def run_digest(config, overrides):
    """SHA-256 of the config file, and of the --set overrides when there are any."""
    digest = sha256_of(config)
    if overrides:
        digest = hashlib.sha256((digest + "\n" + "\n".join(overrides)).encode()).hexdigest()
    return digest


def eval_val(binary, run_dir):
    """MSE and MAE of the run's best weights on the validation split, and the naive repeat's."""
    out = subprocess.run([binary, "eval", os.path.join(run_dir, "best.h5"), "--split", "val",
                          "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        fail("eval --split val of %s failed: %s" % (run_dir, out.stderr.strip()))
    m = json.loads(out.stdout)
    return m["model"]["mse"], m["model"]["mae"], m["baselines"]["naive"]["mse"]


def run_cell(args, dataset, lookback, horizon, seed, config, digest):
    # the folder names the config's digest, so a changed config trains afresh
    name = "%s_L%d_H%d_%s_s%d_%s" % (dataset, lookback, horizon, args.label, seed, digest[:8])
    run_dir = os.path.join(args.runs_dir, name)
    if os.path.exists(os.path.join(run_dir, "metrics.json")):
        pass  # finished, but its row was not written (killed in between)
    else:
        cmd = [args.bin, "train", config, "--quiet", "--out", run_dir,
               "--set", "train.seed=%d" % seed, "--set", "train.threads=%d" % args.threads]
        for s in VARIANTS[args.variant] + args.overrides:
            cmd += ["--set", s]
        if args.try_run:
            cmd.append("--no-test")  # a try chooses on validation: the test split stays unread
        if os.path.exists(os.path.join(run_dir, "last.h5")):
            cmd += ["--resume", run_dir]
        if args.nice:
            cmd = ["nice", "-n", str(args.nice)] + cmd
        print("accuracy.py: %s" % " ".join(cmd), flush=True)
        rc = subprocess.run(cmd).returncode
        if rc != 0:
            fail("%s failed with exit %d" % (name, rc))
    with open(os.path.join(run_dir, "metrics.json")) as f:
        m = json.load(f)
    val_mse_, val_mae_, val_naive = eval_val(args.bin, run_dir)
    hidden = m.get("test_hidden", False)
    test = lambda v: "" if hidden else "%.6f" % v  # noqa: E731 (a try's test fields stay empty)
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "dataset": dataset, "lookback": lookback, "horizon": horizon, "variant": args.label,
        "seed": seed, "config": os.path.relpath(config, ROOT), "config_sha256": digest,
        "overrides": " ".join(args.overrides),
        "val_mse": "%.6f" % val_mse_, "val_mae": "%.6f" % val_mae_,
        "val_naive_mse": "%.6f" % val_naive,
        "mse": test(m["model"]["mse"]), "mae": test(m["model"]["mae"]),
        "naive_mse": test(m["baselines"]["naive"]["mse"]),
        "naive_mae": test(m["baselines"]["naive"]["mae"]),
        "best_val_loss": "%.6f" % m["best_val_loss"], "loss": m["loss"],
        "best_epoch": m["best_epoch"], "epochs_run": m["epochs_run"],
        "train_seconds": "%.1f" % m["train_seconds"], "threads": m["threads"],
        "windows": m["windows"], "parameters": m["parameters"],
        "attncast_version": m["attncast_version"], "git_commit": git_commit(),
        "run_dir": os.path.relpath(run_dir, ROOT),
    }


# ---- the table ----

def mean_spread(values):
    """Mean and sample standard deviation (0 for one value)."""
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, sd


def fmt(values, digits=3):
    mean, sd = mean_spread(values)
    if len(values) == 1:
        return "%.*f" % (digits, mean)
    # a spread that would round to zero gets one more digit
    sd_digits = digits + 1 if sd < 0.5 * 10 ** -digits else digits
    return "%.*f ± %.*f" % (digits, mean, sd_digits, sd)


def table_markdown(rows):
    """One Markdown table per (lookback class, variant) from the CSV rows; only the latest config
    digest of each cell counts."""
    rows = [r for r in rows if r["mse"]]  # a try's rows (validation only) make no cell
    latest = {}
    for r in rows:  # the last digest seen for a cell is its current config
        latest[(r["dataset"], int(r["lookback"]), int(r["horizon"]), r["variant"])] = \
            r["config_sha256"]
    groups = {}
    for r in rows:
        key = (r["dataset"], int(r["lookback"]), int(r["horizon"]), r["variant"])
        if r["config_sha256"] != latest[key]:
            continue
        groups.setdefault(key, []).append(r)
    out = []
    # L=96 before the longer lookback; the published variant first within each
    lookback_classes = sorted({(k[1] == 96, k[3]) for k in groups},
                              key=lambda c: (not c[0], c[1] != "published", c[1]))
    for short, variant in lookback_classes:
        title = "Lookback 96" if short else "Longer lookback"
        if variant == "published":
            label = ""
        elif variant == "missing":
            label = " — weather's -9999 cells treated as missing (interpolated), not comparable " \
                "to the published runs"
        else:
            overrides = sorted({r.get("overrides") or "" for k, rs in groups.items()
                                if k[3] == variant
                                for r in rs})
            label = " — variant `%s` (%s)" % (variant, "; ".join(overrides))
        out.append("#### %s%s\n" % (title, label))
        out.append("| dataset | L | H | attncast MSE | attncast MAE | naive MSE | naive MAE | "
                   "iTransformer | PatchTST | DLinear | TimeMixer | seeds | train time / run |")
        out.append("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        cells = sorted(k for k in groups if (k[1] == 96) == short and k[3] == variant)
        for dataset, lookback, horizon, _ in cells:
            rs = groups[(dataset, lookback, horizon, variant)]
            pub = {}
            # the published runs kept the -9999 cells, so the missing variant does not compare
            comparable = published_for(dataset, lookback) if variant != "missing" else []
            for model, plb, _, numbers in comparable:
                if horizon in numbers:
                    family = model.split("/")[0]
                    named = model + " " if "/" in model else ""
                    pub.setdefault(family, []).append("%s%.3f / %.3f (L=%d)"
                                                      % ((named,) + numbers[horizon] + (plb,)))
            secs = [float(r["train_seconds"]) for r in rs]
            out.append("| %s | %d | %d | %s | %s | %.3f | %.3f | %s | %s | %s | %s | %s | %s |" % (
                dataset, lookback, horizon,
                fmt([float(r["mse"]) for r in rs]), fmt([float(r["mae"]) for r in rs]),
                float(rs[0]["naive_mse"]), float(rs[0]["naive_mae"]),
                *("; ".join(pub.get(f, ["—"])) for f in ("iTransformer", "PatchTST", "DLinear", "TimeMixer")),
                ",".join(sorted({r["seed"] for r in rs}, key=int)),
                "%.0f s" % (sum(secs) / len(secs))))
        out.append("")
    out.append("Published columns are MSE / MAE with the lookback each model used. Sources: "
               "%s; %s; %s; %s. attncast: mean ± sample standard deviation over the seeds listed; "
               "naive repeats the last lookback value on the same test windows; train time is "
               "the mean `train_seconds` of one run (1 thread)." % (ITRANSFORMER_T10, PATCHTST_T3,
                                                                   DLINEAR_T2, TIMEMIXER_T13))
    return "\n".join(out) + "\n"


def write_atomic(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


# ---- ranking a sweep by validation MSE ----

def val_mse(args):
    """Ranks the runs of a sweep folder by the MSE of their best weights on the validation split
    (`attncast eval best.h5 --split val`), so runs trained with different losses compare fairly.
    The test split is never read."""
    rows = []
    for name in sorted(os.listdir(args.sweep_dir)):
        ckpt = os.path.join(args.sweep_dir, name, "best.h5")
        if not os.path.exists(os.path.join(args.sweep_dir, name, "metrics.json")):
            continue
        out = subprocess.run([args.bin, "eval", ckpt, "--split", "val", "--json"],
                             capture_output=True, text=True)
        if out.returncode != 0:
            print("%s: eval failed: %s" % (name, out.stderr.strip()), file=sys.stderr)
            continue
        m = json.loads(out.stdout)
        with open(os.path.join(args.sweep_dir, name, "metrics.json")) as f:
            run = json.load(f)
        rows.append((m["model"]["mse"], m["model"]["mae"], m["baselines"]["naive"]["mse"], name,
                     run["best_epoch"], run["train_seconds"]))
    rows.sort()
    print("%-60s %9s %9s %9s %5s %8s" % ("run", "val_mse", "val_mae", "naive", "best", "seconds"))
    for mse, mae, naive, name, best, secs in rows:
        print("%-60s %9.5f %9.5f %9.5f %5d %8.1f" % (name, mse, mae, naive, best, secs))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", default=",".join(DATASETS))
    p.add_argument("--horizons", default=",".join(str(h) for h in HORIZONS))
    p.add_argument("--lookback", type=int, default=96)
    p.add_argument("--cells", help="dataset:lookback:horizon,... (instead of the three above)")
    p.add_argument("--seeds", type=int, default=1, help="seeds per cell (default 1)")
    p.add_argument("--seed-base", type=int, default=2024, help="first seed (default 2024)")
    p.add_argument("--variant", choices=sorted(VARIANTS), default="published")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="a config override for every run (repeatable); needs --label")
    p.add_argument("--label", help="the CSV's variant column for these runs (default: --variant)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--nice", type=int, default=19, help="nice level of the runs (0: none)")
    p.add_argument("--models-dir", default=os.path.join(ROOT, "models", "accuracy"))
    p.add_argument("--runs-dir", default=os.path.join(ROOT, "runs", "accuracy"))
    p.add_argument("--csv", default=DEFAULT_CSV)
    p.add_argument("--table", help="the Markdown table to rewrite (default: docs/accuracy/"
                   "table.md with the default --csv; none with another --csv, so tries never "
                   "overwrite the table of the cells' own runs)")
    p.add_argument("--bin", default=os.environ.get("ATTNCAST_BIN",
                                                   os.path.join(ROOT, "build", "attncast")))
    p.add_argument("--table-only", action="store_true", help="only rewrite the table")
    p.add_argument("--dry-run", action="store_true", help="list the runs it would start")
    if len(sys.argv) > 1 and sys.argv[1] == "val-mse":
        q = argparse.ArgumentParser(prog="accuracy.py val-mse")
        q.add_argument("sweep_dir")
        q.add_argument("--bin", default=os.environ.get("ATTNCAST_BIN",
                                                       os.path.join(ROOT, "build", "attncast")))
        val_mse(q.parse_args(sys.argv[2:]))
        return
    args = p.parse_args()
    if args.seeds < 1:
        fail("--seeds: at least 1")
    if args.overrides and not args.label:
        fail("--set: give --label too, so these runs stay apart from the cells' own configs")
    # a run under its own label is a try: trained with --no-test, it records validation only
    args.try_run = args.label is not None and args.label != args.variant
    args.label = args.label or args.variant
    if args.table is None and os.path.abspath(args.csv) == DEFAULT_CSV:
        args.table = DEFAULT_TABLE
    if not args.table_only:
        cells = parse_cells(args)
        missing = [c for c in cells if not os.path.exists(config_path(args.models_dir, *c))]
        # cells named by --cells must all have a config; of those --datasets, --lookback and
        # --horizons span, the ones without one are skipped (Weather's longer lookback is 512,
        # Exchange's 336)
        if missing and (args.cells or len(missing) == len(cells)):
            dataset, lookback, horizon = missing[0]
            fail("no config for %s L=%d H=%d: %s" % (dataset, lookback, horizon,
                                                     config_path(args.models_dir, dataset,
                                                                 lookback, horizon)))
        for dataset, lookback, horizon in missing:
            print("accuracy.py: skipping %s L=%d H=%d (no %s)" % (
                dataset, lookback, horizon, config_path(args.models_dir, dataset, lookback,
                                                        horizon)), file=sys.stderr)
        cells = [c for c in cells if c not in missing]
        if not args.dry_run and not os.access(args.bin, os.X_OK):
            fail("no attncast binary at %s (build it, or set --bin / ATTNCAST_BIN)" % args.bin)
        for dataset, lookback, horizon in cells:
            config = config_path(args.models_dir, dataset, lookback, horizon)
            digest = run_digest(config, args.overrides)
            for seed in range(args.seed_base, args.seed_base + args.seeds):
                done = any(r["dataset"] == dataset and int(r["lookback"]) == lookback and
                           int(r["horizon"]) == horizon and r["variant"] == args.label and
                           int(r["seed"]) == seed and r["config_sha256"] == digest
                           for r in read_rows(args.csv))
                if done:
                    print("accuracy.py: %s L=%d H=%d %s seed %d: in the CSV, skipped"
                          % (dataset, lookback, horizon, args.label, seed))
                    continue
                if args.dry_run:
                    print("accuracy.py: would run %s L=%d H=%d %s seed %d (%s)"
                          % (dataset, lookback, horizon, args.label, seed, config))
                    continue
                row = run_cell(args, dataset, lookback, horizon, seed, config, digest)
                append_row(args.csv, row)
                # a try shows only the validation split, which chooses
                split, key = ("validation ", "val_") if args.try_run else ("", "")
                print("accuracy.py: %s L=%d H=%d %s seed %d: %smse %s mae %s (naive %s), %s s"
                      % (dataset, lookback, horizon, args.label, seed, split, row[key + "mse"],
                         row[key + "mae"], row[key + "naive_mse"], row["train_seconds"]),
                      flush=True)
    rows = read_rows(args.csv)
    if args.dry_run:
        return
    if rows and args.table is None:
        print("accuracy.py: no table written (--csv %s is not the table's CSV; give --table to "
              "write one)" % args.csv)
    elif rows:
        os.makedirs(os.path.dirname(os.path.abspath(args.table)), exist_ok=True)
        write_atomic(args.table, table_markdown(rows))
        print("accuracy.py: wrote %s from %d run(s) in %s" % (args.table, len(rows), args.csv))


if __name__ == "__main__":
    main()
