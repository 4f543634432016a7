#!/usr/bin/python3
"""write_parity_fixtures.py - writes the PyTorch parity fixtures that tests/nn/test_parity_fixtures
checks on every build, without Python.

For each attention kind and channel mode it trains a tiny model with the attncast binary (two
epochs on a generated series, dropout 0) and writes `<case>.h5`: a model-only checkpoint of those
weights laid out as docs/model.md says (written here, so attncast's reader is checked on a file
another program wrote), and under /fixture what the PyTorch reference (tools/attncast_torch.py)
computes from them for a fixed batch: the inputs x [B, L, C] and targets y [B, H, C] (scaled
values), the forecast, the MSE loss, and the gradient of that loss for every parameter
(/fixture/grads/{name}). Independent
cases use the last-value anchor, mixed ones the mean anchor with a causal mask, so both anchors
and both masks are covered. Quantile cases (`<kind>_<mode>_quantile.h5`, model.quantiles =
0.1,0.5,0.9; every kind once, the channel modes taking turns) hold the raw [B, H, C, Q] forecast,
the pinball loss and its gradients, and what inference shows: /fixture/sorted (the levels sorted
ascending) and /fixture/point (the median).

Covariate cases (MODEL.md version 2, "Covariates"; `<name>_covariates.h5`, COVARIATE_CASES) train
on a generated hourly CSV with a date column, targets and covariate columns; /fixture/x is then
[B, L, C + Kp + Kf] (the targets, the past, the future covariates, calendar columns last) and,
when Kf > 0, /fixture/future [B, H, Kf] holds the future covariates over the horizon. They cover
the independent mode with the last-value anchor (past, future and calendar columns), the mixed
mode with the mean anchor and a causal mask (past and future; and past only, no future tokens),
and a quantile model with covariates.

  /usr/bin/python3 tools/write_parity_fixtures.py [--attncast build/attncast] [--out DIR]
      [--cases PATTERN ...]

--cases writes only the cases whose name matches one of the shell patterns (e.g. '*covariates'),
leaving the other files as they are (every file records when its model was trained, so a file
written again differs from the old one even when the model contract did not change).

Needs torch, h5py and numpy (Debian: python3-torch python3-h5py). Run it again after a change of
the model contract; the files are small (about 30 KB each).
"""
import argparse
import fnmatch
import math
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import attncast_torch as at  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODES = (("independent", "last", False), ("mixed", "mean", True))
BATCH = 3
QUANTILES = "0.1,0.5,0.9"

CONFIG = """[data]
csv = {csv}
lookback = 16
horizon = {horizon}
{roles}[model]
attention = {kind}
channels = {mode}
anchor = {anchor}
causal = {causal}
d_model = 8
heads = 2
layers = 2
d_ff = 12
patch_len = 4
patch_stride = 2
dropout = 0
quantiles = {quantiles}
[train]
epochs = 2
batch_size = 16
seed = 7
threads = 1
patience = 0
"""


# Covariate cases: (name, kind, mode, anchor, causal, quantiles, targets, past, future, calendar),
# on COVARIATE_CSV with horizon 8 (3 future tokens of patch_len 4, stride 2).
COVARIATE_CSV = "covariates.csv"
COVARIATE_HORIZON = 8
COVARIATE_CASES = (
    ("dot_independent_covariates", "dot", "independent", "last", False, "",
     "a,b", "p1,p2", "f1", "hour_of_day"),
    ("gated_mixed_covariates", "gated", "mixed", "mean", True, "",
     "a,b", "p1,p2", "f1,f2", ""),
    ("additive_mixed_past_covariates", "additive", "mixed", "mean", True, "",
     "a,b,c", "p1", "", ""),
    ("cosine_independent_quantile_covariates", "cosine", "independent", "last", False, QUANTILES,
     "a,b", "p2", "f2", "day_of_week,month_of_year"),
)


def write_series(path):
    with open(path, "w") as f:
        f.write("a,b,c\n")
        for t in range(240):
            f.write(f"{50 + 3 * math.sin(t * 0.5236):.5f},{math.cos(t * 0.2618) + 0.01 * t:.5f},"
                    f"{0.5 * math.sin(t * 0.9) + 0.2 * math.cos(t * 0.13):.5f}\n")


def write_covariate_series(path):
    """Hourly rows from 2021-01-25 (so the calendar features change within the data): targets
    a, b, c that depend on the covariates, past covariates p1, p2, future covariates f1, f2."""
    with open(path, "w") as f:
        f.write("date,a,b,c,p1,p2,f1,f2\n")
        for t in range(480):
            day, hour = divmod(t, 24)
            date = f"2021-{1 + (24 + day) // 31:02d}-{1 + (24 + day) % 31:02d} {hour:02d}:00:00"
            f1 = math.sin(2 * math.pi * hour / 24)
            f2 = 1.0 if day % 7 in (5, 6) else 0.0
            p1 = math.cos(t * 0.31) + 0.002 * t
            p2 = 0.5 * math.sin(t * 0.07)
            a = 10 + 2 * f1 + 0.5 * p1 + 0.3 * math.sin(t * 0.9)
            b = 3 * f2 + math.cos(t * 0.2618) + 0.4 * p2
            c = 0.5 * math.sin(t * 0.9) + 0.2 * math.cos(t * 0.13) + 0.1 * p1
            f.write(f"{date},{a:.5f},{b:.5f},{c:.5f},{p1:.5f},{p2:.5f},{f1:.5f},{f2:.1f}\n")


