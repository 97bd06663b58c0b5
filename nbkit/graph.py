"""The class co-occurrence graph (paper App. E.1, Algorithm 1, Table 5).

Algorithm 1 turns a multi-label dataset into a weighted graph: one vertex per class, and an edge
between two classes when they appear together in at least ``min_overlaps`` images. The weight of an
edge is that number of images, the *overlaps* ``M[i, j]`` of the co-occurrence matrix ``M = YᵀY``
(``Y`` the sparse image x class label matrix; ``M[i, i]`` = images with class ``i``).

This module builds that graph in the two forms the later stages need:

* ``build_graph(co, min_overlaps)``: a ``networkx.Graph`` (every class a vertex, with ``label``,
  ``name``, ``count`` attributes; every edge with ``overlaps`` and ``distance = 1 / overlaps``), the
  reference form, easy to inspect and to draw;
* ``edge_list(co, min_overlaps)``: three numpy arrays ``(src, dst, overlaps)``, the fast form the
  igraph path of ``nbkit.centrality`` uses.

``M`` itself is counted by ``nbkit.cooccurrence.cooccurrence_matrix`` (its one home). This module
also gives the dataset statistics of Table 5 (``table5_of``) and the degree and edge-weight
distributions of the graph (``degree_weight_distributions``). Figures are drawn by ``nbkit.figures``.

Examples
--------
>>> import numpy as np
>>> from nbkit.cooccurrence import Cooccurrence
>>> M = np.array([[50, 20, 3], [20, 40, 0], [3, 0, 10]])
>>> co = Cooccurrence(M, ["a", "b", "c"], ["A", "B", "C"])
>>> G = build_graph(co, min_overlaps=5)
>>> sorted(G.edges(data="overlaps"))
[(0, 1, 20)]
>>> G.nodes[2]["name"], G.degree(2)
('C', 0)
>>> src, dst, w = edge_list(co, 1)
>>> src.tolist(), dst.tolist(), w.tolist()
([0, 0], [1, 2], [20, 3])
"""
from __future__ import annotations

import warnings
from typing import Any, Iterable, Sequence

import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .cooccurrence import Cooccurrence, from_labelindex, raise_to_pair_max
from .errors import DataError, GraphError
from .io import json_records
from .labelindex import LabelIndex

__all__ = ["as_cooccurrence", "edge_list", "build_graph", "degree_weight_distributions",
           "core_subgraph", "synthetic_label_matrix", "effective_sizes", "count_cooccurrence",
           "matrix_head", "table5_of", "top_degree", "threshold_sweep", "cooccurrence_results"]


def synthetic_label_matrix(n_images: int = 1_700_000, n_classes: int = 600,
                           labels_per_image: float = 10.0, zipf: float = 1.0,
                           seed: int = 0) -> sp.csr_matrix:
    """A seeded, Open-Images-shaped random label matrix (for benchmarks and teaching).

    Each image draws ``1 + Poisson(λ)`` labels from a Zipf-like class distribution
    (``p_c ∝ 1 / rank^zipf`` over a seeded random class order) and duplicates are merged; ``λ`` is
    set so the mean number of distinct labels per image is close to ``labels_per_image``.

    Parameters
    ----------
    n_images, n_classes : int
    labels_per_image : float
        Target mean of distinct labels per image.
    zipf : float
        Exponent of the class-frequency law (0 = uniform).
    seed : int

    Returns
    -------
    scipy.sparse.csr_matrix of bool, shape (n_images, n_classes)

    Examples
    --------
    >>> Y = synthetic_label_matrix(2000, 50, labels_per_image=4, seed=1)
    >>> Y.shape, 3.5 < Y.nnz / 2000 < 4.5
    ((2000, 50), True)
    """
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n_classes + 1) ** float(zipf)
    p /= p.sum()
    perm = rng.permutation(n_classes)
    # draws needed for `labels_per_image` distinct labels on average (solve E[distinct] = target)
    target = float(labels_per_image)
    lo, hi = target, target * 20 + 10
    for _ in range(60):
        mid = (lo + hi) / 2
        distinct = float(np.sum(1 - np.exp(-mid * p)))  # Poissonised expectation
        lo, hi = (mid, hi) if distinct < target else (lo, mid)
    lam = max(lo - 1.0, 0.0)
    k = 1 + rng.poisson(lam, size=n_images)
    cols = perm[rng.choice(n_classes, size=int(k.sum()), p=p)].astype(np.int32)
    indptr = np.concatenate([[0], np.cumsum(k)]).astype(np.int64)
    Y = sp.csr_matrix((np.ones(len(cols), dtype=bool), cols, indptr), shape=(n_images, n_classes))
    Y.sum_duplicates()
    return Y


