"""PASCAL VOC image-level labels (and boxes when the XML annotations are there).

Two inputs are accepted:

* a VOC directory (``VOC2007``, or a folder above it such as ``VOCdevkit``) with the devkit lists
  ``ImageSets/Main/<class>_<split>.txt``, each line ``<image_id> <1|-1|0>``; boxes are read from
  ``Annotations/<image_id>.xml`` when that folder exists, images resolve to
  ``JPEGImages/<image_id>.jpg``;
* the same labels as a wide CSV (``image_id`` + 20 class columns holding 1 / -1 / 0), as shipped in
  ``voc2007_labels/voc2007_<split>_labels.csv``, or a folder holding such files.

Values: ``1`` present, ``-1`` absent, ``0`` only "difficult" instances. Difficult-only labels are
excluded by default (the convention of ML-GCN and of the VOC classification benchmark); pass
``include_difficult=True`` to count them as present. Image ids are strings (``"000005"``).
"""
from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import DataError, MissingDataError
from ..labelindex import LabelIndex, check_image_paths
from . import read_wide_csv_checked, require

__all__ = ["load_voc"]

_VOC_CLASSES = ("aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
               "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa",
               "train", "tvmonitor")

_HINT = ("download the VOC devkit (e.g. VOCtrainval_06-Nov-2007.tar from "
         "http://host.robots.ox.ac.uk/pascal/VOC/voc2007/) and point voc: at the VOC2007 folder; "
         "see data/README.md")


def _find_voc_dir(root: Path) -> Path | None:
    for cand in (root, root / "VOC2007", root / "VOCdevkit" / "VOC2007", root / "VOC2012",
                 root / "VOCdevkit" / "VOC2012"):
        if (cand / "ImageSets" / "Main").is_dir():
            return cand
    hits = sorted(root.glob("*/ImageSets/Main")) + sorted(root.glob("*/*/ImageSets/Main"))
    return hits[0].parent.parent if hits else None


def _read_list(path: Path) -> pd.DataFrame:
    rows = []
    with open(path, encoding="utf-8-sig") as fh:  # a UTF-8 BOM is not part of the first id
        for n, line in enumerate(fh, 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) != 2 or parts[1] not in ("1", "-1", "0"):
                raise DataError(path, f"line {n}: {line.strip()!r}",
                                "'<image_id> <1|-1|0>' on every line")
            rows.append(parts)
    if not rows:
        raise DataError(path, "no lines", "'<image_id> <1|-1|0>' lines")
    df = pd.DataFrame(rows, columns=["image_id", "v"])
    df["v"] = df["v"].astype(np.int8)
    return df


def _split_dir(vdir: Path, split: str, classes: Sequence[str] | None):
    main = vdir / "ImageSets" / "Main"
    if classes is None:
        found = sorted(p.name[: -len(f"_{split}.txt")] for p in main.glob(f"*_{split}.txt"))
        classes = [c for c in found if c]
    if not classes:
        raise MissingDataError(main, f"no '<class>_{split}.txt' lists for split {split!r}",
                               hint=_HINT)
    ids = None
    cols = {}
    for c in classes:
        f = main / f"{c}_{split}.txt"
        require(f, f"VOC list for class {c!r}, split {split!r}", _HINT)
        df = _read_list(f)
        check_image_paths(df["image_id"].tolist(), f, lambda k: f"line {k + 1}", field="image id")
        if df["image_id"].duplicated().any():
            raise DataError(f, f"duplicate image ids, e.g. "
                               f"{df.loc[df['image_id'].duplicated(), 'image_id'].iloc[0]!r}",
                            "each image once")
        if ids is None:
            split_list = main / f"{split}.txt"
            if split_list.exists():
                text = split_list.read_text(encoding="utf-8-sig")  # BOM and CRLF tolerated
                ids = [ln.split()[0] for ln in text.splitlines() if ln.strip()]
                check_image_paths(ids, split_list, lambda k: f"line {k + 1}", field="image id")
            else:
                ids = df["image_id"].tolist()
        if set(df["image_id"]) != set(ids):
            extra = sorted(set(df["image_id"]) ^ set(ids))[:3]
            raise DataError(f, f"lists different images than the other {split!r} lists "
                               f"(e.g. {extra})", "the same image ids in every class list")
        cols[c] = df.set_index("image_id")["v"].reindex(ids).to_numpy()
    V = np.column_stack([cols[c] for c in classes])
    return list(classes), ids, V, str(main)


