"""Centrality of the co-occurrence graph and trigger candidates (paper App. E.2, Figs 8-11, Tables 6-7).

A good trigger sits in the middle of the co-occurrence graph: it appears with many classes that do
not appear with each other. The paper ranks classes by four centrality measures, each unweighted
and weighted, 8 variants in all (``VARIANTS``), takes the top ``m`` of each ranking as trigger
candidates (``top_m``); ``nbkit.subsets`` keeps those whose poisonable subset is large enough
(Tables 6-7, ``subsets.trigger_table`` / ``subsets.tables_6_7``, which import this module).

Three *semantics*
-----------------
The paper's text (App. E.2) describes the authors' graph-tool code (before Aug 2022); their later
code switched to networkx and changed two variants. ``"paper"`` (default) and ``"networkx"``
differ in the centrality *values*:

===================== ======================================== ==========================================
variant               ``semantics="paper"`` (graph-tool)       ``semantics="networkx"`` (later code)
===================== ======================================== ==========================================
betweenness           normalised by ``2 / ((n-1)(n-2))``       same
betweenness, weighted path length = ``overlaps``               same
closeness             ``(n_c - 1) / sum of distances`` within  networkx default ``wf_improved=True``:
                      the vertex's component (graph-tool),     also times ``(n_c - 1) / (n - 1)``
                      isolated vertices 0 (graph-tool gives
                      NaN; the authors zeroed it only after
                      ranking, see "authors" below)
closeness, weighted   path length = ``overlaps``               path length = ``distance = 1/overlaps``,
                                                               and ``wf_improved`` as above
degree                number of neighbours                     networkx ``degree_centrality``:
                                                               neighbours / (n - 1)
degree, weighted      sum of ``overlaps`` (strength)           reads an edge attribute that does not
                                                               exist, so it *equals the unweighted
                                                               degree* (neighbours / (n - 1))
eigenvector           unit-norm principal eigenvector of the   same
                      adjacency matrix
eigenvector, weighted same, adjacency weighted by ``overlaps`` same
===================== ======================================== ==========================================

``semantics="authors"`` is the computation that produced the published Open Images rows of
Tables 6-7, quirk included: the values of ``"paper"`` except that closeness keeps graph-tool's NaN
for isolated vertices, and the top ``m`` are taken as the authors' ``find_triggers``
(``utils/dataset_manager.py``) took them: ``sorted(all_trigs, key=lambda c: c[1],
reverse=True)[:m]`` over the list ``[(name, value, id) for id, value in enumerate(values)]`` in
vertex order, *then* the body parts removed (``select_trigs``' blacklist), then the survivors
listed by ``nan_to_num(value)``, as the authors' JSON was sorted. **The quirk**: with NaN in the
list, ``sorted`` does not sort (every comparison with NaN is False, so Timsort's runs and merges
stop at the NaN values), and the "top 50" of both closeness columns is a scrambled slice of the
classes; that is what leaves only Dress and Sunglasses in the published closeness columns. Since
the result depends on the exact comparison sequence of CPython's Timsort, ``top_m`` calls
``sorted`` literally on that list, never an imitation (``_authors_top``). ``"paper"`` ranks with a
true sort (NaN = 0, ties by class id), as the text describes. On the authors' Open Images counts at
the paper's setting (``subsets.tables_6_7``), ``"authors"`` recovers all 46 published names and ``"paper"``
45 (Sunglasses drops out of weighted closeness; 44, Dress too, when the body parts are not
excluded before the cut), with more extras in both closeness columns; notebook 03 shows every
column under both.

Note that with ``overlaps`` as a path *length*, the weighted betweenness and closeness of the paper
favour paths through *rare* co-occurrences; that is what the authors computed and published.
graph-tool normalises closeness inside each component, so in a thresholded graph the classes of
tiny components rank first (two classes linked only to each other both get 1.0); the >= 5-class
rule of Tables 6-7 removes them again.

Disconnected graphs
-------------------
Thresholded co-occurrence graphs are rarely connected (Open Images at ``min_overlaps=51`` has 75+
isolated classes). Betweenness, degree and closeness are defined per vertex regardless. Eigenvector
centrality is computed per connected component (exact symmetric eigensolver, never a power
iteration that may fail to converge): the result is the limit of the power iteration graph-tool
and networkx run on the whole graph from a uniform start, i.e. the components whose largest
eigenvalue is the graph's largest carry their principal eigenvectors (scaled by their overlap with
the uniform start) and every other vertex, every isolated vertex included, gets 0. The vector has
unit Euclidean norm, as in graph-tool and networkx.

Backends
--------
``backend="igraph"`` (default) computes with python-igraph (betweenness, closeness) and
numpy/scipy (degree, eigenvector): all 8 variants in well under a second on the authors' Open
Images graph. ``backend="networkx"`` computes every variant with networkx and stays the reference
for correctness (the tests check that both agree, values and rankings, for every semantics).

Examples
--------
>>> import numpy as np
>>> from nbkit.cooccurrence import Cooccurrence
>>> M = np.array([[30, 9, 9, 9, 0], [9, 20, 0, 0, 0], [9, 0, 20, 0, 0],
...               [9, 0, 0, 20, 5], [0, 0, 0, 5, 10]])
>>> co = Cooccurrence(M, list("habcd"), ["hub", "a", "b", "c", "d"])
>>> s = centrality(co, "betweenness", weighted=False, min_overlaps=1)
>>> s.round(3).tolist()
[0.833, 0.0, 0.0, 0.5, 0.0]
>>> top_m(s, 1).index.tolist(), top_m(s, 1, exclude=["hub"]).index.tolist()
([0], [3])
"""
from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from . import reference as R
from .errors import DataError, GraphError
from .graph import _check_min, as_cooccurrence, edge_list
from .reference import trigger_key

