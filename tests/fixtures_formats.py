"""Writers of small dataset fixtures in the exact upstream file formats (used by tests/test_datasets*.py).

Every writer produces files byte-compatible with the real downloads: the Open Images V6 CSV headers
and the header-less ``oidv6-class-descriptions.csv``, ReLabel ``.pt`` tensors written by ``torch.save``,
COCO instances JSON, the VOC devkit ``ImageSets/Main`` lists and XML annotations.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

# ----------------------------------------------------------------------------- Open Images
OI_BBOX_HEADER = ("ImageID,Source,LabelName,Confidence,XMin,XMax,YMin,YMax,IsOccluded,IsTruncated,"
                  "IsGroupOf,IsDepiction,IsInside")
OI_HUMAN_HEADER = "ImageID,Source,LabelName,Confidence"

# real MIDs, a small hierarchy shaped like bbox_labels_600_hierarchy.json
OI = {"root": "/m/0bl9f", "Animal": "/m/0jbk", "Cat": "/m/01yrx", "Dog": "/m/0bt9lr",
      "Person": "/m/01g317", "Human face": "/m/0dzct", "Car": "/m/0k4j", "Hammer": "/m/03l9g",
      "Wheel": "/m/083wq"}

OI_HIERARCHY = {
    "LabelName": OI["root"],
    "Subcategory": [
        {"LabelName": OI["Animal"], "Subcategory": [{"LabelName": OI["Cat"]}, {"LabelName": OI["Dog"]}]},
        {"LabelName": OI["Person"], "Part": [{"LabelName": OI["Human face"]}]},
        {"LabelName": OI["Car"]},
        {"LabelName": OI["Hammer"]},
        {"LabelName": OI["Wheel"]},
    ],
}
# everything trainable except Wheel
OI_TRAINABLE = [OI[k] for k in ("Animal", "Cat", "Dog", "Person", "Human face", "Car", "Hammer")]

# (split, ImageID, class name, (XMin, XMax, YMin, YMax)); hex ImageIDs as in Open Images
OI_ROWS = [
    ("train", "000002b66c9c498e", "Cat", (0.1, 0.5, 0.2, 0.6)),
    ("train", "000002b66c9c498e", "Dog", (0.5, 0.9, 0.1, 0.9)),
    ("train", "000002b97e5471a0", "Cat", (0.0, 1.0, 0.0, 1.0)),
    ("train", "000002b66c9c498e", "Human face", (0.3, 0.4, 0.3, 0.4)),   # image spans chunks
    ("train", "000002b97e5471a0", "Hammer", (0.2, 0.3, 0.2, 0.3)),       # Hammer: train only
    ("train", "000002c707c9895e", "Car", (0.1, 0.9, 0.3, 0.8)),
    ("train", "000002c707c9895e", "Wheel", (0.1, 0.3, 0.6, 0.8)),        # not trainable
    ("train", "000002c707c9895e", "Person", (0.6, 0.7, 0.2, 0.9)),       # not a leaf (has a part)
    ("train", "000002c707c9895e", "Human face", (0.62, 0.68, 0.2, 0.3)),
    ("train", "000004f4400f6ec5", "Animal", (0.0, 0.5, 0.0, 0.5)),       # not a leaf: image dropped
    ("validation", "0001eeaf4aed83f9", "Dog", (0.2, 0.8, 0.2, 0.8)),
    ("validation", "0001eeaf4aed83f9", "Car", (0.0, 0.2, 0.5, 0.7)),
    ("test", "000026e7ee790996", "Cat", (0.1, 0.2, 0.1, 0.2)),
    ("test", "000026e7ee790996", "Dog", (0.3, 0.4, 0.3, 0.4)),
    ("test", "000062a39995e348", "Car", (0.5, 0.6, 0.5, 0.6)),
    ("test", "000062a39995e348", "Human face", (0.1, 0.3, 0.1, 0.3)),
    ("test", "000062a39995e348", "Human face", (0.5, 0.7, 0.1, 0.3)),   # two boxes, one label
]
#: the paper's valid classes for OI_ROWS: leaf ∩ trainable ∩ in train(+validation) ∩ in test
OI_VALID = sorted([OI["Cat"], OI["Dog"], OI["Human face"], OI["Car"]])

OI_DESCRIPTIONS = {v: k for k, v in OI.items() if k != "root"} | {OI["root"]: "Entity"}


def write_oi_descriptions(path: Path, header: bool) -> Path:
    """``oidv6-class-descriptions.csv`` (no header) or ``class-descriptions-boxable.csv`` (header)."""
    lines = (["LabelName,DisplayName"] if header else []) + \
        [f"{mid},{name}" for mid, name in sorted(OI_DESCRIPTIONS.items())] + \
        ['/m/0100nhbf,"Sprenger\'s tulip"', '/m/0z0000,"Comma, in a name"']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def oi_bbox_line(image_id: str, mid: str, box, confidence: int = 1) -> str:
    x0, x1, y0, y1 = box
    return f"{image_id},xclick,{mid},{confidence},{x0},{x1},{y0},{y1},0,0,0,0,0"


def write_openimages(root: Path, rows: Sequence = OI_ROWS, header_descriptions: bool = False,
                     train_name: str = "oidv6-train-annotations-bbox.csv", human: bool = False,
                     with_trainable: bool = True) -> Path:
    """A small Open Images V6 folder: descriptions, hierarchy, trainable list, bbox CSVs per split.

    With ``human=True`` also writes ``*-annotations-human-imagelabels.csv`` files holding the same
    labels (Confidence 1) plus a verified-absent row (Confidence 0) per image.
    """
    root.mkdir(parents=True, exist_ok=True)
    write_oi_descriptions(root / ("class-descriptions-boxable.csv" if header_descriptions
                                  else "oidv6-class-descriptions.csv"), header_descriptions)
    (root / "bbox_labels_600_hierarchy.json").write_text(json.dumps(OI_HIERARCHY, indent=1))
    if with_trainable:
        (root / "oidv6-classes-trainable.txt").write_text("\n".join(OI_TRAINABLE) + "\n")
    names = {"train": train_name, "validation": "validation-annotations-bbox.csv",
             "test": "test-annotations-bbox.csv"}
    for split, fname in names.items():
        lines = [OI_BBOX_HEADER] + [oi_bbox_line(i, OI[c], b) for s, i, c, b in rows if s == split]
        (root / fname).write_text("\n".join(lines) + "\n", encoding="utf-8")
        if human:
            hname = ("oidv6-" if split == "train" else "") + f"{split}-annotations-human-imagelabels.csv"
            hl = [OI_HUMAN_HEADER]
            seen = set()
            for s, i, c, _ in rows:
                if s == split and (i, c) not in seen:
                    seen.add((i, c))
                    hl.append(f"{i},verification,{OI[c]},1")
            for i in sorted({i for s, i, _, _ in rows if s == split}):
                hl.append(f"{i},verification,{OI['Wheel'] if split != 'test' else OI['Hammer']},0")
            (root / hname).write_text("\n".join(hl) + "\n", encoding="utf-8")
    return root


def write_synthetic_bbox_csv(path: Path, n_rows: int, n_images: int | None = None,
                             n_classes: int = 500, seed: int = 0, id_offset: int = 0) -> Path:
    """A large synthetic ``*-annotations-bbox.csv`` in the exact V6 format (for benchmarks).

    Rows are grouped by image, as in the real file; MIDs are ``/m/bench<k>``; ImageIDs are 16 hex
    digits numbered from ``id_offset``.
    """
    rng = np.random.default_rng(seed)
    n_images = n_images or max(1, n_rows // 8)
    img = np.sort(rng.integers(0, n_images, n_rows)) + id_offset
    cls = rng.integers(0, n_classes, n_rows)
    xy = rng.random((n_rows, 4)).astype(np.float32)
    x0, x1 = np.minimum(xy[:, 0], xy[:, 1]), np.maximum(xy[:, 0], xy[:, 1])
    y0, y1 = np.minimum(xy[:, 2], xy[:, 3]), np.maximum(xy[:, 2], xy[:, 3])
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(OI_BBOX_HEADER + "\n")
        step = 200_000
        for s in range(0, n_rows, step):
            e = min(n_rows, s + step)
            fh.write("".join(
                f"{i:016x},xclick,/m/bench{c},1,{a:.6f},{b:.6f},{c2:.6f},{d:.6f},0,0,0,0,0\n"
                for i, c, a, b, c2, d in zip(img[s:e], cls[s:e], x0[s:e], x1[s:e], y0[s:e], y1[s:e])))
    return path


# ----------------------------------------------------------------------------- ReLabel
def relabel_map(confident: dict | None = None, background: int = 999, second: dict | None = None,
                logit: float = 12.0):
    """One ReLabel map (torch float32 2x5x15x15).

    Every cell lists classes ``background, background-1, ...`` with flat logits (probability 0.2
    each). ``confident[(i, j)] = class`` makes ``class`` the top-1 entry of cell (i, j) with logit
    ``logit`` (probability ~0.99998 for 12.0); ``second[(i, j)] = class`` puts ``class`` as the
    second entry with that high logit instead (top-1 keeps a flat logit).
    """
    import torch

    m = torch.zeros(2, 5, 15, 15)
    m[0] = 1.0
    m[1] = (background - torch.arange(5, dtype=torch.float32)).view(5, 1, 1)
    for (i, j), c in (confident or {}).items():
        m[1, 0, i, j] = float(c)
        m[0, 0, i, j] = logit
    for (i, j), c in (second or {}).items():
        m[1, 1, i, j] = float(c)
        m[0, 1, i, j] = logit
    return m


def write_relabel(directory: Path, maps: dict[str, object], nested: bool = True) -> Path:
    """Save maps as ``<dir>/<wnid>/<image_id>.pt`` (nested, ReLabel's layout) or ``<dir>/<id>.pt``."""
    import torch

    for image_id, m in maps.items():
        wnid = image_id.split("_")[0]
        p = directory / wnid / f"{image_id}.pt" if nested else directory / f"{image_id}.pt"
        p.parent.mkdir(parents=True, exist_ok=True)
        torch.save(m, p)
    return directory


# ----------------------------------------------------------------------------- COCO
def write_coco(path: Path, images: Sequence[dict], annotations: Sequence[dict],
               categories: Sequence[dict] | None = None) -> Path:
    """A COCO instances JSON (``info``, ``licenses``, ``images``, ``annotations``, ``categories``)."""
    categories = categories if categories is not None else [
        {"supercategory": "person", "id": 1, "name": "person"},
        {"supercategory": "vehicle", "id": 3, "name": "car"},
        {"supercategory": "animal", "id": 17, "name": "cat"}]
    anns = []
    for k, a in enumerate(annotations, 1):
        x, y, w, h = a["bbox"]
        anns.append({"segmentation": [[x, y, x + w, y, x + w, y + h]], "area": w * h,
                     "iscrowd": a.get("iscrowd", 0), "image_id": a["image_id"], "bbox": list(a["bbox"]),
                     "category_id": a["category_id"], "id": a.get("id", k)})
    data = {"info": {"description": "fixture", "version": "1.0", "year": 2017},
            "licenses": [{"url": "http://creativecommons.org/licenses/by/2.0/", "id": 4,
                          "name": "Attribution License"}],
            "images": [{"license": 4, "file_name": f"{im['id']:012d}.jpg", "coco_url": "",
                        "height": im["height"], "width": im["width"], "date_captured": "",
                        "flickr_url": "", "id": im["id"]} for im in images],
            "annotations": anns, "categories": list(categories)}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


# ----------------------------------------------------------------------------- VOC
def write_voc(root: Path, labels: dict[str, dict[str, int]], split: str = "trainval",
              boxes: dict[str, list] | None = None, size=(500, 375)) -> Path:
    """A VOC2007-style folder: ``ImageSets/Main/<class>_<split>.txt`` lines ``<id> <1|-1|0>``
    (VOC pads the value to two characters), ``<split>.txt``, and optionally ``Annotations/<id>.xml``
    with ``boxes[id] = [(class, xmin, ymin, xmax, ymax, difficult), ...]`` in 1-based pixels.
    """
    main = root / "ImageSets" / "Main"
    main.mkdir(parents=True, exist_ok=True)
    ids = list(labels)
    classes = sorted({c for v in labels.values() for c in v})
    (main / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids))
    for c in classes:
        (main / f"{c}_{split}.txt").write_text(
            "".join(f"{i} {labels[i].get(c, -1):2d}\n" for i in ids))
    if boxes:
        ann = root / "Annotations"
        ann.mkdir(exist_ok=True)
        W, H = size
        for i, objs in boxes.items():
            xml = [f"<annotation><folder>VOC2007</folder><filename>{i}.jpg</filename>",
                   f"<size><width>{W}</width><height>{H}</height><depth>3</depth></size>"]
            for c, x0, y0, x1, y1, d in objs:
                xml.append(f"<object><name>{c}</name><pose>Unspecified</pose><truncated>0</truncated>"
                           f"<difficult>{d}</difficult><bndbox><xmin>{x0}</xmin><ymin>{y0}</ymin>"
                           f"<xmax>{x1}</xmax><ymax>{y1}</ymax></bndbox></object>")
            xml.append("</annotation>")
            (ann / f"{i}.xml").write_text("\n".join(xml))
    return root


def write_lines(path: Path, lines: Iterable[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{ln}\n" for ln in lines), encoding="utf-8")
    return path
