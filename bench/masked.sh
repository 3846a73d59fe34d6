#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What lives here: the variable-length benchmark (issue 20, part 4): many-to-one classification over one
# batch of variable-length sequences -- B 64, T 100, lengths uniform in [50, 100] (seeded), I 8, 10
# classes, cross-entropy on each sequence's own final state -- timing forward + backward per batch
# (`unroll bench` phase medians) on the graph path (--graph-path) and on the fused step loop with masks
# (Note [Masked step loop]), and the same batch at full length on the fused path for reference. Rounds
# are interleaved so drift of a shared machine hits every side; the table gives medians over rounds (and
# the ratio of the minima, the least disturbed runs, when the machine is busy).
#   bench/masked.sh [--rounds N] [--steps N] [--threads K] [--build-dir DIR]     (build unroll_cmd first)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=5 steps=10 threads=2 build="${UNROLL_BUILD_DIR:-build}"
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --steps) steps="$2"; shift 2 ;;
    --threads) threads="$2"; shift 2 ;;
    --build-dir) build="$2"; shift 2 ;;
    *) echo "masked.sh: unknown argument '$1' (hint: --rounds N --steps N --threads K --build-dir DIR)" >&2; exit 2 ;;
  esac
done
bin="$build/apps/unroll"
[ -x "$bin" ] || { echo "masked.sh: $bin not found (hint: cmake --build $build --target unroll_cmd)" >&2; exit 2; }
shape=(--input 8 --seq 100 --batch 64 --head last --loss xent --out 10 --steps "$steps" --warmup 3 --threads "$threads" --json)
results=$(mktemp)
trap 'rm -f "$results"' EXIT
for ((r = 1; r <= rounds; r++)); do
  for model in lstm gru_lbr; do
    for hidden in 64 128; do
      for side in "graph|--min-length 50 --graph-path" "fused|--min-length 50" "full|"; do
        name="${side%%|*}" flags="${side#*|}"
        # shellcheck disable=SC2086
        json=$("$bin" bench --model "$model" --hidden "$hidden" "${shape[@]}" $flags)
        echo "$model $hidden $name $json" >> "$results"
      done
    done
  done
done
/usr/bin/python3 - "$results" "$rounds" "$threads" <<'PY'
import json, os, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    model, hidden, side, j = line.split(" ", 3)
    j = json.loads(j)
    rows.setdefault((model, int(hidden)), {}).setdefault(side, []).append(j["forward_ms"] + j["backward_ms"])
print(f"{sys.argv[2]} rounds, {sys.argv[3]} threads, load average (1 min) {os.getloadavg()[0]:.2f}; "
      "forward + backward ms per batch, median over rounds (min-max)")
print("| cell | H | graph path, masked | fused, masked | speed-up (medians) | speed-up (minima) | fused, full length |")
print("|---|---|---|---|---|---|---|")
for (model, hidden), s in rows.items():
    m = {k: statistics.median(v) for k, v in s.items()}
    span = lambda k: f"{m[k]:.1f} ({min(s[k]):.1f}-{max(s[k]):.1f})"
    print(f"| {model} | {hidden} | {span('graph')} | {span('fused')} | {m['graph'] / m['fused']:.2f}x | "
          f"{min(s['graph']) / min(s['fused']):.2f}x | {span('full')} |")
PY
