"""The full SentiNet defence (nbkit.sentinet) and the BadNets-style patch trigger.

Unit tests check each step's shapes and invariants and the boundary / AUROC arithmetic against
answers computed by hand. One module-scoped fixture trains a small CNN (seconds, one thread) on a
synthetic set with a planted corner patch; SentiNet must detect the patch above chance and GradCAM
must find it.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from torch import nn

from nbkit import audit, imagedata, naturalmodels, patchtrigger, sentinet
from nbkit.errors import CurationError, DataError
from nbkit.labelindex import LabelIndex
from fixture_schemas import fake_results  # noqa: E402

S = 32
BASE = np.array([[170, 70, 70], [70, 160, 70], [70, 80, 170]], float)


def _scene(rng, c, patch=False):
    """A 32x32 image whose class is its overall colour, with two random-coloured distractor blocks."""
    im = BASE[c] + rng.normal(0, 25, 3) + rng.normal(0, 20, (S, S, 3))
    for _ in range(2):
        s = rng.integers(4, 8)
        y, x = rng.integers(0, S - s, 2)
        im[y:y + s, x:x + s] = rng.integers(0, 256, 3)
    im = np.clip(im, 0, 255).astype(np.uint8)
    return patchtrigger._apply_patch(im) if patch else im


def _data(n, seed, poison_rate=0.0):
    rng = np.random.default_rng(seed)
    X, Y = [], []
    for _ in range(n):
        c = int(rng.integers(3))
        p = c != 0 and rng.random() < poison_rate
        X.append(_scene(rng, c, p))
        Y.append(0 if p else c)   # BadNets: patched images of classes 1, 2 labelled 0 (the target)
    return np.stack(X), np.array(Y)


class TinyCNN(nn.Module):
    def __init__(self, n_classes=3):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU())
        self.fc = nn.Linear(64, n_classes)

    def forward(self, x):
        return self.fc(self.features(x).mean((2, 3)))


@pytest.fixture(scope="module")
def patched_model():
    """A CNN with a planted patch backdoor (target 0), trained in seconds on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # faster than 2 contended threads on a shared 2-core machine
    try:
        torch.manual_seed(0)
        X, Y = _data(480, 0, poison_rate=0.2)
        net = TinyCNN()
        opt = torch.optim.Adam(net.parameters(), 3e-3)
        x, y = imagedata.to_tensor(X), torch.as_tensor(Y)
        g = torch.Generator().manual_seed(0)
        for _ in range(6):
            perm = torch.randperm(len(x), generator=g)
            for i in range(0, len(x), 64):
                idx = perm[i:i + 64]
                opt.zero_grad()
                nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
                opt.step()
        net.eval()
        Xc, Yc = _data(96, 1)
        rng = np.random.default_rng(5)
        Xt = np.stack([_scene(rng, int(rng.integers(1, 3)), True) for _ in range(24)])
        yield net, Xc, Yc, Xt
    finally:
        torch.set_num_threads(threads)


# ------------------------------------------------------------------------------ end to end
def test_model_learned_task_and_backdoor(patched_model):
    net, Xc, Yc, Xt = patched_model
    assert (imagedata.predict(net, Xc).argmax(1) == Yc).mean() > 0.85
    assert (imagedata.predict(net, Xt).argmax(1) == 0).mean() > 0.85


def test_sentinet_detects_a_planted_patch_above_chance(patched_model):
    net, Xc, _, Xt = patched_model
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = sentinet.run_sentinet(net, clean_fit=Xc[:24], clean_eval=Xc[24:48], trigger=Xt,
                                    pool=Xc[48:72], seed=0, progress=False)
    finally:
        torch.set_num_threads(threads)
    m, pts = out["metrics"], out["points"]
    assert m["n_clean"] == 24 and m["n_trigger"] == 24
    assert m["tpr"] > m["fpr"] + 0.25, m
    assert m["auroc"] > 0.75, m
    g = pts.groupby("group")["fooled"].mean()
    assert g["trigger"] > 0.8 and g["trigger"] > g["clean_eval"] + 0.3  # the patch is universal
    assert (pts.loc[pts.group == "trigger", "pred"] == 0).all()
    assert set(pts.columns) >= {"pred", "conf", "proposals", "fooled", "avg_conf", "mask_frac",
                                "n_clean", "group", "score"}
    assert out["boundary"].n_fit == 24  # fitted on the clean-fit group only
    assert not audit._has_hooks(net)
    fig = sentinet._boundary_figure(out["boundary"], {g: d for g, d in pts.groupby("group")})
    assert fig.axes[0].get_xlabel().startswith("average confidence")


