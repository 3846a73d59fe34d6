#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Generate PyTorch reference fixtures for unroll's RNN / LSTM / GRU layers.

Regenerate (from the repository root):

    /usr/bin/python3 tools/make_torch_fixtures.py            # writes tests/fixtures/
    /usr/bin/python3 tools/check_fixtures.py                 # self-consistency check

Requirements: python3-torch (1.13), python3-h5py, python3-numpy (Debian 12).

Cases (one file each, 9 files in total):

    tests/fixtures/torch_<model>_<case>.h5
        model in {rnn, lstm, gru}   (rnn = nn.RNN with nonlinearity='tanh')
        case  in {bi2, uni1, varlen}
          bi2    : num_layers=2, bidirectional=True,  all sequences full length
          uni1   : num_layers=1, bidirectional=False, all sequences full length
          varlen : num_layers=2, bidirectional=True,  lengths [4, 2, 3] fed through
                   pack_padded_sequence(..., enforce_sorted=False) and unpacked with
                   pad_packed_sequence(..., total_length=seq_len); output is zero past
                   each sequence's length.
    All cases: batch_first=False, bias=True, batch B=3, seq_len T=4,
    input_size I=5, hidden_size H=6.

Notation: L = num_layers, D = 2 if bidirectional else 1, G = number of gates
(rnn 1, lstm 4, gru 3). Layer k's input size is I for k == 0, D*H otherwise.

File layout (all float datasets are float64, contiguous, uncompressed;
strings are fixed-length null-padded ASCII; integer attributes are int64):

  root attributes
    model          "rnn" | "lstm" | "gru"
    num_layers     L
    bidirectional  0 | 1
    input_size     I
    hidden_size    H
    batch          B
    seq_len        T
    torch_version  torch.__version__ used to generate
    generator      "tools/make_torch_fixtures.py"
    (extra, informational: case, nonlinearity ("tanh" for rnn, "" otherwise),
     batch_first (0), bias (1), seed, loss (text of the loss formula))

  /torch/<name>          every state_dict entry under PyTorch's own name:
                         weight_ih_l{k}[_reverse]  [G*H, in_k]
                         weight_hh_l{k}[_reverse]  [G*H, H]
                         bias_ih_l{k}[_reverse]    [G*H]
                         bias_hh_l{k}[_reverse]    [G*H]
  /unroll/<path>         the same tensors under unroll's parameter paths
                         (see torch_name_to_unroll_path):
                         l{k}/w_ih, l{k}/w_hh, l{k}/b_ih, l{k}/b_hh and
                         l{k}_reverse/w_ih, ... for the reverse direction.
                         Gate order is identical (LSTM i,f,g,o; GRU r,z,n), so
                         values are copied unchanged.
  /input                 [T, B, I]
  /h0                    [L*D, B, H]   (random, nonzero; index = layer*D + dir)
  /c0                    [L*D, B, H]   (lstm only)
  /lengths               [B] int64     (varlen only; values 4, 2, 3)
  /output                [T, B, D*H]   module output; last axis = [fwd H | reverse H]
                                       (zero past each length for varlen)
  /h_n                   [L*D, B, H]
  /c_n                   [L*D, B, H]   (lstm only)
  /w_out                 [T, B, D*H]   loss weights
  /w_hn                  [L*D, B, H]
  /w_cn                  [L*D, B, H]   (lstm only)
  /grad/input            dLoss/dinput   [T, B, I] (zero past length for varlen)
  /grad/h0               dLoss/dh0
  /grad/c0               dLoss/dc0      (lstm only)
  /grad/torch/<name>     dLoss/dparam for every /torch/<name>
  /grad/unroll/<path>    the same gradients under unroll paths

  Loss = sum(output * w_out) + sum(h_n * w_hn) [+ sum(c_n * w_cn) for lstm]

varlen semantics (PyTorch packed sequences, batch order kept as given): for
sequence b of length n_b the forward direction runs t = 0..n_b-1 and its h_n
is the state after t = n_b-1; the reverse direction starts from h0 at
t = n_b-1, runs down to t = 0, and its h_n is the state after t = 0. The
stored input is zeroed past each length (its value there has no effect).

