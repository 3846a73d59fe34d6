#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Convert an unroll checkpoint of a built-in RNN / LSTM / GRU (Recurrent) to a PyTorch state_dict file.

    /usr/bin/python3 tools/unroll_to_torch.py model.h5 model.pt [--config-out torch_config.json]

model.pt is a plain state_dict: torch.nn.LSTM(**kwargs).load_state_dict(torch.load("model.pt")), where
kwargs (module, input_size, hidden_size, num_layers, bidirectional, dropout, nonlinearity) are printed and
written to --config-out. Parameter paths map to PyTorch names (l0/w_ih -> weight_ih_l0, l1_reverse/b_hh ->
bias_hh_l1_reverse); gate orders are identical (LSTM i,f,g,o; GRU r,z,n), so values are copied unchanged.
Cells with a PyTorch equivalent: rnn_tanh, rnn_relu, lstm, gru_lbr (PyTorch's GRU is the
"linear before reset" form; unroll's "gru" is the Cho form and has no PyTorch module).

A checkpoint written by `unroll train` holds a whole forecaster (recurrent layers, head, residual, highway,
robust inputs, scaler). For those, model.pt is the forecaster's state_dict and --module-out (default:
model.py beside model.pt) a small self-contained nn.Module file reproducing unroll's predictions, every
cell kind included (the Cho GRU is written out by hand):

    import importlib.util; spec = importlib.util.spec_from_file_location("m", "model.py")
    m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)
    net = m.load("model.pt")           # UnrollForecaster in eval mode
    net(x_scaled)                      # windows [T, B] (oldest first) -> [B], scaled units
    net.predict(values)                # windows [B, T] in original units -> [B] original units
Errors are one line on stderr (exit 2).
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


FORECASTER_MODULE = r'''"""A forecaster exported from unroll by tools/unroll_to_torch.py: needs only torch."""
import torch

CONFIG = %(config)s


class UnrollForecaster(torch.nn.Module):
    """prediction = head(rnn(x')[T-1]) + (residual ? x'[T-1] : 0) + (highway ? w . x' + b : 0), x' = despike(x)."""

    def __init__(self, config=CONFIG):
        super().__init__()
        self.config = config
        gates = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3, "gru_lbr": 3}[config["cell"]]
        h, size = config["hidden_size"], config["input_size"]
        for l in range(config["layers"]):
            n = "net_rnn_l%%d_" %% l
            self.register_parameter(n + "w_ih", torch.nn.Parameter(torch.zeros(gates * h, size if l == 0 else h)))
            self.register_parameter(n + "w_hh", torch.nn.Parameter(torch.zeros(gates * h, h)))
            self.register_parameter(n + "b_ih", torch.nn.Parameter(torch.zeros(gates * h)))
            self.register_parameter(n + "b_hh", torch.nn.Parameter(torch.zeros(gates * h)))
        self.net_head_weight = torch.nn.Parameter(torch.zeros(1, h))
        self.net_head_bias = torch.nn.Parameter(torch.zeros(1))
        if config["highway"]:
            self.highway_weight = torch.nn.Parameter(torch.zeros(1, config["history"]))
            self.highway_bias = torch.nn.Parameter(torch.zeros(1))

    def despike(self, x):
        t = x.shape[0]
        if self.config["despike"] <= 0 or t < 3:
            return x
        centre = [min(max(j, 1), t - 2) for j in range(t)]
        med = torch.stack([torch.median(torch.stack([x[c - 1], x[c], x[c + 1]]), dim=0).values for c in centre])
        return torch.where((x - med).abs() > self.config["despike"], med, x)

    def step(self, l, x, h, c):
        w_ih, w_hh = getattr(self, "net_rnn_l%%d_w_ih" %% l), getattr(self, "net_rnn_l%%d_w_hh" %% l)
        b_ih, b_hh = getattr(self, "net_rnn_l%%d_b_ih" %% l), getattr(self, "net_rnn_l%%d_b_hh" %% l)
        cell = self.config["cell"]
        gi = x @ w_ih.T + b_ih
        if cell in ("rnn_tanh", "rnn_relu"):
            a = gi + h @ w_hh.T + b_hh
            return (torch.tanh(a) if cell == "rnn_tanh" else torch.relu(a)), c
        if cell == "lstm":
            i, f, g, o = (gi + h @ w_hh.T + b_hh).chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            return torch.sigmoid(o) * torch.tanh(c), c
        ir, iz, inn = gi.chunk(3, dim=1)
        whr, whz, whn = w_hh.chunk(3, dim=0)
        bhr, bhz, bhn = b_hh.chunk(3, dim=0)
        r = torch.sigmoid(ir + h @ whr.T + bhr)
        z = torch.sigmoid(iz + h @ whz.T + bhz)
        if cell == "gru_lbr":
            n = torch.tanh(inn + r * (h @ whn.T + bhn))
            return (1 - z) * n + z * h, c
        n = torch.tanh(inn + (r * h) @ whn.T + bhn)  # Cho form
        return (1 - z) * h + z * n, c

    def forward(self, x):
        """x: windows [T, B] (or [T, B, 1]) in scaled units, oldest first -> [B] scaled."""
        x = x.reshape(x.shape[0], x.shape[1]).to(self.net_head_weight.dtype)
        x = self.despike(x)
        t, b, hidden = x.shape[0], x.shape[1], self.config["hidden_size"]
        seq = [x[k].reshape(b, 1) for k in range(t)]
        for l in range(self.config["layers"]):
            h = torch.zeros(b, hidden, dtype=x.dtype)
            c = torch.zeros(b, hidden, dtype=x.dtype)
            out = []
            for k in range(t):
                h, c = self.step(l, seq[k], h, c)
                out.append(h)
            seq = out
        y = (seq[-1] @ self.net_head_weight.T + self.net_head_bias).reshape(b)
        if self.config["residual"]:
            y = y + x[t - 1]
        if self.config["highway"]:
            y = y + (x.T @ self.highway_weight.T).reshape(b) + self.highway_bias
        return y

    def predict(self, values):
        """values: windows [B, T] in original units -> predictions [B] in original units."""
        offset, scale = self.config["scaler_offset"], self.config["scaler_scale"]
        x = (torch.as_tensor(values, dtype=torch.float64) - offset) / scale
        with torch.no_grad():
            return self.forward(x.T.to(torch.float32)).to(torch.float64) * scale + offset


def load(state_dict_path):
    net = UnrollForecaster()
    net.load_state_dict(torch.load(state_dict_path), strict=True)
    return net.eval()
'''


