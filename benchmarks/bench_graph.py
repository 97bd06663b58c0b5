"""Co-occurrence counting ``M = YᵀY`` and graph construction against the authors' method, same run.

The authors' ``DatasetManager._create_matrix`` keeps, for each class, a Python ``set`` of image ids
and counts ``len(list(set_i & set_j))`` for every pair of classes. On an Open-Images-shaped label
matrix (1.7M images, 600 classes, ~10 labels per image, Zipf-like class frequencies, seeded) the
full double loop takes minutes, so it is timed on every pair among a random sample of classes
(an unbiased sample of pairs) and extrapolated linearly to all ``C (C - 1) / 2`` pairs; building
the sets is not timed (the authors load them from a pickle), and only the train matrix is counted
(the authors' loop also fills a test matrix in the same pass). Ours is the kit's one way of counting
``M``, ``nbkit.cooccurrence.cooccurrence_matrix`` (a numba loop compiled in memory; no C compiler, no
native code from a cache); its first call compiles and is reported apart, not timed.

``python -m benchmarks bench_graph [--quick]``
"""
from __future__ import annotations

import gc
import resource
import time
import tracemalloc

import numpy as np

FULL = dict(n_images=1_700_000, n_classes=600, labels_per_image=10.0, zipf=1.0, sample_classes=100)
QUICK = dict(n_images=60_000, n_classes=150, labels_per_image=10.0, zipf=1.0, sample_classes=150)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _timed(fn, *args, repeat: int = 3):
    """Best of ``repeat`` wall times, and the tracemalloc peak (MiB) of one call."""
    gc.collect()
    tracemalloc.start()
    out = fn(*args)
    peak = tracemalloc.get_traced_memory()[1] / 2 ** 20
    tracemalloc.stop()
    best = np.inf
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn(*args)
        best = min(best, time.perf_counter() - t)
    return out, best, peak


def _cpu(fn, *args) -> float:
    c = time.process_time()
    fn(*args)
    return time.process_time() - c


def authors_pair_loop(sets: list[set], pairs) -> np.ndarray:
    """The authors' counting: ``len(list(set_i & set_j))`` per pair (as in ``_create_matrix``)."""
    out = np.zeros(len(pairs), dtype=np.int64)
    for k, (i, j) in enumerate(pairs):
        out[k] = len(list(sets[i] & sets[j]))
    return out


def run(quick: bool = False) -> list[dict]:
    from nbkit import graph as G
    from nbkit.cooccurrence import cooccurrence_matrix

    p = QUICK if quick else FULL
    seed = 0
    rng = np.random.default_rng(seed)
    Y = G.synthetic_label_matrix(p["n_images"], p["n_classes"], p["labels_per_image"], p["zipf"],
                                 seed=seed)
    N, C = Y.shape
    lpi = Y.nnz / N
    shape = f"{N:,} images x {C} classes, {lpi:.2f} labels/image, Zipf {p['zipf']}, seed {seed}"
    rss0 = _rss_mb()

    # --- ours (numba, compiled in memory: the first call compiles and is timed apart) ----------
    rows = []
    t = time.perf_counter()
    cooccurrence_matrix(Y[:10])
    compile_s = time.perf_counter() - t
    ref, secs, _ = _timed(cooccurrence_matrix, Y, repeat=3)
    cpu = _cpu(cooccurrence_matrix, Y)
    Yi = Y.astype(np.int64)
    assert (ref[:50] == (Yi[:, :50].T @ Yi).toarray()).all(), "disagrees with the sparse product"
    del Yi
    rss_ours = _rss_mb()

    # --- the authors' method on sampled pairs ---------------------------------------------------
    k = min(p["sample_classes"], C)
    cls = np.sort(rng.choice(C, size=k, replace=False))
    ids = np.array([f"{x:016x}" for x in rng.integers(0, 2 ** 63, size=N)], dtype=object)
    Yc = Y.tocsc()
    sets = [set(ids[Yc.indices[Yc.indptr[c]:Yc.indptr[c + 1]]].tolist()) for c in cls]
    pairs = [(a, b) for a in range(k) for b in range(a + 1, k)]
    t, c = time.perf_counter(), time.process_time()
    got = authors_pair_loop(sets, pairs)
    sample_s, sample_cpu = time.perf_counter() - t, time.process_time() - c
    want = np.array([ref[cls[a], cls[b]] for a, b in pairs])
    assert (got == want).all(), "the authors' loop and ours disagree"
    all_pairs = C * (C - 1) // 2
    base_s = sample_s * all_pairs / len(pairs)
    extrap = len(pairs) < all_pairs
    base_cpu = sample_cpu * all_pairs / len(pairs)
    base_note = (f"{len(pairs):,} of {all_pairs:,} pairs ({k} random classes, seed {seed}) timed: "
                 f"{sample_s:.2f} s, extrapolated linearly" if extrap else "all pairs timed")
    base_note += f"; baseline CPU {base_cpu:.1f} s"
    rows.append({"stage": "M = YᵀY (cooccurrence_matrix, numba)", "ours_s": secs,
                 "baseline": "authors' _create_matrix (Python set intersections per pair)",
                 "baseline_s": base_s,
                 "note": f"{shape}; CPU {cpu:.3f} s; numba compile (first call, not timed) "
                         f"{compile_s:.2f} s; process peak RSS "
                         f"{rss_ours:.0f} MiB (label matrix included, {rss0:.0f} MiB before); "
                         f"{base_note}"})

    # --- graph construction ---------------------------------------------------------------------
    from nbkit.cooccurrence import Cooccurrence

    names = [f"class{i}" for i in range(C)]
    co = Cooccurrence(ref, names, names, name="synthetic", n_images=N)
    mins = int(np.quantile(co.pairs[np.triu_indices(C, 1)], 0.5)) or 1

    def authors_graph():
        import networkx as nx

        g = nx.Graph()
        g.add_nodes_from(range(C))
        for i in range(C):
            for j in range(i + 1, C):
                if ref[i, j] >= mins:
                    g.add_edge(i, j, overlaps=int(ref[i, j]))
        return g

    g1, ours_g, _ = _timed(lambda: G.build_graph(co, mins), repeat=3)
    g2, base_g, _ = _timed(authors_graph, repeat=3)
    assert sorted(g1.edges) == sorted(g2.edges)
    _, ours_e, _ = _timed(lambda: G.edge_list(co, mins), repeat=3)
    rows.append({"stage": "graph: networkx form (build_graph)", "ours_s": ours_g,
                 "baseline": "authors' double loop over class pairs", "baseline_s": base_g,
                 "note": f"{C} classes, min_overlaps {mins}: {g1.number_of_edges():,} edges"})
    rows.append({"stage": "graph: edge arrays (edge_list, igraph path)", "ours_s": ours_e,
                 "baseline": "authors' double loop over class pairs", "baseline_s": base_g,
                 "note": f"{g1.number_of_edges():,} edges"})
    return rows


if __name__ == "__main__":  # pragma: no cover
    import sys

    for r in run(quick="--quick" in sys.argv):
        print(r)
