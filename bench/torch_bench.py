#!/usr/bin/python3
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

Timing noise: the dev machine is a 2-vCPU VM.  Medians hide short bursts of
interference, not long ones: compare runs made back to back, look at "min_ms"
and at the "blas" matmul GFLOP/s (about 190-200 when the machine is quiet).
Worse, *any* other busy process on the 2 CPUs (e.g. a parallel compiler) makes
OpenMP threads spin against it and steps get 10-70x slower: the script
records the 1-min load average before/after and warns when it exceeds
threads + 1.  Benchmark on an otherwise idle machine, or at least through
bench/run_prioritized.sh (gives this process's scheduler autogroup nice -20;
recorded as "autogroup" in the JSON).

Run (the LD_LIBRARY_PATH makes sure OpenBLAS, not the reference BLAS, backs
torch's libblas.so.3):

  LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp \
      bench/run_prioritized.sh /usr/bin/python3 bench/torch_bench.py --json

BLAS notes (measured on the 2-core AMD EPYC (Zen 4) dev machine, torch 1.13.1
from Debian, OpenBLAS 0.3.21 openmp):
  * Debian's torch links libblas.so.3 / liblapack.so.3.  Which library that is
    depends on update-alternatives; on the dev machine the alternative already
    points at openblas-openmp, but with the reference BLAS (forced via
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/blas) a 512x512x512 matmul takes
    ~45 ms (6 GFLOP/s) instead of ~1.3 ms (~200 GFLOP/s).  The LD_LIBRARY_PATH
    above pins OpenBLAS regardless of the alternative.  The script reports the
    libblas actually mapped into the process plus the 512^3 matmul timing under
    "blas" and warns on stderr when it looks like the reference BLAS.
  * OPENBLAS_L2_SIZE: this OpenBLAS build does not read it at all (the string
    is absent from libopenblasp-r0.3.21.so; the env vars it reads are
    OPENBLAS_CORETYPE, OPENBLAS_NUM_THREADS, OPENBLAS_BLOCK_FACTOR,
    OPENBLAS_THREAD_TIMEOUT, GOTO_NUM_THREADS, OMP_NUM_THREADS).  Setting or
    unsetting it changes nothing.
  * OPENBLAS_CORETYPE: unset, OpenBLAS auto-detects this CPU as "Cooperlake"
    (AVX-512 kernels).  Forcing Haswell/Zen gave the same 512^3 matmul speed
    within noise (~1.31-1.37 ms), SkylakeX ~10% slower, and auto vs Haswell
    interleaved 3x on config b nn.LSTM gave 76-79 ms for both (machine under
    load); invalid names fall back to auto-detection.  Leaving it unset is
    the right default; both values (if set) are recorded in the JSON "env".
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

WARMUP_STEPS = 5
MATMUL_CHECK_N = 512
REFERENCE_BLAS_GFLOPS_THRESHOLD = 20.0  # best-of; OpenBLAS ~200, reference ~6


# --------------------------------------------------------------------------
# Benchmark configurations
# --------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Config:
    name: str
    label: str
    input_size: int
    hidden_size: int
    seq_len: int
    batch: int
    layers: int
    head_out: int
    head_every_step: bool  # False: head on the last hidden state only
    loss: str              # "mse" or "ce" (cross-entropy over head_out classes)


CONFIGS = {
    "a": Config("a", "LHC", input_size=1, hidden_size=128, seq_len=16, batch=32,
                layers=1, head_out=1, head_every_step=False, loss="mse"),
    "b": Config("b", "medium", input_size=64, hidden_size=256, seq_len=50, batch=32,
                layers=1, head_out=64, head_every_step=True, loss="mse"),
    "c": Config("c", "char", input_size=128, hidden_size=512, seq_len=100, batch=16,
                layers=2, head_out=128, head_every_step=True, loss="ce"),
}

MODELS = ["lstm", "gru", "rnn", "cifg"]
KINDS = ["module", "loop", "proj"]
BOTH_KINDS = ["module", "loop"]  # --kind both
LOOP_ONLY_MODELS = {"cifg"}


# --------------------------------------------------------------------------
# Hand-written ("loop") cells: one step, per-step input projection
# --------------------------------------------------------------------------
# Each cell takes x_t [B, I], the state tuple and the layer's parameters
# (w_ih [G*H, I], w_hh [G*H, H], b_ih [G*H], b_hh [G*H]) and returns
# (h_new, new_state).  G = number of gate blocks.

def lstm_cell(x, state, w_ih, w_hh, b_ih, b_hh):
    h, c = state
    gates = x @ w_ih.t() + b_ih + h @ w_hh.t() + b_hh
    i, f, g, o = gates.chunk(4, dim=1)  # PyTorch's gate order
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c + i * g
    h = o * torch.tanh(c)
    return h, (h, c)


def gru_cell(x, state, w_ih, w_hh, b_ih, b_hh):
    (h,) = state
    gi = x @ w_ih.t() + b_ih
    gh = h @ w_hh.t() + b_hh
    i_r, i_z, i_n = gi.chunk(3, dim=1)
    h_r, h_z, h_n = gh.chunk(3, dim=1)
    r = torch.sigmoid(i_r + h_r)
    z = torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)  # PyTorch / "linear before reset" form
    h = (1 - z) * n + z * h
    return h, (h,)


