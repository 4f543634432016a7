#!/usr/bin/env python3
"""covariates.py - the covariate study of docs/covariates.md (issue 20): does forecasting one target
(OT) get better when the model also reads past covariates, calendar features, or both?

Two studies, each at lookback 96 and the horizons asked for (96, and 24 with --horizons 96,24):
  etth1    ETTh1.csv ($ATTNCAST_DATA_MIRROR/ETTh1.csv or --etth1), split 0.6/0.2/0.2 by rows (not
           the ETT protocol of 12/4/4 months: that is issue 21's), target OT, past covariates the
           six load columns HUFL,HULL,MUFL,MULL,LUFL,LULL
  weather  the weather dataset card (split 0.7/0.1/0.2), target OT (CO2), past covariates every
           other column (20), its -9999 cells read as missing and filled linearly
and four variants of each: target only, + past covariates, + calendar (hour_of_day, day_of_week),
+ both. For every (study, horizon, variant) it trains the candidate settings of CANDIDATES with
seed 2024, keeps the one with the lowest validation MSE (the test split plays no part in the
choice), writes that config to models/covariates/<study>_<variant>_L96_H<H>.ini with the
validation numbers in its header, and trains it again with seeds 2025 and 2026. Every number in the
table is the test MSE / MAE of OT on z-scored values, over every test window (stride 1), as mean
and sample standard deviation of the three seeds, beside the naive repeat on the same windows.

    ATTNCAST_DATA_MIRROR=/path/to/data tools/covariates.py [--attncast build/attncast]
        [--runs runs/covariates] [--horizons 96] [--only etth1,weather] [--jobs 2]
        [--doc docs/covariates.md] [--etth1 ETTh1.csv] [--weather weather.csv]
        [--set section.key=value]...

A run folder that already holds metrics.json of the same config text and arguments is reused, so
an interrupted study resumes and a second call only rewrites the table. Runs go two at a time
(--jobs), each with train.threads = 1. Standard library only.
"""
import argparse
import concurrent.futures
import json
import math
import os
import statistics
import subprocess
import sys
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LOOKBACK = 96
SEEDS = (2024, 2025, 2026)
CALENDAR = "hour_of_day,day_of_week"
ETTH1_PAST = "HUFL,HULL,MUFL,MULL,LUFL,LULL"
VARIANTS = [
    # (name, label, past covariates?, calendar?)
    ("target", "target only", False, False),
    ("past", "+ past covariates", True, False),
    ("calendar", "+ calendar", False, True),
    ("both", "+ past covariates + calendar", True, True),
]
# The shared part of every config; the candidates below override the [model] keys they name.
BASE_MODEL = {
    "attention": "dot", "heads": "4", "layers": "2", "patch_len": "16", "patch_stride": "8",
    "channels": "independent", "revin": "true",
}
BASE_TRAIN = {
    "epochs": "15", "batch_size": "128", "lr": "0.0005", "optimizer": "adam",
    "schedule": "cosine", "loss": "mse", "patience": "3", "seed": "2024", "threads": "1",
}
# The validation-only choice: a small model with heavy dropout (PatchTST's ETTh1 setting, scaled
# down), a wider one with light dropout, and the small one centred on each window's last value
# instead of its mean. With one target, channels = mixed and independent are the same model, so
# the channel mode is not among the candidates.
CANDIDATES = [
    ("small", {"anchor": "mean", "d_model": "16", "d_ff": "64", "dropout": "0.3"}),
    ("wide", {"anchor": "mean", "d_model": "64", "d_ff": "128", "dropout": "0.1"}),
    ("small-last", {"anchor": "last", "d_model": "16", "d_ff": "64", "dropout": "0.3"}),
]
BEGIN = "<!-- covariates table: begin (tools/covariates.py writes this part) -->"
END = "<!-- covariates table: end -->"
LOCK = threading.Lock()


def fail(msg):
    sys.exit("covariates.py: " + msg)


def say(msg):
    with LOCK:
        print(msg, flush=True)


def read(path):
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        return f.read()


def write(path, text):
    with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write(text)


def weather_past(path):
    """Every column of weather.csv but its date and OT, in the file's order."""
    if not os.path.exists(path):
        fail(f"{path} not found: set ATTNCAST_DATA_MIRROR or --weather")
    with open(path, encoding="utf-8", errors="surrogateescape") as f:
        names = [n.strip() for n in f.readline().strip().split(",")]
    return ",".join(n for n in names[1:] if n != "OT")