# =============================================================================================
# inputs
# =============================================================================================
def as_cooccurrence(obj, split: str | Sequence[str] | None = None,
                    check: bool = True) -> Cooccurrence:
    """Accept a ``Cooccurrence``, a ``LabelIndex`` or a square count matrix; return a ``Cooccurrence``.

    A ``LabelIndex`` is counted with ``nbkit.cooccurrence.from_labelindex`` (optionally one split
    or several);
    a bare matrix gets class labels ``"0".."C-1"``. With ``check`` the counts are checked for
    consistency (``_check_counts``).

    Parameters
    ----------
    obj : Cooccurrence, LabelIndex or array-like (C, C)
    split : str or list of str, optional
        Only for a ``LabelIndex``.
    check : bool

    Returns
    -------
    Cooccurrence

    Raises
    ------
    DataError
        NaN / negative / asymmetric counts, per-class counts below a pair count, an empty split.
    GraphError
        An object of another type.
    """
    if isinstance(obj, Cooccurrence):
        co = obj
    elif isinstance(obj, LabelIndex):
        co = from_labelindex(obj, split)
    elif isinstance(obj, (np.ndarray, list, tuple)) or sp.issparse(obj):
        M = obj.toarray() if sp.issparse(obj) else np.asarray(obj)
        if M.ndim != 2 or M.shape[0] != M.shape[1]:
            raise DataError("co-occurrence matrix", f"has shape {M.shape}", "a square C x C matrix")
        ids = [str(i) for i in range(M.shape[0])]
        co = Cooccurrence(M, ids, ids, name="matrix", meta={"source": "matrix"})
    else:
        raise GraphError(f"cannot build a co-occurrence graph from a {type(obj).__name__}; expected "
                         "a Cooccurrence, a LabelIndex or a square count matrix")
    if check:
        _check_counts(co)
    return co


def _check_counts(co: Cooccurrence) -> Cooccurrence:
    """Check that per-class counts and pair counts agree; warn about classes without images.

    * A class whose count is exact (``counts_exact``) cannot co-occur with another class in more
      images than it appears in: that raises a ``DataError`` naming both classes.
    * A class with an exact count of 0 images is kept as an isolated vertex, with a warning that
      names it (it can never be a trigger or a poisonable class).

    Parameters
    ----------
    co : Cooccurrence

    Returns
    -------
    Cooccurrence
        ``co`` itself, for chaining.
    """
    src = co.meta.get("source", co.name)
    P = co.pairs
    n = co.class_counts
    exact = np.asarray(co.counts_exact, dtype=bool)
    bad = np.flatnonzero(exact & raise_to_pair_max(co.M)[1])
    if len(bad):
        i = int(bad[0])
        j = int(np.argmax(P[i]))
        raise DataError(src, f"class {co.display(i)!r} appears in {n[i]} images but co-occurs with "
                             f"{co.display(j)!r} in {P[i, j]}",
                        "per-class image counts >= every pair count (the diagonal of M)",
                        hint="if the diagonal is only a lower bound, set counts_exact=False")
    empty = np.flatnonzero(exact & (n == 0))
    if len(empty):
        names = ", ".join(repr(co.display(int(i))) for i in empty[:8])
        more = f" and {len(empty) - 8} more" if len(empty) > 8 else ""
        warnings.warn(f"{src}: {len(empty)} class(es) have no images: {names}{more}; they stay "
                      "isolated vertices of the graph", stacklevel=3)
    return co