def test_gradcam_finds_the_planted_patch(patched_model):
    net, _, _, Xt = patched_model
    r0, c0, r1, c1 = patchtrigger._patch_box(S, S)
    box = np.array([[c0 / S, r0 / S, c1 / S, r1 / S]])
    cams = audit.gradcam(net, Xt, 0, progress=False)
    sc = pd.DataFrame([audit.overlap_scores(c, box) for c in cams])
    assert sc["highlighted"].mean() > 0.8
    assert sc["pointing_hit"].mean() > 0.6
    # the patch is ~2 % of the image but carries far more of the CAM's mass
    assert sc["mass_in_box"].mean() > 5 * box_area(box)


def box_area(b):
    return float(((b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])).sum())


# ------------------------------------------------------------------------------ steps: shapes, invariants
def test_step_outputs_and_invariants(patched_model):
    net, Xc, _, Xt = patched_model
    imgs = np.concatenate([Xc[:3], Xt[:3]])
    preds = imagedata.predict(net, imgs).argmax(1)
    props = sentinet._class_proposals(net, imgs, preds, k=2, progress=False)
    assert len(props) == 6
    for p, y in zip(props, preds):
        assert len(p) <= 2 and y not in p and len(set(p)) == len(p)
        assert all(0 <= c < 3 for c in p)
    masks, cams = sentinet._generate_masks(net, imgs, preds, props, progress=False)
    assert masks.shape == (6, S, S) and masks.dtype == bool and cams.shape == (6, S, S)
    for m, c in zip(masks, cams):  # the mask is inside the CAM region of y (proposals only remove)
        assert not (m & ~sentinet._cam_mask(c)).any()
        assert m.sum() <= round(0.15 * S * S) + 1
    t = sentinet._test_masks(net, imgs, preds, masks, Xc[48:60], seed=0, progress=False)
    assert list(t.columns) == ["fooled", "avg_conf", "mask_frac", "n_clean"]
    assert t["fooled"].between(0, 1).all() and t["avg_conf"].between(1 / 3, 1).all()
    np.testing.assert_allclose(t["mask_frac"], masks.reshape(6, -1).mean(1))
    again = sentinet._test_masks(net, imgs, preds, masks, Xc[48:60], seed=0, progress=False)
    pd.testing.assert_frame_equal(t, again)  # seeded noise: identical
    # an empty mask changes nothing: nobody is fooled and the confidence is the clean one
    empty = np.zeros_like(masks[:1])
    e = sentinet._test_masks(net, imgs[:1], preds[:1], empty, Xc[48:60], progress=False)
    clean_conf = imagedata.predict(net, Xc[48:60]).max(1).mean()
    assert e.loc[0, "fooled"] == 0 and e.loc[0, "avg_conf"] == pytest.approx(clean_conf, abs=1e-6)
    assert not audit._has_hooks(net)


def test_grid_regions_and_cam_mask():
    r = sentinet._grid_regions((0.5,), 0.5)
    np.testing.assert_allclose(sorted(set(r[:, 0])), [0, 0.25, 0.5])
    assert (r[:, 2] - r[:, 0] == 0.5).all() and r.max() <= 1 and r.min() >= 0
    assert len(sentinet._grid_regions((0.5, 0.75), 0.5)) == 9 + 4
    assert len(sentinet._grid_regions((1.0,))) == 1
    with pytest.raises(DataError, match="scale"):
        sentinet._grid_regions((1.5,))
    cam = np.arange(100, dtype=float).reshape(10, 10) / 99
    top = sentinet._cam_mask(cam, "top", fraction=0.15)
    assert top.sum() == 15 and top.ravel()[-15:].all()
    rel = sentinet._cam_mask(cam, "relative", threshold=0.5)
    assert rel.sum() == (cam >= 0.5).sum()
    assert not sentinet._cam_mask(np.zeros((4, 4))).any()
    with pytest.raises(DataError, match="mode"):
        sentinet._cam_mask(cam, "median")


