#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What lives here: the figures and table of docs/experiments.md, made again from the built `unroll`
# command (build/apps/unroll): the gradient flow of rnn_tanh, lstm and gru at initialisation
# (docs/gradflow.png) and the long-term memory experiment at its default budget (docs/memory.png; its
# table memory.md is printed, to paste into docs/experiments.md). Runs write to runs/; the memory
# experiment takes about 10 minutes on 2 cores. `scripts/experiments.sh gradflow` makes only the first.
set -euo pipefail
cd "$(dirname "$0")/.."
UNROLL=build/apps/unroll
[ -x "$UNROLL" ] || { echo "build unroll first (cmake --build build --target unroll_cmd)" >&2; exit 2; }
"$UNROLL" gradflow --cell rnn_tanh,lstm,gru --steps 200 --hidden 32 --batch 8 --seed 1 --out runs/gradflow --overwrite
cp runs/gradflow/gradflow.png docs/gradflow.png
[ "${1:-all}" = gradflow ] && exit 0
nice -n 5 "$UNROLL" experiment memory --out runs/memory --overwrite
cp runs/memory/memory.png docs/memory.png
cat runs/memory/memory.md
