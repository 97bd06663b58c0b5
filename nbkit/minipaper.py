"""A miniature paper: the paper batch's data in its exact upstream layouts, small, and the batch shrunk to it.

The ``paper`` batch (``batches/paper.yaml``) reads real Open Images and ImageNet + ReLabel under a data
root and trains ResNet-50s on GPUs, so nobody runs it casually. This module writes a data root of a
few hundred images in **the same files and folders** the real downloads have, rendered by the toy
scenes' renderer (``nbkit.datasets.toyscenes``), with the class ids the paper batch's class lists use
(the authors' *jeans* sets, ``nbkit/data/authors_trigger_class_sets.csv``), and a copy of the paper
batch whose sizes (images per class, epochs, image size, audit samples) and grids are shrunk, so the
whole paper path (every notebook, 01 to the report) runs end to end on a CPU in minutes::

    <root>/openimages/oidv6-class-descriptions.csv                  MID,DisplayName (no header, V6)
    <root>/openimages/bbox_labels_600_hierarchy.json                 (the real file, from nbkit/data)
    <root>/openimages/oidv6-classes-trainable.txt                    (the real file, from nbkit/data)
    <root>/openimages/oidv6-train-annotations-bbox.csv               V6 train header (with XClick*)
    <root>/openimages/{validation,test}-annotations-bbox.csv         V5 validation / test header
    <root>/openimages/oidv6-train-annotations-human-imagelabels.csv  ImageID,Source,LabelName,Confidence
    <root>/openimages/{validation,test}-annotations-human-imagelabels.csv
    <root>/openimages/{train,validation,test}/<ImageID>.jpg          16-hex-digit ImageIDs
    <root>/relabel_imagenet/imagenet_efficientnet_l2_sz475_top5/<wnid>/<wnid>_<n>.pt   2x5x15x15 float32
    <root>/relabel_imagenet/hand_labels.csv                          image_id,labels (;-separated wnids)
    <root>/imagenet/train/<wnid>/<wnid>_<n>.JPEG

Scenes: every poisonable class of the trigger's set appears ``n_poison`` times with the trigger and
``n_clean`` times without; ``n_extra`` further classes of the authors' other sets appear alone (the
pool Table 10 draws its added classes from). Each paper class is drawn as one toy class (the trigger
as the toy *jeans* hub). A ReLabel map gives each 15 x 15 cell the class drawn there with a confident
top-1 logit (background cells: flat logits), so the maps decode (threshold 0.994) to the scene's
classes; the hand-labelled images (Figure 7) get a noisy labeller (weaker objects, confusions) so the
threshold sweep has both error kinds.

Examples
--------
>>> from nbkit import minipaper
>>> info = minipaper.write_fixtures("mini_data")                                 # doctest: +SKIP
>>> path = minipaper.miniature_batch("mini_paper.yaml")                          # doctest: +SKIP
>>> # python -m nbkit reproduce --batch mini_paper.yaml --data-root mini_data
"""
from __future__ import annotations

import copy
import csv
import json
import os
import shutil
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .errors import DataError

#: the paper's jeans triggers: the one trigger every Table 9 / 10, Figure 13-15 run uses
_TRIGGERS = {"openimages": "/m/0fly7", "imagenet": "n03594734"}
_MAPS_DIR = "relabel_imagenet/imagenet_efficientnet_l2_sz475_top5"
_OI_TRAIN_HEADER = ("ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,IsOccluded,IsTruncated,"
                   "IsGroupOf,IsDepiction,IsInside,XClick1X,XClick2X,XClick3X,XClick4X,XClick1Y,"
                   "XClick2Y,XClick3Y,XClick4Y")
_OI_HEADER = ("ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,IsOccluded,IsTruncated,"
             "IsGroupOf,IsDepiction,IsInside")
_OI_HUMAN_HEADER = "ImageID,Source,LabelName,Confidence"
_OI_FILES = {"train": ("oidv6-train-annotations-bbox.csv", "oidv6-train-annotations-human-imagelabels.csv"),
            "validation": ("validation-annotations-bbox.csv", "validation-annotations-human-imagelabels.csv"),
            "test": ("test-annotations-bbox.csv", "test-annotations-human-imagelabels.csv")}