__all__ = ["MEASURES", "VARIANTS", "SEMANTICS", "BACKENDS", "BODY_PARTS", "BODY_PARTS_EXTENDED",
           "variant_name", "parse_variant", "centrality", "all_variants", "top_m",
           "rankings", "compare_names", "load_paper_tables", "semantics_comparison",
           "graph_tool_check", "realdata_file", "notebook_settings",
           "centrality_results"]

#: The four measures of App. E.2, in the paper's order.
MEASURES = ("betweenness", "degree", "closeness", "eigenvector")
#: The 8 variants, named as in the authors' code (``_WT`` = weighted).
VARIANTS = tuple(f"{m}{s}" for m in MEASURES for s in ("", "_WT"))
SEMANTICS = ("paper", "networkx", "authors")
BACKENDS = ("igraph", "networkx")
_ALIASES = {"evector": "eigenvector", "eigen": "eigenvector", "eig": "eigenvector",
            "between": "betweenness", "close": "closeness", "deg": "degree"}

#: The authors' exclusion list of people and body parts ("we don't want human parts they don't
#: count as triggers"): ``blacklist_strs`` of uchicago-sandlab/naturalbackdoors ``select_trigs.ipynb``
#: (commit 246889c, the notebook that printed their Open Images triggers), in their order. Their
#: earlier ``jupyter/select_trigs.ipynb`` (5fd999d) had the same list without "Human mouth".
BODY_PARTS = ("Human arm", "Human leg", "Human", "Woman", "Human hand", "Man", "Human face",
              "Human head", "Human hair", "Girl", "Boy", "Human nose", "Human eye", "Human mouth")
#: ``BODY_PARTS`` plus the other Open Images person classes the authors' list leaves out (our
#: addition, not the paper's): ear, foot, beard, body, and "Person".
BODY_PARTS_EXTENDED = BODY_PARTS + ("Human ear", "Human foot", "Human beard", "Human body",
                                    "Person")


def variant_name(measure: str, weighted: bool) -> str:
    """``"betweenness"`` / ``"betweenness_WT"``: the column name of a variant.

    Examples
    --------
    >>> variant_name("evector", True)
    'eigenvector_WT'
    """
    return _measure(measure) + ("_WT" if weighted else "")


def parse_variant(name: str) -> tuple[str, bool]:
    """Inverse of ``variant_name``: ``"closeness_WT"`` -> ``("closeness", True)``.

    Examples
    --------
    >>> parse_variant("evector_WT")
    ('eigenvector', True)
    """
    s = str(name)
    weighted = s.upper().endswith("_WT")
    return _measure(s[:-3] if weighted else s), weighted


def _measure(measure: str) -> str:
    m = str(measure).strip().lower()
    m = _ALIASES.get(m, m)
    if m not in MEASURES:
        raise GraphError(f"unknown centrality measure {measure!r}; expected one of {MEASURES}")
    return m


def _check_choice(value, choices, what):
    if value not in choices:
        raise GraphError(f"{what}={value!r}; expected one of {choices}")


# =============================================================================================
# the graph, in array form
# =============================================================================================
@dataclasses.dataclass
class _EdgeGraph:
    n: int
    src: np.ndarray
    dst: np.ndarray
    w: np.ndarray  # overlaps, float64
    index: pd.Index
    names: list
    labels: list
    source: str
    min_overlaps: int | None
    _ig: Any = None
    _nx: Any = None
    _comp: Any = None

    def igraph(self):
        if self._ig is None:
            import igraph as ig

            self._ig = ig.Graph(n=self.n, edges=np.column_stack([self.src, self.dst]).tolist(),
                                directed=False)
        return self._ig

    def networkx(self) -> nx.Graph:
        if self._nx is None:
            G = nx.Graph()
            G.add_nodes_from(range(self.n))
            G.add_edges_from((int(a), int(b), {"overlaps": float(x), "distance": 1.0 / float(x)})
                             for a, b, x in zip(self.src, self.dst, self.w))
            self._nx = G
        return self._nx

    def components(self) -> tuple[int, np.ndarray]:
        if self._comp is None:
            A = sp.csr_matrix((np.ones(len(self.src)), (self.src, self.dst)), shape=(self.n, self.n))
            self._comp = connected_components(A, directed=False)
        return self._comp


def _edge_graph(obj, min_overlaps: int | None) -> _EdgeGraph:
    if isinstance(obj, _EdgeGraph):
        return obj
    if isinstance(obj, nx.Graph):
        if obj.is_directed() or obj.is_multigraph():
            raise GraphError("expected an undirected simple graph (networkx.Graph), got a "
                             f"{type(obj).__name__}")
        nodes = list(obj.nodes)
        n = len(nodes)
        if n == 0:
            raise GraphError("the graph has no vertices")
        pos = {v: i for i, v in enumerate(nodes)}
        src, dst, w = [], [], []
        for a, b, d in obj.edges(data=True):
            if a == b:
                continue  # a class always co-occurs with itself; loops carry no centrality
            x = d.get("overlaps", 1)
            try:
                xf = float(x)
            except (TypeError, ValueError):
                raise GraphError(f"edge ({a!r}, {b!r}) has overlaps={x!r}; expected a positive "
                                 "number") from None
            if not np.isfinite(xf) or xf <= 0:
                raise GraphError(f"edge ({a!r}, {b!r}) has overlaps={x!r}; expected a positive, "
                                 "finite number of shared images")
            if min_overlaps is not None and xf < min_overlaps:
                continue
            src.append(pos[a])
            dst.append(pos[b])
            w.append(xf)
        return _EdgeGraph(n, np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64),
                          np.asarray(w, dtype=float), pd.Index(nodes, name="class_id"),
                          [str(obj.nodes[v].get("name", v)) for v in nodes],
                          [str(obj.nodes[v].get("label", v)) for v in nodes],
                          str(obj.graph.get("name", "graph")),
                          min_overlaps if min_overlaps is not None else obj.graph.get("min_overlaps"))
    co = as_cooccurrence(obj)
    m = 1 if min_overlaps is None else _check_min(min_overlaps)
    src, dst, w = edge_list(co, m)
    return _EdgeGraph(co.n_classes, src, dst, w.astype(float),
                      pd.RangeIndex(co.n_classes, name="class_id"),
                      [co.display(i) for i in range(co.n_classes)],
                      [str(x) for x in co.class_labels], co.meta.get("source", co.name), m)


