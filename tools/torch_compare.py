#!/usr/bin/python3
"""torch_compare.py - attncast against its PyTorch reference (tools/attncast_torch.py).

  torch_compare.py parity CHECKPOINT [CHECKPOINT ...] CSV [--attncast PATH] [--rows N]
      For the last N windows of CSV (default 16), forecasts with PyTorch on the checkpoint's
      weights and with `attncast predict CHECKPOINT --input CSV --at r`, and compares the two
      on scaled values. Exit 0 if every max |difference| <= 1e-4 (--tol), else 1.

  torch_compare.py bench --preset small|large [--threads N] [--kinds dot,additive,...]
                         [--seconds S] [--rounds R] [--json]
      PyTorch training speed (Adam, MSE, batch 32), single-window forecast latency and peak
      RSS on random data shaped like the preset, each kind in a fresh subprocess. If the
      attncast binary has a `bench` verb, it runs it on the same preset, kind by kind right next
      to PyTorch's run (R rounds, the order alternating), and prints the medians of the paired
      attncast/torch ratios and their range.

Needs torch and h5py (Debian: python3-torch python3-h5py). Run with /usr/bin/python3.
"""
import argparse
import csv
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

import attncast_torch as at  # noqa: E402
from attncast_kinds import attention_kinds  # noqa: E402

BATCH = 32


def default_binary():
    if os.environ.get("ATTNCAST_BIN"):
        return os.environ["ATTNCAST_BIN"]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return os.path.join(root, "build", "attncast")


# ---- parity ----


def read_channels(csv_path, channels):
    """The CSV's channel columns (by name, as attncast selects them) as rows of floats."""
    import numpy as np

    with open(csv_path, newline="") as f:
        reader = csv.reader(f)
        header = [h.strip() for h in next(reader)]
        index = []
        for name in channels:
            if name not in header:
                raise SystemExit(f"{csv_path}: no column '{name}' (the checkpoint's channels: "
                                 f"{', '.join(channels)})")
            index.append(header.index(name))
        rows = [[float(r[i]) for i in index] for r in reader if r and any(c.strip() for c in r)]
    return np.asarray(rows, dtype=np.float64)


def parse_predict_csv(text, channels):
    """attncast predict's CSV: a date or step column, then one column per channel."""
    import numpy as np

    reader = csv.reader(io.StringIO(text))
    header = next(reader)
    cols = [header.index(c) for c in channels]
    return np.asarray([[float(r[i]) for i in cols] for r in reader if r], dtype=np.float64)


def parity_one(ckpt, csv_path, binary, rows):
    """Returns (max |attncast - torch| on scaled values, windows compared, description)."""
    import numpy as np

    model, mean, std, channels, _ = at.load_checkpoint(ckpt)
    spec = model.spec
    if spec.past_covariates or spec.future_covariates:
        raise SystemExit(f"{ckpt}: a model with covariates; parity compares covariate-free "
                         "checkpoints (tests/fixtures/parity/*_covariates.h5 hold the covariate "
                         "cases, checked by tests/nn/test_parity_fixtures)")
    L = spec.lookback
    values = read_channels(csv_path, channels)  # by name, so the date column never matters
    T = len(values)
    ends = list(range(max(L, T - rows + 1), T + 1))  # window ending at data row r (1-based)
    if not ends:
        raise SystemExit(f"{csv_path}: {T} rows, fewer than the lookback {L}")
    # attncast predict reads the window as float32 in original units, then scales it in double
    # and rounds to float32 (src/ckpt/embed.c); do exactly the same.
    orig32 = values.astype(np.float32).astype(np.float64)
    scaled = ((orig32 - mean) / std).astype(np.float32)
    x = torch.from_numpy(np.stack([scaled[r - L:r] for r in ends]))
    point, _ = at.predict(model, x)  # a quantile model's point is its median
    y_torch = point.numpy().astype(np.float64)  # [W, H, C] scaled
    worst = 0.0
    for w, r in enumerate(ends):
        cmd = [binary, "predict", ckpt, "--input", csv_path, "--at", str(r)]
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.strip()}")
        y_ac = (parse_predict_csv(p.stdout, channels) - mean) / std
        if y_ac.shape != y_torch[w].shape:
            raise SystemExit(f"attncast predict gave {y_ac.shape}, torch {y_torch[w].shape}")
        worst = max(worst, float(np.max(np.abs(y_ac - y_torch[w]))))
    desc = f"{spec.attention}, {spec.channel_mode}{', causal' if spec.causal else ''}"
    return worst, len(ends), desc


