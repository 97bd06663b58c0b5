"""Open Images adapter on fixtures in the exact V6 formats, plus the real hierarchy / class lists."""
from __future__ import annotations

import json

import numpy as np
import pytest

from nbkit.datasets import load_dataset, packaged
from nbkit.datasets.openimages import (_boxable_classes, _hierarchy_leaves, load_openimages,
                                       read_class_descriptions, _stream_annotations, _valid_classes)
from nbkit.errors import DataError, MissingDataError
from nbkit.io import cache_dir

from fixtures_formats import (OI, OI_BBOX_HEADER, OI_ROWS, OI_VALID, oi_bbox_line, write_lines,
                              write_oi_descriptions, write_openimages)


def _expected(rows, classes):
    """Image -> set of valid classes, from the fixture rows (validation merged into train)."""
    out = {}
    for split, iid, c, _ in rows:
        if OI[c] in classes:
            out.setdefault(iid, (("train" if split == "validation" else split), set()))[1].add(OI[c])
    return out


@pytest.mark.parametrize("header", [False, True])
def test_openimages_paper_rule_and_header_quirk(tmp_path, header):
    root = write_openimages(tmp_path / "oi", header_descriptions=header)
    li = load_openimages(root, progress=False, cache=False)
    assert list(li.class_labels) == OI_VALID
    assert [li.display(i) for i in range(li.n_classes)] == ["Cat", "Dog", "Human face", "Car"]
    exp = _expected(OI_ROWS, set(OI_VALID))
    assert list(li.image_ids) == list(exp)          # Animal-only image dropped, order kept
    for r, iid in enumerate(li.image_ids):
        split, cls = exp[iid]
        assert li.splits[r] == split
        assert set(li.class_labels[li.Y[r].indices]) == cls
    assert li.meta["class_counts_by_step"] == {"present": 8, "leaves": 6, "leaves_trainable": 5,
                                               "valid": 4}
    # boxes: one per valid row, normalised XMin,YMin,XMax,YMax
    assert len(li.boxes) == sum(OI[c] in OI_VALID for _, _, c, _ in OI_ROWS)
    r = list(li.image_ids).index("000002b66c9c498e")
    np.testing.assert_allclose(li.boxes_of(r, li.class_id("Dog")), [[0.5, 0.1, 0.9, 0.9]])
    # images resolve to <root>/<split>/<ImageID>.jpg (validation images keep their folder)
    v = list(li.image_ids).index("0001eeaf4aed83f9")
    assert li.image_paths[v] == "validation/0001eeaf4aed83f9.jpg" and li.splits[v] == "train"
    (root / "train").mkdir()
    (root / "train" / "000002b66c9c498e.jpg").write_bytes(b"")
    assert li.resolve(r) == root / "train" / "000002b66c9c498e.jpg"


def test_openimages_streaming_chunk_boundaries(tmp_path):
    root = write_openimages(tmp_path / "oi")
    whole = load_openimages(root, progress=False, cache=False, chunksize=10**6)
    for cs in (1, 2, 3, 7):
        li = load_openimages(root, progress=False, cache=False, chunksize=cs)
        assert (li.Y != whole.Y).nnz == 0 and list(li.image_ids) == list(whole.image_ids)
        a = li.boxes.sort_values(["image", "class", "x0"]).to_numpy()
        b = whole.boxes.sort_values(["image", "class", "x0"]).to_numpy()
        np.testing.assert_array_equal(a, b)
    chunks = list(_stream_annotations(root / "oidv6-train-annotations-bbox.csv", chunksize=3,
                                     progress=False))
    assert [len(c["image_codes"]) for c in chunks] == [3, 3, 3, 1]


def test_openimages_options(tmp_path):
    root = write_openimages(tmp_path / "oi", human=True)
    sep = load_openimages(root, merge_validation=False, progress=False, cache=False)
    assert set(sep.splits) == {"train", "validation", "test"}
    allc = load_openimages(root, valid_rule="all", drop_unlabeled=False, boxes=False,
                           progress=False, cache=False)
    assert allc.n_classes == 8 and allc.n_images == 7 and allc.boxes is None
    sub = load_openimages(root, valid_rule="leaves", leaf_rule="subcategory", progress=False,
                          cache=False)
    assert OI["Person"] in sub.class_labels and OI["Hammer"] in sub.class_labels
    assert OI["Wheel"] not in sub.class_labels            # not trainable
    human = load_openimages(root, annotations="human", progress=False, cache=False)
    assert list(human.class_labels) == OI_VALID and human.boxes is None
    base = load_openimages(root, progress=False, cache=False)
    assert (human.Y != base.Y).nnz == 0                  # Confidence-0 rows ignored


def test_openimages_cache(tmp_path):
    root = write_openimages(tmp_path / "oi")
    li = load_openimages(root, progress=False)
    cached = cache_dir() / f"openimages-{li.meta['fingerprint']}.npz"
    assert cached.exists()
    again = load_openimages(root, progress=False)
    assert (again.Y != li.Y).nnz == 0 and list(again.image_paths) == list(li.image_paths)
    assert len(again.boxes) == len(li.boxes)
    # a changed source file gives a new fingerprint
    with open(root / "test-annotations-bbox.csv", "a") as fh:
        fh.write(oi_bbox_line("00009999aaaabbbb", OI["Cat"], (0, 1, 0, 1)) + "\n")
    li3 = load_openimages(root, progress=False)
    assert li3.meta["fingerprint"] != li.meta["fingerprint"] and li3.n_images == li.n_images + 1