def _split_csv(path: Path):
    df, classes = read_wide_csv_checked(path, "VOC labels CSV", ("image_id", "split"), "1/-1/0",
                                        label_values=(1, -1, 0))
    num = df[classes].apply(pd.to_numeric, errors="coerce")
    ok = num.isin([1, -1, 0]).to_numpy()
    if not ok.all():
        r, c = np.argwhere(~ok)[0]
        raise DataError(path, f"column {classes[c]!r}, row {r + 2} (image {df['image_id'].iloc[r]!r})"
                              f" holds {df[classes[c]].iloc[r]!r}",
                        "1 (present), -1 (absent) or 0 (difficult only)")
    check_image_paths(df["image_id"].tolist(), path, lambda k: f"row {k + 2}", field="image_id")
    return classes, df["image_id"].tolist(), num.to_numpy().astype(np.int8)


def _csv_for_split(folder: Path, split: str) -> Path | None:
    hits = sorted(folder.glob(f"*_{split}_labels.csv")) + sorted(folder.glob(f"*{split}*.csv"))
    return hits[0] if hits else None


def _boxes(vdir: Path, ids: Sequence[str], classes: Sequence[str], row0: int,
           include_difficult: bool) -> pd.DataFrame | None:
    ann = vdir / "Annotations"
    if not ann.is_dir():
        return None
    cid = {c: i for i, c in enumerate(classes)}
    out = []
    for r, iid in enumerate(ids):
        f = ann / f"{iid}.xml"
        if not f.exists():
            continue
        try:
            root = ET.parse(f).getroot()
            W = float(root.findtext("size/width"))
            H = float(root.findtext("size/height"))
        except (ET.ParseError, TypeError, ValueError) as e:
            raise DataError(f, f"not a VOC annotation ({e})", "<size><width>/<height> and <object>s") from e
        if not (np.isfinite(W) and np.isfinite(H) and W > 0 and H > 0):
            raise DataError(f, f"<size> is {W:g} x {H:g} (<width> x <height>)",
                            "a positive image width and height in pixels")
        for obj in root.iter("object"):
            name = (obj.findtext("name") or "").strip()
            if name not in cid:
                continue
            if (obj.findtext("difficult") or "0").strip() == "1" and not include_difficult:
                continue
            bb = obj.find("bndbox")
            try:
                x0, y0, x1, y1 = (float(bb.findtext(k)) for k in ("xmin", "ymin", "xmax", "ymax"))
            except (AttributeError, TypeError, ValueError) as e:
                raise DataError(f, f"object {name!r} has no valid <bndbox>", "xmin ymin xmax ymax") from e
            # VOC pixel coordinates are 1-based and inclusive
            out.append((row0 + r, cid[name], (x0 - 1) / W, (y0 - 1) / H, x1 / W, y1 / H))
    b = pd.DataFrame(out, columns=["image", "class", "x0", "y0", "x1", "y1"])
    for c in ("x0", "y0", "x1", "y1"):
        b[c] = b[c].clip(0, 1)
    return b


