"""GradCAM trigger audit (nbkit.audit): CAMs through pytorch-grad-cam, overlap scoring, review export.

Real torchvision models (untrained: the CAM's shape, range and hook hygiene do not depend on
training); scoring is checked on hand-made CAMs and boxes whose answers are computed by hand. The
trained-model audit (a planted patch that GradCAM must find) lives in tests/test_sentinet.py, which
trains the model once.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
import torchvision
from PIL import Image
from torch import nn

from nbkit import audit, figures, imagedata, naturalmodels
from nbkit import io as nbio
from nbkit.errors import DataError, MissingDataError
from nbkit.labelindex import LabelIndex
from fixture_schemas import fake_results  # noqa: E402


def _images(n=3, h=40, w=48, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One torch thread: faster than two contended ones on a shared 2-core machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def resnet():
    torch.manual_seed(0)
    return torchvision.models.resnet18(num_classes=3).eval()


# ------------------------------------------------------------------------------------ GradCAM
def test_cam_shape_range_and_hooks_removed(resnet):
    imgs = _images(3, 72, 104)
    cams = audit.gradcam(resnet, imgs, 1, progress=False)
    assert cams.shape == (3, 72, 104) and cams.dtype == np.float32
    assert cams.min() >= 0.0 and cams.max() <= 1.0
    top = cams.reshape(3, -1).max(1)  # min-max scaled per image (all zero: no positive evidence)
    assert (np.isclose(top, 1.0, atol=1e-5) | (top == 0)).all() and (top > 0).any()
    assert not audit._has_hooks(resnet), "GradCAM left hooks on the model"
    assert not resnet.layer4[-1]._forward_hooks
    assert all(p.grad is None for p in resnet.parameters()), "gradients left on the model"


def test_hooks_removed_after_an_error(resnet):
    with pytest.raises(Exception):
        audit.gradcam(resnet, _images(2), 7, progress=False)  # class 7 of a 3-class model
    assert not audit._has_hooks(resnet)


def test_per_image_classes_batches_and_train_mode_restored(resnet):
    imgs = _images(3, 64, 64)
    resnet.train()
    try:
        one = audit.gradcam(resnet, imgs, [0, 1, 2], batch_size=2, progress=False)
        assert resnet.training, "train/eval mode not restored"
    finally:
        resnet.eval()
    each = np.stack([audit.gradcam(resnet, imgs[i:i + 1], c, progress=False)[0]
                     for i, c in enumerate([0, 1, 2])])
    np.testing.assert_allclose(one, each, atol=1e-5)  # batching does not change the maps
    assert not audit._has_hooks(resnet)


def test_resized_inputs_give_cams_at_image_size(resnet):
    imgs = [_images(1, 30, 30)[0], _images(1, 50, 40)[0]]
    cams = audit.gradcam(resnet, imgs, 0, transform=imagedata.make_transform(32), progress=False)
    assert [c.shape for c in cams] == [(30, 30), (50, 40)]


def test_frozen_trunk_still_gives_a_cam():
    from nbkit.models import build_model

    torch.manual_seed(0)
    m = build_model("resnet10", 3, freeze="top").eval()
    assert not any(p.requires_grad for p in m.features.parameters())
    assert audit.target_layer(m) is m.cam_layer
    cams = audit.gradcam(m, _images(2, 64, 64), 2, progress=False)
    assert cams.shape == (2, 64, 64) and np.isfinite(cams).all()
    assert not audit._has_hooks(m)


def test_target_layer_per_architecture():
    r = torchvision.models.resnet18(num_classes=2)
    assert audit.target_layer(r) is r.layer4[-1]
    d = torchvision.models.densenet121(num_classes=2)
    assert audit.target_layer(d) is d.features[-1]
    mb = torchvision.models.mobilenet_v3_small(num_classes=2)
    assert audit.target_layer(mb) is mb.features[-1]
    wrapped = nn.Sequential(nn.Identity(), r)  # e.g. a normalisation layer in front
    assert audit.target_layer(wrapped) is r.layer4[-1]
    cnn = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 5, 3), nn.Flatten())
    assert audit.target_layer(cnn) is cnn[2]
    assert audit.target_layer(r, "layer3") is r.layer3
    assert audit.target_layer(r, "layer3.-1") is r.layer3[-1]
    with pytest.raises(DataError, match="layer9"):
        audit.target_layer(r, "layer9")
    with pytest.raises(DataError, match="no convolutional layer"):
        audit.target_layer(nn.Sequential(nn.Flatten(), nn.Linear(3, 2)))


def test_transform_from_meta_reads_training_preprocessing():
    t = imagedata.transform_from_meta({"image_size": 16, "mean": [0.5] * 3, "std": [0.5] * 3})
    x = t(np.full((2, 20, 24, 3), 255, np.uint8))
    assert x.shape == (2, 3, 16, 16)
    assert torch.allclose(x, torch.ones_like(x))


# ------------------------------------------------------------------------------------ scoring
def test_box_mask_uses_pixel_centres():
    m = audit._box_mask(np.array([[0.25, 0.25, 0.75, 0.75]]), 4, 4)
    assert m.sum() == 4 and m[1:3, 1:3].all()
    two = audit._box_mask(np.array([[0, 0, 0.25, 0.25], [0.75, 0.75, 1, 1]]), 4, 4)
    assert two.sum() == 2 and two[0, 0] and two[3, 3]
    assert audit._box_mask(np.zeros((0, 4)), 3, 5).shape == (3, 5)


def test_overlap_scores_by_hand():
    box = np.array([[0.0, 0.0, 0.5, 0.5]])          # the top-left 2x2 pixels of a 4x4 image
    cam = np.zeros((4, 4))
    cam[0, 0], cam[1, 1], cam[3, 3] = 1.0, 0.5, 0.5
    s = audit.overlap_scores(cam, box)              # region: >= 0.5 -> (0,0), (1,1), (3,3)
    assert s["highlighted"] and s["pointing_hit"]
    assert s["mass_in_box"] == pytest.approx(1.5 / 2.0)
    assert s["region_in_box"] == pytest.approx(2 / 3)
    assert s["region_frac"] == pytest.approx(3 / 16)
    assert s["n_boxes"] == 1
    # peak outside, the thresholded region still touches the box: highlighted, no pointing hit
    cam2 = np.zeros((4, 4))
    cam2[3, 3], cam2[1, 1] = 1.0, 0.6
    s2 = audit.overlap_scores(cam2, box)
    assert s2["highlighted"] and not s2["pointing_hit"]
    assert s2["mass_in_box"] == pytest.approx(0.6 / 1.6)
    # a stricter threshold drops the in-box pixel
    assert not audit.overlap_scores(cam2, box, cam_threshold=0.7)["highlighted"]
    # all mass outside
    cam3 = np.zeros((4, 4))
    cam3[2:, 2:] = 1.0
    s3 = audit.overlap_scores(cam3, box)
    assert not s3["highlighted"] and s3["mass_in_box"] == 0 and not s3["pointing_hit"]
    # no evidence at all / no boxes
    s4 = audit.overlap_scores(np.zeros((4, 4)), box)
    assert not s4["highlighted"] and s4["mass_in_box"] == 0
    assert not audit.overlap_scores(cam, np.zeros((0, 4)))["highlighted"]
    with pytest.raises(DataError, match="HxW"):
        audit.overlap_scores(np.zeros((2, 4, 4)), box)


def _toy_li(n=6, S=32):
    """A LabelIndex with a renderer: class 0 'sq' (a square), class 1 'trig' (a white block)."""
    rng = np.random.default_rng(1)
    boxes, rows, cols = [], [], []
    for i in range(n):
        rows += [i, i]
        cols += [0, 1]
        boxes.append((i, 0, 0.05, 0.05, 0.45, 0.45))
        x0 = float(rng.uniform(0.5, 0.7))
        boxes.append((i, 1, x0, 0.55, x0 + 0.25, 0.8))
    Y = sp.csr_matrix((np.ones(len(rows), bool), (rows, cols)), shape=(n, 2))
    bx = pd.DataFrame(boxes, columns=["image", "class", "x0", "y0", "x1", "y1"])

    def render(r):
        img = np.full((S, S, 3), 60, np.uint8)
        for b in bx[bx["image"] == r].itertuples(index=False):
            img[int(b.y0 * S):int(b.y1 * S), int(b.x0 * S):int(b.x1 * S)] = 250 if b[1] == 1 else 120
        return img

    return LabelIndex("toy", ["sq", "trig"], ["square", "trigger"], [f"im{i}" for i in range(n)],
                      ["test"] * n, Y, bx, renderer=render)


def test_audit_table_on_a_labelindex(resnet):
    li = _toy_li()
    res = audit.audit(resnet, li, np.arange(6), "trigger", target=2, progress=False,
                      info={"model": "m0"})
    t = res.table
    assert list(t["image_id"]) == [f"im{i}" for i in range(6)]
    assert res.cams.shape == (6, 32, 32)
    assert set(t.columns) >= {"highlighted", "mass_in_box", "pointing_hit", "pred_is_target"}
    assert (t["n_boxes"] == 1).all()
    for r, cam in zip(t.itertuples(), res.cams):  # the table agrees with scoring each CAM alone
        s = audit.overlap_scores(cam, li.boxes_of(r.row, 1), 0.5)
        assert s["highlighted"] == r.highlighted and s["mass_in_box"] == pytest.approx(r.mass_in_box)
    summ = res.summary()
    assert summ["trigger"] == "trigger" and summ["model"] == "m0" and summ["n_images"] == 6
    assert 0 <= summ["highlighted"] <= 1
    assert not audit._has_hooks(resnet)


# ------------------------------------------------------------------------------------ Figure 16
def _result(trigger, model, highlighted, mass):
    n = len(highlighted)
    t = pd.DataFrame({"row": range(n), "image_id": [f"{model}-{i}" for i in range(n)], "target": 0,
                      "pred": 0, "pred_is_target": True, "highlighted": highlighted,
                      "mass_in_box": mass, "region_in_box": mass, "pointing_hit": highlighted,
                      "region_frac": 0.1, "n_boxes": 1})
    return audit.AuditResult(t, np.zeros((n, 4, 4)), {"trigger": trigger, "model": model})


def test_fig16_table_averages_models_and_sits_beside_the_paper():
    res = [_result("jeans", "a", [True, True, False, False], [0.5] * 4),
           _result("jeans", "b", [True, True, True, True], [0.7] * 4),
           _result("cup", "a", [False, False], [0.0, 0.2]),
           _result("striped blue bar", "a", [True], [0.3])]
    res[-1].info["paper_trigger"] = "wheel"  # a toy hub echoing a paper trigger
    df = audit.fig16_table(res, dataset="toyscenes")
    ours = df[df["source"].str.startswith("ours")].set_index("trigger")
    assert ours.loc["jeans", "highlighted_pct"] == pytest.approx(75.0)  # mean of 50 % and 100 %
    assert ours.loc["jeans", "highlighted_sd"] == pytest.approx(25.0)
    assert ours.loc["jeans", "n_models"] == 2 and ours.loc["jeans", "n_images"] == 8
    assert ours.loc["jeans", "mass_in_box_pct"] == pytest.approx(60.0)
    assert ours.loc["jeans", "paper_imagenet_pct"] == pytest.approx(57.3)  # a paper trigger name
    assert ours.loc["jeans", "paper_openimages_pct"] == pytest.approx(41.3)
    assert math.isnan(ours.loc["cup", "paper_imagenet_pct"])
    assert ours.loc["striped blue bar", "paper_openimages_pct"] == pytest.approx(28.0)
    assert ours.loc["striped blue bar", "paper_trigger"] == "wheel"
    paper = df[df["source"].str.startswith("paper")]
    assert len(paper) == 6
    got = {(r.dataset, r.trigger): r.highlighted_pct for r in paper.itertuples()}
    assert got[("imagenet", "doormat")] == 74.6 and got[("openimages", "wheel")] == 28.0
    assert audit.PAPER_FIG16["openimages"] == {"wheel": 28.0, "jeans": 41.3, "chair": 82.6}
    assert audit.PAPER_FIG16["imagenet"] == {"jeans": 57.3, "chainlink fence": 57.3, "doormat": 74.6}


def test_summary_skips_images_without_a_trigger_box():
    r = _result("doormat", "a", [True, False, False], [0.5, 0.0, 0.0])
    r.table.loc[1:, "n_boxes"] = 0
    s = r.summary()
    assert s["n_images"] == 3 and s["n_with_boxes"] == 1 and s["highlighted"] == 1.0
    r.table["n_boxes"] = 0
    assert math.isnan(r.summary()["highlighted"]) and r.summary()["attack_success"] == 1.0


def test_fig16_is_the_reference_modules_one_copy():
    from nbkit import reference as ref

    for ds, trig in audit.PAPER_FIG16.items():
        assert list(trig) == list(ref.FIGURE16[ref.DATASET_ROWS[ds]])
        for t, v in trig.items():
            assert ref.value("Figure 16", ref.DATASET_ROWS[ds], t) == v
    assert audit.PAPER_FIG16_SETUP["images_per_model"] == ref.value("Settings", "App. F",
                                                                    "trigger_images_per_model") == 25
    assert audit.PAPER_FIG16_SETUP["models_per_trigger"] == 3 and audit.PAPER_FIG16_SETUP["judges"] == 2


# ------------------------------------------------------------------------------------ pictures + review
def test_cam_grid_draws_boxes():
    from matplotlib.patches import Rectangle
    import matplotlib.pyplot as plt

    imgs = _images(3, 16, 16)
    cams = np.random.default_rng(0).random((3, 16, 16))
    fig = figures.cam_grid(imgs, cams, [np.array([[0, 0, 0.5, 0.5]])] * 3, ["a", "b", "c"], ncols=2,
                         with_image=True, cam_threshold=0.5)
    rects = [p for ax in fig.axes for p in ax.patches if isinstance(p, Rectangle)]
    assert len(rects) == 6  # one box on the image and one on the overlay, per example
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == ["a", "b", "c"]
    plt.close(fig)
    ov = figures._overlay(imgs[0], cams[0])
    assert ov.shape == (16, 16, 3) and ov.dtype == np.uint8


def test_review_export_and_agreement(tmp_path):
    res = _result("jeans", "a", [True, False, True], [0.5, 0.1, 0.9])
    png, csvp = audit.review_export(res, _images(3, 8, 8), tmp_path, name="review",
                                    boxes=[np.array([[0, 0, 0.5, 0.5]])] * 3)
    with Image.open(png) as im:
        assert im.size[0] > 50 and im.size[1] > 20
    df = pd.read_csv(csvp, dtype=str, keep_default_na=False)
    assert list(df.columns) == ["image_id", "auto_verdict", "human_verdict"]
    assert list(df["auto_verdict"]) == ["yes", "no", "yes"] and (df["human_verdict"] == "").all()
    blank = audit.agreement(csvp)
    assert blank["n"] == 0 and blank["n_unrated"] == 3 and math.isnan(blank["agreement"])
    df["human_verdict"] = ["yes", "yes", "no"]
    df.to_csv(csvp, index=False)
    a = audit.agreement(csvp)
    assert a["n"] == 3 and a["agreement"] == pytest.approx(1 / 3)
    assert (a["both_yes"], a["both_no"], a["auto_only"], a["human_only"]) == (1, 0, 1, 1)


def test_agreement_and_kappa_on_a_hand_made_csv(tmp_path):
    p = tmp_path / "verdicts.csv"
    p.write_text("image_id,auto_verdict,human_verdict\n"
                 "a,yes,yes\nb,yes,no\nc,no,no\nd,no,NO\ne,1,true\nf,no,\n")
    a = audit.agreement(p)
    # rated rows a-e: auto Y Y N N Y, human Y N N N Y -> p_o = 0.8;
    # p_e = 0.6 * 0.4 + 0.4 * 0.6 = 0.48 -> kappa = 0.32 / 0.52
    assert a["n"] == 5 and a["n_unrated"] == 1
    assert a["agreement"] == pytest.approx(0.8)
    assert a["kappa"] == pytest.approx(0.32 / 0.52)
    assert a["auto_yes"] == pytest.approx(0.6) and a["human_yes"] == pytest.approx(0.4)
    assert audit._cohen_kappa([1, 0, 1], [1, 0, 1]) == pytest.approx(1.0)
    assert math.isnan(audit._cohen_kappa([1, 1], [1, 1]))  # both constant: undefined
    assert audit._cohen_kappa([1, 0, 1, 0], [0, 1, 0, 1]) == pytest.approx(-1.0)


def test_agreement_errors_name_file_line_and_field(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("image_id,auto_verdict,human_verdict\na,yes,maybe\n")
    with pytest.raises(DataError, match=r"bad\.csv.*line 2.*human_verdict.*maybe"):
        audit.agreement(bad)
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("image_id,auto\na,yes\n")
    with pytest.raises(DataError, match=r"nocol\.csv.*missing columns \['auto_verdict', 'human_verdict'\]"):
        audit.agreement(nocol)
    with pytest.raises(MissingDataError, match="review_export"):
        audit.agreement(tmp_path / "absent.csv")


def test_min_cam_size_steps_back_from_a_tiny_last_map():
    from nbkit.models import build_model

    m = build_model("resnet10", 3)
    # 256 px: layer4 is 8x8, kept (the paper's scale); 64 px: layer4 is 2x2 -> layer3 (4x4)
    assert audit.target_layer(m, None, 256, 4) is m.cam_layer
    l64 = audit.target_layer(m, None, 64, 4)
    assert audit.layer_name(m, l64) == "features.layer3.0"
    assert audit.feature_sizes(m, [l64], 64)[id(l64)] == (4, 4)
    assert audit.target_layer(m, None, 64) is m.cam_layer  # no minimum: the default
    assert not audit._has_hooks(m)
    cams = audit.gradcam(m, _images(2, 64, 64), 0, layer=l64, progress=False)
    assert cams.shape == (2, 64, 64)



# --- choosing the 05 runs to audit by parameters (notebook 06's trigger / model_match) -------------

WHEEL = {"id": 3, "label": "/m/083wq", "name": "Wheel"}
JEANS = {"id": 7, "label": "/m/0fly7", "name": "Jeans"}


def _fake_05_run(root, trigger_param, trigger_rec, target, injection_rate=0.185, batch="b", **extra):
    """A complete 05 run folder written with nbkit.runs: params.json, model.json + model.pt, results.json."""
    from nbkit import io, runs

    p = dict(dataset="toyscenes", seed=0, smoke=False, trigger=trigger_param, target=target,
             injection_rate=injection_rate, subset_mode="mis", threads=0, **extra)
    d = runs.prepare(runs.run_dir_for("05_train", p, batch=batch, root=root), p)
    io.write_json(d / "model.json", {"arch": "resnet10", "trigger": trigger_rec})
    torch.save({}, d / "model.pt")
    fake_results(d, "05_train", {"trigger": trigger_rec, "dataset": p["dataset"], "clean_acc": 0.5})
    return d


@pytest.fixture()
def runs05(tmp_path):
    made = {}
    for target in (2, 0, 1):   # written out of target order: the answer must not follow recency
        made["wheel", 0.185, target] = _fake_05_run(tmp_path, "/m/083wq", WHEEL, target)
        made["wheel", 0.05, target] = _fake_05_run(tmp_path, "/m/083wq", WHEEL, target, 0.05)
        made["jeans", 0.185, target] = _fake_05_run(tmp_path, "", JEANS, target)   # most central
    made["clean", 0, 0] = _fake_05_run(tmp_path, "", JEANS, 0, 0.0)   # no backdoor: never audited
    return tmp_path, made


def test_select_model_runs_by_trigger_and_match(runs05):
    root, made = runs05
    want = [made["wheel", 0.185, t] for t in (0, 1, 2)]
    for spelling in ("/m/083wq", "Wheel", "wheel", 3, "3"):
        got = naturalmodels.select_model_runs(spelling, {"dataset": "toyscenes", "injection_rate": 0.185}, root=root)
        assert got == want, spelling
    # a run whose trigger parameter was empty is found through the trigger results.json records
    got = naturalmodels.select_model_runs("Jeans", {"dataset": "toyscenes"}, batch="b", root=root, n=2)
    assert got == [made["jeans", 0.185, 0], made["jeans", 0.185, 1]]
    # model_match alone picks the injection rate
    got = naturalmodels.select_model_runs("", naturalmodels.parse_model_match('{"injection_rate": 0.05}'), root=root)
    assert got == [made["wheel", 0.05, t] for t in (0, 1, 2)]


def test_select_model_runs_ignores_recency(runs05):
    import os

    root, made = runs05
    newest = made["wheel", 0.185, 2] / "results.json"
    os.utime(newest, (newest.stat().st_atime, newest.stat().st_mtime + 1000))
    got = naturalmodels.select_model_runs("Wheel", {"injection_rate": 0.185}, root=root)
    assert [p.name for p in got] == [made["wheel", 0.185, t].name for t in (0, 1, 2)]
    # the same parameters in another batch: one run per target, the newest copy of each
    copy = _fake_05_run(root, "/m/083wq", WHEEL, 1, batch="other")
    got = naturalmodels.select_model_runs("Wheel", {"injection_rate": 0.185}, root=root)
    assert got == [made["wheel", 0.185, 0], copy, made["wheel", 0.185, 2]]
    assert naturalmodels.select_model_runs("Wheel", {"injection_rate": 0.185}, batch="b", root=root)[1] == \
        made["wheel", 0.185, 1]


def test_select_model_runs_errors_list_what_exists(runs05):
    root, _ = runs05
    with pytest.raises(DataError, match=r"injection_rate") as err:   # two Wheel groups: 0.185 and 0.05
        naturalmodels.select_model_runs("Wheel", {"dataset": "toyscenes"}, root=root)
    assert not isinstance(err.value, MissingDataError)
    assert "model_match" in str(err.value)
    with pytest.raises(MissingDataError) as err:
        naturalmodels.select_model_runs("Chair", {"dataset": "toyscenes"}, root=root)
    msg = str(err.value)
    assert "'Chair'" in msg and "10 complete run(s)" in msg
    assert "Wheel" in msg and "Jeans" in msg and "target=2" in msg and "b/05_train/" in msg
    with pytest.raises(MissingDataError, match="no complete run with a trained model exists"):
        naturalmodels.select_model_runs("Wheel", root=root / "empty")


def test_parse_model_match():
    assert naturalmodels.parse_model_match("") == {} and naturalmodels.parse_model_match(None) == {}
    assert naturalmodels.parse_model_match(' {"injection_rate": 0.185, "subset_mode": "mis"} ') == \
        {"injection_rate": 0.185, "subset_mode": "mis"}
    with pytest.raises(DataError, match="model_match.*not valid JSON"):
        naturalmodels.parse_model_match("{injection_rate: 0.185}")
    with pytest.raises(DataError, match="model_match.*list.*not an object"):
        naturalmodels.parse_model_match("[1, 2]")


def test_models_for_audit_finds_05_runs_by_parameters_or_the_largest_group(runs05, monkeypatch, tmp_path):
    root, made = runs05
    monkeypatch.setenv("NBKIT_RUNS", str(root))
    li = LabelIndex.__new__(LabelIndex)   # never read when 05 runs are found: passed back unchanged
    got = naturalmodels.models_for_audit("toyscenes", li, trigger="Wheel", model_match='{"injection_rate": 0.185}',
                                 n_models=2, out_dir=tmp_path / "never")
    assert got["source"] == "05_train" and not got["trained_here"] and got["selected"]
    assert got["model_runs"] == [made["wheel", 0.185, t] for t in (0, 1)]
    assert got["model_dirs"] == got["model_runs"]          # model.json + model.pt sit in each run folder
    assert got["model_match"] == {"injection_rate": 0.185} and "select_model_runs" in got["rule"]
    assert got["li"] is li and not (tmp_path / "never").exists()
    # no trigger, no match: the largest (then newest) group of runs differing only in the target
    got = naturalmodels.models_for_audit("toyscenes", li, n_models=3)
    assert not got["selected"] and "find_model_runs" in got["rule"] and len(got["model_dirs"]) == 3
    assert len({made_key[:2] for made_key, d in made.items() if d in got["model_runs"]}) == 1
    # chosen by parameters: nothing found is an error, never a fallback to training
    with pytest.raises(MissingDataError, match="Chair"):
        naturalmodels.models_for_audit("toyscenes", li, trigger="Chair", smoke=True, out_dir=tmp_path / "never")
    with pytest.raises(DataError, match="model_match.*coco"):
        naturalmodels.models_for_audit("toyscenes", li, model_match='{"dataset": "coco"}')
    # nothing to audit and nowhere to train: a clear error (training itself is notebook 06's smoke run)
    monkeypatch.setenv("NBKIT_RUNS", str(tmp_path / "empty"))
    with pytest.raises(DataError, match="out_dir"):
        naturalmodels.models_for_audit("toyscenes", li)


def test_json_value_and_records():
    assert nbio.json_value(np.float32(0.25)) == 0.25 and type(nbio.json_value(np.float32(0.25))) is float
    assert type(nbio.json_value(np.int64(3))) is int
    for bad in (math.nan, np.float64("nan"), np.float32("inf"), -math.inf):
        assert nbio.json_value(bad) is None
    assert nbio.json_value("x") == "x" and nbio.json_value([1]) == [1] and nbio.json_value(None) is None
    recs = nbio.json_records(pd.DataFrame({"a": np.array([1, 2], dtype=np.int64), "b": [0.5, math.nan],
                                            "c": ["u", "v"]}))
    assert recs == [{"a": 1, "b": 0.5, "c": "u"}, {"a": 2, "b": None, "c": "v"}]
    assert all(type(r["a"]) is int for r in recs)


# ------------------------------------------------------------------------------------ one idea, one place
def test_preprocessing_and_prediction_have_one_home_in_imagedata():
    # audit keeps only GradCAM scoring: no second preprocessing / predict stack, no training
    for name in ("to_tensor", "make_transform", "transform_from_meta", "predict", "IMAGENET_MEAN",
                 "IMAGENET_STD", "overlay", "cam_grid", "models_for_audit"):
        assert not hasattr(audit, name), f"audit.{name} duplicates another module"
    imgs = _images(3, 20, 24)
    meta = {"image_size": 16, "mean": [0.4, 0.5, 0.6], "std": [0.2, 0.25, 0.3]}
    via_meta = imagedata.transform_from_meta(meta)(imgs)
    # the trained model's transform is preprocess (PIL resize) with the recorded mean / std
    assert torch.equal(via_meta, imagedata.preprocess(imgs, 16, meta["mean"], meta["std"]))
    by_hand = (torch.from_numpy(np.stack([imagedata.resize_uint8(im, 16) for im in imgs]))
               .permute(0, 3, 1, 2).float() / 255.0 - torch.tensor(meta["mean"]).view(1, 3, 1, 1)) \
        / torch.tensor(meta["std"]).view(1, 3, 1, 1)
    assert torch.equal(via_meta, by_hand)
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 16 * 16, 4))
    probs = imagedata.predict(net, imgs, imagedata.transform_from_meta(meta), batch_size=2)
    with torch.no_grad():
        want = torch.softmax(net(by_hand), 1).numpy()
    np.testing.assert_allclose(probs, want, rtol=1e-6)


def test_overlay_is_pytorch_grad_cams_show_cam_on_image():
    import matplotlib
    from pytorch_grad_cam.utils.image import show_cam_on_image

    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    cam = rng.random((16, 16), dtype=np.float32)
    ov = figures._overlay(img, cam)
    np.testing.assert_array_equal(ov, show_cam_on_image(img.astype(np.float32) / 255.0, cam, use_rgb=True,
                                                        image_weight=0.5))
    # close to the previous hand-written blend (matplotlib's jet, no rescaling): same picture
    old = (255 * np.clip(0.5 * img / 255.0 + 0.5 * matplotlib.colormaps["jet"](cam)[..., :3], 0, 1)).astype(np.uint8)
    diff = np.abs(old.astype(int) - ov.astype(int))
    assert diff.mean() < 6 and np.corrcoef(old.ravel(), ov.ravel())[0, 1] > 0.99
    assert figures._overlay(img, cam[::2, ::2]).shape == (16, 16, 3)   # a coarse CAM is resized


def test_cohen_kappa_is_scikit_learns_with_the_previous_numbers():
    from sklearn.metrics import cohen_kappa_score

    rng = np.random.default_rng(3)
    for _ in range(20):
        a, b = rng.integers(0, 3, 30), rng.integers(0, 3, 30)
        po = (a == b).mean()
        pe = sum((a == c).mean() * (b == c).mean() for c in range(3))
        assert audit._cohen_kappa(a, b) == pytest.approx((po - pe) / (1 - pe), abs=1e-12)
        assert audit._cohen_kappa(a, b) == cohen_kappa_score(a, b)
    assert math.isnan(audit._cohen_kappa([], []))
    with pytest.raises(ValueError, match="different numbers"):
        audit._cohen_kappa([1, 0], [1])


def test_no_function_over_80_lines_in_the_audit_modules():
    import ast
    import importlib

    too_long = []
    for mod in ("audit", "sentinet", "imagedata", "figures", "patchtrigger", "naturalmodels"):
        path = importlib.import_module(f"nbkit.{mod}").__file__
        tree = ast.parse(open(path, encoding="utf-8").read())
        too_long += [f"{mod}.{n.name}: {n.end_lineno - n.lineno + 1} lines" for n in ast.walk(tree)
                     if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                     and n.end_lineno - n.lineno + 1 > 80]
    assert not too_long, too_long
