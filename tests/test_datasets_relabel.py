"""ReLabel adapter on ``.pt`` maps written with ``torch.save`` (2 x 5 x 15 x 15), nested and flat."""
from __future__ import annotations

import pandas as pd
import pytest
import torch

from nbkit.datasets import load_dataset
from nbkit.datasets.relabel import imagenet_classes, load_relabel
from nbkit.errors import DataError, MissingDataError
from nbkit.io import cache_dir

from fixtures_formats import relabel_map, write_relabel

TENCH, GOLDFISH, CRANE_BIRD, CRANE_MACHINE = 0, 1, 134, 517


def _maps():
    return {
        # tench sure in a middle cell; goldfish sure only in a corner (excluded)
        "n01440764_10026": relabel_map({(7, 7): TENCH, (0, 0): GOLDFISH}),
        # two classes, each sure somewhere
        "n01440764_10027": relabel_map({(3, 4): TENCH, (10, 2): CRANE_BIRD}),
        # crane (machine) only as the 2nd entry of a cell: absent with top-k = 1
        "n03126707_1": relabel_map(second={(5, 5): CRANE_MACHINE}),
        # tench top-1 but below 0.994 (logit 6 vs four 1s: p = 0.974)
        "n03126707_2": relabel_map({(5, 5): TENCH}, logit=6.0),
    }


def test_imagenet_classes_shipped(realdata):
    df = imagenet_classes()
    real = pd.read_csv(realdata / "imagenet_meta" / "imagenet_classes.csv", dtype=str)
    assert list(df["wnid"]) == list(real["wnid"]) == sorted(real["wnid"])
    assert df.loc[CRANE_BIRD, "name"] == df.loc[CRANE_MACHINE, "name"] == "crane"
    assert df["wnid"].is_unique and not df["name"].is_unique


@pytest.mark.parametrize("nested", [True, False])
def test_relabel_decoding_as_the_authors(tmp_path, nested):
    d = write_relabel(tmp_path / "maps", _maps(), nested=nested)
    li = load_relabel(d, progress=False, cache=False, workers=2, batch_size=3)
    assert li.n_classes == 1000 and li.n_images == 4
    assert list(li.image_ids) == sorted(_maps())
    row = {iid: r for r, iid in enumerate(li.image_ids)}
    present = {iid: sorted(li.Y[row[iid]].indices.tolist()) for iid in row}
    assert present == {"n01440764_10026": [TENCH], "n01440764_10027": [TENCH, CRANE_BIRD],
                       "n03126707_1": [], "n03126707_2": []}
    assert li.class_labels[TENCH] == "n01440764" and li.class_names[TENCH] == "tench"
    assert li.display(CRANE_BIRD) == "crane (n02012849)"
    assert li.meta["images_without_label"] == 2
    assert li.image_paths[row["n01440764_10026"]] == "n01440764/n01440764_10026.JPEG"
    # options are passed to the decoder: top-2, a lower threshold, corners kept
    top2 = load_relabel(d, topk=2, progress=False, cache=False)
    assert CRANE_MACHINE in top2.Y[row["n03126707_1"]].indices
    low = load_relabel(d, threshold=0.9, progress=False, cache=False)
    assert TENCH in low.Y[row["n03126707_2"]].indices
    corners = load_relabel(d, exclude_corners=False, progress=False, cache=False)
    assert GOLDFISH in corners.Y[row["n01440764_10026"]].indices


def test_relabel_cache_and_spec(tmp_path):
    d = write_relabel(tmp_path / "maps", _maps())
    li = load_dataset(f"relabel:{d}", progress=False)
    assert (cache_dir() / f"relabel-{li.meta['fingerprint']}.npz").exists()
    again = load_dataset(f"relabel:{d}", progress=False)
    assert (again.Y != li.Y).nnz == 0 and again.meta["fingerprint"] == li.meta["fingerprint"]
    other = load_dataset(f"relabel:{d}", threshold=0.5, progress=False)
    assert other.meta["fingerprint"] != li.meta["fingerprint"]


