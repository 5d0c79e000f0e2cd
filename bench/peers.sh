#!/usr/bin/env bash
# vectorflow side by side with Vowpal Wabbit, LIBLINEAR and fastText on the same data.
# Not part of CI: it installs packages (pip, apt) and runs for several minutes.
#
#   bash bench/peers.sh            # 1M/200k synthetic rows in $DATA, medians of 3
#   RUNS=1 ONLY='vw|vectorflow' bash bench/peers.sh   # the other rows kept from bench/peers.tsv
#
# Each setting is timed end to end (parse + train + predict, as separate processes where
# the tool needs them) with /usr/bin/time: wall seconds summed, peak RSS the largest.
# mlp16 holds 2^20 x 16 input weights; mlp16-small (2^16 slots, ids modulo 2^16) holds
# 2^20, as many as VW's --nn 16 -b 20, which hashes all 16 hidden units into one table.
# Every system's test predictions are scored by examples/peers_score, i.e. by
# vectorflow::metrics::binary, the function examples/bench scores vectorflow with.
# Writes bench/peers.tsv (every run), then bench/peers.svg and bench/PEERS_RESULTS.md
# (medians) through examples/peers_chart. Idempotent: installs and data are reused.
set -euo pipefail
shopt -s inherit_errexit
cd "$(dirname "$0")/.."

DATA=${DATA:-/tmp/vf}            # train.svm/test.svm (generated when missing)
WORK=${WORK:-$DATA/peers}        # models, caches, predictions
RUNS=${RUNS:-3}                  # runs per setting; the table shows medians
THREADS=${THREADS:-1}            # training threads where a tool has the option
TRAIN_ROWS=${TRAIN_ROWS:-1000000}
TEST_ROWS=${TEST_ROWS:-200000}
ONLY=${ONLY:-}                   # a regex over "system setting" to run a subset
TSV=bench/peers.tsv

log() { printf '%s\n' "$*" >&2; }

install() {
    local pkgs=()
    command -v liblinear-train >/dev/null || pkgs+=(liblinear-tools)
    command -v fasttext >/dev/null || pkgs+=(fasttext)
    [ -x /usr/bin/time ] || pkgs+=(time)
    if [ ${#pkgs[@]} -gt 0 ]; then
        log "installing ${pkgs[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${pkgs[@]}" >/dev/null
    fi
    if ! python3 -c 'import vowpalwabbit' 2>/dev/null; then
        log "installing vowpalwabbit"
        python3 -m pip install --quiet vowpalwabbit
    fi
}

# Whether ONLY selects a setting of system $1.
wanted() {
    local s
    for s in "${SETTINGS[@]}"; do
        [[ ${s%%|*} == "$1" ]] || continue
        [[ -z $ONLY || "${s%%|*} ${s#*|}" =~ $ONLY ]] && return 0
    done
    return 1
}

build() {
    cargo build --release --quiet --example gen_svm --example peers_score --example peers_chart
    # The bench (every model, optimizer, store and CPU level) and vf take long to build
    # in release (docs/cli.md, compile time): only when their rows run.
    if wanted vectorflow; then cargo build --release --quiet --example bench; fi
    if wanted vf; then cargo build --release --quiet -p vectorflow-cli; fi
}

# Writes $2 from $1 with a converter, through a temporary name.
convert() {
    local src=$1 dst=$2 kind=$3
    [ -s "$dst" ] && return
    log "writing $dst"
    case $kind in
        vw) sed 's/ / |f /' "$src" >"$dst.partial" ;;
        # fastText reads words: one per feature id (the values are dropped).
        ft) sed -E 's/^/__label__/; s/ ([0-9]+):[^ ]*/ f\1/g' "$src" >"$dst.partial" ;;
    esac
    mv "$dst.partial" "$dst"
}

data() {
    mkdir -p "$DATA" "$WORK"
    local gen=target/release/examples/gen_svm
    [ -s "$DATA/train.svm" ] || $gen --rows "$TRAIN_ROWS" --seed 1 --out "$DATA/train.svm"
    [ -s "$DATA/test.svm" ] || $gen --rows "$TEST_ROWS" --seed 2 --out "$DATA/test.svm"
    for s in train test; do
        convert "$DATA/$s.svm" "$DATA/$s.vw" vw
        convert "$DATA/$s.svm" "$DATA/$s.ft" ft
    done
}

