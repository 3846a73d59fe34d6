#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Report of bench/compare.sh.

What lives here
---------------
Reads the raw JSON files bench/compare.sh left in one directory
(r<round>_<config>_<side>_<model>[_<kind>].json, mem_*.json, time_*.json,
load.log), takes per program the median over rounds of the per-run median
ms/step, and prints a Markdown report: the timing table with the ratios the
issue-6 targets are stated in, the memory/scaling table and the machine.
With --write FILE it replaces the part of FILE between the markers
<!-- compare.sh:begin --> and <!-- compare.sh:end --> (appending them when
absent), so hand-written notes around the table survive a re-run.

Ratios are "times faster": peer ms / unroll ms (> 1 means unroll is faster).
"""

from __future__ import annotations

import argparse
import datetime
import glob
import json
import os
import re
import statistics
import subprocess
import sys

BEGIN, END = "<!-- compare.sh:begin -->", "<!-- compare.sh:end -->"
# unroll model -> (PyTorch model name, oneDNN cell name or None)
PEERS = {"lstm": ("lstm", "lstm"), "gru-lbr": ("gru", "gru"), "rnn": ("rnn", "rnn"), "cifg": ("cifg", None),
         "cifg-graph": ("cifg", None), "lstm-graph": ("lstm", "lstm"), "lstm-primitive": ("lstm", "lstm")}
CONFIG_LABELS = {"a": "a LHC", "b": "b medium", "c": "c char"}
TARGET_VS_MODULE, TARGET_VS_LOOP, TARGET_VS_DNNL = 3.0, 3.0, 1.0
TARGET_RSS_PER_STEP_MIB, TARGET_TIME_RATIO = 0.25, 11.0
TARGET_RECOMPUTE_TIME = 1.5  # recomputation: at most 1.5x the time of the mode it recomputes
TARGET_FLOOR_VS_LSTM = 1.15  # issue 21: a program cell's step time over its floor <= 1.15x the LSTM's


def load_json(path):
    with open(path) as f:
        text = f.read().strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:  # unroll prints one line; take the last JSON line
        return json.loads(text.splitlines()[-1])


def median_ms(path):
    j = load_json(path)
    if "results" in j:  # torch_bench.py / dnnl_bench: one result row
        rows = [r for r in j["results"] if "median_ms" in r]
        return rows[0]["median_ms"], j.get("config", {})
    return j["median_ms"], j


def collect(raw, rounds):
    """(config, side, key) -> list of per-round medians."""
    table = {}
    for path in glob.glob(os.path.join(raw, "r*_*.json")):
        m = re.match(r"r(\d+)_([abc])_(unroll|torch|dnnl)_(.+)\.json$", os.path.basename(path))
        if not m or int(m.group(1)) > rounds:
            continue
        ms, _ = median_ms(path)
        table.setdefault((m.group(2), m.group(3), m.group(4)), []).append(ms)
    return table


def collect_gflop(raw, rounds):
    """unroll model -> config -> matmul GFLOP per step (the same in every round); and the GEMM peak:
    the median over dnnl_bench runs of its large matmul check (GFLOP/s)."""
    gflop, peaks = {}, []
    for path in glob.glob(os.path.join(raw, "r*_*.json")):
        m = re.match(r"r(\d+)_([abc])_(unroll|dnnl)_(.+)\.json$", os.path.basename(path))
        if not m or int(m.group(1)) > rounds:
            continue
        j = load_json(path)
        if m.group(3) == "unroll" and "matmul_gflop_per_step" in j:
            gflop[(m.group(2), m.group(4))] = j["matmul_gflop_per_step"]
        elif m.group(3) == "dnnl":
            peaks += [r["gflops_median"] for r in j.get("matmul", []) if r.get("m") == 256]
    return gflop, (statistics.median(peaks) if peaks else None)


def floor_section(table, gflop, peak):
    """Issue 21: each model's step time over its matmul floor (matmul GFLOP/step at the GEMM peak), and the
    custom cell's ratio over the built-in LSTM's."""
    if not peak:
        return []
    lines = [f"The floor: each model's matmul GFLOP per step at the GEMM peak of this run ({peak:.0f} GFLOP/s,",
             "dnnl_bench's [256, 512] x [512, 2048] matmul, median over its runs); a step can take no less. The",
             "column \"over LSTM's\" is the model's step/floor over the built-in LSTM's (issue-21 target for the",
             f"cifg cell on its cell program: <= {TARGET_FLOOR_VS_LSTM:g}x, **bold** when met).",
             "",
             "| config | model | matmul GFLOP/step | floor ms | unroll ms | step / floor | over LSTM's |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for cfg in "abc":
        base = None
        for model in ("lstm", "cifg", "cifg-graph"):
            u, g = med(table, (cfg, "unroll", model)), gflop.get((cfg, model))
            if u is None or g is None:
                continue
            floor = g / peak * 1e3
            ratio = u / floor
            base = ratio if model == "lstm" else base
            over = ""
            if model != "lstm" and base:
                r = ratio / base
                over = f"**{r:.2f}x**" if r <= TARGET_FLOOR_VS_LSTM and model == "cifg" else f"{r:.2f}x"
            lines.append(f"| {CONFIG_LABELS[cfg]} | {model} | {g:.2f} | {fmt_ms(floor)} | {fmt_ms(u)} | "
                         f"{ratio:.2f}x | {over} |")
    return lines + [""]


def med(table, key):
    v = table.get(key)
    return statistics.median(v) if v else None


def fmt_ms(v):
    return "n/a" if v is None else (f"{v:.1f}" if v >= 10 else f"{v:.2f}")


def fmt_ratio(peer, ours, target):
    if peer is None or ours is None:
        return "n/a"
    r = peer / ours
    return f"**{r:.2f}x**" if r >= target else f"{r:.2f}x"


def machine():
    model = "unknown"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    return model, os.cpu_count()


def report(args):
    table = collect(args.raw, args.rounds)
    lines = []
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    model, cpus = machine()
    loads = []
    if os.path.exists(os.path.join(args.raw, "load.log")):
        with open(os.path.join(args.raw, "load.log")) as f:
            loads = [float(x) for x in f.read().split()]
    load_txt = (f"1-min load average {min(loads):.2f}-{max(loads):.2f} during the rounds"
                if loads else "load not recorded")
    lines += [f"Generated {now} by `{args.command}` ({args.rounds} round(s), {args.threads} threads, "
              f"OMP_WAIT_POLICY={args.wait_policy} for every program).",
              f"Machine: {model}, {cpus} CPUs; {load_txt}; now {open('/proc/loadavg').read().split()[0]}.",
              "",
              "Median ms per training step (median over rounds of each run's median). unroll and PyTorch: full",
              "step (forward, head, loss, backward, Adam); oneDNN: the fused RNN primitive's forward + backward",
              "only. Ratios are peer ms / unroll ms (higher = unroll faster); **bold** meets the issue-6 target",
              f"(>= {TARGET_VS_MODULE:g}x vs the PyTorch module, >= {TARGET_VS_LOOP:g}x vs the PyTorch loop for the custom",
              f"cell, >= {TARGET_VS_DNNL:g}x vs oneDNN). The custom cell cifg has two PyTorch loops: the per-step",
              "loop (each step projects its own input) and, in the row `cifg (proj)`, the loop that projects all",
              "steps' inputs in one product first, as unroll does. unroll's cifg runs the cell's program",
              "(Note [Program step loop]); cifg-graph the same cell's step() on the per-step graph (--graph-path).",
              "",
              "| config | model | unroll | PyTorch module | vs module | PyTorch loop | vs loop | oneDNN fwd+bwd | vs oneDNN |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for cfg in "abc":
        for ours, (tmodel, dcell) in PEERS.items():
            u = med(table, (cfg, "unroll", ours))
            mod = med(table, (cfg, "torch", f"{tmodel}_module"))
            loop = med(table, (cfg, "torch", f"{tmodel}_loop"))
            dn = med(table, (cfg, "dnnl", dcell)) if dcell else None
            loop_target = TARGET_VS_LOOP if ours == "cifg" else 0
            lines.append(f"| {CONFIG_LABELS[cfg]} | {ours} | {fmt_ms(u)} | {fmt_ms(mod)} | "
                         f"{fmt_ratio(mod, u, TARGET_VS_MODULE) if mod else 'n/a'} | {fmt_ms(loop)} | "
                         f"{fmt_ratio(loop, u, loop_target) if loop_target else (f'{loop / u:.2f}x' if loop and u else 'n/a')} | "
                         f"{fmt_ms(dn)} | {fmt_ratio(dn, u, TARGET_VS_DNNL) if dn else 'n/a'} |")
            if ours == "cifg":  # the same unroll run against the PyTorch loop with one input projection
                proj = med(table, (cfg, "torch", f"{tmodel}_proj"))
                lines.append(f"| {CONFIG_LABELS[cfg]} | {ours} (proj) | {fmt_ms(u)} | | | {fmt_ms(proj)} | "
                             f"{fmt_ratio(proj, u, TARGET_VS_LOOP)} | | |")
    lines.append("")
    lines += floor_section(table, *collect_gflop(args.raw, args.rounds))

    mem = []
    p = lambda name: os.path.join(args.raw, name)
    for suffix, label in (("", "unroll lstm (fused, step loop)"), ("_release", "unroll lstm, --release-grads"),
                          ("_primitive", "unroll lstm, --engine primitive"), ("_graph", "unroll lstm, --graph-path"),
                          ("_recompute", "unroll lstm, --recompute sqrt")):
        if not (os.path.exists(p(f"mem_unroll{suffix}_T50.json")) and os.path.exists(p(f"mem_unroll{suffix}_T500.json"))):
            continue
        s, l = load_json(p(f"mem_unroll{suffix}_T50.json")), load_json(p(f"mem_unroll{suffix}_T500.json"))
        growth = (l["peak_rss_mib"] - s["peak_rss_mib"]) / 450
        row = [f"{s['peak_rss_mib']:.0f}", f"{l['peak_rss_mib']:.0f}",
               f"**{growth:.3f}**" if growth <= TARGET_RSS_PER_STEP_MIB else f"{growth:.3f}"]
        short, long = p(f"time_unroll{suffix}_T500.json"), p(f"time_unroll{suffix}_T5000.json")
        a = load_json(short) if os.path.exists(short) else None
        b = load_json(long) if os.path.exists(long) else None
        row.append(f"{a['median_ms']:.0f}" if a else "n/a")
        row.append(f"{b['median_ms']:.0f}" if b else "n/a")
        if a and b:
            ratio = b["median_ms"] / a["median_ms"]
            row.append(f"**{ratio:.1f}x**" if ratio <= TARGET_TIME_RATIO else f"{ratio:.1f}x")
        else:
            row.append("n/a")
        graph = p("time_unroll_graph_T500.json")
        if suffix == "_recompute" and a and os.path.exists(graph):
            slower = a["median_ms"] / load_json(graph)["median_ms"]
            row.append(f"**{slower:.2f}x**" if slower <= TARGET_RECOMPUTE_TIME else f"{slower:.2f}x")
        else:
            row.append("")
        mem.append(f"| {label} | " + " | ".join(row) + " |")
    if os.path.exists(p("mem_torch.json")):
        for r in load_json(p("mem_torch.json"))["results"]:
            mem.append(f"| PyTorch nn.LSTM ({r['kind']}) | {r['peak_rss_mib_T50']:.0f} | {r['peak_rss_mib_T500']:.0f} | "
                       f"{r['rss_growth_mib_per_step']:.3f} | {r['median_ms_T500']:.0f} | {r['median_ms_T5000']:.0f} | "
                       f"{r['time_ratio_long_over_short']:.1f}x | |")
    if mem:
        lines += ["Memory and scaling, config b LSTM, each figure from a fresh process (peak RSS in MiB; growth",
                  f"per time step = (RSS(T=500) - RSS(T=50)) / 450, target <= {TARGET_RSS_PER_STEP_MIB} MiB; time ratio",
                  f"T=5000 / T=500, target <= {TARGET_TIME_RATIO:g}x; recompute's time at T=500 over the graph path's it",
                  f"recomputes, target <= {TARGET_RECOMPUTE_TIME:g}x; **bold** meets the target).",
                  "",
                  "| program | RSS T=50 | RSS T=500 | MiB per step | ms T=500 | ms T=5000 | T=5000 / T=500 | recompute / graph |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|", *mem, ""]

    lines += ["Commands (run by the script; each through `bench/run_prioritized.sh`):",
              "```",
              f"{args.unroll} bench --model lstm|gru-lbr|rnn|cifg <shape> --steps N --warmup W --threads {args.threads} --json",
              "  (lstm-graph: --model lstm --graph-path; cifg-graph: --model cifg --graph-path;",
              "   lstm-primitive: --model lstm --engine primitive)",
              "  a: --input 1 --hidden 128 --seq 16 --batch 32 --head last --loss mse --out 1",
              "  b: --input 64 --hidden 256 --seq 50 --batch 32 --head all --loss mse --out 64",
              "  c: --input 128 --hidden 512 --seq 100 --batch 16 --layers 2 --head all --loss xent --out 128",
              "LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 bench/torch_bench.py \\",
              f"  --config a|b|c --model lstm|gru|rnn|cifg --kind module|loop --threads {args.threads} --steps N --warmup W --json",
              "  (cifg (proj): --model cifg --kind proj)",
              f"OMP_NUM_THREADS={args.threads} {args.dnnl} --config a|b|c --cell lstm|gru|rnn --reps N --json",
              "memory: unroll bench --model lstm <shape b> [--release-grads | --engine primitive | --graph-path |",
              "  --recompute sqrt] --seq 50|500",
              "  (--steps 2 --warmup 1), --seq 500|5000 (--steps 3 --warmup 1; 5000 only without those flags);",
              "  torch_bench.py --memory --kind module",
              "```"]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("raw")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--command", default="bench/compare.sh")
    ap.add_argument("--unroll", default="unroll")
    ap.add_argument("--dnnl", default="dnnl_bench")
    ap.add_argument("--wait-policy", default="unset")
    ap.add_argument("--write", help="Markdown file whose generated section to replace")
    args = ap.parse_args()
    text = report(args)
    sys.stdout.write(text)
    if args.write:
        old = open(args.write).read() if os.path.exists(args.write) else "# Performance\n\n"
        block = f"{BEGIN}\n{text}{END}"
        if BEGIN in old and END in old:
            new = old[:old.index(BEGIN)] + block + old[old.index(END) + len(END):]
        else:
            new = old.rstrip("\n") + "\n\n" + block + "\n"
        with open(args.write, "w") as f:
            f.write(new)
        print(f"compare_report.py: wrote {args.write}", file=sys.stderr)


if __name__ == "__main__":
    main()
