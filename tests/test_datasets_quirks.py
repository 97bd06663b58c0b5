"""Ordinary quirks of real files that used to give silently wrong answers or bare tracebacks (#11 §2-§3).

Each test writes the quirk in the exact upstream format and checks the new behaviour: the right
answer, or a ``DataError`` naming the file, the row / field and what was expected.
"""
from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
import torch

from nbkit.cooccurrence import Cooccurrence
from nbkit.datasets import load_dataset
from nbkit.datasets.coco import load_coco
from nbkit.datasets.counts import load_counts
from nbkit.datasets.openimages import load_openimages
from nbkit.datasets.relabel import load_relabel
from nbkit.datasets.tables import load_long_csv, load_wide_csv
from nbkit.datasets.voc import load_voc
from nbkit.errors import DataError
from nbkit.labelindex import LabelIndex
from nbkit.labelmaps import load_map

from fixtures_formats import (OI, oi_bbox_line, relabel_map, write_coco,
                              write_lines, write_openimages, write_relabel, write_voc)


# ----------------------------------------------------------------------------- escaping paths
def _coco_images(file_name):
    return [{"id": 1, "width": 640, "height": 480}, {"id": 2, "width": 640, "height": 480}]


def _coco(path, file_name):
    """A COCO JSON whose second image has ``file_name``."""
    p = write_coco(path, _coco_images(file_name),
                   [{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}])
    data = json.loads(p.read_text())
    data["images"][1]["file_name"] = file_name
    p.write_text(json.dumps(data))
    return p


@pytest.mark.parametrize("bad", ["../../etc/passwd", "/etc/passwd", "train/../../x.jpg",
                                 "..\\..\\x.jpg", "C:/x.jpg"])
def test_coco_file_name_outside_the_image_folder_is_refused(tmp_path, bad):
    p = _coco(tmp_path / "instances_val2017.json", bad)
    with pytest.raises(DataError) as e:
        load_coco(p)
    msg = str(e.value)
    assert str(p) in msg and "images[1] (id 2)" in msg and "file_name" in msg and repr(bad) in msg
    ok = _coco(tmp_path / "ok" / "instances_val2017.json", "sub/a..b.jpg")  # dots inside a name
    assert load_coco(ok).image_paths[1] == "sub/a..b.jpg"


def test_long_and_wide_csv_file_column_outside_the_folder_is_refused(tmp_path):
    p = write_lines(tmp_path / "long.csv", ["image_id,label,file", "a,cat,a.jpg", "b,dog,b.jpg",
                                            "b,cat,b.jpg", "c,cat,../../c.jpg"])
    with pytest.raises(DataError, match=r"long\.csv: row 5: column 'file' '\.\./\.\./c\.jpg' leaves"):
        load_long_csv(p)
    p = write_lines(tmp_path / "wide.csv", ["image_id,cat,file", "a,1,a.jpg", "b,0,/abs/b.jpg"])
    with pytest.raises(DataError, match=r"wide\.csv: row 3: column 'file' '/abs/b\.jpg' leaves"):
        load_wide_csv(p)


def test_voc_and_open_images_ids_outside_the_folder_are_refused(tmp_path):
    root = write_voc(tmp_path / "VOC2007", {"000005": {"cat": 1}, "../../000007": {"cat": -1}})
    with pytest.raises(DataError) as e:
        load_voc(root)
    assert "line 2" in str(e.value) and "'../../000007'" in str(e.value)
    oi = write_openimages(tmp_path / "oi")
    csv = oi / "test-annotations-bbox.csv"
    with open(csv, "a", encoding="utf-8") as fh:
        fh.write(oi_bbox_line("../../../tmp/evil", OI["Cat"], (0.1, 0.2, 0.1, 0.2)) + "\n")
    with pytest.raises(DataError) as e:
        load_openimages(oi, cache=False, progress=False)
    assert str(csv) in str(e.value) and "ImageID '../../../tmp/evil'" in str(e.value)


