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

It also computes ``M`` itself fast (``fast_cooccurrence``: a small compiled pair-counting kernel,
with pure-numpy and scipy fallbacks), the dataset statistics of Table 5 (``table5``), and the degree
and edge-weight distributions of the graph (``degree_weight_distributions``). Figures are drawn by
``nbkit.figures``.

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

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import warnings
from pathlib import Path
from typing import Any, Iterable, Sequence

import networkx as nx
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .cooccurrence import Cooccurrence, scipy_cooccurrence
from .errors import DataError, GraphError

__all__ = ["fast_cooccurrence", "cooccurrence_kernel", "as_cooccurrence", "check_counts",
           "edge_list", "build_graph", "table5", "degree_weight_distributions", "core_subgraph",
           "synthetic_label_matrix", "KERNELS"]

#: Ways ``fast_cooccurrence`` can count pairs; ``"auto"`` takes the compiled kernel when it builds.
KERNELS = ("auto", "c", "numpy", "scipy")


# =============================================================================================
# M = YᵀY
# =============================================================================================
_C_SOURCE = r"""
#include <stdint.h>
/* Upper-triangle co-occurrence counts of a CSR 0/1 matrix: for every row (image) and every pair
   a <= b of its nonzeros, out[indices[a] * C + indices[b]] += 1 (a == b gives the diagonal).
   Rows must not hold duplicate column indices. Work: sum over images of k(k+1)/2. */
void nbkit_cooc_upper(const int64_t *indptr, const int32_t *indices, int64_t n_rows, int64_t C,
                      int64_t *out)
{
    for (int64_t r = 0; r < n_rows; ++r) {
        const int64_t s = indptr[r], e = indptr[r + 1];
        for (int64_t a = s; a < e; ++a) {
            int64_t *row = out + (int64_t)indices[a] * C;
            row[indices[a]] += 1;
            for (int64_t b = a + 1; b < e; ++b) row[indices[b]] += 1;
        }
    }
}
"""

_KERNEL: dict[str, Any] = {}


def _compiler() -> str | None:
    cc = os.environ.get("CC") or (sysconfig.get_config_var("CC") or "").split(" ")[0] or "cc"
    for cand in (cc, "cc", "gcc", "clang"):
        if cand and shutil.which(cand):
            return shutil.which(cand)
    return None


def cooccurrence_kernel() -> ctypes.CDLL | None:
    """The compiled pair-counting kernel, built once and cached; ``None`` when it cannot be built.

    The C source above is compiled with the system C compiler (``$CC``, else ``cc``/``gcc``/
    ``clang``) into ``<nbkit cache>/kernels/`` under a name derived from the source, the compiler
    and the platform, so a rebuilt source or another machine never loads a stale library. Set
    ``NBKIT_NO_CKERNEL=1`` to disable it (``fast_cooccurrence`` then counts with numpy).

    Returns
    -------
    ctypes.CDLL or None
    """
    if "lib" in _KERNEL:
        return _KERNEL["lib"]
    lib = None
    if os.environ.get("NBKIT_NO_CKERNEL", "") not in ("", "0"):
        _KERNEL["why"] = "disabled by NBKIT_NO_CKERNEL"
    elif sys.platform.startswith("win"):
        _KERNEL["why"] = "no C kernel on Windows"
    else:
        cc = _compiler()
        if cc is None:
            _KERNEL["why"] = "no C compiler found ($CC, cc, gcc, clang)"
        else:
            try:
                lib = _build_kernel(cc)
            except (OSError, subprocess.SubprocessError) as e:
                _KERNEL["why"] = f"C kernel did not build: {e}"
                lib = None
    _KERNEL["lib"] = lib
    return lib


def _build_kernel(cc: str) -> ctypes.CDLL:
    from .io import cache_dir

    tag = hashlib.sha256((_C_SOURCE + cc + platform.machine() + platform.system()
                          + sys.version.split()[0]).encode()).hexdigest()[:16]
    d = cache_dir() / "kernels"
    d.mkdir(parents=True, exist_ok=True)
    so = d / f"nbkit_cooc_{tag}.so"
    if not so.exists():
        with tempfile.TemporaryDirectory(dir=d) as tmp:
            src = Path(tmp) / "cooc.c"
            src.write_text(_C_SOURCE)
            out = Path(tmp) / so.name
            subprocess.run([cc, "-O3", "-shared", "-fPIC", "-o", str(out), str(src)], check=True,
                           capture_output=True, timeout=120)
            os.replace(out, so)  # atomic: a half-written library is never loaded
    lib = ctypes.CDLL(str(so))
    f = lib.nbkit_cooc_upper
    f.restype = None
    ptr = np.ctypeslib.ndpointer
    f.argtypes = [ptr(np.int64, flags="C_CONTIGUOUS"), ptr(np.int32, flags="C_CONTIGUOUS"),
                  ctypes.c_int64, ctypes.c_int64, ptr(np.int64, flags="C_CONTIGUOUS")]
    _KERNEL["path"] = str(so)
    return lib


