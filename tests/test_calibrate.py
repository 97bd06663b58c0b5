"""Threshold calibration (App. B, Figure 7) on constructed cases whose FP/FN counts are known by hand."""
from __future__ import annotations

import ast
import re

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

from nbkit import calibrate as K
from nbkit import labelmaps as L
from nbkit.errors import DataError, MissingDataError
from nbkit.reference import CALIBRATION

AUTHORS_SWEEP = pd.DataFrame({"threshold": K.thresholds(0.990, 0.999),
                              "fp": [18, 18, 17, 16, 14, 14, 14, 14, 14, 12],
                              "fn": [15, 15, 15, 15, 16, 16, 16, 18, 19, 19]})


def test_thresholds_exact_101_values():
    t = K.thresholds(0.900, 1.000, 0.001)
    assert len(t) == 101
    assert np.array_equal(t, np.arange(900, 1001) / 1000)
    assert t[94] == 0.994 and t[0] == 0.9 and t[-1] == 1.0
    assert len(K.thresholds(0.990, 0.999)) == 10
    assert K.thresholds(0.5, 0.6, 0.05).tolist() == [0.5, 0.55, 0.6]
    with pytest.raises(ValueError):
        K.thresholds(1.0, 0.9)


def test_sweep_counts_on_a_hand_made_case():
    # 3 images x 4 classes; counts worked out by hand below
    conf = np.array([[0.9990, 0.9500, 0.0, 0.9930],
                     [0.0, 0.9965, 0.9995, 0.0],
                     [0.9200, 0.0, 0.0, 0.9999]])
    truth = np.array([[True, False, False, True],
                      [False, True, False, True],
                      [False, False, False, True]])
    df = K._sweep(conf, truth, [0.90, 0.95, 0.993, 0.994, 0.997, 1.0])
    # negatives: .95 (img0,c1), .9995 (img1,c2), .92 (img2,c0)  -> FP = negatives >= t
    # positives: .999, .993, .9965, 0 (img1,c3 missing), .9999   -> FN = positives < t
    assert df["fp"].tolist() == [3, 2, 1, 1, 1, 0]
    assert df["fn"].tolist() == [1, 1, 1, 2, 3, 5]
    assert df["fp_plus_fn"].tolist() == [4, 3, 2, 3, 4, 5]
    assert (df["n_true"] == 5).all()
    strict = K._sweep(conf, truth, [0.993], comparison=">")
    assert strict["fn"].tolist() == [2]           # 0.993 itself no longer passes
    # the sweep is exactly decode() at each threshold
    for t, fp, fn in df[["threshold", "fp", "fn"]].itertuples(index=False):
        pred = conf >= t
        assert fp == (pred & ~truth).sum() and fn == (~pred & truth).sum()


def test_sweep_shape_mismatch_is_a_data_error():
    with pytest.raises(DataError, match="shape"):
        K._sweep(np.zeros((2, 3)), np.zeros((2, 4), bool))


def test_choose_reproduces_the_paper_on_the_authors_sweep():
    c = K._choose(AUTHORS_SWEEP)
    assert (c["threshold"], c["fp"], c["fn"]) == (CALIBRATION["threshold"],
                                                   CALIBRATION["false_positives"],
                                                   CALIBRATION["false_negatives"])
    assert c["rule"] == "crossing" and c["crossing"]["curves_cross"]
    assert c["balanced"]["threshold"] == 0.993           # min |FP - FN| = 1 there
    assert c["min_total"] == {"threshold": 0.994, "fp": 14, "fn": 16, "fp_plus_fn": 30}
    assert K._choose(AUTHORS_SWEEP, "balanced")["threshold"] == 0.993