def test_a_cached_label_index_with_escaping_paths_is_refused(tmp_path):
    """A planted cache cannot point images outside their folder either (the same one check)."""
    li = LabelIndex("x", ["a"], ["a"], ["i0", "i1"], ["train"] * 2, np.ones((2, 1), bool),
                    image_root=tmp_path, image_paths=["i0.jpg", "i1.jpg"])
    path = li.save(tmp_path / "x.npz")
    z = dict(np.load(path))
    z["image_paths"] = np.array(["i0.jpg", "../../../etc/passwd"])
    np.savez(path, **z)
    with pytest.raises(DataError, match=r"row 1 \(image 'i1'\): image path '\.\./\.\./\.\./etc"):
        LabelIndex.load(path)


# ----------------------------------------------------------------------------- spec options
def test_list_option_in_a_spec_is_split_on_commas_not_into_characters(tmp_path):
    d = write_relabel(tmp_path / "maps", {"img_0": relabel_map({(7, 7): 1}, background=4)},
                      nested=False)
    li = load_dataset(f"relabel:{d}?classes=a,b,c,d,e", progress=False, cache=False)
    assert li.class_labels.tolist() == ["a", "b", "c", "d", "e"] and li.Y[0].indices.tolist() == [1]
    voc = write_voc(tmp_path / "VOC2007", {"000005": {"cat": 1, "dog": -1}}, split="train")
    write_voc(voc, {"000009": {"cat": -1, "dog": 1}}, split="val")
    assert load_dataset(f"voc:{voc}?split=train").n_images == 1          # a plain string stays one
    both = load_dataset(f"voc:{voc}?split=train,val&classes=dog")
    assert sorted(set(both.splits)) == ["train", "val"] and both.class_labels.tolist() == ["dog"]
    wide = write_lines(tmp_path / "w.csv", ["image_id,cat", "a,1", "b,-1"])
    assert load_dataset(f"widecsv:{wide}?negative_values=0,-1").class_counts().tolist() == [1]
    with pytest.raises(DataError, match="empty item"):
        load_dataset(f"relabel:{d}?classes=a,,b")


# ----------------------------------------------------------------------------- CSV and list quirks
@pytest.mark.parametrize("bom,eol", [(True, "\n"), (True, "\r\n")])
def test_voc_lists_with_bom_or_crlf_keep_clean_ids(tmp_path, bom, eol):
    root = write_voc(tmp_path / "VOC2007", {"000005": {"cat": 1, "dog": -1},
                                            "000007": {"cat": -1, "dog": 1}})
    for f in (root / "ImageSets" / "Main").glob("*.txt"):
        text = f.read_text().replace("\n", eol)
        f.write_bytes(("\ufeff" if bom else "").encode("utf-8") + text.encode("utf-8"))
    li = load_voc(root)
    assert li.image_ids.tolist() == ["000005", "000007"]
    assert li.Y.toarray().astype(int).tolist() == [[1, 0], [0, 1]]


def test_repeated_csv_header_is_an_error_not_a_class_cat_1(tmp_path):
    p = write_lines(tmp_path / "wide.csv", ["image_id,cat,dog,cat", "a,1,0,1"])
    with pytest.raises(DataError, match=r"wide\.csv: header repeats column\(s\) \['cat'\]"):
        load_wide_csv(p)
    p = write_lines(tmp_path / "long.csv", ["image_id,label,label", "a,cat,dog"])
    with pytest.raises(DataError, match=r"long\.csv: header repeats column\(s\) \['label'\]"):
        load_long_csv(p)


def test_wide_csv_class_called_file_stays_a_class(tmp_path):
    p = write_lines(tmp_path / "wide.csv", ["image_id,cat,file", "a,1,1", "b,0,1"])
    li = load_wide_csv(p)
    assert li.class_labels.tolist() == ["cat", "file"] and li.class_counts().tolist() == [1, 2]
    assert li.image_paths is None
    p = write_lines(tmp_path / "wide2.csv", ["image_id,cat,file", "a,1,a.jpg", "b,0,b.jpg"])
    li = load_wide_csv(p)                                  # a real path column is still one
    assert li.class_labels.tolist() == ["cat"] and li.image_paths.tolist() == ["a.jpg", "b.jpg"]


