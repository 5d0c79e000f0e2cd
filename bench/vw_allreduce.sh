#!/usr/bin/env bash
# Vowpal Wabbit's AllReduce on N local nodes, on the same shards vectorflow's ranks read
# (byte ranges of the training file cut at line starts), for the cluster figures in
# docs/cluster.md. Not part of CI: it installs vowpalwabbit from PyPI.
#
#   bash bench/vw_allreduce.sh DATA_DIR NODES PASSES   # DATA_DIR holds train.svm, test.svm
#
# Prints "RESULT vw nodes= passes= wall_s= test_logloss= test_auc=".
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=$1 NODES=$2 PASSES=$3
WORK=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$WORK"' EXIT
python3 -c 'import vowpalwabbit' 2>/dev/null || python3 -m pip install --quiet vowpalwabbit
for s in train test; do
    [ -s "$DATA/$s.vw" ] || { sed 's/ / |f /' "$DATA/$s.svm" >"$DATA/$s.vw.partial" && mv "$DATA/$s.vw.partial" "$DATA/$s.vw"; }
done
# Node i reads the lines that start in bytes [i*len/N, (i+1)*len/N).
python3 - "$DATA/train.vw" "$NODES" "$WORK" <<'PY'
import os, sys
path, n, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
size = os.path.getsize(path)
with open(path, "rb") as f:
    data = f.read()
starts = []
for r in range(n + 1):
    at = r * size // n
    if 0 < at < size and data[at - 1] != 0x0A:
        nl = data.find(b"\n", at)
        at = size if nl < 0 else nl + 1
    starts.append(min(at, size))
for r in range(n):
    with open(f"{out}/part{r}.vw", "wb") as g:
        g.write(data[starts[r]:starts[r + 1]])
PY
PORT=$((20000 + RANDOM % 20000))
python3 bench/vw_span_server.py "$PORT" &
sleep 0.5
start=$(date +%s.%N)
pids=()
for ((i = 0; i < NODES; i++)); do
    python3 -m vowpalwabbit -d "$WORK/part$i.vw" --loss_function logistic -b 20 --holdout_off \
        --passes "$PASSES" -c -k --cache_file "$WORK/cache$i" -f "$WORK/model$i" --quiet \
        --span_server localhost --span_server_port "$PORT" --unique_id "$PORT" \
        --total "$NODES" --node "$i" &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p"; done
end=$(date +%s.%N)
python3 -m vowpalwabbit -d "$DATA/test.vw" -t -i "$WORK/model0" -p "$WORK/pred" --link logistic --quiet
python3 - "$DATA/test.svm" "$WORK/pred" "$NODES" "$PASSES" "$start" "$end" <<'PY'
import math, sys
labels = [1 if l.split(None, 1)[0] in ("1", "+1") else 0 for l in open(sys.argv[1])]
probs = [min(max(float(l.split()[0]), 1e-15), 1 - 1e-15) for l in open(sys.argv[2])]
ll = -sum(math.log(p if y else 1 - p) for y, p in zip(labels, probs)) / len(labels)
# AUC by ranks (ties averaged).
order = sorted(range(len(probs)), key=lambda i: probs[i])
rank, i = [0.0] * len(probs), 0
while i < len(order):
    j = i
    while j + 1 < len(order) and probs[order[j + 1]] == probs[order[i]]:
        j += 1
    for k in range(i, j + 1):
        rank[order[k]] = (i + j) / 2 + 1
    i = j + 1
pos = sum(labels)
neg = len(labels) - pos
auc = (sum(r for r, y in zip(rank, labels) if y) - pos * (pos + 1) / 2) / (pos * neg)
print(f"RESULT vw nodes={sys.argv[3]} passes={sys.argv[4]} wall_s={float(sys.argv[6]) - float(sys.argv[5]):.2f} "
      f"test_logloss={ll:.4f} test_auc={auc:.4f}")
PY