def rnn_tanh_cell(x, state, w_ih, w_hh, b_ih, b_hh):
    (h,) = state
    h = torch.tanh(x @ w_ih.t() + b_ih + h @ w_hh.t() + b_hh)
    return h, (h,)


def cifg_cell(x, state, w_ih, w_hh, b_ih, b_hh):
    h, c = state
    gates = x @ w_ih.t() + b_ih + h @ w_hh.t() + b_hh
    f, g, o = gates.chunk(3, dim=1)
    f, g, o = torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c + (1 - f) * g
    h = o * torch.tanh(c)
    return h, (h, c)


# The "proj" cells: one step given the projected input px = x w_ih^T + b_ih [B, G*H] (the same gate
# arithmetic, in the same order, as the cell above).

def cifg_recurrence(px, state, w_hh, b_hh):
    h, c = state
    gates = px + h @ w_hh.t() + b_hh
    f, g, o = gates.chunk(3, dim=1)
    f, g, o = torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c + (1 - f) * g
    h = o * torch.tanh(c)
    return h, (h, c)


@dataclasses.dataclass(frozen=True)
class CellSpec:
    step: Callable
    gate_blocks: int
    state_tensors: int  # 1 = (h,), 2 = (h, c)
    recurrence: Callable | None = None  # for kind "proj"; None: no such variant


LOOP_CELLS = {
    "lstm": CellSpec(lstm_cell, gate_blocks=4, state_tensors=2),
    "gru": CellSpec(gru_cell, gate_blocks=3, state_tensors=1),
    "rnn": CellSpec(rnn_tanh_cell, gate_blocks=1, state_tensors=1),
    "cifg": CellSpec(cifg_cell, gate_blocks=3, state_tensors=2, recurrence=cifg_recurrence),
}

TORCH_MODULES = {
    "lstm": lambda cfg: nn.LSTM(cfg.input_size, cfg.hidden_size, cfg.layers),
    "gru": lambda cfg: nn.GRU(cfg.input_size, cfg.hidden_size, cfg.layers),
    "rnn": lambda cfg: nn.RNN(cfg.input_size, cfg.hidden_size, cfg.layers,
                              nonlinearity="tanh"),
}


