"""COCO instances JSON and PASCAL VOC (devkit lists, XML boxes, wide CSV), on fixtures and real data."""
from __future__ import annotations

import json

import numpy as np
import pytest

from nbkit.cooccurrence import from_labelindex
from nbkit.datasets import load_cooccurrence, load_dataset
from nbkit.datasets.coco import load_coco
from nbkit.datasets.voc import _VOC_CLASSES, load_voc
from nbkit.errors import DataError, MissingDataError

from fixtures_formats import write_coco, write_lines, write_voc

IMAGES = [{"id": 9, "width": 640, "height": 480}, {"id": 25, "width": 200, "height": 100},
          {"id": 30, "width": 100, "height": 100}]
ANNS = [{"image_id": 9, "category_id": 17, "bbox": [64, 48, 320, 240]},
        {"image_id": 9, "category_id": 1, "bbox": [0, 0, 640, 480]},
        {"image_id": 25, "category_id": 3, "bbox": [100, 50, 150, 80], "iscrowd": 1}]


# ----------------------------------------------------------------------------- COCO
def test_coco_fixture(tmp_path):
    p = write_coco(tmp_path / "annotations" / "instances_val2017.json", IMAGES, ANNS)
    (tmp_path / "val2017").mkdir()
    (tmp_path / "val2017" / "000000000009.jpg").write_bytes(b"")
    li = load_coco(p)
    assert list(li.class_labels) == ["person", "car", "cat"]     # category-id order 1, 3, 17
    assert list(li.image_ids) == ["9", "25", "30"] and set(li.splits) == {"val"}
    assert li.Y.toarray().astype(int).tolist() == [[1, 0, 1], [0, 1, 0], [0, 0, 0]]
    np.testing.assert_allclose(li.boxes_of(0, 2), [[0.1, 0.1, 0.6, 0.6]])
    np.testing.assert_allclose(li.boxes_of(1), [[0.5, 0.5, 1.0, 1.0]])   # clipped to the image
    assert li.resolve(0) == tmp_path / "val2017" / "000000000009.jpg"
    assert li.meta["category_ids"] == [1, 3, 17]
    nocrowd = load_coco(p, include_crowd=False)
    assert nocrowd.Y[1].nnz == 0 and len(nocrowd.boxes) == 2


def test_coco_two_files(tmp_path):
    a = write_coco(tmp_path / "instances_train2017.json", IMAGES[:2], ANNS)
    b = write_coco(tmp_path / "instances_val2017.json", [{"id": 77, "width": 10, "height": 10}],
                   [{"image_id": 77, "category_id": 1, "bbox": [0, 0, 5, 5]}])
    li = load_coco([a, b])
    assert list(li.splits) == ["train", "train", "val"] and li.n_images == 3
    assert li.boxes["image"].max() == 2
    co = from_labelindex(li, split="val")
    assert co.class_counts.tolist() == [1, 0, 0]


def test_coco_bad_input(tmp_path):
    with pytest.raises(MissingDataError, match="COCO instances JSON not found"):
        load_dataset(f"coco:{tmp_path / 'none.json'}")
    p = tmp_path / "broken.json"
    p.write_text('{"images": [')
    with pytest.raises(DataError, match=r"broken\.json: not valid JSON at line 1"):
        load_coco(p)
    p.write_text(json.dumps({"images": [], "annotations": []}))
    with pytest.raises(DataError, match=r"broken\.json: missing key 'categories'"):
        load_coco(p)
    p = write_coco(tmp_path / "cat.json", IMAGES, ANNS + [{"image_id": 9, "category_id": 99,
                                                            "bbox": [0, 0, 1, 1]}])
    with pytest.raises(DataError, match=r"cat\.json: an annotation has category_id 99"):
        load_coco(p)
    p = write_coco(tmp_path / "img.json", IMAGES, ANNS + [{"image_id": 5, "category_id": 1,
                                                            "bbox": [0, 0, 1, 1]}])
    with pytest.raises(DataError, match=r"img\.json: an annotation refers to image id 5"):
        load_coco(p)
    p = write_coco(tmp_path / "dup.json", IMAGES + IMAGES[:1], ANNS)
    with pytest.raises(DataError, match=r"dup\.json: 1 duplicate image ids, e\.g\. \[9\]"):
        load_coco(p)
    p = write_coco(tmp_path / "empty.json", [], [])
    with pytest.raises(DataError, match=r"empty\.json: no images"):
        load_coco(p)


