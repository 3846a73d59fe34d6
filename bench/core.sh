#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# What lives here: the core engine benchmark of issue 2, in one run: unroll's per-op overhead and matmul
# GFLOP/s next to raw oneDNN (bench/core_bench), and the same tiny-op chain in PyTorch
# (bench/torch_bench.py --tiny-ops), printed as medians and ratios.
#   bench/core.sh [build dir (default build)]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
cmake --build "$build" -j2 --target core_bench >/dev/null
export LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp
ours=$("$build/bench/core_bench" --json)
theirs=$(/usr/bin/python3 bench/torch_bench.py --tiny-ops 1000 --json)
/usr/bin/python3 - "$ours" "$theirs" <<'PY'
import json, sys, os
ours, theirs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
u = ours["tiny_ops"]["us_per_op"]
t = theirs["results"][0]["median_us_per_op_fwd_bwd"]
print(f"load average (1 min): {os.getloadavg()[0]:.2f}")
print("| measure | unroll | reference | ratio |")
print("|---|---|---|---|")
print(f"| tiny-op chain, forward + backward per op (us) | {u:.3f} | PyTorch {t:.2f} | PyTorch / unroll = {t / u:.0f}x |")
for m in ours["matmul"]:
    print(f"| float32 matmul {m['shape']} (GFLOP/s) | {m['framework_gflops']:.1f} | raw oneDNN {m['raw_onednn_gflops']:.1f} | "
          f"{100 * m['framework_over_raw']:.1f}% of raw |")
PY
