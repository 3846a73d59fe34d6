#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What lives here: the figures and table of docs/experiments.md, made again from the built `unroll`
# command (build/apps/unroll): the gradient flow of rnn_tanh, lstm and gru on 100-step adding-problem
# sequences at initialisation (docs/gradflow_init.png) and after training on that task
# (docs/gradflow_trained.png), and the long-term memory experiment at its default budget (docs/memory.png;
# its table memory.md is printed, to paste into docs/experiments.md). Runs write to runs/; the memory
# experiment takes 5 to 10 minutes on 2 cores. `scripts/experiments.sh gradflow` makes only the first two.
set -euo pipefail
cd "$(dirname "$0")/.."
UNROLL=build/apps/unroll
[ -x "$UNROLL" ] || { echo "build unroll first (cmake --build build --target unroll_cmd)" >&2; exit 2; }
"$UNROLL" gradflow --cell rnn_tanh,lstm,gru --steps 100 --batch 8 --out runs/gradflow_init --overwrite
cp runs/gradflow_init/gradflow.png docs/gradflow_init.png
nice -n 5 "$UNROLL" gradflow --cell rnn_tanh,lstm,gru --steps 100 --batch 8 --train 3000 --out runs/gradflow_trained --overwrite
cp runs/gradflow_trained/gradflow.png docs/gradflow_trained.png
[ "${1:-all}" = gradflow ] && exit 0
nice -n 5 "$UNROLL" experiment memory --out runs/memory --overwrite
cp runs/memory/memory.png docs/memory.png
cat runs/memory/memory.md