def _require_edges(eg: _EdgeGraph):
    if eg.n == 0:
        raise GraphError("the graph has no vertices")
    if len(eg.src) == 0:
        thr = f" at min_overlaps={eg.min_overlaps}" if eg.min_overlaps is not None else ""
        raise GraphError(f"{eg.source}: the co-occurrence graph has no edges{thr}, so no class is "
                         "more central than another; lower min_overlaps (every pair count is "
                         "below it)")


# =============================================================================================
# the measures
# =============================================================================================
def _betweenness(eg: _EdgeGraph, weighted: bool, backend: str) -> np.ndarray:
    n = eg.n
    if backend == "networkx":
        d = nx.betweenness_centrality(eg.networkx(), normalized=True,
                                      weight="overlaps" if weighted else None)
        return np.array([d[i] for i in range(n)], dtype=float)
    raw = np.asarray(eg.igraph().betweenness(directed=False,
                                             weights=eg.w.tolist() if weighted else None), dtype=float)
    # igraph counts each unordered pair once; graph-tool and networkx (normalized=True) divide by
    # the number of pairs not involving the vertex, (n-1)(n-2)/2.
    return raw * (2.0 / ((n - 1) * (n - 2))) if n > 2 else raw


def _closeness(eg: _EdgeGraph, weighted: bool, semantics: str, backend: str) -> np.ndarray:
    n = eg.n
    length = None
    if weighted:
        length = "overlaps" if semantics != "networkx" else "distance"
    if backend == "networkx":
        d = nx.closeness_centrality(eg.networkx(), distance=length,
                                    wf_improved=(semantics == "networkx"))
        c = np.array([d[i] for i in range(n)], dtype=float)
        if semantics == "authors":  # graph-tool: NaN where nothing is reachable
            c[np.bincount(np.r_[eg.src, eg.dst], minlength=n) == 0] = np.nan
        return c
    w = None
    if weighted:
        w = (eg.w if semantics != "networkx" else 1.0 / eg.w).tolist()
    # igraph's normalised closeness: (reachable vertices) / (sum of distances to them), per
    # component, NaN for an isolated vertex: exactly graph-tool's default (norm=True); the
    # "authors" semantics keeps the NaN (it drives their ranking quirk), "paper" reads it as 0.
    c = np.asarray(eg.igraph().closeness(weights=w, normalized=True), dtype=float)
    if semantics != "authors":
        c = np.nan_to_num(c)
    if semantics == "networkx" and n > 1:
        _, lab = eg.components()
        size = np.bincount(lab)[lab]
        c = c * (size - 1) / (n - 1)
    return c


def _degree(eg: _EdgeGraph, weighted: bool, semantics: str, backend: str) -> np.ndarray:
    n = eg.n
    if semantics == "networkx":
        # networkx degree_centrality; the authors' weighted variant read a missing edge
        # attribute, which networkx counts as weight 1: the unweighted value again.
        if backend == "networkx":
            d = nx.degree_centrality(eg.networkx())
            return np.array([d[i] for i in range(n)], dtype=float)
        deg = np.bincount(np.r_[eg.src, eg.dst], minlength=n).astype(float)
        return deg / (n - 1) if n > 1 else deg
    if backend == "networkx":
        d = dict(eg.networkx().degree(weight="overlaps" if weighted else None))
        return np.array([d[i] for i in range(n)], dtype=float)
    wts = np.r_[eg.w, eg.w] if weighted else None
    return np.bincount(np.r_[eg.src, eg.dst], weights=wts, minlength=n).astype(float)


def _combine_components(n: int, parts: list[tuple[np.ndarray, float, np.ndarray]]) -> np.ndarray:
    """Power-iteration limit from a uniform start: dominant components keep ``(1·v) v``."""
    x = np.zeros(n)
    if not parts:
        return x
    lam_max = max(p[1] for p in parts)
    if lam_max <= 0:
        return x
    for nodes, lam, v in parts:
        if lam >= lam_max * (1 - 1e-10):
            x[nodes] = v.sum() * v
    return x / np.linalg.norm(x)


def _component_groups(lab: np.ndarray) -> list[np.ndarray]:
    order = np.argsort(lab, kind="stable")
    cuts = np.flatnonzero(np.diff(lab[order])) + 1
    return [g for g in np.split(order, cuts) if len(g) >= 2]


def _eigenvector(eg: _EdgeGraph, weighted: bool, backend: str) -> np.ndarray:
    n = eg.n
    w = eg.w if weighted else np.ones(len(eg.src))
    _, lab = eg.components()
    parts = []
    if backend == "networkx":
        G = eg.networkx()
        for nodes in _component_groups(lab):
            H = G.subgraph(nodes.tolist())
            wkey = "overlaps" if weighted else None
            if len(nodes) == 2:
                a, b = (int(x) for x in nodes)
                v = np.full(2, 1 / np.sqrt(2))
                lam = float(H[a][b]["overlaps"]) if weighted else 1.0
            else:
                d = nx.eigenvector_centrality_numpy(H, weight=wkey)
                v = np.abs(np.array([d[int(i)] for i in nodes]))
                v /= np.linalg.norm(v)
                A = nx.to_scipy_sparse_array(H, nodelist=nodes.tolist(), weight=wkey)
                lam = float(v @ (A @ v))  # Rayleigh quotient of the unit Perron vector
            parts.append((nodes, lam, v))
        return _combine_components(n, parts)
    A = sp.csr_matrix((np.r_[w, w], (np.r_[eg.src, eg.dst], np.r_[eg.dst, eg.src])), shape=(n, n))
    for nodes in _component_groups(lab):
        sub = A[nodes][:, nodes]
        lam, v = _principal(sub)
        parts.append((nodes, lam, v))
    return _combine_components(n, parts)