def test_choose_tie_breaks():
    df = pd.DataFrame({"threshold": [0.1, 0.2, 0.3, 0.4, 0.5],
                       "fp": [9, 5, 4, 3, 1],
                       "fn": [0, 3, 4, 5, 6]})
    c = K._choose(df)
    assert c["crossing"]["threshold"] == 0.3                   # first fn >= fp
    assert c["balanced"]["threshold"] == 0.3                   # |diff| 0
    assert c["min_total"]["threshold"] == 0.5                  # 7
    tie = pd.DataFrame({"threshold": [0.1, 0.2, 0.3], "fp": [4, 3, 1], "fn": [2, 5, 3]})
    # |FP - FN| = 2 everywhere -> the smallest FP + FN (0.3: 4) wins
    assert K._choose(tie, "balanced")["threshold"] == 0.3
    flat = pd.DataFrame({"threshold": [0.1, 0.2, 0.3], "fp": [2, 1, 0], "fn": [2, 1, 0]})
    assert K._choose(flat, "balanced")["threshold"] == 0.3      # |diff| 0 everywhere, total 0
    same = pd.DataFrame({"threshold": [0.1, 0.2], "fp": [1, 1], "fn": [1, 1]})
    assert K._choose(same, "balanced")["threshold"] == 0.1      # full tie -> lowest threshold
    assert K._choose(same, "min_total")["threshold"] == 0.1
    never = pd.DataFrame({"threshold": [0.1, 0.2], "fp": [5, 4], "fn": [0, 1]})
    c = K._choose(never)
    assert c["threshold"] == 0.2 and not c["crossing"]["curves_cross"]
    with pytest.raises(DataError, match="columns"):
        K._choose(pd.DataFrame({"threshold": [0.1]}))
    with pytest.raises(ValueError, match="rule"):
        K._choose(df, "median")


def _write_wnid_maps(root, wnids, n_classes=1000):
    """Two ReLabel-layout maps (<wnid>/<id>.pt) with known confidences; returns hand labels."""
    a, b, c = 10, 20, 30
    m1 = np.zeros((2, 5, 15, 15), np.float32)
    m1[1] = np.array([900, 901, 902, 903, 904], np.float32)[:, None, None]   # background: p 0.2
    m1[0, 0, 4, 4], m1[1, 0, 4, 4] = 8.0, a      # p ~0.99866: present up to 0.998
    m1[0, 0, 9, 9], m1[1, 0, 9, 9] = 5.0, b      # p ~0.97377: present up to 0.973
    m2 = m1.copy()
    m2[0, 0, 9, 9], m2[1, 0, 9, 9] = 0.0, 903
    m2[0, 0, 2, 2], m2[1, 0, 2, 2] = 6.0, c      # p ~0.99019
    for k, m in enumerate([m1, m2]):
        d = root / wnids[0]
        L.save_map(d / f"{wnids[0]}_{k}.pt", m)
    # hand labels: image 0 has a and c (c missed by the maps; b is a false positive);
    # image 1 has a only (c is a false positive)
    return pd.DataFrame({"image_id": [f"{wnids[0]}_0", f"{wnids[0]}_1"],
                         "labels": [f"{wnids[a]};{wnids[c]}", wnids[a]]})


def test_calibrate_directory_on_relabel_layout_with_wnids(tmp_path):
    from nbkit.datasets.relabel import imagenet_classes

    wnids = imagenet_classes()["wnid"].tolist()
    hl = _write_wnid_maps(tmp_path / "maps", wnids)
    hl.to_csv(tmp_path / "hand.csv", index=False)
    out = K.calibrate_directory(tmp_path / "maps", tmp_path / "hand.csv",
                                levels=[0.9, 0.95, 0.98, 0.995, 0.999])
    assert out["class_source"].startswith("ImageNet")
    df = out["sweep"]
    # FP: b (0.974) in image 0, c (0.990) in image 1; FN: c in image 0 (never predicted), and a
    # (0.99866) in both images once the threshold passes it
    assert df["fp"].tolist() == [2, 2, 1, 0, 0]
    assert df["fn"].tolist() == [1, 1, 1, 1, 3]
    assert out["choice"]["threshold"] == 0.98
    assert out["truth"].shape == (2, 1000)


