#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What lives here: the README's first command. Installs what is missing, builds (Release, build/), and
# runs the main job: `unroll train` with its defaults (LSTM 128 cells, history 16, horizon 1, Adam, on the
# built-in `magnet` data), writing runs/latest/ (replacing the previous main job's files there: --overwrite).
# Extra arguments go to `unroll train` instead.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2
if [ $# -eq 0 ]; then
  ./build/apps/unroll train --overwrite
else
  ./build/apps/unroll train "$@"
fi
