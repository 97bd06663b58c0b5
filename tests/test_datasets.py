"""Dataset specs, class-level counts (incl. the embedded authors' Open Images matrix) and CSV tables."""
from __future__ import annotations

import json

import numpy as np
import pytest

from nbkit.cooccurrence import Cooccurrence
from nbkit.datasets import load_cooccurrence, load_dataset, _parse_spec
from nbkit.datasets.counts import load_counts, load_openimages_counts
from nbkit.datasets.tables import load_long_csv, load_wide_csv
from nbkit.errors import DataError, MissingDataError
from nbkit.labelindex import LabelIndex

from fixtures_formats import write_lines


# ----------------------------------------------------------------------------- specs
def test_unknown_spec_lists_valid_specs():
    with pytest.raises(DataError) as e:
        load_dataset("imagenet21k:/x")
    msg = str(e.value)
    assert "unknown dataset 'imagenet21k:/x'" in msg
    for spec in ("toyscenes", "voc:", "coco:", "openimages:", "relabel:", "counts:",
                 "openimages-counts", "longcsv:", "widecsv:"):
        assert spec in msg


def test_spec_needs_path_and_parses():
    with pytest.raises(DataError, match="needs a path"):
        load_dataset("voc")
    with pytest.raises(DataError, match="takes no argument"):
        _parse_spec("openimages-counts:x")
    assert _parse_spec(" COCO:/a/b.json ") == ("coco", "/a/b.json")
    with pytest.raises(DataError, match="seed 'x' is not an integer"):
        load_dataset("toyscenes:x")


def test_missing_file_names_the_file(tmp_path):
    p = tmp_path / "nope.csv"
    with pytest.raises(MissingDataError) as e:
        load_dataset(f"longcsv:{p}")
    assert str(p) in str(e.value) and "not found" in str(e.value)


def test_relative_spec_path_resolved_under_data_root(tmp_path, monkeypatch):
    write_lines(tmp_path / "mine" / "l.csv", ["image_id,label", "a,x"])
    monkeypatch.setenv("NBKIT_DATA_ROOT", str(tmp_path))
    monkeypatch.chdir(tmp_path.parent)
    li = load_dataset("longcsv:mine/l.csv")
    assert li.n_images == 1


def test_toyscenes_spec_is_lazy_and_seeded():
    pytest.importorskip("nbkit.datasets.toyscenes")
    li = load_dataset("toyscenes:3", n_images=40, image_size=32)
    assert isinstance(li, LabelIndex) and li.n_images == 40


# ----------------------------------------------------------------------------- embedded authors' matrix
def test_openimages_counts_embedded_matrix():
    co = load_dataset("openimages-counts")
    assert isinstance(co, Cooccurrence) and co.n_classes == 486
    P = co.pairs
    assert int((np.triu(P, 1) > 0).sum()) == 19303           # README 6.1
    assert int(np.triu(P, 1).sum()) == 3_097_225
    assert int((np.triu(P, 1) >= 10).sum()) == 5377
    assert co.class_labels[0] == "/m/011k07" and co.class_names[0] == "Tortoise"
    assert [co.class_names[i] for i in (80, 328, 416, 459)] == ["Chair", "Wheel", "Jeans", "Glasses"]
    man, face = co.class_id("Man"), co.class_id("Human face")
    assert co.M[man, face] == 172_923
    # per-class counts: exact for Cat and Cat furniture only, lower bounds elsewhere
    assert int(co.counts_exact.sum()) == 2
    cat = co.class_id("Cat")
    assert co.counts_exact[cat] and co.class_counts[cat] == 12861
    assert co.class_counts[co.class_id("Cat furniture")] == 185
    assert (co.class_counts >= P.max(axis=1)).all()
    assert "exact for 2 classes" in co.meta["note"] and "lower bounds" in co.meta["note"]


def test_openimages_counts_test_split_and_load_cooccurrence():
    co = load_cooccurrence("openimages-counts", split="test")
    assert co.n_classes == 486 and not co.counts_exact.any()
    assert int((np.triu(co.pairs, 1) > 0).sum()) == 8476
    hair, head = co.class_id("Human hair"), co.class_id("Human head")
    assert co.M[hair, head] == 8000
    assert "lower bound" in co.meta["note"]
    with pytest.raises(DataError, match="unknown split 'val'"):
        load_openimages_counts("val")