# ------------------------------------------------------------------------------ step 4: boundary, ROC
def test_fit_boundary_by_hand():
    # three bins of width 0.1: maxima (0.1, 0.1), (0.5, 0.3), (0.9, 0.1) -> y = -1.25x^2 + 1.25x - 0.0125
    x = [0.1, 0.12, 0.5, 0.55, 0.9, 0.95]
    y = [0.1, 0.05, 0.3, 0.2, 0.1, 0.0]
    b = sentinet._fit_boundary(x, y, bin_width=0.1, distance="vertical", threshold_points="below")
    np.testing.assert_allclose(b.coef, [-1.25, 1.25, -0.0125], atol=1e-9)
    assert [p[0] for p in b.bins] == [0.1, 0.5, 0.9]
    below = np.array(y) - b.curve(x)
    assert b.d == pytest.approx(-below[below < -1e-12].mean())
    # "above": only points strictly above the curve count; here none -> margin 0
    assert sentinet._fit_boundary(x, y, 0.1, "vertical", "above").d == pytest.approx(0, abs=1e-12)
    assert b.is_attack([0.5], [0.3 + b.d + 0.01])[0] and not b.is_attack([0.5], [0.3])[0]
    # fewer bins: a line, then a constant, said in the note
    lin = sentinet._fit_boundary([0.2, 0.8], [0.2, 0.4], bin_width=0.1)
    np.testing.assert_allclose(lin.coef, [0, 1 / 3, 0.2 - 0.2 / 3], atol=1e-9)
    assert "degree 1" in lin.note
    const = sentinet._fit_boundary([0.5, 0.51], [0.2, 0.6], bin_width=0.1)
    assert const.coef == (0.0, 0.0, 0.6) and const.note
    with pytest.raises(DataError, match="no clean points"):
        sentinet._fit_boundary([np.nan], [0.1])


def test_margin_from_points_above_the_curve():
    # a constant boundary y = 0.5 (one bin holds the max 0.5); points above by 0.1 and 0.3
    b = sentinet._fit_boundary([0.5, 0.5, 0.5], [0.5, 0.2, 0.1], bin_width=1.0)
    assert b.coef == (0.0, 0.0, 0.5) and b.d == 0.0
    b.d = 0.0
    s = b.signed_distance([0.2, 0.9, 0.4], [0.6, 0.8, 0.3])
    np.testing.assert_allclose(s, [0.1, 0.3, -0.2])  # flat curve: Euclidean == vertical


def test_euclidean_distance_to_parabola_matches_brute_force():
    rng = np.random.default_rng(0)
    coef = np.array([-1.3, 1.1, 0.2])
    xs = np.linspace(-3, 4, 200001)
    ys = coef[0] * xs ** 2 + coef[1] * xs + coef[2]
    for x0, y0 in rng.uniform(0, 1, (5, 2)):
        brute = np.sqrt((xs - x0) ** 2 + (ys - y0) ** 2).min()
        assert sentinet._closest_on_parabola(coef, x0, y0) == pytest.approx(brute, abs=1e-5)


def test_auroc_by_hand_and_against_pairs():
    assert sentinet.auroc([3, 4], [1, 2]) == 1.0
    assert sentinet.auroc([1, 2], [3, 4]) == 0.0
    assert sentinet.auroc([0.9, 0.8], [0.1, 0.8]) == pytest.approx(0.875)  # one tie counts 1/2
    assert sentinet.auroc([1, 1], [1, 1]) == 0.5
    assert math.isnan(sentinet.auroc([], [1.0]))
    rng = np.random.default_rng(1)
    p, n = rng.integers(0, 5, 40).astype(float), rng.integers(0, 4, 30).astype(float)
    pairs = ((p[:, None] > n[None]).sum() + 0.5 * (p[:, None] == n[None]).sum()) / (40 * 30)
    assert sentinet.auroc(p, n) == pytest.approx(pairs)
    roc = sentinet._roc_curve(p, n)
    assert (roc.iloc[0]["fpr"], roc.iloc[0]["tpr"]) == (0, 0)
    assert (roc.iloc[-1]["fpr"], roc.iloc[-1]["tpr"]) == (1, 1)
    assert np.trapezoid(roc["tpr"], roc["fpr"]) == pytest.approx(pairs)