def test_hand_label_errors(tmp_path):
    with pytest.raises(MissingDataError, match="absent.csv"):
        K._read_hand_labels(tmp_path / "absent.csv")
    p = tmp_path / "h.csv"
    p.write_text("image,labels\nx,1\n")
    with pytest.raises(DataError, match=r"h\.csv.*image_id"):
        K._read_hand_labels(p)
    p.write_text("image_id,labels\nx,cat;dog\n")
    with pytest.raises(DataError, match=r"line 2 \(image x\): unknown class label 'dog'"):
        K._read_hand_labels(p, ["cat", "bird"])
    p.write_text("image_id,labels\nx,3\n")
    with pytest.raises(DataError, match="out of range"):
        K._read_hand_labels(p, None, n_classes=2)
    ids, truth = K._read_hand_labels(p, None, n_classes=5)
    assert ids == ["x"] and truth[0].tolist() == [False, False, False, True, False]


def test_label_template_round_trip(tmp_path):
    p = K.write_label_template(tmp_path / "t.csv", ["a", "b"], [["cat", "dog"], []])
    df = pd.read_csv(p, dtype=str, keep_default_na=False)
    assert df.columns.tolist() == ["image_id", "labels", "suggested"]
    assert df["suggested"].tolist() == ["cat;dog", ""]
    with pytest.raises(DataError, match="empty for every image"):
        K._read_hand_labels(p, ["cat", "dog"])
    df.loc[0, "labels"] = "dog"
    df.to_csv(p, index=False)
    ids, truth = K._read_hand_labels(p, ["cat", "dog"])
    assert truth.tolist() == [[False, True], [False, False]]


def test_figures():
    c = K._choose(AUTHORS_SWEEP)
    fig = K.plot_sweep(AUTHORS_SWEEP, c, reference=CALIBRATION)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any("ours: 0.994" in s for s in labels) and any("paper: 0.994" in s for s in labels)
    imgs = [np.zeros((8, 8, 3), np.uint8)] * 3
    g = K.labelling_grid(imgs, [["a"], [], ["b", "c"]], titles=["x", "y", "z"],
                         truth_labels=[["a"], ["d"], ["b"]], ncols=2)
    texts = [ax.get_title() for ax in g.axes]
    assert any("-d" in t for t in texts) and any("+c" in t for t in texts)
    import matplotlib.pyplot as plt

    plt.close("all")


def test_authors_recorded_sweep_from_realdata(realdata):
    """The sweep the authors' relabel.ipynb printed (cell 19) picks 0.994 with 14 FP / 16 FN."""
    text = (realdata / "naturalbackdoors_reference" / "notebook_outputs"
            / "relabel_ipynb_outputs.txt").read_text()
    block = re.search(r"---- cell 19 .*?\n(\[.*?\])\n", text, re.S).group(1)
    rows = ast.literal_eval(block)
    df = pd.DataFrame(rows, columns=["threshold", "fp", "fn"])
    c = K._choose(df)
    assert (c["threshold"], c["fp"], c["fn"]) == (0.994, 14, 16)


# --------------------------------------------------------------------------------------- notebook 01's steps
@pytest.fixture(scope="module")
def toy_sample(tmp_path_factory):
    """A 12-image toy ReLabel sample (maps, pictures, hand labels) and its dataset."""
    from nbkit.datasets import toyscenes as T

    li = T.load_toyscenes(seed=0, n_images=300, progress=False, cache=False)
    d = tmp_path_factory.mktemp("sample")
    T.write_relabel_sample(d, n=12, seed=0, li=li)
    return li, d