def cmd_parity(args):
    if len(args.paths) < 2:
        raise SystemExit("usage: torch_compare.py parity CHECKPOINT [CHECKPOINT ...] CSV")
    ckpts, csv_path = args.paths[:-1], args.paths[-1]
    binary = args.attncast or default_binary()
    torch.set_num_threads(1)
    results = [(c, *parity_one(c, csv_path, binary, args.rows)) for c in ckpts]
    worst = max(r[1] for r in results)
    ok = all(r[1] <= args.tol for r in results)
    if len(results) > 1:
        for c, diff, n, desc in results:
            print(f"  {c} ({desc}): max |attncast - torch| = {diff:.2g} over {n} windows"
                  f"{'' if diff <= args.tol else '  FAILED'}")
        over = f"{len(results)} checkpoints x {results[0][2]} windows"
    else:
        over = f"{results[0][2]} windows"
    print(f"parity {'OK' if ok else 'FAILED'}: max |attncast - torch| = {worst:.2g} on scaled "
          f"values over {over}" + ("" if ok else f" (tolerance {args.tol:g})"))
    return 0 if ok else 1


# ---- bench ----


def proc_status_mib(key):
    """VmHWM (peak resident set) or VmRSS of this process, in MiB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def bench_child(preset, kind, threads, seconds):
    """Measures one kind in this (fresh) process; returns a dict."""
    rss_import = proc_status_mib("VmRSS")  # python + torch loaded, before any model
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(0)
    spec = at.preset_spec(preset, kind)
    model = at.Forecaster(spec)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    L, H, C = spec.lookback, spec.horizon, spec.channels
    batches = [(torch.randn(BATCH, L, C), torch.randn(BATCH, H, C)) for _ in range(4)]

    def step(i):
        x, y = batches[i % len(batches)]
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()

    model.train()
    for i in range(3):  # warm-up
        step(i)
    n, t0 = 0, time.perf_counter()
    while n < 5 or time.perf_counter() - t0 < seconds:
        step(n)
        n += 1
    train_s = time.perf_counter() - t0
    train_wps = n * BATCH / train_s
    train_peak = proc_status_mib("VmHWM")  # peak so far: import + model + training

    model.eval()
    x1 = torch.randn(1, L, C)
    lat = []
    with torch.no_grad():
        for _ in range(10):
            model(x1)
        t_end = time.perf_counter() + seconds
        while len(lat) < 300 and (len(lat) < 30 or time.perf_counter() < t_end):
            t = time.perf_counter()
            model(x1)
            lat.append((time.perf_counter() - t) * 1e6)
        lat.sort()
        xb = torch.randn(256, L, C)
        model(xb)
        nb, t0 = 0, time.perf_counter()
        while nb < 2 or time.perf_counter() - t0 < seconds / 2:
            model(xb)
            nb += 1
        b256 = nb * 256 / (time.perf_counter() - t0)
    return {
        "kind": kind,
        "train_windows_per_s": train_wps,
        "train_steps": n,
        "latency_median_us": statistics.median(lat),
        "latency_p90_us": lat[min(len(lat) - 1, int(0.9 * len(lat)))],
        "batch256_windows_per_s": b256,
        "train_peak_rss_mib": train_peak,
        "peak_rss_mib": proc_status_mib("VmHWM"),
        "rss_after_import_mib": rss_import,
    }


def attncast_usable(binary):
    """True when the attncast binary has a `bench` verb."""
    try:
        return subprocess.run([binary, "bench", "--help"], capture_output=True).returncode == 0
    except OSError as e:
        print(f"note: attncast bench not usable: {e}", file=sys.stderr)
        return False


def attncast_one(binary, args, kind):
    """attncast's own numbers for one kind (a fresh `attncast bench` process), or None."""
    cmd = [binary, "bench", "--preset", args.preset, "--threads", str(args.threads), "--kinds",
           kind, "--seconds", str(args.seconds), "--json"]
    if args.ceiling_size:
        cmd += ["--ceiling-size", str(args.ceiling_size)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True)
        if p.returncode != 0:
            print(f"note: attncast bench failed ({p.returncode}): {p.stderr.strip()}",
                  file=sys.stderr)
            return None
        data = json.loads(p.stdout)
    except (OSError, ValueError) as e:
        print(f"note: attncast bench not usable: {e}", file=sys.stderr)
        return None
    rows = data.get("kinds", []) if isinstance(data, dict) else data
    return next((r for r in rows if isinstance(r, dict) and r.get("kind") == kind), None)