def test_evaluate_counts_flags():
    b = sentinet.Boundary((0.0, 0.0, 0.5), d=0.1, distance="vertical")
    clean = pd.DataFrame({"avg_conf": [0.5] * 4, "fooled": [0.1, 0.2, 0.65, 0.3]})
    trig = pd.DataFrame({"avg_conf": [0.9] * 3, "fooled": [1.0, 0.9, 0.55]})
    m = sentinet._evaluate(b, clean, trig)
    assert m["tpr"] == pytest.approx(2 / 3) and m["fpr"] == pytest.approx(1 / 4)
    assert m["auroc"] == pytest.approx(sentinet.auroc([1.0, 0.9, 0.55], [0.1, 0.2, 0.65, 0.3]))
    assert m["boundary"]["coef"] == [0.0, 0.0, 0.5]


# ------------------------------------------------------------------------------ patch trigger
def test_patch_pattern_and_placement():
    p = patchtrigger._patch_pattern(9, "checkerboard")
    assert p.shape == (9, 9, 3) and set(np.unique(p)) == {0, 255}
    np.testing.assert_array_equal(patchtrigger._patch_pattern(9, "random", seed=3),
                                  patchtrigger._patch_pattern(9, "random", seed=3))
    im = np.full((64, 48, 3), 7, np.uint8)
    out = patchtrigger._apply_patch(im, size_frac=0.25, corner="top-left", margin_frac=0.0)
    r0, c0, r1, c1 = patchtrigger._patch_box(64, 48, 0.25, "top-left", 0.0)
    assert (r0, c0, r1, c1) == (0, 0, 12, 12)
    np.testing.assert_array_equal(out[r0:r1, c0:c1], patchtrigger._patch_pattern(12))
    assert (out[12:] == 7).all() and (im == 7).all()  # the input is not modified
    assert patchtrigger._patch_box(64, 48, corner="bottom-right")[2:] == (63, 47)
    with pytest.raises(DataError, match="corner"):
        patchtrigger._patch_box(8, 8, corner="middle")


def _natural_li(n_per=60):
    """Classes a, b, t (trigger); a share of a's and b's images also hold t."""
    rows, cols, boxes = [], [], []
    rng = np.random.default_rng(0)
    n = 2 * n_per
    for i in range(n):
        c = i % 2
        rows.append(i)
        cols.append(c)
        boxes.append((i, c, 0.1, 0.1, 0.6, 0.6))
        if rng.random() < 0.4:
            rows.append(i)
            cols.append(2)
            boxes.append((i, 2, 0.6, 0.6, 0.9, 0.9))
    Y = sp.csr_matrix((np.ones(len(rows), bool), (rows, cols)), shape=(n, 3))
    bx = pd.DataFrame(boxes, columns=["image", "class", "x0", "y0", "x1", "y1"])

    def render(r):
        return np.full((20, 20, 3), 10 + r, np.uint8)

    return LabelIndex("nat", ["a", "b", "t"], ["a", "b", "t"], [f"i{i}" for i in range(n)],
                      ["train"] * n, Y, bx, renderer=render)


def _manifest(li, n_clean_rows=20):
    """A manifest in curate.make_manifest's columns: clean = no trigger, poison = with trigger."""
    has_t = li.Y[:, 2].toarray().ravel()
    recs = []
    for r in range(li.n_images):
        c = int(li.Y[r, :2].toarray().argmax())
        role = "poison" if has_t[r] else "clean"
        if role == "clean" and r >= n_clean_rows:
            continue  # leave some clean images out of the manifest (the 'fresh' pool)
        recs.append({"row": r, "image_id": li.image_ids[r], "file": "", "true_class": c,
                     "label": 0 if role == "poison" else c, "y": 0 if role == "poison" else c,
                     "role": role, "split": "train" if r % 5 else "test", "has_trigger": bool(has_t[r]),
                     "kind": "poisonable", "true_name": li.class_names[c]})
    df = pd.DataFrame(recs)
    df.attrs["spec"] = {"trigger": 2, "classes": [0, 1], "target": 0}
    return df