def _principal(sub: sp.csr_matrix) -> tuple[float, np.ndarray]:
    """Largest eigenvalue and unit, non-negative eigenvector of a connected symmetric matrix.

    ARPACK (Lanczos, to machine precision, deterministic start) for all but tiny components; a
    dense symmetric solver for those and as a fallback. Never a plain power iteration, which can
    stall on near-equal leading eigenvalues.
    """
    k = sub.shape[0]
    v = None
    if k > 32:
        from scipy.sparse.linalg import ArpackError, ArpackNoConvergence, eigsh

        try:
            vals, vecs = eigsh(sub.astype(float), k=1, which="LA", v0=np.ones(k), tol=0,
                               maxiter=max(1000, 20 * k))
            lam, v = float(vals[0]), vecs[:, 0]
        except (ArpackNoConvergence, ArpackError):
            v = None
    if v is None:
        vals, vecs = np.linalg.eigh(sub.toarray())
        lam, v = float(vals[-1]), vecs[:, -1]
    v = np.abs(v)  # Perron vector of a connected component: one sign, no zeros
    return lam, v / np.linalg.norm(v)


def _compute(eg: _EdgeGraph, measure: str, weighted: bool, semantics: str, backend: str):
    if measure == "betweenness":
        return _betweenness(eg, weighted, backend)
    if measure == "closeness":
        return _closeness(eg, weighted, semantics, backend)
    if measure == "degree":
        return _degree(eg, weighted, semantics, backend)
    return _eigenvector(eg, weighted, backend)


def _series(eg: _EdgeGraph, values, name: str, **attrs) -> pd.Series:
    s = pd.Series(np.asarray(values, dtype=float), index=eg.index.copy(), name=name)
    s.attrs.update(names=list(eg.names), labels=list(eg.labels), **attrs)
    return s


def centrality(co_or_graph, measure: str, weighted: bool = False, min_overlaps: int | None = None,
               semantics: str = "paper", backend: str = "igraph") -> pd.Series:
    """One centrality variant of every class.

    Parameters
    ----------
    co_or_graph : Cooccurrence, LabelIndex, square count matrix, or networkx.Graph
        A graph must carry ``overlaps`` on its edges for the weighted variants (``build_graph``
        does); other inputs are turned into the graph of ``nbkit.graph.build_graph``.
    measure : {"betweenness", "degree", "closeness", "eigenvector"}
        (``"evector"`` is accepted, the authors' name.)
    weighted : bool
        Use the co-occurrence counts (see the module docstring for what that means per measure).
    min_overlaps : int, optional
        Edge threshold (``M[i, j] >= min_overlaps``). Default 1 for count inputs; for a graph,
        default: every edge it has.
    semantics : {"paper", "networkx", "authors"}
        ``"paper"`` (default): graph-tool's definitions, as the paper's text describes them
        (isolated vertices' closeness 0). ``"networkx"``: the authors' later networkx code
        (weighted closeness on ``1/overlaps``, ``wf_improved`` closeness, normalised degree,
        weighted degree = unweighted degree). ``"authors"``: the values of ``"paper"`` with
        graph-tool's NaN closeness kept; the series remembers it (``attrs["semantics"]``), so
        ``top_m`` then ranks as the authors' published computation did, quirk included (module
        docstring).
    backend : {"igraph", "networkx"}
        Same values either way (tested); igraph is 30-60x faster.

    Returns
    -------
    pandas.Series
        Index: class id (``0..C-1``, or the graph's nodes); name: the variant
        (``variant_name``); ``attrs``: ``names``, ``labels`` (aligned with the index),
        ``semantics``, ``backend``, ``min_overlaps``, ``seconds``.

    Raises
    ------
    GraphError
        Unknown measure / semantics / backend, a graph without vertices or without edges, an edge
        with a missing, NaN, zero or negative ``overlaps``.
    DataError
        NaN or negative counts, inconsistent per-class counts (from ``Cooccurrence``).

    Examples
    --------
    >>> import numpy as np
    >>> M = np.array([[5, 3, 3], [3, 5, 0], [3, 0, 5]])
    >>> centrality(M, "degree", weighted=True).tolist()
    [6.0, 3.0, 3.0]
    >>> centrality(M, "degree", weighted=True, semantics="networkx").tolist()
    [1.0, 0.5, 0.5]
    """
    m = _measure(measure)
    _check_choice(semantics, SEMANTICS, "semantics")
    _check_choice(backend, BACKENDS, "backend")
    eg = _edge_graph(co_or_graph, min_overlaps)
    _require_edges(eg)
    t = time.perf_counter()
    vals = _compute(eg, m, bool(weighted), semantics, backend)
    return _series(eg, vals, variant_name(m, weighted), semantics=semantics, backend=backend,
                   min_overlaps=eg.min_overlaps, seconds=time.perf_counter() - t)


