"""COCO instances JSON (``instances_<split>.json``): image-level labels and boxes.

Classes are the JSON's categories in category-id order, remapped to ``0..C-1``; labels and names are
the category names (unique in COCO). Boxes ``[x, y, w, h]`` in pixels become ``x0, y0, x1, y1``
normalised by each image's ``width`` / ``height``. Every image listed in ``images`` is kept, with or
without annotations; ``image_id`` is the COCO integer id as a string, ``image_paths`` its
``file_name``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import DataError
from ..io import read_json
from ..labelindex import LabelIndex, check_image_paths
from . import require

__all__ = ["load_coco"]

_HINT = ("get the annotations from https://cocodataset.org/#download "
         "(annotations_trainval2017.zip) and pass coco:PATH/instances_train2017.json; see data/README.md")


def _infer_split(path: Path) -> str:
    s = path.stem.lower()
    for key, val in (("train", "train"), ("val", "val"), ("test", "test")):
        if key in s:
            return val
    return "train"


def _find_images(path: Path, data: dict) -> Path | None:
    """The folder the JSON's ``file_name``s live in, by the usual COCO layouts."""
    stem = path.stem.lower()
    tag = None
    for part in stem.split("_"):
        if part.startswith(("train", "val", "test")):
            tag = part
            break
    first = data["images"][0].get("file_name") if data.get("images") else None
    cands = []
    for base in (path.parent, path.parent.parent):
        if tag:
            cands += [base / tag, base / "images" / tag]
        cands += [base / "images", base]
    for c in cands:
        if first and (c / first).exists():
            return c
    return None


def _load_json(path: Path) -> dict:
    data = read_json(path, "a COCO instances JSON")
    if not isinstance(data, dict):
        raise DataError(path, "top level is not an object", "a COCO instances JSON object")
    for key in ("images", "annotations", "categories"):
        if key not in data:
            raise DataError(path, f"missing key {key!r}",
                            "a COCO instances JSON with 'images', 'annotations' and 'categories'")
    return data


def _one(path: Path, include_crowd: bool, split: str | None):
    data = _load_json(path)
    cats = data["categories"]
    try:
        cats = sorted(cats, key=lambda c: int(c["id"]))
        cat_ids = [int(c["id"]) for c in cats]
        cat_names = [str(c["name"]) for c in cats]
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(path, f"a category lacks an integer 'id' or a 'name' ({e!r})",
                        "categories like {'id': 1, 'name': 'person'}") from e
    if not cats:
        raise DataError(path, "no categories", "at least one category")
    if len(set(cat_ids)) != len(cat_ids):
        raise DataError(path, "duplicate category ids", "unique category ids")
    imgs = data["images"]
    if not imgs:
        raise DataError(path, "no images in 'images'", "at least one image")
    try:
        img_df = pd.DataFrame({"id": [int(i["id"]) for i in imgs],
                               "file_name": [str(i.get("file_name", f"{int(i['id']):012d}.jpg"))
                                             for i in imgs],
                               "width": [float(i["width"]) for i in imgs],
                               "height": [float(i["height"]) for i in imgs]})
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(path, f"an image lacks 'id', 'width' or 'height' ({e!r})",
                        "images like {'id': 9, 'file_name': ..., 'width': 640, 'height': 480}") from e
    check_image_paths(img_df["file_name"].tolist(), path, field="file_name",
                      where=lambda k: f"images[{k}] (id {img_df['id'].iloc[k]})")
    dup = img_df["id"].duplicated()
    if dup.any():
        raise DataError(path, f"{int(dup.sum())} duplicate image ids, e.g. "
                              f"{img_df.loc[dup, 'id'].iloc[:3].tolist()}", "unique image ids")
    anns = data["annotations"]
    bad = next((k for k, x in enumerate(anns) if not isinstance(x, dict) or not isinstance(
        x.get("bbox"), (list, tuple)) or len(x["bbox"]) != 4), None)
    if bad is not None:  # checked before the reshape, which 3-number boxes could pass silently
        x = anns[bad] if isinstance(anns[bad], dict) else {}
        raise DataError(path, f"annotations[{bad}] (id {x.get('id')}, image {x.get('image_id')}) "
                              f"has bbox {x.get('bbox')!r}",
                        "'bbox': [x, y, width, height] (4 numbers, pixels)")
    try:
        a = pd.DataFrame({"image_id": [int(x["image_id"]) for x in anns],
                          "category_id": [int(x["category_id"]) for x in anns],
                          "crowd": [int(x.get("iscrowd", 0)) for x in anns]})
        bb = np.asarray([x["bbox"] for x in anns], dtype=np.float64).reshape(-1, 4)
    except (KeyError, TypeError, ValueError) as e:
        raise DataError(path, f"an annotation lacks 'image_id', 'category_id' or a 4-number 'bbox' "
                              f"({e!r})", "annotations like {'image_id': 9, 'category_id': 1, "
                                          "'bbox': [x, y, w, h]}") from e
    if not include_crowd:
        keep = a["crowd"].to_numpy() == 0
        a, bb = a[keep].reset_index(drop=True), bb[keep]
    row_of = pd.Series(np.arange(len(img_df)), index=img_df["id"])
    rows = row_of.reindex(a["image_id"]).to_numpy()
    if np.isnan(rows.astype(float)).any():
        bad = a["image_id"].to_numpy()[np.isnan(rows.astype(float))][0]
        raise DataError(path, f"an annotation refers to image id {bad}, which is not in 'images'",
                        "annotations of listed images only")
    col_of = pd.Series(np.arange(len(cat_ids)), index=cat_ids)
    cols = col_of.reindex(a["category_id"]).to_numpy()
    if np.isnan(cols.astype(float)).any():
        bad = a["category_id"].to_numpy()[np.isnan(cols.astype(float))][0]
        raise DataError(path, f"an annotation has category_id {bad}, which is not in 'categories'",
                        f"category ids among {cat_ids[:10]}...")
    rows, cols = rows.astype(np.int64), cols.astype(np.int64)
    W = img_df["width"].to_numpy()[rows]
    H = img_df["height"].to_numpy()[rows]
    if len(rows) and ((W <= 0) | (H <= 0)).any():
        raise DataError(path, "an image has a non-positive width or height", "positive image sizes")
    boxes = pd.DataFrame({"image": rows, "class": cols,
                          "x0": np.clip(bb[:, 0] / W, 0, 1), "y0": np.clip(bb[:, 1] / H, 0, 1),
                          "x1": np.clip((bb[:, 0] + bb[:, 2]) / W, 0, 1),
                          "y1": np.clip((bb[:, 1] + bb[:, 3]) / H, 0, 1)})
    return dict(cat_ids=cat_ids, cat_names=cat_names, images=img_df, rows=rows, cols=cols,
                boxes=boxes, split=split or _infer_split(path), data=data)


