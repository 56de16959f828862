#!/usr/bin/env python3
"""Reference gradients for the training side, computed by PyTorch autograd (and encodec's own SEANet).

Writes Tests/Fixtures/training/training.f32 (every tensor as little-endian float32, back to back) and
Tests/Fixtures/training/index.json ({"tensors": {name: {"shape", "offset"}}, "cases": {...}}), the same
format as scripts/make-nn-fixtures.py. Groups:
  conv1d_backward, convtr_backward, elu_backward, lstm_backward: kernel gradients for loss = sum(dy * y);
  seanet: a tiny causal EnCodec SEANet encoder + decoder (norm 'none', reflect padding, LSTM), parameters
          named as encodec's state dict, gradients of loss = sum(ry * decoder(encoder(x))) + sum(rz * encoder(x));
  adam: torch.optim.Adam over three steps of given gradients.
Activations are [B, C, T] (LSTM tensors permuted from PyTorch's [T, B, C]). Seeded: rerunning gives the
same bytes for the same torch version. Size: about 100 KB (62 KB of float32 + the index).

Usage: python3 scripts/make-training-fixtures.py   (needs torch and encodec; not needed by the tests)
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
from encodec.modules.conv import pad1d  # noqa: E402
from encodec.modules.seanet import SEANetDecoder, SEANetEncoder  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "training")

torch.manual_seed(4321)
torch.set_num_threads(1)

tensors = {}
cases = {}


def put(name, t):
    a = t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
    tensors[name] = np.array(a, dtype="<f4", copy=True, order="C")  # a copy: later in-place updates must not reach it
    return name


def rand(*shape, scale=1.0):
    return (torch.rand(*shape) * 2 - 1) * scale


# Conv1d: y = conv1d(pad1d(elu?(x), left, right, mode), w, b, stride, dilation); loss = sum(dy * y).
cases["conv1d_backward"] = []
for i, (b, cin, cout, t, k, s, d, left, right, mode, elu) in enumerate([
    (2, 3, 5, 23, 3, 1, 2, 4, 0, "reflect", True),
    (1, 4, 6, 41, 8, 4, 1, 4, 3, "reflect", True),
    (1, 5, 3, 17, 7, 1, 1, 6, 0, "constant", False),
    (2, 2, 4, 30, 10, 5, 3, 2, 1, "replicate", False),
    (1, 6, 1, 20, 7, 1, 1, 6, 0, "reflect", True),
    (1, 3, 2, 4, 7, 1, 1, 6, 0, "reflect", True),  # input shorter than the padding (encodec's zero extension)
]):
    x = rand(b, cin, t, scale=2).requires_grad_()
    w = rand(cout, cin, k, scale=1 / (cin * k) ** 0.5).requires_grad_()
    bb = rand(cout, scale=0.5).requires_grad_()
    h = F.elu(x) if elu else x
    y = F.conv1d(pad1d(h, (left, right), mode=mode), w, bb, stride=s, dilation=d)
    dy = rand(*y.shape)
    (y * dy).sum().backward()
    p = f"conv1d_backward.{i}."
    cases["conv1d_backward"].append(dict(
        batch=b, inChannels=cin, outChannels=cout, inLength=t, kernelSize=k, stride=s, dilation=d,
        padLeft=left, padRight=right, mode=mode, elu=elu, x=put(p + "x", x), weight=put(p + "weight", w),
        bias=put(p + "bias", bb), dy=put(p + "dy", dy), dx=put(p + "dx", x.grad), dweight=put(p + "dweight", w.grad),
        dbias=put(p + "dbias", bb.grad)))

# ConvTranspose1d: y = conv_transpose1d(elu?(x), w, b, stride)[..., trimLeft : F - trimRight].
cases["convtr_backward"] = []
for i, (b, cin, cout, t, k, s, tl, tr, elu) in enumerate([
    (2, 4, 3, 9, 8, 4, 0, 4, True),
    (1, 5, 2, 7, 10, 5, 2, 3, False),
    (1, 3, 4, 6, 3, 1, 0, 0, True),
]):
    x = rand(b, cin, t, scale=2).requires_grad_()
    w = rand(cin, cout, k, scale=1 / (cin * k) ** 0.5).requires_grad_()
    bb = rand(cout, scale=0.5).requires_grad_()
    full = F.conv_transpose1d(F.elu(x) if elu else x, w, bb, stride=s)
    y = full[..., tl: full.shape[-1] - tr]
    dy = rand(*y.shape)
    (y * dy).sum().backward()
    p = f"convtr_backward.{i}."
    cases["convtr_backward"].append(dict(
        batch=b, inChannels=cin, outChannels=cout, inLength=t, kernelSize=k, stride=s, trimLeft=tl, trimRight=tr,
        elu=elu, x=put(p + "x", x), weight=put(p + "weight", w), bias=put(p + "bias", bb), dy=put(p + "dy", dy),
        dx=put(p + "dx", x.grad), dweight=put(p + "dweight", w.grad), dbias=put(p + "dbias", bb.grad)))

# ELU with alpha 1 and 0.5, values on both sides of 0.
cases["elu_backward"] = []
for i, alpha in enumerate([1.0, 0.5]):
    x = rand(37, scale=4).requires_grad_()
    y = F.elu(x, alpha=alpha)
    dy = rand(37)
    (y * dy).sum().backward()
    p = f"elu_backward.{i}."
    cases["elu_backward"].append(dict(alpha=alpha, x=put(p + "x", x), dy=put(p + "dy", dy), dx=put(p + "dx", x.grad)))

# One LSTM layer from a zero state; x and y in [B, C, T].
cases["lstm_backward"] = []
for i, (b, inp, hid, t) in enumerate([(2, 5, 7, 9), (1, 8, 8, 13)]):
    lstm = torch.nn.LSTM(inp, hid, 1)
    x = rand(b, inp, t, scale=2).requires_grad_()
    y, _ = lstm(x.permute(2, 0, 1))
    y = y.permute(1, 2, 0)
    dy = rand(*y.shape)
    (y * dy).sum().backward()
    p = f"lstm_backward.{i}."
    desc = dict(batch=b, inputSize=inp, hiddenSize=hid, length=t, x=put(p + "x", x), y=put(p + "y", y),
                dy=put(p + "dy", dy), dx=put(p + "dx", x.grad))
    for key in ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]:
        param = getattr(lstm, f"{key}_l0")
        desc[key] = put(p + key, param)
        desc["d" + key] = put(p + "d" + key, param.grad)
    cases["lstm_backward"].append(desc)

# A tiny causal SEANet (EnCodec's modules), plain convolutions, reflect padding, 2-layer LSTM.
cfg = dict(channels=1, dimension=8, n_filters=2, n_residual_layers=1, ratios=[4, 2], norm="none",
           causal=True, pad_mode="reflect", true_skip=False, compress=2, lstm=2)
enc = SEANetEncoder(**cfg)
dec = SEANetDecoder(**cfg)
x = rand(2, 1, 64)
z = enc(x)
y = dec(z)
ry, rz = rand(*y.shape), rand(*z.shape)
((y * ry).sum() + (z * rz).sum()).backward()
names = []
for prefix, module in [("encoder", enc), ("decoder", dec)]:
    for name, param in module.named_parameters():
        full = f"{prefix}.{name}"
        put("param." + full, param)
        put("grad." + full, param.grad)
        names.append(full)
cases["seanet"] = [dict(config=cfg, x=put("seanet.x", x), z=put("seanet.z", z), y=put("seanet.y", y),
                        ry=put("seanet.ry", ry), rz=put("seanet.rz", rz), parameters=names)]

# Adam: three steps on two parameters with given gradients.
pa, pb = rand(3, 4).requires_grad_(), rand(5).requires_grad_()
put("adam.a0", pa); put("adam.b0", pb)
opt = torch.optim.Adam([pa, pb], lr=1e-2, betas=(0.9, 0.999), eps=1e-8)
for step in range(3):
    ga, gb = rand(3, 4), rand(5, scale=1e-3 if step == 1 else 1.0)
    put(f"adam.ga{step}", ga); put(f"adam.gb{step}", gb)
    pa.grad, pb.grad = ga.clone(), gb.clone()
    opt.step()
put("adam.a3", pa); put("adam.b3", pb)
put("adam.a3.exp_avg", opt.state[pa]["exp_avg"]); put("adam.a3.exp_avg_sq", opt.state[pa]["exp_avg_sq"])
cases["adam"] = [dict(lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, steps=3)]

os.makedirs(OUT, exist_ok=True)
index = {"generator": "scripts/make-training-fixtures.py", "torch": torch.__version__, "tensors": {}, "cases": cases}
offset = 0
with open(os.path.join(OUT, "training.f32"), "wb") as f:
    for name, a in tensors.items():
        index["tensors"][name] = {"shape": list(a.shape), "offset": offset}
        f.write(a.tobytes())
        offset += a.size
with open(os.path.join(OUT, "index.json"), "w") as f:
    json.dump(index, f, indent=1, sort_keys=True)
print(f"wrote {len(tensors)} tensors, {offset * 4} bytes of float32 to {OUT}")