def torch_one(args, kind, env):
    """PyTorch's numbers for one kind, measured in a fresh subprocess (its own peak RSS)."""
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "_bench-child",
                        "--preset", args.preset, "--kind", kind, "--threads", str(args.threads),
                        "--seconds", str(args.seconds)],
                       capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise SystemExit(f"torch bench of {kind} failed: {p.stderr.strip()}")
    return json.loads(p.stdout)


RATIO_KEYS = ("train_windows_per_s", "latency_median_us", "latency_p90_us",
              "batch256_windows_per_s", "train_peak_rss_mib", "peak_rss_mib")


def median_row(rows):
    """Each numeric key's median over the rounds' rows of one side and kind."""
    out = dict(rows[0])
    for key, v in rows[0].items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            out[key] = statistics.median(r[key] for r in rows)
    return out


def cmd_bench(args):
    if args.rounds < 1:
        raise SystemExit(f"--rounds must be >= 1, got {args.rounds}")
    spec = at.preset_spec(args.preset)
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    binary = None if args.no_attncast else args.attncast or default_binary()
    if binary and not attncast_usable(binary):
        binary = None
    # the binary's kinds (all of them by default), each of which needs a PyTorch reference
    known = attention_kinds(binary) if binary else tuple(at.KINDS)
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()] if args.kinds else known
    for k in kinds:
        if k not in known:
            raise SystemExit(f"unknown kind '{k}' (one of {', '.join(known)})")
        if k not in at.KINDS:
            raise SystemExit(f"attention kind '{k}' has no PyTorch reference: add it to "
                             f"tools/attncast_torch.py (KINDS, Attention.scores)")
    # Rounds of pairs: in each round every kind is measured by both, one right after the other,
    # attncast first in odd rounds and PyTorch first in even ones, so a machine that slows down
    # or speeds up over a run shifts both sides of a pair alike. The ratios are the medians of
    # the rounds' paired ratios; the rows are each side's medians.
    per_round = []
    for r in range(args.rounds):
        cells = {}
        for k in kinds:
            sides = ("attncast", "torch") if r % 2 == 0 else ("torch", "attncast")
            cell = {"order": list(sides)}
            for side in sides:
                if side == "torch":
                    cell["torch"] = torch_one(args, k, env)
                elif binary:
                    cell["attncast"] = attncast_one(binary, args, k)
            cells[k] = cell
        per_round.append(cells)
    rows = [median_row([c[k]["torch"] for c in per_round]) for k in kinds]
    result = {"preset": args.preset, "threads": args.threads, "channels": spec.channels,
              "rounds": args.rounds, "seconds": args.seconds,
              "torch_version": torch.__version__, "torch": rows}
    paired = {k: [c[k] for c in per_round if c[k].get("attncast")] for k in kinds}
    measured = [k for k in kinds if len(paired[k]) == args.rounds]
    if binary and measured:
        result["attncast"] = [median_row([c["attncast"] for c in paired[k]]) for k in measured]
        ratios, ranges = [], []
        for k in measured:
            first = paired[k][0]
            q = {key: [c["attncast"][key] / c["torch"][key] for c in paired[k]]
                 for key in RATIO_KEYS if key in first["attncast"] and first["torch"].get(key)}
            ratios.append({"kind": k, **{key: statistics.median(v) for key, v in q.items()}})
            ranges.append({"kind": k, **{key: [min(v), max(v)] for key, v in q.items()}})
        result["ratio_attncast_over_torch"] = ratios
        result["ratio_range"] = ranges
        result["per_round"] = [
            {k: {"order": c[k]["order"],
                 "train_windows_per_s": {side: c[k][side]["train_windows_per_s"]
                                         for side in ("attncast", "torch") if c[k].get(side)}}
             for k in kinds} for c in per_round]
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"PyTorch {torch.__version__}, preset {args.preset} (C {spec.channels}, d_model "
          f"{spec.d_model}, {spec.heads} heads, {spec.layers} layers, d_ff {spec.d_ff}, L {spec.lookback}, "
          f"H {spec.horizon}, patch {spec.patch_len}/{spec.patch_stride}, {spec.channel_mode}), "
          f"{args.threads} thread(s), batch {BATCH}, {args.rounds} round(s) of "
          f"{args.seconds:g} s per measurement")
    print(f"{'kind':<10}{'train win/s':>13}{'latency med':>13}{'p90':>10}{'b256 win/s':>12}"
          f"{'train RSS':>11}{'peak RSS':>11}{'(import)':>10}")
    for r in rows:
        print(f"{r['kind']:<10}{r['train_windows_per_s']:>13.1f}"
              f"{r['latency_median_us'] / 1000:>11.2f}ms{r['latency_p90_us'] / 1000:>8.2f}ms"
              f"{r['batch256_windows_per_s']:>12.0f}{r['train_peak_rss_mib']:>8.0f}MiB"
              f"{r['peak_rss_mib']:>8.0f}MiB"
              f"{r['rss_after_import_mib']:>7.0f}MiB")
    if "ratio_attncast_over_torch" not in result:
        print("(no attncast bench numbers: PyTorch only)")
        return 0
    print("attncast / torch, median of the rounds' paired ratios (train and batch-256 > 1: "
          "attncast faster; latency and RSS < 1: attncast better)")
    print(f"{'kind':<10}{'train':>9}{'lat med':>9}{'lat p90':>9}{'b256':>9}{'train RSS':>11}"
          f"{'RSS':>9}{'train range':>15}")
    for q, rg in zip(result["ratio_attncast_over_torch"], result["ratio_range"]):
        vals = [q.get(k) for k in RATIO_KEYS]
        lo, hi = rg.get("train_windows_per_s", (float("nan"), float("nan")))
        print(f"{q['kind']:<10}" + "".join(f"{v:>9.2f}" if v is not None else f"{'-':>9}"
                                           for v in vals) + f"{lo:>9.2f}-{hi:.2f}")
    return 0