Determinism: every case seeds torch with a fixed per-case seed before building
the module and drawing the random tensors. Parameters use PyTorch's default
uniform(-1/sqrt(H), 1/sqrt(H)) init drawn in float32, and input/h0/c0/loss
weights are drawn in float32 too; everything is then converted to float64
(module.double()) and the forward/backward pass runs in float64. Hence every
stored *input* (parameters, input, h0, c0, w_*) is exactly representable in
float32, so a float32 test sees bit-identical inputs, while the stored
*outputs* (output, h_n, c_n, grad/*) are float64 results.
Files are written with libver='latest' and without object timestamps, so two
runs produce byte-identical files.
"""

import os
import re
import sys

import h5py
import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

GENERATOR = "tools/make_torch_fixtures.py"

BATCH = 3
SEQ_LEN = 4
INPUT_SIZE = 5
HIDDEN_SIZE = 6
VARLEN_LENGTHS = [4, 2, 3]

MODELS = ("rnn", "lstm", "gru")
# case name -> (num_layers, bidirectional, variable lengths)
CASES = {
    "bi2": (2, True, False),
    "uni1": (1, False, False),
    "varlen": (2, True, True),
}
# fixed, distinct seed per (model, case)
SEEDS = {
    (m, c): 20240 + 10 * mi + ci
    for mi, m in enumerate(MODELS)
    for ci, c in enumerate(CASES)
}

LOSS_TEXT = ("sum(output * w_out) + sum(h_n * w_hn)"
             " [+ sum(c_n * w_cn) for lstm]")

_TORCH_NAME_RE = re.compile(r"^(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)(_reverse)?$")
_TORCH_TO_UNROLL_LEAF = {
    "weight_ih": "w_ih",
    "weight_hh": "w_hh",
    "bias_ih": "b_ih",
    "bias_hh": "b_hh",
}


def torch_name_to_unroll_path(name):
    """Map a PyTorch nn.RNN/LSTM/GRU state_dict name to unroll's parameter path.

    weight_ih_l{k} -> l{k}/w_ih      weight_ih_l{k}_reverse -> l{k}_reverse/w_ih
    weight_hh_l{k} -> l{k}/w_hh      (same pattern for the other three)
    bias_ih_l{k}   -> l{k}/b_ih
    bias_hh_l{k}   -> l{k}/b_hh

    Gate order/layout is the same in both (LSTM i,f,g,o; GRU r,z,n; rows are
    gate-major blocks of hidden_size), so tensor values are copied unchanged.
    Raises ValueError for names that are not recognised (e.g. proj weights).
    """
    m = _TORCH_NAME_RE.match(name)
    if m is None:
        raise ValueError("unsupported PyTorch RNN parameter name: %r" % (name,))
    kind, layer, reverse = m.groups()
    return "l%d%s/%s" % (int(layer), "_reverse" if reverse else "",
                         _TORCH_TO_UNROLL_LEAF[kind])


def make_module(model, num_layers, bidirectional):
    kw = dict(input_size=INPUT_SIZE, hidden_size=HIDDEN_SIZE,
              num_layers=num_layers, bias=True, batch_first=False,
              bidirectional=bidirectional)
    if model == "rnn":
        return torch.nn.RNN(nonlinearity="tanh", **kw)
    if model == "lstm":
        return torch.nn.LSTM(**kw)
    if model == "gru":
        return torch.nn.GRU(**kw)
    raise ValueError(model)


def _rand(*shape):
    """Standard normal drawn in float32, returned as float64 (exact)."""
    return torch.randn(*shape, dtype=torch.float32).double()


def compute_case(model, case):
    """Build the module, run forward + backward; return (attrs, datasets)."""
    num_layers, bidirectional, varlen = CASES[case]
    seed = SEEDS[(model, case)]
    D = 2 if bidirectional else 1
    T, B, I, H = SEQ_LEN, BATCH, INPUT_SIZE, HIDDEN_SIZE
    is_lstm = model == "lstm"

    torch.manual_seed(seed)
    module = make_module(model, num_layers, bidirectional).double()

    x = _rand(T, B, I)
    h0 = _rand(num_layers * D, B, H)
    c0 = _rand(num_layers * D, B, H) if is_lstm else None
    w_out = _rand(T, B, D * H)
    w_hn = _rand(num_layers * D, B, H)
    w_cn = _rand(num_layers * D, B, H) if is_lstm else None
    lengths = torch.tensor(VARLEN_LENGTHS, dtype=torch.int64) if varlen else None

    if varlen:
        # zero the padding in the stored input: it cannot influence anything,
        # and zeros make that obvious to a reader of the fixture.
        for b, n in enumerate(VARLEN_LENGTHS):
            x[n:, b, :] = 0.0

    x.requires_grad_(True)
    h0.requires_grad_(True)
    if is_lstm:
        c0.requires_grad_(True)
    hx = (h0, c0) if is_lstm else h0

    if varlen:
        packed = pack_padded_sequence(x, lengths, batch_first=False,
                                      enforce_sorted=False)
        out_packed, hn = module(packed, hx)
        output, out_lens = pad_packed_sequence(out_packed, batch_first=False,
                                               total_length=T)
        assert out_lens.tolist() == VARLEN_LENGTHS
    else:
        output, hn = module(x, hx)

    if is_lstm:
        h_n, c_n = hn
    else:
        h_n, c_n = hn, None

    loss = (output * w_out).sum() + (h_n * w_hn).sum()
    if is_lstm:
        loss = loss + (c_n * w_cn).sum()

    module.zero_grad(set_to_none=True)
    loss.backward()

    assert output.shape == (T, B, D * H)
    assert h_n.shape == (num_layers * D, B, H)

    ds = {}  # ordered: name -> numpy array
    state = module.state_dict()
    params = dict(module.named_parameters())
    assert list(state.keys()) == list(params.keys())

    for name, t in state.items():
        ds["torch/" + name] = t.detach().numpy().astype(np.float64)
    for name, t in state.items():
        ds["unroll/" + torch_name_to_unroll_path(name)] = \
            t.detach().numpy().astype(np.float64)

    def npy(t):
        return t.detach().numpy().astype(np.float64).copy()

    ds["input"] = npy(x)
    ds["h0"] = npy(h0)
    if is_lstm:
        ds["c0"] = npy(c0)
    if varlen:
        ds["lengths"] = lengths.numpy().astype(np.int64)
    ds["output"] = npy(output)
    ds["h_n"] = npy(h_n)
    if is_lstm:
        ds["c_n"] = npy(c_n)
    ds["w_out"] = npy(w_out)
    ds["w_hn"] = npy(w_hn)
    if is_lstm:
        ds["w_cn"] = npy(w_cn)
    ds["grad/input"] = npy(x.grad)
    ds["grad/h0"] = npy(h0.grad)
    if is_lstm:
        ds["grad/c0"] = npy(c0.grad)
    for name, p in params.items():
        ds["grad/torch/" + name] = npy(p.grad)
    for name, p in params.items():
        ds["grad/unroll/" + torch_name_to_unroll_path(name)] = npy(p.grad)

    attrs = {
        "model": model,
        "num_layers": num_layers,
        "bidirectional": int(bidirectional),
        "input_size": I,
        "hidden_size": H,
        "batch": B,
        "seq_len": T,
        "torch_version": str(torch.__version__),
        "generator": GENERATOR,
        "case": case,
        "nonlinearity": "tanh" if model == "rnn" else "",
        "batch_first": 0,
        "bias": 1,
        "seed": seed,
        "loss": LOSS_TEXT,
    }
    return attrs, ds


# ---------------------------------------------------------------------------
# deterministic HDF5 writing


def _gcpl():
    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)
    return gcpl


def _require_group(f, path):
    """Create (if needed) each group along `path`, without timestamps."""
    grp = f
    for part in [p for p in path.split("/") if p]:
        if part in grp:
            grp = grp[part]
        else:
            gid = h5py.h5g.create(grp.id, part.encode("ascii"), gcpl=_gcpl())
            grp = h5py.Group(gid)
    return grp


def _attr_value(v):
    if isinstance(v, str):
        # fixed-length ASCII (easier to read from C/C++ than vlen strings);
        # at least one byte so "" still has a valid type.
        return np.array(v.encode("ascii") if v else b"", dtype="S%d" % max(1, len(v)))
    if isinstance(v, (bool, int, np.integer)):
        return np.int64(v)
    raise TypeError(type(v))


def write_fixture(path, attrs, ds):
    tmp = path + ".tmp"
    fcpl = h5py.h5p.create(h5py.h5p.FILE_CREATE)
    fcpl.set_obj_track_times(False)  # root group has no timestamps
    fapl = h5py.h5p.create(h5py.h5p.FILE_ACCESS)
    fapl.set_libver_bounds(h5py.h5f.LIBVER_LATEST, h5py.h5f.LIBVER_LATEST)
    fid = h5py.h5f.create(tmp.encode(), h5py.h5f.ACC_TRUNC, fcpl=fcpl, fapl=fapl)
    with h5py.File(fid) as f:
        for k, v in attrs.items():
            f.attrs[k] = _attr_value(v)
        for name, arr in ds.items():
            parent, _, leaf = name.rpartition("/")
            grp = _require_group(f, parent) if parent else f
            grp.create_dataset(leaf, data=np.ascontiguousarray(arr),
                               track_times=False)
    os.replace(tmp, path)


def main(argv):
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    outdir = argv[1] if len(argv) > 1 else os.path.join(repo, "tests", "fixtures")
    os.makedirs(outdir, exist_ok=True)
    torch.set_num_threads(1)
    for model in MODELS:
        for case in CASES:
            attrs, ds = compute_case(model, case)
            path = os.path.join(outdir, "torch_%s_%s.h5" % (model, case))
            write_fixture(path, attrs, ds)
            print("wrote %s (%d bytes, %d datasets)"
                  % (os.path.relpath(path), os.path.getsize(path), len(ds)))


if __name__ == "__main__":
    main(sys.argv)
