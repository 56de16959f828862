#!/usr/bin/env python3
"""Reference fixtures for the NN kernels, computed by PyTorch (and encodec's own pad1d).

Writes Tests/Fixtures/nn/nn.f32 (every tensor as little-endian float32, back to back) and
Tests/Fixtures/nn/index.json ({"tensors": {name: {"shape": [...], "offset": elements}}, "cases": {...}}).
Activations are stored in the [B, C, T] layout our kernels use (LSTM inputs/outputs are permuted from
PyTorch's [T, B, C]). Seeded: rerunning gives the same bytes for the same torch version.

Usage: python3 scripts/make-nn-fixtures.py   (needs torch and encodec; not needed by the tests)
"""
import json
import os
import sys
import types

import numpy as np
import torch
import torch.nn.functional as F

# encodec imports torchaudio for file I/O only; keep it out of the way.
sys.modules.setdefault("torchaudio", types.ModuleType("torchaudio"))
from encodec.modules.conv import pad1d, unpad1d  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "nn")

torch.manual_seed(1234)
torch.set_num_threads(1)

tensors = {}  # name -> np.float32 array
cases = {}    # fixture group -> list of case descriptions (hyper-parameters + tensor names)


def put(name, t):
    a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    tensors[name] = np.ascontiguousarray(a, dtype="<f4")
    return name


def rand(*shape, scale=1.0):
    return (torch.rand(*shape) * 2 - 1) * scale


# Conv1d: stride and dilation, with and without bias, and the fused pre-activation ELU.
cases["conv1d"] = []
for i, (b, cin, cout, t, k, s, d, bias, elu) in enumerate([
    (1, 5, 7, 40, 3, 1, 2, True, False),
    (2, 4, 6, 61, 8, 4, 1, True, False),
    (1, 3, 5, 30, 7, 1, 1, False, True),
    (1, 8, 16, 45, 10, 5, 1, True, True),
    (1, 6, 3, 33, 3, 2, 3, True, False),
]):
    x = rand(b, cin, t, scale=2)
    w = rand(cout, cin, k, scale=1 / (cin * k) ** 0.5)
    bb = rand(cout, scale=0.5) if bias else None
    y = F.conv1d(F.elu(x) if elu else x, w, bb, stride=s, dilation=d)
    p = f"conv1d.{i}."
    cases["conv1d"].append(dict(batch=b, inChannels=cin, outChannels=cout, inLength=t, kernelSize=k, stride=s,
                                dilation=d, elu=elu, x=put(p + "x", x), weight=put(p + "weight", w),
                                bias=put(p + "bias", bb) if bias else None, y=put(p + "y", y)))

# ConvTranspose1d: the full output (padding 0), strides as in SEANet and one with K not a multiple of s.
cases["convTranspose1d"] = []
for i, (b, cin, cout, t, k, s, bias, elu) in enumerate([
    (1, 6, 4, 13, 8, 4, True, False),
    (2, 3, 5, 9, 10, 5, True, True),
    (1, 4, 2, 11, 3, 2, False, False),
    (1, 16, 8, 7, 16, 8, True, True),
]):
    x = rand(b, cin, t, scale=2)
    w = rand(cin, cout, k, scale=1 / (cin * k / s) ** 0.5)
    bb = rand(cout, scale=0.5) if bias else None
    y = F.conv_transpose1d(F.elu(x) if elu else x, w, bb, stride=s)
    p = f"convTranspose1d.{i}."
    cases["convTranspose1d"].append(dict(batch=b, inChannels=cin, outChannels=cout, inLength=t, kernelSize=k, stride=s,
                                         elu=elu, x=put(p + "x", x), weight=put(p + "weight", w),
                                         bias=put(p + "bias", bb) if bias else None, y=put(p + "y", y)))