def test_relabel_bad_input_names_the_file(tmp_path):
    with pytest.raises(MissingDataError, match="ReLabel directory not found"):
        load_relabel(tmp_path / "absent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no .pt label maps found"):
        load_relabel(tmp_path / "empty", cache=False)
    d = write_relabel(tmp_path / "shape", _maps())
    bad = d / "n01440764" / "n01440764_9.pt"
    torch.save(torch.zeros(2, 5, 14, 14), bad)
    with pytest.raises(DataError) as e:
        load_relabel(d, progress=False, cache=False)
    assert str(bad) in str(e.value) and "shape (2, 5, 14, 14)" in str(e.value)
    for k, value in enumerate((1000.0, -1.0)):
        d = write_relabel(tmp_path / f"ids{k}", _maps())
        bad = d / "n01440764" / "n01440764_9.pt"
        m = relabel_map({(7, 7): TENCH})
        m[1, 2, 4, 4] = value
        torch.save(m, bad)
        with pytest.raises(DataError) as e:
            load_relabel(d, progress=False, cache=False)
        assert str(bad) in str(e.value) and "0..999" in str(e.value)


def test_relabel_custom_label_space(tmp_path):
    d = write_relabel(tmp_path / "toy", {"img_0": relabel_map({(2, 2): 1}, background=4),
                                          "img_1": relabel_map({(9, 9): 0}, background=4)},
                      nested=False)
    with pytest.raises(DataError, match=r"0\.\.2"):
        load_relabel(d, classes=["a", "b", "c"], progress=False, cache=False)
    li = load_relabel(d, classes=["a", "b", "c", "d", "e"], progress=False, cache=False)
    assert li.Y.toarray().astype(int).tolist() == [[0, 1, 0, 0, 0], [1, 0, 0, 0, 0]]
    assert list(li.image_paths) == ["img_0.JPEG", "img_1.JPEG"]


def test_relabel_reads_the_toy_sample(tmp_path):
    toyscenes = pytest.importorskip("nbkit.datasets.toyscenes")
    d = tmp_path / "sample"
    small = toyscenes.load_toyscenes(seed=0, n_images=200, image_size=32)
    toyscenes.write_relabel_sample(d, n=12, seed=0, li=small)
    li = load_dataset(f"relabel:{d}", progress=False)      # label space from classes.csv
    classes = pd.read_csv(d / "classes.csv", dtype=str)
    assert list(li.class_labels) == list(classes["label"]) and li.name == "sample"
    assert li.n_images == 12 and li.Y.nnz > 0
    assert li.load_image(0).ndim == 3                       # image beside the map is found
    truth = pd.read_csv(d / "hand_labels.csv", dtype=str, keep_default_na=False)
    assert set(truth["image_id"]) == set(li.image_ids)


def _write_jpegs(root, image_ids, nested):
    from PIL import Image

    for k, iid in enumerate(image_ids):
        p = root / iid.split("_")[0] / f"{iid}.JPEG" if nested else root / f"{iid}.JPEG"
        p.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (8, 6), (40 * k, 90, 200)).save(p, format="JPEG")


@pytest.mark.parametrize("maps_nested,images_nested", [(True, True), (False, True), (True, False)])
def test_relabel_images_option_resolves_imagenet_layouts(tmp_path, maps_nested, images_nested):
    d = write_relabel(tmp_path / "maps", _maps(), nested=maps_nested)
    imgs = tmp_path / "imagenet" / "train"
    ids = sorted(_maps())
    _write_jpegs(imgs, ids[:-1], images_nested)              # the last image is missing
    li = load_dataset(f"relabel:{d}?images={imgs}&threshold=0.994", progress=False, cache=False)
    assert li.image_root == imgs and list(li.image_ids) == ids
    for row, iid in enumerate(ids[:-1]):
        expected = imgs / iid.split("_")[0] / f"{iid}.JPEG" if images_nested else imgs / f"{iid}.JPEG"
        assert li.resolve(row) == expected
        assert li.load_image(row).shape == (6, 8, 3)
    with pytest.raises(MissingDataError) as e:
        li.resolve(len(ids) - 1)
    assert ids[-1] in str(e.value) and "not found" in str(e.value)
    # the keyword form gives the same index
    kw = load_relabel(d, images=imgs, progress=False, cache=False)
    assert list(kw.image_paths) == list(li.image_paths)


