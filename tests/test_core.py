"""Core types: LabelIndex validation and cache, Cooccurrence, atomic I/O, run folders."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from nbkit import runs
from nbkit.cooccurrence import Cooccurrence, cooccurrence_matrix, from_labelindex
from nbkit.errors import DataError, MissingDataError
from nbkit.io import atomic_path, fingerprint, read_json, write_json
from nbkit.labelindex import LabelIndex


def small_index(**kw):
    Y = sp.csr_matrix(np.array([[1, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1]], dtype=bool))
    boxes = pd.DataFrame({"image": [0, 0, 3], "class": [0, 1, 2], "x0": [0, .5, .1], "y0": [0, .5, .1],
                          "x1": [.4, 1, .3], "y1": [.4, 1, .3]})
    args = dict(name="tiny", class_labels=["a", "b", "c"], class_names=["A", "crane", "crane"],
                image_ids=["i0", "i1", "i2", "i3"], splits=["train", "train", "test", "test"], Y=Y,
                boxes=boxes)
    args.update(kw)
    return LabelIndex(**args)


def test_labelindex_basics():
    li = small_index()
    assert (li.n_images, li.n_classes) == (4, 3)
    assert li.class_counts().tolist() == [3, 3, 3]
    assert li.class_id("b") == 1 and li.class_id("A") == 0 and li.class_id(2) == 2
    with pytest.raises(DataError, match="ambiguous"):
        li.class_id("crane")
    with pytest.raises(DataError, match="unknown class"):
        li.class_id("zebra")
    assert li.display(1) == "crane (b)" and li.display(0) == "A"
    assert li.summary()["splits"] == {"test": 2, "train": 2}
    te = li.subset("test")
    assert te.n_images == 2 and te.boxes["image"].tolist() == [1]
    assert li.images_with(2).tolist() == [1, 2, 3]
    assert li.boxes_of(0, 1).tolist() == [[0.5, 0.5, 1.0, 1.0]]


@pytest.mark.parametrize("change,message", [
    (dict(image_ids=["i0", "i0", "i2", "i3"]), "duplicate image ids"),
    (dict(class_labels=["a", "a", "c"]), "duplicate class labels"),
    (dict(splits=["train"]), "splits for 4 images"),
    (dict(class_names=["A"]), "class names"),
    (dict(Y=sp.csr_matrix((4, 2), dtype=bool)), "shape"),
    (dict(boxes=pd.DataFrame({"image": [0]})), "boxes lack columns"),
])
def test_labelindex_bad_input(change, message):
    with pytest.raises(DataError, match=message):
        small_index(**change)


def test_labelindex_empty():
    with pytest.raises(DataError, match="no images"):
        LabelIndex("e", ["a"], ["A"], [], [], sp.csr_matrix((0, 1), dtype=bool))


def test_labelindex_cache_roundtrip(tmp_path):
    li = small_index()
    li2 = LabelIndex.load(li.save(tmp_path / "li.npz"))
    assert (li2.Y != li.Y).nnz == 0
    assert li2.class_names.tolist() == li.class_names.tolist()
    pd.testing.assert_frame_equal(li2.boxes, li.boxes, check_dtype=False)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="bad.npz"):
        LabelIndex.load(tmp_path / "bad.npz")


def test_missing_image_file(tmp_path):
    li = small_index(image_root=tmp_path)
    with pytest.raises(MissingDataError, match="i0"):
        li.load_image(0)
    (tmp_path / "i1.jpg").write_bytes(b"garbage")
    with pytest.raises(DataError, match="cannot decode"):
        li.load_image(1)


def test_cooccurrence_matches_dense_product():
    rng = np.random.default_rng(0)
    Yd = rng.random((500, 12)) < 0.2
    M = cooccurrence_matrix(sp.csr_matrix(Yd))
    assert (M == Yd.T.astype(int) @ Yd.astype(int)).all()
    co = from_labelindex(small_index(), split="train")
    assert co.n_images == 2 and co.M[0, 0] == 2 and co.M[1, 2] == 0


@pytest.mark.parametrize("M,message", [
    (np.array([[1.0, np.nan], [np.nan, 1.0]]), "NaN"),
    (np.array([[1, -2], [-2, 1]]), "negative"),
    (np.array([[1, 2], [3, 1]]), "symmetric"),
    (np.zeros((0, 0)), "empty"),
])
def test_cooccurrence_bad_input(M, message):
    with pytest.raises(DataError, match=message):
        Cooccurrence(M, ["a", "b"][: len(M)], ["A", "B"][: len(M)])


def test_atomic_write_leaves_nothing_on_error(tmp_path):
    target = tmp_path / "out.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("interrupted")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    write_json(target, {"x": np.int64(3), "y": np.array([1.5])})
    assert read_json(target) == {"x": 3, "y": [1.5]}
    target.write_text("{broken")
    with pytest.raises(DataError, match="out.json"):
        read_json(target)


def test_fingerprint_tracks_content(tmp_path):
    f = tmp_path / "a.csv"
    f.write_text("x")
    a = fingerprint("p", files=[f], content=True)
    f.write_text("y")
    assert fingerprint("p", files=[f], content=True) != a
    assert fingerprint("p", 1) == fingerprint("p", 1) != fingerprint("p", 2)


def test_run_folders(tmp_path):
    params = {"dataset": "toy", "seed": 1}
    d = runs.prepare(runs.run_dir_for("02_x", params, batch="b", root=tmp_path), params)
    assert not runs.is_complete(d)
    with pytest.raises(MissingDataError, match="no complete run"):
        runs.find_run("02_x", {"seed": 1}, root=tmp_path)
    runs.save_results(d, "00_test", {"value": 1})
    assert runs.find_run("02_x", {"seed": 1}, root=tmp_path) == d
    assert json.loads((d / "params.json").read_text()) == params
    assert runs.params_hash({**params, "run_dir": "x"}) == runs.params_hash(params)
    runs.prepare(d, params)  # a rerun invalidates the old results first
    assert not runs.is_complete(d)


def test_fingerprint_covers_every_file_and_small_contents(tmp_path):
    import os

    files = [tmp_path / f"m{k:04d}.bin" for k in range(600)]
    for f in files:
        f.write_bytes(b"abcd")
    a = fingerprint("p", files=files)
    st = files[1].stat()
    files[1].write_bytes(b"abce")                             # same size
    os.utime(files[1], ns=(st.st_atime_ns, st.st_mtime_ns))  # and the old date
    assert fingerprint("p", files=files) != a                 # small file: its bytes count
    b = fingerprint("p", files=files)
    os.utime(files[2], ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert fingerprint("p", files=files) != b                 # every file's mtime_ns counts
    assert fingerprint("p", files=files[::-1]) == fingerprint("p", files=files)  # order-free
    assert fingerprint("p", files=[tmp_path / "absent"]) != fingerprint("p", files=[])


def test_lower_bound_class_sizes_have_one_rule():
    from nbkit.cooccurrence import raise_to_pair_max

    M = np.array([[0, 3, 1], [3, 5, 2], [1, 2, 0]])
    n, raised = raise_to_pair_max(M)
    assert n.tolist() == [3, 5, 2] and raised.tolist() == [True, False, True]
    n_f, _ = raise_to_pair_max(M.astype(float))
    assert n_f.dtype == float and n_f.tolist() == [3.0, 5.0, 2.0]
    co = Cooccurrence(M, list("abc"), list("abc"), counts_exact=[True, True, False])
    n, exact = co.class_sizes
    assert n.tolist() == [3, 5, 2] and n.dtype == np.int64
    assert exact.tolist() == [False, True, False]  # raised -> a lower bound; given bounds stay so
    assert co.class_counts.tolist() == [0, 5, 0]  # the stored diagonal itself is untouched
    assert co.counts_exact.tolist() == [True, True, False]
