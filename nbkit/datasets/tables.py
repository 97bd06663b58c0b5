"""Plain CSV tables of labels: the "long" (one row per label) and "wide" (one column per class) layouts.

Long CSV
    ``image_id,label`` and optionally ``x0,y0,x1,y1`` (a box, normalised to [0, 1]), ``split``,
    ``file`` (image path relative to ``image_root``) and ``name`` (display name of the label). An
    image appears once per label (or once per box). Rows with an empty label list an image without
    labels.

Wide CSV
    ``image_id`` plus one column per class holding 0 or 1 (optionally ``split`` and ``file``
    columns; a column so named that holds only 0/1 values is a class of that name). Each image id
    appears once.

Image ids are always read as strings, so ``000005`` keeps its leading zeros.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import DataError
from ..labelindex import LabelIndex, check_image_paths
from . import read_csv_checked, read_wide_csv_checked, require

__all__ = ["load_long_csv", "load_wide_csv"]

BOX = ["x0", "y0", "x1", "y1"]
_RESERVED = {"image_id", "split", "file", "image_path"}


def _check_boxes(b: pd.DataFrame, path: Path, rows: np.ndarray | None = None):
    vals = b[BOX].to_numpy(np.float64)
    bad = ~np.isfinite(vals).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        line = int(rows[i]) if rows is not None else i
        raise DataError(path, f"row {line + 2}: box coordinates missing or not numbers",
                        "x0, y0, x1, y1 all given (or all empty)")
    out = (vals < -1e-6) | (vals > 1 + 1e-6)
    if out.any():
        i = int(np.flatnonzero(out.any(axis=1))[0])
        line = int(rows[i]) if rows is not None else i
        raise DataError(path, f"row {line + 2}: box {vals[i].tolist()} is outside [0, 1]",
                        "box coordinates normalised by the image width and height")
    inv = (vals[:, 2] < vals[:, 0]) | (vals[:, 3] < vals[:, 1])
    if inv.any():
        i = int(np.flatnonzero(inv)[0])
        line = int(rows[i]) if rows is not None else i
        raise DataError(path, f"row {line + 2}: box {vals[i].tolist()} has x1 < x0 or y1 < y0",
                        "x0 <= x1 and y0 <= y1")


def _image_table(df: pd.DataFrame, path: Path, split: str | None):
    """Unique images (in first-seen order) with one split and one file each."""
    ids = df["image_id"]
    if ids.isna().any() or (ids.str.strip() == "").any():
        i = int(np.flatnonzero((ids.isna() | (ids.fillna("").str.strip() == "")).to_numpy())[0])
        raise DataError(path, f"row {i + 2}: empty image_id", "an image id in every row")
    codes, uniq = pd.factorize(ids, sort=False)
    n = len(uniq)
    splits = np.full(n, split or "train", dtype=object)
    if "split" in df.columns and split is None:
        s = df["split"].fillna("").astype(str)
        per = pd.DataFrame({"c": codes, "s": s}).drop_duplicates()
        dup = per["c"].duplicated(keep=False)
        if dup.any():
            bad = uniq[per.loc[dup, "c"].iloc[0]]
            raise DataError(path, f"image {bad!r} is listed in several splits "
                                  f"{sorted(per.loc[per['c'] == per.loc[dup, 'c'].iloc[0], 's'])}",
                            "one split per image")
        splits[per["c"].to_numpy()] = per["s"].to_numpy()
        if (splits == "").any():
            splits[splits == ""] = "train"
    files = None
    fcol = "file" if "file" in df.columns else ("image_path" if "image_path" in df.columns else None)
    if fcol is not None:
        per = pd.DataFrame({"c": codes, "f": df[fcol].fillna("").astype(str)}).drop_duplicates("c")
        files = np.empty(n, dtype=object)
        files[per["c"].to_numpy()] = per["f"].to_numpy()
        files = [f if f else f"{i}.jpg" for f, i in zip(files, uniq)]
        first = np.unique(codes, return_index=True)[1]  # first CSV row of each image
        check_image_paths(files, path, lambda k: f"row {first[k] + 2}", field=f"column {fcol!r}")
    return codes, np.asarray(uniq, dtype=str), splits.astype(str), files


def load_long_csv(path: str | os.PathLike, image_root: str | os.PathLike | None = None,
                  split: str | None = None, classes: Sequence[str] | None = None,
                  name: str | None = None) -> LabelIndex:
    """Read a long CSV: one row per (image, label), with optional box and split columns.

    Parameters
    ----------
    path : path-like
        CSV with columns ``image_id,label`` and optionally ``x0,y0,x1,y1`` (normalised box),
        ``split``, ``file`` (path relative to ``image_root``), ``name`` (class display name).
    image_root : path-like, optional
        Folder the image files live in (default: ``images/`` beside the CSV when it exists).
    split : str, optional
        Split for every image; default: the ``split`` column, else ``"train"``.
    classes : sequence of str, optional
        Class labels in the order wanted (default: sorted). Labels not listed are an error.
    name : str, optional
        Dataset name (default: the file stem).

    Returns
    -------
    LabelIndex
        ``boxes`` set when the box columns are present (rows with all four empty carry no box).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "labels.csv"
    >>> _ = p.write_text("image_id,label\\n001,cat\\n001,sofa\\n002,cat\\n")
    >>> li = load_long_csv(p)
    >>> li.n_images, li.class_labels.tolist(), li.class_counts().tolist()
    (2, ['cat', 'sofa'], [2, 1])
    """
    path = require(Path(path), "long CSV (image_id,label)")
    df = read_csv_checked(path, ["image_id", "label"], "long CSV",
                          dtype={"image_id": str, "label": str, "split": str, "file": str,
                                 "name": str}, keep_default_na=False, na_values={c: [""] for c in BOX})
    if len(df) == 0:
        raise DataError(path, "no rows", "at least one image_id,label row")
    has_box = [c in df.columns for c in BOX]
    if any(has_box) and not all(has_box):
        raise DataError(path, f"box columns {[c for c, h in zip(BOX, has_box) if not h]} missing",
                        "all of x0, y0, x1, y1 or none")
    df["image_id"] = df["image_id"].astype(str)
    codes, image_ids, splits, files = _image_table(df, path, split)
    lab = df["label"].fillna("").astype(str).str.strip()
    labelled = (lab != "").to_numpy()
    present = sorted(set(lab[labelled]))
    if classes is None:
        class_labels = present
    else:
        class_labels = [str(c) for c in classes]
        unknown = sorted(set(present) - set(class_labels))
        if unknown:
            raise DataError(path, f"labels {unknown[:5]} are not in the given class list",
                            f"labels among {class_labels[:10]}...")
    if not class_labels:
        raise DataError(path, "no labels in column 'label'", "at least one labelled row")
    cid = {c: i for i, c in enumerate(class_labels)}
    class_names = list(class_labels)
    if "name" in df.columns:
        nm = pd.DataFrame({"l": lab[labelled], "n": df.loc[labelled, "name"].fillna("")})
        nm = nm[nm["n"] != ""].drop_duplicates("l").set_index("l")["n"]
        class_names = [nm.get(c, c) for c in class_labels]
    rows = codes[labelled]
    cols = np.array([cid[x] for x in lab[labelled]], dtype=np.int64)
    Y = sp.csr_matrix((np.ones(len(rows), dtype=bool), (rows, cols)),
                      shape=(len(image_ids), len(class_labels)))
    boxes = None
    if all(has_box):
        b = df.loc[labelled, BOX].apply(pd.to_numeric, errors="coerce")
        given = b.notna().any(axis=1).to_numpy()
        line_no = np.flatnonzero(labelled)[given]
        b = b[given]
        _check_boxes(b, path, line_no)
        boxes = pd.DataFrame({"image": rows[given], "class": cols[given]})
        for c in BOX:
            boxes[c] = b[c].to_numpy(np.float32)
    if image_root is None and (path.parent / "images").is_dir():
        image_root = path.parent / "images"
    return LabelIndex(name or path.stem, class_labels, class_names, image_ids, splits, Y, boxes,
                      image_root, files,
                      {"source": str(path), "format": "long_csv",
                       "boxes": boxes is not None})


def load_wide_csv(path: str | os.PathLike, image_root: str | os.PathLike | None = None,
                  split: str | None = None, name: str | None = None,
                  negative_values: Sequence[int] = (0,)) -> LabelIndex:
    """Read a wide CSV: ``image_id`` plus one column per class holding 1 (present) or 0 (absent).

    Parameters
    ----------
    path : path-like
        CSV with ``image_id`` and one 0/1 column per class (optional ``split`` and ``file`` columns
        are not classes).
    image_root : path-like, optional
        Folder the image files live in (default: ``images/`` beside the CSV when it exists).
    split : str, optional
        Split for every image; default: the ``split`` column, else ``"train"``.
    name : str, optional
        Dataset name (default: the file stem).
    negative_values : sequence of int
        Values meaning "absent" (default ``(0,)``); any value that is neither 1 nor one of these is
        an error naming the column.

    Returns
    -------
    LabelIndex

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "wide.csv"
    >>> _ = p.write_text("image_id,cat,dog\\n007,1,0\\n008,1,1\\n")
    >>> li = load_wide_csv(p)
    >>> li.image_ids.tolist(), li.class_counts().tolist()
    (['007', '008'], [2, 1])
    """
    path = require(Path(path), "wide CSV (image_id + one 0/1 column per class)")
    df, class_cols = read_wide_csv_checked(
        path, "wide CSV", _RESERVED, "0/1",
        dup_hint="each image_id once (use the long CSV for one row per label)",
        label_values=[1, *negative_values])
    V = df[class_cols]
    num = V.apply(pd.to_numeric, errors="coerce")
    ok = num.isin([1, *negative_values])
    if not ok.to_numpy().all():
        r, c = np.argwhere(~ok.to_numpy())[0]
        raise DataError(path, f"column {class_cols[c]!r}, row {r + 2} (image "
                              f"{df['image_id'].iloc[r]!r}) holds {V.iat[r, c]!r}",
                        f"1 (present) or {' / '.join(map(str, negative_values))} (absent)")
    Y = sp.csr_matrix(num.to_numpy() == 1)
    codes, image_ids, splits, files = _image_table(df.drop(columns=class_cols), path, split)
    if image_root is None and (path.parent / "images").is_dir():
        image_root = path.parent / "images"
    return LabelIndex(name or path.stem, class_cols, class_cols, image_ids, splits, Y, None,
                      image_root, files, {"source": str(path), "format": "wide_csv"})
