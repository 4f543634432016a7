#!/usr/bin/python3
"""defaults_panel.py - the panel of public and generated series on which attncast's built-in
defaults are chosen (validation split) and reported (test split).

Every series is trained with the built-in defaults and only data.lookback, data.horizon and
data.season set (plus data.missing where a series has empty cells), once per candidate value of
the keys being chosen (`--candidates model.anchor=mean,last`) and per seed. Each run's
validation MSE (best weights, `attncast eval best.h5 --split val`) and test MSE (the run's
metrics.json) are appended to a CSV beside the naive repeat's on the same windows; `table`
writes the Markdown table of model / naive MSE per series and candidate.

  /usr/bin/python3 tools/defaults_panel.py prepare             # build the panel's CSVs
  /usr/bin/python3 tools/defaults_panel.py run --seeds 3 --jobs 2
  /usr/bin/python3 tools/defaults_panel.py table               # docs/defaults/table.md
  /usr/bin/python3 tools/defaults_panel.py list                # the series and their shapes

Sources, each checked against its SHA-256 before use:
  - the benchmark files of attncast's dataset cards (exchange_rate, weather) and ETTh1, from
    $ATTNCAST_DATA_MIRROR or attncast's download cache (`attncast datasets fetch NAME`);
  - statsmodels' bundled datasets (Debian python3-statsmodels 0.13.5): weekly CO2 at Mauna Loa,
    monthly El Nino sea temperatures, quarterly US macro data, yearly sunspots;
  - vega-datasets 3.2.1 (npm): monthly S&P 500, monthly share prices of four companies, daily
    Seattle weather, monthly CO2 concentration (fetched with `npm pack vega-datasets@3.2.1`);
  - three generated series (fixed seeds): a random walk, a noisy daily cycle, a noisy trend.
Standard library only.
"""
import argparse
import csv
import datetime
import hashlib
import io
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs", "defaults")
DEFAULT_RUNS = os.path.join(DOCS, "runs.csv")
DEFAULT_TABLE = os.path.join(DOCS, "table.md")
STATSMODELS = "/usr/lib/python3/dist-packages/statsmodels/datasets"
VEGA_VERSION = "3.2.1"

# name -> (file, sha256)
SOURCES = {
    "exchange_rate": ("exchange_rate.csv",
                      "48b4d9d3d508f5104162e85b9a6042e3557fde11aa9f2944eba8c0d0efc89842"),
    "weather": ("weather.csv", "34ee981d07313e51da2a50bb600072c8ae4a69cb4b0651f4cb93a069d7a2ba63"),
    "ETTh1": ("ETTh1.csv", "f18de3ad269cef59bb07b5438d79bb3042d3be49bdeecf01c1cd6d29695ee066"),
    "sm_co2": ("co2/co2.csv", "16695fa2786e53414e5a6b54767a3fdf5de99cfbc68617f69d1362d92776a92f"),
    "sm_elnino": ("elnino/elnino.csv",
                  "b647be00e0fd264be9764e317e6b963f35030014ecca2b21b204521716e463ad"),
    "sm_macro": ("macrodata/macrodata.csv",
                 "d93c0d3a7a77ef83c3af14e46032bb1d02ae3a512b22ab94159a8ca226fcf708"),
    "sm_sunspots": ("sunspots/sunspots.csv",
                    "f67889b1d9002cd5227f0e0ef54e35b419cdd85a31279adef6f73fb41e5c0a9b"),
    "vega_sp500": ("sp500.csv", "8d1a3310b741565fd2aaf7b9d34030c92b1fbedbc9ba839f4a50dab8b2dd5c3d"),
    "vega_stocks": ("stocks.csv",
                    "f9953ac6693e587476b4ebf2f0b00d9bb95371ca8c39da4cc6155077b3e417cd"),
    "vega_seattle": ("seattle-weather.csv",
                     "0845078a290b48e3149ab8639966824110a251db4e06fc144c06ebb534af23be"),
    "vega_co2": ("co2-concentration.csv",
                 "c1a4a970864145940a28225cae288618b156cb32f9a2a1b6606ba7124134febb"),
}

