"""ImageNet multi-labels from ReLabel label maps (Yun et al., CVPR 2021), as in the paper's App. B.

ReLabel (naver-ai/relabel_imagenet, ``relabel_imagenet.tar``) ships one ``.pt`` tensor per ImageNet
training image, laid out as ``<dir>/<wnid>/<image_id>.pt`` (``n01440764/n01440764_10026.pt``); a flat
folder of ``.pt`` files is accepted too. Each map is ``2 x 5 x 15 x 15``: top-5 logits and top-5
class ids for every cell of a 15 x 15 grid. A class is *present* in an image when, in some cell
other than the four corners, it is the top-1 entry and the softmax over the cell's five logits gives
it a probability of at least ``threshold`` (0.994 in the paper). Decoding is
``nbkit.labelmaps.decode``; the options below are passed to it unchanged.

Classes are the 1,000 ILSVRC-2012 classes in sorted-wnid order (the order of the ReLabel class ids,
PyTorch and Keras), shipped in ``nbkit/data/imagenet_classes.csv``. Labels are wnids (unique); names
are short names and are not unique (two classes are called "crane", two "maillot").

Images: ReLabel ships labels only. ``images=`` (the spec form ``relabel:MAPS_DIR?images=IMAGES_DIR``)
names the ImageNet training images, in ImageNet's own train layout ``<images>/<wnid>/<image_id>.JPEG``
or flat ``<images>/<image_id>.JPEG``; which of the two (and the suffix) is found by looking for the
first maps' images. ``LabelIndex.resolve(row)`` then gives each image's file, or a
``MissingDataError`` naming the file that is not there.

The decoded ``LabelIndex`` is cached in ``nbkit.io.cache_dir()`` once per source fingerprint
(``nbkit.io.fingerprint``: every map's path, size and ``mtime_ns``, the bytes of small files within
a budget, ``classes.csv``, and every option), so an edited map is decoded again.
"""
from __future__ import annotations

import hashlib
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import DataError
from ..io import cache_dir, fingerprint
from ..labelindex import LabelIndex
from . import packaged, read_csv_checked, require

__all__ = ["load_relabel", "imagenet_classes"]

_CACHE_VERSION = 2   # 2: boxes from the label maps
_WNID = re.compile(r"^(n\d{8})_")
_IMAGE_EXTS = (".JPEG", ".jpg", ".jpeg", ".png")
_IMAGES_HINT = ("pass the ImageNet training images folder (ILSVRC/Data/CLS-LOC/train, or the "
                "authors' train_blurred), e.g. relabel:MAPS_DIR?images=IMAGES_DIR; see data/README.md")
_HINT = ("download relabel_imagenet.tar (https://github.com/naver-ai/relabel_imagenet), untar it and "
         "pass relabel:PATH/imagenet_efficientnet_l2_sz475_top5; see data/README.md")


def imagenet_classes() -> pd.DataFrame:
    """The 1,000 ImageNet (ILSVRC-2012) classes in sorted-wnid order.

    Returns
    -------
    pandas.DataFrame
        Columns ``index`` (0..999, the ReLabel / PyTorch class id), ``wnid``, ``devkit_id``
        (1..1000, the ILSVRC devkit id), ``short_name`` and ``label`` (the yrevar gist string the
        authors used), plus ``name`` = ``short_name`` with spaces for underscores.

    Examples
    --------
    >>> df = imagenet_classes()
    >>> len(df), df.loc[0, "wnid"], df.loc[0, "name"]
    (1000, 'n01440764', 'tench')
    >>> sorted(df.loc[df["name"] == "crane", "wnid"])
    ['n02012849', 'n03126707']
    """
    path = packaged("imagenet_classes.csv")
    df = pd.read_csv(path, dtype={"wnid": str, "short_name": str, "label": str},
                     keep_default_na=False)
    missing = [c for c in ("index", "wnid", "short_name", "label") if c not in df.columns]
    if missing or len(df) != 1000 or list(df["index"]) != list(range(1000)):
        raise DataError(path, f"not the 1000-class list (missing {missing}, {len(df)} rows)",
                        "columns index,wnid,devkit_id,short_name,label with index 0..999")
    df["name"] = df["short_name"].str.replace("_", " ")
    return df