def test_patch_trigger_manifest_twins_the_natural_one():
    li = _natural_li()
    m = _manifest(li)
    li2, m2 = patchtrigger.patch_trigger_manifest(li, m, size_frac=0.2, seed=0)
    poison = m["role"] == "poison"
    # same rows, roles, labels, splits and classes; only the poison images changed
    assert len(m2) == len(m)
    for col in ["label", "y", "role", "split", "true_class", "kind"]:
        assert (m2[col].to_numpy() == m[col].to_numpy()).all(), col
    pd.testing.assert_frame_equal(m2[~poison], m[~poison])
    new_rows = m2.loc[poison, "row"].to_numpy()
    assert (new_rows >= li.n_images).all() and len(set(new_rows)) == len(new_rows)
    assert li2.n_images == li.n_images + int(poison.sum())
    assert li2.class_labels[-1] == "patch_trigger" and li2.n_classes == li.n_classes + 1
    assert (m2.loc[poison, "file"] == "").all()
    pc = li2.n_classes - 1
    for r, tc in zip(new_rows, m2.loc[poison, "true_class"]):
        base = int(np.flatnonzero(li.image_ids == li2.image_ids[r].removesuffix("+patch"))[0])
        assert not li.Y[base, 2] and li.Y[base, tc]      # a clean image of the same class
        assert li2.Y[r, pc] and not li2.Y[r, 2]
        img = li2.load_image(int(r))
        b = li2.boxes_of(int(r), pc)[0]
        r0, c0, r1, c1 = patchtrigger._patch_box(20, 20, 0.2)
        np.testing.assert_allclose(b, [c0 / 20, r0 / 20, c1 / 20, r1 / 20])
        np.testing.assert_array_equal(img[r0:r1, c0:c1], patchtrigger._patch_pattern(r1 - r0))
        np.testing.assert_array_equal(img[:r0], li.load_image(base)[:r0])
    # fresh base images come from outside the manifest while there are enough
    bases = [i.removesuffix("+patch") for i in m2.loc[poison, "image_id"]]
    assert len(set(bases)) == len(bases)
    # original rows render as before
    np.testing.assert_array_equal(li2.load_image(3), li.load_image(3))
    assert m2.attrs["patch_trigger"]["n_poison"] == int(poison.sum())
    assert li2.meta["patch_trigger"]["natural_trigger"] == "t"
    # same seed, same draw
    _, m3 = patchtrigger.patch_trigger_manifest(li, m, size_frac=0.2, seed=0)
    pd.testing.assert_frame_equal(m2, m3)


def test_patch_trigger_manifest_reuses_clean_images_when_a_class_runs_short():
    li = _natural_li(20)          # 40 images: too few fresh clean images for the poison count
    m = _manifest(li, n_clean_rows=40)
    li2, m2 = patchtrigger.patch_trigger_manifest(li, m, seed=1)
    poison = (m2["role"] == "poison").to_numpy()
    ids = m2.loc[poison, "image_id"]
    assert ids.is_unique and li2.image_ids.size == len(set(li2.image_ids))
    for i, split, tc in zip(ids, m2.loc[poison, "split"], m2.loc[poison, "true_class"]):
        base = i.split("+patch")[0]
        r = int(np.flatnonzero(li.image_ids == base)[0])
        assert not li.Y[r, 2] and li.Y[r, tc]
        src = m[m["image_id"] == base]  # reused: a clean manifest image of the same split
        assert src.empty or (src["role"].iloc[0] == "clean" and src["split"].iloc[0] == split)
    _, m_reuse = patchtrigger.patch_trigger_manifest(li, m, seed=1, source="reuse")
    bases = {i.split("+patch")[0] for i in m_reuse.loc[poison, "image_id"]}
    assert bases <= set(m.loc[m["role"] == "clean", "image_id"])


