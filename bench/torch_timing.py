# SPDX-License-Identifier: Apache-2.0
"""Timing for torch_bench.py: full training steps, --memory and --tiny-ops.

A training step is forward, head, loss, backward, Adam step and zero_grad, timed
with time.perf_counter after untimed warm-up steps.  --memory measures each
point in a fresh subprocess (torch_bench.py --_child) so peak RSS is its own.
"""

from __future__ import annotations

import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

from torch_cells import CONFIGS, Config, RecurrentModel

WARMUP_STEPS = 5


# --------------------------------------------------------------------------
# Training-step timing
# --------------------------------------------------------------------------

def make_batch(cfg: Config, seq_len: int):
    x = torch.randn(seq_len, cfg.batch, cfg.input_size)
    out_shape = ((seq_len, cfg.batch) if cfg.head_every_step else (cfg.batch,))
    if cfg.loss == "ce":
        target = torch.randint(0, cfg.head_out, out_shape)
    else:
        target = torch.randn(*out_shape, cfg.head_out)
    return x, target


def loss_fn(cfg: Config, pred, target):
    if cfg.loss == "ce":
        return F.cross_entropy(pred.reshape(-1, cfg.head_out), target.reshape(-1))
    return F.mse_loss(pred, target)


def percentile(sorted_values, q):
    """Linear-interpolated percentile, q in [0, 100]."""
    pos = (len(sorted_values) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def summarize_ms(samples_s):
    ms = sorted(s * 1e3 for s in samples_s)
    return {"median_ms": statistics.median(ms), "p10_ms": percentile(ms, 10),
            "p90_ms": percentile(ms, 90), "min_ms": ms[0], "steps": len(ms)}


def time_training(cfg: Config, model: str, kind: str, steps: int,
                  warmup: int = WARMUP_STEPS, seq_len: int | None = None):
    torch.manual_seed(0)
    seq_len = seq_len or cfg.seq_len
    net = RecurrentModel(cfg, model, kind)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    x, target = make_batch(cfg, seq_len)

    def step():
        opt.zero_grad()
        loss = loss_fn(cfg, net(x), target)
        loss.backward()
        opt.step()
        return loss

    for _ in range(warmup):
        step()
    samples = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        samples.append(time.perf_counter() - t0)
    return summarize_ms(samples)


# --------------------------------------------------------------------------
# --memory mode: each measurement runs in a fresh subprocess
# --------------------------------------------------------------------------

MEMORY_CONFIG = "b"
MEMORY_MODEL = "lstm"
MEMORY_SEQ_SHORT, MEMORY_SEQ_LONG = 50, 500
SCALING_SEQ_SHORT, SCALING_SEQ_LONG = 500, 5000
SCALING_STEPS, SCALING_WARMUP = 3, 1
# The child is the benchmark script itself, run with --_child.
BENCH_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "torch_bench.py")


def child_measure(kind: str, seq_len: int, steps: int, warmup: int):
    """Runs inside the subprocess: train, then print timing + peak RSS."""
    stats = time_training(CONFIGS[MEMORY_CONFIG], MEMORY_MODEL, kind, steps,
                          warmup=warmup, seq_len=seq_len)
    stats["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(stats))


def spawn_measure(threads: int, kind: str, seq_len: int, steps: int, warmup: int):
    cmd = [sys.executable, BENCH_SCRIPT, "--threads", str(threads),
           "--_child", f"{kind}:{seq_len}:{steps}:{warmup}"]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def memory_results(args, kinds):
    results = []
    for kind in kinds:
        short = spawn_measure(args.threads, kind, MEMORY_SEQ_SHORT, 2, 1)
        long_ = spawn_measure(args.threads, kind, MEMORY_SEQ_LONG, 2, 1)
        growth = ((long_["peak_rss_mib"] - short["peak_rss_mib"])
                  / (MEMORY_SEQ_LONG - MEMORY_SEQ_SHORT))
        t_short = spawn_measure(args.threads, kind, SCALING_SEQ_SHORT,
                                SCALING_STEPS, SCALING_WARMUP)
        t_long = spawn_measure(args.threads, kind, SCALING_SEQ_LONG,
                               SCALING_STEPS, SCALING_WARMUP)
        results.append({
            "config": MEMORY_CONFIG, "model": MEMORY_MODEL, "kind": kind,
            f"peak_rss_mib_T{MEMORY_SEQ_SHORT}": short["peak_rss_mib"],
            f"peak_rss_mib_T{MEMORY_SEQ_LONG}": long_["peak_rss_mib"],
            "rss_growth_mib_per_step": growth,
            f"median_ms_T{SCALING_SEQ_SHORT}": t_short["median_ms"],
            f"median_ms_T{SCALING_SEQ_LONG}": t_long["median_ms"],
            "time_ratio_long_over_short": t_long["median_ms"] / t_short["median_ms"],
            "ideal_ratio": SCALING_SEQ_LONG / SCALING_SEQ_SHORT,
            "scaling_steps": SCALING_STEPS,
        })
    return results


# --------------------------------------------------------------------------
# --tiny-ops mode
# --------------------------------------------------------------------------

TINY_OPS = [
    lambda y: y * 1.0001,
    lambda y: y + 0.001,
    torch.tanh,
]
TINY_OPS_REPS = 30


def tiny_ops_results(n_ops: int):
    """Per-op cost of a chain of n_ops tiny autograd ops on a [4] tensor."""
    x = torch.randn(4, requires_grad=True)

    def chain():
        y = x
        for i in range(n_ops):
            y = TINY_OPS[i % len(TINY_OPS)](y)
        return y

    fwd_samples, total_samples = [], []
    for rep in range(WARMUP_STEPS + TINY_OPS_REPS):
        x.grad = None
        t0 = time.perf_counter()
        y = chain()
        t1 = time.perf_counter()
        y.backward(torch.ones_like(y))
        t2 = time.perf_counter()
        if rep >= WARMUP_STEPS:
            fwd_samples.append(t1 - t0)
            total_samples.append(t2 - t0)
    per_op_us = lambda s: statistics.median(s) / n_ops * 1e6
    return {"ops": n_ops, "reps": TINY_OPS_REPS,
            "op_cycle": "mul scalar, add scalar, tanh",
            "median_us_per_op_fwd_bwd": per_op_us(total_samples),
            "median_us_per_op_fwd": per_op_us(fwd_samples)}