# ----------------------------------------------------------------------------- class-level counts
def test_mlgcn_counts_real(realdata):
    d = realdata / "cooccurrence_mlgcn"
    voc = load_dataset(f"counts:{d / 'voc_adj.npz'}")
    z = np.load(d / "voc_adj.npz")
    assert voc.n_classes == 20 and (voc.pairs == z["adj"]).all()
    assert (voc.class_counts == z["nums"]).all() and voc.counts_exact.all()
    assert list(voc.class_names) == json.loads((d / "voc_classes.json").read_text())
    coco = load_counts(d / "coco_adj.npz", n_images=82081)
    assert coco.class_names[49] == "person" and coco.class_counts[49] == 45174
    assert int((np.triu(coco.pairs, 1) > 0).sum()) == 2574 and coco.n_images == 82081
    nus = load_counts(d / "nuswide_adj.npz")           # counts on the diagonal, nums = sums + 1
    sky, clouds = nus.class_id("sky"), nus.class_id("clouds")
    assert nus.class_counts[sky] == 61230 and nus.M[sky, clouds] == 37590
    assert nus.meta["nums_ignored"]


def _npz(path, **arrays):
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    return path


def test_counts_bad_input_named(tmp_path):
    M = np.array([[5, 2], [2, 3]])
    p = _npz(tmp_path / "nan.npz", adj=np.array([[0, np.nan], [np.nan, 0]]), nums=np.array([3, 4]))
    with pytest.raises(DataError, match=r"nan\.npz: array 'adj' has NaN at \[0, 1\]"):
        load_counts(p)
    p = _npz(tmp_path / "neg.npz", M=np.array([[5, -2], [-2, 3]]))
    with pytest.raises(DataError, match=r"neg\.npz: array 'M' has a negative count -2"):
        load_counts(p)
    p = _npz(tmp_path / "asym.npz", M=np.array([[5, 2], [1, 3]]))
    with pytest.raises(DataError, match=r"asym\.npz: co-occurrence matrix is not symmetric"):
        load_counts(p)
    p = _npz(tmp_path / "none.npz", foo=M)
    with pytest.raises(DataError, match=r"none\.npz: no co-occurrence matrix among arrays \['foo'\]"):
        load_counts(p)
    p = _npz(tmp_path / "short.npz", adj=M - np.diag(np.diag(M)), nums=np.array([1, 2, 3]))
    with pytest.raises(DataError, match="'nums' has 3 entries for a 2-class 'adj'"):
        load_counts(p)
    p = _npz(tmp_path / "small.npz", M=np.array([[1, 2], [2, 3]]))
    with pytest.raises(DataError, match="class 0 has 1 images but co-occurs"):
        load_counts(p)
    p = _npz(tmp_path / "authors.npz", train=np.zeros((2, 2), int), labels=np.array(["a", "b"]))
    with pytest.raises(DataError, match="no matrix for split 'test'"):
        load_counts(p, split="test")
    (tmp_path / "pickled.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="pickled.npz"):
        load_counts(tmp_path / "pickled.npz")


def test_counts_generic_and_authors_conventions(tmp_path):
    p = _npz(tmp_path / "g.npz", M=np.array([[0, 2], [2, 0]]), counts=np.array([4, 3]),
             names=np.array(["cat", "dog"]), n_images=np.array(9))
    co = load_counts(p)
    assert co.class_counts.tolist() == [4, 3] and co.n_images == 9 and co.counts_exact.all()
    p = _npz(tmp_path / "a.npz", train=np.array([[0, 7], [7, 0]]), test=np.array([[0, 1], [1, 0]]),
             labels=np.array(["/m/a", "/m/b"]), names=np.array(["A", "B"]))
    tr = load_dataset(f"counts:{p}")
    assert tr.class_counts.tolist() == [7, 7] and not tr.counts_exact.any()
    assert list(tr.class_labels) == ["/m/a", "/m/b"] and list(tr.class_names) == ["A", "B"]
    te = load_cooccurrence(f"counts:{p}", split="test")
    assert te.M[0, 1] == 1
    names = write_lines(tmp_path / "names.txt", ["x", "y"])
    assert list(load_counts(p, names=names).class_names) == ["x", "y"]
    with pytest.raises(DataError, match="3 class names for a 2-class matrix"):
        load_counts(p, names=["a", "b", "c"])


# ----------------------------------------------------------------------------- long / wide CSV
def test_long_csv_with_boxes_and_splits(tmp_path):
    p = write_lines(tmp_path / "long.csv", [
        "image_id,label,x0,y0,x1,y1,split",
        "007,cat,0.1,0.1,0.5,0.5,train",
        "007,cat,0.6,0.1,0.9,0.5,train",
        "007,sofa,,,,,train",
        "010,sofa,0,0,1,1,test",
        "011,,,,,,test",
    ])
    li = load_dataset(f"longcsv:{p}")
    assert list(li.image_ids) == ["007", "010", "011"]
    assert list(li.class_labels) == ["cat", "sofa"]
    assert li.Y.toarray().astype(int).tolist() == [[1, 1], [0, 1], [0, 0]]
    assert list(li.splits) == ["train", "test", "test"]
    assert len(li.boxes) == 3 and li.boxes_of(0, 0).shape == (2, 4)
    co = load_cooccurrence(f"longcsv:{p}", split="train")
    assert co.M.tolist() == [[1, 1], [1, 1]]


def test_long_csv_errors(tmp_path):
    p = write_lines(tmp_path / "nolabel.csv", ["image_id,class", "1,cat"])
    with pytest.raises(DataError, match=r"nolabel\.csv: missing column\(s\) \['label'\]"):
        load_long_csv(p)
    p = write_lines(tmp_path / "box.csv", ["image_id,label,x0,y0,x1,y1", "1,cat,10,10,200,200"])
    with pytest.raises(DataError, match=r"box\.csv: row 2: box .* is outside \[0, 1\]"):
        load_long_csv(p)
    p = write_lines(tmp_path / "partial.csv", ["image_id,label,x0,y0", "1,cat,0.1,0.1"])
    with pytest.raises(DataError, match=r"box columns \['x1', 'y1'\] missing"):
        load_long_csv(p)
    p = write_lines(tmp_path / "split.csv", ["image_id,label,split", "1,cat,train", "1,dog,test"])
    with pytest.raises(DataError, match="image '1' is listed in several splits"):
        load_long_csv(p)
    p = write_lines(tmp_path / "empty.csv", ["image_id,label"])
    with pytest.raises(DataError, match=r"empty\.csv: no rows"):
        load_long_csv(p)
    (tmp_path / "blank.csv").write_text("")
    with pytest.raises(DataError, match=r"blank\.csv: file is empty"):
        load_long_csv(tmp_path / "blank.csv")


def test_wide_csv(tmp_path):
    p = write_lines(tmp_path / "wide.csv", ["image_id,cat,dog,split", "000005,1,0,train",
                                            "000007,1,1,test", "NA,0,0,train"])
    li = load_dataset(f"widecsv:{p}")
    assert list(li.image_ids) == ["000005", "000007", "NA"]
    assert list(li.class_labels) == ["cat", "dog"] and li.class_counts().tolist() == [2, 1]
    assert list(li.splits) == ["train", "test", "train"]
    p = write_lines(tmp_path / "dup.csv", ["image_id,cat", "1,1", "1,0"])
    with pytest.raises(DataError, match=r"dup\.csv: 1 duplicate image ids, e\.g\. \['1'\]"):
        load_wide_csv(p)
    p = write_lines(tmp_path / "bad.csv", ["image_id,cat,dog", "1,1,0", "2,0,yes"])
    with pytest.raises(DataError, match=r"bad\.csv: column 'dog', row 3 \(image '2'\) holds 'yes'"):
        load_wide_csv(p)
    p = write_lines(tmp_path / "noclass.csv", ["image_id,split", "1,train"])
    with pytest.raises(DataError, match="no class columns"):
        load_wide_csv(p)
    p = write_lines(tmp_path / "noid.csv", ["id,cat", "1,1"])
    with pytest.raises(DataError, match=r"missing column\(s\) \['image_id'\]"):
        load_wide_csv(p)
