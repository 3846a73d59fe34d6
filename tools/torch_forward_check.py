#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""PyTorch interop check (used by the test suite): export, run PyTorch's forward, import back.

    /usr/bin/python3 tools/torch_forward_check.py PLAN.json

PLAN.json: a list of cases {"checkpoint", "state_dict", "config", "io", "back", "expect_match"}: each
unroll checkpoint is converted with unroll_to_torch.convert to state_dict (+ torch config file), PyTorch's
nn module runs on io["input"] and is compared with unroll's io["output"], io["h_n"] (and io["c_n"]) within
io["tolerance"]; then torch_to_unroll.convert writes "back". A case with "expect_match": false must NOT
match (proves the check can fail). One process for all cases: importing torch is the slow part.
Exit 0 when every case behaves as expected.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_to_unroll  # noqa: E402
import unroll_to_torch  # noqa: E402


def forward_diffs(state_path, cfg, io):
    module = unroll_to_torch.make_module(cfg)
    module.load_state_dict(torch.load(state_path), strict=True)
    module.eval()
    x = torch.tensor(io["input"], dtype=torch.float32)
    with torch.no_grad():
        out, state = module(x)
    h_n, c_n = (state if isinstance(state, tuple) else (state, None))
    worst = {"output": (out - torch.tensor(io["output"])).abs().max().item(),
             "h_n": (h_n - torch.tensor(io["h_n"])).abs().max().item()}
    if c_n is not None:
        worst["c_n"] = (c_n - torch.tensor(io["c_n"])).abs().max().item()
    return worst


def main():
    with open(sys.argv[1]) as f:
        plan = json.load(f)
    failures = 0
    for case in plan:
        cfg = unroll_to_torch.convert(case["checkpoint"], case["state_dict"], case.get("config"))
        with open(case["io"]) as f:
            io = json.load(f)
        worst = forward_diffs(case["state_dict"], cfg, io)
        match = all(v <= io["tolerance"] for v in worst.values())
        ok = match == case.get("expect_match", True)
        failures += not ok
        print("%s %s %s: max |torch - unroll| = %s (tolerance %g, expected %s)"
              % ("OK  " if ok else "FAIL", cfg["module"], case["checkpoint"], worst, io["tolerance"],
                 "match" if case.get("expect_match", True) else "mismatch"))
        if case.get("back"):
            torch_to_unroll.convert(case["state_dict"], case["back"], cfg.get("nonlinearity", "tanh"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
