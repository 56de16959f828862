#!/usr/bin/env python3
"""Make the RVQ parity fixtures from the reference implementation (PyPI encodec 0.1.1 + torch).

For each case: seeded codebooks are put into encodec's ResidualVectorQuantization, and the vectors
(random ones, near-ties between two codes, exact copies of codes, a duplicated code) are encoded and decoded
by it, as one item [1, D, T] (the codec's case) and as a batch of two. Near-ties are midpoints of two codes: their code is decided by float rounding, so only a search that
rounds exactly as EnCodec does (torch's `x.pow(2).sum`, MKL's fma dot products, the order of the terms)
gives the same codes. Also records torch's `x.pow(2).sum(-1)` for many dimensions (the summation order).

Writes Tests/Fixtures/RVQ/: raw little-endian float32/int32 files and manifest.json (shapes, sources).
Needs torch and encodec; torchaudio is stubbed (encodec imports it for file I/O only).
Usage: python3 scripts/make-rvq-fixtures.py
"""
import json
import os
import sys
import types

import numpy as np

sys.modules.setdefault("torchaudio", types.ModuleType("torchaudio"))
import torch  # noqa: E402
import encodec  # noqa: E402
from encodec.quantization.core_vq import ResidualVectorQuantization  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "Tests", "Fixtures", "RVQ")


