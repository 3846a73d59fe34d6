#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Checks of `unroll bench` (run by CTest, tests/perf.cmake).

What lives here
---------------
Small, fast runs of the bench subcommand that can fail:
  * every model name runs and reports sane JSON (positive times, finite loss,
    phases that add up to at most the step);
  * the matmul FLOP count equals a hand count for a tiny rnn;
  * the same seed gives the same loss (the benchmark trains a reproducible model),
    also with --release-grads;
  * --recompute K|sqrt trains the same bits as the plain graph path (also with --release-grads),
    and a bad value exits 2 with its message;
  * --engine loop|primitive both train (losses agree to float32 rounding); a bad value exits 2;
  * the bench-only cells that were removed (lstm-fused, gru-lbr-fused) are unknown;
  * an unknown model exits 2 with the one-line message;
  * the OpenMP wait settings the JSON reports: with OMP_WAIT_POLICY unset the command re-executes itself
    with PASSIVE and a spin of 1000 (a GOMP_SPINCOUNT of the user's stays); one the user set is kept.
Usage: check_bench_cli.py <unroll binary>
"""
import json
import math
import os
import subprocess
import sys

UNROLL = sys.argv[1]
TINY = ["--input", "2", "--hidden", "3", "--seq", "4", "--batch", "5", "--out", "2",
        "--steps", "3", "--warmup", "1", "--threads", "1", "--json"]
failures = []


def bench(*args, env=None):
    out = subprocess.run([UNROLL, "bench", *args], capture_output=True, text=True, env=env)
    if out.returncode != 0:
        failures.append(f"{args}: exit {out.returncode}: {out.stderr.strip()}")
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def check(cond, what):
    if not cond:
        failures.append(what)


for model in ["rnn", "lstm", "gru", "gru-lbr", "cifg"]:
    for extra in (["--head", "last", "--loss", "mse"], ["--head", "all", "--loss", "xent", "--layers", "2"]):
        j = bench("--model", model, *TINY, *extra)
        if j is None:
            continue
        check(j["median_ms"] > 0 and j["min_ms"] <= j["median_ms"] <= j["max_ms"], f"{model} {extra}: times {j}")
        check(math.isfinite(j["final_loss"]), f"{model} {extra}: loss {j['final_loss']}")
        check(j["peak_rss_mib"] > 1 and j["gflops"] > 0 and j["seq_per_s"] > 0, f"{model} {extra}: {j}")
        check(j["forward_ms"] + j["backward_ms"] + j["update_ms"] <= j["max_ms"] * 1.0001,
              f"{model} {extra}: phases exceed the step: {j}")

# Hand count, rnn (G = 1), T=4, B=5, I=2, H=3, O=2, head on the last step:
# input projection 2*T*B*I*H * 2 (forward + weight grad; x needs none) = 480
# recurrent 2*T*B*H*H * 3 = 1080;  head 2*B*H*O * 3 = 180
j = bench("--model", "rnn", *TINY)
if j is not None:
    check(abs(j["matmul_gflop_per_step"] * 1e9 - 1740) < 1e-6, f"rnn FLOPs {j['matmul_gflop_per_step'] * 1e9} != 1740")

for model in ("lstm", "gru-lbr"):
    a = bench("--model", model, *TINY, "--seed", "3")
    b = bench("--model", model, *TINY, "--seed", "3")
    if a and b:
        check(a["final_loss"] == b["final_loss"], f"{model}: seed 3 gave losses {a['final_loss']!r} and {b['final_loss']!r}")

# --release-grads (intermediate gradient buffers reused during backward; views share their input's:
# Note [Gradient views]) trains the same bits; lstm with the head on every step takes the shared views.
for model, extra in (("gru", []), ("cifg", []), ("lstm", ["--head", "all"])):
    a = bench("--model", model, *TINY, "--seed", "4", *extra)
    b = bench("--model", model, *TINY, "--seed", "4", "--release-grads", *extra)
    if a and b:
        check(not a["release_grads"] and b["release_grads"], f"{model}: release_grads fields {a} {b}")
        check(a["final_loss"] == b["final_loss"],
              f"{model}: loss {a['final_loss']!r} without --release-grads, {b['final_loss']!r} with it")

# --recompute (Note [Recompute segments]): gradients equal the graph path's bit for bit, so training does.
for model, extra in (("lstm", ["--graph-path"]), ("gru", []), ("cifg", ["--release-grads"])):
    a = bench("--model", model, *TINY, "--seed", "5", *extra)
    for k in ("1", "3", "sqrt"):
        b = bench("--model", model, *TINY, "--seed", "5", *extra, "--recompute", k)
        if a and b:
            check(b["recompute"] == k and a["recompute"] == "0", f"{model}: recompute fields {a} {b}")
            check(a["final_loss"] == b["final_loss"],
                  f"{model}: loss {a['final_loss']!r} plain, {b['final_loss']!r} with --recompute {k}")
bad = subprocess.run([UNROLL, "bench", "--recompute", "-3"], capture_output=True, text=True)
check(bad.returncode == 2 and bad.stderr == "unroll: bench: --recompute must be a whole number >= 0 (0 = off) or "
      "sqrt, got '-3'\n", f"--recompute -3: exit {bad.returncode}, stderr {bad.stderr!r}")

# --engine: the fused path's float32 engine; both train the model (the losses agree to float32 rounding).
for model in ("lstm", "gru-lbr", "rnn"):
    a = bench("--model", model, *TINY, "--seed", "6")
    b = bench("--model", model, *TINY, "--seed", "6", "--engine", "primitive")
    if a and b:
        check(a["engine"] == "loop" and b["engine"] == "primitive", f"{model}: engine fields {a} {b}")
        check(abs(a["final_loss"] - b["final_loss"]) <= 1e-4 * (1 + abs(b["final_loss"])),
              f"{model}: loss {a['final_loss']!r} with the step loop, {b['final_loss']!r} with the primitive")
bad = subprocess.run([UNROLL, "bench", "--engine", "fast"], capture_output=True, text=True)
check(bad.returncode == 2 and bad.stderr == "unroll: bench: --engine must be loop or primitive, got 'fast'\n",
      f"--engine fast: exit {bad.returncode}, stderr {bad.stderr!r}")

for gone in ("lstm-fused", "gru-lbr-fused"):
    out = subprocess.run([UNROLL, "bench", "--model", gone], capture_output=True, text=True)
    check(out.returncode == 2, f"{gone}: exit {out.returncode} (the bench-only cell was removed)")

bad = subprocess.run([UNROLL, "bench", "--model", "nope"], capture_output=True, text=True)
check(bad.returncode == 2, f"unknown model: exit {bad.returncode}")
check(bad.stderr.startswith("unroll: bench: unknown model 'nope' (hint: known cells are "),
      f"unknown model: stderr {bad.stderr!r}")

# Note [OpenMP wait policy] (apps/main.cpp): what libgomp runs with, as the bench reports it.
base_env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
for extra_env, want in (({}, ("PASSIVE", "1000")),
                        ({"GOMP_SPINCOUNT": "5"}, ("PASSIVE", "5")),
                        ({"OMP_WAIT_POLICY": "ACTIVE"}, ("ACTIVE", None)),
                        ({"OMP_WAIT_POLICY": "PASSIVE"}, ("PASSIVE", None))):
    j = bench("--model", "rnn", *TINY, env={**base_env, **extra_env})
    if j is not None:
        got = (j.get("omp_wait_policy"), j.get("gomp_spincount"))
        check(got == want, f"OpenMP wait settings with {extra_env or 'nothing'} set: got {got}, expected {want}")

for f in failures:
    print("FAILED:", f)
print(f"check_bench_cli: {len(failures)} failure(s)")
sys.exit(1 if failures else 0)