def _check_min(min_overlaps) -> int:
    if isinstance(min_overlaps, (bool, np.bool_)) or not isinstance(min_overlaps, (int, np.integer)):
        if isinstance(min_overlaps, float) and float(min_overlaps).is_integer():
            min_overlaps = int(min_overlaps)
        else:
            raise GraphError(f"min_overlaps={min_overlaps!r}; expected an integer >= 1 (the "
                             "minimum number of shared images for an edge)")
    if int(min_overlaps) < 1:
        raise GraphError(f"min_overlaps={min_overlaps}; expected >= 1 (an edge needs at least one "
                         "shared image)")
    return int(min_overlaps)


# =============================================================================================
# the graph
# =============================================================================================
def edge_list(co, min_overlaps: int = 1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges of the co-occurrence graph as arrays: pairs ``i < j`` with ``M[i, j] >= min_overlaps``.

    Parameters
    ----------
    co : Cooccurrence, LabelIndex or square count matrix
    min_overlaps : int
        Minimum number of images two classes share for an edge (``>= 1``).

    Returns
    -------
    src, dst, overlaps : numpy.ndarray of int64
        ``src < dst``, sorted by ``(src, dst)``; ``overlaps = M[src, dst]``.

    Raises
    ------
    GraphError
        ``min_overlaps`` below 1 or not an integer.
    """
    m = _check_min(min_overlaps)
    co = as_cooccurrence(co)
    M = co.M
    mask = np.triu(M >= m, 1)
    src, dst = np.nonzero(mask)
    return src.astype(np.int64), dst.astype(np.int64), M[src, dst].astype(np.int64)


def build_graph(co, min_overlaps: int = 1) -> nx.Graph:
    """The co-occurrence graph of Algorithm 1 as a ``networkx.Graph``.

    Every class is a vertex (id ``0..C-1``, attributes ``label``, ``name``, ``count`` = images with
    the class, ``count_exact``), also classes without edges. Two classes are joined when they share
    at least ``min_overlaps`` images; the edge carries ``overlaps`` (that number, int) and
    ``distance = 1 / overlaps`` (a path length that makes strong co-occurrence "close", used by the
    authors' later networkx code for weighted closeness; see ``nbkit.centrality``). Graph attributes:
    ``name``, ``min_overlaps``, ``n_images``.

    Parameters
    ----------
    co : Cooccurrence, LabelIndex or square count matrix
    min_overlaps : int
        Edge threshold (``>= 1``).

    Returns
    -------
    networkx.Graph

    Raises
    ------
    DataError
        Inconsistent counts (see ``_check_counts``).
    GraphError
        ``min_overlaps`` below 1.

    Examples
    --------
    >>> import numpy as np
    >>> M = np.array([[9, 4, 1], [4, 7, 2], [1, 2, 5]])
    >>> G = build_graph(M, 2)
    >>> G.number_of_nodes(), sorted(G.edges(data="distance"))
    (3, [(0, 1, 0.25), (1, 2, 0.5)])
    """
    m = _check_min(min_overlaps)
    co = as_cooccurrence(co)
    src, dst, w = edge_list(co, m)
    G = nx.Graph(name=co.name, min_overlaps=m, n_images=co.n_images)
    counts = co.class_counts
    G.add_nodes_from((i, {"label": str(co.class_labels[i]), "name": str(co.class_names[i]),
                          "count": int(counts[i]), "count_exact": bool(co.counts_exact[i])})
                     for i in range(co.n_classes))
    G.add_edges_from((int(a), int(b), {"overlaps": int(x), "distance": 1.0 / float(x)})
                     for a, b, x in zip(src, dst, w))
    return G


def core_subgraph(G: nx.Graph, k: int = 30, by: str = "degree") -> nx.Graph:
    """The ``k`` vertices of highest degree (``by="degree"``) or weighted degree (``"weighted"``,
    the sum of ``overlaps``) and the edges among them: the graph's core, for drawing.

    Ties are broken by vertex id, so the result is deterministic.

    Parameters
    ----------
    G : networkx.Graph
        From ``build_graph``.
    k : int
    by : {"degree", "weighted"}

    Returns
    -------
    networkx.Graph
        A copy (attributes kept).
    """
    if by not in ("degree", "weighted"):
        raise GraphError(f"by={by!r}; expected 'degree' or 'weighted'")
    if G.number_of_nodes() == 0:
        raise GraphError("the graph has no vertices")
    deg = dict(G.degree(weight="overlaps" if by == "weighted" else None))
    order = sorted(deg, key=lambda v: (-deg[v], v))[:max(int(k), 1)]
    return G.subgraph(order).copy()


# =============================================================================================
# Table 5 and distributions
# =============================================================================================
def _item_name(obj, default: str) -> str:
    return str(getattr(obj, "name", None) or default)


def _table5(datasets: Iterable, min_overlaps: int | None = None) -> pd.DataFrame:
    """Dataset statistics of the paper's Table 5: classes, images, average objects per image.

    Parameters
    ----------
    datasets : iterable of LabelIndex, Cooccurrence, or (name, object) pairs
        One row each. A ``LabelIndex`` gives every column exactly; a ``Cooccurrence`` (class-level
        counts only) gives the number of images when known and the average labels per image only
        when every per-class count is exact (the sum of the diagonal over the number of images).
    min_overlaps : int, optional
        Also count the graph's edges, isolated classes and connected components at this threshold.

    Returns
    -------
    pandas.DataFrame
        Columns ``dataset, classes, classes_with_images, images, labels_per_image,
        objects_per_image, objects_basis, note`` (+ ``min_overlaps, edges, isolated, components``).
        ``labels_per_image`` counts distinct classes per image; ``objects_per_image`` counts boxes
        per image when the dataset has boxes (``objects_basis = "boxes"``), else it equals
        ``labels_per_image`` (``"labels"``). Unknown values are NaN and ``note`` says why.

    Examples
    --------
    >>> import numpy as np
    >>> from nbkit.cooccurrence import Cooccurrence
    >>> co = Cooccurrence(np.array([[3, 1], [1, 2]]), ["a", "b"], ["a", "b"], name="toy", n_images=4)
    >>> _table5([co])[["dataset", "classes", "images", "labels_per_image"]].to_dict("records")
    [{'dataset': 'toy', 'classes': 2, 'images': 4, 'labels_per_image': 1.25}]
    """
    rows = []
    for k, item in enumerate(datasets):
        name = None
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            name, item = item
        row: dict[str, Any] = {"dataset": name or _item_name(item, f"dataset{k}")}
        if isinstance(item, LabelIndex):
            row.update(_labelindex_stats(item))
            co = as_cooccurrence(item, check=False) if min_overlaps is not None else None
        elif isinstance(item, Cooccurrence):
            co = item
            row.update(_cooccurrence_stats(co))
        else:
            raise GraphError(f"table5: item {k} is a {type(item).__name__}; expected a LabelIndex, "
                             "a Cooccurrence or a (name, object) pair")
        if min_overlaps is not None:
            src, dst, _ = edge_list(co, min_overlaps)
            deg = np.bincount(np.r_[src, dst], minlength=co.n_classes)
            G = nx.Graph()
            G.add_nodes_from(range(co.n_classes))
            G.add_edges_from(zip(src.tolist(), dst.tolist()))
            row.update(min_overlaps=int(min_overlaps), edges=int(len(src)),
                       isolated=int((deg == 0).sum()),
                       components=int(nx.number_connected_components(G)))
        row["note"] = "; ".join(row.pop("_notes", []))
        rows.append(row)
    cols = ["dataset", "classes", "classes_with_images", "images", "labels_per_image",
            "objects_per_image", "objects_basis"]
    if min_overlaps is not None:
        cols += ["min_overlaps", "edges", "isolated", "components"]
    return pd.DataFrame(rows, columns=cols + ["note"])


def _labelindex_stats(item: LabelIndex) -> dict:
    """``table5``'s columns of a per-image index (all exact)."""
    n = item.n_images
    lpi = float(item.Y.nnz / max(n, 1))
    row = dict(classes=item.n_classes, classes_with_images=int((item.class_counts() > 0).sum()),
               images=n, labels_per_image=lpi)
    if item.boxes is not None:
        row.update(objects_per_image=float(len(item.boxes) / max(n, 1)), objects_basis="boxes")
    else:
        row.update(objects_per_image=lpi, objects_basis="labels")
    return row


def _cooccurrence_stats(co: Cooccurrence) -> dict:
    """``table5``'s columns of class-level counts; ``_notes`` says why a value is unknown."""
    note = []
    exact = np.asarray(co.counts_exact, dtype=bool)
    n = co.n_images
    row = dict(classes=co.n_classes,
               classes_with_images=int((co.class_sizes[0] > 0).sum()),
               images=int(n) if n is not None else np.nan)
    if "labels_per_image" in co.meta:
        lpi = float(co.meta["labels_per_image"])
    elif n and exact.all():
        lpi = float(co.class_counts.sum() / n)
    else:
        lpi = np.nan
        note.append("labels per image unknown: " + (
            "number of images not recorded" if not n else
            f"{int((~exact).sum())} per-class counts are lower bounds"))
    row["labels_per_image"] = lpi
    if "objects_per_image" in co.meta:
        row.update(objects_per_image=float(co.meta["objects_per_image"]), objects_basis="boxes")
    else:
        row.update(objects_per_image=lpi, objects_basis="labels")
    if co.meta.get("note"):
        note.append(str(co.meta["note"]))
    row["_notes"] = note
    return row


def degree_weight_distributions(co, min_overlaps: int = 1) -> dict:
    """Degree, weighted degree and edge-weight distributions of the co-occurrence graph.

    Parameters
    ----------
    co : Cooccurrence, LabelIndex, square count matrix, or networkx.Graph (from ``build_graph``)
    min_overlaps : int
        Edge threshold (ignored for a graph, which is already thresholded).

    Returns
    -------
    dict
        ``nodes``: DataFrame (index class id) with ``name, count, degree, strength`` (strength =
        weighted degree, the sum of ``overlaps``); ``weights``: int64 array of the edge overlaps;
        ``summary``: JSON-able numbers (vertices, edges, density, isolated, components, largest
        component, degree and weight quantiles).

    Examples
    --------
    >>> import numpy as np
    >>> d = degree_weight_distributions(np.array([[5, 3, 0], [3, 4, 2], [0, 2, 6]]), 1)
    >>> d["nodes"]["degree"].tolist(), d["weights"].tolist(), d["summary"]["components"]
    ([1, 2, 1], [3, 2], 1)
    """
    if isinstance(co, nx.Graph):
        G = co
        nodes = list(G.nodes)
        pos = {v: i for i, v in enumerate(nodes)}
        e = [(pos[a], pos[b], d.get("overlaps", 1)) for a, b, d in G.edges(data=True)]
        src = np.array([x[0] for x in e], dtype=np.int64)
        dst = np.array([x[1] for x in e], dtype=np.int64)
        w = np.array([x[2] for x in e], dtype=np.int64)
        names = [str(G.nodes[v].get("name", v)) for v in nodes]
        counts = [G.nodes[v].get("count", np.nan) for v in nodes]
        index = pd.Index(nodes, name="class_id")
    else:
        co = as_cooccurrence(co)
        src, dst, w = edge_list(co, min_overlaps)
        names = [co.display(i) for i in range(co.n_classes)]
        counts = co.class_counts
        index = pd.RangeIndex(co.n_classes, name="class_id")
    n = len(index)
    if n == 0:
        raise GraphError("the graph has no vertices")
    deg = np.bincount(np.r_[src, dst], minlength=n)
    strength = np.bincount(np.r_[src, dst], weights=np.r_[w, w].astype(float), minlength=n)
    nodes_df = pd.DataFrame({"name": names, "count": counts, "degree": deg,
                             "strength": strength.astype(np.int64)}, index=index)
    from scipy.sparse.csgraph import connected_components

    A = sp.csr_matrix((np.ones(len(src)), (src, dst)), shape=(n, n))
    ncomp, lab = connected_components(A, directed=False)
    sizes = np.bincount(lab)
    q = [0.0, 0.25, 0.5, 0.75, 0.9, 0.99, 1.0]
    summary = {"vertices": int(n), "edges": int(len(src)),
               "density": float(2 * len(src) / (n * (n - 1))) if n > 1 else 0.0,
               "isolated": int((deg == 0).sum()), "components": int(ncomp),
               "largest_component": int(sizes.max()),
               "degree_mean": float(deg.mean()), "degree_max": int(deg.max()),
               "degree_quantiles": {str(k): float(v) for k, v in zip(q, np.quantile(deg, q))},
               "weight_quantiles": ({str(k): float(v) for k, v in zip(q, np.quantile(w, q))}
                                    if len(w) else {}),
               "weight_total": int(w.sum())}
    return {"nodes": nodes_df, "weights": w, "summary": summary}


# =============================================================================================
# notebook 02
# =============================================================================================
def effective_sizes(top_k: int, thresholds: str | Sequence[int], smoke: bool = False) -> dict:
    """The sizes notebook 02 runs at: its parameters, or the quick ones of a smoke run.

    Parameters
    ----------
    top_k : int
        Classes in the core drawing (at most 15 in a smoke run).
    thresholds : str or sequence of int
        The ``min_overlaps`` sweep, e.g. ``"1,5,10,15"`` (only its first 4 in a smoke run).
    smoke : bool

    Returns
    -------
    dict
        ``top_k`` (int) and ``thresholds`` (list of int).

    Examples
    --------
    >>> effective_sizes(30, "1,5,10,15,20,30", smoke=True)
    {'top_k': 15, 'thresholds': [1, 5, 10, 15]}
    """
    items = str(thresholds).split(",") if isinstance(thresholds, str) else list(thresholds)
    sweep = [int(x) for x in items if str(x).strip()]
    return {"top_k": min(int(top_k), 15) if smoke else int(top_k),
            "thresholds": sweep[:4] if smoke else sweep}


def count_cooccurrence(data) -> dict:
    """``M`` of a loaded dataset, checked, with the time its counting took and a one-line summary.

    Parameters
    ----------
    data : LabelIndex or Cooccurrence
        From ``nbkit.datasets.load_dataset``; a ``LabelIndex`` is counted (timed), class-level
        counts are only checked (``_check_counts``).

    Returns
    -------
    dict
        ``co`` (Cooccurrence), ``seconds`` (float, None for class-level counts), ``text``.
    """
    import time

    t = time.perf_counter()
    co = as_cooccurrence(data)
    if not isinstance(data, LabelIndex):
        return {"co": co, "seconds": None,
                "text": f"{co.name}: class-level counts, {co.n_classes} classes; {co.meta.get('note', '')}"}
    s = time.perf_counter() - t
    return {"co": co, "seconds": s, "text": f"{data.name}: {data.n_images:,} images, "
                                            f"{data.n_classes} classes; M in {s:.3f} s"}


def matrix_head(co: Cooccurrence, n: int = 8) -> pd.DataFrame:
    """The top-left ``n x n`` corner of ``M``, rows and columns named by class.

    Examples
    --------
    >>> co = Cooccurrence(np.array([[3, 1], [1, 2]]), ["a", "b"], ["A", "B"])
    >>> matrix_head(co, 1)
       A
    A  3
    """
    names = [co.display(i) for i in range(min(n, co.n_classes))]
    return pd.DataFrame(co.M[:n, :n], index=names, columns=names)


def table5_of(dataset: str, data, extra: str = "", min_overlaps: int | None = None) -> pd.DataFrame:
    """Table 5 for notebook 02: the loaded ``dataset`` and every extra spec in ``extra``.

    Parameters
    ----------
    dataset : str
        The spec ``data`` was loaded from (the row's name).
    data : LabelIndex or Cooccurrence
    extra : str
        Comma-separated further ``nbkit.datasets`` specs (e.g. ``"openimages-counts"``), loaded
        here; the chosen ``dataset`` itself is not repeated.
    min_overlaps : int, optional
        As for :func:`_table5`.

    Returns
    -------
    DataFrame
        :func:`_table5`'s rows (its warnings about classes without images are silenced here; the
        graph section names them).
    """
    from .datasets import load_dataset

    specs = [s.strip() for s in str(extra).split(",") if s.strip()]
    items = [(dataset, data)] + [(s, load_dataset(s)) for s in specs if s != dataset]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _table5(items, min_overlaps=min_overlaps)


def top_degree(dist: dict, n: int = 10) -> pd.DataFrame:
    """The ``n`` classes of highest degree (ties: highest strength) of
    :func:`degree_weight_distributions`' ``nodes``."""
    return dist["nodes"].sort_values(["degree", "strength"], ascending=False).head(n)


def threshold_sweep(co, mins: Sequence[int]) -> pd.DataFrame:
    """How the edge threshold shapes the graph: one row per ``min_overlaps`` in ``mins``.

    Returns
    -------
    DataFrame
        Columns ``min_overlaps, edges, isolated, components, largest_component, density``.

    Examples
    --------
    >>> threshold_sweep(np.array([[5, 3, 0], [3, 4, 2], [0, 2, 6]]), [1, 3])["edges"].tolist()
    [2, 1]
    """
    cols = ["edges", "isolated", "components", "largest_component", "density"]
    return pd.DataFrame([{"min_overlaps": m, **{c: s[c] for c in cols}}
                         for m in mins for s in [degree_weight_distributions(co, m)["summary"]]])


def _core_names(G: nx.Graph, k: int, by: str = "degree") -> list[str]:
    """Names of the vertices of :func:`core_subgraph` (``k``, ``by``), in its order."""
    return [G.nodes[v]["name"] for v in core_subgraph(G, k, by).nodes]


def cooccurrence_results(dataset: str, min_overlaps: int, table5: pd.DataFrame, dist: dict,
                         top: pd.DataFrame, G: nx.Graph, top_k: int, sweep: pd.DataFrame,
                         timing: dict) -> dict:
    """Notebook 02's ``results.json`` (schema ``02_cooccurrence``), built from its objects.

    Parameters
    ----------
    dataset : str
        The dataset spec.
    min_overlaps : int
        The graph's edge threshold.
    table5 : DataFrame
        From :func:`table5_of`.
    dist : dict
        From :func:`degree_weight_distributions` at ``min_overlaps``.
    top : DataFrame
        From :func:`top_degree`.
    G : networkx.Graph
        From :func:`build_graph` at ``min_overlaps``.
    top_k : int
        Size of the graph's core (:func:`_core_names`).
    sweep : DataFrame
        From :func:`threshold_sweep`.
    timing : dict
        Wall-clock seconds.

    Returns
    -------
    dict
        The keys ``nbkit.schema`` documents for ``02_cooccurrence``.
    """
    return {
        "dataset": dataset,
        "min_overlaps": int(min_overlaps),
        "table5": json_records(table5, integral=True),
        "graph": dict(dist["summary"]),
        "top_degree": [{"class_id": int(i), "name": r["name"], "degree": int(r["degree"]),
                        "strength": int(r["strength"])} for i, r in top.iterrows()],
        "core_by_degree": _core_names(G, top_k, "degree"),
        "core_by_weighted_degree": _core_names(G, top_k, "weighted"),
        "threshold_sweep": json_records(sweep, integral=True),
        "timing": dict(timing),
    }
