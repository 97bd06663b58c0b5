"""ReLabel label maps (Yun et al., 2021) -> per-class confidences and multi-labels.

ReLabel stores, for every ImageNet training image, a ``.pt`` tensor of shape ``2 x 5 x 15 x 15``:

- ``maps[0, k, i, j]``: the logit of the k-th most likely class in cell (row i, column j) of a 15 x 15
  grid over the image (k = 0 is the top-1);
- ``maps[1, k, i, j]``: the id of that class (0..999, sorted-wnid order), stored as a float.

The paper (App. B) turns a map into a multi-label the way the authors' code does
(``utils/imagenet_manager.py::_get_prominent_categs`` and ``relabel.ipynb`` in
uchicago-sandlab/naturalbackdoors, read for this module):

1. the four corner cells are excluded (the authors overwrite them with zeros);
2. a softmax is taken over the top-5 axis of the logits, per cell;
3. only the top-``k`` entries of each cell count (``topk=1``: the top-1 class of each cell);
4. a class is present when some allowed cell gives it a probability ``>= threshold``
   (the authors compare with ``>=``; ``0.994`` is the paper's threshold).

So the decision for a class is a comparison of one number, its maximum probability over the allowed
cells, with the threshold. :func:`class_confidence` returns exactly that number (0 where the class is
never among the allowed top-k), so ``decode(maps, t) == (class_confidence(maps) >= t)`` and a
threshold sweep (``nbkit.calibrate``) is one comparison per threshold.

Details found in the authors' code, offered as named options:

- ``corners="drop"`` (default) removes the corner cells. The authors' code literally sets the
  corner logits *and class ids* to 0, so after the softmax each corner says "class 0 with
  probability 0.2". That only matters for thresholds ``<= 0.2``, where class 0 would appear in
  every image; ``corners="zero"`` reproduces it bit for bit.
- ``comparison=">="`` (authors' code, default) or ``">"`` (a literal reading of "above the
  threshold"). With float probabilities the two differ only on exact ties.
- Top-k is positional (the first k entries of the top-5 axis), as in the authors' code; ReLabel
  writes the five entries sorted by logit, so this is the k most likely classes.
- Probabilities are computed in float64 (the authors used float32 torch); a value within ~1e-7 of
  the threshold may fall on the other side.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import scipy.sparse as sp

from .errors import DataError, MissingDataError

_MAP_SHAPE = (2, 5, 15, 15)
"""Shape of one ReLabel label map."""

_DEFAULT_THRESHOLD = 0.994
"""The paper's confidence threshold (App. B, Figure 7)."""

_CORNERS = ((0, 0), (0, -1), (-1, 0), (-1, -1))

_COMPARISONS = (">=", ">")
_CORNER_MODES = ("drop", "zero")


# --------------------------------------------------------------------------------------- loading
def _check_map_array(a: np.ndarray, source, n_classes: int | None) -> np.ndarray:
    """Validate one map or a stack of maps (shape, finite values, integer in-range class ids)."""
    if a.shape[-4:] != _MAP_SHAPE or a.ndim not in (4, 5):
        raise DataError(source, f"label map has shape {tuple(a.shape)}",
                        f"shape {_MAP_SHAPE} (or n x {_MAP_SHAPE} for a stack): "
                        "[logits | class ids] x top-5 x 15 rows x 15 columns")
    if a.dtype.kind not in "fiu":  # complex, bool, strings, objects: not a label map
        raise DataError(source, f"label map has dtype {a.dtype}", "a real-valued float tensor")
    logits = a[..., 0, :, :, :]
    ids = a[..., 1, :, :, :]
    if not np.isfinite(logits).all():
        raise DataError(source, "label map logits (index 0) contain NaN or infinity", "finite logits")
    if not np.isfinite(ids).all() or (ids != np.round(ids)).any():
        bad = ids[~np.isfinite(ids) | (ids != np.round(ids))].ravel()[:3]
        raise DataError(source, f"label map class ids (index 1) are not integers, e.g. {bad.tolist()}",
                        "integer class ids stored as floats")
    if n_classes is not None and ids.size and (ids.min() < 0 or ids.max() >= n_classes):
        raise DataError(source, f"label map class ids range {int(ids.min())}..{int(ids.max())}",
                        f"ids in 0..{n_classes - 1}",
                        hint="pass n_classes= matching the label space of these maps")
    return a


