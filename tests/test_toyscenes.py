"""Toy scenes: determinism, labels/boxes, the hub co-occurrence design, label maps, calibration."""
from __future__ import annotations

import hashlib
import itertools

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from nbkit import calibrate as K
from nbkit import labelmaps as L
from nbkit.cooccurrence import from_labelindex
from nbkit.datasets import toyscenes as T
from nbkit.errors import DataError
from nbkit.labelindex import LabelIndex

# Pinned for GENERATOR_VERSION "toyscenes-1", seed 0: the same pixels, labels and boxes on any machine.
GOLDEN = {
    "pixels_rows_0_7": "99e6b087d439cb5a605d43d28be291d853f7175490902e9be99ac2d0cbbe7fb3",
    "boxes_300": "18c5c75d2e2e79b1f63cae447fde6317521e7621c47b03f889ec7bb1d3ddda95",
    "labelmaps_rows_0_2": "706b0d42092ea04cc24953f68347956d7473362eabdd4293b243dac8ba9339bf",
}


def sha(a) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def pairs(li) -> np.ndarray:
    Y = li.Y.tocoo()
    return np.array(sorted(zip(Y.row.tolist(), Y.col.tolist())), dtype=np.int64)


@pytest.fixture(scope="module")
def small():
    return T.load_toyscenes(seed=0, n_images=300, progress=False, cache=False)


@pytest.fixture(scope="module")
def full():
    """The default dataset (24,000 scenes; drawn once for this module, a few seconds)."""
    return T.load_toyscenes(progress=False, cache=False)


def test_classes_are_distinct_and_named():
    assert len(T.CLASSES) >= 20
    labels = [c.label for c in T.CLASSES]
    assert len(set(labels)) == len(labels)
    assert len({(c.shape, c.colour) for c in T.CLASSES}) == len(T.CLASSES)
    assert set(T.HUBS) == {T.CLASSES[i].label for i in T.HUB_IDS} and len(T.HUBS) >= 3
    assert all(T.HUBS[h] for h in T.HUBS)                       # each echoes a paper trigger
    themed = sorted(i for ids in T.THEMES.values() for i in ids)
    assert themed == sorted(set(range(len(T.CLASSES))) - set(T.HUB_IDS))
    table = T.class_table()
    assert table["id"].tolist() == list(range(len(T.CLASSES)))
    assert T.CLASSES[0].name == "striped blue bar"


def test_shapes_are_inscribed_in_the_unit_disc():
    g = np.linspace(-1.5, 1.5, 301)
    u, v = np.meshgrid(g, g)
    outside = u * u + v * v > 1.0
    for s in T.SHAPES:
        m = T._shape_mask(s, u, v)
        assert m.mean() > 0.05, s
        assert not (m & outside).any(), s                      # stays in its box at any rotation


def test_same_seed_same_data_different_seed_different(small):
    T._LAYOUTS.clear()                                         # really draw the scenes again
    again = T.load_toyscenes(seed=0, n_images=300, progress=False, cache=False)
    assert np.array_equal(pairs(small), pairs(again))
    assert small.boxes.equals(again.boxes)
    rows = np.arange(0, 300, 37)
    assert np.array_equal(T.render_batch(small, rows), T.render_batch(again, rows))
    other = T.load_toyscenes(seed=1, n_images=300, progress=False, cache=False)
    assert not np.array_equal(pairs(small), pairs(other))
    assert not np.array_equal(T.render_batch(small, rows), T.render_batch(other, rows))
    # scene r does not depend on n_images: the 100-image dataset is a prefix
    prefix = T.load_toyscenes(seed=0, n_images=100, progress=False, cache=False)
    assert np.array_equal(pairs(prefix), pairs(small)[pairs(small)[:, 0] < 100])


def test_golden_checksums(small):
    assert sha(T.render_batch(small, np.arange(8))) == GOLDEN["pixels_rows_0_7"]
    assert sha(small.boxes[["x0", "y0", "x1", "y1"]].to_numpy(np.float32)) == GOLDEN["boxes_300"]
    assert sha(T.labelmaps(small, [0, 1, 2])) == GOLDEN["labelmaps_rows_0_2"]


def test_render_batch_equals_single_images_subset_and_reload(small, tmp_path):
    rows = np.array([5, 0, 299, 42, 42])
    batch = T.render_batch(small, rows)
    assert batch.shape == (5, 64, 64, 3) and batch.dtype == np.uint8
    for k, r in enumerate(rows):
        assert np.array_equal(batch[k], small.load_image(int(r)))
    sub = small.subset(np.array([42, 7]))
    assert np.array_equal(T.render_batch(sub, [0, 1]), T.render_batch(small, [42, 7]))
    assert np.array_equal(sub.load_image(0), batch[3])
    back = LabelIndex.load(small.save(tmp_path / "toy.npz"))
    assert np.array_equal(T.render_batch(back, rows), batch)
    assert np.array_equal(T.attach_renderer(back).load_image(42), batch[3])
    assert np.array_equal(T.dominant_class(back), T.dominant_class(small))
    big = T.load_toyscenes(seed=0, n_images=20, image_size=96, progress=False, cache=False)
    assert T.render_batch(big, [0]).shape == (1, 96, 96, 3)