def all_variants(co_or_graph, min_overlaps: int | None = None, semantics: str = "paper",
                 backend: str = "igraph", measures: Sequence[str] = MEASURES) -> pd.DataFrame:
    """All 8 variants (4 measures x unweighted/weighted) in one table, the graph built once.

    Parameters
    ----------
    co_or_graph, min_overlaps, semantics, backend
        As for ``centrality``.
    measures : sequence of str
        A subset of ``MEASURES`` (default all four).

    Returns
    -------
    pandas.DataFrame
        Index class id; columns ``variant_name(m, w)`` in ``VARIANTS`` order; ``attrs``:
        ``names``, ``labels``, ``semantics``, ``backend``, ``min_overlaps``, ``seconds`` (per
        variant) and ``total_seconds`` (graph construction included).

    Examples
    --------
    >>> import numpy as np
    >>> M = np.array([[5, 3, 3], [3, 5, 0], [3, 0, 5]])
    >>> df = all_variants(M)
    >>> list(df.columns)[:4], float(df.loc[0, "betweenness"])
    (['betweenness', 'betweenness_WT', 'degree', 'degree_WT'], 1.0)
    """
    _check_choice(semantics, SEMANTICS, "semantics")
    _check_choice(backend, BACKENDS, "backend")
    t0 = time.perf_counter()
    eg = _edge_graph(co_or_graph, min_overlaps)
    _require_edges(eg)
    cols, secs = {}, {}
    for m in [_measure(x) for x in measures]:
        for w in (False, True):
            t = time.perf_counter()
            cols[variant_name(m, w)] = _compute(eg, m, w, semantics, backend)
            secs[variant_name(m, w)] = time.perf_counter() - t
    df = pd.DataFrame(cols, index=eg.index.copy())
    df.attrs.update(names=list(eg.names), labels=list(eg.labels), semantics=semantics,
                    backend=backend, min_overlaps=eg.min_overlaps, seconds=secs,
                    total_seconds=time.perf_counter() - t0)
    return df


# =============================================================================================
# trigger candidates
# =============================================================================================
def _names_map(obj, names) -> dict | None:
    if names is not None:
        if isinstance(names, Mapping):
            return {k: str(v) for k, v in names.items()}
        names = list(names)
        if len(names) != len(obj.index):
            raise DataError("top_m", f"{len(names)} names for {len(obj.index)} classes",
                            "one name per class, aligned with the series index")
        return dict(zip(obj.index, map(str, names)))
    n = obj.attrs.get("names")
    if n is not None and len(n) == len(obj.index):
        return dict(zip(obj.index, map(str, n)))
    return None


def _labels_map(obj) -> dict:
    lab = obj.attrs.get("labels")
    if lab is not None and len(lab) == len(obj.index):
        return dict(zip(obj.index, map(str, lab)))
    return {}


def _excluded(obj, exclude: Iterable, names: Mapping | None) -> set:
    ex_ids, ex_names = set(), set()
    for e in exclude or ():
        if isinstance(e, (int, np.integer)) and not isinstance(e, (bool, np.bool_)):
            ex_ids.add(int(e))
        else:
            ex_names.add(str(e).strip().lower())
    if ex_names:
        if names is None:
            raise DataError("top_m", f"cannot exclude classes by name ({sorted(ex_names)[:3]}...) "
                                     "without class names",
                            "a series from nbkit.centrality (it carries names) or names=...")
        labels = _labels_map(obj)
        for k, v in names.items():
            if v.lower() in ex_names or labels.get(k, "").lower() in ex_names:
                ex_ids.add(k)
    return ex_ids


def _authors_top(series: pd.Series, m: int) -> list:
    """The class ids the authors' code took as the top ``m``, NaN quirk included.

    Their ``find_triggers`` (``utils/dataset_manager.py``) built ``all_trigs = [(name, value, id)
    for id, value in enumerate(values)]`` in vertex order and kept ``sorted(all_trigs, key=lambda
    c: c[1], reverse=True)[:m]``. This calls exactly that, on the same list in the same order: a
    list holding NaN (graph-tool's closeness of an isolated vertex) is *not* sorted by it, since
    every comparison with NaN is False, and which classes land in the first ``m`` follows from
    the comparisons CPython's Timsort happens to make. Without NaN it is a stable descending sort
    (ties by position).

    Parameters
    ----------
    series : pandas.Series
        Index class id in vertex order, values centrality (NaN allowed).
    m : int

    Returns
    -------
    list
        Index labels of the selection, in ``sorted``'s order.

    Examples
    --------
    >>> import pandas as pd
    >>> _authors_top(pd.Series([0.2, 0.5, float("nan"), 0.9, 0.1]), 2)
    [1, 0]
    >>> _authors_top(pd.Series([0.2, 0.5, 0.3, 0.9, 0.1]), 2)
    [3, 1]
    """
    names = series.attrs.get("names")
    if names is None or len(names) != len(series):
        names = [str(k) for k in series.index]
    all_trigs = [(names[i], x, k) for i, (k, x) in enumerate(zip(series.index, series.to_numpy()))]
    return [c[2] for c in sorted(all_trigs, key=lambda c: c[1], reverse=True)[:int(m)]]