def test_openimages_bad_input(tmp_path):
    with pytest.raises(MissingDataError, match="Open Images folder not found"):
        load_openimages(tmp_path / "absent")
    root = write_openimages(tmp_path / "oi")
    (root / "test-annotations-bbox.csv").unlink()
    with pytest.raises(MissingDataError, match=r"no test annotations .*download"):
        load_openimages(root, progress=False, cache=False)
    root = write_openimages(tmp_path / "oi2")
    write_lines(root / "test-annotations-bbox.csv",
                ["ImageID,Source,Label,Confidence,XMin,XMax,YMin,YMax", "a,x,/m/01yrx,1,0,1,0,1"])
    with pytest.raises(DataError, match=r"test-annotations-bbox\.csv: missing column\(s\) \['LabelName'\]"):
        load_openimages(root, progress=False, cache=False)
    root = write_openimages(tmp_path / "oi3")
    write_lines(root / "test-annotations-bbox.csv",
                [OI_BBOX_HEADER, oi_bbox_line("000002b66c9c498e", OI["Cat"], (0, 1, 0, 1))])
    with pytest.raises(DataError, match="image '000002b66c9c498e' is also listed in the train"):
        load_openimages(root, progress=False, cache=False)
    root = write_openimages(tmp_path / "oi4")
    write_lines(root / "test-annotations-bbox.csv",
                [OI_BBOX_HEADER, "000026e7ee790996,xclick,/m/01yrx,1,0.1,oops,0.1,0.2,0,0,0,0,0"])
    with pytest.raises(DataError, match=r"test-annotations-bbox\.csv: cannot parse"):
        load_openimages(root, progress=False, cache=False)
    root = write_openimages(tmp_path / "oi5")
    write_lines(root / "test-annotations-bbox.csv", [OI_BBOX_HEADER])
    with pytest.raises(DataError, match="no class passes valid_rule='paper'"):
        load_openimages(root, progress=False, cache=False)
    bad = write_lines(tmp_path / "desc.csv", ["id,name", "/m/01yrx,Cat"])
    with pytest.raises(DataError, match=r"desc\.csv: first field is 'id'"):
        read_class_descriptions(bad)


def test_descriptions_with_and_without_header(tmp_path):
    a = read_class_descriptions(write_oi_descriptions(tmp_path / "a.csv", header=False))
    b = read_class_descriptions(write_oi_descriptions(tmp_path / "b.csv", header=True))
    assert a == b and a["/m/01yrx"] == "Cat" and a["/m/0z0000"] == "Comma, in a name"
    assert "LabelName" not in a


def test_real_openimages_metadata(realdata):
    meta = realdata / "openimages_meta"
    h = meta / "bbox_labels_600_hierarchy.json"
    assert len(_boxable_classes(h)) == 601
    assert json.loads(h.read_text()) == json.loads(packaged("bbox_labels_600_hierarchy.json").read_text())
    v6 = read_class_descriptions(meta / "oidv6-class-descriptions.csv")       # no header
    boxable = read_class_descriptions(meta / "class-descriptions-boxable_derived.csv")  # header
    assert len(v6) == 19994 and len(boxable) == 601
    assert all(v6[m] == n for m, n in boxable.items())
    trainable = realdata / "naturalbackdoors_reference" / "oidv6-classes-trainable.txt"
    leaf_trainable = _valid_classes(h, trainable)
    assert len(_hierarchy_leaves(h)) == 522 and len(leaf_trainable) == 488
    # the authors' 486 = leaf ∩ trainable minus the two classes absent from one split
    z = np.load(realdata / "naturalbackdoors_reference" / "openimages_bbox_cooccurrence.npz")
    authors = list(z["labels"])
    assert authors == sorted(authors) and set(authors) <= set(leaf_trainable)
    assert sorted(v6[m] for m in set(leaf_trainable) - set(authors)) == ["Hammer", "Ring binder"]
    present = {"train": authors + ["/m/03l9g"], "test": authors + ["/m/04zwwv"]}
    assert _valid_classes(h, trainable, present) == authors


def test_openimages_spec(tmp_path):
    root = write_openimages(tmp_path / "oi")
    li = load_dataset(f"openimages:{root}", progress=False)
    assert li.n_classes == 4


def test_openimages_cache_sees_a_same_size_same_date_edit(tmp_path):
    """A small source file edited in place (same size, old mtime restored) is read again."""
    import os

    root = write_openimages(tmp_path / "oi")
    csv = root / "test-annotations-bbox.csv"
    li = load_openimages(root, progress=False)
    st = csv.stat()
    text = csv.read_text()
    assert OI["Cat"] in text and len(OI["Cat"]) == len(OI["Hammer"])
    csv.write_text(text.replace(OI["Cat"], OI["Hammer"]))    # test images: Cat -> Hammer
    os.utime(csv, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert csv.stat().st_size == st.st_size
    again = load_openimages(root, progress=False)
    assert again.meta["fingerprint"] != li.meta["fingerprint"]
    # Hammer is now in train and test (a valid class), Cat only in train (no longer valid)
    assert OI["Hammer"] not in li.class_labels and OI["Hammer"] in again.class_labels
    assert OI["Cat"] in li.class_labels and OI["Cat"] not in again.class_labels
