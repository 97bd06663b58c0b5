"""All 8 centrality variants: the igraph path (default) against the networkx path, same run.

* the authors' real Open Images graph (486 classes, the embedded ``openimages-counts`` matrix) at
  ``min_overlaps`` 1 (19,303 edges), both semantics;
* a co-occurrence graph of 1,000 classes with ~50,000 edges, from a seeded synthetic label matrix
  (Zipf-like class frequencies), at the threshold whose edge count is closest to 50,000.

Both paths are checked to agree before their times are reported; wall and CPU seconds are both
given (on a shared, oversubscribed machine the CPU time is what the single-threaded computation
costs). ``--quick``: Open Images at
``min_overlaps`` 51 and a 300-class graph with ~5,000 edges.

``python -m benchmarks bench_centrality [--quick]``
"""
from __future__ import annotations

import time

import numpy as np


def _synthetic_counts(n_classes: int, n_edges: int, seed: int = 0):
    from nbkit import graph as G
    from nbkit.cooccurrence import Cooccurrence, cooccurrence_matrix

    Y = G.synthetic_label_matrix(n_images=400 * n_classes, n_classes=n_classes, labels_per_image=8,
                                 zipf=0.8, seed=seed)
    M = cooccurrence_matrix(Y)
    vals = M[np.triu_indices(n_classes, 1)]
    # the threshold whose edge count (pairs >= threshold) is closest to n_edges
    cand = np.unique(vals[vals > 0])
    counts = len(vals) - np.searchsorted(np.sort(vals), cand, side="left")
    m = int(cand[np.argmin(np.abs(counts - n_edges))])
    names = [f"class{i}" for i in range(n_classes)]
    return Cooccurrence(M, names, names, name=f"synthetic{n_classes}", n_images=Y.shape[0]), max(m, 1)


def _time_all(co, min_overlaps, semantics, backend):
    """Wall and CPU seconds (CPU time is what a single-threaded run costs on an idle machine)."""
    from nbkit.centrality import all_variants

    t, c = time.perf_counter(), time.process_time()
    df = all_variants(co, min_overlaps, semantics=semantics, backend=backend)
    return df, time.perf_counter() - t, time.process_time() - c


def run(quick: bool = False) -> list[dict]:
    from nbkit.datasets import load_openimages_counts
    from nbkit.graph import edge_list

    oi = load_openimages_counts()
    cases = [("openimages (authors' matrix)", oi, 51 if quick else 1, "paper"),
             ("openimages (authors' matrix)", oi, 51 if quick else 1, "networkx")]
    syn, m = _synthetic_counts(300, 5_000) if quick else _synthetic_counts(1000, 50_000)
    cases.append((syn.name, syn, m, "paper"))
    rows = []
    _time_all(oi, 51, "paper", "igraph")  # warm-up: imports
    for name, co, mins, sem in cases:
        n_edges = len(edge_list(co, mins)[0])
        ours, t_ours, c_ours = _time_all(co, mins, sem, "igraph")
        ref, t_ref, c_ref = _time_all(co, mins, sem, "networkx")
        worst = max(float(np.max(np.abs(ours[c] - ref[c]) / max(1.0, float(ref[c].abs().max()))))
                    for c in ours.columns)
        assert worst < 1e-8, f"igraph and networkx disagree by {worst:g}"
        per = ", ".join(f"{k} {v:.3f}" for k, v in ours.attrs["seconds"].items())
        rows.append({"stage": f"8 variants [{sem}] {co.n_classes} classes, {n_edges:,} edges",
                     "ours_s": t_ours, "baseline": "networkx (same variants)", "baseline_s": t_ref,
                     "note": f"{name}, min_overlaps {mins}; CPU s: igraph {c_ours:.3f}, networkx "
                             f"{c_ref:.2f}; max relative difference {worst:.1e}; igraph per variant "
                             f"(wall s): {per}"})
    return rows


if __name__ == "__main__":  # pragma: no cover
    import sys

    for r in run(quick="--quick" in sys.argv):
        print(r)