def top_m(series: pd.Series, m: int, exclude: Iterable = (), names=None,
          order: str | None = None) -> pd.Series:
    """The ``m`` most central classes: the trigger candidates of one variant.

    Parameters
    ----------
    series : pandas.Series
        Index class id, values centrality (from ``centrality`` or a column of ``all_variants``).
    m : int
        How many (fewer when fewer classes remain).
    exclude : iterable of int or str
        Class ids, names or labels to leave out (case-insensitive), e.g. ``BODY_PARTS``.
    names : sequence or mapping, optional
        Class names, when ``series`` does not carry them in ``attrs["names"]``.
    order : {"sorted", "authors"}, optional
        ``"sorted"``: a true ranking, ``exclude`` left out first, NaN dropped, ties by class id.
        ``"authors"``: the authors' selection (``_authors_top``, NaN quirk included) over *all*
        classes, then ``exclude`` removed (they dropped body parts from the 50 they had), NaN
        read as 0 and the rest listed by decreasing value, stably (their JSON's order); so fewer
        than ``m`` may remain. Default: ``"authors"`` when ``series.attrs["semantics"]`` is
        ``"authors"`` (a series from ``centrality(..., semantics="authors")``), else
        ``"sorted"``.

    Returns
    -------
    pandas.Series
        The top ``m`` in decreasing order; ``attrs`` keep the class names of the selection
        (``names``, ``labels``), ``excluded`` (ids left out) and ``order``.

    Raises
    ------
    DataError
        Names to exclude but no class names known.
    GraphError
        ``m`` below 1, unknown ``order``.

    Examples
    --------
    >>> import pandas as pd
    >>> s = pd.Series([0.1, 0.5, 0.5, 0.2])
    >>> top_m(s, 3).index.tolist()
    [1, 2, 3]
    >>> top_m(s, 2, exclude=["b"], names=list("abcd")).index.tolist()
    [2, 3]
    >>> top_m(s, 2, exclude=["b"], names=list("abcd"), order="authors").index.tolist()
    [2]
    """
    if isinstance(m, (bool, np.bool_)) or int(m) < 1:
        raise GraphError(f"m={m!r}; expected a positive number of trigger candidates")
    if not isinstance(series, pd.Series):
        raise GraphError(f"top_m expects a pandas Series (index class id), got {type(series).__name__}")
    if order is None:
        order = "authors" if series.attrs.get("semantics") == "authors" else "sorted"
    _check_choice(order, ("sorted", "authors"), "order")
    nm = _names_map(series, names)
    ex = _excluded(series, exclude, nm)
    if order == "authors":
        ids = [k for k in _authors_top(series, m) if k not in ex]
        vals = {k: float(np.nan_to_num(series[k])) for k in ids}
        ids = sorted(ids, key=lambda k: vals[k], reverse=True)  # their JSON: stable, by value
        s = pd.Series([vals[k] for k in ids], index=pd.Index(ids, name=series.index.name),
                      name=series.name, dtype=float)
    else:
        s = series.dropna()
        s = s[~s.index.isin(list(ex))]
        s = s.sort_index(kind="mergesort").sort_values(ascending=False, kind="mergesort")
        s = s.iloc[:int(m)]
    out = s.copy()
    labels = _labels_map(series)
    out.attrs = {k: v for k, v in series.attrs.items() if k not in ("names", "labels")}
    out.attrs.update(names=[nm[i] for i in out.index] if nm else None,
                     labels=[labels.get(i, "") for i in out.index] if labels else None,
                     excluded=sorted(ex), order=order)
    return out


def rankings(df: pd.DataFrame, m: int, exclude: Iterable = (), names=None) -> pd.DataFrame:
    """Top-``m`` class names of every column of ``all_variants``: rank x variant.

    Parameters
    ----------
    df : pandas.DataFrame
        From ``all_variants``.
    m : int
    exclude : iterable, optional
        As for ``top_m``.
    names : sequence or mapping, optional
        Class names when ``df.attrs`` lacks them.

    Returns
    -------
    pandas.DataFrame
        Index ``rank`` (1..m); one column per variant holding class names (``None`` past the end).
    """
    out = {}
    for col in df.columns:
        s = df[col].copy()
        s.attrs = dict(df.attrs)
        t = top_m(s, m, exclude=exclude, names=names)
        nm = t.attrs.get("names") or [str(i) for i in t.index]
        out[col] = list(nm) + [None] * (int(m) - len(nm))
    return pd.DataFrame(out, index=pd.RangeIndex(1, int(m) + 1, name="rank"))


def semantics_comparison(co, min_overlaps: int, m: int, exclude: Iterable = (), base: str = "paper",
                         others: Sequence[str] | None = None, backend: str = "igraph") -> pd.DataFrame:
    """Which top-``m`` classes change when another semantics ranks them, per variant.

    Parameters
    ----------
    co : Cooccurrence (or anything ``all_variants`` takes)
    min_overlaps, m : int
    exclude : iterable
        As for ``top_m`` (each semantics applies it its own way).
    base : str
        The semantics the others are compared with.
    others : sequence of str, optional
        Default: every other entry of ``SEMANTICS``.
    backend : str

    Returns
    -------
    pandas.DataFrame
        ``variant`` and, per other semantics ``s``: ``only_<base>_not_<s>``, ``only_<s>``
        (names, ``"; "``-joined) and ``jaccard_<s>``.

    Examples
    --------
    >>> import numpy as np
    >>> M = np.array([[5, 3, 3, 0], [3, 5, 0, 0], [3, 0, 5, 0], [0, 0, 0, 5]])
    >>> df = semantics_comparison(M, 1, 2, others=["networkx"])
    >>> df.loc[df.variant == "degree_WT", "jaccard_networkx"].item()
    1.0
    """
    others = [x for x in SEMANTICS if x != base] if others is None else list(others)
    frames = {sem: all_variants(co, min_overlaps, semantics=sem, backend=backend)
              for sem in [base, *others]}

    def names(sem, v):
        s = frames[sem][v].copy()
        s.attrs = dict(frames[sem].attrs)
        return top_m(s, m, exclude=exclude).attrs["names"]

    rows = []
    for v in VARIANTS:
        row = {"variant": v}
        for sem in others:
            c = compare_names(names(sem, v), names(base, v), dataset="names")  # one dataset: names
            row.update({f"only_{base}_not_{sem}": "; ".join(c["missing"]),
                        f"only_{sem}": "; ".join(c["extra"]), f"jaccard_{sem}": round(c["jaccard"], 3)})
        rows.append(row)
    return pd.DataFrame(rows)


