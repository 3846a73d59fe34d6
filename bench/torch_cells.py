# SPDX-License-Identifier: Apache-2.0
"""Recurrent networks timed by torch_bench.py, and the check that they are right.

The benchmark configs (CONFIGS, the same shapes as dnnl_bench and unroll bench), the
hand-written cells (a naive per-time-step Python loop, "loop", and for cifg the loop
with all steps' input projection in one product, "proj"), the nn.LSTM/GRU/RNN
modules ("module"), the model = recurrent core + Linear head, and --verify's check
that the loop cells reproduce the nn modules.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F


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