def test_shared_class_names_are_kept_apart_with_a_warning_naming_them(tmp_path):
    d = write_relabel(tmp_path / "maps", {"n01440764_1": relabel_map({(7, 7): 134})})
    with pytest.warns(UserWarning) as rec:
        li = load_relabel(d, progress=False, cache=False)
    msg = " ".join(str(w.message) for w in rec)
    assert "'crane': id 134 = 'n02012849', id 517 = 'n03126707'" in msg
    assert "'maillot': id 638 = 'n03710637', id 639 = 'n03710721'" in msg
    assert li.display(134) == "crane (n02012849)" and li.display(517) == "crane (n03126707)"
    with warnings.catch_warnings():
        warnings.simplefilter("error")                     # unique names: no warning
        LabelIndex("x", ["a", "b"], ["A", "B"], ["i"], ["train"], np.ones((1, 2), bool))


# ----------------------------------------------------------------------------- non-real and infinite values
@pytest.mark.parametrize("dtype", [torch.complex64, torch.bool])
def test_non_real_relabel_tensor_is_refused(tmp_path, dtype):
    p = tmp_path / "n01440764_1.pt"
    torch.save(relabel_map({(7, 7): 0}).to(dtype), p)
    with pytest.raises(DataError, match=rf"n01440764_1\.pt: label map has dtype {dtype}"):
        load_map(p)
    np_map = relabel_map({(7, 7): 0}).numpy().astype(np.complex64)
    q = tmp_path / "np.pt"
    torch.save(torch.from_numpy(np_map), q)
    with pytest.raises(DataError, match="real-valued"):
        load_map(q)


def test_infinite_counts_are_an_error_not_a_huge_negative_count(tmp_path):
    M = np.array([[5.0, np.inf], [np.inf, 3.0]])
    with pytest.raises(DataError, match=r"\+inf count at \[0, 1\]"):
        Cooccurrence(M, ["a", "b"], ["A", "B"])
    p = tmp_path / "inf.npz"
    np.savez(p, M=M)
    with pytest.raises(DataError, match=r"inf\.npz: array 'M' has \+inf at \[0, 1\]"):
        load_counts(p)


# ----------------------------------------------------------------------------- no bare tracebacks
@pytest.mark.parametrize("n", [1, 4])
def test_coco_bbox_with_three_numbers(tmp_path, n):
    anns = [{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]}] * 2 + \
           [{"image_id": 1, "category_id": 1, "bbox": [1, 2, 3]}] * n
    p = write_coco(tmp_path / "instances_val2017.json", _coco_images("b.jpg"), [])
    data = json.loads(p.read_text())
    data["annotations"] = [dict(a, id=k + 1, iscrowd=0, area=1) for k, a in enumerate(anns)]
    p.write_text(json.dumps(data))
    with pytest.raises(DataError) as e:
        load_coco(p)
    assert str(p) in str(e.value) and "annotations[2] (id 3, image 1) has bbox [1, 2, 3]" in str(e.value)
    assert "4 numbers" in str(e.value)


@pytest.mark.parametrize("size", [(0, 375), (500, 0), (-1, 375)])
def test_voc_xml_with_zero_width(tmp_path, size):
    root = write_voc(tmp_path / "VOC2007", {"000005": {"cat": 1}},
                     boxes={"000005": [("cat", 1, 1, 10, 10, 0)]}, size=size)
    with pytest.raises(DataError) as e:
        load_voc(root)
    assert "000005.xml" in str(e.value) and "<size>" in str(e.value) and "positive" in str(e.value)


def test_relabel_empty_or_label_less_classes_csv_names_the_file(tmp_path):
    d = write_relabel(tmp_path / "maps", {"img_0": relabel_map({(7, 7): 1}, background=4)},
                      nested=False)
    (d / "classes.csv").write_text("")
    with pytest.raises(DataError, match=r"classes\.csv: file is empty"):
        load_relabel(d, progress=False, cache=False)
    (d / "classes.csv").write_text("id,label,name\n")
    with pytest.raises(DataError, match=r"classes\.csv: class table has no rows"):
        load_relabel(d, progress=False, cache=False)
    pd.DataFrame({"id": range(5), "name": list("abcde")}).to_csv(d / "classes.csv", index=False)
    with pytest.raises(DataError, match=r"classes\.csv: class table lacks a 'label'"):
        load_relabel(d, progress=False, cache=False)

