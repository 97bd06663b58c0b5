"""``LabelIndex``: the one in-memory representation of a multi-label image dataset.

Every dataset adapter (``nbkit.datasets``) returns a ``LabelIndex``; every later stage (co-occurrence,
centrality, subsets, curation) reads only this.

- classes: integer id ``0..C-1`` (the column of ``Y``), a unique label string (Open Images MID,
  ImageNet wnid, COCO/VOC name) and a human-readable name (not unique: two ImageNet classes are
  both called "crane");
- images: ids (strings) and their split (``"train"``, ``"test"``, ...);
- ``Y``: a sparse boolean image x class matrix (scipy CSR);
- ``boxes`` (optional): a DataFrame with columns ``image`` (row of ``Y``), ``class`` (column of ``Y``),
  ``x0, y0, x1, y1`` normalised to [0, 1];
- ``image_root`` / ``image_paths``: how an image id resolves to its file (``resolve``).
"""
from __future__ import annotations

import dataclasses
import json
import re
import warnings
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import DataError
from .io import atomic_path

_BOX_COLUMNS = ["image", "class", "x0", "y0", "x1", "y1"]

#: an absolute path (``/x``, ``\\x``, ``C:x``), or a ``..`` component, on any line
_ESCAPES = re.compile(r"^(?:[/\\]|[A-Za-z]:)|(?:^|[/\\])\.\.(?:[/\\]|$)", re.MULTILINE)


def check_image_paths(paths: Sequence[str], source, where: Callable[[int], str] | None = None,
                      field: str = "image path") -> None:
    """Refuse image paths that would resolve outside the image folder.

    The one check every adapter's per-image paths pass (COCO ``file_name``, a CSV's ``file``
    column, VOC / ReLabel / Open Images ids turned into paths, and a cached ``LabelIndex``): a path
    must be relative and hold no ``..`` component. One regular-expression scan over all paths, so
    millions cost well under a second.

    Parameters
    ----------
    paths : sequence of str
    source : str or path
        The file the paths came from (named in the error).
    where : callable, optional
        ``where(k)`` names entry ``k`` in the error (``"row 7"`` for a CSV line, ``"images[3]
        (id 9)"``); default ``"entry k"``.
    field : str
        What the paths are (``"file_name"``, ``"column 'file'"``).

    Raises
    ------
    DataError
        Naming the file, the row, the field and the offending path.

    Examples
    --------
    >>> check_image_paths(["train/a.jpg", "b..c.jpg"], "labels.csv")
    >>> check_image_paths(["a.jpg", "../../etc/passwd"], "labels.csv", lambda k: f"row {k + 2}",
    ...                   field="file")
    Traceback (most recent call last):
    ...
    nbkit.errors.DataError: labels.csv: row 3: file '../../etc/passwd' leaves the image folder ...
    """
    paths = [str(p) for p in paths]
    text = "\n".join(paths)
    m = _ESCAPES.search(text)
    if m is None:
        return
    k = text.count("\n", 0, m.start())
    k = min(k, len(paths) - 1)
    place = where(k) if where is not None else f"entry {k}"
    raise DataError(source, f"{place}: {field} {paths[k]!r} leaves the image folder "
                            "(an absolute path or a '..' component)",
                    "a path relative to the image folder, inside it")


def _warn_shared_names(labels: np.ndarray, names: np.ndarray, source) -> None:
    """Warn, naming them, about class names that several classes share (ImageNet's two "crane").

    They stay distinct classes (labels are unique); ``display`` shows them as ``name (label)``.
    """
    shared = pd.Index(names)[pd.Index(names).duplicated()].unique()
    if len(shared) == 0:
        return
    parts = []
    for n in shared[:10]:
        ids = np.flatnonzero(names == n)
        parts.append(f"{str(n)!r}: " + ", ".join(f"id {i} = {str(labels[i])!r}" for i in ids))
    more = f" and {len(shared) - 10} more" if len(shared) > 10 else ""
    warnings.warn(f"{source}: {len(shared)} class name(s) are shared by several classes "
                  f"({'; '.join(parts)}{more}); they stay distinct classes, told apart by label and "
                  f"shown as 'name (label)'", UserWarning, stacklevel=4)