def realdata_file(relative: str | os.PathLike) -> Path | None:
    """``relative`` under the shared real-data folder, or None when it is not there.

    The folder is ``$NBKIT_REALDATA`` when set, else ``shared/realdata`` in the current folder or
    one of its two parents (a notebook runs in ``notebooks/`` or in a run folder); the first that
    holds ``relative`` (a file or a folder) wins.

    Examples
    --------
    >>> realdata_file("no/such/file.csv") is None
    True
    """
    roots = [Path(os.environ["NBKIT_REALDATA"])] if os.environ.get("NBKIT_REALDATA") else []
    roots += [Path(*[".."] * k, "shared", "realdata") for k in range(3)]
    return next((r / relative for r in roots if (r / relative).exists()), None)


def graph_tool_check(co, reference=None) -> dict:
    """The kit's betweenness beside the graph-tool values the authors recorded on their matrix.

    The authors' ``relabel.ipynb`` printed graph-tool's normalised betweenness of 59 Open Images
    classes (graph with edges >= 15, betweenness on the view with edges > 50), saved as
    ``naturalbackdoors_reference/notebook_outputs/oi_gt_betweenness_minTrig50_maxOther15_relabel_ipynb.csv``
    in ``../shared/realdata``.

    Parameters
    ----------
    co : Cooccurrence
        The authors' Open Images counts (``load_openimages_counts()``).
    reference : path-like, optional
        That CSV; default: looked up with ``realdata_file``.

    Returns
    -------
    dict
        ``{"values", "max_abs_diff", "reference"}`` (the CSV's file name) when it is found; else the top 3
        (``{"values": 3, "top3", "top3_values", "reference": None}``, recorded: Man 0.0828, Human
        face 0.0816, Woman 0.0461).
    """
    path = Path(reference) if reference else realdata_file(
        "naturalbackdoors_reference/notebook_outputs/oi_gt_betweenness_minTrig50_maxOther15_relabel_ipynb.csv")
    b51 = centrality(co, "betweenness", False, 51)
    if path is None:
        top3 = top_m(b51, 3)
        return {"values": 3, "top3": top3.attrs["names"], "top3_values": [round(x, 4) for x in top3],
                "reference": None}
    gt = pd.read_csv(path)
    diff = float(np.abs(b51[gt["index"]].to_numpy() - gt["betweenness_normalized"].to_numpy()).max())
    return {"values": int(len(gt)), "max_abs_diff": diff, "reference": path.name}  # no machine path


def compare_names(ours: Iterable[str], theirs: Iterable[str], dataset: str | None = None) -> dict:
    """Matched / missing / extra names between two lists (order kept).

    Two names match when ``nbkit.reference.trigger_key`` says they are the same trigger: case-,
    space- and punctuation-insensitively, and, unless ``dataset`` names a non-ImageNet dataset,
    through the ImageNet class they stand for (the paper's "T-shirt" / "t-shirt" is the class
    "jersey", "bow tie" / "bowtie" one class).

    Parameters
    ----------
    ours, theirs : iterable of str
        Ours (recomputed) and theirs (the reference).
    dataset : str, optional
        Passed to ``trigger_key`` (``"openimages"``: names only).

    Returns
    -------
    dict
        ``matched`` (in ours order), ``missing`` (in theirs, not ours), ``extra`` (in ours, not
        theirs), and ``jaccard``.

    Examples
    --------
    >>> compare_names(["Wheel", "Chair", "Tree"], ["chair", "wheel", "Jeans"])["missing"]
    ['Jeans']
    >>> compare_names(["jersey", "bow tie"], ["T-shirt", "bowtie"])["matched"]
    ['jersey', 'bow tie']
    """
    ours, theirs = [str(x) for x in ours], [str(x) for x in theirs]
    lo, lt = {trigger_key(x, dataset) for x in ours}, {trigger_key(x, dataset) for x in theirs}
    union = lo | lt
    return {"matched": [x for x in ours if trigger_key(x, dataset) in lt],
            "missing": [x for x in theirs if trigger_key(x, dataset) not in lo],
            "extra": [x for x in ours if trigger_key(x, dataset) not in lt],
            "jaccard": (len(lo & lt) / len(union)) if union else 1.0}


# =============================================================================================
# notebook 03: its effective settings and its results
# =============================================================================================
#: ``body_parts`` choices of notebook 03: the classes each leaves out of the rankings.
_BODY_PART_LISTS = {"authors": BODY_PARTS, "extended": BODY_PARTS_EXTENDED, "none": ()}


def notebook_settings(params: Mapping[str, Any]) -> dict:
    """Notebook 03's effective settings from its parameters (``runs.load_params``).

    ``smoke`` shrinks the expensive parts: at most 15 classes per word cloud, 10 candidates per
    variant in the dataset's trigger table, the approximate MIS with at most 5 random draws, and
    smaller word-cloud images.

    Returns
    -------
    dict
        ``exclude`` (class names left out, from ``body_parts``), ``trig_overlaps`` (None for -1:
        every graph neighbour), ``wordcloud_m``, ``table_top_m``, ``mis``, ``mis_runs``,
        ``width``, ``height`` (word-cloud pixels).

    Raises
    ------
    GraphError
        When ``body_parts`` is not one of ``authors``, ``extended``, ``none``.

    Examples
    --------
    >>> s = notebook_settings({"body_parts": "none", "trig_overlaps": -1, "wordcloud_m": 30,
    ...                        "table_top_m": 50, "mis": "exact", "mis_runs": 20, "smoke": True})
    >>> s["exclude"], s["trig_overlaps"], s["table_top_m"], s["mis"], s["mis_runs"]
    ((), None, 10, 'approx', 5)
    """
    _check_choice(params["body_parts"], tuple(_BODY_PART_LISTS), "body_parts")
    smoke = bool(params.get("smoke", False))
    trig = int(params["trig_overlaps"])
    return {"exclude": _BODY_PART_LISTS[params["body_parts"]],
            "trig_overlaps": None if trig < 0 else trig,
            "wordcloud_m": min(int(params["wordcloud_m"]), 15) if smoke else int(params["wordcloud_m"]),
            "table_top_m": min(int(params["table_top_m"]), 10) if smoke else int(params["table_top_m"]),
            "mis": "approx" if smoke else params["mis"],
            "mis_runs": min(int(params["mis_runs"]), 5) if smoke else int(params["mis_runs"]),
            "width": 400 if smoke else 640, "height": 225 if smoke else 360}