def test_coco128_real(realdata):
    p = realdata / "coco128" / "instances_train2017_coco128.json"
    li = load_dataset(f"coco:{p}")
    assert li.n_images == 128 and len(li.boxes) == 939 and li.n_classes == 80
    assert li.class_labels[0] == "person"
    b = li.boxes[["x0", "y0", "x1", "y1"]].to_numpy()
    assert (b >= 0).all() and (b <= 1).all() and (b[:, 2] >= b[:, 0]).all()
    # box counts per image agree with the derived per-image table (crowd boxes excluded there)
    import pandas as pd
    tab = pd.read_csv(realdata / "coco128" / "coco128_image_labels.csv")
    tab = tab[tab["split"] == "train2017"]
    nocrowd = load_coco(p, include_crowd=False)
    per = nocrowd.boxes.groupby("image").size()
    files = pd.Series(nocrowd.image_paths).iloc[per.index]
    assert dict(zip(files, per)) == {f: n for f, n in zip(tab["file_name"], tab["num_boxes"]) if n}
    assert li.resolve(0).exists()                      # image folder found beside the JSON


# ----------------------------------------------------------------------------- VOC
def test_voc_real_trainval_matches_mlgcn(realdata):
    li = load_dataset(f"voc:{realdata / 'voc2007_labels' / 'voc2007_trainval_labels.csv'}")
    assert li.n_images == 5011 and li.n_classes == 20 and tuple(li.class_labels) == _VOC_CLASSES
    assert li.image_ids[0] == "000005"                  # leading zeros kept
    co = from_labelindex(li)
    z = np.load(realdata / "cooccurrence_mlgcn" / "voc_adj.npz")
    np.testing.assert_array_equal(co.pairs, z["adj"])   # positives only, difficult excluded
    np.testing.assert_array_equal(co.class_counts, z["nums"])
    assert int((np.triu(co.pairs, 1) > 0).sum()) == 102
    both = load_voc(realdata / "voc2007_labels", split="all")
    assert both.n_images == 9963 and (both.splits == "test").sum() == 4952
    test = load_cooccurrence(f"voc:{realdata / 'voc2007_labels'}", split="test")
    assert test.n_images == 4952
    diff = load_voc(realdata / "voc2007_labels", include_difficult=True)
    assert diff.Y.nnz > li.Y.nnz


def test_voc_devkit_lists_and_boxes(tmp_path):
    labels = {"000005": {"chair": 1, "person": 0}, "000007": {"car": 1},
              "000009": {"person": 1, "car": -1, "chair": -1}}
    boxes = {"000005": [("chair", 1, 1, 250, 375, 0), ("person", 10, 10, 20, 20, 1)],
             "000009": [("person", 101, 76, 500, 375, 0)]}
    root = write_voc(tmp_path / "VOCdevkit" / "VOC2007", labels, boxes=boxes)
    (root / "JPEGImages").mkdir()
    li = load_dataset(f"voc:{tmp_path / 'VOCdevkit'}")
    assert list(li.class_labels) == ["car", "chair", "person"]
    assert list(li.image_ids) == ["000005", "000007", "000009"]
    assert li.Y.toarray().astype(int).tolist() == [[0, 1, 0], [1, 0, 0], [0, 0, 1]]
    assert li.image_root == root / "JPEGImages" and li.name == "voc2007"
    np.testing.assert_allclose(li.boxes_of(0), [[0, 0, 0.5, 1.0]])
    np.testing.assert_allclose(li.boxes_of(2), [[0.2, 0.2, 1.0, 1.0]])
    diff = load_voc(root, include_difficult=True)
    assert diff.Y[0].indices.tolist() == [1, 2] and len(diff.boxes_of(0)) == 2
    co = load_cooccurrence(f"voc:{root}")
    assert co.M.tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]


def test_voc_bad_input(tmp_path):
    with pytest.raises(MissingDataError, match="VOC dataset .* not found"):
        load_voc(tmp_path / "absent")
    root = write_voc(tmp_path / "a", {"1": {"cat": 1}, "2": {"dog": 1}})
    with pytest.raises(MissingDataError, match=r"no '<class>_test\.txt' lists"):
        load_voc(root, split="test")
    write_lines(root / "ImageSets" / "Main" / "dog_trainval.txt", ["1 -1", "3  1"])
    with pytest.raises(DataError, match=r"dog_trainval\.txt: lists different images"):
        load_voc(root)
    write_lines(root / "ImageSets" / "Main" / "dog_trainval.txt", ["1 -1", "2 yes"])
    with pytest.raises(DataError, match=r"dog_trainval\.txt: line 2: '2 yes'"):
        load_voc(root)
    p = write_lines(tmp_path / "v.csv", ["image_id,cat,dog", "000001,1,2"])
    with pytest.raises(DataError, match=r"v\.csv: column 'dog', row 2 \(image '000001'\) holds '2'"):
        load_voc(p)
    p = write_lines(tmp_path / "d.csv", ["image_id,cat", "000001,1", "000001,-1"])
    with pytest.raises(DataError, match=r"d\.csv: 1 duplicate image ids"):
        load_voc(p)
    p = write_lines(tmp_path / "e.csv", ["image_id,cat"])
    with pytest.raises(DataError, match=r"e\.csv: no rows"):
        load_voc(p)
