#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Groups a `perf report` of `unroll bench` into where-the-time-goes categories.

What lives here
---------------
Reads `perf report --no-children --sort dso,sym -g none --stdio` text on stdin
and prints the share of samples per category: matmul (oneDNN JIT kernels and
libdnnl), OpenMP runtime (libgomp: fork/join and the waiting of the second
thread), pointwise math, copies (slice/concat/reshape), zero-fill and
allocation, optimizer, kernel, other. Used for docs/performance.md:

  OMP_WAIT_POLICY=ACTIVE perf record -e cpu-clock -F 4000 -o p.data \\
      build/apps/unroll bench --model lstm ... --threads 2
  perf report -i p.data --no-children --sort dso,sym -g none --stdio | bench/perf_categories.py
"""
import re
import sys

RULES = [
    ("matmul (oneDNN)", lambda d, s: d.startswith("[JIT]") or "libdnnl" in d),
    ("OpenMP runtime / waiting", lambda d, s: "libgomp" in d),
    ("optimizer (Adam, grad norm)", lambda d, s: "Optimizer" in s or "clip_grad_norm" in s),
    ("zero-fill / alloc", lambda d, s: "memset" in s or "Tensor::fill" in s or "grad_buffer" in s
        or "Arena" in s or "alloc" in s or "malloc" in s or "free" in s or "clear_page" in s),
    ("copies (slice/concat/reshape)", lambda d, s: re.search(r"slice|concat|reshape|copy_block|memcpy|memmove", s)),
    ("pointwise math (fwd+bwd)", lambda d, s: re.search(r"unary_|binary_|lstm_|gru_|Fn\b|sigmoid|tanh|affine|mse|softmax|cross_entropy|sum|mean|linear_backward", s)),
    ("kernel", lambda d, s: d.startswith("[kernel")),
]

totals = {}
for line in sys.stdin:
    m = re.match(r"\s*([\d.]+)%\s+(\S+(?: tid \d+)?)\s+\[.\]\s+(.*)$", line.rstrip())
    if not m:
        continue
    pct, dso, sym = float(m.group(1)), m.group(2), m.group(3).strip()
    cat = next((name for name, rule in RULES if rule(dso, sym)), "other (record, dispatch, ...)")
    totals[cat] = totals.get(cat, 0.0) + pct
for cat, pct in sorted(totals.items(), key=lambda kv: -kv[1]):
    print(f"| {cat} | {pct:.1f}% |")