def load_coco(path: str | os.PathLike | Sequence[str | os.PathLike], split: str | None = None,
              image_root: str | os.PathLike | None = None, include_crowd: bool = True,
              name: str = "coco") -> LabelIndex:
    """Read a COCO instances JSON (or several, one per split) into a ``LabelIndex`` with boxes.

    Parameters
    ----------
    path : path-like or sequence of path-like
        ``instances_<split>.json``; several files (e.g. train2017 and val2017) are concatenated,
        each keeping its split. Their category lists must agree.
    split : str, optional
        Split name (default: inferred from the file name, ``train`` / ``val`` / ``test``).
    image_root : path-like, optional
        Folder of the images (default: found beside the JSON by the usual layouts,
        ``<dir>/<split>2017``, ``<dir>/images/<split>2017``, ...).
    include_crowd : bool
        Count ``iscrowd=1`` annotations (crowd regions) as labels and boxes. Default True.
    name : str
        Dataset name.

    Returns
    -------
    LabelIndex
        One row per listed image (also those without annotations), classes in category-id order,
        one box per annotation.

    Examples
    --------
    >>> li = load_coco("coco128/instances_train2017_coco128.json")   # doctest: +SKIP
    >>> li.n_images, len(li.boxes)                                    # doctest: +SKIP
    (128, 939)
    """
    paths = [path] if isinstance(path, (str, os.PathLike)) else list(path)
    if not paths:
        raise DataError("coco", "no JSON file given", "instances_<split>.json")
    parts = []
    for p in paths:
        p = require(Path(p), "COCO instances JSON", _HINT)
        parts.append((p, _one(p, include_crowd, split if len(paths) == 1 else None)))
    first_path, first = parts[0]
    for p, part in parts[1:]:
        if part["cat_ids"] != first["cat_ids"] or part["cat_names"] != first["cat_names"]:
            raise DataError(p, "categories differ from those of " + str(first_path),
                            "the same categories in every file")
    image_ids, splits, files, rows, cols, boxes = [], [], [], [], [], []
    offset = 0
    roots = []
    for p, part in parts:
        img = part["images"]
        image_ids += [str(i) for i in img["id"]]
        splits += [part["split"]] * len(img)
        root = Path(image_root) if image_root is not None else _find_images(p, part["data"])
        roots.append(root)
        files.append(img["file_name"].tolist())
        rows.append(part["rows"] + offset)
        cols.append(part["cols"])
        b = part["boxes"].copy()
        b["image"] += offset
        boxes.append(b)
        offset += len(img)
    # one image_root: the common parent when the files live in split folders
    file_list = [f for fs in files for f in fs]
    root = roots[0]
    if len(parts) > 1 and image_root is None:
        if all(r is not None for r in roots):
            common = Path(os.path.commonpath([str(r) for r in roots]))
            file_list = [str((r / f).relative_to(common)) for r, fs in zip(roots, files) for f in fs]
            root = common
        else:
            root = None
    R = np.concatenate(rows)
    C = np.concatenate(cols)
    Y = sp.csr_matrix((np.ones(len(R), dtype=bool), (R, C)),
                      shape=(len(image_ids), len(first["cat_ids"])))
    meta = {"source": str(first_path) if len(parts) == 1 else [str(p) for p, _ in parts],
            "format": "coco", "include_crowd": include_crowd,
            "category_ids": first["cat_ids"]}
    return LabelIndex(name, first["cat_names"], first["cat_names"], image_ids, splits, Y,
                      pd.concat(boxes, ignore_index=True), root, file_list, meta)
