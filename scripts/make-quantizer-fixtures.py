#!/usr/bin/env python3
"""Makes Tests/Fixtures/training/quantizer_*.npy: references for Training's QuantizerTraining.

1. EMA codebook updates by EnCodec's own EuclideanCodebook (encodec 0.1.1, quantization/core_vq.py), dead-code
   expiry off (threshold 0), started from a consistent state (embed_avg = embed * cluster_size), over three
   training batches: codes and the buffers after each batch.
2. Straight-through + per-stage commitment gradients of a 3-stage residual VQ with fixed codebooks, with the
   fix of encodec issue #25 as audiocraft's ResidualVectorQuantization applies it (the residual subtracts
   quantize.detach(), the stages' codes are summed detached, one straight-through x + (sum - x).detach() on the
   total), by torch.autograd: L = <quantized, G> + sum_k w_k * mse(q_k.detach(), r_k); also the gradient of EnCodec's
   original formulation, whose stages >= 1 contribute nothing (kept to show the bug the fix avoids).
Run: python3 scripts/make-quantizer-fixtures.py   (seconds; deterministic)
"""
import os
import sys
import types

import numpy as np
import torch

sys.modules.setdefault("torchaudio", types.ModuleType("torchaudio"))  # encodec imports it; unused here
from encodec.quantization.core_vq import EuclideanCodebook  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "training")


def save(name, a, dtype=np.float32):
    np.save(os.path.join(OUT, name + ".npy"), np.asarray(a, dtype=dtype))


def ema_fixture():
    torch.manual_seed(3)
    D, N, F, steps = 8, 16, 64, 3
    cb = EuclideanCodebook(dim=D, codebook_size=N, kmeans_init=False, decay=0.9, epsilon=1e-5,
                           threshold_ema_dead_code=0)
    cb.train()
    embed = torch.randn(N, D)
    size = 1 + 4 * torch.rand(N)
    cb.embed.data.copy_(embed); cb.cluster_size.data.copy_(size); cb.embed_avg.data.copy_(embed * size[:, None])
    save("quantizer_ema_embed0", embed); save("quantizer_ema_size0", size); save("quantizer_ema_avg0", embed * size[:, None])
    xs, codes, embeds, sizes, avgs = [], [], [], [], []
    for _ in range(steps):
        x = 1.3 * torch.randn(F, D)
        _, ind = cb(x)
        xs.append(x); codes.append(ind)
        embeds.append(cb.embed.clone()); sizes.append(cb.cluster_size.clone()); avgs.append(cb.embed_avg.clone())
    save("quantizer_ema_x", torch.stack(xs)); save("quantizer_ema_codes", torch.stack(codes), np.int64)
    save("quantizer_ema_embed", torch.stack(embeds)); save("quantizer_ema_size", torch.stack(sizes))
    save("quantizer_ema_avg", torch.stack(avgs))


def ste_fixture():
    torch.manual_seed(4)
    B, D, T, K, N = 2, 6, 10, 3, 8
    books = [torch.randn(N, D) * (0.6 ** k) for k in range(K)]
    x0 = torch.randn(B, D, T)
    G = torch.randn(B, D, T)
    w = torch.tensor([0.7, 1.3, 2.1])

    def nearest(r, e):  # r [F, D]
        d = -(r.pow(2).sum(1, keepdim=True) - 2 * r @ e.t() + e.pow(2).sum(1)[None])
        return d.max(dim=-1).indices

    def run(fixed):
        x = x0.clone().requires_grad_(True)
        r = x.permute(0, 2, 1).reshape(-1, D)
        out, loss, codes = 0.0, 0.0, []
        for k in range(K):
            ind = nearest(r.detach(), books[k]); codes.append(ind)
            q = books[k][ind]
            ste = r + (q - r).detach()
            loss = loss + w[k] * torch.nn.functional.mse_loss(q.detach(), r)
            if fixed:  # audiocraft's fix: detached codes in the residual and the sum, one STE on the total
                r = r - q.detach()
                out = out + q.detach()
            else:      # encodec 0.1.1: STE per stage, subtracted from the residual
                r = r - ste
                out = out + ste
        flat = x.permute(0, 2, 1).reshape(-1, D)
        if fixed:
            out = flat + (out - flat).detach()
        quantized = out.reshape(B, T, D).permute(0, 2, 1)
        total = (quantized * G).sum() + loss
        total.backward()
        return x.grad, quantized.detach(), torch.stack(codes)

    g_fixed, quantized, codes = run(True)
    g_bug, _, _ = run(False)
    save("quantizer_ste_books", torch.stack(books)); save("quantizer_ste_x", x0); save("quantizer_ste_dq", G)
    save("quantizer_ste_weights", w); save("quantizer_ste_quantized", quantized)
    save("quantizer_ste_codes", codes, np.int64)
    save("quantizer_ste_grad", g_fixed); save("quantizer_ste_grad_encodec", g_bug)


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    ema_fixture()
    ste_fixture()
    print("ok")