# LSTM: 2 layers, hidden size not a multiple of 16, batch 2, with an initial state; also from zeros.
cases["lstm"] = []
for i, (b, inp, hid, t, layers, init) in enumerate([(2, 6, 10, 12, 2, True), (1, 5, 20, 9, 2, False)]):
    lstm = torch.nn.LSTM(inp, hid, layers)
    x = rand(t, b, inp, scale=2)  # PyTorch layout [T, B, In]
    h0 = rand(layers, b, hid) if init else torch.zeros(layers, b, hid)
    c0 = rand(layers, b, hid, scale=2) if init else torch.zeros(layers, b, hid)
    with torch.no_grad():
        y, (hn, cn) = lstm(x, (h0, c0))
    p = f"lstm.{i}."
    desc = dict(batch=b, inputSize=inp, hiddenSize=hid, length=t, layers=layers,
                x=put(p + "x", x.permute(1, 2, 0)), y=put(p + "y", y.permute(1, 2, 0)),
                h0=put(p + "h0", h0), c0=put(p + "c0", c0), hn=put(p + "hn", hn), cn=put(p + "cn", cn), weights=[])
    for l in range(layers):
        desc["weights"].append({key: put(p + f"{key}_l{l}", getattr(lstm, f"{key}_l{l}"))
                                for key in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]})
    cases["lstm"].append(desc)

# ELU on a grid that covers both branches and the saturation, for two alphas.
cases["elu"] = []
grid = torch.linspace(-12, 6, 1001)
for i, alpha in enumerate([1.0, 0.5]):
    cases["elu"].append(dict(alpha=alpha, x=put(f"elu.{i}.x", grid), y=put(f"elu.{i}.y", F.elu(grid, alpha))))

# GroupNorm: GroupNorm(1, C) (EnCodec's time_group_norm) and a multi-group case, affine parameters.
cases["groupNorm"] = []
for i, (b, c, t, g, offset) in enumerate([(2, 6, 50, 1, 0.0), (1, 6, 40, 3, 3.0), (1, 4, 17, 4, -1.0)]):
    gn = torch.nn.GroupNorm(g, c, eps=1e-5)
    with torch.no_grad():
        gn.weight.copy_(rand(c) + 1)
        gn.bias.copy_(rand(c))
        x = rand(b, c, t, scale=2) + offset
        y = gn(x)
    p = f"groupNorm.{i}."
    cases["groupNorm"].append(dict(batch=b, channels=c, length=t, groups=g, eps=1e-5, x=put(p + "x", x),
                                   weight=put(p + "weight", gn.weight), bias=put(p + "bias", gn.bias), y=put(p + "y", y)))

# pad1d exactly as encodec computes it (reflect on inputs shorter than the pad included), and unpad1d.
cases["pad1d"] = []
for i, (length, left, right, mode) in enumerate([
    (10, 3, 2, "reflect"), (5, 4, 0, "reflect"), (2, 3, 3, "reflect"), (3, 3, 1, "reflect"), (1, 0, 6, "reflect"),
    (4, 6, 6, "reflect"), (7, 2, 5, "constant"), (3, 4, 2, "replicate"), (1, 3, 3, "replicate"),
]):
    x = rand(2, 3, length)
    y = pad1d(x, (left, right), mode=mode)
    assert torch.equal(unpad1d(y, (left, right)), x)
    p = f"pad1d.{i}."
    cases["pad1d"].append(dict(shape=list(x.shape), left=left, right=right, mode=mode,
                               x=put(p + "x", x), y=put(p + "y", y)))

os.makedirs(OUT, exist_ok=True)
index = {"generator": "scripts/make-nn-fixtures.py", "torch": torch.__version__, "tensors": {}, "cases": cases}
offset = 0
with open(os.path.join(OUT, "nn.f32"), "wb") as f:
    for name, a in tensors.items():
        index["tensors"][name] = {"shape": list(a.shape), "offset": offset}
        f.write(a.tobytes())
        offset += a.size
with open(os.path.join(OUT, "index.json"), "w") as f:
    json.dump(index, f, indent=1, sort_keys=True)
print(f"wrote {len(tensors)} tensors, {offset * 4} bytes of float32 to {OUT}")
