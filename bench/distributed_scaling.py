#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# What lives here: the computed scaling table of docs/distributed.md (no measurement: a model). For the
# benchmark configs a/b/c (apps/cmd_bench.cpp, LSTM; same shapes as bench/dnnl_bench.cpp kConfigs) it
# counts the gradient bytes one data-parallel step reduces, and for N = 2..64 ranks the link bandwidth
# below which the reduction no longer fits behind the backward pass of a step:
#   bytes      = 4 x parameters (float32 gradients; the loss and stop flag add 16 bytes)
#   moved      = 2 (N - 1) / N x bytes per rank and step (reduce-scatter + all-gather, Note [Fixed-order
#                reduction] in train/communicator.h; the same volume as a ring all-reduce)
#   t_comm(bw) = moved / bw + 2 (N - 1) alpha   (alpha: one message start-up; N - 1 per phase)
#   hidden     when t_comm <= backward fraction x step time (what overlapping reduction could hide)
#   bw*        = moved / (f_bwd x t_step - 2 (N - 1) alpha); "never" when latency alone exceeds the budget
# Step times are each rank's full step on the config's batch (weak scaling: the global batch is N x that).
# Usage: bench/distributed_scaling.py [--step-ms a=1.41,b=12.8,c=120.6] [--backward 0.6] [--alpha-us 2]
import argparse

CONFIGS = {  # name: (label, input, hidden, layers, head outputs)
    "a": ("LHC", 1, 128, 1, 1),
    "b": ("medium", 64, 256, 1, 64),
    "c": ("char", 128, 512, 2, 128),
}


def lstm_parameters(inp, hidden, layers, out):
    n = 0
    for layer in range(layers):
        i = inp if layer == 0 else hidden
        n += 4 * hidden * (i + hidden) + 8 * hidden  # w_ih, w_hh, b_ih, b_hh
    return n + hidden * out + out  # the Linear head


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--step-ms", default="a=1.41,b=12.8,c=120.6",
                    help="ms per training step and rank (docs/performance.md, unroll lstm, 2 threads)")
    ap.add_argument("--backward", type=float, default=0.6, help="fraction of a step spent in backward")
    ap.add_argument("--alpha-us", type=float, default=2.0, help="message start-up latency (InfiniBand ~2, TCP ~25)")
    ap.add_argument("--ranks", default="2,4,8,16,32,64")
    args = ap.parse_args()
    step_ms = {k: float(v) for k, v in (kv.split("=") for kv in args.step_ms.split(","))}
    ranks = [int(n) for n in args.ranks.split(",")]
    alpha = args.alpha_us * 1e-6
    print("| config | parameters | bytes / step | step ms | " + " | ".join(f"N={n}" for n in ranks) + " |")
    print("|---|---:|---:|---:|" + "---:|" * len(ranks))
    for name, (label, inp, hidden, layers, out) in CONFIGS.items():
        params = lstm_parameters(inp, hidden, layers, out)
        nbytes = 4 * params + 16
        budget = args.backward * step_ms[name] * 1e-3
        cells = []
        for n in ranks:
            moved = 2 * (n - 1) / n * nbytes
            room = budget - 2 * (n - 1) * alpha
            cells.append("never" if room <= 0 else f"{moved / room * 8 / 1e9:.2f}")
        print(f"| {name} {label} | {params:,} | {nbytes / 2**20:.2f} MiB | {step_ms[name]:g} | " + " | ".join(cells) + " |")
    print(f"\nGbit/s needed per rank so that the reduction fits in the backward pass ({args.backward:g} of a step), "
          f"message latency {args.alpha_us:g} us; \"never\": the 2 (N-1) message start-ups alone take longer.")


if __name__ == "__main__":
    main()
