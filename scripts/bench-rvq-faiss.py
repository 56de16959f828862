#!/usr/bin/env python3
"""Compare NeuralCodec's RVQ (the `bench-rvq` executable) with faiss on the same data, in one run.

Data: a seeded Gaussian mixture (100k vectors, dimension 128: 256 components with random means and
anisotropic covariances, a few heavy components), written as raw float32 for bench-rvq.
Both sides: k-means with 1024 centroids (25 iterations, tolerance 0; ours k-means++ seeded, faiss random),
a residual quantizer of 8 stages x 1024 trained greedily (beam 1) stage by stage with 25 k-means iterations
per step (faiss: its default progressive-dimension k-means, 10 steps; ours: progressive-dimension k-means in 4
steps, then 4 refinement passes), and encoding of all vectors with beam 1 and 5.
The final k-means objective of both sides is re-evaluated here with the same exact search (faiss
IndexFlatL2), and both reconstruction MSEs are computed by numpy from decoded vectors.

Usage: pip install faiss-cpu; swift build -c release --product bench-rvq;
       python3 scripts/bench-rvq-faiss.py [--vectors 100000] [--threads 2] [--refine 1] [--workdir DIR]
Benchmark only: not part of the test suite.
"""
import argparse
import json
import os

# faiss's OpenMP workers spin while waiting by default; on a shared 2-core machine that stalls them for
# seconds. Passive waiting is the fair setting (our parallelFor blocks too). Set before faiss loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
import subprocess
import sys
import tempfile
import time

import numpy as np


def make_data(n, d, components, seed):
    """Seeded Gaussian mixture: means ~ N(0, 1), per-component covariance = A A^T / rank + 0.05 I with a
    random rank-16 factor A, component weights from a Dirichlet(0.5) (uneven cluster sizes)."""
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((components, d)).astype(np.float32)
    weights = rng.dirichlet(np.full(components, 0.5))
    labels = rng.choice(components, size=n, p=weights)
    rank = 16
    x = np.empty((n, d), dtype=np.float32)
    for c in range(components):
        idx = np.nonzero(labels == c)[0]
        if idx.size == 0:
            continue
        a = rng.standard_normal((d, rank)).astype(np.float32) * np.float32(0.6 / np.sqrt(rank))
        z = rng.standard_normal((idx.size, rank)).astype(np.float32)
        noise = rng.standard_normal((idx.size, d)).astype(np.float32) * np.float32(np.sqrt(0.05))
        x[idx] = means[c] + z @ a.T + noise
    return np.ascontiguousarray(x)


