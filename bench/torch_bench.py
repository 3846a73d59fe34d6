#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""PyTorch baseline benchmarks for unroll.

What lives here
---------------
The PyTorch side of the unroll-vs-peers benchmarks: full training steps
(forward, head, loss, backward, Adam step, zero_grad) of small recurrent
networks, timed with time.perf_counter and reported as median / p10 / p90
milliseconds per step.

  * configs  (table CONFIGS):  a "LHC", b "medium", c "char"
  * models:  lstm, gru, rnn (tanh) as nn.LSTM/nn.GRU/nn.RNN ("module") and as a
             naive hand-written per-time-step Python loop ("loop"); cifg
             (coupled input-forget gate LSTM) exists only as loops: "loop",
             and "proj", the loop a careful user writes and unroll's graph
             path runs: each layer's input projection x w_ih^T + b_ih for all
             time steps in one product, then the loop over steps.
  * --memory:    peak-RSS growth per time step (config b, T=50 vs T=500, fresh
                 subprocesses) and step-time scaling T=500 vs T=5000.
  * --tiny-ops:  per-op overhead of autograd on a chain of tiny ops.
  * --verify:    checks that the loop cells reproduce nn.LSTM/GRU/RNN exactly.

This file: the command line, the run information (BLAS, load, env) and the
printing; the configs, cells and models are in torch_cells.py, the timing of
training steps, --memory and --tiny-ops in torch_timing.py (siblings, imported
from this script's directory).

Timing noise: medians hide short bursts of interference, not long ones, so
compare runs made back to back and look at "min_ms" and the "blas" matmul
GFLOP/s.  Any other busy process on the CPUs makes OpenMP threads spin against
it: the script records the 1-min load average before/after and warns when it
exceeds threads + 1.  Benchmark on an otherwise idle machine, or at least
through bench/run_prioritized.sh (gives this process's scheduler autogroup
nice -20; recorded as "autogroup" in the JSON).

Run (the LD_LIBRARY_PATH makes sure OpenBLAS, not the reference BLAS, backs
torch's libblas.so.3):

  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \
      bench/run_prioritized.sh /usr/bin/python3 bench/torch_bench.py --json

BLAS: Debian's torch links libblas.so.3 / liblapack.so.3, whichever library
update-alternatives points at; the reference BLAS is over an order of magnitude
slower than OpenBLAS.  The LD_LIBRARY_PATH above pins OpenBLAS; the script
reports the libblas actually mapped plus a 512^3 matmul timing under "blas" and
warns on stderr when it looks like the reference BLAS.  OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE (if set) are recorded in the JSON "env".
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import statistics
import sys
import time

import torch

# Siblings in this directory (on sys.path as the running script's own directory).
from torch_cells import BOTH_KINDS, CONFIGS, KINDS, LOOP_CELLS, LOOP_ONLY_MODELS, MODELS, verify_loops
from torch_timing import (WARMUP_STEPS, child_measure, memory_results, time_training,
                          tiny_ops_results)

MATMUL_CHECK_N = 512
REFERENCE_BLAS_GFLOPS_THRESHOLD = 20.0  # best-of; OpenBLAS ~200, reference ~6


# --------------------------------------------------------------------------
# BLAS detection
# --------------------------------------------------------------------------

def mapped_blas_libraries():
    """Real paths of BLAS-looking shared objects mapped into this process."""
    libs = set()
    with open("/proc/self/maps") as maps:
        for line in maps:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            name = os.path.basename(path)
            if "blas" in name or "lapack" in name:
                libs.add(os.path.realpath(path))
    return sorted(libs)


def blas_info():
    """Which BLAS backs torch: mapped library + a 512^3 matmul timing."""
    a = torch.randn(MATMUL_CHECK_N, MATMUL_CHECK_N)
    b = torch.randn(MATMUL_CHECK_N, MATMUL_CHECK_N)
    for _ in range(3):
        a @ b
    samples = []
    for _ in range(20):
        t0 = time.perf_counter()
        a @ b
        samples.append(time.perf_counter() - t0)
    best = min(samples)  # best-of: robust against bursts of machine noise
    gflops = 2 * MATMUL_CHECK_N ** 3 / best / 1e9
    libs = mapped_blas_libraries()
    if any("openblas" in lib for lib in libs):
        name = "openblas"
    elif any("/blas/" in lib for lib in libs):
        name = "reference"
    else:
        name = "unknown"
    if name != "openblas" or gflops < REFERENCE_BLAS_GFLOPS_THRESHOLD:
        print(f"WARNING: BLAS is {name}, best {MATMUL_CHECK_N}^3 matmul {gflops:.1f} "
              "GFLOP/s. Expected OpenBLAS at ~200 GFLOP/s: run with LD_LIBRARY_PATH="
              "/usr/lib/x86_64-linux-gnu/openblas-openmp (or the machine is busy)",
              file=sys.stderr)
    return {"name": name, "libraries": libs,
            f"matmul_{MATMUL_CHECK_N}_best_ms": best * 1e3,
            f"matmul_{MATMUL_CHECK_N}_median_ms": statistics.median(samples) * 1e3,
            "matmul_gflops_best": gflops}


def check_machine_quiet(threads: int, when: str):
    """Warn when other processes compete for the CPUs (results are then junk:
    OpenMP spin-waiting under oversubscription slows steps down 10-70x)."""
    load1 = os.getloadavg()[0]
    if load1 > threads + 1:
        print(f"WARNING: 1-min load average {load1:.1f} {when} the run with "
              f"{threads} threads on {os.cpu_count()} CPUs: other processes are "
              "competing, timings are not trustworthy", file=sys.stderr)
    return load1


def autogroup():
    """Scheduler autogroup and its nice value (see bench/run_prioritized.sh)."""
    try:
        with open("/proc/self/autogroup") as f:
            return f.read().strip()
    except OSError:
        return None


def run_info(args):
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "warmup_steps": args.warmup,
        "timed_steps": args.steps,
        "dtype": "float32",
        "optimizer": "Adam(lr=1e-3)",
        "blas": blas_info(),
        "loadavg_1min_start": check_machine_quiet(torch.get_num_threads(), "before"),
        "autogroup": autogroup(),
        "env": {k: os.environ.get(k) for k in
                ("LD_LIBRARY_PATH", "OMP_NUM_THREADS", "OPENBLAS_CORETYPE",
                 "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS")},
        "configs": {k: dataclasses.asdict(v) for k, v in CONFIGS.items()},
    }


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------

def expand(choice: str, all_values):
    return list(all_values) if choice == "all" else [choice]


def training_results(args):
    results = []
    kinds = BOTH_KINDS if args.kind == "both" else [args.kind]
    for cfg_name in expand(args.config, CONFIGS):
        for model in expand(args.model, MODELS):
            for kind in kinds:
                if kind == "module" and model in LOOP_ONLY_MODELS:
                    continue
                if kind == "proj" and LOOP_CELLS[model].recurrence is None:
                    continue
                stats = time_training(CONFIGS[cfg_name], model, kind, args.steps,
                                      warmup=args.warmup)
                row = {"config": cfg_name, "model": model, "kind": kind, **stats}
                results.append(row)
                if not args.json:
                    print(f"{cfg_name:<6}{CONFIGS[cfg_name].label:<8}{model:<6}{kind:<8}"
                          f"{row['median_ms']:>10.3f}{row['p10_ms']:>10.3f}"
                          f"{row['p90_ms']:>10.3f}{row['steps']:>7}", flush=True)
    return results


def print_header(info):
    blas = info["blas"]
    print(f"torch {info['torch']}, {info['threads']} threads, BLAS {blas['name']} "
          f"({blas['matmul_gflops_best']:.0f} GFLOP/s on {MATMUL_CHECK_N}^3 matmul), "
          f"load {info['loadavg_1min_start']:.2f}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="all", choices=[*CONFIGS, "all"])
    p.add_argument("--model", default="all", choices=[*MODELS, "all"])
    p.add_argument("--kind", default=None, choices=[*KINDS, "both"],
                   help="both = module and loop; default: both (training), module (--memory); "
                        "proj: cifg only")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=30, help="timed steps (after --warmup)")
    p.add_argument("--warmup", type=int, default=WARMUP_STEPS, help="untimed steps first")
    p.add_argument("--json", action="store_true")
    p.add_argument("--memory", action="store_true",
                   help="config b lstm: RSS growth per time step and T=500 vs T=5000 time")
    p.add_argument("--tiny-ops", type=int, metavar="N",
                   help="time a chain of N tiny autograd ops on a [4] tensor")
    p.add_argument("--verify", action="store_true",
                   help="check the loop cells against nn.LSTM/GRU/RNN and exit")
    p.add_argument("--_child", help=argparse.SUPPRESS)
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    if args._child:
        kind, seq_len, steps, warmup = args._child.split(":")
        child_measure(kind, int(seq_len), int(steps), int(warmup))
        return

    if args.verify:
        errors = verify_loops()
        for model, err in errors.items():
            print(f"{model}: loop vs {'loop' if model.endswith('proj') else 'module'} "
                  f"max abs error {err:.2e}")
        sys.exit(0 if max(errors.values()) < 1e-10 else 1)

    info = run_info(args)
    if not args.json:
        print_header(info)

    if args.tiny_ops:
        results = [tiny_ops_results(args.tiny_ops)]
        if not args.json:
            r = results[0]
            print(f"tiny ops: {r['ops']} ops, {r['median_us_per_op_fwd_bwd']:.2f} us/op "
                  f"(fwd+bwd), {r['median_us_per_op_fwd']:.2f} us/op (fwd only)")
    elif args.memory:
        kinds = BOTH_KINDS if args.kind == "both" else [args.kind or "module"]
        results = memory_results(args, kinds)
        if not args.json:
            for r in results:
                print(json.dumps(r, indent=2))
    else:
        args.kind = args.kind or "both"
        if not args.json:
            print(f"{'cfg':<14}{'model':<6}{'kind':<8}{'median_ms':>10}{'p10_ms':>10}"
                  f"{'p90_ms':>10}{'steps':>7}")
        results = training_results(args)

    info["loadavg_1min_end"] = check_machine_quiet(args.threads, "after")
    if args.json:
        print(json.dumps({"config": info, "results": results}, indent=2))


if __name__ == "__main__":
    main()