# timed FILE CMD...: runs CMD under /usr/bin/time, appending "wall_s max_rss_kb" to FILE.
timed() {
    local out=$1
    shift
    /usr/bin/time -f '%e %M' -o "$out.one" "$@"
    cat "$out.one" >>"$out"
}

# Sum of the wall times and largest RSS (MB) of the steps recorded in FILE.
steps() { awk '{ w += $1; if ($2 > m) m = $2 } END { printf "%.3f\t%.1f", w, m / 1024 }' "$1"; }

score() {
    target/release/examples/peers_score --test "$DATA/test.svm" --pred "$1" --format "$2" |
        sed -E 's/.*logloss=([^ ]+) accuracy=([^ ]+) auc=([^ ]+).*/\1\t\2\t\3/'
}

VW=(python3 -m vowpalwabbit)

# One run of one setting: prints "wall_s rss_mb logloss accuracy auc" (tab-separated) on
# descriptor 3; the tools' own output goes to $WORK/log.
run_one() {
    local system=$1 setting=$2 t="$WORK/time"
    rm -f "$t" "$WORK/pred"
    case "$system/$setting" in
        vectorflow/*)
            local model passes mode opt
            read -r model passes mode opt <<<"$setting"
            # "stream": through the streaming reader (and the cache after pass 1); a
            # fourth word names the optimizer (AdaGrad otherwise).
            timed "$t" target/release/examples/bench --train "$DATA/train.svm" \
                --test "$DATA/test.svm" --model "$model" --passes "${passes%p}" \
                --threads "$THREADS" ${mode:+--$mode} ${opt:+--optimizer $opt} >"$WORK/vf.out"
            printf '%s\t%s\n' >&3 "$(steps "$t")" "$(grep '^RESULT' "$WORK/vf.out" |
                sed -E 's/.*test_logloss=([^ ]+) test_acc=([^ ]+) test_auc=([^ ]+).*/\1\t\2\t\3/')"
            return
            ;;
        vf/*)
            # The command line on VW's text and flags, with its own defaults (the rate
            # measured on the first rows): train, then predict as a separate process.
            local flags=()
            case $setting in
                "lr 1p") ;;
                "lr 3p") flags=(--passes 3 -c "$WORK/vf.cache") ;;
                "nn16 1p") flags=(--nn 16) ;;
                *) log "unknown setting vf/$setting"; return 1 ;;
            esac
            rm -f "$WORK/vf.cache"
            timed "$t" target/release/vf train -d "$DATA/train.vw" -b 20 --holdout_off \
                "${flags[@]}" -f "$WORK/vf.model" --quiet
            timed "$t" target/release/vf predict -i "$WORK/vf.model" -d "$DATA/test.vw" \
                -p "$WORK/pred" --quiet
            printf '%s\t%s\n' >&3 "$(steps "$t")" "$(score "$WORK/pred" prob)"
            return
            ;;
        "vw/lr 1p")
            timed "$t" "${VW[@]}" -d "$DATA/train.vw" --loss_function logistic -b 20 --holdout_off \
                -f "$WORK/vw.model" --quiet ;;
        "vw/lr 3p")
            timed "$t" "${VW[@]}" -d "$DATA/train.vw" --loss_function logistic -b 20 --holdout_off \
                --passes 3 -c -k --cache_file "$WORK/vw.cache" -f "$WORK/vw.model" --quiet ;;
        "vw/nn16 1p")
            timed "$t" "${VW[@]}" -d "$DATA/train.vw" --loss_function logistic -b 20 --holdout_off \
                --nn 16 -f "$WORK/vw.model" --quiet ;;
        "liblinear/lr -s 0")
            timed "$t" liblinear-train -s 0 -c 0.2 -B 1 -q "$DATA/train.svm" "$WORK/ll.model"
            timed "$t" liblinear-predict -b 1 "$DATA/test.svm" "$WORK/ll.model" "$WORK/pred" \
                >/dev/null
            printf '%s\t%s\n' >&3 "$(steps "$t")" "$(score "$WORK/pred" liblinear)"
            return
            ;;
        fasttext/*)
            local epochs=${setting##* }
            timed "$t" fasttext supervised -input "$DATA/train.ft" -output "$WORK/ft" -dim 16 \
                -epoch "${epochs%p}" -thread "$THREADS" -verbose 0
            timed "$t" sh -c "fasttext predict-prob '$WORK/ft.bin' '$DATA/test.ft' 2 >'$WORK/pred'"
            printf '%s\t%s\n' >&3 "$(steps "$t")" "$(score "$WORK/pred" fasttext)"
            return
            ;;
        *) log "unknown setting $system/$setting"; return 1 ;;
    esac
    # The Vowpal Wabbit settings share the test step.
    timed "$t" "${VW[@]}" -d "$DATA/test.vw" -t -i "$WORK/vw.model" -p "$WORK/pred" --link logistic \
        --quiet
    printf '%s\t%s\n' >&3 "$(steps "$t")" "$(score "$WORK/pred" prob)"
}

SETTINGS=(
    "vectorflow|lr 1p"
    "vectorflow|lr 3p"
    "vectorflow|mlp16 1p"
    "vectorflow|mlp16-small 1p"
    "vectorflow|lr 1p stream"
    "vectorflow|lr 3p stream"
    "vectorflow|mlp16 1p stream"
    "vectorflow|mlp16 1p stream rowadagrad"
    "vectorflow|mlp16-small 1p stream"
    "vf|lr 1p"
    "vf|lr 3p"
    "vf|nn16 1p"
    "vw|lr 1p"
    "vw|lr 3p"
    "vw|nn16 1p"
    "liblinear|lr -s 0"
    "fasttext|dim16 1p"
    "fasttext|dim16 3p"
)

main() {
    install
    build
    data
    printf 'system\tsetting\trun\twall_s\trss_mb\tlogloss\taccuracy\tauc\n' >"$TSV.partial"
    for run in $(seq 1 "$RUNS"); do
        # Interleaved: a noisy spell on the shared machine hits every system alike.
        for s in "${SETTINGS[@]}"; do
            local system=${s%%|*} setting=${s#*|}
            [[ -z $ONLY || "$system $setting" =~ $ONLY ]] || continue
            log "run $run: $system $setting"
            local result
            result=$(run_one "$system" "$setting" 3>&1 1>>"$WORK/log" 2>&1)
            printf '%s\t%s\t%s\t%s\n' "$system" "$setting" "$run" "$result" |
                tee -a "$TSV.partial" >&2
        done
    done
    # With ONLY, the settings it leaves out keep their rows from the previous results.
    local kept=""
    if [[ -n $ONLY && -s $TSV ]]; then
        awk -F'\t' -v re="$ONLY" 'NR > 1 && ($1 " " $2) !~ re' "$TSV" >>"$TSV.partial"
        kept=$(awk -F'\t' -v re="$ONLY" 'NR > 1 && ($1 " " $2) !~ re { print $1 }' "$TSV" |
            sort -u | paste -sd, - | sed 's/,/, /g')
    fi
    mv "$TSV.partial" "$TSV"
    {
        echo "# Side by side with peers (bench/peers.sh)"
        echo
        echo "$(date -u +%Y-%m-%d), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo |
            cut -d: -f2 | sed 's/^ //')), shared with other jobs (load average at the end:" \
            "$(cut -d' ' -f1-3 /proc/loadavg)): wall times are noisy. Medians of $RUNS" \
            "interleaved runs; $(wc -l <"$DATA/train.svm") training and" \
            "$(wc -l <"$DATA/test.svm") test rows from $DATA; $THREADS training thread(s)" \
            "where a tool has the option (Vowpal Wabbit parses on a second thread)."
        if [ -n "$kept" ]; then
            echo
            echo "Not rerun this time ($ONLY only): the rows of $kept are kept from an" \
                "earlier run on the same data and kind of machine."
        fi
        echo
        target/release/examples/peers_chart --tsv "$TSV" --svg bench/peers.svg
    } >bench/PEERS_RESULTS.md
    log "wrote $TSV, bench/peers.svg and bench/PEERS_RESULTS.md"
}

main "$@"