def write_case(binary, work, out, kind, mode, anchor, causal, quantiles="", covariates=None):
    """One fixture file; covariates = (name, targets, past, future, calendar) for a covariate
    case, whose config names the roles and reads COVARIATE_CSV."""
    name = f"{kind}_{mode}" + ("_quantile" if quantiles else "")
    csv, horizon, roles = "series.csv", 4, ""
    if covariates:
        name, targets, past, future, calendar = covariates
        csv, horizon = COVARIATE_CSV, COVARIATE_HORIZON
        roles = (f"targets = {targets}\npast_covariates = {past}\nfuture_covariates = {future}\n"
                 f"calendar = {calendar}\n")
    with open(os.path.join(work, f"{name}.ini"), "w") as f:
        f.write(CONFIG.format(kind=kind, mode=mode, anchor=anchor, csv=csv, horizon=horizon,
                              roles=roles, causal="true" if causal else "false",
                              quantiles=quantiles))
    run = subprocess.run([binary, "train", f"{name}.ini", "--quiet", "--out", name], cwd=work,
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"train {name}: {run.stderr.strip()}")
    trained = os.path.join(work, name, "last.h5")
    model, mean, std, channels, _ = at.load_checkpoint(trained)
    model.eval()  # dropout is 0 anyway
    spec = model.spec
    rng = np.random.default_rng(2024)
    # x [B, L, C + Kp + Kf] (just [B, L, C] without covariates), y [B, H, C]
    x = rng.standard_normal((BATCH, spec.lookback, spec.columns)).astype(np.float32)
    y = rng.standard_normal((BATCH, spec.horizon, spec.channels)).astype(np.float32)
    future = None
    if spec.future_covariates:  # [B, H, Kf]
        future = rng.standard_normal((BATCH, spec.horizon, spec.future_covariates))
        future = future.astype(np.float32)
    future_t = torch.from_numpy(future) if future is not None else None
    model.zero_grad()
    forecast = model(torch.from_numpy(x), future_t)
    loss = at.forecast_loss(model, forecast, torch.from_numpy(y))  # mse, or pinball
    loss.backward()
    point, sorted_levels = at.predict(model, torch.from_numpy(x), future_t)
    strings = h5py.string_dtype("utf-8")
    with h5py.File(trained, "r") as src, h5py.File(os.path.join(out, f"{name}.h5"), "w") as f:
        # a model-only checkpoint as the model contract lays it out, written by this program
        for key in ("format", "created"):
            f.attrs.create(key, at._text(src.attrs[key]), dtype=strings)
        f.attrs.create("program_version", "write_parity_fixtures.py", dtype=strings)
        f.attrs.create("format_version", src.attrs["format_version"], dtype=np.int32)
        f.create_dataset("config", data=at._text(src["config"][()]), dtype=strings)
        for pname, p in model.named_parameters():
            f[f"params/{pname}"] = p.detach().numpy().astype(np.float32)
        f["scaler/mean"] = mean
        f["scaler/std"] = std
        f.create_dataset("scaler/channels", data=channels, dtype=strings)
        # what the reference computes from those weights
        g = f.create_group("fixture")
        g.attrs.create("torch_version", "%s" % torch.__version__, dtype=strings)
        g["x"] = x
        g["y"] = y
        if future is not None:
            g["future"] = future
        g["forecast"] = forecast.detach().numpy().astype(np.float32)
        g["loss"] = np.float64(loss.item())
        if sorted_levels is not None:
            g["sorted"] = sorted_levels.numpy().astype(np.float32)
            g["point"] = point.numpy().astype(np.float32)
        for pname, p in model.named_parameters():
            g[f"grads/{pname}"] = p.grad.detach().numpy().astype(np.float32)
    return name


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--attncast", default=os.path.join(ROOT, "build", "attncast"))
    p.add_argument("--out", default=os.path.join(ROOT, "tests", "fixtures", "parity"))
    p.add_argument("--cases", nargs="+", metavar="PATTERN", default=["*"],
                   help="write only the cases whose name matches one of these shell patterns")
    args = p.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    cases = []  # (name, write_case arguments after binary, work, out)
    for kind in at.KINDS:
        for mode, anchor, causal in MODES:
            cases.append((f"{kind}_{mode}", (kind, mode, anchor, causal)))
    for i, kind in enumerate(at.KINDS):  # every kind once, the modes taking turns
        mode, anchor, causal = MODES[i % len(MODES)]
        cases.append((f"{kind}_{mode}_quantile", (kind, mode, anchor, causal, QUANTILES)))
    for name, kind, mode, anchor, causal, quantiles, *roles in COVARIATE_CASES:
        cases.append((name, (kind, mode, anchor, causal, quantiles, (name, *roles))))
    chosen = [c for c in cases if any(fnmatch.fnmatchcase(c[0], pat) for pat in args.cases)]
    if not chosen:
        raise SystemExit(f"no case matches {' '.join(args.cases)} (cases: "
                         f"{', '.join(c[0] for c in cases)})")
    with tempfile.TemporaryDirectory() as work:
        write_series(os.path.join(work, "series.csv"))
        write_covariate_series(os.path.join(work, COVARIATE_CSV))
        for _, case in chosen:
            print("wrote", write_case(args.attncast, work, args.out, *case))


if __name__ == "__main__":
    main()