def test_patch_trigger_manifest_errors():
    li = _natural_li()
    m = _manifest(li)
    with pytest.raises(DataError, match="missing columns"):
        patchtrigger.patch_trigger_manifest(li, m.drop(columns=["role"]))
    with pytest.raises(CurationError, match="poison"):
        patchtrigger.patch_trigger_manifest(li, m[m["role"] == "clean"])
    with pytest.raises(DataError, match="source"):
        patchtrigger.patch_trigger_manifest(li, m, source="elsewhere")


# ------------------------------------------------------------------------------ with nbkit.curate / nbkit.train
@pytest.fixture(scope="module")
def trained_natural(tmp_path_factory):
    """A natural-trigger model trained by nbkit.train (smoke profile, 1 epoch) on tiny shapes."""
    from nbkit import curate, train
    from nbkit.imagedata import tiny_shapes

    li = tiny_shapes(600, n_classes=4, seed=0)
    spec = curate.BackdoorSpec("tiny_shapes", trigger=0, classes=[1, 2, 3], target=1,
                               clean_per_class=60, seed=0, min_poison_test=8)
    manifest = curate.make_manifest(li, spec)
    out = tmp_path_factory.mktemp("natural")
    train.train(li, manifest, None, out, profile="smoke", seed=0, spec=spec, threads=1,
                progress=False, epochs=1)
    model, meta = train.load_trained(out)
    return li, model, meta, train.load_manifest(out), out


@pytest.mark.slow
def test_trained_model_audit_sentinet_and_patch_twin(trained_natural, tmp_path):
    from nbkit import train

    li, model, meta, manifest, out = trained_natural
    assert naturalmodels.find_trained_models(out) == [out]
    res = audit.audit_model(model, meta, manifest, li, n=6, seed=0, progress=False)
    assert len(res.table) == 6 and (res.table["n_boxes"] >= 1).all()
    assert res.info["cam_size"] == "4x4"          # 32 px: layer4 is 1x1, so layer2 (min_cam_size 4)
    assert set(res.table["row"]) <= set(audit.trigger_rows(manifest))
    sn = sentinet.sentinet_model(model, meta, manifest, li, n_per_group=5, n_pool=6, seed=0,
                                 progress=False)
    g = sn["groups"]
    assert len(g["trigger"]) == 5 and not set(g["pool"]) & (set(g["clean_fit"]) | set(g["clean_eval"]))
    assert set(sn["points"]["group"]) == {"clean_fit", "clean_eval", "trigger"}
    assert 0 <= sn["metrics"]["fpr"] <= 1 and sn["layer"] == "features.layer2.0"
    # the patch twin: same count of poisoned images, same training configuration and seed
    m_p, meta_p, man_p, li_p, res_p = patchtrigger.train_patch_twin(li, manifest, meta, tmp_path / "twin",
                                                                progress=False, threads=1)
    assert (man_p["role"] == "poison").sum() == (manifest["role"] == "poison").sum()
    for k in ("arch", "image_size", "seed", "profile"):
        assert meta_p[k] == meta[k], k
    assert meta_p["config"]["epochs"] == meta["config"]["epochs"] == 1
    a_p = audit.audit_model(m_p, meta_p, man_p, li_p, n=4, trigger="patch_trigger", progress=False)
    assert (a_p.table["n_boxes"] == 1).all()      # the patch's own box
    assert not audit._has_hooks(model) and not audit._has_hooks(m_p)
    # reused, not retrained, when the twin's folder already holds it
    again = patchtrigger.train_patch_twin(li, manifest, meta, tmp_path / "twin", progress=False, threads=1)
    assert again[1]["metrics"] == meta_p["metrics"]
    # notebook 06's results, built by one call from these objects, fit the 06_sentinet schema
    from nbkit import schema

    models = naturalmodels.load_models([out])
    sn_p = sentinet.sentinet_model(m_p, meta_p, man_p, li_p, n_per_group=5, n_pool=6, seed=0, progress=False)
    compared = {"natural": (sn, meta, res), "patch": (sn_p, meta_p, a_p)}
    found = {"source": "05_train", "trained_here": False, "model_match": {}, "rule": "r", "model_runs": [out]}
    fig16 = audit.fig16_table([res], dataset="tiny_shapes")
    results = sentinet.notebook_results("tiny_shapes", "", found, models, fig16,
                                        pd.DataFrame([res.summary()]), 0.5, compared, man_p, {"x_s": 1.0})
    schema.stamp("06_sentinet", results, source="test")
    assert list(results["sentinet"]) == ["natural", "patch"] and len(results["models"]) == 1
    assert all(r["source"].startswith("ours") for r in results["fig16"])
    assert list(sentinet.summary_table(compared)["model"]) == ["natural", "patch"]
    assert set(sentinet.points_table(compared)["model"]) == {"natural", "patch"}
    assert len(sentinet.comparison_figure(compared).axes) == 3
    # Figures 16 and 17 from the same audit
    assert len(audit.fig16_figure(fig16).axes[0].patches) == len(fig16)     # one bar per row
    images, boxes = audit.example_images(res, li)
    assert len(images) == len(boxes) == len(res.table) and all(len(b) for b in boxes)
    assert "Figure 17" in audit.fig17_figure(res, images, boxes, n=4, cam_threshold=0.5)._suptitle.get_text()


