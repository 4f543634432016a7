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

  /usr/bin/python3 tools/write_parity_fixtures.py [--attncast build/attncast] [--out DIR]

Needs torch, h5py and numpy (Debian: python3-torch python3-h5py). Run it again after a change of
the model contract; the files are small (about 30 KB each).
"""
import argparse
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
csv = series.csv
lookback = 16
horizon = 4
[model]
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


def write_series(path):
    with open(path, "w") as f:
        f.write("a,b,c\n")
        for t in range(240):
            f.write(f"{50 + 3 * math.sin(t * 0.5236):.5f},{math.cos(t * 0.2618) + 0.01 * t:.5f},"
                    f"{0.5 * math.sin(t * 0.9) + 0.2 * math.cos(t * 0.13):.5f}\n")


def write_case(binary, work, out, kind, mode, anchor, causal, quantiles=""):
    name = f"{kind}_{mode}" + ("_quantile" if quantiles else "")
    with open(os.path.join(work, f"{name}.ini"), "w") as f:
        f.write(CONFIG.format(kind=kind, mode=mode, anchor=anchor,
                              causal="true" if causal else "false", quantiles=quantiles))
    run = subprocess.run([binary, "train", f"{name}.ini", "--quiet", "--out", name], cwd=work,
                         capture_output=True, text=True)
    if run.returncode != 0:
        raise SystemExit(f"train {name}: {run.stderr.strip()}")
    trained = os.path.join(work, name, "last.h5")
    model, mean, std, channels, _ = at.load_checkpoint(trained)
    model.eval()  # dropout is 0 anyway
    spec = model.spec
    rng = np.random.default_rng(2024)
    x = rng.standard_normal((BATCH, spec.lookback, len(channels))).astype(np.float32)
    y = rng.standard_normal((BATCH, spec.horizon, len(channels))).astype(np.float32)
    model.zero_grad()
    forecast = model(torch.from_numpy(x))
    loss = at.forecast_loss(model, forecast, torch.from_numpy(y))  # mse, or pinball
    loss.backward()
    point, sorted_levels = at.predict(model, torch.from_numpy(x))
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
    args = p.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    with tempfile.TemporaryDirectory() as work:
        write_series(os.path.join(work, "series.csv"))
        for kind in at.KINDS:
            for mode, anchor, causal in MODES:
                print("wrote", write_case(args.attncast, work, args.out, kind, mode, anchor,
                                          causal))
        for i, kind in enumerate(at.KINDS):  # every kind once, the modes taking turns
            mode, anchor, causal = MODES[i % len(MODES)]
            print("wrote", write_case(args.attncast, work, args.out, kind, mode, anchor, causal,
                                      QUANTILES))


if __name__ == "__main__":
    main()
