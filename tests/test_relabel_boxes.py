"""ReLabel maps locate their classes: boxes from the map cells, so ImageNet triggers can be audited."""
from __future__ import annotations

import numpy as np
import pytest

from nbkit import labelmaps
from nbkit.datasets import load_dataset

from fixtures_formats import relabel_map, write_relabel


def test_class_boxes_are_the_cells_that_decode_each_class():
    conf = {(i, j): 7 for i in range(2, 5) for j in range(3, 9)}        # class 7: rows 2-4, cols 3-8
    conf.update({(10, 10): 42, (12, 11): 42})                           # class 42: two cells
    conf[(0, 0)] = 5                                                     # a corner: never counts
    m = relabel_map(conf)
    b = labelmaps.class_boxes(m)
    assert b[["image", "class"]].values.tolist() == [[0, 7], [0, 42]]
    got = (b[["x0", "y0", "x1", "y1"]] * 15).round().astype(int).values.tolist()
    assert got == [[3, 2, 9, 5], [10, 10, 12, 13]]
    # the pairs are exactly decode's, whatever the options
    for kw in (dict(), dict(exclude_corners=False), dict(threshold=0.999999), dict(comparison=">")):
        dec = labelmaps.decode(m, **{k: v for k, v in kw.items()})
        bb = labelmaps.class_boxes(m, **kw)
        assert sorted(map(tuple, bb[["image", "class"]].values.tolist())) == \
            [(0, int(c)) for c in np.flatnonzero(dec[0])], kw
    assert 5 in labelmaps.class_boxes(m, exclude_corners=False)["class"].tolist()
    # top-2: a class listed second with a high logit counts there
    m2 = relabel_map({}, second={(7, 7): 3})
    assert labelmaps.class_boxes(m2).empty and labelmaps.class_boxes(m2, topk=2)["class"].tolist() == [3]


def test_load_relabel_gives_imagenet_images_boxes(tmp_path):
    maps = {"n01440764_1": relabel_map({(i, j): 0 for i in range(1, 6) for j in range(1, 6)}),
            "n01443537_2": relabel_map({(8, 9): 1, (9, 9): 1, (3, 3): 0})}
    li = load_dataset(f"relabel:{write_relabel(tmp_path / 'maps', maps)}")
    assert li.boxes is not None and len(li.boxes) == li.Y.nnz == 3
    r = list(li.image_ids).index("n01443537_2")
    assert (li.boxes_of(r, 1) * 15).round().tolist() == [[9, 8, 10, 10]]
    assert (li.boxes_of(r, 0) * 15).round().tolist() == [[3, 3, 4, 4]]
    # the boxes survive the cache
    again = load_dataset(f"relabel:{tmp_path / 'maps'}")
    assert again.boxes[["image", "class"]].values.tolist() == li.boxes[["image", "class"]].values.tolist()
    assert np.allclose(again.boxes[["x0", "y0", "x1", "y1"]], li.boxes[["x0", "y0", "x1", "y1"]])


def test_class_boxes_checks_its_options():
    with pytest.raises(ValueError, match="comparison"):
        labelmaps.class_boxes(relabel_map({}), comparison="=>")
