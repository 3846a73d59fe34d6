#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# compare.sh: unroll vs PyTorch vs raw oneDNN on the recurrent training benchmark of issue 6.
#
# What lives here: the one command that reproduces docs/performance.md. For configs a, b, c it runs
#   * unroll:  `unroll bench` for lstm, gru-lbr, rnn (fused fast path, step-loop engine), lstm on oneDNN's
#              RNN primitive (--engine primitive), the example custom cell cifg (on its cell program), cifg
#              and lstm on the graph path (--graph-path) (full train step),
#   * PyTorch: bench/torch_bench.py, nn.LSTM/nn.GRU/nn.RNN modules and the same cells as Python loops
#              (incl. cifg), with OpenBLAS (LD_LIBRARY_PATH below) and torch.set_num_threads(THREADS);
#              cifg also as the loop that projects all steps' inputs in one product (--kind proj), as
#              unroll's graph path does,
#   * oneDNN:  bench/dnnl_bench, the fused lstm/gru(lbr)/rnn primitives, forward + backward only,
# interleaved in rounds (every program once per round, configs inside a round) so that drift of the
# machine hits all sides alike; each cell of the table is the median over rounds of per-run medians.
# Then the memory targets (config b LSTM): peak RSS growth per time step (T=50 vs T=500) and step time
# T=5000 vs T=500, each measurement in a fresh process, for unroll and PyTorch (torch_bench.py --memory).
# The report adds each model's step time over its matmul floor (GFLOP/step at dnnl_bench's GEMM peak) and
# the cifg cell's ratio over the LSTM's (issue 21). The report (Markdown) goes to stdout and replaces the generated section of docs/performance.md.
#
# Usage: bench/compare.sh [--quick] [--rounds N] [--build-dir DIR] [--no-memory] [--no-write]
#   --quick      1 round, fewer steps, memory targets still measured (about 5 min instead of ~14)
#   --build-dir  where `unroll` and `dnnl_bench` are built (default: build-bench; configured in Release if
#                new, always brought up to date first; env UNROLL_BUILD_DIR works too)
# Every program runs through bench/run_prioritized.sh (scheduler autogroup nice -20 when root).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${UNROLL_BUILD_DIR:-$ROOT/build-bench}
ROUNDS=3
QUICK=0
MEMORY=1
WRITE=1
THREADS=2
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; ROUNDS=1 ;;
    --rounds) ROUNDS=$2; shift ;;
    --build-dir) BUILD=$2; shift ;;
    --no-memory) MEMORY=0 ;;
    --no-write) WRITE=0 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "compare.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$BUILD" in /*) ;; *) BUILD=$PWD/$BUILD ;; esac

UNROLL=$BUILD/apps/unroll
DNNL=$BUILD/bench/dnnl_bench
# Always (re)build: a stale binary from an older checkout would silently measure old code.
echo "compare.sh: building unroll and dnnl_bench in $BUILD (Release)" >&2
[ -f "$BUILD/CMakeCache.txt" ] || cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target unroll_cmd dnnl_bench >/dev/null
PRIO=$ROOT/bench/run_prioritized.sh
# One OpenMP wait policy for every side: ACTIVE (spin). For PyTorch and oneDNN it measured the same as
# libgomp's default within noise; unroll's main() would otherwise pick PASSIVE (Note [OpenMP wait policy]
# in apps/main.cpp), which costs it 25-40% per step here. Override by exporting OMP_WAIT_POLICY.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-ACTIVE}
PY=(env LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 "$ROOT/bench/torch_bench.py")
OUT=$(mktemp -d /tmp/unroll-compare.XXXXXX)
echo "compare.sh: raw results in $OUT" >&2

# Steps per config (timed, warm-up): a step of config c takes ~1 s in PyTorch.
if [ "$QUICK" = 1 ]; then
  declare -A STEPS=([a]=10 [b]=5 [c]=2) WARM=([a]=3 [b]=2 [c]=1)
else
  declare -A STEPS=([a]=20 [b]=10 [c]=4) WARM=([a]=5 [b]=2 [c]=1)
fi
# unroll bench flags per config: the same shapes as torch_bench.py CONFIGS and dnnl_bench kConfigs.
declare -A SHAPE=(
  [a]="--input 1 --hidden 128 --seq 16 --batch 32 --head last --loss mse --out 1"
  [b]="--input 64 --hidden 256 --seq 50 --batch 32 --head all --loss mse --out 64"
  [c]="--input 128 --hidden 512 --seq 100 --batch 16 --layers 2 --head all --loss xent --out 128"
)
# lstm-graph: the stock LSTM with --graph-path (recorded graph ops, what any custom cell runs on);
# lstm-primitive: the fused path on oneDNN's LSTM primitive instead of the step loop.
# cifg: the example custom cell on its cell program (Note [Program step loop]); cifg-graph: its step() on the graph path.
UNROLL_MODELS=(lstm gru-lbr rnn cifg cifg-graph lstm-graph lstm-primitive)
TORCH_RUNS=("lstm module" "gru module" "rnn module" "lstm loop" "gru loop" "rnn loop" "cifg loop" "cifg proj")
DNNL_CELLS=(lstm gru rnn)

run() {  # run FILE CMD...: CMD's stdout to FILE; a failure is reported and leaves no file
  local file=$1; shift
  if ! "$PRIO" "$@" >"$file.tmp" 2>>"$OUT/stderr.log"; then
    echo "compare.sh: FAILED: $*" >&2; rm -f "$file.tmp"; return 0
  fi
  mv "$file.tmp" "$file"
}

for ((r = 1; r <= ROUNDS; r++)); do
  for cfg in a b c; do
    echo "compare.sh: round $r/$ROUNDS config $cfg ($(cut -d' ' -f1 /proc/loadavg) load)" >&2
    cut -d' ' -f1 /proc/loadavg >>"$OUT/load.log"
    for m in "${UNROLL_MODELS[@]}"; do
      # shellcheck disable=SC2086
      model_flags=(--model "$m")
      [ "$m" = lstm-graph ] && model_flags=(--model lstm --graph-path)
      [ "$m" = cifg-graph ] && model_flags=(--model cifg --graph-path)
      [ "$m" = lstm-primitive ] && model_flags=(--model lstm --engine primitive)
      run "$OUT/r${r}_${cfg}_unroll_${m}.json" "$UNROLL" bench "${model_flags[@]}" ${SHAPE[$cfg]} \
        --steps "${STEPS[$cfg]}" --warmup "${WARM[$cfg]}" --threads $THREADS --json
    done
    for mk in "${TORCH_RUNS[@]}"; do
      set -- $mk
      run "$OUT/r${r}_${cfg}_torch_$1_$2.json" "${PY[@]}" --config "$cfg" --model "$1" --kind "$2" \
        --threads $THREADS --steps "${STEPS[$cfg]}" --warmup "${WARM[$cfg]}" --json
    done
    for c in "${DNNL_CELLS[@]}"; do
      run "$OUT/r${r}_${cfg}_dnnl_${c}.json" env OMP_NUM_THREADS=$THREADS "$DNNL" --config "$cfg" --cell "$c" \
        --reps "${STEPS[$cfg]}" --json
    done
  done
done

if [ "$MEMORY" = 1 ]; then
  echo "compare.sh: memory and scaling (config b LSTM, fresh processes)" >&2
  # Variants: the default (fused) path; with released gradients; on oneDNN's primitive; the graph path; recomputation (Note [Recompute segments]), whose
  # time is compared with the graph path it recomputes (issue 6: at most 1.5x). T=5000 only for the
  # default path (the graph path would hold about 7 GB; each variant's step there takes half a minute).
  # _release: what a training loop runs (`unroll train` does): intermediate gradients released, views
  # sharing their input's (Note [Gradient views] in graph/grad_memory.h).
  for variant in "|" "_release|--release-grads" "_primitive|--engine primitive" "_graph|--graph-path" \
                 "_recompute|--recompute sqrt"; do
    suffix=${variant%%|*}
    flags=${variant#*|}
    for T in 50 500; do
      run "$OUT/mem_unroll${suffix}_T$T.json" "$UNROLL" bench --model lstm ${SHAPE[b]/--seq 50/--seq $T} $flags \
        --steps 2 --warmup 1 --threads $THREADS --json
    done
    for T in 500 5000; do
      [ -n "$suffix" ] && [ "$T" = 5000 ] && continue
      run "$OUT/time_unroll${suffix}_T$T.json" "$UNROLL" bench --model lstm ${SHAPE[b]/--seq 50/--seq $T} $flags \
        --steps 3 --warmup 1 --threads $THREADS --json
    done
  done
  run "$OUT/mem_torch.json" "${PY[@]}" --memory --kind module --threads $THREADS --json
fi

CMDLINE="bench/compare.sh --rounds $ROUNDS"
[ "$QUICK" = 1 ] && CMDLINE="bench/compare.sh --quick"
WRITE_ARGS=()
[ "$WRITE" = 1 ] && WRITE_ARGS=(--write "$ROOT/docs/performance.md")
/usr/bin/python3 "$ROOT/bench/compare_report.py" "$OUT" --rounds "$ROUNDS" --threads $THREADS --wait-policy "$OMP_WAIT_POLICY" \
  --command "$CMDLINE" --unroll "${UNROLL#"$ROOT"/}" --dnnl "${DNNL#"$ROOT"/}" "${WRITE_ARGS[@]}"
