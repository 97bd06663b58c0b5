"""Class-level counts: a co-occurrence matrix and per-class image counts, for graph-only analysis.

When per-image labels are not available (or too large to ship), the trigger-graph analysis of the
paper (Algorithm 1, §4) only needs ``M[i, j]`` (images with both classes) and ``n_i`` (images with
class i). This module reads those counts from a pickle-free ``.npz`` in one of three conventions:

``mlgcn``
    ML-GCN / MSRN ``adj`` + ``nums``: ``adj[i, j]`` pair counts with a zero diagonal, ``nums[i]``
    per-class image counts (exact). Some files (NUS-WIDE in MSRN) keep the per-class counts on the
    diagonal of ``adj`` and ``nums`` = column sums + 1; then the diagonal wins and ``meta`` says so.
``authors``
    The paper authors' Open Images file: ``train`` / ``test`` matrices with a zero diagonal,
    ``labels`` (MIDs) and ``names``. Per-class counts are not stored: the diagonal is filled with a
    lower bound (the row maximum) and ``counts_exact`` is all False.
``generic``
    ``M`` (or ``cooccurrence``) with the per-class counts on the diagonal, or zero diagonal plus
    ``counts``; optional ``labels`` / ``names`` / ``n_images`` / ``counts_exact``.

``load_openimages_counts`` returns the authors' 486-class Open Images matrix that ships in
``nbkit/data`` (MIT + CC BY 4.0, see ``nbkit/data/README.md``), with the best known per-class counts.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..cooccurrence import Cooccurrence, _nonfinite, raise_to_pair_max
from ..errors import DataError
from ..io import read_json
from . import packaged, require

__all__ = ["load_counts", "load_openimages_counts"]

_CONVENTIONS = ("auto", "mlgcn", "authors", "generic")


def _sibling_names(path: Path) -> Path | None:
    """A class-name list beside an ML-GCN style file: ``voc_adj.npz`` -> ``voc_classes*.json``."""
    stem = path.stem
    prefix = stem[:-4] if stem.endswith("_adj") else stem
    for cand in sorted(path.parent.glob(f"{prefix}_classes*.json")) + \
            sorted(path.parent.glob(f"{prefix}_names*.json")):
        return cand
    return None


def _read_names(names, path: Path, C: int) -> list[str] | None:
    if names is None:
        return None
    src = path
    if isinstance(names, (str, os.PathLike)):
        src = Path(names)
        require(src, "class-name list")
        if src.suffix == ".json":
            names = read_json(src, "a JSON list of class names")
            if isinstance(names, dict):  # {"0": "name"} or {"name": 0}
                try:
                    names = [k for k, _ in sorted(names.items(), key=lambda kv: int(kv[1]))]
                except (TypeError, ValueError):
                    names = [v for _, v in sorted(names.items(), key=lambda kv: int(kv[0]))]
        else:
            names = [ln.strip() for ln in src.read_text(encoding="utf-8").splitlines() if ln.strip()]
    names = [str(x) for x in names]
    if len(names) != C:
        raise DataError(src, f"{len(names)} class names for a {C}-class matrix",
                        f"exactly {C} names, in matrix order")
    return names


def _detect(keys: Sequence[str], path: Path) -> str:
    if "adj" in keys:
        return "mlgcn"
    if "train" in keys or "test" in keys:
        return "authors"
    if "M" in keys or "cooccurrence" in keys:
        return "generic"
    raise DataError(path, f"no co-occurrence matrix among arrays {sorted(keys)}",
                    "arrays 'adj' + 'nums' (ML-GCN), 'train'/'test' + 'labels' + 'names' (authors), "
                    "or 'M' [+ 'counts', 'labels', 'names']")


def _float_check(a: np.ndarray, path: Path, key: str) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise DataError(path, f"array {key!r} has dtype {a.dtype}", "numeric counts")
    if a.dtype.kind == "f":
        if not np.isfinite(a).all():  # NaN, and +-inf (which int64 would turn into garbage)
            idx = tuple(int(i) for i in np.argwhere(~np.isfinite(a))[0])
            raise DataError(path, f"array {key!r} has {_nonfinite(a[idx])} at {list(idx)}",
                            "finite counts")
        if not np.allclose(a, np.round(a)):
            raise DataError(path, f"array {key!r} has non-integer counts", "integer image counts")
        a = np.round(a)
    if (a < 0).any():
        idx = tuple(int(i) for i in np.argwhere(a < 0)[0])
        raise DataError(path, f"array {key!r} has a negative count {a[idx]} at {list(idx)}",
                        "non-negative counts")
    return a.astype(np.int64)


def load_counts(path: str | os.PathLike, split: str | None = None, names=None,
                convention: str = "auto", n_images: int | None = None,
                name: str | None = None) -> Cooccurrence:
    """Read class-level co-occurrence counts from an ``.npz``.

    Parameters
    ----------
    path : path-like
        The ``.npz`` (loaded with ``allow_pickle=False``).
    split : str, optional
        For the ``authors`` convention, which matrix (``"train"``, default, or ``"test"``).
    names : list of str or path, optional
        Class names in matrix order (a JSON list or a text file, one a line). Default: the
        ``names``/``labels`` arrays in the file, else a ``<prefix>_classes*.json`` beside an
        ML-GCN ``<prefix>_adj.npz`` (``voc_adj.npz`` -> ``voc_classes.json``), else ``"0".."C-1"``.
    convention : {"auto", "mlgcn", "authors", "generic"}
        How the file stores the counts (see the module docstring); ``auto`` detects it from the
        array names.
    n_images : int, optional
        Number of images the counts came from, when known (stored in ``Cooccurrence.n_images``).
    name : str, optional
        Dataset name (default: the file stem).

    Returns
    -------
    nbkit.cooccurrence.Cooccurrence
        Per-class image counts on the diagonal; ``counts_exact[i]`` False where the count is only a
        lower bound; ``meta["note"]`` says in one line which counts are exact.

    Raises
    ------
    DataError
        Missing file or array, NaN / negative / non-integer / asymmetric counts, a name list of the
        wrong length. The message names the file.

    Examples
    --------
    >>> from nbkit.datasets import packaged
    >>> co = load_counts(packaged("openimages_bbox_cooccurrence.npz"), split="test")
    >>> co.n_classes, bool(co.counts_exact.any())
    (486, False)
    """
    path = require(Path(path), "class-level counts file (.npz)")
    if convention not in _CONVENTIONS:
        raise DataError(path, f"unknown convention {convention!r}", f"one of {_CONVENTIONS}")
    arrays = _read_npz(path)
    conv = _detect(list(arrays), path) if convention == "auto" else convention
    meta = {"source": str(path), "convention": conv}
    exact = None

    def get(key):
        if key not in arrays:
            raise DataError(path, f"missing array {key!r}; found {sorted(arrays)}",
                            f"the {conv!r} convention's arrays")
        return arrays[key]

    if conv == "mlgcn":
        adj = _float_check(get("adj"), path, "adj")
        _square(adj, path, "adj")
        nums = _float_check(get("nums"), path, "nums").ravel()
        if len(nums) != adj.shape[0]:
            raise DataError(path, f"'nums' has {len(nums)} entries for a {adj.shape[0]}-class 'adj'",
                            "one count per class")
        M = adj.copy()
        diag = np.diag(adj)
        if (diag == 0).all():
            np.fill_diagonal(M, nums)
            meta["note"] = "per-class counts from 'nums' (exact)"
        else:
            meta["note"] = ("per-class counts from the diagonal of 'adj' (exact); 'nums' differs "
                            "(MSRN stores column sums + 1) and is ignored")
            meta["nums_ignored"] = True
        exact = np.ones(len(M), dtype=bool)
    elif conv == "authors":
        split = split or "train"
        if split not in arrays:
            have = [k for k in ("train", "test") if k in arrays]
            raise DataError(path, f"no matrix for split {split!r}", f"one of {have}")
        M = _float_check(arrays[split], path, split)
        _square(M, path, split)
        np.fill_diagonal(M, raise_to_pair_max(M)[0])
        exact = np.zeros(len(M), dtype=bool)
        meta["split"] = split
        meta["note"] = ("pair counts exact; per-class counts unknown in this file, diagonal = "
                        "lower bound (row maximum) for every class")
    else:
        key = "M" if "M" in arrays else "cooccurrence"
        M = _float_check(get(key), path, key)
        _square(M, path, key)
        if "counts" in arrays:
            counts = _float_check(arrays["counts"], path, "counts").ravel()
            if len(counts) != len(M):
                raise DataError(path, f"'counts' has {len(counts)} entries for {len(M)} classes",
                                "one count per class")
            np.fill_diagonal(M, counts)
        if "counts_exact" in arrays:
            exact = np.asarray(arrays["counts_exact"], dtype=bool).ravel()
            if len(exact) != len(M):
                raise DataError(path, f"'counts_exact' has {len(exact)} entries for {len(M)} "
                                      "classes", "one flag per class")
        elif "counts" not in arrays and (np.diag(M) == 0).all():
            np.fill_diagonal(M, raise_to_pair_max(M)[0])
            exact = np.zeros(len(M), dtype=bool)
        else:
            exact = np.ones(len(M), dtype=bool)
        meta["note"] = (f"{int(exact.sum())} per-class counts exact, "
                        f"{int((~exact).sum())} lower bounds")
        if n_images is None and "n_images" in arrays:
            n_images = int(arrays["n_images"])
    _check_pairs(M, exact, path)
    class_labels, class_names = _labels_and_names(arrays, names, path, len(M), meta)
    return Cooccurrence(M, class_labels, class_names, name=name or path.stem, n_images=n_images,
                        counts_exact=exact, meta=meta)


def _read_npz(path: Path) -> dict:
    """Every array of a pickle-free ``.npz``."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except ValueError as e:
        raise DataError(path, f"cannot read without pickle ({e})",
                        "a pickle-free .npz (numpy.savez with numeric / str arrays)") from e
    except (OSError, EOFError) as e:
        raise DataError(path, f"not a readable .npz file ({e})") from e