def _canonical_csr(Y) -> sp.csr_matrix:
    """CSR with one entry per (image, class) present, whatever the input dtype or duplicates."""
    if not sp.issparse(Y):
        arr = np.asarray(Y)
        if arr.ndim != 2:
            raise DataError("label matrix", f"has shape {arr.shape}", "a 2-D images x classes matrix")
        Y = sp.csr_matrix(arr)
    Y = sp.csr_matrix(Y)
    if Y.dtype == bool and Y.has_canonical_format and (Y.nnz == 0 or Y.data.all()):
        return Y  # already one True per (image, class), indices sorted: nothing to do
    if Y.dtype.kind == "f" and Y.nnz and np.isnan(Y.data).any():
        raise DataError("label matrix", "holds NaN entries", "0/1 presence values")
    if Y.nnz and (Y.data < 0).any():
        raise DataError("label matrix", "holds negative entries", "0/1 presence values")
    Y = sp.csr_matrix((Y.data != 0, Y.indices, Y.indptr), shape=Y.shape)
    Y.eliminate_zeros()
    Y.sum_duplicates()  # bool data: duplicates collapse to True
    return Y


def _pairs_numpy(Y: sp.csr_matrix) -> np.ndarray:
    """Pure-numpy pair counting: images grouped by label count, one ``bincount`` per column."""
    C = Y.shape[1]
    indptr, idx = Y.indptr, Y.indices.astype(np.intp)
    k = np.diff(indptr)
    acc = np.zeros(C * C, dtype=np.int64)
    for kk in np.unique(k):
        if kk < 2:
            continue
        rows = np.flatnonzero(k == kk)
        A = idx[indptr[rows][:, None] + np.arange(kk)]
        for a in range(kk - 1):
            acc += np.bincount((A[:, a:a + 1] * C + A[:, a + 1:]).ravel(), minlength=C * C)
    U = acc.reshape(C, C)
    M = U + U.T
    M[np.diag_indices(C)] = np.bincount(idx, minlength=C)
    return M