def scaler_offset_scale(scaler):
    kind = (scaler or {}).get("kind", "none")
    if kind == "min_max":
        return float(scaler["min"]), float(scaler["max"]) - float(scaler["min"])
    if kind == "z_score":
        return float(scaler["mean"]), float(scaler["std"])
    if kind == "none":
        return 0.0, 1.0
    raise ValueError("unknown scaler kind %r" % kind)


def convert_forecaster(ckpt, output, module_out):
    """A checkpoint of `unroll train`: write the state_dict and the module file; returns the module config."""
    cfg = ckpt["config"]
    rec = cfg["net"]["recurrent"]
    cell = rec.get("cell")
    if cell not in ("rnn_tanh", "rnn_relu", "lstm", "gru", "gru_lbr"):
        raise ValueError("cell %r cannot be exported (exportable: gru, gru_lbr, lstm, rnn_relu, rnn_tanh)" % cell)
    if rec.get("bidirectional") or cfg["net"].get("head", "last") != "last" or cfg["net"].get("output_size", 1) != 1:
        raise ValueError("only unidirectional forecasters with one output at the last step can be exported")
    if cell.startswith("gru") and rec.get("cell_options"):
        raise ValueError("GRU cell options %r cannot be exported" % rec["cell_options"])
    offset, scale = scaler_offset_scale(ckpt.get("scaler"))
    module_config = {"cell": cell, "input_size": rec["input_size"], "hidden_size": rec["hidden_size"],
                     "layers": rec.get("layers", 1), "history": cfg["history"], "residual": bool(cfg["residual"]),
                     "highway": bool(cfg["highway"]), "despike": float(cfg.get("despike", 0.0)),
                     "scaler_offset": offset, "scaler_scale": scale}
    with open(module_out, "w") as f:
        f.write(FORECASTER_MODULE % {"config": repr(module_config)})
    import importlib.util
    spec = importlib.util.spec_from_file_location("unroll_exported_forecaster", module_out)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    net = mod.UnrollForecaster(module_config)
    state = collections.OrderedDict((path.replace("/", "_"), torch.from_numpy(value.copy()))
                                    for path, value in ckpt["params"].items())
    net.load_state_dict(state, strict=True)  # fails on missing/unexpected names or shapes
    torch.save(net.state_dict(), output)
    return module_config


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint")
    ap.add_argument("output")
    ap.add_argument("--config-out")
    ap.add_argument("--module-out", help="forecasters: the nn.Module file (default: OUTPUT with .py)")
    args = ap.parse_args()
    try:
        ckpt = unroll_checkpoint.read_checkpoint(args.checkpoint)
        if isinstance(ckpt.get("config"), dict) and "net" in ckpt["config"]:
            module_out = args.module_out or os.path.splitext(args.output)[0] + ".py"
            cfg = convert_forecaster(ckpt, args.output, module_out)
            if args.config_out:
                with open(args.config_out, "w") as f:
                    json.dump(cfg, f, indent=1)
        else:
            cfg = convert(args.checkpoint, args.output, args.config_out)
    except Exception as e:  # one line, not a traceback
        sys.stderr.write("unroll_to_torch: %s: %s\n" % (args.checkpoint, str(e).splitlines()[0] if str(e) else type(e).__name__))
        return 2
    print(json.dumps(cfg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