def sse(x, centroids):
    import faiss
    index = faiss.IndexFlatL2(centroids.shape[1])
    index.add(centroids)
    dist, _ = index.search(x, 1)
    return float(dist.astype(np.float64).sum())


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--vectors", type=int, default=100_000)
    p.add_argument("--dimension", type=int, default=128)
    p.add_argument("--clusters", type=int, default=1024)
    p.add_argument("--iterations", type=int, default=25)
    p.add_argument("--stages", type=int, default=8)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--refine", type=int, default=4, help="refinement passes of our RVQ training")
    p.add_argument("--progressive", type=int, default=4, help="progressive-dimension steps of our RVQ k-means")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--workdir", default=None)
    p.add_argument("--bench", default=None, help="path of the bench-rvq binary (default: .build/release)")
    p.add_argument("--data-only", action="store_true")
    args = p.parse_args()

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    work = args.workdir or tempfile.mkdtemp(prefix="bench-rvq-")
    os.makedirs(work, exist_ok=True)
    data_path = os.path.join(work, "data.f32")
    x = make_data(args.vectors, args.dimension, 256, args.seed)
    x.tofile(data_path)
    print(f"data: {x.shape} float32 Gaussian mixture -> {data_path}", file=sys.stderr)
    if args.data_only:
        return
    d, k, n = args.dimension, args.clusters, args.vectors

    # ---- ours
    bench = args.bench or os.path.join(root, ".build", "release", "bench-rvq")
    env = dict(os.environ, NEURALCODEC_THREADS=str(args.threads))
    cmd = [bench, data_path, "--dimension", str(d), "--clusters", str(k), "--iterations", str(args.iterations),
           "--stages", str(args.stages), "--beams", "1,5", "--refine", str(args.refine),
           "--progressive", str(args.progressive), "--seed", str(args.seed),
           "--out", work]
    print("running:", " ".join(cmd), file=sys.stderr)
    t0 = time.time()
    ours = json.loads(subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE).stdout)
    print(f"ours done in {time.time() - t0:.1f} s", file=sys.stderr)
    ours_centroids = np.fromfile(os.path.join(work, "ours_kmeans_centroids.f32"), dtype=np.float32).reshape(k, d)
    ours["kmeans_eval"] = sse(x, ours_centroids)

    # ---- faiss
    import faiss
    faiss.omp_set_num_threads(args.threads)
    theirs = {}
    km = faiss.Kmeans(d, k, niter=args.iterations, seed=args.seed, verbose=False, max_points_per_centroid=1 << 20)
    t0 = time.perf_counter()
    km.train(x)
    theirs["kmeans_seconds"] = time.perf_counter() - t0
    theirs["kmeans_objective"] = float(km.obj[-1])
    theirs["kmeans_eval"] = sse(x, km.centroids)

    nbits = int(np.log2(k))
    rq = faiss.ResidualQuantizer(d, args.stages, nbits)
    rq.max_beam_size = 1
    rq.cp.niter = args.iterations
    rq.cp.seed = args.seed
    rq.cp.max_points_per_centroid = 1 << 20
    t0 = time.perf_counter()
    rq.train(x)
    theirs["rvq_train_seconds"] = time.perf_counter() - t0
    theirs["encode"] = []
    for beam in (1, 5):
        rq.max_beam_size = beam
        t0 = time.perf_counter()
        codes = rq.compute_codes(x)
        dt = time.perf_counter() - t0
        rec = rq.decode(codes)
        mse = float(((x.astype(np.float64) - rec.astype(np.float64)) ** 2).mean())
        theirs["encode"].append({"beam": beam, "seconds": dt, "vectors_per_second": n / dt, "mse": mse})

    # ---- table
    rows = []
    def row(name, a, b, better):
        ratio = a / b if b else float("nan")
        rows.append((name, a, b, ratio, better))
    row("k-means time (s)", ours["kmeans_seconds"], theirs["kmeans_seconds"], "lower")
    row("k-means objective (same eval)", ours["kmeans_eval"], theirs["kmeans_eval"], "lower")
    row("RVQ training time (s)", ours["rvq_train_seconds"], theirs["rvq_train_seconds"], "lower")
    for eo, et in zip(ours["encode"], theirs["encode"]):
        row(f"encode beam {eo['beam']} (vectors/s)", eo["vectors_per_second"], et["vectors_per_second"], "higher")
        row(f"reconstruction MSE beam {eo['beam']}", eo["mse"], et["mse"], "lower")
    print()
    print(f"RVQ vs faiss {faiss.__version__}: {n} x {d} Gaussian mixture, k-means {k} centroids x "
          f"{args.iterations} iterations, RVQ {args.stages} x {k}, {args.threads} threads; ours: progressive "
          f"{args.progressive}, refine {args.refine}; faiss: progressive 10, OMP_WAIT_POLICY="
          f"{os.environ.get('OMP_WAIT_POLICY')}")
    print(f"{'measure':34s} {'ours':>14s} {'faiss':>14s} {'ours/faiss':>11s}  better")
    for name, a, b, ratio, better in rows:
        print(f"{name:34s} {a:14.6g} {b:14.6g} {ratio:11.3f}  {better}")
    print(f"(search kernel: {ours.get('search_gflops', float('nan')):.1f} GFLOP/s; "
          f"our k-means objective as reported: {ours['kmeans_objective']:.6g}; faiss obj[-1]: "
          f"{theirs['kmeans_objective']:.6g}; our training MSE per pass: {ours['rvq_train_mse']})")
    with open(os.path.join(work, "results.json"), "w") as f:
        json.dump({"ours": ours, "faiss": theirs}, f, indent=1)


if __name__ == "__main__":
    main()