# The panel: name, kind, frequency, lookback, horizon, season, extra [data] lines.
PANEL = [
    ("exchange_rate", "random walk", "daily", 96, 96, 7, ""),
    ("sp500_monthly", "random walk", "monthly", 24, 6, 12, ""),
    ("stocks_monthly", "random walk", "monthly", 24, 6, 12, ""),
    ("random_walk", "random walk", "daily", 96, 24, 7, ""),
    ("us_macro", "smooth trend", "quarterly", 24, 8, 4, ""),
    ("co2_monthly", "trend + season", "monthly", 48, 12, 12, ""),
    ("noisy_trend", "smooth trend", "daily", 96, 24, 7, ""),
    ("etth1", "seasonal", "hourly", 96, 24, 24, ""),
    ("weather_ot", "seasonal", "10 min", 96, 24, 144, "columns = OT\n"),
    ("co2_weekly", "trend + season", "weekly", 104, 26, 52, "missing = interpolate\n"),
    ("elnino", "seasonal", "monthly", 48, 12, 12, ""),
    ("seattle_weather", "seasonal", "daily", 96, 14, 7, ""),
    ("sunspots", "quasi-periodic", "yearly", 48, 8, 11, ""),
    ("daily_cycle", "seasonal", "hourly", 96, 24, 24, ""),
]


def fail(msg):
    sys.exit(f"defaults_panel: {msg}")