def studies(etth1, weather, weather_csv):
    """The two studies; weather_csv (--weather) replaces the dataset card by a CSV file."""
    out = {
        "etth1": {
            "label": "ETTh1",
            "data": {"csv": "ETTh1.csv", "split": "0.6,0.2,0.2", "targets": "OT"},
            "past": ETTH1_PAST,
            "args": ["--csv", etth1],
            "note": ("split 0.6/0.2/0.2 by rows; train it with "
                     "--csv $ATTNCAST_DATA_MIRROR/ETTh1.csv"),
        },
        "weather": {
            "label": "Weather",
            "data": {"dataset": "weather", "targets": "OT", "missing_marker": "-9999",
                     "missing": "interpolate"},
            "past": weather_past(weather) if weather else "",
            "args": [],
            "note": "the weather card's split 0.7/0.1/0.2; -9999 cells read as missing",
        },
    }
    if weather_csv:
        w = out["weather"]
        w["data"] = {"csv": "weather.csv", "split": "0.7,0.1,0.2", **w["data"]}
        del w["data"]["dataset"]
        w["args"] = ["--csv", weather_csv]
        w["note"] = ("split 0.7/0.1/0.2; -9999 cells read as missing; train it with "
                     f"--csv {weather_csv}")
    return out


def parse_sets(items):
    """--set section.key=value items as {section: {key: value}}."""
    out = {}
    for item in items:
        name, eq, value = item.partition("=")
        section, dot, key = name.strip().partition(".")
        if not eq or not dot or not section or not key:
            fail(f"--set: expected section.key=value, got '{item}'")
        out.setdefault(section, {})[key] = value.strip()
    return out


def config_text(study, horizon, variant, candidate, header="", sets=None):
    _, _, past, calendar = variant
    data = dict(study["data"])
    if past:
        data["past_covariates"] = study["past"]
    if calendar:
        data["calendar"] = CALENDAR
    data["lookback"] = str(LOOKBACK)
    data["horizon"] = str(horizon)
    model = dict(BASE_MODEL)
    model.update(candidate[1])
    sections = {"data": data, "model": model, "train": dict(BASE_TRAIN),
                "output": {"checkpoint_every": "0"}}
    for section, keys in (sets or {}).items():
        sections.setdefault(section, {}).update(keys)
    out = [header] if header else []
    for section, keys in sections.items():
        out.append(f"[{section}]")
        out += [f"{k} = {v}" for k, v in keys.items()]
        out.append("")
    return "\n".join(out)


def train(exe, runs, name, text, extra, seed, log, hide_test=False):
    """Trains one run unless its folder holds metrics.json of the same config and arguments.
    hide_test: a candidate, trained with --no-test (its metrics.json is of the validation
    split); the test split of the chosen one is scored later (test_metrics)."""
    run_dir = os.path.join(runs, name)
    os.makedirs(run_dir, exist_ok=True)
    config = os.path.join(run_dir, "study.ini")
    args = extra + ["--set", f"train.seed={seed}"] + (["--no-test"] if hide_test else [])
    want = text + "\n; " + " ".join(args)
    stamp = os.path.join(run_dir, "covariates.stamp")
    metrics = os.path.join(run_dir, "metrics.json")
    if not (os.path.exists(metrics) and os.path.exists(stamp) and read(stamp) == want):
        write(config, text)
        if os.path.exists(stamp):
            os.remove(stamp)
        cmd = [exe, "train", config, "--out", run_dir, "--quiet"] + args
        say("covariates.py: " + " ".join(cmd))
        with open(log, "a") as f:
            r = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            fail(f"{name}: attncast train failed (exit {r.returncode}); see {log}")
        write(stamp, want)
    with open(metrics) as f:
        return json.load(f)


def result(m):
    return {
        "val_mse": m["val"]["mse"], "val_naive_mse": m["val_vs_naive"]["naive_mse"],
        "mse": m["model"]["mse"], "mae": m["model"]["mae"],
        "naive_mse": m["baselines"]["naive"]["mse"], "naive_mae": m["baselines"]["naive"]["mae"],
        "seconds": m["train_seconds"], "epochs": m["epochs_run"], "best_epoch": m["best_epoch"],
        "parameters": m["parameters"],
    }