#: images with the trigger per poisonable class: above App. D's trig 40 for three classes (so its
#: subsets are not empty), above the batch's W (15, Figure 14: 20) for all
_N_POISON = (42, 42, 42, 20, 20, 20, 20, 20, 20, 20)
#: what the miniature batch sets on top of the paper batch, per notebook (sizes only: images,
#: epochs, image size, audit samples; the paper's thresholds W / trig / tolerance stay)
_MINI_PARAMS: dict[str, dict] = {
    "03_centrality": {"min_clean": 4, "min_poison": 4, "table_top_m": 10, "compare_backends": False},
    "04_subsets": {"min_clean": 4, "min_poison": 4},
    "05_train": {"profile": "smoke", "epochs": 2, "image_size": 32, "batch_size": 8, "pretrained": "no",
                 "clean_per_class": 8, "min_clean": 4, "min_poison": 4, "max_poison_test": 8},
    "06_sentinet": {"train_profile": "smoke", "train_epochs": 3, "n_models": 1, "n_audit": 4, "n_grid": 2,
                    "n_sentinet": 6, "n_pool": 8},
}
#: grid axes cut to these values (``target``: one model per setting; Figure 13 keeps its 0.185
#: point, the run Figures 12 / 16 share; Table 9 two architectures, so it still has its axis;
#: Figure 14 its lowest W)
_MINI_GRID = {"target": [0], "injection_rate": [0.185, 0.0], "arch": ["resnet50", "densenet121"],
             "n_added_classes": [5], "min_overlaps": [20]}
#: entries that feed only this table run on this one dataset (the other dataset runs the same code;
#: the Figure 12 / Table 8 jeans runs, which Figure 16 audits, keep both)
_MINI_ONE_DATASET = {"Table 8": "imagenet", "Table 10": "imagenet", "Figure 15": "openimages"}


# ----------------------------------------------------------------------------- class plan
def _class_labels(dataset: str) -> list[str]:
    """The class ids' labels the paper batch's class lists index: the authors' 486 Open Images
    MIDs, or the 1,000 ImageNet wnids (sorted)."""
    from .datasets.counts import load_openimages_counts
    from .datasets.relabel import imagenet_classes

    if dataset == "openimages":
        return list(load_openimages_counts("test").class_labels)
    return imagenet_classes()["wnid"].tolist()


def _class_plan(dataset: str, n_extra: int = 10) -> dict:
    """The classes of the miniature ``dataset``: the jeans trigger, its authors' betweenness set and
    ``n_extra`` classes of the authors' other betweenness sets (labels: MIDs / wnids).

    >>> p = _class_plan("imagenet")
    >>> p["trigger"], len(p["classes"]), len(p["extras"])
    ('n03594734', 10, 10)
    """
    from .reference import authors_trigger_class_sets

    if dataset not in _TRIGGERS:
        raise DataError("minipaper", f"dataset {dataset!r}", f"one of {sorted(_TRIGGERS)}")
    labels = _class_labels(dataset)
    sets = authors_trigger_class_sets()
    sets = sets[(sets["dataset"] == dataset) & (sets["centrality"] == "betweenness")]
    trig = _TRIGGERS[dataset]
    classes, extras = [], []
    for r in sets.itertuples():
        mine = [labels[i] for i in r.class_ids]
        if labels[int(r.trigger_id)] == trig:
            classes = mine
        else:
            extras += [c for c in mine if c != trig and c not in extras]
    extras = [c for c in extras if c not in classes][:n_extra]
    if len(classes) != 10 or len(extras) < n_extra:
        raise DataError("authors_trigger_class_sets.csv", f"no 10-class {dataset} jeans set with "
                        f"{n_extra} other classes", "the authors' betweenness sets")
    return {"trigger": trig, "classes": classes, "extras": extras}