def _check_pairs(M: np.ndarray, exact: np.ndarray, path: Path) -> None:
    """Pair counts symmetric; an exact per-class count at least every pair count of its class."""
    P = M.copy()
    np.fill_diagonal(P, 0)
    if not (P == P.T).all():
        i, j = np.argwhere(P != P.T)[0]
        raise DataError(path, f"co-occurrence matrix is not symmetric: M[{i}, {j}] = {P[i, j]} but "
                              f"M[{j}, {i}] = {P[j, i]}", "M[i, j] == M[j, i]")
    bad = np.flatnonzero(raise_to_pair_max(M)[1])
    if len(bad) and exact[bad].any():
        i = int(bad[exact[bad]][0])
        raise DataError(path, f"class {i} has {M[i, i]} images but co-occurs with another class in "
                              f"{P[i].max()} images", "per-class counts >= every pair count")


def _labels_and_names(arrays: dict, names, path: Path, C: int, meta: dict) -> tuple[list, list]:
    """Class labels and names: ``names`` as given, else the file's ``names`` / ``labels`` arrays,
    else a name list beside the file (recorded in ``meta["names_from"]``), else ``"0".."C-1"``."""
    labels = arrays.get("labels")
    file_names = arrays.get("names")
    given = _read_names(names, path, C)
    if given is None and file_names is None and labels is None:
        sib = _sibling_names(path)
        if sib is not None:
            given = _read_names(sib, path, C)
            meta["names_from"] = str(sib)
    if given is not None:
        class_names = given
    elif file_names is not None:
        class_names = [str(x) for x in np.asarray(file_names).ravel()]
    elif labels is not None:
        class_names = [str(x) for x in np.asarray(labels).ravel()]
    else:
        class_names = [str(i) for i in range(C)]
    class_labels = ([str(x) for x in np.asarray(labels).ravel()] if labels is not None
                    else list(class_names))
    for what, seq in (("labels", class_labels), ("names", class_names)):
        if len(seq) != C:
            raise DataError(path, f"{len(seq)} class {what} for a {C}-class matrix",
                            "one per class")
    if len(set(class_labels)) != C:
        if labels is None:
            class_labels = [f"{i}:{n}" for i, n in enumerate(class_names)]
        else:
            raise DataError(path, "duplicate class labels in 'labels'", "unique labels")
    return class_labels, class_names