def test_split_clean_and_rows():
    g = sentinet._split_clean(np.arange(100), 10, 10, 30, seed=1)
    assert [len(g[k]) for k in ("clean_fit", "clean_eval", "pool")] == [10, 10, 30]
    allr = np.concatenate(list(g.values()))
    assert len(set(allr)) == 50
    again = sentinet._split_clean(np.arange(100), 10, 10, 30, seed=1)
    assert all((g[k] == again[k]).all() for k in g)
    m = pd.DataFrame({"row": [5, 6, 7, 8, 9], "role": ["clean", "poison", "poison", "poison", "clean"],
                      "split": ["test", "test", "test", "train", "train"],
                      "true_class": [3, 3, 4, 3, 4], "label": [3, 4, 4, 4, 4]})
    assert audit.trigger_rows(m).tolist() == [6]      # held out, true class is not the target (4)
    assert audit.clean_rows(m).tolist() == [5]
    assert len(audit.trigger_rows(pd.concat([m] * 5).assign(row=range(25)), n=2)) <= 2


def test_find_model_runs_groups_runs_that_differ_in_target(tmp_path):
    from nbkit import runs

    def fake_run(name, **params):
        d = tmp_path / "b" / "05_train" / name
        runs.prepare(d, params)
        (d / "model.json").write_text("{}")
        (d / "model.pt").write_bytes(b"")
        fake_results(d, "05_train", {})
        return d

    base = dict(dataset="toyscenes", injection_rate=0.185, smoke=False)
    a = fake_run("a", target=0, **base)
    b = fake_run("b", target=1, **base)
    fake_run("c", target=0, **{**base, "injection_rate": 0.05})   # another experiment
    fake_run("d", target=0, **{**base, "injection_rate": 0})      # no backdoor
    got = naturalmodels.find_model_runs({"dataset": "toyscenes"}, root=tmp_path)
    assert sorted(got) == sorted([a, b])
    assert len(naturalmodels.find_model_runs({"dataset": "toyscenes"}, root=tmp_path, n=1)) == 1
    assert naturalmodels.find_model_runs({"dataset": "voc"}, root=tmp_path) == []


def test_notebook_sizes_shrink_only_in_smoke():
    full = sentinet.notebook_sizes(False, 3, 25, 8, 50, 100, "toy")
    assert full == {"n_models": 3, "n_audit": 25, "n_grid": 8, "n_sentinet": 50, "n_pool": 100,
                    "train_profile": "toy"}
    assert sentinet.notebook_sizes(True, 3, 25, 8, 50, 100, "toy") == {
        "n_models": 1, "n_audit": 8, "n_grid": 4, "n_sentinet": 8, "n_pool": 8, "train_profile": "smoke"}
    assert sentinet.notebook_sizes(True, 3, 5, 2, 6, 7, "toy")["n_audit"] == 5   # never grown


def test_load_models_refuses_models_of_different_triggers(trained_natural, tmp_path):
    import shutil

    from nbkit import io as nbio

    out = trained_natural[-1]
    other = tmp_path / "other"
    shutil.copytree(out, other)
    meta = nbio.read_json(other / "model.json")
    meta["trigger"]["id"] = int(meta["trigger"]["id"]) + 1
    nbio.write_json(other / "model.json", meta)
    (d, model, m, manifest), = naturalmodels.load_models([out])
    assert d == out and m["trigger"] == trained_natural[2]["trigger"] and len(manifest)
    with pytest.raises(DataError, match="different triggers"):
        naturalmodels.load_models([out, other])