def test_effective_sizes_shrink_only_in_smoke_runs():
    assert K.effective_sizes(False, 1000) == {"dataset_images": None, "large_sample": 1000,
                                              "draws": 200, "size_draws": 200}
    assert K.effective_sizes(True, 1000)["large_sample"] == 200
    assert K.effective_sizes(True, 0)["large_sample"] == 0  # 0 still skips the study


def test_prepare_sample_modes(tmp_path):
    real = K.prepare_sample(tmp_path, relabel_dir=str(tmp_path))
    assert real["mode"] == "real" and real["li"] is None
    assert real["labels_csv"] == tmp_path / "hand_labels.csv" and "0 maps" in real["text"]
    with pytest.raises(ValueError, match="needs toy scenes"):
        K.prepare_sample(tmp_path, dataset="voc:somewhere")


def test_rules_table_on_the_authors_sweep():
    rec = AUTHORS_SWEEP.values.tolist()
    t = K.rules_table(K._choose(AUTHORS_SWEEP), rec).set_index(["rule", "source"])
    assert t.loc[("crossing", "authors' recorded sweep"), "threshold"] == 0.994
    assert t.loc[("balanced", "ours"), ["fp", "fn"]].tolist() == [16, 15]
    assert len(t) == 2 * len(K._RULES)


def test_choice_text_names_ours_and_the_papers():
    txt = K.choice_text({"rule": "balanced", "threshold": 0.993, "fp": 16, "fn": 15})
    assert txt.startswith("chosen (balanced): 0.993 -> 16 FP, 15 FN")
    assert f"paper: {CALIBRATION['threshold']:.3f}" in txt


def test_notebook_steps_on_a_toy_sample(toy_sample):
    from nbkit.schema import SCHEMAS

    li, d = toy_sample
    levels = K.thresholds(0.95, 1.0, 0.005)
    cal = K.calibrate_directory(d, levels=levels)
    at = cal["choice"]["threshold"]
    opts = K.decoding_options(d, d / "hand_labels.csv", levels, "crossing", at=at)
    assert opts["decoding"].tolist() == list(K.DECODING_VARIANTS)
    assert opts.loc[0, "chosen_threshold"] == at  # the paper's decoding reproduces the choice
    assert opts.loc[0, f"fp_at_{at:.3f}"] == cal["choice"]["fp"]
    aid = K.labelling_aid(cal, at, d)
    pred, truth = aid["predicted"], aid["truth"]
    assert len(pred) == len(truth) == 12 and all(isinstance(x, str) for t in truth for x in t)
    assert len(aid["images"]) == 12 and aid["images"][0].ndim == 3
    assert K._sample_images(d, ["no_such_image"]) is None
    K.label_map_figure(cal, d)
    study = K.large_sample_study(li, 12, levels, large_sample=60, draws=5, size_draws=3)
    again = K.large_sample_study(li, 12, levels, large_sample=60, draws=5, size_draws=3)
    assert np.array_equal(study["draws"], again["draws"])  # seeded
    assert study["by_size"]["sample_size"].tolist() == [10, 12, 20, 50]  # sizes below the 60 drawn
    K.plot_variability(study, cal["choice"], 0.95, 1.0, 0.005)
    large = K._large_sample_record(study)
    assert large["draws"] == 5 and large["n_images"] == 60
    assert large["fp_per_sample"] == study["choice"]["fp"] * 12 / 60
    res = K.calibration_results(cal, opts, study, mode="toy", dataset="toyscenes", relabel_dir="",
                                timing={"sample_s": 1.0})
    SCHEMAS["01_calibration"].check(res, "test")
    assert res["large_sample"] == large
    assert res["threshold"] == at and res["n_true_labels"] == int(cal["truth"].sum())
    real = K.calibration_results(cal, opts, None, mode="real",
                                 dataset="toyscenes", relabel_dir=str(d), timing={})
    SCHEMAS["01_calibration"].check(real, "test")  # real mode: no large sample (null)
    assert real["dataset"] == str(d) and real["large_sample"] is None
