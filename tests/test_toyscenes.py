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

# Pinned for generation 1 ("toyscenes-1", version=1), seed 0: the same pixels, labels and boxes on
# any machine; generation 2 must not have changed them.
GOLDEN_V1 = {
    "pixels_rows_0_7": "99e6b087d439cb5a605d43d28be291d853f7175490902e9be99ac2d0cbbe7fb3",
    "boxes_300": "18c5c75d2e2e79b1f63cae447fde6317521e7621c47b03f889ec7bb1d3ddda95",
    "labelmaps_rows_0_2": "706b0d42092ea04cc24953f68347956d7473362eabdd4293b243dac8ba9339bf",
}
# Pinned for generation 2 ("toyscenes-2", the default), seed 0.
GOLDEN_V2 = {
    "pixels_rows_0_7": "d1b8b42311f7bce9d6ff3254c32a0ea97f833a78a823dbed890ba97418c9eade",
    "boxes_300": "abce1d9d1972e1248b07f384b2c9a318fcb3896d42004b1bdd4e742065b2bcc4",
    "labelmaps_rows_0_2": "e768b662e4a646ccf5f762f5a7e44d50f2e8151e25a733c80c55941ffe6f9f11",
    "labels_300": "cd2acb06640109983040401028ab4bfaf31a0284404fb8fea3bf7afed02a60c7",
    "labels_full": "bb6405102bf7dba6a8531b24abce9cfdd2f6343a2ca0d58db7a42d0f7bd74d84",
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
def small_v1():
    return T.load_toyscenes(seed=0, n_images=300, progress=False, cache=False, version=1)


@pytest.fixture(scope="module")
def full():
    """The default dataset (generation 2, 48,000 scenes; drawn once for this module, seconds)."""
    return T.load_toyscenes(progress=False, cache=False)


@pytest.fixture(scope="module")
def full_v1():
    """Generation 1's default dataset (24,000 scenes)."""
    return T.load_toyscenes(progress=False, cache=False, version=1)


@pytest.mark.parametrize("version", [1, 2])
def test_classes_are_distinct_and_named(version):
    m = T.generation(version)
    assert len(m.classes) == {1: 30, 2: 96}[version]
    labels = [c.label for c in m.classes]
    assert len(set(labels)) == len(labels)
    assert len({(c.shape, c.colour) for c in m.classes}) == len(m.classes)
    assert set(m.hubs) == {m.classes[i].label for i in m.hub_ids}
    assert len(m.hubs) == {1: 4, 2: 8}[version] and all(m.hubs.values())
    themed = sorted(i for ids in m.themes.values() for i in ids)
    assert themed == sorted(set(range(len(m.classes))) - set(m.hub_ids))
    assert m.classes[0].name == "striped blue bar"                # the jeans hub in both


def test_default_generation_is_2():
    assert T._DEFAULT_VERSION == 2 and T.generation().name == "toyscenes-2"
    assert T.CLASSES is T.generation(2).classes
    assert len(T.CLASSES) >= 20
    labels = [c.label for c in T.CLASSES]
    assert len(set(labels)) == len(labels)
    assert len({(c.shape, c.colour) for c in T.CLASSES}) == len(T.CLASSES)
    assert set(T.HUBS) == {T.CLASSES[i].label for i in T.HUB_IDS} and len(T.HUBS) >= 3
    assert all(T.HUBS[h] for h in T.HUBS)                       # each echoes a paper trigger
    themed = sorted(i for ids in T.generation().themes.values() for i in ids)
    assert themed == sorted(set(range(len(T.CLASSES))) - set(T.HUB_IDS))
    assert T.CLASSES[0].name == "striped blue bar"


def test_shapes_are_inscribed_in_the_unit_disc():
    g = np.linspace(-1.5, 1.5, 301)
    u, v = np.meshgrid(g, g)
    outside = u * u + v * v > 1.0
    for s in T._SHAPES:
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


def test_golden_checksums_v1(small_v1):
    """Generation 1 stays reproducible under its version."""
    small = small_v1
    assert small.meta["generator_version"] == "toyscenes-1" and small.n_classes == 30
    assert sha(T.render_batch(small, np.arange(8))) == GOLDEN_V1["pixels_rows_0_7"]
    assert sha(small.boxes[["x0", "y0", "x1", "y1"]].to_numpy(np.float32)) == GOLDEN_V1["boxes_300"]
    assert sha(T.labelmaps(small, [0, 1, 2])) == GOLDEN_V1["labelmaps_rows_0_2"]


def test_golden_checksums_v2(small, full):
    assert small.meta["generator_version"] == "toyscenes-2" and small.n_classes == 96
    assert sha(T.render_batch(small, np.arange(8))) == GOLDEN_V2["pixels_rows_0_7"]
    assert sha(small.boxes[["x0", "y0", "x1", "y1"]].to_numpy(np.float32)) == GOLDEN_V2["boxes_300"]
    assert sha(T.labelmaps(small, [0, 1, 2])) == GOLDEN_V2["labelmaps_rows_0_2"]
    assert sha(pairs(small)) == GOLDEN_V2["labels_300"]
    assert sha(pairs(full)) == GOLDEN_V2["labels_full"]


def test_versions_through_the_dataset_spec():
    from nbkit.datasets import load_dataset

    v1 = load_dataset("toyscenes?version=1&n_images=50")
    assert v1.n_classes == 30 and v1.meta["generator_version"] == "toyscenes-1"
    assert load_dataset("toyscenes:0?n_images=50").n_classes == 96
    with pytest.raises(DataError, match="version"):
        T.load_toyscenes(n_images=5, version=3)


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
    assert np.array_equal(T._dominant_class(back), T._dominant_class(small))
    big = T.load_toyscenes(seed=0, n_images=20, image_size=96, progress=False, cache=False)
    assert T.render_batch(big, [0]).shape == (1, 96, 96, 3)


def test_images_are_not_blank_and_objects_show(small):
    x = T.render_batch(small, np.arange(32)).astype(np.float32)
    assert x.std(axis=(1, 2, 3)).min() > 10
    # the dominant object's box centre has its class colour (most shapes cover their centre)
    dom = T._dominant_class(small)
    b = small.boxes[small.boxes["role"] == "dominant"].set_index("image")
    hits = 0
    for r in range(32):
        c = T.CLASSES[dom[r]]
        if c.shape in ("ring", "crescent") or c.texture != "solid":
            continue
        cx = int((b.loc[r, "x0"] + b.loc[r, "x1"]) / 2 * 64)
        cy = int((b.loc[r, "y0"] + b.loc[r, "y1"]) / 2 * 64)
        hits += np.abs(x[r, cy, cx] - np.array(T._COLOURS[c.colour])).max() < 70
    assert hits >= 10


@pytest.mark.parametrize("version", [1, 2])
def test_boxes_inside_and_match_labels(version, small, small_v1):
    small = small if version == 2 else small_v1
    b = small.boxes
    xy = b[["x0", "y0", "x1", "y1"]].to_numpy()
    assert (xy >= 0).all() and (xy <= 1).all()
    assert (b["x1"] > b["x0"]).all() and (b["y1"] > b["y0"]).all()
    assert np.array_equal(np.array(sorted(zip(b["image"], b["class"]))), pairs(small))
    per_image = b.groupby("image")
    assert (per_image.size() <= 4).all() and (per_image.size() >= 1).all()
    assert ((b["role"] == "dominant").groupby(b["image"]).sum() == 1).all()
    dom = T._dominant_class(small)
    assert all(small.Y[r, dom[r]] for r in range(small.n_images))
    # dominant objects are large, secondary ones smaller
    side = (b["x1"] - b["x0"]).to_numpy()
    dominant, hub, secondary = ((T._V1_SIZE_DOMINANT, T._V1_SIZE_HUB, T._V1_SIZE_SECONDARY)
                                if version == 1 else
                                (T._V2_SIZE_DOMINANT, T._V2_SIZE_HUB, T._V2_SIZE_SECONDARY))
    assert side[b["role"] == "dominant"].min() >= dominant[0] - 1e-6
    assert side[b["role"] == "secondary"].max() <= max(hub[1], secondary[1]) + 1e-6
    s = small.summary()
    assert s["classes"] == {1: 30, 2: 96}[version] and s["images"] == 300
    assert set(small.splits) == {"train"}
    assert small.meta["seed"] == 0 and small.meta["generator_version"] == f"toyscenes-{version}"


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


def test_v1_full_dataset_hubs_are_central_and_poisonable(full_v1):
    """Generation 1's structure (themes as walls), kept as it was."""
    full = full_v1
    V1 = T.generation(1)
    assert full.n_images == 24000 and full.n_classes == 30
    co = from_labelindex(full)
    M, n = co.M, np.diag(co.M)
    hubs = set(V1.hub_ids)
    for min_overlaps in (15, 20):
        G = nx.Graph()
        G.add_nodes_from(range(30))
        G.add_edges_from((i, j) for i, j in itertools.combinations(range(30), 2)
                         if M[i, j] >= min_overlaps)
        bet = pd.Series(nx.betweenness_centrality(G))
        deg = pd.Series(dict(G.degree()))
        assert set(bet.nlargest(4).index) == hubs
        assert set(deg.nlargest(4).index) == hubs
        assert bet.idxmax() == V1.hub_ids[0]                    # the "jeans" hub leads
    # cross-theme pairs stay rare (independent sets are real), theme mates co-occur often
    regular = [i for i in range(30) if i not in hubs]
    theme = {i: V1.classes[i].theme for i in regular}
    cross = [M[i, j] for i, j in itertools.combinations(regular, 2) if theme[i] != theme[j]]
    mates = [M[i, j] for i, j in itertools.combinations(regular, 2) if theme[i] == theme[j]]
    assert max(cross) < 15 and min(mates) > 100
    # poisonable subsets (trig_overlaps 40 and 50, max_other_overlaps 15 and 20)
    sizes = {}
    for trig, max_other in [(40, 15), (50, 20)]:
        for h in V1.hub_ids:
            cand = [c for c in range(30) if c != h and M[h, c] > trig
                    and n[c] - M[h, c] >= 200 and M[h, c] >= 50]
            mis = _max_independent_set(cand, M > max_other)
            sizes[(trig, max_other, h)] = len(mis)
            for c in mis:                                  # trigger in 15-40 % of a class's images
                assert 0.15 <= M[h, c] / n[c] <= 0.40 or c in hubs
        got = sorted((sizes[(trig, max_other, h)] for h in V1.hub_ids), reverse=True)
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
    dom = T._dominant_class(small)[rows]
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
        T.load_toyscenes(n_images=-1)
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


def test_v1_poisonable_subsets_with_the_subsets_module(full_v1):
    """The same requirement through nbkit.subsets (the pipeline's own solver)."""
    S = pytest.importorskip("nbkit.subsets")
    co = from_labelindex(full_v1)
    hub_ids = list(T.generation(1).hub_ids)
    res = S.poisonable_subsets(co, hub_ids, trig_overlaps=40, max_other_overlaps=15,
                               min_overlaps=15, progress=False)
    sizes = {r["trigger"]["id"]: len(r["classes"]) for r in res}
    assert sizes[hub_ids[0]] >= 10
    assert sorted(sizes.values(), reverse=True)[2] >= 5
    for r in res:
        for c in r["classes"]:
            assert c["num_clean"] >= 200 and c["num_poison"] >= 50


# ---------------------------------------------------------------------------- generation 2's structure
@pytest.fixture(scope="module")
def co_full(full):
    return from_labelindex(full)


def test_v2_pair_counts_are_graded(co_full):
    """Pair counts spread over every scale (heavy tail, themes a prior), and a fair share of the
    jeans hub's candidate pairs falls between 15 and 100 images, where W = 20 ... 60 decides."""
    M, H = co_full.M, len(T.HUB_IDS)
    iu = np.triu_indices(M.shape[0], 1)
    reg = iu[0] >= H
    hist = np.histogram(M[iu][reg], [0, 15, 30, 60, 100, 10**6])[0]
    assert (hist > 0).all(), hist                               # every scale occupied
    assert hist[0] > hist[1] > hist[2] > hist[3] > 0, hist      # and decreasing: a long tail
    cand = np.flatnonzero(M[0] >= 15)
    cand = cand[cand >= H]
    sub = M[np.ix_(cand, cand)][np.triu_indices(len(cand), 1)]
    assert len(cand) >= 60
    assert 0.10 <= ((sub >= 15) & (sub <= 100)).mean() <= 0.5
    # themes are a prior, not a wall: many pairs across themes co-occur at least 15 times
    theme = np.array([T.CLASSES[i].theme for i in range(M.shape[0])])
    cross = (theme[iu[0]] != theme[iu[1]]) & reg
    assert (M[iu][cross] >= 15).sum() >= 100


def test_v2_centralities_rank_different_hubs_first(co_full):
    """Hubs of different profiles: the 8 variants do not all pick one trigger (Figure 12)."""
    from nbkit.centrality import all_variants

    df = all_variants(co_full, min_overlaps=15)
    tops = {c: int(df[c].idxmax()) for c in df.columns}
    assert len(tops) == 8 and len(set(tops.values())) >= 3, tops
    assert set(tops.values()) <= set(T.HUB_IDS)
    assert tops["betweenness"] == T.HUB_IDS[0]                  # the jeans hub, as in the paper


def test_v2_edge_threshold_changes_the_mis(full, co_full):
    """W = 20, 40, 60 give different 10-class subsets for the jeans trigger (Figure 14)."""
    from nbkit import curate

    sets = {}
    for w in (20, 40, 60):
        sel = curate.select_backdoor(full, co_full, trigger="striped_blue_bar", subset_mode="mis",
                                     min_overlaps=w, n_classes=10, max_other_overlaps=-1,
                                     min_clean=200, min_poison=50, mis="exact", seed=0)
        sets[w] = frozenset(sel["classes"])
        assert len(sets[w]) == 10
        M = co_full.M
        chosen = sorted(sets[w])
        pair = M[np.ix_(chosen, chosen)][np.triu_indices(10, 1)]
        assert pair.max() < w                                   # independent on the W graph
    assert len(set(sets.values())) == 3
    # a higher W admits classes that share more images
    worst = {w: co_full.M[np.ix_(sorted(s), sorted(s))][np.triu_indices(10, 1)].max()
             for w, s in sets.items()}
    assert worst[60] > worst[20], worst


def test_v2_app_d_pairs_share_classes(co_full):
    """App. D is not trivial: some pair of different top-25 triggers shares > 30 classes."""
    S = pytest.importorskip("nbkit.subsets")
    trig = S.rank_triggers(co_full, top=25, min_overlaps=15)
    subs = S.poisonable_subsets(co_full, trig, max_other_overlaps=40, min_overlaps=15,
                                min_clean=200, min_poison=50, progress=False, compare=False)
    summ = S.multi_trigger_summary(S.multi_trigger_overlap(subs, top=25, threshold=30))
    assert summ["share_distinct_pairs_above"] > 0 and summ["largest_shared"] > 30, summ