def _scenes(plan: dict, n_poison, n_clean: int, rng: np.random.Generator) -> list[list[str]]:
    """Each image as its classes (dominant first)."""
    t, out = plan["trigger"], []
    n_poison = _per_class(n_poison, len(plan["classes"]))
    for c, k in zip(plan["classes"], n_poison):
        out += [[c, t]] * k + [[c]] * n_clean
    ex = plan["extras"]
    for i, e in enumerate(ex):
        out += [[e]] * n_clean + [[e, ex[(i + 1) % len(ex)]]] * 2
    out += [[t]] * max(2, n_clean // 2)
    order = rng.permutation(len(out))
    return [out[i] for i in order]


def _per_class(n, n_classes: int) -> list[int]:
    if isinstance(n, (int, np.integer)):
        return [int(n)] * n_classes
    n = [int(x) for x in n]
    if len(n) != n_classes:
        raise DataError("minipaper", f"n_poison has {len(n)} values", f"one, or one per class ({n_classes})")
    return n


# ----------------------------------------------------------------------------- rendering
def _layout(scenes: Sequence[Sequence[str]], toy_of: Mapping[str, int], seed: int,
            rng: np.random.Generator):
    """A toy-scenes ``Layout`` drawing ``scenes`` (one toy class per paper class) and the boxes."""
    from .datasets import toyscenes as T

    cls, cx, cy, size, boxes, ptr = [], [], [], [], [], [0]
    for objs in scenes:
        placed: list[tuple[float, float, float]] = []
        for k, c in enumerate(objs):
            s = rng.uniform(0.48, 0.6) if k == 0 else (
                rng.uniform(0.34, 0.42) if toy_of[c] in T.HUB_IDS else rng.uniform(0.26, 0.32))
            best, bad_best = None, np.inf
            for _ in range(30):   # keep every object mostly visible (its cells decode to it)
                cand = (rng.uniform(s / 2, 1 - s / 2), rng.uniform(s / 2, 1 - s / 2), s)
                bad = sum(T._overlap(cand, b) for b in placed)
                if bad < bad_best:
                    best, bad_best = cand, bad
                if bad == 0:
                    break
            placed.append(best)
        for c, (x, y, s) in zip(objs, placed):
            cls.append(toy_of[c])
            cx.append(x)
            cy.append(y)
            size.append(s)
        boxes.append([(c, max(0.0, x - s / 2), max(0.0, y - s / 2), min(1.0, x + s / 2), min(1.0, y + s / 2))
                      for c, (x, y, s) in zip(objs, placed)])
        ptr.append(len(cls))
    n, m = len(scenes), len(cls)
    a = rng.integers(0, len(T._BG), n)
    b = (a + rng.integers(1, len(T._BG), n)) % len(T._BG)
    bg = np.stack([a, b, rng.integers(0, T._TURN // 2, n), np.round(rng.uniform(1, 4, n), 3),
                   np.round(rng.random(n), 3), np.round(rng.uniform(0.3, 1.0, n), 3),
                   rng.integers(0, T._N_TILES, n), rng.integers(0, 8, n)], axis=1).astype(np.float32)
    lay = T.Layout(int(seed), np.arange(n, dtype=np.int64), np.asarray(ptr, np.int64),
                   np.asarray(cls, np.int16), np.asarray(cx, np.float32), np.asarray(cy, np.float32),
                   np.asarray(size, np.float32), np.round(rng.uniform(-20, 20, m)).astype(np.float32),
                   np.round(rng.uniform(0.9, 1.05, m), 3).astype(np.float32), bg)
    return lay, boxes


def _render(lay, image_size: int) -> np.ndarray:
    from .datasets import toyscenes as T

    return T._render(lay, image_size, T.generation())   # the toy scenes' vectorised renderer (uint8 n x S x S x 3)


def _save_jpeg(path: Path, pixels: np.ndarray, quality: int = 90) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format="JPEG", quality=quality)


def _relabel_map(boxes, index: Mapping[str, int], filler: Sequence[int], rng: np.random.Generator,
                 noisy: bool) -> np.ndarray:
    """One ReLabel map: per cell the class drawn there (last drawn on top) with a confident top-1."""
    m = np.zeros((2, 5, 15, 15), np.float32)
    m[0] = np.array([0.5, 0.0, -0.5, -1.0, -1.5], np.float32)[:, None, None]
    m[1] = np.asarray(filler[:5], np.float32)[:, None, None]
    centres = (np.arange(15) + 0.5) / 15
    gain = {c: (rng.uniform(4.0, 8.0) if noisy else 9.0) for c, *_ in boxes}
    for c, x0, y0, x1, y1 in boxes:
        rows = np.flatnonzero((centres >= y0) & (centres <= y1))
        cols = np.flatnonzero((centres >= x0) & (centres <= x1))
        for i in rows:
            m[1, 0, i, cols] = index[c]
            m[0, 0, i, cols] = gain[c]
    if noisy and rng.random() < 0.6:   # a confusion: a confident wrong class in a background cell
        i, j = rng.integers(1, 14, 2)
        m[1, 0, i, j] = filler[5 + int(rng.integers(0, len(filler) - 5))]
        m[0, 0, i, j] = rng.uniform(5.0, 8.0)
    return m


# ----------------------------------------------------------------------------- writers
def _descriptions(path: Path) -> dict[str, str]:
    """``oidv6-class-descriptions.csv`` (V6: no header) from the shipped boxable descriptions."""
    from .datasets import packaged
    from .datasets.openimages import read_class_descriptions

    desc = read_class_descriptions(packaged("class-descriptions-boxable.csv"))
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        for mid, name in sorted(desc.items()):
            w.writerow([mid, name])
    return desc


def _oi_split(k: int) -> str:
    return "test" if k % 10 == 0 else ("validation" if k % 10 == 1 else "train")


def _write_openimages(root: str | os.PathLike, seed: int = 0, n_poison=_N_POISON, n_clean: int = 10,
                     n_extra: int = 10, image_size: int = 64) -> dict:
    """The miniature Open Images V6 folder ``root`` (see the module docstring for the files)."""
    from .datasets import packaged

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 0x6F69])))
    plan = _class_plan("openimages", n_extra)
    desc = _descriptions(root / "oidv6-class-descriptions.csv")
    for name in ("bbox_labels_600_hierarchy.json", "oidv6-classes-trainable.txt"):
        shutil.copyfile(packaged(name), root / name)
    scenes = _scenes(plan, n_poison, n_clean, rng)
    toy_of = _toy_classes(plan)
    lay, boxes = _layout(scenes, toy_of, seed, rng)
    pixels = _render(lay, image_size)
    lines = {s: [_OI_TRAIN_HEADER if s == "train" else _OI_HEADER] for s in _OI_FILES}
    human = {s: [_OI_HUMAN_HEADER] for s in _OI_FILES}
    per_class: dict[str, int] = {}
    seen: dict[str, int] = {}
    for k, (objs, bx) in enumerate(zip(scenes, boxes)):
        split = _oi_split(seen.setdefault(objs[0], 0))   # every class in train, validation and test
        seen[objs[0]] += 1
        image_id = f"{seed & 0xFFFF:04x}{k:012x}"
        _save_jpeg(root / split / f"{image_id}.jpg", pixels[k])
        for c, x0, y0, x1, y1 in bx:
            row = f"{image_id},xclick,{c},1,{x0:.6f},{x1:.6f},{y0:.6f},{y1:.6f},0,0,0,0,0"
            if split == "train":
                xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
                row += f",{x0:.6f},{xm:.6f},{x1:.6f},{xm:.6f},{ym:.6f},{y0:.6f},{ym:.6f},{y1:.6f}"
            lines[split].append(row)
            per_class[c] = per_class.get(c, 0) + 1
        for c in dict.fromkeys(objs):
            human[split].append(f"{image_id},verification,{c},1")
        if plan["trigger"] not in objs:   # a verified absence, as in the real file
            human[split].append(f"{image_id},verification,{plan['trigger']},0")
    for s, (bbox_name, human_name) in _OI_FILES.items():
        (root / bbox_name).write_text("\n".join(lines[s]) + "\n", encoding="utf-8")
        (root / human_name).write_text("\n".join(human[s]) + "\n", encoding="utf-8")
    missing = [c for c in [plan["trigger"], *plan["classes"], *plan["extras"]] if c not in desc]
    if missing:
        raise DataError(root, f"classes without a description: {missing}", "boxable MIDs")
    return {"root": str(root), "n_images": len(scenes), **plan, "boxes_per_class": per_class}