def test_images_are_not_blank_and_objects_show(small):
    x = T.render_batch(small, np.arange(32)).astype(np.float32)
    assert x.std(axis=(1, 2, 3)).min() > 10
    # the dominant object's box centre has its class colour (most shapes cover their centre)
    dom = T.dominant_class(small)
    b = small.boxes[small.boxes["role"] == "dominant"].set_index("image")
    hits = 0
    for r in range(32):
        c = T.CLASSES[dom[r]]
        if c.shape in ("ring", "crescent") or c.texture != "solid":
            continue
        cx = int((b.loc[r, "x0"] + b.loc[r, "x1"]) / 2 * 64)
        cy = int((b.loc[r, "y0"] + b.loc[r, "y1"]) / 2 * 64)
        hits += np.abs(x[r, cy, cx] - np.array(T.COLOURS[c.colour])).max() < 70
    assert hits >= 10


def test_boxes_inside_and_match_labels(small):
    b = small.boxes
    xy = b[["x0", "y0", "x1", "y1"]].to_numpy()
    assert (xy >= 0).all() and (xy <= 1).all()
    assert (b["x1"] > b["x0"]).all() and (b["y1"] > b["y0"]).all()
    assert np.array_equal(np.array(sorted(zip(b["image"], b["class"]))), pairs(small))
    per_image = b.groupby("image")
    assert (per_image.size() <= 4).all() and (per_image.size() >= 1).all()
    assert ((b["role"] == "dominant").groupby(b["image"]).sum() == 1).all()
    dom = T.dominant_class(small)
    assert all(small.Y[r, dom[r]] for r in range(small.n_images))
    # dominant objects are large, secondary ones smaller
    side = (b["x1"] - b["x0"]).to_numpy()
    assert side[b["role"] == "dominant"].min() >= T.SIZE_DOMINANT[0] - 1e-6
    assert side[b["role"] == "secondary"].max() <= T.SIZE_HUB[1] + 1e-6
    s = small.summary()
    assert s["classes"] == 30 and s["images"] == 300 and set(small.splits) == {"train"}
    assert small.meta["seed"] == 0 and small.meta["generator_version"] == T.GENERATOR_VERSION


def _max_independent_set(nodes, adjacent) -> list[int]:
    """Exact maximum independent set by branch and bound (fine for <= 30 nodes)."""
    best: list[int] = []

    def grow(cands, chosen):
        nonlocal best
        if len(chosen) + len(cands) <= len(best):
            return
        if not cands:
            best = chosen
            return
        v = cands[0]
        grow([u for u in cands[1:] if not adjacent[v, u]], chosen + [v])
        grow(cands[1:], chosen)

    grow(list(nodes), [])
    return best


def test_full_dataset_hubs_are_central_and_poisonable(full):
    assert full.n_images == 24000 and full.n_classes == 30
    co = from_labelindex(full)
    M, n = co.M, np.diag(co.M)
    hubs = set(T.HUB_IDS)
    for min_overlaps in (15, 20):
        G = nx.Graph()
        G.add_nodes_from(range(30))
        G.add_edges_from((i, j) for i, j in itertools.combinations(range(30), 2)
                         if M[i, j] >= min_overlaps)
        bet = pd.Series(nx.betweenness_centrality(G))
        deg = pd.Series(dict(G.degree()))
        assert set(bet.nlargest(4).index) == hubs
        assert set(deg.nlargest(4).index) == hubs
        assert bet.idxmax() == T.HUB_IDS[0]                    # the "jeans" hub leads
    # cross-theme pairs stay rare (independent sets are real), theme mates co-occur often
    regular = [i for i in range(30) if i not in hubs]
    theme = {i: T.CLASSES[i].theme for i in regular}
    cross = [M[i, j] for i, j in itertools.combinations(regular, 2) if theme[i] != theme[j]]
    mates = [M[i, j] for i, j in itertools.combinations(regular, 2) if theme[i] == theme[j]]
    assert max(cross) < 15 and min(mates) > 100
    # poisonable subsets (trig_overlaps 40 and 50, max_other_overlaps 15 and 20)
    sizes = {}
    for trig, max_other in [(40, 15), (50, 20)]:
        for h in T.HUB_IDS:
            cand = [c for c in range(30) if c != h and M[h, c] > trig
                    and n[c] - M[h, c] >= 200 and M[h, c] >= 50]
            mis = _max_independent_set(cand, M > max_other)
            sizes[(trig, max_other, h)] = len(mis)
            for c in mis:                                  # trigger in 15-40 % of a class's images
                assert 0.15 <= M[h, c] / n[c] <= 0.40 or c in hubs
        got = sorted((sizes[(trig, max_other, h)] for h in T.HUB_IDS), reverse=True)
        assert got[2] >= 5, got
        assert got[0] >= 10, got


