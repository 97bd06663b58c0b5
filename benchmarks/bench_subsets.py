"""Poisonable subsets: our exact MIS (HiGHS ILP) vs the authors' approximation (maximal sets x 20).

Rows (``python -m benchmarks subsets``):

* the top-50 betweenness triggers of the authors' Open Images matrix (graph ``min`` 10, candidates =
  every graph neighbour, independence tolerance 40: their June-2022 setting). Ours: the exact MIS
  of every trigger (proven optimal or not, reported); baseline: the authors' approximation, the
  largest of 20 ``networkx.maximal_independent_set`` draws per trigger (their code used
  graph-tool's equivalent, which is not installable here). Total classes found are in the note.
* the same approximation implemented here (numpy greedy) against the networkx one.
* a seeded 1,000-class dense synthetic co-occurrence matrix (Zipf class frequencies, 300,000 images,
  ~6 labels each): one hub trigger with 999 candidates and ~113,000 conflict edges.
"""
from __future__ import annotations

import time

import numpy as np


def _synthetic(n_classes: int, n_images: int, seed: int = 0, alpha: float = 0.6,
               mean_labels: float = 6.0):
    import scipy.sparse as sp

    from nbkit.cooccurrence import Cooccurrence, cooccurrence_matrix

    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n_classes + 1) ** alpha
    p /= p.sum()
    k = 1 + rng.poisson(mean_labels - 1, n_images)
    rows = np.repeat(np.arange(n_images), k)
    cols = rng.choice(n_classes, size=int(k.sum()), p=p)
    Y = sp.csr_matrix((np.ones(len(rows), bool), (rows, cols)), shape=(n_images, n_classes))
    names = [f"class{i:04d}" for i in range(n_classes)]
    return Cooccurrence(cooccurrence_matrix(Y), names, names, name=f"synthetic{n_classes}",
                        n_images=n_images, meta={"seed": seed})


def _networkx_approx(adjs, runs=20, seed=0):
    """The authors' approximation with networkx: largest of ``runs`` random maximal sets."""
    import networkx as nx

    sizes = []
    for i, A in enumerate(adjs):
        G = nx.Graph()
        G.add_nodes_from(range(A.shape[0]))
        G.add_edges_from(map(tuple, np.argwhere(np.triu(A, 1))))
        best = 0
        for r in range(runs):
            if G.number_of_nodes() == 0:
                break
            best = max(best, len(nx.maximal_independent_set(G, seed=seed * 100003 + i * 101 + r)))
        sizes.append(best)
    return sizes


def _adjacencies(co, triggers, min_overlaps, trig_overlaps, max_other):
    from nbkit import subsets as S

    return [S.conflict_matrix(co, S.candidates(co, t, trig_overlaps, min_overlaps), max_other,
                              min_overlaps) for t in triggers]


def run(quick: bool = False) -> list[dict]:
    from nbkit import mis as MIS
    from nbkit import subsets as S
    from nbkit.datasets import load_cooccurrence

    rows = []
    co = load_cooccurrence("openimages-counts")
    m = 10 if quick else 50
    trig = S.rank_triggers(co, "betweenness", False, 10, m)
    adjs = _adjacencies(co, trig.index, 10, None, 40)
    c5 = np.zeros((5, 5), bool)
    for i in range(5):
        c5[i, (i + 1) % 5] = c5[(i + 1) % 5, i] = True
    MIS.mis_exact(c5)          # warm-up: import scipy.optimize / HiGHS outside the timings
    _networkx_approx([c5])

    t0 = time.perf_counter()
    ex = [MIS.mis_exact(A, time_limit=10) for A in adjs]
    t_ex = time.perf_counter() - t0
    t0 = time.perf_counter()
    nx_sizes = _networkx_approx(adjs)
    t_nx = time.perf_counter() - t0
    t0 = time.perf_counter()
    ap = [MIS.mis_approx(A, runs=20, seed=(0, i)) for i, A in enumerate(adjs)]
    t_ap = time.perf_counter() - t0
    tot_ex = sum(r["size"] for r in ex)
    n_opt = sum(r["optimal"] for r in ex)
    miss_nx = sum(e["size"] > s for e, s in zip(ex, nx_sizes))
    rows.append(dict(
        stage=f"exact MIS, top-{m} OI betweenness (min 10, tol 40)", ours_s=t_ex,
        baseline="networkx maximal set x20", baseline_s=t_nx,
        note=f"ours {tot_ex} classes, {n_opt}/{m} proven optimal; approx {sum(nx_sizes)} classes, "
             f"misses the optimum for {miss_nx}; {sum(A.shape[0] for A in adjs)} candidates"))
    rows.append(dict(
        stage=f"approx MIS (numpy greedy x20), top-{m} OI", ours_s=t_ap,
        baseline="networkx maximal set x20", baseline_s=t_nx,
        note=f"numpy {sum(r['size'] for r in ap)} classes, networkx {sum(nx_sizes)} (random draws)"))

    n = 300 if quick else 1000
    syn = _synthetic(n, 30_000 if quick else 300_000)
    A = _adjacencies(syn, [0], 10, None, 10)[0]
    t0 = time.perf_counter()
    r = MIS.mis_exact(A, time_limit=60)
    t_ex = time.perf_counter() - t0
    t0 = time.perf_counter()
    b = _networkx_approx([A])[0]
    t_nx = time.perf_counter() - t0
    rows.append(dict(
        stage=f"exact MIS, {n}-class dense synthetic (seed 0)", ours_s=t_ex,
        baseline="networkx maximal set x20", baseline_s=t_nx,
        note=f"{A.shape[0]} candidates, {int(A.sum() // 2)} conflict edges; exact {r['size']} "
             f"(optimal {r['optimal']}, bound {r['upper_bound']}), approx {b}"))
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)
