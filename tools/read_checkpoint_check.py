#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Check an unroll checkpoint with h5py alone against an expectation file (used by the test suite).

    /usr/bin/python3 tools/read_checkpoint_check.py CHECKPOINT.h5 EXPECT.json

EXPECT.json: {"params": {path: {"dtype": "float32", "shape": [..], "values": [.. row-major ..]}},
              "config": {...}, "optimizer": {"kind", "step", "slots": {path: {slot: {...same as params}}}},
              "rng": [4 ints], "trainer": {"epoch", "step", "data_cursor", "shuffle_seed"}}
Every key is optional except params. Checks: header CRC, payload checksum (recomputed here from the
definition in docs/checkpoint-format.md), format attributes, the exact set of parameter names, and every
name, shape, dtype and value (bit-exact after conversion to the stored dtype). Exit 0 = all good.
"""
import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import unroll_checkpoint  # noqa: E402


def check_tensor(where, arr, want, problems):
    if str(arr.dtype) != want["dtype"]:
        problems.append("%s: dtype %s, expected %s" % (where, arr.dtype, want["dtype"]))
        return
    if list(arr.shape) != want["shape"]:
        problems.append("%s: shape %s, expected %s" % (where, list(arr.shape), want["shape"]))
        return
    expected = np.asarray(want["values"], dtype=np.float64).astype(arr.dtype).reshape(arr.shape)
    if not np.array_equal(arr, expected):
        i = int(np.argmax((arr != expected).ravel()))
        problems.append("%s: value %r at flat index %d, expected %r" % (where, arr.ravel()[i], i, expected.ravel()[i]))


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    path, expect_path = sys.argv[1], sys.argv[2]
    with open(expect_path) as f:
        want = json.load(f)
    try:
        ckpt = unroll_checkpoint.read_checkpoint(path)
    except unroll_checkpoint.CheckpointError as e:
        print("FAIL:", e)
        return 1
    problems = []
    if ckpt["root"]["format_version"] != 1:
        problems.append("format_version %s" % ckpt["root"]["format_version"])
    names = list(ckpt["params"].keys())
    if sorted(names) != sorted(want["params"].keys()):
        problems.append("parameter names %s, expected %s" % (names, sorted(want["params"].keys())))
    for name, spec in want["params"].items():
        if name in ckpt["params"]:
            check_tensor("/params/" + name, ckpt["params"][name], spec, problems)
    if "order" in want and names != want["order"]:
        problems.append("parameter order %s, expected %s" % (names, want["order"]))
    if "config" in want and ckpt["config"] != want["config"]:
        problems.append("config %s, expected %s" % (ckpt["config"], want["config"]))
    if "optimizer" in want:
        o = ckpt["optimizer"]
        if o is None:
            problems.append("no /optimizer")
        else:
            for k in ("kind", "step"):
                if o[k] != want["optimizer"][k]:
                    problems.append("optimizer %s %r, expected %r" % (k, o[k], want["optimizer"][k]))
            for param, slots in want["optimizer"].get("slots", {}).items():
                for slot, spec in slots.items():
                    arr = o["slots"].get(param, {}).get(slot)
                    if arr is None:
                        problems.append("missing /optimizer/slots/%s/%s" % (param, slot))
                    else:
                        check_tensor("/optimizer/slots/%s/%s" % (param, slot), arr, spec, problems)
    if "rng" in want and ckpt["rng"] != want["rng"]:
        problems.append("rng %s, expected %s" % (ckpt["rng"], want["rng"]))
    for k, v in want.get("trainer", {}).items():
        if ckpt["trainer"].get(k) != v:
            problems.append("trainer %s %r, expected %r" % (k, ckpt["trainer"].get(k), v))
    for p in problems:
        print("FAIL:", p)
    if not problems:
        print("OK: %d parameters checked in %s" % (len(names), path))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