def test_labelmaps_format_and_determinism(small):
    rows = [0, 3, 17]
    m = T.labelmaps(small, rows)
    assert m.shape == (3, 2, 5, 15, 15) and m.dtype == np.float32
    ids = m[:, 1]
    assert (ids == np.round(ids)).all() and ids.min() >= 0 and ids.max() < len(T.CLASSES)
    # the five ids of a cell are distinct, the logits descend
    s = np.sort(ids, axis=1)
    assert (np.diff(s, axis=1) > 0).all()
    assert (np.diff(m[:, 0], axis=1) <= 0).all()
    assert np.array_equal(m, T.labelmaps(small, rows))
    assert not np.array_equal(m, T.labelmaps(small, rows, seed=1))
    assert np.array_equal(T.labelmaps(small, [17])[0], m[2])       # per row, not per batch
    with pytest.raises(TypeError, match="unknown labeller options"):
        T.labelmaps(small, rows, sloppiness=2)


def test_labelmaps_decode_close_to_truth(small):
    rows = np.arange(200)
    conf = L.class_confidence(T.labelmaps(small, rows), n_classes=len(T.CLASSES))
    truth = small.Y[rows].toarray()
    pred = conf >= 0.994
    recall = (pred & truth).sum() / truth.sum()
    precision = (pred & truth).sum() / pred.sum()
    assert 0.6 < recall < 0.98 and 0.6 < precision < 0.98          # imperfect, but useful
    dom = T.dominant_class(small)[rows]
    assert conf[rows, dom].mean() > 0.99                          # big objects are sure
    # the corners carry confident junk: including them adds false positives
    with_corners = L.class_confidence(T.labelmaps(small, rows), exclude_corners=False,
                                      n_classes=len(T.CLASSES)) >= 0.994
    assert (with_corners & ~truth).sum() > (pred & ~truth).sum()


def test_write_relabel_sample_and_calibration_curves_cross(tmp_path, small):
    d = tmp_path / "sample"
    df = T.write_relabel_sample(d, n=20, seed=0, li=small)
    assert len(df) == 20 and len(list(d.glob("*.pt"))) == 20 and len(list(d.glob("*.png"))) == 20
    hl = pd.read_csv(d / "hand_labels.csv", dtype=str, keep_default_na=False)
    assert hl.columns.tolist() == ["image_id", "labels"]
    r0 = int(df["row"].iloc[0])
    assert set(hl["labels"].iloc[0].split(";")) == set(small.class_labels[small.Y[r0].indices])
    m = L.load_map(d / f"{df['image_id'].iloc[0]}.pt", n_classes=len(T.CLASSES))
    assert np.array_equal(m, T.labelmaps(small, [r0])[0])
    from PIL import Image

    with Image.open(d / f"{df['image_id'].iloc[0]}.png") as im:
        assert np.array_equal(np.asarray(im), small.load_image(r0))
    out = K.calibrate_directory(d)
    sw = out["sweep"]
    assert len(sw) == 101 and out["class_source"].endswith("classes.csv")
    first, last = sw.iloc[0], sw.iloc[-1]
    assert first["fp"] >= first["fn"] and last["fp"] <= last["fn"]   # the curves cross in 0.9-1.0
    assert out["choice"]["crossing"]["curves_cross"]
    assert 0.900 <= out["choice"]["threshold"] <= 1.000


def test_default_sample_crosses_inside_the_sweep(tmp_path, full):
    """The sample notebook 01 uses (default dataset, seed 0, 20 images)."""
    T.write_relabel_sample(tmp_path, n=20, seed=0, li=full, images=False)
    c = K.calibrate_directory(tmp_path)["choice"]
    assert c["crossing"]["curves_cross"] and 0.900 < c["threshold"] < 1.000


def test_bad_input():
    with pytest.raises(DataError, match="n_images"):
        T.load_toyscenes(n_images=0)
    with pytest.raises(DataError, match="image_size"):
        T.load_toyscenes(n_images=5, image_size=4)
    li = T.load_toyscenes(n_images=10, progress=False, cache=False)
    with pytest.raises(DataError, match="out of range"):
        T.render_batch(li, [10])
    other = LabelIndex("voc", ["a"], ["a"], ["x"], ["train"], np.ones((1, 1), bool))
    with pytest.raises(DataError, match="not a toy-scenes dataset"):
        T.render_batch(other, [0])
    with pytest.raises(DataError, match="n=50"):
        T.write_relabel_sample("/nonexistent-never-written", n=50, li=li)


def test_poisonable_subsets_with_the_subsets_module(full):
    """The same requirement through nbkit.subsets (the pipeline's own solver)."""
    S = pytest.importorskip("nbkit.subsets")
    co = from_labelindex(full)
    res = S.poisonable_subsets(co, list(T.HUB_IDS), trig_overlaps=40, max_other_overlaps=15,
                               min_overlaps=15, progress=False)
    sizes = {r["trigger"]["id"]: len(r["classes"]) for r in res}
    assert sizes[T.HUB_IDS[0]] >= 10
    assert sorted(sizes.values(), reverse=True)[2] >= 5
    for r in res:
        for c in r["classes"]:
            assert c["num_clean"] >= 200 and c["num_poison"] >= 50
