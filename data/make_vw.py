#!/usr/bin/env python3
"""Writes flights_train.vw and flights_test.vw from flights_sample.csv, for the `vf`
command line's first model: Vowpal Wabbit text, label 1 when the flight arrived more than
15 minutes late, else -1; the quickstart's split (the first 80% of rows train, the rest
test). Namespaces: c carrier, o origin, d dest, t month/day/hour, x distance (thousands
of miles). Python standard library only, deterministic.

    python3 data/make_vw.py data/flights_sample.csv data/
"""
import csv
import os
import sys


def line(row):
    label = 1 if float(row["arr_delay"]) > 15 else -1
    miles = float(row["distance"]) / 1000
    return (
        f"{label} |c {row['carrier']} |o {row['origin']} |d {row['dest']}"
        f" |t m{row['month']} d{row['day']} h{row['hour']} |x miles:{miles:g}\n"
    )


def main(src, out_dir):
    with open(src, newline="") as f:
        rows = list(csv.DictReader(f))
    cut = len(rows) * 4 // 5
    for name, part in (("flights_train.vw", rows[:cut]), ("flights_test.vw", rows[cut:])):
        with open(os.path.join(out_dir, name), "w") as f:
            f.writelines(line(r) for r in part)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