def main(argv=None):
    ap = argparse.ArgumentParser(prog="torch_compare.py", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="verb", required=True)
    p = sub.add_parser("parity", help="attncast predict against the PyTorch reference")
    p.add_argument("paths", nargs="+", metavar="CHECKPOINT... CSV")
    p.add_argument("--attncast", help="the attncast binary ($ATTNCAST_BIN or build/attncast)")
    p.add_argument("--rows", type=int, default=16, help="windows: the last N (default 16)")
    p.add_argument("--tol", type=float, default=1e-4, help="max |difference| (default 1e-4)")
    b = sub.add_parser("bench", help="PyTorch training and forecast speed on a preset")
    b.add_argument("--preset", choices=("small", "large"), default="small")
    b.add_argument("--threads", type=int, default=1)
    b.add_argument("--kinds", help="comma-separated (default: every kind the binary knows)")
    b.add_argument("--seconds", type=float, default=3.0, help="per measurement (default 3)")
    b.add_argument("--json", action="store_true")
    b.add_argument("--attncast", help="the attncast binary ($ATTNCAST_BIN or build/attncast)")
    b.add_argument("--no-attncast", action="store_true", help="PyTorch numbers only")
    b.add_argument("--rounds", type=int, default=1,
                   help="measure each kind this many times, the two alternating (default 1)")
    b.add_argument("--ceiling-size", type=int, help="passed to attncast bench (its sgemm N^3)")
    c = sub.add_parser("_bench-child")
    c.add_argument("--preset", required=True)
    c.add_argument("--kind", required=True)
    c.add_argument("--threads", type=int, default=1)
    c.add_argument("--seconds", type=float, default=3.0)
    args = ap.parse_args(argv)
    if args.verb == "parity":
        if args.rows < 1:
            raise SystemExit("--rows must be >= 1")
        return cmd_parity(args)
    if args.verb == "bench":
        return cmd_bench(args)
    print(json.dumps(bench_child(args.preset, args.kind, args.threads, args.seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