def sha256_of(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def verified(path, digest):
    if not os.path.isfile(path):
        fail(f"{path}: not found")
    got = sha256_of(path)
    if got != digest:
        fail(f"{path}: SHA-256 {got}, expected {digest}")
    return path


def cache_dir():
    base = os.environ.get("ATTNCAST_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "attncast")
    return os.path.join(base, "panel")


def benchmark_file(name):
    """A dataset-card file from the mirror or attncast's cache (fetched by attncast if needed)."""
    file, digest = SOURCES[name]
    mirror = os.environ.get("ATTNCAST_DATA_MIRROR")
    if mirror and os.path.isfile(os.path.join(mirror, file)):
        return verified(os.path.join(mirror, file), digest)
    cached = os.path.join(os.path.dirname(cache_dir()), file)
    if not os.path.isfile(cached) and name != "ETTh1":
        subprocess.run([binary(), "datasets", "fetch", name], check=True)
    return verified(cached, digest)


def statsmodels_file(name):
    if not os.path.isdir(STATSMODELS):
        fail(f"{STATSMODELS}: missing; install Debian's python3-statsmodels")
    file, digest = SOURCES[name]
    return verified(os.path.join(STATSMODELS, file), digest)


def vega_file(name):
    folder = os.path.join(cache_dir(), f"vega-datasets-{VEGA_VERSION}")
    file, digest = SOURCES[name]
    path = os.path.join(folder, file)
    if not os.path.isfile(path):
        with tempfile.TemporaryDirectory() as tmp:
            subprocess.run(["npm", "pack", f"vega-datasets@{VEGA_VERSION}", "--silent"], cwd=tmp,
                           check=True, stdout=subprocess.DEVNULL)
            with tarfile.open(os.path.join(tmp, f"vega-datasets-{VEGA_VERSION}.tgz")) as tar:
                os.makedirs(folder, exist_ok=True)
                for member in tar.getmembers():
                    if member.name.startswith("package/data/") and member.name.endswith(".csv"):
                        data = tar.extractfile(member).read()
                        with open(os.path.join(folder, os.path.basename(member.name)), "wb") as f:
                            f.write(data)
    return verified(path, digest)


def read_csv(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.reader(f))


def write_table(path, header, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def us_date(text):  # "Jan 1 2000" -> "2000-01-01"
    return datetime.datetime.strptime(text, "%b %d %Y").date().isoformat()


def generated(kind, rows, channels, seed):
    rng = random.Random(seed)
    start = datetime.date(2000, 1, 1)
    out = []
    level = [100.0 * (c + 1) for c in range(channels)]
    for t in range(rows):
        row = []
        for c in range(channels):
            if kind == "random_walk":
                level[c] += rng.gauss(0.0, 1.0 + 0.5 * c)
                v = level[c]
            elif kind == "daily_cycle":
                v = (10 + 3 * math.sin(2 * math.pi * t / 24 + c) + 1.5 * math.sin(
                    2 * math.pi * t / 168) + rng.gauss(0, 0.6))
            else:  # noisy_trend: a slow curve plus noise
                v = 50 + 0.02 * t + 5 * math.sin(2 * math.pi * t / 900 + c) + rng.gauss(0, 0.8)
            row.append(f"{v:.6f}")
        if kind == "daily_cycle":
            date = (datetime.datetime(2000, 1, 1) + datetime.timedelta(hours=t)).isoformat(" ")
        else:
            date = (start + datetime.timedelta(days=t)).isoformat()
        out.append([date] + row)
    return out


def prepare(args):
    folder = args.data
    os.makedirs(folder, exist_ok=True)
    made = {}

    def put(name, header, rows):
        path = os.path.join(folder, f"{name}.csv")
        write_table(path, header, rows)
        made[name] = path

    made["exchange_rate"] = benchmark_file("exchange_rate")
    made["etth1"] = benchmark_file("ETTh1")
    made["weather_ot"] = benchmark_file("weather")

    sp = read_csv(vega_file("vega_sp500"))
    put("sp500_monthly", ["date", "sp500"], [[us_date(r[0]), r[1]] for r in sp[1:]])

    stocks = read_csv(vega_file("vega_stocks"))[1:]
    tickers = ["MSFT", "AMZN", "IBM", "AAPL"]  # GOOG starts in 2004
    by_date = {}
    for sym, date, price in stocks:
        if sym in tickers:
            by_date.setdefault(us_date(date), {})[sym] = price
    put("stocks_monthly", ["date"] + tickers,
        [[d] + [by_date[d][t] for t in tickers] for d in sorted(by_date)])

    seattle = read_csv(vega_file("vega_seattle"))
    put("seattle_weather", ["date", "precipitation", "temp_max", "temp_min", "wind"],
        [r[:5] for r in seattle[1:]])

    co2m = read_csv(vega_file("vega_co2"))
    put("co2_monthly", ["date", "co2"], [[r[0], r[1]] for r in co2m[1:]])

    co2w = read_csv(statsmodels_file("sm_co2"))
    put("co2_weekly", ["date", "co2"],
        [[f"{r[0][:4]}-{r[0][4:6]}-{r[0][6:]}", r[1]] for r in co2w[1:]])

    nino = read_csv(statsmodels_file("sm_elnino"))
    put("elnino", ["date", "sst"],
        [[f"{int(float(r[0]))}-{m:02d}-01", r[m]] for r in nino[1:] for m in range(1, 13)])

    macro = read_csv(statsmodels_file("sm_macro"))
    cols = ["realgdp", "realcons", "cpi", "m1"]
    idx = [macro[0].index(c) for c in cols]
    put("us_macro", ["date"] + cols,
        [[f"{int(float(r[0]))}-{3 * int(float(r[1])) - 2:02d}-01"] + [r[i] for i in idx]
         for r in macro[1:]])

    spots = read_csv(statsmodels_file("sm_sunspots"))
    put("sunspots", ["date", "sunactivity"],
        [[f"{int(float(r[0]))}-01-01", r[1]] for r in spots[1:]])

    for name, rows, channels, seed in (("random_walk", 3000, 4, 11), ("daily_cycle", 3000, 3, 12),
                                       ("noisy_trend", 3000, 2, 13)):
        put(name, ["date"] + [f"{name}_{c}" for c in range(channels)],
            generated(name, rows, channels, seed))
    with open(os.path.join(folder, "panel.json"), "w") as f:
        json.dump(made, f, indent=1)
    print(f"panel: {len(made)} series in {folder}")
    return made


def panel_files(args):
    path = os.path.join(args.data, "panel.json")
    if not os.path.isfile(path):
        return prepare(args)
    with open(path) as f:
        return json.load(f)


def binary():
    return os.environ.get("ATTNCAST_BIN") or os.path.join(ROOT, "build", "attncast")


def config_text(name, path, lookback, horizon, season, extra):
    data = f"dataset = {name}\n" if name == "exchange_rate" else f"csv = {path}\n"
    return (f"; panel series {name}: built-in defaults, only lookback, horizon, season set\n"
            f"[data]\n{data}lookback = {lookback}\nhorizon = {horizon}\nseason = {season}\n"
            f"{extra}")


def eval_json(run_dir, split):
    out = subprocess.run([binary(), "eval", os.path.join(run_dir, "best.h5"), "--split", split,
                          "--json"], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"eval {run_dir}: {out.stderr.strip()}")
    return json.loads(out.stdout)


def mse_pair(m):
    return m["model"]["mse"], m["baselines"]["naive"]["mse"]


def run_one(args, series, candidate, seed, files, work):
    name, kind, freq, L, H, season, extra = series
    label = f"{name}-{candidate.replace('=', '_').replace(',', '+')}-s{seed}"
    run_dir = os.path.join(work, label)
    cfg = os.path.join(work, f"{name}.ini")
    with open(cfg, "w") as f:
        f.write(config_text(name, files[name], L, H, season, extra))
    sets = []
    for assignment in candidate.split(","):
        if assignment:
            sets += ["--set", assignment]
    sets += ["--set", f"train.seed={seed}", "--set", f"train.threads={args.threads}"]
    shutil.rmtree(run_dir, ignore_errors=True)
    t0 = datetime.datetime.now()
    out = subprocess.run([binary(), "train", cfg, "--quiet", "--out", run_dir] + sets,
                         capture_output=True, text=True)
    seconds = (datetime.datetime.now() - t0).total_seconds()
    if out.returncode != 0:
        raise RuntimeError(f"train {label}: {out.stderr.strip()}")
    with open(os.path.join(run_dir, "metrics.json")) as f:
        test = json.load(f)
    val = eval_json(run_dir, "val")
    vm, vn = mse_pair(val)
    tm, tn = mse_pair(test)
    return {"series": name, "kind": kind, "frequency": freq, "rows": test.get("rows"),
            "channels": test.get("channels"), "lookback": L, "horizon": H, "season": season,
            "candidate": candidate, "seed": seed, "val_mse": f"{vm:.6g}",
            "val_naive_mse": f"{vn:.6g}", "test_mse": f"{tm:.6g}", "test_naive_mse": f"{tn:.6g}",
            "train_seconds": f"{seconds:.1f}"}


FIELDS = ["series", "kind", "frequency", "rows", "channels", "lookback", "horizon", "season",
          "candidate", "seed", "val_mse", "val_naive_mse", "test_mse", "test_naive_mse",
          "train_seconds"]


def read_runs(path):
    if not os.path.isfile(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def run(args):
    files = panel_files(args)
    done = {(r["series"], r["candidate"], r["seed"]) for r in read_runs(args.csv)}
    names = set(args.series.split(",")) if args.series else None
    todo = [(s, c, seed) for s in PANEL if not names or s[0] in names
            for c in args.candidates for seed in range(2024, 2024 + args.seeds)
            if (s[0], c, str(seed)) not in done]
    work = os.path.join(args.work)
    os.makedirs(work, exist_ok=True)
    os.makedirs(os.path.dirname(os.path.abspath(args.csv)), exist_ok=True)
    print(f"{len(todo)} runs to do ({len(done)} in {args.csv})", flush=True)

    def one(item):
        s, c, seed = item
        sub = os.path.join(work, f"job-{s[0]}-{seed}-{abs(hash(c)) % 10000}")
        os.makedirs(sub, exist_ok=True)
        return run_one(args, s, c, seed, files, sub)

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for row in pool.map(one, todo):
            new = not os.path.isfile(args.csv)
            with open(args.csv, "a", newline="") as f:
                w = csv.DictWriter(f, FIELDS, lineterminator="\n")
                if new:
                    w.writeheader()
                w.writerow(row)
            print(f"{row['series']:16s} {row['candidate']:28s} seed {row['seed']}: val "
                  f"{float(row['val_mse']) / float(row['val_naive_mse']):.3f}x naive "
                  f"({row['train_seconds']} s)", flush=True)


def geomean(xs):
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else float("nan")


def table(args):
    rows = read_runs(args.csv)
    if not rows:
        fail(f"{args.csv}: no runs")
    candidates = []
    for r in rows:
        if r["candidate"] not in candidates:
            candidates.append(r["candidate"])
    lines = ["| series | kind | frequency | rows x channels | L | H | seeds | "
             + " | ".join(f"val {c}" for c in candidates) + " | "
             + " | ".join(f"test {c}" for c in candidates) + " |",
             "| --- " * (7 + 2 * len(candidates)) + "|"]
    means = {("val", c): [] for c in candidates}
    means.update({("test", c): [] for c in candidates})
    for s in PANEL:
        mine = [r for r in rows if r["series"] == s[0]]
        if not mine:
            continue
        cells = {}
        for split in ("val", "test"):
            for c in candidates:
                ratios = [float(r[f"{split}_mse"]) / float(r[f"{split}_naive_mse"])
                          for r in mine if r["candidate"] == c]
                if ratios:
                    m = sum(ratios) / len(ratios)
                    means[(split, c)].append(m)
                    spread = (max(ratios) - min(ratios)) / 2
                    cells[(split, c)] = f"{m:.3f}" + (f" ± {spread:.3f}" if len(ratios) > 1 else "")
                else:
                    cells[(split, c)] = "—"
        r0 = mine[0]
        seeds = len({r["seed"] for r in mine})
        lines.append(f"| {s[0]} | {s[1]} | {s[2]} | {r0['rows']} x {r0['channels']} | {s[3]} | "
                     f"{s[4]} | {seeds} | "
                     + " | ".join(cells[("val", c)] for c in candidates) + " | "
                     + " | ".join(cells[("test", c)] for c in candidates) + " |")
    lines.append("| geometric mean | | | | | | | "
                 + " | ".join(f"{geomean(means[('val', c)]):.3f}" for c in candidates) + " | "
                 + " | ".join(f"{geomean(means[('test', c)]):.3f}" for c in candidates) + " |")
    text = "\n".join(lines) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
    else:
        with open(args.out, "w") as f:
            f.write(text)
        print(f"wrote {args.out}")


def list_panel(args):
    for s in PANEL:
        print(f"{s[0]:16s} {s[1]:16s} {s[2]:10s} L={s[3]:<4d} H={s[4]:<4d} season={s[5]}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("verb", choices=("prepare", "run", "table", "list"))
    p.add_argument("--data", default=cache_dir(), help="where the panel's CSVs go")
    p.add_argument("--work", default=os.path.join(tempfile.gettempdir(), "attncast-panel"),
                   help="run folders")
    p.add_argument("--csv", default=DEFAULT_RUNS, help="the runs CSV (appended)")
    p.add_argument("--out", default=DEFAULT_TABLE, help="the Markdown table ('-': stdout)")
    p.add_argument("--candidates", default="model.anchor=mean;model.anchor=last",
                   help="';'-separated candidates, each a ','-list of key=value")
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--series", default="", help="a ','-list of panel names (default: all)")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    args.candidates = [c.strip() for c in args.candidates.split(";")]
    {"prepare": prepare, "run": run, "table": table, "list": list_panel}[args.verb](args)


if __name__ == "__main__":
    main()