def _top_names(ranks: pd.DataFrame) -> dict:
    """``rankings`` output as variant -> names (the ``None`` padding dropped)."""
    return {c: [x for x in ranks[c] if x is not None] for c in ranks.columns}


def centrality_results(params: Mapping[str, Any], *, dataset_ranks: pd.DataFrame,
                       semantics_table: pd.DataFrame, graph_tool: Mapping,
                       openimages, openimages_ranks: pd.DataFrame, tables_6_7: Sequence[Mapping],
                       tables_6_7_setting: Mapping, trigger_table: pd.DataFrame,
                       trigger_details: Mapping, timing: Mapping) -> dict:
    """Notebook 03's ``results.json`` (schema ``03_centrality`` in ``nbkit.schema``).

    Parameters
    ----------
    params : mapping
        The run's parameters (``dataset``, ``semantics``, ``backend``, ``oi_min_overlaps``).
    openimages : Cooccurrence
        The authors' Open Images counts (``load_openimages_counts()``) Tables 6-7 ran on.
    dataset_ranks, openimages_ranks : pandas.DataFrame
        ``rankings`` of the chosen dataset and of the authors' Open Images counts.
    semantics_table : pandas.DataFrame
        ``semantics_comparison``.
    graph_tool : mapping
        ``graph_tool_check``.
    tables_6_7, tables_6_7_setting
        ``nbkit.subsets.tables_6_7`` records and the setting they ran at
        (``nbkit.subsets.PAPER_TABLES_6_7``); recorded with ``dataset`` ``"openimages-counts"``,
        ``exclude`` (``BODY_PARTS``, ``tables_6_7``'s default) and ``counts_lower_bounds`` (classes
        of ``openimages`` whose image count is a lower bound).
    trigger_table, trigger_details
        ``nbkit.subsets.trigger_table`` on the chosen dataset (table, details).
    timing : mapping
        Wall-clock seconds (the only key that differs between identical runs).

    Returns
    -------
    dict
    """
    return {"dataset": params["dataset"], "semantics": params["semantics"],
            "backend": params["backend"], "dataset_top_m": _top_names(dataset_ranks),
            "semantics_comparison": semantics_table.to_dict("records"),
            "openimages_graph_tool_check": dict(graph_tool),
            "openimages_top_m": _top_names(openimages_ranks),
            "openimages_min_overlaps": int(params["oi_min_overlaps"]),
            "tables_6_7": list(tables_6_7),
            "tables_6_7_setting": {**tables_6_7_setting, "dataset": "openimages-counts",
                                   "exclude": list(BODY_PARTS), "counts_lower_bounds":
                                   int((~np.asarray(openimages.counts_exact, dtype=bool)).sum())},
            "trigger_table_dataset": {"setting": trigger_details["parameters"],
                                      "table": trigger_table.to_dict("records"),
                                      "triggers": trigger_details["triggers"]},
            "timing": dict(timing)}


# =============================================================================================
# Tables 6-7
# =============================================================================================
def load_paper_tables() -> dict:
    """Reference trigger lists for Tables 6-7, gathered from ``nbkit.reference``, keyed like ``VARIANTS``.

    Returns
    -------
    dict
        ``paper``: dataset -> variant -> list of trigger names as published (Table 6, unweighted
        variants; Table 7, the ``_WT`` ones; ``nbkit.reference.TABLE6`` / ``TABLE7``);
        ``authors_training_triggers``: dataset ->
        variant -> the 2-3 triggers the authors trained their centrality ablation on (Figures 5/13,
        ``run_on_gpus_centrality_ablate.py``), picked from their Tables 6-7 candidates;
        ``authors_select_trigs``: dataset -> ``{"betweenness": [...]}``, the triggers the authors'
        ``select_trigs`` notebook printed (``nbkit.reference.TABLES_6_7_AUTHORS``, with its
        ``setting``); ``notes``.

    Examples
    --------
    >>> t = load_paper_tables()
    >>> t["authors_training_triggers"]["openimages"]["betweenness"]
    ['Wheel', 'Jeans', 'Chair']
    """
    paper: dict = {}
    for tab in (R.TABLE6, R.TABLE7):
        for row, cols in tab.items():
            ds = {v: k for k, v in R.DATASET_ROWS.items()}[row]
            paper.setdefault(ds, {}).update({variant_name(*parse_variant(k)): list(rec["value"])
                                             for k, rec in cols.items()})
    df = R.authors_trigger_class_sets("centrality_ablation_fig5_fig13")
    training: dict = {}
    for row in df.itertuples():
        v = variant_name(*parse_variant(row.centrality))
        training.setdefault(row.dataset, {}).setdefault(v, []).append(str(row.trigger_name))
    select = {}
    for ds, recs in R.TABLES_6_7_AUTHORS.items():
        b = recs["betweenness"]["value"]
        select[ds] = {"betweenness": list(b), "setting": recs["setting"]["value"],
                      "source": recs["betweenness"]["source"]}
    return {"paper": paper, "authors_training_triggers": training, "authors_select_trigs": select,
            "notes": {"paper": "Table 6 (unweighted) and Table 7 (weighted), names as printed",
                      "authors_training_triggers": (
                          "2-3 triggers per variant from the authors' centrality ablation "
                          "(run_on_gpus_centrality_ablate.py @ 0d567e1; setting: graph min 15, "
                          "max_other -1, 250 clean, injection 0.185): a proxy for the table rows, "
                          "not the rows themselves (Window and House appear there although "
                          "Tables 6-7 omit them)")}}
