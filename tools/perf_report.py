#!/usr/bin/python3
"""perf_report.py - every measurement behind docs/performance.md, in one run.

    /usr/bin/python3 tools/perf_report.py [--attncast build/attncast] [--seconds S] [--rounds R]
                                          [--skip-torch] [--parts torch,lookback,threads]
                                          [--out perf-report.md]

Writes a Markdown report (and prints it):
  1. attncast against PyTorch (tools/torch_compare.py bench) on the small and large presets,
     1 thread, every attention kind: training windows/s, latency, batch-256 windows/s, peak
     memory during training and overall, and the ratios: --rounds R pairs per kind, attncast's
     and PyTorch's runs of a pair one right after the other (the order alternating), each ratio
     the median of the R paired ratios, with their range;
  2. how training cost grows with the lookback L = 96, 192, 336, 512, 720 at fixed patching
     (patch 16 / stride 8, so N = (L - 16) / 8 + 1 tokens) on the small preset: windows/s,
     MFLOP per window and the share of it that grows with N^2 (attention scores and A V);
  3. threads: the large preset at 1 and 2 threads on the machine as it is, and again while another
     process keeps one core busy (the thread tuner on, as in training, and held at 2 threads
     with ATTNCAST_ADAPT_THREADS=0).
Needs only the standard library; the PyTorch part needs python3-torch (skipped without it).
"""
import argparse
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
LOOKBACKS = [96, 192, 336, 512, 720]


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def bench(binary, args, env=None):
    p = subprocess.run([binary, "bench", "--json"] + args, capture_output=True, text=True,
                       env=dict(os.environ, **(env or {})))
    if p.returncode != 0:
        raise SystemExit(f"attncast bench {' '.join(args)} failed: {p.stderr.strip()}")
    return json.loads(p.stdout)


def torch_section(binary, seconds, rounds, lines):
    try:
        import torch  # noqa: F401
    except ImportError:
        lines.append("PyTorch is not installed: no comparison (apt-get install python3-torch).\n")
        return
    for preset in ("small", "large"):
        p = subprocess.run([sys.executable, os.path.join(HERE, "torch_compare.py"), "bench",
                            "--preset", preset, "--threads", "1", "--seconds", str(seconds),
                            "--rounds", str(rounds), "--attncast", binary, "--json"],
                           capture_output=True, text=True)
        if p.returncode != 0:
            lines.append(f"torch_compare.py bench --preset {preset} failed: {p.stderr.strip()}\n")
            continue
        r = json.loads(p.stdout)
        torch_rows = {t["kind"]: t for t in r["torch"]}
        ac_rows = {a["kind"]: a for a in r.get("attncast", [])}
        ratios = {q["kind"]: q for q in r.get("ratio_attncast_over_torch", [])}
        ranges = {q["kind"]: q for q in r.get("ratio_range", [])}
        lines.append(f"**{preset} preset**, PyTorch {r['torch_version']}, 1 thread, {rounds} "
                     f"round(s) of pairs: medians of each side, and the median of the paired "
                     f"ratios (their range in brackets when there are several rounds)\n")
        lines.append("| kind | train win/s attncast / torch (ratio) | latency ms (ratio) | "
                     "batch-256 win/s (ratio) | training peak MiB (ratio) | overall peak MiB "
                     "(ratio) |")
        lines.append("| --- | --- | --- | --- | --- | --- |")
        for k in torch_rows:  # the binary's kinds, in its order
            t, a, q, rg = torch_rows.get(k), ac_rows.get(k), ratios.get(k), ranges.get(k, {})
            if not t or not a or not q:
                continue

            def cell(key, scale=1.0, fmt="{:.0f}"):
                x, y = a[key] * scale, t[key] * scale
                spread = f" [{rg[key][0]:.2f}-{rg[key][1]:.2f}]" if rounds > 1 and key in rg else ""
                return f"{fmt.format(x)} / {fmt.format(y)} ({q[key]:.2f}{spread})"
            lines.append(f"| {k} | {cell('train_windows_per_s')} | "
                         f"{cell('latency_median_us', 1e-3, '{:.2f}')} | "
                         f"{cell('batch256_windows_per_s')} | {cell('train_peak_rss_mib')} | "
                         f"{cell('peak_rss_mib')} |")
        lines.append("")


