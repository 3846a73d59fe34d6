#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What lives here: the README's test command. Installs what is missing, builds (Release, build/), and
# runs the whole test suite with CTest. Extra arguments go to ctest (e.g. -R checkpoint).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j2
ctest --test-dir build -j2 --output-on-failure "$@"
