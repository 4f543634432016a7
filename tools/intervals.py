#!/usr/bin/env python3
"""intervals.py - the prediction-interval table of docs/intervals.md: empirical coverage and width
of the conformal and quantile intervals on the test split, and the weighted quantile loss beside
the seasonal-naive quantile baseline, for Exchange, Weather and ETTh1 at lookback 96, horizon 96.

For each dataset it trains two models from one config (models/accuracy/ or models/intervals/):
  point     the config as it is (a point forecast; conformal intervals from its validation split)
  quantile  the same with model.quantiles = 0.025,0.1,0.5,0.9,0.975 and train.loss = pinball
            (quantile intervals from its 0.1/0.9 and 0.025/0.975 levels, and conformal ones)
then scores each best.h5 with `attncast eval --json` and writes the table between the markers of
docs/intervals.md. A run folder that already holds best.h5 trained from the same config text is
reused, so a second call only rescores.

    ATTNCAST_DATA_MIRROR=/path/to/data tools/intervals.py [--attncast build/attncast]
        [--runs runs/intervals] [--only exchange_rate,weather,etth1] [--doc docs/intervals.md]

ETTh1 has no dataset card: its CSV is read from $ATTNCAST_DATA_MIRROR/ETTh1.csv (or --etth1 PATH).
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

QUANTILES = "0.025,0.1,0.5,0.9,0.975"
DATASETS = [
    # (name, label, config, needs the ETTh1 CSV)
    ("exchange_rate", "Exchange", "models/accuracy/exchange_rate_L96_H96.ini", False),
    ("weather", "Weather", "models/accuracy/weather_L96_H96.ini", False),
    ("etth1", "ETTh1", "models/intervals/etth1_L96_H96.ini", True),
]
# how far the empirical coverage may be from the nominal level, in percentage points
TARGET = {"conformal": 3.0, "quantile": 5.0}
BEGIN = "<!-- intervals table: begin (tools/intervals.py writes this part) -->"
END = "<!-- intervals table: end -->"


def run(cmd, log):
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=f, text=True)
        f.write(r.stdout)
    if r.returncode != 0:
        sys.exit(f"intervals.py: {' '.join(cmd)} failed (exit {r.returncode}); see {log}")
    return r.stdout


def train_args(variant, csv):
    args = []
    if csv:
        args += ["--csv", csv]
    if variant == "quantile":
        args += ["--set", "model.quantiles=" + QUANTILES, "--set", "train.loss=pinball"]
    return args


def ensure_model(exe, runs, name, config, variant, csv, log):
    """Trains the variant unless its run folder already holds a best.h5 of the same config."""
    run_dir = os.path.join(runs, f"{name}_L96_H96_{variant}")
    best = os.path.join(run_dir, "best.h5")
    stamp = os.path.join(run_dir, "intervals.stamp")
    want = open(config).read() + "\n" + " ".join(train_args(variant, csv))
    if os.path.exists(best) and os.path.exists(stamp) and open(stamp).read() == want:
        return run_dir, None
    start = time.time()
    run([exe, "train", config, "--out", run_dir, "--quiet"] + train_args(variant, csv), log)
    with open(stamp, "w") as f:
        f.write(want)
    return run_dir, time.time() - start


def score(exe, run_dir, log):
    best = os.path.join(run_dir, "best.h5")
    # a best.h5 written before calibration existed gets its /calibration (idempotent otherwise)
    run([exe, "calibrate", best], log)
    return json.loads(run([exe, "eval", best, "--json"], log))


def fmt(x, digits=3):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    return f"{x:.{digits}f}"


def rows_of(label, variant, m):
    out = []
    ql = m.get("quantile_loss") or {}
    base = m.get("seasonal_naive_quantiles") or {}
    for iv in m.get("intervals", []):
        method, level = iv["method"], iv["level"]
        cov = 100.0 * iv["coverage"]
        gap = cov - 100.0 * level
        ok = abs(gap) <= TARGET[method]
        out.append(
            f"| {label} | {variant} | {method} {round(100 * level, 4):g}% | {fmt(cov, 1)} | "
            f"{gap:+.1f} | {'yes' if ok else '**no**'} | {fmt(iv.get('width_scaled'))} | "
            f"{fmt(iv.get('winkler_scaled'))} | {fmt(ql.get('wql'), 4)} ({ql.get('method', '–')}) | "
            f"{fmt(base.get('wql'), 4)} | {fmt(m['model']['mse'], 4)} |")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--attncast", default="build/attncast")
    ap.add_argument("--runs", default="runs/intervals")
    ap.add_argument("--only", default="")
    ap.add_argument("--etth1", default="")
    ap.add_argument("--doc", default="docs/intervals.md")
    a = ap.parse_args()
    mirror = os.environ.get("ATTNCAST_DATA_MIRROR", "")
    etth1 = a.etth1 or (os.path.join(mirror, "ETTh1.csv") if mirror else "")
    only = set(a.only.split(",")) if a.only else None
    os.makedirs(a.runs, exist_ok=True)
    log = os.path.join(a.runs, "intervals.log")
    lines = [
        "| data | model | interval | coverage % | vs nominal | within target | width (scaled) "
        "| Winkler (scaled) | wQL (from) | wQL seasonal-naive quantiles | MSE |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    timings = []
    for name, label, config, needs_csv in DATASETS:
        if only and name not in only:
            continue
        if needs_csv and not os.path.exists(etth1):
            sys.exit("intervals.py: ETTh1.csv not found: set ATTNCAST_DATA_MIRROR or --etth1")
        csv = etth1 if needs_csv else ""
        for variant in ("point", "quantile"):
            run_dir, secs = ensure_model(a.attncast, a.runs, name, config, variant, csv, log)
            if secs is not None:
                timings.append(f"{label} {variant}: trained in {secs:.0f} s")
            lines += rows_of(label, variant, score(a.attncast, run_dir, log))
    table = "\n".join(lines)
    print(table)
    for t in timings:
        print(t)
    if os.path.exists(a.doc) and not only:
        text = open(a.doc).read()
        if BEGIN in text and END in text:
            head, rest = text.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            with open(a.doc, "w") as f:
                f.write(head + BEGIN + "\n" + table + "\n" + END + tail)
            print(f"wrote the table into {a.doc}")


if __name__ == "__main__":
    main()
