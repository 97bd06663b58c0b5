"""Open Images V6 (box annotations or human image-level labels), streamed from the official CSVs.

Files looked for in the dataset folder (and its ``annotations/`` / ``metadata/`` sub-folders), with the
names of the official downloads (https://storage.googleapis.com/openimages/web/download_v6.html):

=================================== ==========================================================
``oidv6-class-descriptions.csv``    ``MID,DisplayName`` with **no** header row (V6), or
``class-descriptions-boxable.csv``  the boxable list **with** a ``LabelName,DisplayName`` header
``bbox_labels_600_hierarchy.json``  nested ``LabelName`` / ``Subcategory`` / ``Part``
``oidv6-classes-trainable.txt``     one MID a line (optional)
``*train-annotations-bbox.csv``     ``ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,...``
``*validation-annotations-bbox.csv`` (``oidv6-train-…``, ``train-…``, ``validation-…``, ``test-…``)
``*test-annotations-bbox.csv``
``*-annotations-human-imagelabels*.csv`` ``ImageID,Source,LabelName,Confidence`` (``annotations="human"``)
=================================== ==========================================================

The descriptions, hierarchy and trainable list also ship in ``nbkit/data`` and are used when the
folder lacks them (``meta["files"]`` says which were read). Images resolve to
``<root>/<split>/<ImageID>.jpg`` (``validation/`` for validation images, also when merged into train).

The paper's valid classes (§5.1, the authors' ``OpenImagesBBoxManager._find_valid_classes``) are the
**leaves** of the box hierarchy that are **trainable** and **present in both train and test**, where
train includes the validation annotations. ``valid_rule="paper"`` (default) applies that rule; on the
V6 files it gives the 486 classes of the authors' released matrix. Leaves follow the authors' code:
a node with neither ``Subcategory`` nor ``Part`` children, reached through either
(``leaf_rule="authors"``, 522 MIDs); ``leaf_rule="subcategory"`` also counts nodes that only have
parts (Door, Bicycle, Human body: 525 MIDs).

The 2+ GB train CSV is streamed in chunks (``usecols``, categorical / float32 dtypes) with a tqdm bar;
memory stays around 1.5 GB for the full V6 box annotations (14.6 M rows) with boxes, well within
4 GB. The resulting ``LabelIndex`` is cached in ``nbkit.io.cache_dir()`` per source fingerprint.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..errors import DataError, MissingDataError
from ..io import cache_dir, fingerprint, read_json
from ..labelindex import LabelIndex, check_image_paths
from . import packaged, require

__all__ = ["load_openimages", "read_class_descriptions"]

_LEAF_RULES = ("authors", "subcategory")
_VALID_RULES = ("paper", "leaves", "boxable", "all")
_CACHE_VERSION = 1
_BASE = "https://storage.googleapis.com/openimages"
_HINT = (f"download the Open Images V6 annotation CSVs ({_BASE}/v6/oidv6-train-annotations-bbox.csv, "
         f"{_BASE}/v5/validation-annotations-bbox.csv, {_BASE}/v5/test-annotations-bbox.csv) into "
         "the dataset folder; see data/README.md")
_BOX_IN = ["XMin", "XMax", "YMin", "YMax"]


# ----------------------------------------------------------------------------- metadata
def _meta_dirs(root: Path) -> list[Path]:
    return [d for d in (root, root / "annotations", root / "metadata", root / "labels") if d.is_dir()]


def _first(root: Path, patterns: Sequence[str]) -> Path | None:
    for d in _meta_dirs(root):
        for pat in patterns:
            hits = sorted(d.glob(pat))
            if hits:
                return hits[0]
    return None


def _find_files(root: str | os.PathLike, annotations: str = "bbox",
               splits: Sequence[str] = ("train", "validation", "test")) -> dict:
    """Locate the Open Images files in ``root`` (packaged fallbacks for the metadata).

    Parameters
    ----------
    root : path-like
        Dataset folder.
    annotations : {"bbox", "human"}
        Box annotations (``*-annotations-bbox.csv``) or human-verified image labels
        (``*-annotations-human-imagelabels*.csv``).
    splits : sequence of str
        Which annotation splits to look for.

    Returns
    -------
    dict
        ``descriptions``, ``hierarchy``, ``trainable`` (paths; packaged copies when absent from
        ``root``) and ``annotations`` (split -> path, only the splits found).

    Examples
    --------
    >>> _find_files("data/openimages")["annotations"]                   # doctest: +SKIP
    {'train': PosixPath('data/openimages/oidv6-train-annotations-bbox.csv'), ...}
    """
    root = Path(root)
    out = {
        "descriptions": _first(root, ["oidv6-class-descriptions.csv", "class-descriptions-boxable.csv",
                                      "class-descriptions.csv", "*class-descriptions*.csv"])
        or packaged("class-descriptions-boxable.csv"),
        "hierarchy": _first(root, ["bbox_labels_600_hierarchy.json", "*hierarchy*.json"])
        or packaged("bbox_labels_600_hierarchy.json"),
        "trainable": _first(root, ["oidv6-classes-trainable.txt", "*classes-trainable*.txt"])
        or packaged("oidv6-classes-trainable.txt"),
    }
    kind = {"bbox": "annotations-bbox.csv", "human": "annotations-human-imagelabels*.csv"}
    if annotations not in kind:
        raise DataError(root, f"unknown annotations {annotations!r}", "'bbox' or 'human'")
    ann = {}
    for s in splits:
        hit = _first(root, [f"{s}-{kind[annotations]}", f"*-{s}-{kind[annotations]}",
                            f"*{s}-{kind[annotations]}"])
        if hit is not None:
            ann[s] = hit
    out["annotations"] = ann
    return out


def read_class_descriptions(path: str | os.PathLike) -> dict[str, str]:
    """MID -> display name from a class-descriptions CSV, with or without the header row.

    The V6 ``oidv6-class-descriptions.csv`` has no header; ``class-descriptions-boxable.csv`` has
    ``LabelName,DisplayName``. Both are accepted.

    Examples
    --------
    >>> d = read_class_descriptions(packaged("class-descriptions-boxable.csv"))
    >>> d["/m/01yrx"]
    'Cat'
    """
    path = require(Path(path), "Open Images class descriptions CSV", _HINT)
    with open(path, encoding="utf-8") as fh:
        first = fh.readline().strip()
    if not first:
        raise DataError(path, "file is empty", "MID,DisplayName rows")
    head = first.split(",")[0].strip().strip('"')
    if head == "LabelName":
        df = _read_desc(path, header=0)
    elif head.startswith("/"):
        df = _read_desc(path, header=None)
    else:
        raise DataError(path, f"first field is {head!r}",
                        "a 'LabelName,DisplayName' header or a MID such as /m/01yrx")
    if df.shape[1] < 2:
        raise DataError(path, f"{df.shape[1]} column(s)", "2 columns: LabelName, DisplayName")
    return dict(zip(df.iloc[:, 0].astype(str), df.iloc[:, 1].astype(str)))


def _read_desc(path: Path, header) -> pd.DataFrame:
    try:
        return pd.read_csv(path, header=header, dtype=str, keep_default_na=False,
                           names=None if header == 0 else ["LabelName", "DisplayName"],
                           usecols=[0, 1])
    except (pd.errors.ParserError, ValueError) as e:
        raise DataError(path, f"cannot parse ({e})", "LabelName,DisplayName rows") from e


def _read_trainable(path: str | os.PathLike) -> set[str]:
    """The set of trainable MIDs (``oidv6-classes-trainable.txt``: one MID a line, no header).

    Examples
    --------
    >>> len(_read_trainable(packaged("oidv6-classes-trainable.txt")))
    9605
    """
    path = require(Path(path), "Open Images trainable-classes list", _HINT)
    mids = {ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()}
    if not mids:
        raise DataError(path, "no MIDs", "one MID a line")
    bad = [m for m in mids if not m.startswith("/")][:3]
    if bad:
        raise DataError(path, f"lines {bad} are not MIDs", "one MID such as /m/01yrx a line")
    return mids


def _read_hierarchy(hierarchy) -> tuple[dict, str]:
    if hierarchy is None:
        hierarchy = packaged("bbox_labels_600_hierarchy.json")
    if isinstance(hierarchy, Mapping):
        return dict(hierarchy), "<dict>"
    path = require(Path(hierarchy), "Open Images hierarchy (bbox_labels_600_hierarchy.json)", _HINT)
    h = read_json(path)
    if not isinstance(h, dict) or "LabelName" not in h:
        raise DataError(path, "top level has no 'LabelName'",
                        "nested {'LabelName': ..., 'Subcategory': [...], 'Part': [...]}")
    return h, str(path)


def _walk(node, src, fn):
    if not isinstance(node, dict) or "LabelName" not in node:
        raise DataError(src, f"hierarchy node {str(node)[:60]!r} has no 'LabelName'",
                        "every node a dict with 'LabelName'")
    fn(node)
    for key in ("Subcategory", "Part"):
        for child in node.get(key, []) or []:
            _walk(child, src, fn)


def _boxable_classes(hierarchy=None) -> list[str]:
    """All MIDs of the box hierarchy except the root (601 for V6), sorted.

    Examples
    --------
    >>> len(_boxable_classes())
    601
    """
    h, src = _read_hierarchy(hierarchy)
    seen = set()
    _walk(h, src, lambda n: seen.add(n["LabelName"]))
    seen.discard(h["LabelName"])
    return sorted(seen)


def _hierarchy_leaves(hierarchy=None, leaf_rule: str = "authors") -> set[str]:
    """Leaf MIDs of the box hierarchy.

    Parameters
    ----------
    hierarchy : path or dict, optional
        ``bbox_labels_600_hierarchy.json`` (default: the packaged copy).
    leaf_rule : {"authors", "subcategory"}
        ``authors``: nodes with neither ``Subcategory`` nor ``Part`` children, reached through
        either (the authors' code; 522 MIDs in V6). ``subcategory``: nodes without ``Subcategory``
        children (adds the part-only nodes Door, Bicycle, Human body: 525).

    Returns
    -------
    set of str

    Examples
    --------
    >>> len(_hierarchy_leaves()), len(_hierarchy_leaves(leaf_rule="subcategory"))
    (522, 525)
    """
    if leaf_rule not in _LEAF_RULES:
        raise DataError("hierarchy", f"unknown leaf_rule {leaf_rule!r}", f"one of {_LEAF_RULES}")
    h, src = _read_hierarchy(hierarchy)
    leaves: set[str] = set()

    def visit(n):
        has_sub = bool(n.get("Subcategory"))
        has_part = bool(n.get("Part"))
        if leaf_rule == "authors" and not has_sub and not has_part:
            leaves.add(n["LabelName"])
        elif leaf_rule == "subcategory" and not has_sub:
            leaves.add(n["LabelName"])

    _walk(h, src, visit)
    leaves.discard(h["LabelName"])
    return leaves


def _valid_classes(hierarchy=None, trainable=None, present: Mapping[str, Iterable[str]] | None = None,
                  leaf_rule: str = "authors") -> list[str]:
    """The paper's valid Open Images classes: leaf ∩ trainable ∩ present in every given split.

    Parameters
    ----------
    hierarchy : path or dict, optional
        Box hierarchy (default: packaged ``bbox_labels_600_hierarchy.json``).
    trainable : path, iterable of str, False, optional
        Trainable MIDs (default: packaged ``oidv6-classes-trainable.txt``); ``False`` skips the
        filter.
    present : mapping split -> iterable of MIDs, optional
        Classes present in each split; a valid class must be present in all of them (the paper:
        ``{"train": ..., "test": ...}`` with validation merged into train). ``None`` skips it.
    leaf_rule : {"authors", "subcategory"}
        See :func:`hierarchy_leaves`.

    Returns
    -------
    list of str
        Sorted MIDs (the authors' class-id order).

    Examples
    --------
    >>> len(_valid_classes())            # leaf ∩ trainable, before the presence filter
    488
    """
    ok = set(_hierarchy_leaves(hierarchy, leaf_rule))
    if trainable is not False:
        if trainable is None:
            trainable = packaged("oidv6-classes-trainable.txt")
        if isinstance(trainable, (str, os.PathLike)):
            trainable = _read_trainable(trainable)
        ok &= set(trainable)
    for _, mids in (present or {}).items():
        ok &= set(mids)
    return sorted(ok)


# ----------------------------------------------------------------------------- streaming
def _estimate_rows(path: Path) -> int | None:
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(1 << 20)
    lines = head.count(b"\n")
    if lines < 2:
        return None
    return int(size / (len(head) / lines))


def _stream_annotations(path: str | os.PathLike, with_boxes: bool = True, chunksize: int = 1_000_000,
                       progress: bool = True, desc: str | None = None):
    """Stream an Open Images annotation CSV in chunks.

    Yields one dict per chunk: ``image_ids`` (the chunk's unique ImageIDs, an Index),
    ``image_codes`` (int32, row -> position in ``image_ids``), ``mids`` (Index of LabelNames),
    ``mid_codes`` (int16), and with boxes ``boxes`` (float32 n x 4: XMin, YMin, XMax, YMax).
    Rows with ``Confidence`` other than 1 are dropped (human labels: 0 = verified absent).

    Parameters
    ----------
    path : path-like
        ``*-annotations-bbox.csv`` or ``*-annotations-human-imagelabels*.csv``.
    with_boxes : bool
        Also read the box columns (bbox files only).
    chunksize : int
        Rows per chunk (memory ~60 bytes per row while parsing).
    progress : bool
        tqdm bar in rows (total estimated from the file size).
    desc : str, optional
        Bar label.

    Examples
    --------
    >>> rows = sum(len(c["image_codes"]) for c in _stream_annotations(
    ...     "data/openimages/test-annotations-bbox.csv", chunksize=500_000))  # doctest: +SKIP
    """
    from ..progress import tqdm

    path = require(Path(path), "Open Images annotation CSV", _HINT)
    try:
        header = pd.read_csv(path, nrows=0).columns.tolist()
    except pd.errors.EmptyDataError as e:
        raise DataError(path, "file is empty", "a header row ImageID,Source,LabelName,...") from e
    need = ["ImageID", "LabelName"] + (_BOX_IN if with_boxes else [])
    missing = [c for c in need if c not in header]
    if missing:
        raise DataError(path, f"missing column(s) {missing}; found {header[:13]}",
                        f"columns {need}" + ("" if with_boxes else " (image labels)"))
    use = need + (["Confidence"] if "Confidence" in header else [])
    dtype = {"ImageID": "category", "LabelName": "category", "Confidence": np.float32}
    dtype.update({c: np.float32 for c in _BOX_IN})
    total = _estimate_rows(path)
    bar = tqdm(total=total, desc=desc or path.name, unit="rows", unit_scale=True, disable=not progress,
               mininterval=0.5)
    n_seen = 0
    try:
        reader = pd.read_csv(path, usecols=use, dtype=dtype, chunksize=chunksize, low_memory=False)
        for chunk in reader:
            n_seen += len(chunk)
            bar.update(len(chunk))
            if "Confidence" in chunk.columns:
                chunk = chunk[chunk["Confidence"].to_numpy() == 1]
            if chunk["ImageID"].isna().any() or chunk["LabelName"].isna().any():
                raise DataError(path, f"empty ImageID or LabelName near row {n_seen}",
                                "a value in every row")
            out = {"image_ids": chunk["ImageID"].cat.categories,
                   "image_codes": chunk["ImageID"].cat.codes.to_numpy(np.int32),
                   "mids": chunk["LabelName"].cat.categories,
                   "mid_codes": chunk["LabelName"].cat.codes.to_numpy(np.int32)}
            if with_boxes:
                b = chunk[["XMin", "YMin", "XMax", "YMax"]].to_numpy(np.float32)
                if np.isnan(b).any():
                    raise DataError(path, f"missing box coordinates near row {n_seen}",
                                    "XMin, XMax, YMin, YMax in every row")
                out["boxes"] = b
            yield out
    except (ValueError, pd.errors.ParserError) as e:
        if isinstance(e, DataError):
            raise
        raise DataError(path, f"cannot parse near row {n_seen} ({e})",
                        "the Open Images annotation CSV format") from e
    finally:
        if total is not None and bar.n != bar.total:
            bar.total = bar.n
            bar.refresh()
        bar.close()


def _read_split(path: Path, split: str, mid_index: dict, with_boxes: bool, chunksize: int,
                progress: bool):
    """All (image, class) rows of one split: image id list, codes, class codes and boxes.

    Chunk-local ImageID categories are concatenated and factorized once at the end (in C), so an
    image whose rows straddle a chunk boundary gets one number.
    """
    cat_parts, code_parts, cls_parts, box_parts = [], [], [], []
    n_cats = 0
    for ch in _stream_annotations(path, with_boxes, chunksize, progress, desc=f"{split} {path.name}"):
        cats = np.asarray(ch["image_ids"], dtype=object)
        cat_parts.append(cats)
        code_parts.append(ch["image_codes"] + np.int32(n_cats))
        n_cats += len(cats)
        mlut = np.fromiter((mid_index.setdefault(m, len(mid_index)) for m in ch["mids"]),
                           dtype=np.int64, count=len(ch["mids"]))
        cls_parts.append(mlut[ch["mid_codes"]].astype(np.int32))
        if with_boxes:
            box_parts.append(ch["boxes"])
    if not cat_parts:
        return [], np.zeros(0, np.int32), np.zeros(0, np.int32), \
            (np.zeros((0, 4), np.float32) if with_boxes else None)
    glob, uniq = pd.factorize(np.concatenate(cat_parts), sort=False)
    img = glob[np.concatenate(code_parts)].astype(np.int32)
    cls = np.concatenate(cls_parts)
    boxes = np.concatenate(box_parts) if with_boxes else None
    uniq = [str(u) for u in uniq]
    check_image_paths(uniq, path, lambda k: f"image {k + 1} of the file", field="ImageID")
    return uniq, img, cls, boxes


# ----------------------------------------------------------------------------- loader
def load_openimages(root: str | os.PathLike, annotations: str = "bbox",
                    splits: Sequence[str] = ("train", "validation", "test"),
                    merge_validation: bool = True, valid_rule: str = "paper",
                    leaf_rule: str = "authors", boxes: bool = True, drop_unlabeled: bool = True,
                    image_root: str | os.PathLike | None = None, chunksize: int = 1_000_000,
                    cache: bool = True, progress: bool = True, name: str = "openimages",
                    files: Mapping[str, str | os.PathLike] | None = None) -> LabelIndex:
    """Read Open Images V6 annotations into a ``LabelIndex`` (streamed, cached).

    Parameters
    ----------
    root : path-like
        Dataset folder holding the CSVs (or ``annotations/`` / ``metadata/`` below it) and the
        images in ``<root>/<split>/<ImageID>.jpg``.
    annotations : {"bbox", "human"}
        Box annotations (the paper) or human-verified image-level labels (only ``Confidence == 1``
        counts as present; human labels carry no boxes).
    splits : sequence of str
        Annotation splits to read (``train``, ``validation``, ``test``). ``train`` and ``test`` are
        required by ``valid_rule="paper"``; a missing ``validation`` file is skipped with a note in
        ``meta``.
    merge_validation : bool, default True
        Label validation images as ``train`` (the authors' code merges them, and the paper's train
        counts include them). False keeps a ``validation`` split.
    valid_rule : {"paper", "leaves", "boxable", "all"}
        ``paper``: leaf ∩ trainable ∩ present in train and in test (default; 486 classes on V6
        boxes). ``leaves``: leaf ∩ trainable ∩ present anywhere. ``boxable``: any hierarchy class
        present. ``all``: every class present in the annotations.
    leaf_rule : {"authors", "subcategory"}
        See :func:`hierarchy_leaves`.
    boxes : bool, default True
        Keep the boxes (``x0, y0, x1, y1`` = ``XMin, YMin, XMax, YMax``, already normalised).
    drop_unlabeled : bool, default True
        Drop images with no valid class (as the authors' image lists do).
    image_root : path-like, optional
        Where ``<split>/<ImageID>.jpg`` lives (default: ``root``).
    chunksize : int
        CSV rows per chunk.
    cache : bool
        Read / write the result in ``nbkit.io.cache_dir()`` (key: ``nbkit.io.fingerprint`` of every
        input file, i.e. path, size, ``mtime_ns`` and the bytes of small files, + options).
    progress : bool
        tqdm bars.
    name : str
        Dataset name.
    files : mapping, optional
        Override file locations: keys ``descriptions``, ``hierarchy``, ``trainable``, and split
        names for annotation CSVs.

    Returns
    -------
    LabelIndex
        Classes = valid MIDs in sorted order (the authors' class ids), names from the descriptions.
        ``meta`` records the files read, the rule and the class counts at each step.

    Examples
    --------
    >>> li = load_openimages("data/openimages")                         # doctest: +SKIP
    >>> li.n_classes                                                     # doctest: +SKIP
    486
    """
    root = require(Path(root), "Open Images folder", _HINT, folder=True)
    if valid_rule not in _VALID_RULES:
        raise DataError(root, f"unknown valid_rule {valid_rule!r}", f"one of {_VALID_RULES}")
    if annotations == "human":
        boxes = False
    found = _locate(root, annotations, splits, valid_rule, files)
    ann = found["annotations"]
    options = dict(annotations=annotations, splits=list(splits), merge_validation=merge_validation,
                   valid_rule=valid_rule, leaf_rule=leaf_rule, boxes=bool(boxes),
                   drop_unlabeled=drop_unlabeled, image_root=str(image_root or root), name=name)
    src_files = [found["descriptions"], found["hierarchy"], found["trainable"], *ann.values()]
    fp = fingerprint("openimages", _CACHE_VERSION, options,
                     {k: str(v) for k, v in ann.items()}, files=src_files)
    cpath = cache_dir() / f"openimages-{fp}.npz"
    if cache and cpath.exists():
        try:
            return LabelIndex.load(cpath)
        except DataError:
            pass  # rebuilt below
    desc = read_class_descriptions(found["descriptions"])
    per_split, mids = _read_splits(root, ann, splits, boxes, chunksize, progress)
    label_split = {s: ("train" if (s == "validation" and merge_validation) else s) for s in per_split}
    chosen, counts = _choose_classes(root, found, per_split, mids, label_split, valid_rule, leaf_rule)
    image_ids, image_splits, image_paths, Y, bdf = _assemble(root, per_split, mids, chosen,
                                                             label_split, drop_unlabeled, boxes)
    names = [desc.get(m, m) for m in chosen]
    meta = {"source": str(root), "format": f"openimages-{annotations}",
            "files": {k: str(v) for k, v in found.items() if k != "annotations"}
            | {f"annotations_{k}": str(v) for k, v in ann.items()},
            "valid_rule": valid_rule, "leaf_rule": leaf_rule, "class_counts_by_step": counts,
            "merge_validation": merge_validation,
            "missing_splits": [s for s in splits if s not in ann],
            "names_missing": [m for m in chosen if m not in desc], "fingerprint": fp}
    li = LabelIndex(name, chosen, names, image_ids, image_splits, Y, bdf,
                    Path(image_root) if image_root else root, image_paths, meta)
    if cache:
        li.save(cpath)
    return li


def _locate(root: Path, annotations: str, splits: Sequence[str], valid_rule: str,
            files: Mapping[str, str | os.PathLike] | None) -> dict:
    """``_find_files`` with the caller's overrides; the splits the rule needs must be there."""
    found = _find_files(root, annotations, splits)
    for k, v in (files or {}).items():
        if k in ("descriptions", "hierarchy", "trainable"):
            found[k] = Path(v)
        else:
            found["annotations"][k] = Path(v)
    ann = found["annotations"]
    needed = [s for s in splits if s != "validation"] if valid_rule == "paper" else []
    for s in needed:
        if s not in ann:
            pat = "annotations-bbox.csv" if annotations == "bbox" else "annotations-human-imagelabels.csv"
            raise MissingDataError(root / f"{s}-{pat}",
                                   f"no {s} annotations ('*{s}-{pat}') in {root}", hint=_HINT)
    if not ann:
        raise MissingDataError(root, "no annotation CSVs found", hint=_HINT)
    return found


def _read_splits(root: Path, ann: Mapping[str, Path], splits: Sequence[str], boxes: bool,
                 chunksize: int, progress: bool) -> tuple[dict, np.ndarray]:
    """Every split's rows (``_read_split``) and the MIDs seen; an image in two splits is refused."""
    mid_index: dict[str, int] = {}
    per_split = {}
    seen_in: dict[str, set] = {}
    for s in splits:
        if s not in ann:
            continue
        ids, img, cls, bx = _read_split(ann[s], s, mid_index, boxes, chunksize, progress)
        ids_set = set(ids)
        for prev, prev_ids in seen_in.items():  # an image in two split files: a broken download
            both = ids_set & prev_ids
            if both:
                i = min(both)
                raise DataError(ann[s], f"image {i!r} is also listed in the {prev} annotations "
                                        f"({ann[prev]})", "each ImageID in one split only")
        seen_in[s] = ids_set
        per_split[s] = (ids, img, cls, bx)
    if not per_split or all(len(v[0]) == 0 for v in per_split.values()):
        raise DataError(root, "the annotation CSVs hold no rows with Confidence 1",
                        "at least one annotation")
    return per_split, np.array(list(mid_index), dtype=object)


def _choose_classes(root: Path, found: dict, per_split: dict, mids: np.ndarray,
                    label_split: dict, valid_rule: str, leaf_rule: str) -> tuple[list, dict]:
    """The classes ``valid_rule`` keeps (sorted MIDs) and the class counts at each step."""
    present: dict[str, set] = {}
    for s, (_, _, cls, _) in per_split.items():
        hit = np.bincount(cls, minlength=len(mids)) > 0
        present.setdefault(label_split[s], set()).update(mids[hit])
    all_present = set().union(*present.values())
    counts = {"present": len(all_present)}
    if valid_rule == "paper":
        need = {k: present.get(k, set()) for k in ("train", "test")}
        chosen = _valid_classes(found["hierarchy"], found["trainable"], need, leaf_rule)
        counts["leaves"] = len(_hierarchy_leaves(found["hierarchy"], leaf_rule))
        counts["leaves_trainable"] = len(_valid_classes(found["hierarchy"], found["trainable"], None,
                                                       leaf_rule))
    elif valid_rule == "leaves":
        chosen = _valid_classes(found["hierarchy"], found["trainable"], {"any": all_present}, leaf_rule)
    elif valid_rule == "boxable":
        chosen = sorted(set(_boxable_classes(found["hierarchy"])) & all_present)
    else:
        chosen = sorted(all_present)
    counts["valid"] = len(chosen)
    if not chosen:
        raise DataError(root, f"no class passes valid_rule={valid_rule!r} "
                              f"({counts['present']} classes present)",
                        "classes that are leaves, trainable and present in train and test",
                        hint="pass valid_rule='all' to keep every class")
    return chosen, counts


def _assemble(root: Path, per_split: dict, mids: np.ndarray, chosen: list, label_split: dict,
              drop_unlabeled: bool, boxes: bool):
    """The image lists, the label matrix over ``chosen`` and the boxes (``per_split`` is freed)."""
    col_of = np.full(len(mids), -1, dtype=np.int64)
    pos = {m: i for i, m in enumerate(mids)}
    for j, m in enumerate(chosen):
        col_of[pos[m]] = j
    image_ids, image_splits, image_paths = [], [], []
    rows_all, cols_all, boxes_all = [], [], []
    offset = 0
    for s, (ids, img, cls, bx) in per_split.items():
        col = col_of[cls]
        keep = col >= 0
        img_k, col_k = img[keep], col[keep].astype(np.int32)
        n = len(ids)
        if drop_unlabeled:
            used = np.zeros(n, dtype=bool)
            used[img_k] = True
            new = (np.cumsum(used) - 1).astype(np.int32)
            img_k = new[img_k]
            ids = [i for i, u in zip(ids, used) if u]
            n = len(ids)
        image_ids += ids
        image_splits += [label_split[s]] * n
        image_paths += [f"{s}/{i}.jpg" for i in ids]
        rows_all.append(img_k.astype(np.int64) + offset)
        cols_all.append(col_k)
        if boxes:
            boxes_all.append((img_k + offset, col_k, bx[keep]))
        offset += n
        per_split[s] = None  # free as we go
    if offset == 0:
        raise DataError(root, "no image has a valid class", "at least one labelled image")
    R = np.concatenate(rows_all)
    Cc = np.concatenate(cols_all)
    Y = sp.csr_matrix((np.ones(len(R), dtype=bool), (R, Cc)), shape=(offset, len(chosen)))
    Y.sum_duplicates()
    bdf = None
    if boxes:
        bi = np.concatenate([b[0] for b in boxes_all])
        bc = np.concatenate([b[1] for b in boxes_all])
        bb = np.clip(np.concatenate([b[2] for b in boxes_all]), 0, 1)
        bdf = pd.DataFrame({"image": bi, "class": bc, "x0": bb[:, 0], "y0": bb[:, 1],
                            "x1": bb[:, 2], "y1": bb[:, 3]})
        del bi, bc, bb
    return image_ids, image_splits, image_paths, Y, bdf