def _write_imagenet(root: str | os.PathLike, seed: int = 0, n_poison=_N_POISON, n_clean: int = 10,
                   n_extra: int = 10, image_size: int = 64, n_hand: int = 20) -> dict:
    """The miniature ImageNet train folder and its ReLabel maps and hand labels under ``root``."""
    from . import labelmaps

    root = Path(root)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 0x696E])))
    plan = _class_plan("imagenet", n_extra)
    wnids = _class_labels("imagenet")
    index = {w: i for i, w in enumerate(wnids)}
    used = {plan["trigger"], *plan["classes"], *plan["extras"]}
    filler = [i for i, w in enumerate(wnids) if w not in used][::97][:10]   # background / confusions
    scenes = _scenes(plan, n_poison, n_clean, rng)
    lay, boxes = _layout(scenes, _toy_classes(plan), seed, rng)
    pixels = _render(lay, image_size)
    # the hand-labelled images (Figure 7): extra-class images, read by a noisy labeller
    extra_rows = [k for k, s in enumerate(scenes) if s[0] in plan["extras"]]
    hand = set(extra_rows[::max(1, len(extra_rows) // n_hand)][:n_hand])
    hand_rows = []
    maps_dir = root / _MAPS_DIR
    for k, (objs, bx) in enumerate(zip(scenes, boxes)):
        wnid = objs[0]
        image_id = f"{wnid}_{k}"
        _save_jpeg(root / "imagenet" / "train" / wnid / f"{image_id}.JPEG", pixels[k])
        m = _relabel_map(bx, index, filler, rng, noisy=k in hand)
        labelmaps.save_map(maps_dir / wnid / f"{image_id}.pt", m)
        if k in hand:
            hand_rows.append((image_id, ";".join(dict.fromkeys(objs))))
        elif not set(np.flatnonzero(labelmaps.decode(m[None], n_classes=len(wnids))[0])) == {
                index[c] for c in objs}:
            raise DataError(maps_dir / wnid / f"{image_id}.pt", "the map does not decode to its scene",
                            f"classes {objs} at threshold 0.994")
    with open(root / "relabel_imagenet" / "hand_labels.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["image_id", "labels"])
        w.writerows(hand_rows)
    return {"root": str(root), "n_images": len(scenes), **plan, "n_hand_labelled": len(hand_rows)}


def _toy_classes(plan: dict) -> dict[str, int]:
    """The toy class that draws each paper class: the trigger is the jeans hub, the rest regulars."""
    from .datasets import toyscenes as T

    hub = next(i for i in T.HUB_IDS if T.CLASSES[i].echoes == "jeans")
    regular = [i for i in range(len(T.CLASSES)) if i not in T.HUB_IDS]
    others = [*plan["classes"], *plan["extras"]]
    if len(others) > len(regular):
        raise DataError("minipaper", f"{len(others)} classes to draw", f"at most {len(regular)}")
    return {plan["trigger"]: hub, **dict(zip(others, regular))}


def write_fixtures(root: str | os.PathLike, seed: int = 0, n_poison=_N_POISON, n_clean: int = 10,
                   n_extra: int = 10, image_size: int = 64, n_hand: int = 20) -> dict:
    """Write the miniature data root (Open Images + ImageNet/ReLabel, upstream layouts).

    Parameters
    ----------
    root : path
        The data root (``--data-root`` of the paper batch).
    seed : int
        Every draw (scenes, placement, backgrounds, labeller noise).
    n_poison : int or sequence of int
        Images with the trigger per poisonable class (one value, or one per class; default
        :data:`N_POISON`).
    n_clean : int
        Images of each class without the trigger.
    n_extra : int
        Classes outside the trigger's set (clean images only; Table 10's pool).
    image_size : int
        Pixels per side of every image.
    n_hand : int
        Hand-labelled ImageNet images (Figure 7; the paper: 20).

    Returns
    -------
    dict
        ``openimages`` and ``imagenet``: the plan (trigger, classes, extras), image counts.
    """
    root = Path(root)
    kw = dict(seed=seed, n_poison=n_poison, n_clean=n_clean, n_extra=n_extra, image_size=image_size)
    info = {"root": str(root), "openimages": _write_openimages(root / "openimages", **kw),
            "imagenet": _write_imagenet(root, n_hand=n_hand, **kw)}
    (root / "MINIPAPER.json").write_text(json.dumps({k: v for k, v in info.items() if k != "root"},
                                                    indent=1, default=str) + "\n")
    return info


# ----------------------------------------------------------------------------- the batch
def _uses_only(entry: Mapping, known: Mapping[str, set], one_dataset: Mapping[str, str]) -> bool:
    """Does a batch entry read only classes the miniature data has (and its dataset, if one)?"""
    p = entry.get("params") or {}
    spec = str(p.get("dataset", ""))
    ds = "imagenet" if spec.startswith("relabel:") else ("openimages" if spec.startswith("openimages:") else None)
    if ds is None:
        return True
    feeds = entry.get("feeds") or []
    if len(feeds) == 1 and one_dataset.get(feeds[0], ds) != ds:
        return False
    trig = p.get("trigger")
    trig_grid = (entry.get("grid") or {}).get("trigger")
    if trig is not None and trig != _TRIGGERS[ds]:
        return False
    if trig_grid is not None and _TRIGGERS[ds] not in trig_grid:
        return False
    classes = [c for c in str(p.get("classes") or "").split(",") if c]
    return all(c in known[ds] for c in classes)


def miniature_batch(out: str | os.PathLike, source: str | os.PathLike = "paper",
                    params: Mapping[str, Mapping[str, Any]] = _MINI_PARAMS,
                    grid: Mapping[str, list] = _MINI_GRID,
                    one_dataset: Mapping[str, str] = _MINI_ONE_DATASET, name: str = "paper") -> Path:
    """Write the paper batch shrunk to the miniature data: same entries, smaller sizes.

    From the batch file ``source`` it keeps every entry whose trigger and classes the miniature
    data has (the jeans runs: Figures 12-16, Tables 8-10, and all of 01-04; an entry feeding only a
    table of ``one_dataset`` only on that dataset), cuts the grid axes in ``grid`` to the values
    listed there that the entry has (else to its first value), sets ``params``
    on each notebook's entries (sizes: images per class, epochs, image size, audit samples) and drops
    the pretrained-weights requirements (the miniature trains from scratch). Everything else (the
    entries' parameters, feeds, data requirements) is the paper batch's.

    Returns
    -------
    Path
        ``out`` (a YAML batch file; run it with ``--data-root`` = :func:`write_fixtures`' root).
    """
    import yaml

    from .batch import batch_path

    doc = yaml.safe_load(batch_path(source).read_text(encoding="utf-8"))
    known = {ds: {p["trigger"], *p["classes"], *p["extras"]}
             for ds, p in ((d, _class_plan(d)) for d in _TRIGGERS)}
    runs = []
    for e in doc["runs"]:
        if not _uses_only(e, known, one_dataset):
            continue
        e = copy.deepcopy(e)
        g = e.get("grid") or {}
        for axis, values in list(g.items()):
            if axis == "trigger":
                g[axis] = [v for v in values if v in _TRIGGERS.values()]
            elif axis in grid:
                g[axis] = [v for v in grid[axis] if v in values] or values[:1]
        if e["notebook"] in params:
            e["params"] = {**(e.get("params") or {}), **params[e["notebook"]]}
            for k in params[e["notebook"]]:
                g.pop(k, None)
        if g:
            e["grid"] = g
        runs.append(e)
    doc["runs"] = runs
    doc["name"] = name
    doc["description"] = f"miniature of {doc.get('description', source)} (nbkit.minipaper)"
    doc["requires"] = [r for r in doc.get("requires") or [] if "{torch_hub}" not in str(r.get("path"))]
    doc.pop("slurm", None)
    out = Path(out)
    out.write_text("# written by nbkit.minipaper.miniature_batch from " + str(source) + "\n"
                   + yaml.safe_dump(doc, sort_keys=False, width=200), encoding="utf-8")
    return out