def _square(M: np.ndarray, path: Path, key: str):
    if M.ndim != 2 or M.shape[0] != M.shape[1] or M.shape[0] == 0:
        raise DataError(path, f"array {key!r} has shape {M.shape}", "a square C x C matrix, C >= 1")


def load_openimages_counts(split: str = "train") -> Cooccurrence:
    """The paper authors' Open Images box co-occurrence matrix (486 classes), shipped in ``nbkit/data``.

    ``M[i, j]`` is the number of Open Images V6 images with at least one box of class i and one of
    class j; ``train`` counts the V6 train **plus validation** annotations (as the authors did), ``test``
    the test split. The classes are the paper's valid classes (leaves of the box hierarchy that are
    trainable and present in train and test), in sorted-MID order.

    Per-class image counts were not saved by the authors. For ``split="train"`` the diagonal holds
    the best known value from ``openimages_class_image_count_bounds.csv``: the **exact** count for
    2 classes (Cat 12,861; Cat furniture 185) and a **lower bound** (``n_lower_best``) for the other
    484; ``counts_exact`` marks which. For ``split="test"`` no count is known and the diagonal holds
    the row maximum, a lower bound, for every class. Pair counts are exact in both splits.

    Parameters
    ----------
    split : {"train", "test"}

    Returns
    -------
    nbkit.cooccurrence.Cooccurrence
        ``meta["note"]`` states in one line which counts are exact and which are bounds.

    Examples
    --------
    >>> co = load_openimages_counts()
    >>> co.n_classes, int(co.counts_exact.sum())
    (486, 2)
    >>> co.display(co.class_id("Cat")), int(co.class_counts[co.class_id("Cat")])
    ('Cat', 12861)
    """
    if split not in ("train", "test"):
        raise DataError("openimages-counts", f"unknown split {split!r}", "'train' or 'test'")
    npz = packaged("openimages_bbox_cooccurrence.npz")
    co = load_counts(npz, split=split, convention="authors", name="openimages")
    meta = dict(co.meta)
    meta.update(source="nbkit/data/openimages_bbox_cooccurrence.npz",
                origin="uchicago-sandlab/naturalbackdoors@18d4656 data/oi_bbox/matrix.pkl (MIT); "
                       "Open Images V6 box annotations (CC BY 4.0)",
                split=split, train_includes_validation=True)
    M = co.M.copy()
    exact = np.zeros(co.n_classes, dtype=bool)
    if split == "train":
        bpath = packaged("openimages_class_image_count_bounds.csv")
        b = pd.read_csv(bpath)
        if list(b["mid"]) != list(co.class_labels):
            raise DataError(bpath, "class order differs from the matrix's 'labels'",
                            "the same 486 MIDs in the same order")
        n_exact = b["n_exact"].to_numpy()
        known = ~np.isnan(n_exact.astype(float))
        diag = np.where(known, np.nan_to_num(n_exact.astype(float)), b["n_lower_best"].to_numpy())
        np.fill_diagonal(M, diag.astype(np.int64))
        exact = known
        ex_names = ", ".join(f"{co.class_names[i]} {int(diag[i]):,}" for i in np.flatnonzero(known))
        meta["note"] = (f"pair counts exact; per-class image counts exact for {int(known.sum())} "
                        f"classes ({ex_names}), lower bounds (n_lower_best) for the other "
                        f"{int((~known).sum())}")
        meta["counts_source"] = "nbkit/data/openimages_class_image_count_bounds.csv"
    else:
        meta["note"] = ("pair counts exact; per-class image counts unknown for the test split: "
                        "diagonal = row maximum, a lower bound, for all 486 classes")
    return Cooccurrence(M, co.class_labels, co.class_names, name="openimages", n_images=None,
                        counts_exact=exact, meta=meta)
