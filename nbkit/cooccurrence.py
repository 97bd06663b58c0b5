"""Class co-occurrence counts: ``M = YᵀY`` (Algorithm 1's input).

A ``Cooccurrence`` holds a dense symmetric ``C x C`` int64 matrix whose off-diagonal entry ``M[i, j]``
is the number of images that contain both class i and class j, and whose diagonal ``M[i, i]`` is the
number of images that contain class i. It is built from a ``LabelIndex`` (per-image labels) or read
directly from class-level counts (``nbkit.datasets.counts``), where some per-class counts may only be
lower bounds: ``counts_exact`` says which, and ``Cooccurrence.class_sizes`` (through
``raise_to_pair_max``) is the one place such counts are raised to the largest pair count.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import scipy.sparse as sp

from .errors import DataError


def _nonfinite(v) -> str:
    """``NaN``, ``+inf`` or ``-inf``, for error messages."""
    return "NaN" if np.isnan(v) else ("+inf" if v > 0 else "-inf")


@dataclasses.dataclass
class Cooccurrence:
    """Class-level co-occurrence counts.

    Attributes
    ----------
    M : ndarray (C, C) int64
        Symmetric; off-diagonal = images with both classes, diagonal = images per class.
    class_labels, class_names : ndarray of str
    name : str
        Dataset name.
    n_images : int or None
        Number of images the counts came from, when known.
    counts_exact : ndarray (C,) bool
        Whether ``M[i, i]`` is an exact count (True) or only a lower bound (False).
    meta : dict
        Provenance.
    """

    M: np.ndarray
    class_labels: Sequence[str]
    class_names: Sequence[str]
    name: str = "counts"
    n_images: int | None = None
    counts_exact: np.ndarray | None = None
    meta: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        src = self.meta.get("source", self.name)
        M = np.asarray(self.M)
        if M.ndim != 2 or M.shape[0] != M.shape[1]:
            raise DataError(src, f"co-occurrence matrix has shape {M.shape}", "a square C x C matrix")
        if M.shape[0] == 0:
            raise DataError(src, "co-occurrence matrix is empty", "at least one class")
        if M.dtype.kind not in "biuf":
            raise DataError(src, f"co-occurrence matrix has dtype {M.dtype}", "real image counts")
        if np.issubdtype(M.dtype, np.floating):
            if not np.isfinite(M).all():
                i, j = np.argwhere(~np.isfinite(M))[0]
                raise DataError(src, f"{_nonfinite(M[i, j])} count at [{i}, {j}]",
                                "finite non-negative counts")
            if not np.allclose(M, np.round(M)):
                raise DataError(src, "non-integer counts", "integer image counts")
            M = np.round(M)
        if (M < 0).any():
            i, j = np.argwhere(M < 0)[0]
            raise DataError(src, f"negative count {M[i, j]} at [{i}, {j}]", "non-negative counts")
        M = M.astype(np.int64)
        if not (M == M.T).all():
            raise DataError(src, "co-occurrence matrix is not symmetric", "M[i, j] == M[j, i]")
        self.M = M
        C = M.shape[0]
        self.class_labels = np.asarray([str(x) for x in self.class_labels], dtype=str)
        self.class_names = np.asarray([str(x) for x in self.class_names], dtype=str)
        if len(self.class_labels) != C or len(self.class_names) != C:
            raise DataError(src, f"{len(self.class_labels)} labels / {len(self.class_names)} names "
                                 f"for a {C}-class matrix", "one label and one name per class")
        if self.counts_exact is None:
            self.counts_exact = np.ones(C, dtype=bool)
        self.counts_exact = np.asarray(self.counts_exact, dtype=bool)

    @property
    def n_classes(self) -> int:
        return self.M.shape[0]

    @property
    def class_counts(self) -> np.ndarray:
        """Images per class (the diagonal); a lower bound where ``counts_exact`` is False."""
        return np.diag(self.M).copy()

    @property
    def class_sizes(self) -> tuple[np.ndarray, np.ndarray]:
        """Images per class, raised to a valid lower bound, and whether each is exact.

        The kit's one rule for lower-bound class counts (:func:`raise_to_pair_max`): a class's
        count can be no smaller than its largest pair count, so a diagonal below that (e.g. a
        matrix stored with a zero diagonal) is raised to it and flagged as a lower bound.

        Returns
        -------
        (ndarray (C,) int64, ndarray (C,) bool)
            ``n_c`` and ``counts_exact`` with the raised classes set to False.

        Examples
        --------
        >>> co = Cooccurrence(np.array([[0, 4], [4, 9]]), ["a", "b"], ["a", "b"])
        >>> n, exact = co.class_sizes
        >>> n.tolist(), exact.tolist()
        ([4, 9], [False, True])
        """
        n, raised = raise_to_pair_max(self.M)
        return n.astype(np.int64), self.counts_exact & ~raised

    @property
    def pairs(self) -> np.ndarray:
        """The off-diagonal part (diagonal zeroed)."""
        P = self.M.copy()
        np.fill_diagonal(P, 0)
        return P

    def display(self, cid: int) -> str:
        name = self.class_names[cid]
        if (self.class_names == name).sum() > 1:
            return f"{name} ({self.class_labels[cid]})"
        return str(name)

    def class_id(self, key) -> int:
        if isinstance(key, (int, np.integer)):
            if not 0 <= int(key) < self.n_classes:
                raise DataError(self.name, f"class id {key} out of range", f"0..{self.n_classes - 1}")
            return int(key)
        hits = np.flatnonzero(self.class_labels == str(key))
        if len(hits) == 0:
            hits = np.flatnonzero(np.char.lower(self.class_names) == str(key).lower())
        if len(hits) == 1:
            return int(hits[0])
        if len(hits) > 1:
            raise DataError(self.name, f"class name {key!r} is ambiguous", "a unique label")
        raise DataError(self.name, f"unknown class {key!r}", "a class id, label or name")


def raise_to_pair_max(M) -> tuple[np.ndarray, np.ndarray]:
    """Per-class counts of a co-occurrence matrix, each raised to its largest pair count.

    A class that co-occurs with another in ``k`` images appears in at least ``k`` images, so the
    row maximum of the off-diagonal part is a lower bound of the class's count. This is the one
    place the kit applies that bound: ``Cooccurrence.class_sizes`` and the class-level count
    readers (``nbkit.datasets.counts``) both call it.

    Parameters
    ----------
    M : array-like (C, C)
        Square counts (any real dtype); the diagonal holds the per-class counts as known (0 when
        unknown).

    Returns
    -------
    (ndarray (C,), ndarray (C,) bool)
        ``max(M[i, i], max_j≠i M[i, j])`` in ``M``'s dtype, and whether it was raised (the
        diagonal was below a pair count).

    Examples
    --------
    >>> n, raised = raise_to_pair_max(np.array([[0, 3, 1], [3, 5, 2], [1, 2, 0]]))
    >>> n.tolist(), raised.tolist()
    ([3, 5, 2], [True, False, True])
    """
    M = np.asarray(M)
    d = np.diag(M).copy()
    P = M.copy()
    np.fill_diagonal(P, 0)
    rowmax = P.max(axis=1)
    raised = d < rowmax
    return np.where(raised, rowmax, d), raised


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
    if Y.nnz and np.iscomplexobj(Y.data):
        raise DataError("label matrix", "holds complex entries", "0/1 presence values")
    if Y.dtype.kind == "f" and Y.nnz and not np.isfinite(Y.data).all():
        raise DataError("label matrix", "holds NaN or infinite entries", "0/1 presence values")
    if Y.nnz and (Y.data < 0).any():
        raise DataError("label matrix", "holds negative entries", "0/1 presence values")
    Y = sp.csr_matrix((Y.data != 0, Y.indices, Y.indptr), shape=Y.shape)
    Y.eliminate_zeros()
    Y.sum_duplicates()  # bool data: duplicates collapse to True
    return Y


_PAIR_COUNTER = None


def _pair_counter():
    """The numba-compiled pair-counting loop, compiled in memory on first use.

    Compiled without ``cache=True``: numba writes nothing to disk and loads no native code from
    any cache folder (the kit never runs a library it finds in a user-writable directory).
    """
    global _PAIR_COUNTER
    if _PAIR_COUNTER is None:
        import numba

        @numba.njit(nogil=True, cache=False)
        def upper_counts(indptr, indices, n_classes):  # pragma: no cover (compiled)
            out = np.zeros((n_classes, n_classes), dtype=np.int64)
            for r in range(indptr.shape[0] - 1):
                for a in range(indptr[r], indptr[r + 1]):
                    i = indices[a]
                    out[i, i] += 1
                    for b in range(a + 1, indptr[r + 1]):
                        out[i, indices[b]] += 1
            return out

        _PAIR_COUNTER = upper_counts
    return _PAIR_COUNTER


def cooccurrence_matrix(Y) -> np.ndarray:
    """``M = YᵀY`` for a sparse image x class label matrix, as a dense symmetric int64 array.

    ``M[i, j]`` is the number of images containing both class ``i`` and class ``j``; ``M[i, i]``
    the number containing ``i``. For every image, every pair of its labels increments one cell
    (work: the sum over images of k(k+1)/2 for k labels, about 55 per Open Images image), in a
    loop compiled by numba in memory on first use (nothing is written to or loaded from a cache).
    This is the kit's one way of counting ``M``; ``benchmarks/bench_graph.py`` times it against
    the authors' pairwise set intersections in the same run.

    Parameters
    ----------
    Y : scipy.sparse matrix or array, shape (n_images, n_classes)
        Presence matrix; any nonzero entry means "present", duplicates are merged.

    Returns
    -------
    numpy.ndarray, shape (n_classes, n_classes), int64

    Raises
    ------
    DataError
        NaN, infinite, complex or negative entries, or a matrix that is not 2-D.

    Examples
    --------
    >>> import scipy.sparse as sp
    >>> Y = sp.csr_matrix([[1, 1, 0], [1, 0, 1], [1, 1, 1]])
    >>> cooccurrence_matrix(Y).tolist()
    [[3, 2, 2], [2, 2, 1], [2, 1, 2]]
    """
    Y = _canonical_csr(Y)
    C = Y.shape[1]
    U = _pair_counter()(Y.indptr, Y.indices, C)
    d = np.diag(U).copy()
    M = U + U.T  # each pair landed in exactly one triangle (rows need not be sorted)
    M[np.diag_indices(C)] = d
    return M


def from_labelindex(li, split: str | Sequence[str] | None = None) -> Cooccurrence:
    """Co-occurrence of a ``LabelIndex``, optionally restricted to one split or several.

    ``meta`` records the source, the split, the mean labels per image and, when the index has
    boxes, the mean objects per image (Table 5's columns).
    """
    Y = li.Y
    n = li.n_images
    mask = None
    if split is not None:
        splits = [split] if isinstance(split, str) else list(split)
        mask = np.isin(li.splits, splits)
        if not mask.any():
            raise DataError(li.meta.get("source", li.name), f"no images in split(s) {splits}",
                            f"one of {sorted(set(li.splits))}")
        Y = Y[mask]
        n = int(mask.sum())
    meta = {"source": li.meta.get("source", li.name), "split": split,
            "labels_per_image": float(Y.nnz / max(n, 1))}
    if li.boxes is not None:
        b = li.boxes if mask is None else li.boxes[mask[li.boxes["image"].to_numpy()]]
        meta["objects_per_image"] = float(len(b) / max(n, 1))
    return Cooccurrence(cooccurrence_matrix(Y), li.class_labels, li.class_names, name=li.name,
                        n_images=n, meta=meta)