@dataclasses.dataclass
class LabelIndex:
    """A multi-label image dataset: classes, images, a sparse label matrix and optional boxes.

    Parameters
    ----------
    name : str
        Dataset name (``"voc2007"``, ``"toyscenes"``, ...).
    class_labels : sequence of str
        Unique label per class (MID, wnid, name).
    class_names : sequence of str
        Human-readable name per class (may repeat).
    image_ids : sequence of str
        Unique image ids, one per row of ``Y``.
    splits : sequence of str
        Split of each image.
    Y : scipy.sparse matrix, shape (n_images, n_classes)
        Boolean presence matrix; stored as CSR of dtype bool.
    boxes : pandas.DataFrame, optional
        Columns ``image, class, x0, y0, x1, y1`` (normalised coordinates).
    image_root : path, optional
        Directory that image files are resolved against.
    image_paths : sequence of str, optional
        Per-image path relative to ``image_root`` (default ``<image_id>.jpg``).
    meta : dict
        Free-form provenance (source files, options, notes on exactness).
    renderer : callable, optional
        ``renderer(row) -> HxWx3 uint8`` for datasets drawn on the fly (toy scenes).
    """

    name: str
    class_labels: Sequence[str]
    class_names: Sequence[str]
    image_ids: Sequence[str]
    splits: Sequence[str]
    Y: sp.csr_matrix
    boxes: pd.DataFrame | None = None
    image_root: Path | None = None
    image_paths: Sequence[str] | None = None
    meta: dict = dataclasses.field(default_factory=dict)
    renderer: Callable[[int], np.ndarray] | None = None

    def __post_init__(self):
        self.class_labels = np.asarray([str(x) for x in self.class_labels], dtype=str)
        self.class_names = np.asarray([str(x) for x in self.class_names], dtype=str)
        self.image_ids = np.asarray([str(x) for x in self.image_ids], dtype=str)
        self.splits = np.asarray([str(x) for x in self.splits], dtype=str)
        src = self.meta.get("source", self.name)
        C, N = len(self.class_labels), len(self.image_ids)
        if len(self.class_names) != C:
            raise DataError(src, f"{len(self.class_names)} class names for {C} class labels",
                            "one name per class")
        if len(self.splits) != N:
            raise DataError(src, f"{len(self.splits)} splits for {N} images", "one split per image")
        if C == 0:
            raise DataError(src, "dataset has no classes", "at least one class")
        if N == 0:
            raise DataError(src, "dataset has no images", "at least one image")
        dup = pd.Index(self.class_labels).duplicated()
        if dup.any():
            raise DataError(src, f"duplicate class labels: {sorted(set(self.class_labels[dup]))[:5]}",
                            "unique class labels")
        _warn_shared_names(self.class_labels, self.class_names, src)
        dup = pd.Index(self.image_ids).duplicated()
        if dup.any():
            raise DataError(src, f"{int(dup.sum())} duplicate image ids, e.g. "
                                 f"{sorted(set(self.image_ids[dup]))[:5]}", "unique image ids")
        Y = sp.csr_matrix(self.Y, dtype=bool)
        if Y.shape != (N, C):
            raise DataError(src, f"label matrix has shape {Y.shape}", f"({N} images, {C} classes)")
        Y.sum_duplicates()
        Y.eliminate_zeros()
        self.Y = Y
        if self.boxes is not None:
            b = pd.DataFrame(self.boxes)
            missing = [c for c in _BOX_COLUMNS if c not in b.columns]
            if missing:
                raise DataError(src, f"boxes lack columns {missing}", f"columns {_BOX_COLUMNS}")
            b = b[_BOX_COLUMNS + [c for c in b.columns if c not in _BOX_COLUMNS]].reset_index(drop=True)
            b["image"] = b["image"].astype(np.int64)
            b["class"] = b["class"].astype(np.int64)
            for c in ["x0", "y0", "x1", "y1"]:
                b[c] = b[c].astype(np.float32)
            self.boxes = b
        if self.image_root is not None:
            self.image_root = Path(self.image_root)
        if self.image_paths is not None:
            self.image_paths = np.asarray([str(x) for x in self.image_paths], dtype=str)
            if len(self.image_paths) != N:
                raise DataError(src, f"{len(self.image_paths)} image paths for {N} images")
            check_image_paths(self.image_paths, src, where=self._row_name)
        elif self.image_root is not None:  # resolve() then uses <image_id>.jpg
            check_image_paths(self.image_ids, src, where=self._row_name, field="image id")
        self._label_to_id = {l: i for i, l in enumerate(self.class_labels)}

    def _row_name(self, k: int) -> str:
        return f"row {k} (image {str(self.image_ids[k])!r})"

    # ----------------------------------------------------------------- basic facts
    @property
    def n_classes(self) -> int:
        return len(self.class_labels)

    @property
    def n_images(self) -> int:
        return len(self.image_ids)

    def class_id(self, key: str | int) -> int:
        """Resolve a class id, unique label, or unique name to the integer id."""
        if isinstance(key, (int, np.integer)):
            if not 0 <= int(key) < self.n_classes:
                raise DataError(self.name, f"class id {key} out of range", f"0..{self.n_classes - 1}")
            return int(key)
        if key in self._label_to_id:
            return self._label_to_id[key]
        hits = np.flatnonzero(np.char.lower(self.class_names) == str(key).lower())
        if len(hits) == 1:
            return int(hits[0])
        if len(hits) > 1:
            raise DataError(self.name, f"class name {key!r} is ambiguous: labels "
                                       f"{list(self.class_labels[hits])}", "a unique label")
        raise DataError(self.name, f"unknown class {key!r}", "a class id, label or name")

    def display(self, cid: int) -> str:
        """Name of class ``cid``, with the label appended when the name is not unique."""
        name = self.class_names[cid]
        if (self.class_names == name).sum() > 1:
            return f"{name} ({self.class_labels[cid]})"
        return str(name)

    def class_counts(self) -> np.ndarray:
        """Images per class (column sums of ``Y``)."""
        return np.asarray(self.Y.sum(axis=0)).ravel().astype(np.int64)

    def labels_per_image(self) -> np.ndarray:
        return np.diff(self.Y.indptr).astype(np.int64)

    def summary(self) -> dict:
        """Table-5 style facts: classes, images, average objects (labels) per image, per split."""
        out = {"dataset": self.name, "classes": self.n_classes, "images": self.n_images,
               "avg_labels_per_image": float(self.labels_per_image().mean())}
        out["splits"] = {str(s): int((self.splits == s).sum()) for s in sorted(set(self.splits))}
        if self.boxes is not None:
            out["boxes"] = int(len(self.boxes))
        return out

    def subset(self, rows: np.ndarray | Sequence[int] | str) -> "LabelIndex":
        """A LabelIndex of some images (row indices, a boolean mask, or a split name)."""
        if isinstance(rows, str):
            rows = np.flatnonzero(self.splits == rows)
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        boxes = None
        if self.boxes is not None:
            remap = -np.ones(self.n_images, dtype=np.int64)
            remap[rows] = np.arange(len(rows))
            b = self.boxes[remap[self.boxes["image"].to_numpy()] >= 0].copy()
            b["image"] = remap[b["image"].to_numpy()]
            boxes = b
        renderer = None
        if self.renderer is not None:
            base, keep = self.renderer, rows.copy()
            renderer = lambda r: base(int(keep[r]))  # noqa: E731
        return LabelIndex(self.name, self.class_labels, self.class_names, self.image_ids[rows],
                          self.splits[rows], self.Y[rows], boxes, self.image_root,
                          None if self.image_paths is None else self.image_paths[rows],
                          dict(self.meta), renderer)

    def images_with(self, cid: int) -> np.ndarray:
        """Row indices of the images that contain class ``cid``."""
        return np.flatnonzero(self.Y[:, cid].toarray().ravel())

    def boxes_of(self, row: int, cid: int | None = None) -> np.ndarray:
        """Boxes (k x 4, normalised x0 y0 x1 y1) of image ``row``, optionally of one class."""
        if self.boxes is None:
            return np.zeros((0, 4), dtype=np.float32)
        b = self.boxes[self.boxes["image"] == row]
        if cid is not None:
            b = b[b["class"] == cid]
        return b[["x0", "y0", "x1", "y1"]].to_numpy(np.float32)

    # ----------------------------------------------------------------- images
    def resolve(self, row: int) -> Path:
        """Path of image ``row``'s file; an error naming the file when it does not exist."""
        from .errors import MissingDataError

        if self.image_root is None:
            raise MissingDataError(self.name, "this dataset has no image files (labels only)",
                                   hint="pass image_root= to the adapter")
        rel = self.image_paths[row] if self.image_paths is not None else f"{self.image_ids[row]}.jpg"
        p = self.image_root / rel
        if not p.exists():
            raise MissingDataError(p, f"image file for image id {self.image_ids[row]!r} not found")
        return p

    def load_image(self, row: int) -> np.ndarray:
        """HxWx3 uint8 RGB pixels of image ``row`` (rendered, or decoded from its file)."""
        if self.renderer is not None:
            return self.renderer(row)
        from PIL import Image, UnidentifiedImageError

        p = self.resolve(row)
        try:
            with Image.open(p) as im:
                return np.asarray(im.convert("RGB"))
        except (UnidentifiedImageError, OSError) as e:
            raise DataError(p, f"cannot decode image ({e})", "a readable JPEG or PNG") from e

    # ----------------------------------------------------------------- cache (npz + json)
    def save(self, path: str | Path) -> Path:
        """Save to a pickle-free ``.npz`` (the label matrix, ids, boxes) with JSON metadata."""
        path = Path(path)
        Y = self.Y.tocsr()
        arrays = dict(indptr=Y.indptr, indices=Y.indices, shape=np.asarray(Y.shape),
                      class_labels=self.class_labels, class_names=self.class_names,
                      image_ids=self.image_ids, splits=self.splits,
                      meta=np.asarray(json.dumps({"name": self.name, "meta": self.meta,
                                                  "image_root": str(self.image_root) if self.image_root else None},
                                                 default=str)))
        if self.image_paths is not None:
            arrays["image_paths"] = self.image_paths
        if self.boxes is not None:
            arrays["boxes_ic"] = self.boxes[["image", "class"]].to_numpy(np.int64)
            arrays["boxes_xy"] = self.boxes[["x0", "y0", "x1", "y1"]].to_numpy(np.float32)
        with atomic_path(path, suffix=".npz") as tmp:
            with open(tmp, "wb") as fh:
                np.savez_compressed(fh, **arrays)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "LabelIndex":
        """Load what ``save`` wrote (no pickle)."""
        path = Path(path)
        try:
            z = np.load(path, allow_pickle=False)
            shape = tuple(int(x) for x in z["shape"])
            Y = sp.csr_matrix((np.ones(len(z["indices"]), dtype=bool), z["indices"], z["indptr"]),
                              shape=shape)
            info = json.loads(str(z["meta"]))
            boxes = None
            if "boxes_ic" in z:
                ic, xy = z["boxes_ic"], z["boxes_xy"]
                boxes = pd.DataFrame({"image": ic[:, 0], "class": ic[:, 1], "x0": xy[:, 0],
                                      "y0": xy[:, 1], "x1": xy[:, 2], "y1": xy[:, 3]})
            return cls(info["name"], z["class_labels"], z["class_names"], z["image_ids"], z["splits"],
                       Y, boxes, info.get("image_root"),
                       z["image_paths"] if "image_paths" in z else None, info.get("meta", {}))
        except (KeyError, ValueError, OSError) as e:
            raise DataError(path, f"not a readable LabelIndex cache ({e})") from e
