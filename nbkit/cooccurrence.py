"""Class co-occurrence counts: ``M = YᵀY`` (Algorithm 1's input).

A ``Cooccurrence`` holds a dense symmetric ``C x C`` int64 matrix whose off-diagonal entry ``M[i, j]``
is the number of images that contain both class i and class j, and whose diagonal ``M[i, i]`` is the
number of images that contain class i. It is built from a ``LabelIndex`` (per-image labels) or read
directly from class-level counts (``nbkit.datasets.counts``), where some per-class counts may only be
lower bounds: ``counts_exact`` says which.
"""
from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import scipy.sparse as sp

from .errors import DataError


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
        if np.issubdtype(M.dtype, np.floating):
            if np.isnan(M).any():
                i, j = np.argwhere(np.isnan(M))[0]
                raise DataError(src, f"NaN count at [{i}, {j}]", "finite non-negative counts")
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


def scipy_cooccurrence(Y: sp.spmatrix) -> np.ndarray:
    """``YᵀY`` through scipy's sparse product (int32 data), as a dense int64 array.

    The reference implementation; ``cooccurrence_matrix`` is faster (see ``benchmarks/bench_graph.py``).
    """
    Y = sp.csr_matrix(Y)
    Yi = sp.csr_matrix((np.ones(Y.nnz, dtype=np.int32), Y.indices, Y.indptr), shape=Y.shape)
    Yc = Yi.tocsc()
    return (Yc.T @ Yc).toarray().astype(np.int64)


def cooccurrence_matrix(Y: sp.spmatrix, kernel: str = "auto") -> np.ndarray:
    """``YᵀY`` as a dense int64 array, for a sparse boolean image x class matrix.

    Delegates to ``nbkit.graph.fast_cooccurrence``: a small compiled pair-counting kernel when a C
    compiler is available (about 1,000x faster than the authors' pairwise set intersections on an
    Open-Images-sized matrix), else a numpy pair count; ``kernel="scipy"`` uses the sparse product.
    """
    from .graph import fast_cooccurrence

    return fast_cooccurrence(Y, kernel=kernel)


def from_labelindex(li, split: str | Sequence[str] | None = None) -> Cooccurrence:
    """Co-occurrence of a ``LabelIndex``, optionally restricted to one split or several."""
    Y = li.Y
    n = li.n_images
    if split is not None:
        splits = [split] if isinstance(split, str) else list(split)
        mask = np.isin(li.splits, splits)
        if not mask.any():
            raise DataError(li.name, f"no images in split(s) {splits}",
                            f"one of {sorted(set(li.splits))}")
        Y = Y[mask]
        n = int(mask.sum())
    return Cooccurrence(cooccurrence_matrix(Y), li.class_labels, li.class_names, name=li.name,
                        n_images=n, meta={"source": li.meta.get("source", li.name), "split": split})
