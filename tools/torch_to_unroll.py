#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Convert a PyTorch nn.RNN / nn.LSTM / nn.GRU state_dict file to an unroll checkpoint.

    /usr/bin/python3 tools/torch_to_unroll.py model.pt model.h5 [--nonlinearity relu] [--dropout 0.1]

The cell is inferred from the gate count (rows of weight_hh_l0 / hidden_size): 4 -> lstm, 3 -> gru_lbr
(PyTorch's GRU form), 1 -> rnn_tanh, or rnn_relu with --nonlinearity relu. Sizes, layers and directions
come from the tensors. The checkpoint's /model/config is the RecurrentConfig JSON, so unroll can build
the model from the file alone; names map as in tools/make_torch_fixtures.py (weight_ih_l0 -> l0/w_ih).
Requirements: Debian 12's python3-torch, python3-h5py, python3-numpy.
"""
import argparse
import collections
import os
import re
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import unroll_checkpoint  # noqa: E402

_NAME_RE = re.compile(r"^(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)(_reverse)?$")
_LEAF = {"weight_ih": "w_ih", "weight_hh": "w_hh", "bias_ih": "b_ih", "bias_hh": "b_hh"}


def torch_name_to_unroll_path(name):
    m = _NAME_RE.match(name)
    if m is None:
        raise ValueError("unsupported PyTorch RNN parameter name: %r" % (name,))
    kind, layer, reverse = m.groups()
    return "l%d%s/%s" % (int(layer), "_reverse" if reverse else "", _LEAF[kind])


def convert(state_dict, output, nonlinearity="tanh", dropout=0.0):
    """Write the unroll checkpoint `output` from the state_dict file; returns the RecurrentConfig dict."""
    state = torch.load(state_dict, map_location="cpu")
    if "weight_hh_l0" not in state:
        raise ValueError("%s: no weight_hh_l0: not an nn.RNN/LSTM/GRU state_dict" % state_dict)
    hidden = state["weight_hh_l0"].shape[1]
    gates = state["weight_hh_l0"].shape[0] // hidden
    cell = {4: "lstm", 3: "gru_lbr", 1: "rnn_" + nonlinearity}.get(gates)
    if cell is None:
        raise ValueError("%s: weight_hh_l0 has %d gate blocks; expected 1, 3 or 4" % (state_dict, gates))
    if gates != 1 and nonlinearity != "tanh":
        raise ValueError("--nonlinearity applies to nn.RNN only")
    layers = 1 + max(int(_NAME_RE.match(n).group(2)) for n in state if _NAME_RE.match(n))
    config = {"cell": cell, "input_size": int(state["weight_ih_l0"].shape[1]), "hidden_size": int(hidden),
              "layers": layers, "bidirectional": any(n.endswith("_reverse") for n in state),
              "dropout": float(dropout), "cell_options": {}}
    params = collections.OrderedDict()
    for name, value in state.items():
        params[torch_name_to_unroll_path(name)] = value.detach().cpu().numpy()
    unroll_checkpoint.write_checkpoint(output, params, config, library_version="tools/torch_to_unroll.py")
    return config


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("state_dict")
    ap.add_argument("output")
    ap.add_argument("--nonlinearity", choices=["tanh", "relu"], default="tanh", help="for nn.RNN only")
    ap.add_argument("--dropout", type=float, default=0.0)
    args = ap.parse_args()
    try:
        config = convert(args.state_dict, args.output, args.nonlinearity, args.dropout)
    except ValueError as e:
        sys.exit(str(e))
    print("wrote %s: %s" % (args.output, config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