def test_relabel_spec_options_typed_and_checked(tmp_path, monkeypatch):
    d = write_relabel(tmp_path / "maps", _maps())
    imgs = tmp_path / "train"
    _write_jpegs(imgs, sorted(_maps()), nested=True)
    low = load_dataset(f"relabel:{d}?threshold=0.9&topk=1&exclude_corners=true&images={imgs}",
                       progress=False, cache=False)
    assert low.meta["decode"]["threshold"] == 0.9 and low.meta["decode"]["exclude_corners"] is True
    assert TENCH in low.Y[list(low.image_ids).index("n03126707_2")].indices
    # a relative images= path is looked up under $NBKIT_DATA_ROOT like the spec's own path
    monkeypatch.setenv("NBKIT_DATA_ROOT", str(tmp_path))
    monkeypatch.chdir(tmp_path.parent)
    rel = load_dataset("relabel:maps?images=train", progress=False, cache=False)
    assert rel.image_root == imgs and rel.resolve(0).exists()
    with pytest.raises(MissingDataError, match=r"image folder \(images=\) not found"):
        load_dataset(f"relabel:{d}?images={tmp_path / 'nowhere'}", progress=False, cache=False)
    with pytest.raises(DataError, match="not a float"):
        load_dataset(f"relabel:{d}?threshold=high")
    with pytest.raises(DataError, match="unknown option 'imgs'"):
        load_dataset(f"relabel:{d}?imgs={imgs}")
    with pytest.raises(DataError, match="not key=value"):
        load_dataset(f"relabel:{d}?images")
    with pytest.raises(DataError, match="given twice"):
        load_dataset(f"relabel:{d}?topk=1&topk=2")
    with pytest.raises(DataError, match="as a keyword"):
        load_dataset(f"relabel:{d}?threshold=0.9", threshold=0.5)
    with pytest.raises(DataError, match="two image folders"):
        load_relabel(d, images=imgs, image_root=tmp_path, cache=False)


def test_spec_options_for_other_adapters_and_unknown_spec_message():
    from nbkit.datasets import _spec_options

    assert _spec_options("relabel:m?images=i&threshold=0.99") == (
        "relabel:m", {"images": "i", "threshold": "0.99"})
    co = load_dataset("openimages-counts?split=test")
    assert co.meta["split"] == "test"
    with pytest.raises(DataError, match="not an int"):
        load_dataset("toyscenes:3?n_images=many")
    with pytest.raises(DataError) as e:
        load_dataset("imagenet:/x?images=/y")
    assert "relabel:MAPS_DIR[?images=IMAGES_DIR&threshold=0.994]" in str(e.value)
    assert "?key=value" in str(e.value)


def test_relabel_cache_sees_every_edited_map(tmp_path):
    """An edited map is decoded again (the key covers every map, not a sample of 1 in 256)."""
    import os

    maps = {f"img_{k:04d}": relabel_map({(7, 7): 0}, background=4) for k in range(600)}
    d = write_relabel(tmp_path / "many", maps, nested=False)
    classes = ["a", "b", "c", "d", "e"]
    li = load_relabel(d, classes=classes, progress=False)
    assert li.Y[1].indices.tolist() == [0]
    edited = d / "img_0001.pt"                     # not among the sampled files (0, 2, 4, ...)
    st = edited.stat()
    torch.save(relabel_map({(7, 7): 3}, background=4), edited)
    assert edited.stat().st_size == st.st_size     # same size: only the date and bytes differ
    again = load_relabel(d, classes=classes, progress=False)
    assert again.Y[1].indices.tolist() == [3]
    # same size and the old mtime restored: the bytes of this small file still change the key
    torch.save(relabel_map({(7, 7): 2}, background=4), edited)
    os.utime(edited, ns=(st.st_atime_ns, edited.stat().st_mtime_ns))
    mtime = edited.stat().st_mtime_ns
    third = load_relabel(d, classes=classes, progress=False)
    torch.save(relabel_map({(7, 7): 1}, background=4), edited)
    os.utime(edited, ns=(st.st_atime_ns, mtime))
    assert load_relabel(d, classes=classes, progress=False).Y[1].indices.tolist() == [1]
    assert third.Y[1].indices.tolist() == [2]
