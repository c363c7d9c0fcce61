#!/usr/bin/env python3
"""FAISS next to `songrec bench search` on the same vectors.

`songrec bench search --dir DIR` leaves each library's vectors and queries as
DIR/lib-<n>x<dim>-mixture/{vectors,queries}.npy (float32, unit norm, a mixture of Gaussians).
This script runs FAISS `IndexFlatIP` (exact) and `IndexHNSWFlat` (inner product, the same
M / efConstruction / efSearch as songrec's index) on them, one query at a time like `similar`,
and prints the same columns as the bench: recall@k against the exact answer, latency median
and p95, build time, index bytes, peak resident memory.

    python -m venv venv && venv/bin/pip install faiss-cpu numpy
    venv/bin/python scripts/eval/faiss_search.py DIR/lib-100000x512-mixture -k 10 \
        --m 16 --ef-construction 128 --ef-search 64
"""

import argparse
import os
import resource
import sys
import time

import faiss
import numpy as np


def peak_rss_mb():
    # ru_maxrss is in KiB on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def timed_queries(index, queries, k):
    times, results = [], []
    for q in queries:
        t = time.perf_counter()
        _, ids = index.search(q[None, :], k)
        times.append((time.perf_counter() - t) * 1e3)
        results.append(ids[0])
    times.sort()
    med = times[len(times) // 2]
    p95 = times[min(len(times) - 1, round((len(times) - 1) * 0.95))]
    return med, p95, results


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("lib", help="a bench library folder holding vectors.npy and queries.npy")
    ap.add_argument("-k", type=int, default=10)
    ap.add_argument("--m", type=int, default=16)
    ap.add_argument("--ef-construction", type=int, default=128)
    ap.add_argument("--ef-search", default="64", help="one value or a comma-separated sweep")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    a = ap.parse_args()
    faiss.omp_set_num_threads(a.threads)
    xb = np.load(os.path.join(a.lib, "vectors.npy"), mmap_mode="r")
    xq = np.ascontiguousarray(np.load(os.path.join(a.lib, "queries.npy")), dtype=np.float32)
    xb = np.ascontiguousarray(xb, dtype=np.float32)
    n, d = xb.shape
    raw = n * d * 4
    print(f"faiss {faiss.__version__}, {n} x {d}, {len(xq)} queries, {a.threads} threads")

    flat = faiss.IndexFlatIP(d)
    t = time.perf_counter()
    flat.add(xb)
    flat_build = time.perf_counter() - t
    med, p95, truth = timed_queries(flat, xq, a.k)
    print(
        f"faiss IndexFlatIP {n} x {d}: recall@{a.k} 1.000, median {med:.3f} ms, p95 {p95:.3f} ms; "
        f"build {flat_build:.1f} s, index {raw / 1e6:.0f} MB, peak RSS {peak_rss_mb():.0f} MB"
    )
    del flat

    hnsw = faiss.IndexHNSWFlat(d, a.m, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = a.ef_construction
    t = time.perf_counter()
    hnsw.add(xb)
    build = time.perf_counter() - t
    size = faiss.serialize_index(hnsw).nbytes
    for ef in [int(e) for e in str(a.ef_search).split(",") if e.strip()]:
        hnsw.hnsw.efSearch = ef
        med, p95, got = timed_queries(hnsw, xq, a.k)
        hits = sum(len(set(g) & set(w)) for g, w in zip(got, truth))
        recall = hits / (len(xq) * a.k)
        print(
            f"faiss IndexHNSWFlat {n} x {d} (M={a.m} efC={a.ef_construction} efS={ef}, f32): "
            f"recall@{a.k} {recall:.3f}, median {med:.3f} ms, p95 {p95:.3f} ms; build {build:.1f} s, "
            f"index {size / 1e6:.0f} MB ({size / raw:.2f}x the f32 vectors), peak RSS {peak_rss_mb():.0f} MB "
            f"(process, vectors loaded once)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
