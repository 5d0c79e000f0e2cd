#!/usr/bin/env python3
"""Reads vectorflow model files of every layout with Python's `safetensors` and numpy, and
checks their tensors against the layout documented in docs/model_files.md (not part of
CI):

    python3 bench/model_files_interop.py [/tmp/vf-model-files]

Installs safetensors and numpy from PyPI if they are missing, and runs
`cargo run --example model_files -- DIR` to write the files first. Checks each file's
tensor names, dtypes and shapes; rebuilds a zero-initialised linear model's whole
parameter buffer from its sparse table and compares it, bit for bit, with the buffer the
example dumped; and checks that the listed rows of a sparse file equal those rows of the
dense file of the same weights.
"""
import importlib.util
import os
import subprocess
import sys
import zlib

for module, package in [("safetensors", "safetensors"), ("numpy", "numpy")]:
    if importlib.util.find_spec(module) is None:
        subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", package])

import numpy as np  # noqa: E402
from safetensors import safe_open  # noqa: E402
from safetensors.numpy import load_file  # noqa: E402

out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/vf-model-files"
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
subprocess.check_call(["cargo", "run", "--quiet", "--example", "model_files", "--", out], cwd=root)


def metadata(name):
    with safe_open(os.path.join(out, name), framework="numpy") as f:
        return f.metadata()


def tensors(name):
    return load_file(os.path.join(out, name))


def table_of(meta, t):
    offset, rows, width = (int(x) for x in meta[f"table.{t}"].split(","))
    return offset, rows, width


def rebuild(meta, ts, planes=False):
    """The whole parameter buffer (or state plane 0) of a file whose tables sit over zeros."""
    n = int(meta["params"])
    name = "state.0" if planes else "params"
    full = np.zeros(n, dtype=np.float32)
    tables = sorted(int(k.split(".")[1]) for k in meta if k.count(".") == 1 and k.startswith("table."))
    covered = np.zeros(n, dtype=bool)
    for t in tables:
        offset, rows, width = table_of(meta, t)
        covered[offset : offset + rows * width] = True
        ids = ts[f"table.{t}.ids"]
        table = full[offset : offset + rows * width].reshape(rows, width)
        if planes:
            table[:] = ts[f"table.{t}.state.0.fill"]
            table[ids] = ts[f"table.{t}.state.0"]
        else:
            table[ids] = ts[f"table.{t}.rows"]
    full[~covered] = ts[name]
    return full


# The linear model: zeros init, so its buffer rebuilds in numpy alone.
meta, ts = metadata("lin-sparse.vf"), tensors("lin-sparse.vf")
assert meta["format"] == "vectorflow" and meta["format_version"] == "2", meta
assert meta["init"].startswith("zeros"), meta["init"]
assert set(ts) == {
    "params", "table.0.ids", "table.0.rows", "state.0", "table.0.state.0.fill", "table.0.state.0",
}, sorted(ts)
offset, rows, width = table_of(meta, 0)
k = ts["table.0.ids"].shape[0]
assert (offset, rows, width) == (0, 4096, 4)
assert ts["table.0.ids"].dtype == np.uint32 and 0 < k < rows
assert np.all(np.diff(ts["table.0.ids"].astype(np.int64)) > 0) and ts["table.0.ids"][-1] < rows
assert ts["table.0.rows"].shape == (k, width) and ts["table.0.rows"].dtype == np.float32
assert ts["params"].shape == (4,) and ts["state.0"].shape == (4,)
assert ts["table.0.state.0"].shape == (k, width) and ts["table.0.state.0.fill"].shape == (width,)
full = rebuild(meta, ts)
raw = np.fromfile(os.path.join(out, "lin-params.f32"), dtype="<f4")
assert np.array_equal(full.view(np.uint32), raw.view(np.uint32)), "rebuilt buffer differs"
assert zlib.crc32(full.astype("<f4").tobytes()) == int(meta["crc32.weights"], 16)
state = rebuild(meta, ts, planes=True)
assert state.shape == raw.shape and np.all(state > 0), "AdaGrad accumulators start at eps"

# Saved for prediction: the weights' tensors only.
meta, ts = metadata("lin-predict.vf"), tensors("lin-predict.vf")
assert meta["saved_for"] == "predict" and "optimizer" not in meta, meta
assert set(ts) == {"params", "table.0.ids", "table.0.rows"}, sorted(ts)
assert np.array_equal(rebuild(meta, ts).view(np.uint32), raw.view(np.uint32))

# The MLP: its sparse file lists the changed rows; the dense file has every weight.
dense_meta, dense = metadata("mlp-dense.vf"), tensors("mlp-dense.vf")
assert dense_meta["format_version"] == "1" and "init" not in dense_meta, dense_meta
assert set(dense) == {"params"} and dense["params"].shape == (int(dense_meta["params"]),)
meta, ts = metadata("mlp-sparse.vf"), tensors("mlp-sparse.vf")
offset, rows, width = table_of(meta, 0)
assert (offset, rows, width) == (0, 4096, 8), meta
ids = ts["table.0.ids"]
table = dense["params"][offset : offset + rows * width].reshape(rows, width)
assert np.array_equal(table[ids].view(np.uint32), ts["table.0.rows"].view(np.uint32))
assert np.array_equal(dense["params"][rows * width :], ts["params"])
assert ts["state.0"].shape == ts["params"].shape and meta["optimizer"] == "AdaGrad"
print(
    f"ok: {len(os.listdir(out))} files; lin-sparse lists {k} of {rows} rows; "
    f"mlp-sparse lists {ids.shape[0]} of {rows} rows "
    f"({os.path.getsize(os.path.join(out, 'mlp-sparse.vf'))} bytes with its AdaGrad state; "
    f"mlp-dense, weights only, {os.path.getsize(os.path.join(out, 'mlp-dense.vf'))} bytes)"
)
