#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Self-consistency check for tests/fixtures/torch_<model>_<case>.h5.

Usage (from the repository root):

    /usr/bin/python3 tools/check_fixtures.py [fixture_dir]

For every fixture written by tools/make_torch_fixtures.py (layout documented
there and in tests/fixtures/README.md) this checks:

  1. root attributes and the exact set of datasets, their shapes and dtypes;
  2. /unroll/<path> == /torch/<name> via torch_name_to_unroll_path, and the same
     for /grad/unroll vs /grad/torch;
  3. stored inputs (parameters, input, h0, c0, w_*) are exactly float32-representable;
  4. torch recompute: a fresh float64 module loaded from /torch reproduces
     /output, /h_n, /c_n and every /grad/* (tolerance 1e-12);
  5. an independent numpy implementation of the documented equations, driven
     by the /unroll parameters, reproduces /output, /h_n, /c_n, and central
     finite differences of it reproduce every /grad/* entry;
  6. varlen: output and grad/input are zero past each length; every other
     gradient is non-trivial (no all-zero gradient tensor);
  7. regenerating the case in memory gives bit-identical datasets (only
     enforced when the installed torch version matches the file's).

Exit status 0 when everything passes, 1 otherwise.
"""

import os
import sys

import h5py
import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_torch_fixtures as gen  # noqa: E402
from make_torch_fixtures import torch_name_to_unroll_path  # noqa: E402

TOL = 1e-12
FD_EPS = 1e-6
FD_TOL = 1e-7

GATES = {"rnn": 1, "lstm": 4, "gru": 3}
REQUIRED_ATTRS = ("model", "num_layers", "bidirectional", "input_size",
                  "hidden_size", "batch", "seq_len", "torch_version", "generator")


class Failure(Exception):
    pass


def expect(cond, msg):
    if not cond:
        raise Failure(msg)


def close(name, got, want, tol=TOL):
    got = np.asarray(got)
    want = np.asarray(want)
    expect(got.shape == want.shape, "%s: shape %s != %s" % (name, got.shape, want.shape))
    err = np.max(np.abs(got - want) / (1.0 + np.abs(want))) if got.size else 0.0
    expect(err <= tol, "%s: max rel err %.3g > %.3g" % (name, err, tol))
    return err


def attr_str(v):
    return v.decode("ascii") if isinstance(v, bytes) else str(v)


def read_all(f):
    out = {}

    def visit(name, obj):
        if isinstance(obj, h5py.Dataset):
            out[name] = obj[()]
    f.visititems(visit)
    return out


def param_names(num_layers, D):
    names = []
    for k in range(num_layers):
        for suf in ([""] if D == 1 else ["", "_reverse"]):
            names += ["weight_ih_l%d%s" % (k, suf), "weight_hh_l%d%s" % (k, suf),
                      "bias_ih_l%d%s" % (k, suf), "bias_hh_l%d%s" % (k, suf)]
    return names


def expected_shapes(model, L, D, I, H, B, T, varlen):
    G = GATES[model]
    shp = {}
    for n in param_names(L, D):
        k = int(n.split("_l")[1].split("_")[0])
        in_k = I if k == 0 else D * H
        if n.startswith("weight_ih"):
            s = (G * H, in_k)
        elif n.startswith("weight_hh"):
            s = (G * H, H)
        else:
            s = (G * H,)
        u = torch_name_to_unroll_path(n)
        shp["torch/" + n] = s
        shp["unroll/" + u] = s
        shp["grad/torch/" + n] = s
        shp["grad/unroll/" + u] = s
    state = (L * D, B, H)
    shp.update({"input": (T, B, I), "h0": state, "output": (T, B, D * H),
                "h_n": state, "w_out": (T, B, D * H), "w_hn": state,
                "grad/input": (T, B, I), "grad/h0": state})
    if model == "lstm":
        shp.update({"c0": state, "c_n": state, "w_cn": state, "grad/c0": state})
    if varlen:
        shp["lengths"] = (B,)
    return shp


# ---------------------------------------------------------------------------
# torch recompute


def torch_recompute(model, L, D, ds):
    module = gen.make_module(model, L, D == 2).double()
    with torch.no_grad():
        for n, p in module.named_parameters():
            p.copy_(torch.from_numpy(ds["torch/" + n]))
    x = torch.from_numpy(ds["input"].copy()).requires_grad_(True)
    h0 = torch.from_numpy(ds["h0"].copy()).requires_grad_(True)
    c0 = torch.from_numpy(ds["c0"].copy()).requires_grad_(True) if model == "lstm" else None
    hx = (h0, c0) if model == "lstm" else h0
    if "lengths" in ds:
        lengths = torch.from_numpy(ds["lengths"].copy())
        packed = pack_padded_sequence(x, lengths, enforce_sorted=False)
        out, hn = module(packed, hx)
        out, _ = pad_packed_sequence(out, total_length=x.shape[0])
    else:
        out, hn = module(x, hx)
    h_n, c_n = hn if model == "lstm" else (hn, None)
    loss = (out * torch.from_numpy(ds["w_out"])).sum() + (h_n * torch.from_numpy(ds["w_hn"])).sum()
    if model == "lstm":
        loss = loss + (c_n * torch.from_numpy(ds["w_cn"])).sum()
    loss.backward()
    res = {"output": out, "h_n": h_n, "grad/input": x.grad, "grad/h0": h0.grad}
    if model == "lstm":
        res.update({"c_n": c_n, "grad/c0": c0.grad})
    for n, p in module.named_parameters():
        res["grad/torch/" + n] = p.grad
    return {k: v.detach().numpy() for k, v in res.items()}


# ---------------------------------------------------------------------------
# independent numpy reference (documented equations, unroll parameter paths)


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def cell(model, p, x, h, c):
    """One step. x [B,in], h/c [B,H]; p has w_ih, w_hh, b_ih, b_hh."""
    gi = x @ p["w_ih"].T + p["b_ih"]
    gh = h @ p["w_hh"].T + p["b_hh"]
    H = h.shape[1]
    if model == "rnn":
        return np.tanh(gi + gh), None
    if model == "lstm":
        g = gi + gh
        i, f, gg, o = (g[:, j * H:(j + 1) * H] for j in range(4))
        c2 = sigmoid(f) * c + sigmoid(i) * np.tanh(gg)
        return sigmoid(o) * np.tanh(c2), c2
    # gru: r, z, n
    r = sigmoid(gi[:, :H] + gh[:, :H])
    z = sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
    n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
    return (1.0 - z) * n + z * h, None


def reference_forward(model, L, D, params, x, h0, c0, lengths):
    """params: dict unroll path -> array. Returns output, h_n, c_n."""
    T, B, _ = x.shape
    H = h0.shape[2]
    if lengths is None:
        lengths = np.full(B, T, dtype=np.int64)
    mask = (np.arange(T)[:, None] < lengths[None, :])[:, :, None]  # [T,B,1]
    layer_in = x
    h_n = np.zeros_like(h0)
    c_n = np.zeros_like(h0) if c0 is not None else None
    for k in range(L):
        outs = []
        for d in range(D):
            prefix = "l%d%s/" % (k, "_reverse" if d == 1 else "")
            p = {leaf: params[prefix + leaf] for leaf in ("w_ih", "w_hh", "b_ih", "b_hh")}
            idx = k * D + d
            h = h0[idx]
            c = c0[idx] if c0 is not None else None
            out = np.zeros((T, B, H))
            steps = range(T) if d == 0 else range(T - 1, -1, -1)
            for t in steps:
                h2, c2 = cell(model, p, layer_in[t], h, c)
                m = mask[t]
                h = np.where(m, h2, h)          # state frozen outside [0, len)
                if c is not None:
                    c = np.where(m, c2, c)
                out[t] = np.where(m, h, 0.0)    # padded output is zero
            h_n[idx] = h
            if c is not None:
                c_n[idx] = c
            outs.append(out)
        layer_in = np.concatenate(outs, axis=2)
    return layer_in, h_n, c_n


def reference_loss(model, L, D, params, x, h0, c0, lengths, ds):
    out, h_n, c_n = reference_forward(model, L, D, params, x, h0, c0, lengths)
    loss = np.sum(out * ds["w_out"]) + np.sum(h_n * ds["w_hn"])
    if c_n is not None:
        loss += np.sum(c_n * ds["w_cn"])
    return loss


def fd_check(model, L, D, ds, report):
    lengths = ds.get("lengths")
    params = {k[len("unroll/"):]: v.copy() for k, v in ds.items() if k.startswith("unroll/")}
    x = ds["input"].copy()
    h0 = ds["h0"].copy()
    c0 = ds["c0"].copy() if model == "lstm" else None
    targets = [("grad/input", x), ("grad/h0", h0)]
    if c0 is not None:
        targets.append(("grad/c0", c0))
    for path, arr in params.items():
        targets.append(("grad/unroll/" + path, arr))

    def f():
        return reference_loss(model, L, D, params, x, h0, c0, lengths, ds)

    worst = 0.0
    for gname, arr in targets:
        fd = np.zeros_like(arr)
        flat = arr.reshape(-1)
        fdf = fd.reshape(-1)
        for i in range(flat.size):
            v = flat[i]
            flat[i] = v + FD_EPS
            lp = f()
            flat[i] = v - FD_EPS
            lm = f()
            flat[i] = v
            fdf[i] = (lp - lm) / (2 * FD_EPS)
        worst = max(worst, close("finite-difference " + gname, fd, ds[gname], FD_TOL))
    report.append("fd max rel err %.1e" % worst)


# ---------------------------------------------------------------------------


def check_file(path, model, case, report):
    L_exp, bi_exp, varlen = gen.CASES[case]
    with h5py.File(path, "r") as f:
        a = {k: f.attrs[k] for k in f.attrs}
        ds = read_all(f)
        dtypes = {k: f[k].dtype for k in ds}

    for k in REQUIRED_ATTRS:
        expect(k in a, "missing root attribute %r" % k)
    expect(attr_str(a["model"]) == model, "attr model %r" % a["model"])
    expect(attr_str(a["generator"]) == gen.GENERATOR, "attr generator %r" % a["generator"])
    L = int(a["num_layers"])
    D = 2 if int(a["bidirectional"]) else 1
    I, H = int(a["input_size"]), int(a["hidden_size"])
    B, T = int(a["batch"]), int(a["seq_len"])
    expect((L, D == 2) == (L_exp, bi_exp), "num_layers/bidirectional mismatch for case")
    expect((I, H, B, T) == (gen.INPUT_SIZE, gen.HIDDEN_SIZE, gen.BATCH, gen.SEQ_LEN),
           "sizes %s" % ((I, H, B, T),))

    # 1. dataset set, shapes, dtypes
    shp = expected_shapes(model, L, D, I, H, B, T, varlen)
    missing = sorted(set(shp) - set(ds))
    extra = sorted(set(ds) - set(shp))
    expect(not missing, "missing datasets %s" % missing)
    expect(not extra, "unexpected datasets %s" % extra)
    for k, s in shp.items():
        expect(ds[k].shape == s, "%s: shape %s, expected %s" % (k, ds[k].shape, s))
        want = np.int64 if k == "lengths" else np.float64
        expect(dtypes[k] == want, "%s: dtype %s, expected %s" % (k, dtypes[k], want))
    lengths = ds.get("lengths")
    if varlen:
        expect(lengths.tolist() == gen.VARLEN_LENGTHS, "lengths %s" % lengths)

    # 2. unroll copies equal torch tensors
    for n in param_names(L, D):
        u = torch_name_to_unroll_path(n)
        expect(np.array_equal(ds["unroll/" + u], ds["torch/" + n]), "unroll/%s != torch/%s" % (u, n))
        expect(np.array_equal(ds["grad/unroll/" + u], ds["grad/torch/" + n]),
               "grad/unroll/%s != grad/torch/%s" % (u, n))

    # 3. inputs are float32-representable; h0/c0 nonzero
    for k, v in ds.items():
        if k.startswith(("torch/", "unroll/")) or k in ("input", "h0", "c0", "w_out", "w_hn", "w_cn"):
            expect(np.array_equal(v.astype(np.float32).astype(np.float64), v),
                   "%s is not float32-representable" % k)
    expect(np.all(ds["h0"] != 0), "h0 has zeros")
    if model == "lstm":
        expect(np.all(ds["c0"] != 0), "c0 has zeros")

    # 4. torch recompute
    res = torch_recompute(model, L, D, ds)
    worst = max(close("recompute " + k, v, ds[k]) for k, v in res.items())
    report.append("torch max rel err %.1e" % worst)

    # 5. numpy reference forward + finite differences
    params = {k[len("unroll/"):]: v for k, v in ds.items() if k.startswith("unroll/")}
    out, h_n, c_n = reference_forward(model, L, D, params, ds["input"], ds["h0"],
                                      ds.get("c0"), lengths)
    close("numpy output", out, ds["output"])
    close("numpy h_n", h_n, ds["h_n"])
    if model == "lstm":
        close("numpy c_n", c_n, ds["c_n"])
    fd_check(model, L, D, ds, report)

    # 6. padding and non-trivial gradients
    if varlen:
        for b, n in enumerate(lengths):
            expect(np.all(ds["output"][n:, b] == 0), "output not zero past length (b=%d)" % b)
            expect(np.all(ds["grad/input"][n:, b] == 0), "grad/input not zero past length (b=%d)" % b)
            expect(np.all(np.abs(ds["output"][:n, b]).sum(axis=-1) > 0), "output zero inside length")
    for k, v in ds.items():
        if k.startswith("grad/"):
            expect(np.any(v != 0), "%s is all zero" % k)

    # 7. regeneration is bit-identical
    _, regen = gen.compute_case(model, case)
    same_version = attr_str(a["torch_version"]) == str(torch.__version__)
    diff = [k for k in regen if not np.array_equal(regen[k], ds.get(k))]
    if diff:
        msg = "regeneration differs in %s" % diff[:5]
        if same_version:
            raise Failure(msg)
        report.append("WARNING (torch %s vs file %s): %s"
                      % (torch.__version__, attr_str(a["torch_version"]), msg))
    else:
        report.append("regen identical")


def main(argv):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    fixdir = argv[1] if len(argv) > 1 else os.path.join(repo, "tests", "fixtures")
    torch.set_num_threads(1)
    failed = 0
    for model in gen.MODELS:
        for case in gen.CASES:
            name = "torch_%s_%s.h5" % (model, case)
            path = os.path.join(fixdir, name)
            report = []
            try:
                expect(os.path.exists(path), "missing file")
                check_file(path, model, case, report)
                print("ok   %-22s %s" % (name, "; ".join(report)))
            except Failure as e:
                failed += 1
                print("FAIL %-22s %s" % (name, e))
    print("%d/%d fixtures ok" % (9 - failed, 9))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
