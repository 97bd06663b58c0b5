"""Class-level counts from ../shared/realdata built by hand (numpy only, no nbkit adapter), so the
graph and centrality tests compare nbkit against references that do not share its reading code."""
from __future__ import annotations

import json

import numpy as np

from nbkit.cooccurrence import Cooccurrence


def coco_counts(realdata):
    """ML-GCN's COCO train2014 counts: ``adj`` (zero diagonal) with ``nums`` on the diagonal."""
    z = np.load(realdata / "cooccurrence_mlgcn" / "coco_adj.npz")
    names = json.loads((realdata / "cooccurrence_mlgcn" / "coco_classes_mlgcn_order.json").read_text())
    M = z["adj"].copy()
    np.fill_diagonal(M, z["nums"])
    return Cooccurrence(M, names, names, name="coco2014", n_images=82081)


def openimages_counts(realdata):
    """The authors' Open Images train matrix; the row maximum stands in for the unknown per-class
    counts (a lower bound)."""
    z = np.load(realdata / "naturalbackdoors_reference" / "openimages_bbox_cooccurrence.npz")
    M = z["train"].copy()
    np.fill_diagonal(M, M.max(axis=1))
    return Cooccurrence(M, z["labels"], z["names"], name="openimages",
                        counts_exact=np.zeros(len(M), bool))


def paper_tables_6_7_openimages(realdata) -> dict:
    """The paper's Open Images rows of Tables 6-7 (variant -> names), read by hand from
    ``../shared/paper/paper_values.csv`` beside ``realdata``; skips when the file is absent."""
    import csv

    import pytest

    path = realdata.parent / "paper" / "paper_values.csv"
    if not path.is_file():
        pytest.skip(f"{path} is absent (the paper's transcribed values)")
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f)
                if r["table"] in ("Table 6", "Table 7") and r["row"] == "Open Images"]
    return {r["column"]: [x.strip() for x in r["value"].split(";")] for r in rows}
