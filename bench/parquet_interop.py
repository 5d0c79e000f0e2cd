#!/usr/bin/env python3
"""Writes a small Hive-partitioned Parquet dataset with pyarrow, for the interop check of
vectorflow's Parquet reader (not part of CI):

    python3 bench/parquet_interop.py /tmp/vf-interop
    cargo run --release --features parquet --example parquet_read -- /tmp/vf-interop/clicks

Installs pyarrow from PyPI if it is missing. Writes `clicks/country=XX/day=N/*.parquet`
(snappy, pyarrow's default; a dictionary-encoded string column, nulls, int32 and float64
columns) and `clicks.zstd.parquet`, the same rows as one zstd file in row groups of 500.
"""
import importlib.util
import math
import os
import random
import subprocess
import sys

if importlib.util.find_spec("pyarrow") is None:
    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "pyarrow"])

import pyarrow as pa  # noqa: E402
import pyarrow.dataset as ds  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/vf-interop"
os.makedirs(out, exist_ok=True)
rng = random.Random(7)
words = ["great", "bad", "slow", "fast", "ok", "broken", "nice", "meh"]
effect = [1.5, -1.5, -0.7, 0.7, 0.0, -2.0, 1.0, -0.2]
shift = {"FR": 1.0, "US": -1.0, "DE": 0.0}
cols = {k: [] for k in ["good", "shop", "words", "stars", "clicks", "country", "day"]}
for i in range(6000):
    country = ["FR", "US", "DE"][i % 3]
    day = 1 + (i // 3) % 2
    w1, w2 = rng.randrange(8), rng.randrange(8)
    shop = rng.randrange(20)
    stars = None if rng.random() < 0.05 else round(rng.random() * 5, 2)
    s = effect[w1] + effect[w2] + shift[country] + (shop % 3) - 1.0
    cols["good"].append(rng.random() < 1 / (1 + math.exp(-s)))
    cols["shop"].append(f"shop{shop}")
    cols["words"].append(f"{words[w1]} {words[w2]}")
    cols["stars"].append(stars)
    cols["clicks"].append(rng.randrange(1000))
    cols["country"].append(country)
    cols["day"].append(day)
table = pa.table(
    {
        "good": pa.array(cols["good"], pa.bool_()),
        "shop": pa.array(cols["shop"]).dictionary_encode(),
        "words": pa.array(cols["words"], pa.string()),
        "stars": pa.array(cols["stars"], pa.float64()),
        "clicks": pa.array(cols["clicks"], pa.int32()),
        "country": pa.array(cols["country"], pa.string()),
        "day": pa.array(cols["day"], pa.int32()),
    }
)
ds.write_dataset(
    table,
    os.path.join(out, "clicks"),
    format="parquet",
    partitioning=["country", "day"],
    partitioning_flavor="hive",
    max_rows_per_file=600,
    max_rows_per_group=300,
    existing_data_behavior="delete_matching",
)
pq.write_table(
    table.drop_columns(["country", "day"]),
    os.path.join(out, "clicks.zstd.parquet"),
    compression="zstd",
    row_group_size=500,
)
files = sorted(
    os.path.join(d, f) for d, _, fs in os.walk(os.path.join(out, "clicks")) for f in fs
)
print(f"pyarrow {pa.__version__}: wrote {table.num_rows} rows to {len(files)} files under {out}/clicks")
print(f"and {out}/clicks.zstd.parquet; first file {os.path.relpath(files[0], out)}")