def lookback_section(binary, seconds, lines):
    lines.append("| L | N tokens | kind | train win/s | MFLOP/window | N^2 share of FLOPs | "
                 "cost per window vs L = 96 |")
    lines.append("| --- | --- | --- | --- | --- | --- | --- |")
    first = {}
    for L in LOOKBACKS:
        r = bench(binary, ["--preset", "small", "--threads", "1", "--kinds", "dot,additive",
                           "--seconds", str(seconds), "--lookback", str(L)])
        for row in r["kinds"]:
            k = row["kind"]
            cost = 1.0 / row["train_windows_per_s"]
            first.setdefault(k, cost)
            lines.append(f"| {L} | {(L - 16) // 8 + 1} | {k} | {row['train_windows_per_s']:.0f} | "
                         f"{row['train_flops_per_window'] * 1e-6:.1f} | "
                         f"{100 * row['attention_square_flop_fraction']:.1f}% | "
                         f"{cost / first[k]:.2f}x |")
    lines.append("")


def threads_section(binary, seconds, lines):
    def run(threads, env=None):
        r = bench(binary, ["--preset", "large", "--threads", str(threads), "--kinds", "dot",
                           "--seconds", str(seconds)], env)
        return r["kinds"][0]["train_windows_per_s"]

    idle = {1: run(1), 2: run(2), "fixed": run(2, {"ATTNCAST_ADAPT_THREADS": "0"})}
    busy_loop = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        busy = {1: run(1), 2: run(2), "fixed": run(2, {"ATTNCAST_ADAPT_THREADS": "0"})}
    finally:
        busy_loop.kill()
        busy_loop.wait()
    lines.append("| large preset, dot | 1 thread | 2 threads | 2 / 1 |")
    lines.append("| --- | --- | --- | --- |")
    lines.append(f"| the machine as it was | {idle[1]:.1f} | {idle[2]:.1f} | {idle[2] / idle[1]:.2f} |")
    lines.append(f"| the same, thread tuner off (ATTNCAST_ADAPT_THREADS=0) | {idle[1]:.1f} | "
                 f"{idle['fixed']:.1f} | {idle['fixed'] / idle[1]:.2f} |")
    lines.append(f"| one core kept busy by another process | {busy[1]:.1f} | {busy[2]:.1f} | "
                 f"{busy[2] / busy[1]:.2f} |")
    lines.append(f"| the same, thread tuner off (ATTNCAST_ADAPT_THREADS=0) | {busy[1]:.1f} | "
                 f"{busy['fixed']:.1f} | {busy['fixed'] / busy[1]:.2f} |")
    lines.append("")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--attncast", default=os.environ.get("ATTNCAST_BIN", "build/attncast"))
    ap.add_argument("--seconds", type=float, default=3.0, help="per measurement (default 3)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="attncast / PyTorch pairs per kind, alternating (default 3)")
    ap.add_argument("--skip-torch", action="store_true")
    ap.add_argument("--parts", default="torch,lookback,threads",
                    help="which parts, comma-separated (default: torch,lookback,threads)")
    ap.add_argument("--out", default="perf-report.md")
    args = ap.parse_args(argv)
    binary = os.path.abspath(args.attncast)
    load = os.getloadavg()
    lines = [f"# attncast performance report, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
             "", f"{cpu_model()}, {os.cpu_count()} cores, load average {load[0]:.2f} at the start; "
             f"`{' '.join(sys.argv)}`", ""]
    parts = set(args.parts.split(","))
    if "torch" in parts and not args.skip_torch:
        lines.append("## attncast against PyTorch\n")
        torch_section(binary, args.seconds, args.rounds, lines)
    if "lookback" in parts:
        lines.append("## Training cost against lookback (small preset, 1 thread)\n")
        lookback_section(binary, args.seconds, lines)
    if "threads" in parts:
        lines.append("## Threads (training windows/s)\n")
        threads_section(binary, args.seconds, lines)
    text = "\n".join(lines)
    with open(args.out, "w") as f:
        f.write(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