class LoopRNN(nn.Module):
    """Stacked unidirectional RNN written as a naive Python loop over time.

    Input [T, B, I] (seq-first like nn.LSTM); returns the top layer's hidden
    states [T, B, H].  Initialised like PyTorch's RNN modules.
    """

    def __init__(self, cell: CellSpec, input_size: int, hidden_size: int, layers: int,
                 project_inputs: bool = False):
        super().__init__()
        self.cell = cell
        self.project_inputs = project_inputs
        self.hidden_size = hidden_size
        gh = cell.gate_blocks * hidden_size
        self.w_ih = nn.ParameterList()
        self.w_hh = nn.ParameterList()
        self.b_ih = nn.ParameterList()
        self.b_hh = nn.ParameterList()
        for layer in range(layers):
            in_size = input_size if layer == 0 else hidden_size
            self.w_ih.append(nn.Parameter(torch.empty(gh, in_size)))
            self.w_hh.append(nn.Parameter(torch.empty(gh, hidden_size)))
            self.b_ih.append(nn.Parameter(torch.empty(gh)))
            self.b_hh.append(nn.Parameter(torch.empty(gh)))
        bound = 1.0 / math.sqrt(hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def forward(self, x):
        if self.project_inputs:
            return self.forward_projected(x)
        batch = x.shape[1]
        layers = len(self.w_ih)
        states = [tuple(x.new_zeros(batch, self.hidden_size)
                        for _ in range(self.cell.state_tensors))
                  for _ in range(layers)]
        outputs = []
        for x_t in x.unbind(0):
            inp = x_t
            for layer in range(layers):
                inp, states[layer] = self.cell.step(
                    inp, states[layer], self.w_ih[layer], self.w_hh[layer],
                    self.b_ih[layer], self.b_hh[layer])
            outputs.append(inp)
        return torch.stack(outputs)

    def forward_projected(self, x):
        """Layer by layer: all steps' input projection in one product, then the steps."""
        inp = x
        for layer in range(len(self.w_ih)):
            state = tuple(x.new_zeros(x.shape[1], self.hidden_size)
                          for _ in range(self.cell.state_tensors))
            px = F.linear(inp, self.w_ih[layer], self.b_ih[layer])  # [T, B, G*H]
            outputs = []
            for px_t in px.unbind(0):
                h, state = self.cell.recurrence(px_t, state, self.w_hh[layer], self.b_hh[layer])
                outputs.append(h)
            inp = torch.stack(outputs)
        return inp


class RecurrentModel(nn.Module):
    """Recurrent core + Linear head, applied on the last or on every step."""

    def __init__(self, cfg: Config, model: str, kind: str):
        super().__init__()
        if kind == "module":
            self.core = TORCH_MODULES[model](cfg)
        else:
            self.core = LoopRNN(LOOP_CELLS[model], cfg.input_size, cfg.hidden_size,
                                cfg.layers, project_inputs=kind == "proj")
        self.is_module = kind == "module"
        self.head = nn.Linear(cfg.hidden_size, cfg.head_out)
        self.head_every_step = cfg.head_every_step

    def forward(self, x):
        hs = self.core(x)
        if self.is_module:
            hs = hs[0]  # (output, state)
        return self.head(hs if self.head_every_step else hs[-1])


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
# --memory mode: each measurement runs in a fresh subprocess
# --------------------------------------------------------------------------

MEMORY_CONFIG = "b"
MEMORY_MODEL = "lstm"
MEMORY_SEQ_SHORT, MEMORY_SEQ_LONG = 50, 500
SCALING_SEQ_SHORT, SCALING_SEQ_LONG = 500, 5000
SCALING_STEPS, SCALING_WARMUP = 3, 1


def child_measure(kind: str, seq_len: int, steps: int, warmup: int):
    """Runs inside the subprocess: train, then print timing + peak RSS."""
    stats = time_training(CONFIGS[MEMORY_CONFIG], MEMORY_MODEL, kind, steps,
                          warmup=warmup, seq_len=seq_len)
    stats["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(json.dumps(stats))


def spawn_measure(threads: int, kind: str, seq_len: int, steps: int, warmup: int):
    cmd = [sys.executable, os.path.abspath(__file__), "--threads", str(threads),
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


# --------------------------------------------------------------------------
# --verify mode: the loop cells must match the nn modules exactly
# --------------------------------------------------------------------------

LOOP_TO_MODULE_PARAM = {"w_ih": "weight_ih", "w_hh": "weight_hh",
                        "b_ih": "bias_ih", "b_hh": "bias_hh"}


def verify_loops():
    """Copy nn.LSTM/GRU/RNN weights into LoopRNN; compare outputs and grads."""
    cfg = dataclasses.replace(CONFIGS["c"], input_size=5, hidden_size=7, seq_len=6,
                              batch=3)
    report = {}
    for model in TORCH_MODULES:
        torch.manual_seed(0)
        ref = TORCH_MODULES[model](cfg).double()
        loop = LoopRNN(LOOP_CELLS[model], cfg.input_size, cfg.hidden_size,
                       cfg.layers).double()
        with torch.no_grad():
            for layer in range(cfg.layers):
                for loop_name, module_name in LOOP_TO_MODULE_PARAM.items():
                    getattr(loop, loop_name)[layer].copy_(
                        getattr(ref, f"{module_name}_l{layer}"))
        x = torch.randn(cfg.seq_len, cfg.batch, cfg.input_size, dtype=torch.double)
        out_ref, out_loop = ref(x)[0], loop(x)
        out_ref.sum().backward()
        out_loop.sum().backward()
        max_err = max((out_ref - out_loop).abs().max().item(),
                      (ref.weight_hh_l0.grad - loop.w_hh[0].grad).abs().max().item())
        report[model] = max_err
    for model, cell in LOOP_CELLS.items():  # "proj" against the per-step loop, same weights
        if cell.recurrence is None:
            continue
        torch.manual_seed(0)
        loop = LoopRNN(cell, cfg.input_size, cfg.hidden_size, cfg.layers).double()
        proj = LoopRNN(cell, cfg.input_size, cfg.hidden_size, cfg.layers,
                       project_inputs=True).double()
        proj.load_state_dict(loop.state_dict())
        x = torch.randn(cfg.seq_len, cfg.batch, cfg.input_size, dtype=torch.double)
        out_loop, out_proj = loop(x), proj(x)
        out_loop.sum().backward()
        out_proj.sum().backward()
        report[f"{model} proj"] = max((out_loop - out_proj).abs().max().item(),
                                      (loop.w_ih[0].grad - proj.w_ih[0].grad).abs().max().item())
    return report


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