def load_voc(path: str | os.PathLike, split: str | Sequence[str] = "trainval",
             include_difficult: bool = False, classes: Sequence[str] | None = None,
             boxes: bool | str = "auto", name: str | None = None) -> LabelIndex:
    """Read PASCAL VOC image-level labels from the devkit lists or from a wide CSV.

    Parameters
    ----------
    path : path-like
        A VOC directory (``.../VOC2007`` or a folder above it), a wide CSV
        (``image_id`` + class columns with 1 / -1 / 0), or a folder of such CSVs named
        ``*_<split>_labels.csv``.
    split : str or sequence of str
        ``"trainval"`` (default), ``"train"``, ``"val"``, ``"test"``, several of them, or ``"all"``
        (``trainval`` + ``test``). Each image keeps the name of its split.
    include_difficult : bool
        Count ``0`` ("difficult" instances only) as present. Default False (difficult excluded).
    classes : sequence of str, optional
        Restrict to these classes (default: every class list found; the 20 VOC classes).
    boxes : bool or "auto"
        Read boxes from ``Annotations/*.xml`` (``"auto"``: when that folder exists).
    name : str, optional
        Dataset name (default ``voc2007`` / ``voc2012`` from the folder, else ``voc``).

    Returns
    -------
    LabelIndex
        Images in list order, classes in VOC order; ``image_root`` = ``JPEGImages`` when present.

    Examples
    --------
    >>> li = load_voc("voc2007_labels/voc2007_trainval_labels.csv")   # doctest: +SKIP
    >>> li.n_images, li.n_classes                                       # doctest: +SKIP
    (5011, 20)
    """
    path = require(Path(path), "VOC dataset (directory or labels CSV)", _HINT)
    splits = ["trainval", "test"] if split == "all" else ([split] if isinstance(split, str) else list(split))
    parts, all_classes = [], None
    vdir = None
    sources = []
    if path.is_file():
        if len(splits) > 1:
            raise DataError(path, f"one CSV holds one split, but splits {splits} were asked for",
                            "a folder of *_<split>_labels.csv files, or a single split")
        cl, ids, V = _split_csv(path)
        parts.append((splits[0], ids, V))
        all_classes = cl
        sources.append(str(path))
    else:
        vdir = _find_voc_dir(path)
        for s in splits:
            if vdir is not None:
                cl, ids, V, src = _split_dir(vdir, s, classes)
            else:
                csv = _csv_for_split(path, s)
                if csv is None:
                    raise MissingDataError(path, f"neither ImageSets/Main/<class>_{s}.txt lists nor a "
                                                 f"*_{s}_labels.csv file", hint=_HINT)
                cl, ids, V = _split_csv(csv)
                src = str(csv)
            if all_classes is None:
                all_classes = cl
            elif list(cl) != list(all_classes):
                raise DataError(src, f"class columns {cl} differ from the other split's "
                                     f"{all_classes}", "the same classes in every split")
            parts.append((s, ids, V))
            sources.append(src)
    if classes is not None:
        missing = [c for c in classes if c not in all_classes]
        if missing:
            raise DataError(sources[0], f"classes {missing} not found", f"classes among {all_classes}")
        keep = [all_classes.index(c) for c in classes]
        parts = [(s, ids, V[:, keep]) for s, ids, V in parts]
        all_classes = list(classes)
    image_ids = [i for _, ids, _ in parts for i in ids]
    image_splits = [s for s, ids, _ in parts for _ in ids]
    V = np.vstack([V for _, _, V in parts])
    present = (V == 1) | ((V == 0) if include_difficult else False)
    Y = sp.csr_matrix(present)
    bx = None
    image_root = None
    if vdir is not None:
        if boxes is True or (boxes == "auto" and (vdir / "Annotations").is_dir()):
            if not (vdir / "Annotations").is_dir():
                raise MissingDataError(vdir / "Annotations", "VOC XML annotations not found", hint=_HINT)
            bx = _boxes(vdir, image_ids, all_classes, 0, include_difficult)
        if (vdir / "JPEGImages").is_dir():
            image_root = vdir / "JPEGImages"
    if name is None:
        low = (vdir.name if vdir is not None else path.name).lower()
        name = "voc2007" if "2007" in low else ("voc2012" if "2012" in low else "voc")
    meta = {"source": sources[0] if len(sources) == 1 else sources, "format": "voc",
            "splits": splits, "include_difficult": include_difficult,
            "difficult_only_labels": int((V == 0).sum())}
    return LabelIndex(name, all_classes, all_classes, image_ids, image_splits, Y, bx, image_root,
                      None, meta)
