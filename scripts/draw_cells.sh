#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What lives here: redraws the cell drawings of docs/cells.md (docs/cells/*.svg) with `unroll graph`: one
# time step of the built-in LSTM and GRU (both forms) and of the CIFG cell file, forward, and the LSTM with
# its gradients. Needs a built command (default build/apps/unroll) and Graphviz's dot.
#   Usage: scripts/draw_cells.sh [path/to/unroll]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
unroll="${1:-$root/build/apps/unroll}"
out="$root/docs/cells"
mkdir -p "$out"
"$unroll" graph --cell lstm --steps 1 --out "$out/lstm_step.svg"
"$unroll" graph --cell lstm --steps 1 --backward --out "$out/lstm_step_backward.svg"
"$unroll" graph --cell gru --steps 1 --out "$out/gru_step.svg"
"$unroll" graph --cell gru_lbr --steps 1 --out "$out/gru_lbr_step.svg"
"$unroll" graph --cell-file "$root/cells/cifg.cell" --steps 2 --out "$out/cifg_two_steps.svg"