def fast_cooccurrence(Y, kernel: str = "auto") -> np.ndarray:
    """``M = YᵀY`` for a sparse image x class label matrix, as a dense symmetric int64 array.

    ``M[i, j]`` is the number of images containing both class ``i`` and class ``j``; ``M[i, i]`` the
    number containing ``i``. Same result as ``nbkit.cooccurrence.cooccurrence_matrix``, 10-20x
    faster on Open-Images-sized inputs with the compiled kernel (``benchmarks/bench_graph.py``).

    Parameters
    ----------
    Y : scipy.sparse matrix or array, shape (n_images, n_classes)
        Presence matrix; any nonzero entry means "present", duplicates are merged.
    kernel : {"auto", "c", "numpy", "scipy"}
        ``"c"``: a small compiled loop over each image's label pairs (see ``cooccurrence_kernel``;
        built once with the system C compiler, cached); ``"numpy"``: the same pair counting with
        ``numpy.bincount``; ``"scipy"``: the sparse product ``YᵀY``. ``"auto"`` (default) uses
        ``"c"`` when the kernel builds and ``"numpy"`` otherwise.

    Returns
    -------
    numpy.ndarray, shape (n_classes, n_classes), int64

    Raises
    ------
    DataError
        NaN or negative entries, or a matrix that is not 2-D.
    GraphError
        ``kernel="c"`` when no compiled kernel is available (the message says why).

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> Y = sp.csr_matrix([[1, 1, 0], [1, 0, 1], [1, 1, 1]])
    >>> fast_cooccurrence(Y, kernel="numpy").tolist()
    [[3, 2, 2], [2, 2, 1], [2, 1, 2]]
    """
    if kernel not in KERNELS:
        raise GraphError(f"kernel={kernel!r}; expected one of {KERNELS}")
    Y = _canonical_csr(Y)
    C = Y.shape[1]
    if kernel == "scipy":
        return scipy_cooccurrence(Y)
    lib = cooccurrence_kernel() if kernel in ("auto", "c") else None
    if kernel == "c" and lib is None:
        raise GraphError(f"the compiled co-occurrence kernel is unavailable: {_KERNEL.get('why')}; "
                         "use kernel='numpy' or 'auto'")
    if lib is None:
        return _pairs_numpy(Y)
    U = np.zeros((C, C), dtype=np.int64)
    lib.nbkit_cooc_upper(np.ascontiguousarray(Y.indptr, dtype=np.int64),
                         np.ascontiguousarray(Y.indices, dtype=np.int32), Y.shape[0], C, U)
    d = np.diag(U).copy()
    M = U + U.T  # rows need not be sorted: each pair landed in exactly one of the two triangles
    M[np.diag_indices(C)] = d
    return M


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
def as_cooccurrence(obj, split: str | Sequence[str] | None = None, kernel: str = "auto",
                    check: bool = True) -> Cooccurrence:
    """Accept a ``Cooccurrence``, a ``LabelIndex`` or a square count matrix; return a ``Cooccurrence``.

    A ``LabelIndex`` is counted with ``fast_cooccurrence`` (optionally one split or several);
    a bare matrix gets class labels ``"0".."C-1"``. With ``check`` the counts are checked for
    consistency (``check_counts``).

    Parameters
    ----------
    obj : Cooccurrence, LabelIndex or array-like (C, C)
    split : str or list of str, optional
        Only for a ``LabelIndex``.
    kernel : str
        Passed to ``fast_cooccurrence``.
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
    from .labelindex import LabelIndex

    if isinstance(obj, Cooccurrence):
        co = obj
    elif isinstance(obj, LabelIndex):
        Y, n = obj.Y, obj.n_images
        if split is not None:
            splits = [split] if isinstance(split, str) else list(split)
            mask = np.isin(obj.splits, splits)
            if not mask.any():
                raise DataError(obj.meta.get("source", obj.name), f"no images in split(s) {splits}",
                                f"one of {sorted(set(obj.splits))}")
            Y, n = Y[mask], int(mask.sum())
        meta = {"source": obj.meta.get("source", obj.name), "split": split,
                "labels_per_image": float(Y.nnz / max(n, 1))}
        if obj.boxes is not None:
            b = obj.boxes
            if split is not None:
                b = b[mask[b["image"].to_numpy()]]
            meta["objects_per_image"] = float(len(b) / max(n, 1))
        co = Cooccurrence(fast_cooccurrence(Y, kernel=kernel), obj.class_labels, obj.class_names,
                          name=obj.name, n_images=n, meta=meta)
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
        check_counts(co)
    return co


def check_counts(co: Cooccurrence) -> Cooccurrence:
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
    rowmax = P.max(axis=1) if co.n_classes > 1 else np.zeros(1, dtype=np.int64)
    bad = np.flatnonzero(exact & (rowmax > n))
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
        Inconsistent counts (see ``check_counts``).
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


def table5(datasets: Iterable, min_overlaps: int | None = None) -> pd.DataFrame:
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
    >>> table5([co])[["dataset", "classes", "images", "labels_per_image"]].to_dict("records")
    [{'dataset': 'toy', 'classes': 2, 'images': 4, 'labels_per_image': 1.25}]
    """
    from .labelindex import LabelIndex

    rows = []
    for k, item in enumerate(datasets):
        name = None
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            name, item = item
        row: dict[str, Any] = {"dataset": name or _item_name(item, f"dataset{k}")}
        note = []
        if isinstance(item, LabelIndex):
            n = item.n_images
            lpi = float(item.Y.nnz / max(n, 1))
            row.update(classes=item.n_classes,
                       classes_with_images=int((item.class_counts() > 0).sum()),
                       images=n, labels_per_image=lpi)
            if item.boxes is not None:
                row.update(objects_per_image=float(len(item.boxes) / max(n, 1)),
                           objects_basis="boxes")
            else:
                row.update(objects_per_image=lpi, objects_basis="labels")
            co = as_cooccurrence(item, check=False) if min_overlaps is not None else None
        elif isinstance(item, Cooccurrence):
            co = item
            exact = np.asarray(co.counts_exact, dtype=bool)
            n = co.n_images
            row.update(classes=co.n_classes,
                       classes_with_images=int(((co.class_counts > 0) | (co.pairs.max(axis=1) > 0)).sum()),
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
                row.update(objects_per_image=float(co.meta["objects_per_image"]),
                           objects_basis="boxes")
            else:
                row.update(objects_per_image=lpi, objects_basis="labels")
            if co.meta.get("note"):
                note.append(str(co.meta["note"]))
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
        row["note"] = "; ".join(note)
        rows.append(row)
    cols = ["dataset", "classes", "classes_with_images", "images", "labels_per_image",
            "objects_per_image", "objects_basis"]
    if min_overlaps is not None:
        cols += ["min_overlaps", "edges", "isolated", "components"]
    return pd.DataFrame(rows, columns=cols + ["note"])


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