def load_map(path: str | os.PathLike, n_classes: int | None = 1000) -> np.ndarray:
    """Read one ReLabel ``.pt`` label map.

    Parameters
    ----------
    path : path-like
        A file written by ``torch.save`` holding one ``2 x 5 x 15 x 15`` tensor (or array).
    n_classes : int or None, default 1000
        Class ids must lie in ``0..n_classes-1`` (ImageNet: 1000; toy scenes: ``len(CLASSES)``);
        ``None`` skips the range check.

    Returns
    -------
    numpy.ndarray, float32, shape (2, 5, 15, 15)

    Raises
    ------
    MissingDataError
        The file does not exist.
    DataError
        The file cannot be read with ``torch.load(weights_only=True)``, or holds something other
        than a ``2 x 5 x 15 x 15`` map with integer, in-range class ids. The message names the file.

    Examples
    --------
    >>> m = load_map("relabel/n01440764/n01440764_10026.pt")  # doctest: +SKIP
    >>> m.shape                                                 # doctest: +SKIP
    (2, 5, 15, 15)
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise MissingDataError(path, "label map file not found",
                               hint="ReLabel maps come from naver-ai/relabel_imagenet "
                                    "(relabel_imagenet.tar); see data/README.md")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types (UnpicklingError, RuntimeError, EOFError, ...)
        raise DataError(path, f"cannot read label map with torch.load(weights_only=True) ({e})",
                        "a tensor written by torch.save") from e
    if isinstance(obj, torch.Tensor):
        if obj.is_complex() or obj.dtype == torch.bool:  # .to(float32) would drop the imaginary part
            raise DataError(path, f"label map has dtype {obj.dtype}", "a real-valued float tensor")
        a = obj.detach().to(torch.float32).numpy()
    elif isinstance(obj, np.ndarray):
        if obj.dtype.kind not in "fiu":
            raise DataError(path, f"label map has dtype {obj.dtype}", "a real-valued float array")
        a = obj.astype(np.float32)
    else:
        raise DataError(path, f"label map file holds a {type(obj).__name__}",
                        f"one tensor of shape {_MAP_SHAPE}")
    if a.ndim != 4:
        raise DataError(path, f"label map has shape {tuple(a.shape)}", f"shape {_MAP_SHAPE}")
    return np.ascontiguousarray(_check_map_array(a, path, n_classes), dtype=np.float32)


def _load_maps(paths: Iterable[str | os.PathLike], n_classes: int | None = 1000,
              progress: bool = True) -> np.ndarray:
    """Read many ``.pt`` maps into one ``n x 2 x 5 x 15 x 15`` float32 array (tqdm bar).

    Parameters
    ----------
    paths : iterable of path-like
    n_classes : int or None
        See :func:`load_map`.
    progress : bool
        Show a progress bar.

    Returns
    -------
    numpy.ndarray, float32, shape (n, 2, 5, 15, 15)
    """
    from .progress import tqdm

    paths = list(paths)
    out = np.empty((len(paths),) + _MAP_SHAPE, dtype=np.float32)
    for i, p in enumerate(tqdm(paths, desc="label maps", disable=not progress or len(paths) < 200)):
        out[i] = load_map(p, n_classes=n_classes)
    return out


# --------------------------------------------------------------------------------------- decoding
def _as_stack(maps, source="label maps") -> np.ndarray:
    if type(maps).__module__.startswith("torch"):  # a torch.Tensor (no torch import otherwise)
        maps = maps.detach().cpu().numpy()
    a = np.asarray(maps)
    if a.ndim == 4:
        a = a[None]
    if a.ndim != 5 or a.shape[1:] != _MAP_SHAPE:
        raise DataError(source, f"label maps have shape {tuple(a.shape)}",
                        f"{_MAP_SHAPE} or (n, {', '.join(map(str, _MAP_SHAPE))})")
    return a


def cell_probabilities(maps) -> np.ndarray:
    """Softmax over the top-5 axis of the logits, per cell (float64).

    Parameters
    ----------
    maps : array-like, shape (2, 5, 15, 15) or (n, 2, 5, 15, 15)

    Returns
    -------
    numpy.ndarray, float64, shape (n, 5, 15, 15)
        Probabilities of the five listed classes of each cell; they sum to 1 per cell.
    """
    a = _as_stack(maps)
    z = a[:, 0].astype(np.float64)
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def _allowed_cells(exclude_corners: bool) -> np.ndarray:
    keep = np.ones(_MAP_SHAPE[2:], dtype=bool)
    if exclude_corners:
        for i, j in _CORNERS:
            keep[i, j] = False
    return keep


def _topk_probabilities(a: np.ndarray, topk: int, keep: np.ndarray) -> np.ndarray:
    """Softmax probabilities of the first ``topk`` entries, allowed cells only (n x k x cells)."""
    n = a.shape[0]
    z = a[:, 0].reshape(n, _MAP_SHAPE[1], -1)         # n x 5 x 225 (a view when contiguous)
    cells = np.flatnonzero(keep.ravel())
    zmax = z.max(axis=1).astype(np.float64)
    den = np.zeros_like(zmax)
    for j in range(_MAP_SHAPE[1]):
        den += np.exp(z[:, j] - zmax)
    top = np.exp(z[:, :topk] - zmax[:, None]) / den[:, None]
    return top[:, :, cells] if len(cells) < z.shape[2] else top


def _triplets(maps, exclude_corners: bool, topk: int, n_classes: int | None, corners: str):
    """(image, class, probability) for every allowed cell and top-k position."""
    if corners not in _CORNER_MODES:
        raise ValueError(f"corners={corners!r}; expected one of {_CORNER_MODES}")
    if not 1 <= int(topk) <= _MAP_SHAPE[1]:
        raise ValueError(f"topk={topk}; expected 1..{_MAP_SHAPE[1]}")
    a = _as_stack(maps)
    _check_map_array(a, "label maps", n_classes)
    if exclude_corners and corners == "zero":  # the authors' literal behaviour: zero logits and ids
        a = a.copy()
        for i, j in _CORNERS:
            a[:, :, :, i, j] = 0.0
        keep = np.ones(_MAP_SHAPE[2:], dtype=bool)
    else:
        keep = _allowed_cells(exclude_corners)
    p = _topk_probabilities(a, int(topk), keep)                # n x k x cells
    ids = a[:, 1, :topk][:, :, keep].astype(np.int64)          # n x k x cells
    n = a.shape[0]
    img = np.broadcast_to(np.arange(n)[:, None, None], ids.shape)
    return n, img.ravel(), ids.ravel(), p.ravel()


def _class_confidence_sparse(maps, exclude_corners: bool = True, topk: int = 1,
                            n_classes: int = 1000, corners: str = "drop") -> sp.csr_matrix:
    """Like :func:`class_confidence` but a sparse CSR matrix (float64); for 100k+ maps.

    Each image lists at most ``221 * topk`` classes, so the sparse form stays small where the
    dense ``n x 1000`` float64 matrix would not (100,000 maps: ~800 MB dense).
    """
    n, img, cls, p = _triplets(maps, exclude_corners, topk, n_classes, corners)
    if len(p) == 0:
        return sp.csr_matrix((n, n_classes), dtype=np.float64)
    key = img * n_classes + cls
    order = np.argsort(key, kind="stable")
    key, p = key[order], p[order]
    start = np.r_[0, np.flatnonzero(key[1:] != key[:-1]) + 1]
    best = np.maximum.reduceat(p, start)
    key = key[start]
    return sp.csr_matrix((best, (key // n_classes, key % n_classes)), shape=(n, n_classes))


def class_confidence(maps, exclude_corners: bool = True, topk: int = 1, n_classes: int = 1000,
                     corners: str = "drop") -> np.ndarray:
    """Per image and class, the highest top-k softmax probability over the allowed cells.

    Parameters
    ----------
    maps : array-like or torch.Tensor, shape (2, 5, 15, 15) or (n, 2, 5, 15, 15)
        ReLabel maps (logits, class ids).
    exclude_corners : bool, default True
        Ignore the four corner cells (the authors do; ReLabel's corners are unreliable).
    topk : int, default 1
        How many of each cell's five entries count (the paper: 1).
    n_classes : int, default 1000
        Width of the output (ImageNet 1000; toy scenes ``len(CLASSES)``). Ids outside raise.
    corners : {"drop", "zero"}
        How corners are excluded; see the module docstring ("zero" = authors' literal code).

    Returns
    -------
    numpy.ndarray, float64, shape (n, n_classes)
        0 where the class never appears among the allowed top-k entries.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.zeros((2, 5, 15, 15)); m[1] = np.arange(5)[:, None, None]  # ids 0..4 in every cell
    >>> m[0, 0] = 10.0                                                       # class 0 is sure
    >>> conf = class_confidence(m, n_classes=5)
    >>> round(float(conf[0, 0]), 4), float(conf[0, 1])
    (0.9998, 0.0)
    >>> bool(decode(m, 0.994, n_classes=5)[0, 0])
    True
    """
    return _class_confidence_sparse(maps, exclude_corners, topk, n_classes, corners).toarray()


def decode(maps, threshold: float = _DEFAULT_THRESHOLD, exclude_corners: bool = True, topk: int = 1,
           n_classes: int = 1000, corners: str = "drop", comparison: str = ">=",
           sparse: bool = False):
    """Multi-labels from label maps: class present when its confidence passes ``threshold``.

    Parameters
    ----------
    maps : array-like, shape (2, 5, 15, 15) or (n, 2, 5, 15, 15)
    threshold : float, default 0.994
        The paper's value (App. B).
    exclude_corners, topk, n_classes, corners
        As in :func:`class_confidence`.
    comparison : {">=", ">"}
        ``">="`` is the authors' code (default); ``">"`` reads "above the threshold" literally.
    sparse : bool
        Return a CSR bool matrix instead of a dense array.

    Returns
    -------
    numpy.ndarray or scipy.sparse.csr_matrix, bool, shape (n, n_classes)
        Equal to ``class_confidence(maps, ...) >= threshold``.
    """
    if comparison not in _COMPARISONS:
        raise ValueError(f"comparison={comparison!r}; expected one of {_COMPARISONS}")
    if threshold <= 0:
        raise ValueError(f"threshold={threshold}; expected > 0 (absent classes have confidence 0)")
    conf = _class_confidence_sparse(maps, exclude_corners, topk, n_classes, corners)
    keep = conf.data >= threshold if comparison == ">=" else conf.data > threshold
    out = sp.csr_matrix((np.ones(int(keep.sum()), dtype=bool),
                         (np.repeat(np.arange(conf.shape[0]), np.diff(conf.indptr))[keep],
                          conf.indices[keep])), shape=conf.shape)
    return out if sparse else out.toarray()


def class_boxes(maps, threshold: float = _DEFAULT_THRESHOLD, exclude_corners: bool = True, topk: int = 1,
                n_classes: int | None = 1000, corners: str = "drop", comparison: str = ">="):
    """Where each decoded class is: the box around the grid cells that make it present.

    A ReLabel map locates its classes on a 15 x 15 grid over the image; a class is present (see
    :func:`decode`) because some allowed cells give it a top-k probability at the threshold. Its box
    is the bounding box of those cells, in normalised image coordinates (cell ``(i, j)`` covers
    ``x in [j/15, (j+1)/15]``, ``y in [i/15, (i+1)/15]``). This is what the GradCAM audit of
    ImageNet triggers (Figure 16) needs: ImageNet train images carry no boxes of their own.

    Returns
    -------
    pandas.DataFrame
        ``image`` (position in ``maps``), ``class``, ``x0, y0, x1, y1``: one row per decoded
        (image, class) pair, sorted by image then class (the same pairs as ``decode``).

    Examples
    --------
    >>> m = np.zeros((2, 5, 15, 15), np.float32); m[1] = np.arange(5)[:, None, None] + 10
    >>> m[0, 0, 2:4, 5:9] = 12.0; m[1, 0, 2:4, 5:9] = 3
    >>> b = class_boxes(m)
    >>> b[["image", "class"]].values.tolist(), (b[["x0", "y0", "x1", "y1"]] * 15).round().values.tolist()
    ([[0, 3]], [[5.0, 2.0, 9.0, 4.0]])
    """
    import pandas as pd

    if comparison not in _COMPARISONS:
        raise ValueError(f"comparison={comparison!r}; expected one of {_COMPARISONS}")
    n, img, cls, p = _triplets(maps, exclude_corners, topk, n_classes, corners)
    keep = (np.ones(_MAP_SHAPE[2:], dtype=bool) if (exclude_corners and corners == "zero")
            else _allowed_cells(exclude_corners))
    cells = np.flatnonzero(keep.ravel())
    cell = np.broadcast_to(cells[None, None, :], (n, int(topk), len(cells))).ravel()
    hit = (p >= threshold) if comparison == ">=" else (p > threshold)
    side = _MAP_SHAPE[2]
    df = pd.DataFrame({"image": img[hit].astype(np.int64), "class": cls[hit].astype(np.int64),
                       "r": cell[hit] // side, "c": cell[hit] % side})
    g = df.groupby(["image", "class"], sort=True)
    out = pd.DataFrame({"x0": g["c"].min() / side, "y0": g["r"].min() / side,
                        "x1": (g["c"].max() + 1) / side, "y1": (g["r"].max() + 1) / side}).reset_index()
    return out.astype({"x0": np.float32, "y0": np.float32, "x1": np.float32, "y1": np.float32})


def _present_classes(maps, threshold: float = _DEFAULT_THRESHOLD, **options) -> list[np.ndarray]:
    """Per image, the sorted class ids that :func:`decode` marks present."""
    Y = decode(maps, threshold, sparse=True, **options)
    return [Y.indices[Y.indptr[i]:Y.indptr[i + 1]].copy() for i in range(Y.shape[0])]


def top1_grid(maps) -> np.ndarray:
    """The top-1 class id of every cell (n x 15 x 15 int), e.g. to draw a label map."""
    return _as_stack(maps)[:, 1, 0].astype(np.int64)


def save_map(path: str | os.PathLike, m: np.ndarray) -> Path:
    """Atomically ``torch.save`` one map as a float32 ``2 x 5 x 15 x 15`` tensor (ReLabel format)."""
    import torch

    from .io import atomic_path

    a = np.asarray(m, dtype=np.float32)
    if a.shape != _MAP_SHAPE:
        raise DataError(path, f"label map to write has shape {a.shape}", f"shape {_MAP_SHAPE}")
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(torch.from_numpy(np.ascontiguousarray(a)), tmp)
    return Path(path)


def map_paths(directory: str | os.PathLike) -> list[Path]:
    """All ``.pt`` files under ``directory`` (flat, or ReLabel's ``<wnid>/<image_id>.pt``), sorted."""
    d = Path(directory)
    if not d.is_dir():
        raise MissingDataError(d, "ReLabel directory not found",
                               hint="download relabel_imagenet.tar (naver-ai/relabel_imagenet) "
                                    "or write a toy sample with "
                                    "nbkit.datasets.toyscenes.write_relabel_sample")
    return sorted(d.rglob("*.pt"))


__all__: Sequence[str] = ["load_map", "cell_probabilities", "class_confidence", "decode", "class_boxes",
                          "top1_grid", "save_map", "map_paths"]
