"""Centrality of the co-occurrence graph and trigger candidates (paper App. E.2, Figs 8-11, Tables 6-7).

A good trigger sits in the middle of the co-occurrence graph: it appears with many classes that do
not appear with each other. The paper ranks classes by four centrality measures, each unweighted
and weighted, 8 variants in all (``VARIANTS``), takes the top ``m`` of each ranking as trigger
candidates (``top_m``) and keeps those whose poisonable subset (``nbkit.subsets``) is large enough
(Tables 6-7, ``trigger_table``).

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
``sorted`` literally on that list, never an imitation (``authors_top``). ``"paper"`` ranks with a
true sort (NaN = 0, ties by class id), as the text describes. On the authors' Open Images counts at
the paper's setting (``tables_6_7``), ``"authors"`` recovers all 46 published names and ``"paper"``
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
import time
from typing import Any, Iterable, Mapping, Sequence

import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from .cooccurrence import Cooccurrence
from .errors import DataError, GraphError
from .graph import _check_min, as_cooccurrence, edge_list

__all__ = ["MEASURES", "VARIANTS", "SEMANTICS", "BACKENDS", "BODY_PARTS", "BODY_PARTS_EXTENDED",
           "variant_name", "parse_variant", "centrality", "all_variants", "authors_top", "top_m",
           "rankings", "compare_names", "load_paper_tables", "trigger_table",
           "compare_trigger_tables", "PAPER_TABLES_6_7", "tables_6_7", "tables_6_7_frame",
           "semantics_comparison", "graph_tool_check"]

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


def authors_top(series: pd.Series, m: int) -> list:
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
    >>> authors_top(pd.Series([0.2, 0.5, float("nan"), 0.9, 0.1]), 2)
    [1, 0]
    >>> authors_top(pd.Series([0.2, 0.5, 0.3, 0.9, 0.1]), 2)
    [3, 1]
    """
    names = series.attrs.get("names") or [str(k) for k in series.index]
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
        ``"authors"``: the authors' selection (``authors_top``, NaN quirk included) over *all*
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
        ids = [k for k in authors_top(series, m) if k not in ex]
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
        That CSV; default: looked up under ``$NBKIT_REALDATA``, then ``shared/realdata`` in the
        current folder and its two parents.

    Returns
    -------
    dict
        ``{"values", "max_abs_diff", "reference"}`` when the CSV is found; else the top 3
        (``{"values": 3, "top3", "top3_values", "reference": None}``, recorded: Man 0.0828, Human
        face 0.0816, Woman 0.0461).
    """
    import os
    from pathlib import Path

    rel = Path("naturalbackdoors_reference", "notebook_outputs",
               "oi_gt_betweenness_minTrig50_maxOther15_relabel_ipynb.csv")
    roots = [Path(os.environ["NBKIT_REALDATA"])] if os.environ.get("NBKIT_REALDATA") else []
    roots += [Path(*[".."] * k, "shared", "realdata") for k in range(3)]
    path = Path(reference) if reference else next((r / rel for r in roots if (r / rel).is_file()), None)
    b51 = centrality(co, "betweenness", False, 51)
    if path is None:
        top3 = top_m(b51, 3)
        return {"values": 3, "top3": top3.attrs["names"], "top3_values": [round(x, 4) for x in top3],
                "reference": None}
    gt = pd.read_csv(path)
    diff = float(np.abs(b51[gt["index"]].to_numpy() - gt["betweenness_normalized"].to_numpy()).max())
    return {"values": int(len(gt)), "max_abs_diff": diff, "reference": str(path)}


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
    from .reference import trigger_key

    ours, theirs = [str(x) for x in ours], [str(x) for x in theirs]
    lo, lt = {trigger_key(x, dataset) for x in ours}, {trigger_key(x, dataset) for x in theirs}
    union = lo | lt
    return {"matched": [x for x in ours if trigger_key(x, dataset) in lt],
            "missing": [x for x in theirs if trigger_key(x, dataset) not in lo],
            "extra": [x for x in ours if trigger_key(x, dataset) not in lt],
            "jaccard": (len(lo & lt) / len(union)) if union else 1.0}


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
    from . import reference as R

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


def trigger_table(co: Cooccurrence, variants: pd.DataFrame | None = None, m: int = 50,
                  min_classes: int = 5, min_overlaps: int = 10, trig_overlaps: int | None = None,
                  max_other_overlaps: int = 40, min_clean: int = 200, min_poison: int = 50,
                  exclude: Iterable = (), method: str = "exact", filter: str = "before",
                  runs: int = 20, seed: int = 0, time_limit: float = 10.0,
                  semantics: str = "paper", backend: str = "igraph",
                  poison_above: int | None = None,
                  progress: bool = True) -> tuple[pd.DataFrame, dict]:
    """Tables 6-7: per centrality variant, the top-``m`` classes whose poisonable subset is large.

    For every variant, the ``m`` most central classes (``top_m``, minus ``exclude``) are the
    trigger candidates; each gets its poisonable subset (``nbkit.subsets.poisonable_subsets``:
    candidates, independence at ``max_other_overlaps``, class filter ``min_clean`` /
    ``min_poison``); a trigger enters the table when its subset holds at least ``min_classes``
    classes (with ``poison_above``: at least ``min_classes`` of its classes with more than that
    many poison images). Subsets are computed once per trigger and shared between variants.
    With ``semantics="authors"`` the candidates are the authors' top ``m`` (``top_m``'s
    ``"authors"`` order: their ranking quirk, ``exclude`` removed after the cut).

    Defaults follow the authors' June-2022 Open Images setting (``select_trigs``: graph
    ``min_overlaps`` 10, ``max_other_overlaps`` 40, candidates = all graph neighbours, top 50 per
    centrality) and the paper's filter (>= 200 clean and >= 50 poison images per class, >= 5
    classes). The authors' notebook filtered with strict inequalities (> 200, > 50): pass
    ``min_clean=201, min_poison=51`` for that. Where per-class counts are only lower bounds
    (``co.counts_exact`` False) the clean count ``n_c - M[t, c]`` is a lower bound too, so the
    clean filter can only wrongly *reject* a class, never wrongly accept one: a recomputed row can
    miss triggers, not invent them.

    Parameters
    ----------
    co : Cooccurrence
    variants : pandas.DataFrame, optional
        From ``all_variants`` (computed here at ``min_overlaps`` when omitted).
    m, min_classes : int
    min_overlaps, trig_overlaps, max_other_overlaps, min_clean, min_poison : int
        Passed to ``poisonable_subsets`` (``trig_overlaps=None``: every graph neighbour).
    exclude : iterable
        Class names / ids to leave out of the candidates (e.g. ``BODY_PARTS``).
    method, filter, runs, seed, time_limit
        Passed to ``poisonable_subsets``.
    semantics, backend : str
        For ``all_variants`` when ``variants`` is omitted (``variants.attrs["semantics"]``
        otherwise decides how ``top_m`` ranks).
    poison_above : int, optional
        Count only classes with more than this many poison images toward ``min_classes`` (the
        paper's "> 50" on top of a ``min_poison`` filter before the MIS); ``None``: every class.
    progress : bool

    Returns
    -------
    table : pandas.DataFrame
        One row per variant: ``variant, n_triggers, triggers`` (names, in centrality order,
        ``"; "``-joined), ``sizes`` (subset sizes, same order).
    details : dict
        ``triggers`` per variant (list of names), ``subsets`` (trigger id -> subset record),
        ``parameters``.
    """
    from . import subsets as S

    if variants is None:
        variants = all_variants(co, min_overlaps, semantics=semantics, backend=backend)
    cand = {}
    for col in variants.columns:
        s = variants[col].copy()
        s.attrs = dict(variants.attrs)
        cand[col] = top_m(s, m, exclude=exclude)
    union = sorted({int(i) for s in cand.values() for i in s.index})
    recs = S.poisonable_subsets(co, union, trig_overlaps=trig_overlaps,
                                max_other_overlaps=max_other_overlaps, min_overlaps=min_overlaps,
                                method=method, runs=runs, seed=seed, time_limit=time_limit,
                                min_clean=min_clean, min_poison=min_poison, filter=filter,
                                compare=False, progress=progress)
    by_id = {int(r["trigger"]["id"]): r for r in recs}
    rows, trig = [], {}
    def n_counted(i) -> int:
        cl = by_id[int(i)]["classes"]
        return len(cl) if poison_above is None else sum(c["num_poison"] > poison_above for c in cl)

    for col, s in cand.items():
        keep = [i for i in s.index if n_counted(i) >= int(min_classes)]
        names = [co.display(int(i)) for i in keep]
        trig[col] = names
        rows.append({"variant": col, "n_triggers": len(keep), "triggers": "; ".join(names),
                     "sizes": "; ".join(str(len(by_id[int(i)]["classes"])) for i in keep)})
    params = dict(m=m, min_classes=min_classes, min_overlaps=min_overlaps,
                  trig_overlaps=trig_overlaps, max_other_overlaps=max_other_overlaps,
                  min_clean=min_clean, min_poison=min_poison, exclude=list(map(str, exclude)),
                  method=method, filter=filter, runs=runs, seed=seed, poison_above=poison_above,
                  semantics=variants.attrs.get("semantics", semantics),
                  counts_exact=int(np.sum(co.counts_exact)), n_classes=co.n_classes)
    return pd.DataFrame(rows), {"triggers": trig, "subsets": by_id, "parameters": params}


def compare_trigger_tables(ours: Mapping[str, Sequence[str]],
                           reference: Mapping[str, Sequence[str] | None]) -> pd.DataFrame:
    """Matched / missing / extra trigger names per variant (``compare_names`` for each column).

    Parameters
    ----------
    ours : mapping variant -> list of names
        From ``trigger_table(...)[1]["triggers"]``.
    reference : mapping variant -> list of names or None
        E.g. a dataset's entry of ``load_paper_tables()``; ``None`` marks a column without
        reference values.

    Returns
    -------
    pandas.DataFrame
        ``variant, ours, reference, matched, missing, extra, jaccard`` (lists joined by ``"; "``).
    """
    rows = []
    for v in VARIANTS:
        o = list(ours.get(v, []))
        r = reference.get(v) if reference else None
        if r is None:
            rows.append({"variant": v, "ours": "; ".join(o), "reference": None, "matched": None,
                         "missing": None, "extra": None, "jaccard": np.nan})
            continue
        c = compare_names(o, r)
        rows.append({"variant": v, "ours": "; ".join(o), "reference": "; ".join(r),
                     "matched": "; ".join(c["matched"]), "missing": "; ".join(c["missing"]),
                     "extra": "; ".join(c["extra"]), "jaccard": c["jaccard"]})
    return pd.DataFrame(rows)


#: The setting of the published Tables 6-7 (paper App. E.2-E.3): graph W = 15, every neighbour of
#: the trigger a candidate, independence tolerance -1 (any shared image is a conflict), the top 50
#: per variant, >= 200 clean and > 50 poison images per class (filtered at >= 50 before the MIS),
#: >= 5 classes, exact MIS, people and body parts (``BODY_PARTS``) excluded.
PAPER_TABLES_6_7 = dict(m=50, min_overlaps=15, trig_overlaps=0, max_other_overlaps=-1,
                        min_clean=200, min_poison=50, poison_above=50, min_classes=5,
                        method="exact", filter="before")


def _published_openimages() -> dict:
    """The paper's Open Images rows of Tables 6-7 from ``nbkit.reference`` (variant -> names)."""
    return load_paper_tables()["paper"].get("openimages") or {}


def tables_6_7(co: Cooccurrence | None = None, published: Mapping[str, Sequence[str] | None] | None = None,
               semantics: Sequence[str] = ("authors", "paper"), exclude: Iterable = BODY_PARTS,
               dataset: str | None = None, progress: bool = False, **setting) -> list[dict]:
    """Tables 6-7, Open Images rows: the published triggers beside ours, per column and semantics.

    For each semantics, ``trigger_table`` at the paper's setting (``PAPER_TABLES_6_7``, any key
    overridable through ``setting``) on the authors' own Open Images matrix, and per column the
    names matched / missing (published, not ours) / extra (ours, not published). On
    ``openimages-counts``, ``semantics="authors"`` recovers all 46 published names, in the paper's
    order; ``"paper"`` misses Sunglasses under weighted closeness (its true ranking does not put it
    in the top 50). The extras are triggers whose subsets pass the filter here but that the
    printed rows do not list: House and Window in the six non-closeness columns (the authors'
    ablation scripts train on both) and, with the exact MIS at tolerance -1, a few more per column
    (Shelf, Bottle, Desk, ...; Tower and Laptop under closeness); the published rows are a subset
    of ours.

    Parameters
    ----------
    co : Cooccurrence, optional
        Default: ``load_openimages_counts()`` (the authors' counts, whatever the user analyses).
    published : mapping variant -> list of names, optional
        Default: the paper's Open Images rows in ``nbkit.reference``. A variant without names
        (``None``) gets ``matched`` / ``missing`` / ``extra`` = ``None``.
    semantics : sequence of str
        From ``SEMANTICS``; each gives one block per record.
    exclude : iterable
        Triggers left out (default the authors' ``BODY_PARTS``).
    dataset : str, optional
        Recorded in each record; default ``"openimages-counts"`` when ``co`` is omitted, else
        ``co.name``.
    progress : bool
    **setting
        Overrides of ``PAPER_TABLES_6_7`` (e.g. ``method="approx"``).

    Returns
    -------
    list of dict
        One per variant, in ``VARIANTS`` order: ``table`` ("Table 6" unweighted, "Table 7"
        weighted), ``variant``, ``weighted``, ``dataset``, ``published`` (names or None) and, per
        semantics, ``{names, matched, missing, extra}`` (lists of names; ``names`` in the order
        of the row, which is the authors' JSON order under ``"authors"``).

    Raises
    ------
    GraphError
        Unknown semantics or setting key.
    """
    if co is None:
        from .datasets import load_openimages_counts

        co, dataset = load_openimages_counts(), dataset or "openimages-counts"
    unknown = sorted(set(setting) - set(PAPER_TABLES_6_7))
    if unknown:
        raise GraphError(f"tables_6_7: unknown setting {unknown}; expected keys of PAPER_TABLES_6_7 "
                         f"{sorted(PAPER_TABLES_6_7)}")
    cfg = {**PAPER_TABLES_6_7, **setting}
    pub = _published_openimages() if published is None else dict(published)
    ours = {}
    for sem in semantics:
        _check_choice(sem, SEMANTICS, "semantics")
        df = all_variants(co, cfg["min_overlaps"], semantics=sem)
        ours[sem] = trigger_table(co, df, exclude=exclude, progress=progress, **cfg)[1]["triggers"]
    out = []
    for v in VARIANTS:
        ref = pub.get(v)
        rec = {"table": "Table 7" if v.endswith("_WT") else "Table 6", "variant": v,
               "weighted": v.endswith("_WT"), "dataset": dataset or co.name,
               "published": None if ref is None else [str(x) for x in ref]}
        for sem in semantics:
            names = list(ours[sem][v])
            c = compare_names(names, ref, dataset="openimages") if ref is not None else {}
            rec[sem] = {"names": names, **{k: c.get(k) for k in ("matched", "missing", "extra")}}
        out.append(rec)
    return out


def tables_6_7_frame(records: Sequence[Mapping]) -> pd.DataFrame:
    """``tables_6_7`` records as one row per column and semantics (for display and CSV).

    Returns
    -------
    pandas.DataFrame
        ``table, variant, semantics, matched`` ("k/n"), ``missing``, ``extra`` (``"; "``-joined),
        ``published``, ``ours``.
    """
    rows = []
    for r in records:
        pub = r.get("published")
        for sem in [k for k in r if k in SEMANTICS and isinstance(r[k], Mapping)]:
            b = r[sem]
            known = pub is not None
            rows.append({"table": r["table"], "variant": r["variant"], "semantics": sem,
                         "matched": f"{len(b['matched'])}/{len(pub)}" if known else None,
                         "missing": "; ".join(b["missing"]) if known else None,
                         "extra": "; ".join(b["extra"]) if known else None,
                         "published": "; ".join(pub) if known else None,
                         "ours": "; ".join(b["names"])})
    return pd.DataFrame(rows)