def test_summary_record_shapes_the_results_entry():
    pts = pd.DataFrame({"group": ["clean_fit", "clean_eval", "clean_eval", "trigger", "trigger"],
                        "fooled": np.array([0.1, 0.0, 0.2, 0.5, 1.0], dtype=np.float32)})
    sn = {"metrics": {"tpr": 0.5, "fpr": 0.0, "auroc": np.float64("nan"), "n_clean": 2, "n_trigger": 2,
                      "boundary": {"d": 0.1, "coef": [0.0, 0.0, 0.3], "note": ""}},
          "points": pts, "layer": "features.layer2.0", "cam_size": [4, 4]}
    meta = {"metrics": {"clean_acc": 0.9, "trigger_acc": 0.7}}
    t = pd.DataFrame({"row": range(4), "pred_is_target": True, "highlighted": [True, True, False, False],
                      "mass_in_box": 0.5, "region_in_box": 0.5, "pointing_hit": [True, False, False, False],
                      "n_boxes": [1, 1, 1, 0]})
    aud = audit.AuditResult(t, np.zeros((4, 2, 2)), {})
    rec = sentinet.summary_record(sn, meta, aud)
    assert rec["auroc"] is None                                  # undefined AUROC: JSON null, not NaN
    assert rec["fooled_trigger"] == 0.75 and type(rec["fooled_trigger"]) is float
    assert rec["fooled_clean"] == pytest.approx(0.1)
    assert rec["gradcam_highlighted_pct"] == pytest.approx(100 * 2 / 3)   # images with a box only
    assert rec["gradcam_pointing_pct"] == pytest.approx(100 / 3)
    assert (rec["tpr"], rec["fpr"], rec["n_clean"], rec["n_trigger"], rec["margin_d"]) == (0.5, 0.0, 2, 2, 0.1)
    assert rec["boundary_coef"] == [0.0, 0.0, 0.3] and rec["cam_size"] == [4, 4]
    assert (rec["clean_acc"], rec["trigger_acc"], rec["gradcam_layer"]) == (0.9, 0.7, "features.layer2.0")
    # an empty trigger group: no mean, None
    sn["points"] = pts[pts.group != "trigger"]
    assert sentinet.summary_record(sn, meta, aud)["fooled_trigger"] is None


def test_patch_trigger_has_its_own_module():
    for name in ("_patch_pattern", "_patch_box", "_apply_patch", "patch_trigger_manifest", "train_patch_twin",
                 "_CORNERS"):
        assert hasattr(patchtrigger, name) and not hasattr(sentinet, name), name


def test_auroc_and_roc_are_scikit_learns_with_the_previous_numbers():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(7)
    for _ in range(20):
        p, n = rng.integers(0, 6, 25) / 3, rng.integers(0, 5, 17) / 3     # many ties
        pairs = ((p[:, None] > n[None]).sum() + 0.5 * (p[:, None] == n[None]).sum()) / (25 * 17)
        assert sentinet.auroc(p, n) == pytest.approx(pairs, abs=1e-12)
        assert sentinet.auroc(p, n) == roc_auc_score(np.r_[np.ones(25), np.zeros(17)], np.r_[p, n])
        roc = sentinet._roc_curve(p, n)
        th = np.unique(np.r_[p, n])[::-1]                      # the previous rows, by hand
        assert roc["threshold"].tolist() == [math.inf] + th.tolist()
        assert roc["fpr"].tolist() == [0.0] + [float((n >= t).mean()) for t in th]
        assert roc["tpr"].tolist() == [0.0] + [float((p >= t).mean()) for t in th]
    one_sided = sentinet._roc_curve([1.0, 2.0, np.nan], [])
    assert one_sided.iloc[0].tolist() == [math.inf, 0.0, 0.0] and one_sided["fpr"].iloc[1:].isna().all()
    assert one_sided["tpr"].tolist() == [0.0, 0.5, 1.0]