def test_metrics(exe, run_dir, r):
    """r with the test split's metrics of run_dir/best.h5 (attncast eval --json), for the chosen
    candidate, which trained with --no-test."""
    out = subprocess.run([exe, "eval", os.path.join(run_dir, "best.h5"), "--json"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        fail(f"eval of {run_dir}/best.h5 failed: {out.stderr.strip()}")
    m = json.loads(out.stdout)
    return dict(r, mse=m["model"]["mse"], mae=m["model"]["mae"],
                naive_mse=m["baselines"]["naive"]["mse"],
                naive_mae=m["baselines"]["naive"]["mae"])


def run_cell(a, key, study, horizon, variant):
    """Chooses the candidate on validation MSE (the candidates train with --no-test), scores the
    chosen one on the test split, then trains the other seeds of it."""
    vname = variant[0]
    log = os.path.join(a.runs, f"{key}_H{horizon}_{vname}.log")
    tried = []
    for cand in CANDIDATES:
        name = f"{key}_L{LOOKBACK}_H{horizon}_{vname}_{cand[0]}_s{SEEDS[0]}"
        m = train(a.attncast, a.runs, name, config_text(study, horizon, variant, cand, "", a.sets),
                  study["args"], SEEDS[0], log, hide_test=True)
        tried.append((cand, result(m)))
    best_cand, best = min(tried, key=lambda t: t[1]["val_mse"])
    best = test_metrics(a.attncast, os.path.join(
        a.runs, f"{key}_L{LOOKBACK}_H{horizon}_{vname}_{best_cand[0]}_s{SEEDS[0]}"), best)
    lines = [
        f"; {study['label']}, target OT, {variant[1]}, lookback {LOOKBACK}, horizon {horizon}:",
        "; the config of docs/covariates.md's table (tools/covariates.py writes this file).",
        f"; {study['note']}.",
        f"; Chosen on the VALIDATION split only: {len(CANDIDATES)} candidates trained with seed "
        f"{SEEDS[0]},",
        "; the one with the lowest validation MSE of its best weights kept (the test split played",
        "; no part). Validation MSE (scaled, OT):",
    ]
    for cand, r in tried:
        keys = ", ".join(f"{k} {v}" for k, v in cand[1].items())
        lines.append(f";   {cand[0]} ({keys}): {r['val_mse']:.4f}"
                     + ("  <- chosen" if cand is best_cand else ""))
    lines.append(f";   naive repeat: {best['val_naive_mse']:.4f}")
    seeds_text = ", ".join(map(str, SEEDS))
    lines.append(f"; The table reports this config trained with seeds {seeds_text}.")
    header = "\n".join(lines)
    if a.set:
        lines.append("; Every run of the study had --set " + " --set ".join(a.set) + ".")
    chosen_text = config_text(study, horizon, variant, best_cand, "", a.sets)
    path = os.path.join(a.models, f"{key}_{vname}_L{LOOKBACK}_H{horizon}.ini")
    with LOCK:
        write(path, config_text(study, horizon, variant, best_cand, header, a.sets))
    seeds = [best]
    for seed in SEEDS[1:]:
        name = f"{key}_L{LOOKBACK}_H{horizon}_{vname}_{best_cand[0]}_s{seed}"
        seeds.append(result(train(a.attncast, a.runs, name, chosen_text, study["args"], seed, log)))
    say(f"covariates.py: {key} H{horizon} {vname}: chose {best_cand[0]}; test MSE "
        + ", ".join(f"{r['mse']:.4f}" for r in seeds))
    return {"candidate": best_cand[0], "tried": [(c[0], r["val_mse"]) for c, r in tried],
            "seeds": seeds}


def mean_std(values):
    return statistics.mean(values), (statistics.stdev(values) if len(values) > 1 else 0.0)


def table(results, labels, horizons):
    out = [
        "| data | H | inputs | chosen (val MSE) | test MSE | test MAE | MSE vs target only "
        "| MSE vs naive | test MSE per seed | s per run |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for key, label in labels:
        for h in horizons:
            cells = [results.get((key, h, v[0])) for v in VARIANTS]
            if not all(cells):
                continue
            base = mean_std([r["mse"] for r in cells[0]["seeds"]])[0]
            naive = cells[0]["seeds"][0]
            out.append(f"| {label} | {h} | naive repeat | – | {naive['naive_mse']:.4f} | "
                       f"{naive['naive_mae']:.4f} | – | 1.000 | – | – |")
            for v, cell in zip(VARIANTS, cells):
                s = cell["seeds"]
                mse, mse_sd = mean_std([r["mse"] for r in s])
                mae, mae_sd = mean_std([r["mae"] for r in s])
                val = dict(cell["tried"])[cell["candidate"]]
                per_seed = " ".join("%.4f" % r["mse"] for r in s)
                rel = "–" if v[0] == "target" else f"{100 * (mse / base - 1):+.1f}%"
                out.append(
                    f"| {label} | {h} | {v[1]} | {cell['candidate']} ({val:.4f}) | "
                    f"{mse:.4f} ± {mse_sd:.4f} | {mae:.4f} ± {mae_sd:.4f} | {rel} | "
                    f"{mse / naive['naive_mse']:.3f} | "
                    f"{per_seed} | "
                    f"{statistics.mean(r['seconds'] for r in s):.0f} |")
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--attncast", default=os.path.join(ROOT, "build", "attncast"))
    ap.add_argument("--runs", default=os.path.join(ROOT, "runs", "covariates"))
    ap.add_argument("--models", default=os.path.join(ROOT, "models", "covariates"))
    ap.add_argument("--horizons", default="96")
    ap.add_argument("--only", default="")
    ap.add_argument("--etth1", default="")
    ap.add_argument("--weather", default="", help="a weather CSV instead of the dataset card")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--doc", default=os.path.join(ROOT, "docs", "covariates.md"))
    ap.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                    help="override a key of every run's config (repeatable)")
    a = ap.parse_args()
    a.sets = parse_sets(a.set)
    mirror = os.environ.get("ATTNCAST_DATA_MIRROR", "")
    etth1 = a.etth1 or (os.path.join(mirror, "ETTh1.csv") if mirror else "")
    try:
        horizons = [int(h) for h in a.horizons.split(",")]
    except ValueError:
        fail(f"--horizons: expected comma-separated whole numbers, got '{a.horizons}'")
    keys = a.only.split(",") if a.only else ["weather", "etth1"]
    weather = a.weather or (os.path.join(mirror, "weather.csv") if mirror else "")
    all_studies = studies(etth1, weather if "weather" in keys else "", a.weather)
    for k in keys:
        if k not in all_studies:
            fail(f"--only: unknown study '{k}' (known: {', '.join(all_studies)})")
    if "etth1" in keys and not os.path.exists(etth1):
        fail("ETTh1.csv not found: set ATTNCAST_DATA_MIRROR or --etth1")
    if "weather" in keys and not weather:
        fail("weather.csv not found: set ATTNCAST_DATA_MIRROR or --weather")
    os.makedirs(a.runs, exist_ok=True)
    os.makedirs(a.models, exist_ok=True)
    # the longer cells first, so the two workers finish together
    cells = [(k, h, v) for h in sorted(horizons, reverse=True) for k in keys for v in VARIANTS]
    results = {}
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, a.jobs)) as pool:
        futures = {pool.submit(run_cell, a, k, all_studies[k], h, v): (k, h, v[0])
                   for k, h, v in cells}
        for fut in concurrent.futures.as_completed(futures):
            results[futures[fut]] = fut.result()
    with open(os.path.join(a.runs, "results.json"), "w") as f:
        json.dump({f"{k}_H{h}_{v}": r for (k, h, v), r in results.items()}, f, indent=1)
    labels = [(k, all_studies[k]["label"]) for k in ("etth1", "weather") if k in keys]
    text = table(results, labels, sorted(horizons))
    print(text)
    if os.path.exists(a.doc) and not a.only:
        doc = open(a.doc).read()
        if BEGIN in doc and END in doc:
            head, rest = doc.split(BEGIN, 1)
            _, tail = rest.split(END, 1)
            with open(a.doc, "w") as f:
                f.write(head + BEGIN + "\n" + text + "\n" + END + tail)
            print(f"wrote the table into {os.path.relpath(a.doc)}")


if __name__ == "__main__":
    main()