def _relabel_files(directory: str | os.PathLike) -> list[Path]:
    """All ``.pt`` label maps under ``directory`` (nested ``<wnid>/<id>.pt`` or flat), sorted."""
    return sorted(require(Path(directory), "ReLabel directory", _HINT, folder=True).rglob("*.pt"))


def _image_path(rel: Path, ext: str, layout: str) -> str:
    stem = rel.stem
    if layout == "mirror" or (layout == "auto" and len(rel.parts) > 1):
        return str(rel.with_suffix(ext))
    m = _WNID.match(stem)
    if layout in ("auto", "wnid") and m:
        return f"{m.group(1)}/{stem}{ext}"
    return f"{stem}{ext}"


def _probe_layout(root: Path, rel: list[Path], image_ext: str | None, n_probe: int = 16):
    """``(layout, ext)`` under which images of the first maps exist in ``root``, or ``None``."""
    step = max(1, len(rel) // n_probe)
    exts = (image_ext,) if image_ext else _IMAGE_EXTS
    for r in rel[::step][:n_probe]:
        layouts = (["mirror"] if len(r.parts) > 1 else []) + (
            ["wnid"] if _WNID.match(r.stem) else []) + ["flat"]
        for ext in exts:
            for layout in layouts:
                if (root / _image_path(r, ext, layout)).is_file():
                    return layout, ext
    return None


def _label_space(directory: str | os.PathLike, classes=None) -> tuple[list[str], list[str], bool]:
    """The labels and names of a ReLabel folder's class ids, in class-id order.

    Parameters
    ----------
    directory : path-like
        The maps' folder; its ``classes.csv`` (``id,label,name``) is read when ``classes`` is None.
    classes : sequence of str or DataFrame, optional
        Labels (names = labels), or a table with a ``label`` (or ``wnid``) and optional ``name``
        column. Default: ``classes.csv``, else the 1,000 ImageNet classes.

    Returns
    -------
    labels, names : list of str
    from_file : bool
        Whether ``classes.csv`` was read.

    Raises
    ------
    DataError
        An empty ``classes.csv``, a table without a ``label`` / ``wnid`` column or without rows,
        an empty list; the message names the file.
    """
    directory = Path(directory)
    source, from_file = "classes", False
    if classes is None and (directory / "classes.csv").is_file():
        source, from_file = directory / "classes.csv", True
        classes = read_csv_checked(source, [], "ReLabel class table (id,label,name)",
                                   dtype=str, keep_default_na=False)
    if classes is None:
        df = imagenet_classes()
        return df["wnid"].tolist(), df["name"].tolist(), False
    if isinstance(classes, pd.DataFrame):
        col = next((c for c in ("label", "wnid") if c in classes.columns), None)
        if col is None:
            raise DataError(source, f"class table lacks a 'label' (or 'wnid') column; found "
                                    f"{list(classes.columns)[:8]}", "columns label[, name]")
        labels = classes[col].astype(str).tolist()
        names = classes["name"].astype(str).tolist() if "name" in classes.columns else labels
    else:
        labels = [str(c) for c in classes]
        names = labels
    if not labels:
        raise DataError(source, "class table has no rows", "one row (label) per class id")
    return labels, names, from_file


def load_relabel(directory: str | os.PathLike, threshold: float = 0.994,
                 exclude_corners: bool = True, topk: int = 1, corners: str = "drop",
                 comparison: str = ">=", classes: Sequence[str] | pd.DataFrame | None = None,
                 images: str | os.PathLike | None = None,
                 image_root: str | os.PathLike | None = None, image_ext: str | None = None,
                 image_layout: str = "auto", split: str = "train", workers: int | None = None,
                 batch_size: int = 4096, cache: bool = True, progress: bool = True,
                 name: str | None = None) -> LabelIndex:
    """Decode a folder of ReLabel ``.pt`` maps into a multi-label ``LabelIndex`` (ImageNet).

    Parameters
    ----------
    directory : path-like
        Folder of ``.pt`` maps: ReLabel's ``<wnid>/<image_id>.pt`` layout, or flat.
    threshold : float, default 0.994
        Confidence a class needs in some cell (the paper's App. B value).
    exclude_corners : bool, default True
        Ignore the four corner cells (the authors do).
    topk : int, default 1
        How many of each cell's top-5 entries count (the paper: 1).
    corners : {"drop", "zero"}
        ``"drop"`` removes corner cells; ``"zero"`` is the authors' literal code (corner logits and
        ids set to 0); see ``nbkit.labelmaps``.
    comparison : {">=", ">"}
        ``">="`` (authors' code, default) or ``">"``.
    classes : sequence of str or DataFrame, optional
        The label space of the class ids, in class-id order: a sequence of labels (names =
        labels), or a DataFrame with ``label`` (or ``wnid``) and ``name`` columns. Default: the
        folder's ``classes.csv`` (``id,label,name``, as written by
        ``toyscenes.write_relabel_sample``) when there is one, else the 1,000 ImageNet classes
        (:func:`imagenet_classes`).
    images : path-like, optional
        The ImageNet training images folder (``ILSVRC/Data/CLS-LOC/train`` or the authors'
        blurred ``train``): ``<images>/<wnid>/<image_id>.JPEG`` (ImageNet's train layout) or flat
        ``<images>/<image_id>.JPEG``. The layout and suffix are found by looking for the images
        of the first maps (set ``image_layout`` / ``image_ext`` to fix them). In a spec:
        ``relabel:MAPS_DIR?images=IMAGES_DIR``. Images resolve through ``LabelIndex.image_root``
        / ``image_paths`` (``li.resolve(row)``). Default: the maps' folder when an image file sits
        beside the first map (toy samples), else none (labels only).
    image_root : path-like, optional
        The same as ``images`` (the older name; give one of the two).
    image_ext : str, optional
        Image file suffix (default: found as above, else ``.JPEG``).
    image_layout : {"auto", "mirror", "wnid", "flat"}
        How an image path is derived from a map path: ``mirror`` copies the map's relative path
        (``<wnid>/<id>.pt`` -> ``<wnid>/<id>.JPEG``), ``wnid`` is ``<wnid>/<id>`` for ids that start
        with a wnid, ``flat`` is ``<id>``. ``auto``: with ``images``, the first of these under which
        the first maps' images exist; otherwise mirror nested maps, and for flat maps ``wnid``
        when the id starts with a wnid, else ``flat``.
    split : str, default "train"
        Split of every image (ReLabel covers the ImageNet training set).
    workers : int, optional
        Threads reading maps (default: ``min(8, CPUs)``).
    batch_size : int
        Maps decoded at once (memory: ~9 KB per map).
    cache : bool
        Read / write the decoded result in ``nbkit.io.cache_dir()``.
    progress : bool
        Show a tqdm bar.
    name : str, optional
        Dataset name (default ``imagenet``; the folder name for a ``classes.csv`` label space).

    Returns
    -------
    LabelIndex
        One row per map file (image id = file stem), classes in class-id order; ``boxes``: per
        decoded (image, class), the box of the map cells that make the class present
        (``nbkit.labelmaps.class_boxes``; ImageNet images have no boxes of their own, the GradCAM
        audit of Figure 16 needs them).

    Raises
    ------
    MissingDataError
        The maps folder, or the ``images`` folder, does not exist. (A single missing image is
        reported by ``li.resolve(row)``, which names its file.)
    DataError
        No ``.pt`` files; a map with the wrong shape, non-integer or out-of-range class ids
        (the message names the file); duplicate image ids.

    Examples
    --------
    >>> li = load_relabel("relabel_imagenet/imagenet_efficientnet_l2_sz475_top5")  # doctest: +SKIP
    >>> li.n_classes                                                                # doctest: +SKIP
    1000
    >>> li = load_dataset("relabel:relabel_imagenet/imagenet_efficientnet_l2_sz475_top5"
    ...                   "?images=imagenet/train")                                      # doctest: +SKIP
    >>> li.resolve(0)                                                                   # doctest: +SKIP
    PosixPath('.../imagenet/train/n01440764/n01440764_10026.JPEG')
    """
    directory = Path(directory)
    labels, names, from_file = _label_space(directory, classes)
    name = name or (directory.name if from_file else "imagenet")
    if image_layout not in ("auto", "mirror", "wnid", "flat"):
        raise DataError(directory, f"unknown image_layout {image_layout!r}",
                        "'auto', 'mirror', 'wnid' or 'flat'")
    C = len(labels)
    image_root = _image_folder(directory, images, image_root)
    files = _relabel_files(directory)
    if not files:
        raise DataError(directory, "no .pt label maps found", "ReLabel .pt files (nested or flat)",
                        hint=_HINT)
    rel = [f.relative_to(directory) for f in files]
    if image_root is not None and image_layout == "auto":
        found = _probe_layout(image_root, rel, image_ext)
        if found is not None:
            image_layout, image_ext = found
    if image_root is None and image_ext is None:  # images stored beside the maps (toy samples)
        for ext in _IMAGE_EXTS:
            if files[0].with_suffix(ext).exists():
                image_root, image_ext, image_layout = directory, ext, "mirror"
                break
    image_ext = image_ext or ".JPEG"
    options = dict(threshold=float(threshold), exclude_corners=bool(exclude_corners), topk=int(topk),
                   corners=corners, comparison=comparison, labels_hash=hashlib.sha256(
                       "\n".join(labels + names).encode()).hexdigest()[:16],
                   image_root=str(image_root) if image_root else None, image_ext=image_ext,
                   image_layout=image_layout, split=split, name=name)
    class_file = [directory / "classes.csv"] if (directory / "classes.csv").is_file() else []
    fp = fingerprint("relabel", _CACHE_VERSION, str(directory.resolve()), options,
                     files=files + class_file)  # every map: path, size, mtime_ns (+ bytes, small)
    cpath = cache_dir() / f"relabel-{fp}.npz"
    if cache and cpath.exists():
        try:
            return LabelIndex.load(cpath)
        except DataError:
            pass  # an unreadable cache is rebuilt
    Y, boxes = _decode_maps(files, C, dict(threshold=threshold, exclude_corners=exclude_corners,
                                           topk=topk, n_classes=C, corners=corners,
                                           comparison=comparison),
                            workers or min(8, os.cpu_count() or 1), batch_size, progress)
    image_ids = [p.stem for p in rel]
    paths = [_image_path(p, image_ext, image_layout) for p in rel]
    n_empty = int((np.diff(Y.indptr) == 0).sum())
    meta = {"source": str(directory), "format": "relabel", "n_maps": len(files),
            "images_without_label": n_empty, "decode": {k: options[k] for k in
                                                        ("threshold", "exclude_corners", "topk",
                                                         "corners", "comparison")},
            "fingerprint": fp, "image_layout": image_layout, "image_ext": image_ext}
    li = LabelIndex(name, labels, names, image_ids, [split] * len(files), Y, boxes, image_root,
                    paths, meta)
    if cache:
        li.save(cpath)
    return li


def _image_folder(directory: Path, images, image_root) -> Path | None:
    """The one image folder ``images=`` / ``image_root=`` name (it must exist), or None."""
    if images is not None and image_root is not None and Path(images) != Path(image_root):
        raise DataError(directory, f"two image folders given: images={str(images)!r}, "
                        f"image_root={str(image_root)!r}", "one of images= / image_root=")
    image_root = images if images is not None else image_root
    if image_root is not None:
        image_root = require(Path(image_root), "ImageNet image folder (images=)", _IMAGES_HINT,
                             folder=True)
    return image_root


def _decode_maps(files: list[Path], C: int, decode: dict, workers: int, batch_size: int,
                 progress: bool) -> tuple[sp.csr_matrix, pd.DataFrame]:
    """Label matrix (one row per map) and class boxes of ``files``, decoded ``batch_size`` maps at
    a time with ``workers`` reading threads; ``decode`` = ``labelmaps.decode``'s options."""
    from .. import labelmaps
    from ..progress import tqdm

    rows, cols, boxes = [], [], []
    with ThreadPoolExecutor(max_workers=workers) as pool, \
            tqdm(total=len(files), desc="ReLabel maps", unit="map", disable=not progress,
                 mininterval=0.5) as bar:
        for start in range(0, len(files), batch_size):
            chunk = files[start:start + batch_size]
            maps = np.stack(list(pool.map(lambda p: labelmaps.load_map(p, n_classes=C), chunk)))
            Yb = labelmaps.decode(maps, sparse=True, **decode).tocoo()
            boxes.append(labelmaps.class_boxes(maps, **decode))
            boxes[-1]["image"] += start
            rows.append(Yb.row.astype(np.int64) + start)
            cols.append(Yb.col.astype(np.int64))
            bar.update(len(chunk))
    r = np.concatenate(rows)
    c = np.concatenate(cols)
    Y = sp.csr_matrix((np.ones(len(r), dtype=bool), (r, c)), shape=(len(files), C))
    return Y, pd.concat(boxes, ignore_index=True)
