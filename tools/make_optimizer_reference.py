#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# What lives here: the script that produced the PyTorch reference numbers hard-coded in
# tests/test_optim.cpp ("optimizers match torch.optim"). Run: /usr/bin/python3 tools/make_optimizer_reference.py
# Problem: w = [0.5, -1.0, 2.0] (float64), loss(w) = sum((w * x - y)^2) with x = [1.0, 2.0, -0.5],
# y = [0.3, 0.1, -2.0]; three optimizer steps; prints w after each step with 17 significant digits.
import torch

def run(make, steps=3):
    w = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64, requires_grad=True)
    x = torch.tensor([1.0, 2.0, -0.5], dtype=torch.float64)
    y = torch.tensor([0.3, 0.1, -2.0], dtype=torch.float64)
    opt = make([w])
    out = []
    for _ in range(steps):
        opt.zero_grad()
        loss = ((w * x - y) ** 2).sum()
        loss.backward()
        opt.step()
        out.append([float(v) for v in w.detach()])
    return out

cases = {
    "adam": lambda p: torch.optim.Adam(p, lr=0.1, betas=(0.9, 0.999), eps=1e-8),
    "adam_wd": lambda p: torch.optim.Adam(p, lr=0.05, weight_decay=0.1),
    "sgd_nesterov": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
    "rmsprop_momentum": lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.99, eps=1e-8, momentum=0.5),
}
for name, make in cases.items():
    print(name)
    for row in run(make):
        print("  {" + ", ".join("%.17g" % v for v in row) + "},")
