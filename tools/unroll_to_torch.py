#!/usr/bin/python3
"""Convert an unroll checkpoint of a built-in RNN / LSTM / GRU (Recurrent) to a PyTorch state_dict file.

    /usr/bin/python3 tools/unroll_to_torch.py model.h5 model.pt [--config-out torch_config.json]

model.pt is a plain state_dict: torch.nn.LSTM(**kwargs).load_state_dict(torch.load("model.pt")), where
kwargs (module, input_size, hidden_size, num_layers, bidirectional, dropout, nonlinearity) are printed and
written to --config-out. Parameter paths map to PyTorch names (l0/w_ih -> weight_ih_l0, l1_reverse/b_hh ->
bias_hh_l1_reverse); gate orders are identical (LSTM i,f,g,o; GRU r,z,n), so values are copied unchanged.
Cells with a PyTorch equivalent: rnn_tanh, rnn_relu, lstm, gru_lbr (PyTorch's GRU is the
"linear before reset" form; unroll's "gru" is the Cho form and has no PyTorch module).
Requirements: Debian 12's python3-torch, python3-h5py, python3-numpy.
"""
import argparse
import collections
import json
import os
import re
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import unroll_checkpoint  # noqa: E402

TORCH_MODULE = {"rnn_tanh": ("RNN", "tanh"), "rnn_relu": ("RNN", "relu"), "lstm": ("LSTM", None),
                "gru_lbr": ("GRU", None)}
_PATH_RE = re.compile(r"^l(\d+)(_reverse)?/(w_ih|w_hh|b_ih|b_hh)$")
_LEAF = {"w_ih": "weight_ih", "w_hh": "weight_hh", "b_ih": "bias_ih", "b_hh": "bias_hh"}


def unroll_path_to_torch_name(path):
    """l{k}/w_ih -> weight_ih_l{k}; l{k}_reverse/b_hh -> bias_hh_l{k}_reverse (inverse of
    tools/make_torch_fixtures.py's torch_name_to_unroll_path)."""
    m = _PATH_RE.match(path)
    if m is None:
        raise ValueError("parameter %r is not part of a built-in Recurrent (expected l<k>[_reverse]/w_ih|w_hh|b_ih|b_hh)"
                         % path)
    layer, reverse, leaf = m.groups()
    return "%s_l%d%s" % (_LEAF[leaf], int(layer), "_reverse" if reverse else "")


def torch_config(config):
    cell = config.get("cell")
    if cell not in TORCH_MODULE:
        raise ValueError("cell %r has no PyTorch module (convertible: %s)" % (cell, ", ".join(sorted(TORCH_MODULE))))
    module, nonlinearity = TORCH_MODULE[cell]
    out = {"module": module, "input_size": config["input_size"], "hidden_size": config["hidden_size"],
           "num_layers": config.get("layers", 1), "bidirectional": bool(config.get("bidirectional", False)),
           "dropout": float(config.get("dropout", 0.0)), "bias": True, "batch_first": False}
    if nonlinearity:
        out["nonlinearity"] = nonlinearity
    return out


def make_module(cfg):
    kwargs = {k: v for k, v in cfg.items() if k != "module"}
    return getattr(torch.nn, cfg["module"])(**kwargs)


def convert(checkpoint, output, config_out=None):
    """Write `output` (state_dict) from `checkpoint`; returns the torch config dict."""
    ckpt = unroll_checkpoint.read_checkpoint(checkpoint)
    cfg = torch_config(ckpt["config"])
    state = collections.OrderedDict()
    for path, value in ckpt["params"].items():
        state[unroll_path_to_torch_name(path)] = torch.from_numpy(value.copy())
    module = make_module(cfg)
    # Fails loudly on missing/unexpected names or shapes, like load_parameters does in C++.
    module.load_state_dict(state, strict=True)
    torch.save(module.state_dict(), output)
    if config_out:
        with open(config_out, "w") as f:
            json.dump(cfg, f, indent=1)
    return cfg


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("output")
    ap.add_argument("--config-out")
    args = ap.parse_args()
    print(json.dumps(convert(args.checkpoint, args.output, args.config_out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