def make_case(name, dim, size, stages, randoms, ties, rng):
    # Codebooks: stage k has spread 0.5^k, like trained residual codebooks; code 1 of stage 0 duplicates code 0.
    books = np.stack([rng.standard_normal((size, dim)).astype(np.float32) * np.float32(0.5 ** k)
                      for k in range(stages)])
    books[0, 1] = books[0, 0]
    vectors = [rng.standard_normal((randoms, dim)).astype(np.float32)]
    a = rng.integers(0, size, ties)
    b = (a + 1 + rng.integers(0, size - 1, ties)) % size
    mid = ((books[0, a] + books[0, b]) * np.float32(0.5)).astype(np.float32)
    vectors.append(mid)
    vectors.append(books[0, rng.integers(2, size, 4)] + books[1, rng.integers(0, size, 4)])
    vectors.append(books[0, :1] * np.float32(1.0))  # equidistant from codes 0 and 1 (a duplicate): lowest wins
    x = np.ascontiguousarray(np.concatenate(vectors).astype(np.float32))

    rvq = ResidualVectorQuantization(num_quantizers=stages, dim=dim, codebook_size=size)
    for k, layer in enumerate(rvq.layers):
        layer._codebook.embed.data.copy_(torch.from_numpy(books[k]))
    rvq.eval()
    with torch.no_grad():
        xt = torch.from_numpy(x.T.copy()).unsqueeze(0)  # [B=1, D, T], as the codec hands it over
        codes = rvq.encode(xt)[:, 0, :].numpy().astype(np.int32)  # [K, T]
        # A batch of two items (x and x with its rows reversed): torch copies the [2, T, D] view to a
        # contiguous [2T, D] matrix, so the squared norms are summed in the contiguous order.
        xt2 = torch.from_numpy(np.stack([x.T, x[::-1].T]).copy())  # [2, D, T]
        codes2 = rvq.encode(xt2).numpy().astype(np.int32)  # [K, 2, T]
        decoded = rvq.decode(torch.from_numpy(codes.astype(np.int64)).unsqueeze(1))[0].numpy().T  # [T, D]
        # Stage 0 scores exactly as EuclideanCodebook.quantize computes them (negated distance).
        embed = torch.from_numpy(books[0]).t()
        xs = torch.from_numpy(x)
        dist = -(xs.pow(2).sum(1, keepdim=True) - 2 * xs @ embed + embed.pow(2).sum(0, keepdim=True))
        scores0 = (-dist).numpy().astype(np.float32)  # [T, N]: our score = −EnCodec's dist
    decoded = np.ascontiguousarray(decoded.astype(np.float32))

    # How many stage-0 decisions differ from an exact (float64) nearest-code search: the rounding-decided ones.
    exact = ((x.astype(np.float64)[:, None, :] - books[0].astype(np.float64)[None]) ** 2).sum(-1)
    flips = int((exact.argmin(1) != codes[0]).sum())
    layout = int((codes2[:, 0, :] != codes).sum())
    print(f"{name}: D={dim} N={size} K={stages} T={len(x)}; stage-0 codes that differ from float64 argmin: {flips}; "
          f"codes that differ between the [1, D, T] and the batch-of-2 layout: {layout}")

    files = {"codebooks": f"{name}_codebooks.f32", "vectors": f"{name}_vectors.f32",
             "codes": f"{name}_codes.i32", "codes_batch2": f"{name}_codes_batch2.i32", "decoded": f"{name}_decoded.f32", "scores0": f"{name}_scores0.f32"}
    books.tofile(os.path.join(OUT, files["codebooks"]))
    x.tofile(os.path.join(OUT, files["vectors"]))
    codes.tofile(os.path.join(OUT, files["codes"]))
    codes2.tofile(os.path.join(OUT, files["codes_batch2"]))
    decoded.tofile(os.path.join(OUT, files["decoded"]))
    scores0.tofile(os.path.join(OUT, files["scores0"]))
    return {"name": name, "dimension": dim, "codebook_size": size, "stages": stages, "count": int(len(x)),
            "rounding_decided_codes": flips, "layout_decided_codes": layout, "files": files}


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.set_num_threads(1)
    rng = np.random.default_rng(20240601)
    cases = [make_case("d128", 128, 64, 4, randoms=96, ties=96, rng=rng),
             make_case("d20", 20, 33, 3, randoms=30, ties=30, rng=rng)]

    norm_dims = [1, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 100, 128, 129, 511, 512, 513, 1000, 2100]
    norm_rows = 4
    norms = []
    for d in norm_dims:
        v = (rng.standard_normal((norm_rows, d)) * rng.uniform(0.1, 10, (norm_rows, 1))).astype(np.float32)
        s = torch.from_numpy(v).pow(2).sum(-1).numpy().astype(np.float32)
        norms.append((d, v, s))
    with open(os.path.join(OUT, "norms_vectors.f32"), "wb") as f:
        for _, v, _ in norms:
            f.write(v.tobytes())
    with open(os.path.join(OUT, "norms_sums.f32"), "wb") as f:
        for _, _, s in norms:
            f.write(s.tobytes())

    # The same sums over the rows of the [T, D] view of a contiguous [D, T] tensor (EnCodec's one-item case):
    # an outer reduction, whose order depends on the row's position among the T rows.
    column_shapes = [(128, 45), (128, 6), (20, 41), (7, 9), (300, 33)]
    with open(os.path.join(OUT, "norms_columns_vectors.f32"), "wb") as fv, \
            open(os.path.join(OUT, "norms_columns_sums.f32"), "wb") as fs:
        for d, t in column_shapes:
            v = (rng.standard_normal((d, t)) * rng.uniform(0.1, 10, (1, t))).astype(np.float32)  # [D, T]
            fv.write(v.tobytes())
            fs.write(torch.from_numpy(v).t().pow(2).sum(1).numpy().astype(np.float32).tobytes())

    manifest = {
        "source": f"encodec {getattr(encodec, '__version__', '?')} ResidualVectorQuantization, torch {torch.__version__}"
                  " (1 thread); made by scripts/make-rvq-fixtures.py",
        "layout": "raw little-endian; codebooks [K, N, D] f32, vectors [T, D] f32, codes [K, T] i32 (encode of the "
                  "[1, D, T] tensor x.T), codes_batch2 [K, 2, T] i32 (encode of [2, D, T] = x.T and x[::-1].T), "
                  "decoded [T, D] f32, scores0 [T, N] f32 = x.pow(2).sum - 2 x@e.T + e.pow(2).sum (stage 0, "
                  "contiguous x)",
        "cases": cases,
        "norms": {"dimensions": norm_dims, "rows": norm_rows, "vectors": "norms_vectors.f32",
                  "sums": "norms_sums.f32", "op": "torch x.pow(2).sum(-1), float32"},
        "column_norms": {"shapes": column_shapes, "vectors": "norms_columns_vectors.f32",
                         "sums": "norms_columns_sums.f32",
                         "op": "v [D, T] contiguous; torch v.t().pow(2).sum(1), float32 [T]"},
    }
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {OUT} ({total / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
