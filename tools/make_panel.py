#!/usr/bin/python3
"""make_panel.py - writes a generated long-format panel (id,date,value) for trying and timing
attncast's long format: hourly series of different lengths and start dates, each with its own
level, trend, daily and weekly seasonality, noise and an occasional level shift, the rows of all
series interleaved and shuffled (the loader sorts them per series).

  /usr/bin/python3 tools/make_panel.py [--series 60] [--min-rows 600] [--max-rows 2400]
                                       [--seed 1] --out panel.csv

The same arguments write the same file (Python's random with the seed). docs/panels.md uses the
defaults.
"""
import argparse
import datetime
import math
import random


def series_rows(rng, sid, rows, start):
    level = rng.uniform(20.0, 2000.0)
    daily = level * rng.uniform(0.05, 0.30)
    weekly = level * rng.uniform(0.0, 0.15)
    trend = level * rng.uniform(-0.3, 0.3) / rows
    noise = level * rng.uniform(0.01, 0.08)
    phase = rng.uniform(0.0, 2.0 * math.pi)
    shift_at = rng.randrange(rows // 3, rows) if rng.random() < 0.3 else None
    shift = level * rng.uniform(-0.2, 0.2)
    ar = 0.0
    for t in range(rows):
        date = start + datetime.timedelta(hours=t)
        hour, weekday = date.hour, date.weekday()
        ar = 0.7 * ar + rng.gauss(0.0, noise)
        v = (level + trend * t + daily * math.sin(2 * math.pi * hour / 24 + phase)
             + weekly * (1.0 if weekday < 5 else -1.5) + ar)
        if shift_at is not None and t >= shift_at:
            v += shift
        yield sid, date.strftime("%Y-%m-%d %H:%M:%S"), v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--series", type=int, default=60)
    ap.add_argument("--min-rows", type=int, default=600)
    ap.add_argument("--max-rows", type=int, default=2400)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    rows = []
    base = datetime.datetime(2023, 1, 2)
    for i in range(a.series):
        n = rng.randint(a.min_rows, a.max_rows)
        start = base + datetime.timedelta(hours=rng.randrange(0, 24 * 60))
        rows.extend(series_rows(rng, "s%03d" % i, n, start))
    rng.shuffle(rows)
    with open(a.out, "w") as f:
        f.write("id,date,value\n")
        for sid, date, v in rows:
            f.write("%s,%s,%.4f\n" % (sid, date, v))
    print("wrote %s: %d series, %d rows" % (a.out, a.series, len(rows)))


if __name__ == "__main__":
    main()
