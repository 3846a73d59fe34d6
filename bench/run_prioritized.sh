#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# run_prioritized.sh: run a benchmark command ahead of other work on this machine.
#
# What lives here: a wrapper for bench/torch_bench.py and dnnl_bench.  The
# kernel groups processes into "autogroups" (one per session) and shares the
# CPUs fairly between them, so `nice` alone cannot beat a parallel build in
# another session, and OpenMP threads spinning at barriers against it make
# steps 10-70x slower.  This starts CMD in a new session and gives that
# session's autogroup nice -20 (needs root; falls back to plain execution with
# a warning).  Numbers taken while other work runs are still somewhat noisier
# than on an idle machine.
#
# Usage: bench/run_prioritized.sh CMD [ARGS...]
#   e.g. LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \
#        bench/run_prioritized.sh /usr/bin/python3 bench/torch_bench.py --json
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 CMD [ARGS...]" >&2; exit 2; }
exec setsid --wait bash -c '
    if ! echo -20 2>/dev/null > /proc/self/autogroup; then
        echo "run_prioritized.sh: cannot raise autogroup priority; running as is" >&2
    fi
    exec "$@"' run_prioritized "$@"
