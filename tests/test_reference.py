"""nbkit.reference: the paper's numbers as data, each with its source; the authors' shipped sets."""
from __future__ import annotations

import json

import pandas as pd
import pytest

from nbkit import reference
from nbkit.errors import DataError


def test_every_record_has_a_source_and_none_means_a_note():
    n = 0
    for path, rec in reference.records():
        n += 1
        assert set(rec) == {"value", "source", "note"}, path
        assert rec["source"].startswith(("paper", "authors'", "ILSVRC", "kit task spec")), (path, rec)
        if rec["value"] is None:
            assert "not established" in rec["note"], path
            assert rec["source"].startswith("paper"), "only paper numbers can be missing"
    assert n > 50


def test_sections_are_json_able():
    json.dumps(reference.SECTIONS)
    json.dumps(reference.CALIBRATION)


def test_known_values():
    # App. B / Figure 7
    assert reference.CALIBRATION == {"threshold": 0.994, "false_positives": 14, "false_negatives": 16,
                                     "n_images": 20, "sweep": (0.900, 1.000, 0.001)}
    assert reference.lookup("FIGURE7", "threshold") == 0.994
    sweep = dict((t, (fp, fn)) for t, fp, fn in reference.lookup("FIGURE7", "sweep_authors"))
    assert sweep[0.994] == (14, 16)  # the authors' recorded sweep agrees with the paper's choice
    # App. D
    assert reference.lookup("APP_D", "largest_pair_classes") == 111
    assert reference.lookup("APP_D", "share_pairs_above_30") == 0.88
    assert reference.lookup("APP_D", "n_pairs") == 625
    # Figure 16
    assert reference.lookup("FIGURE16", "imagenet", "jeans") == 57.3
    assert reference.lookup("FIGURE16", "imagenet", "chainlink fence") == 57.3
    assert reference.lookup("FIGURE16", "imagenet", "doormat") == 74.6
    assert reference.lookup("FIGURE16", "openimages", "wheel") == 28.0
    assert reference.lookup("FIGURE16", "openimages", "jeans") == 41.3
    assert reference.lookup("FIGURE16", "openimages", "chair") == 82.6


def test_figure16_agrees_with_the_audit_module():
    audit = pytest.importorskip("nbkit.audit")
    ours = {ds: {t: r["value"] for t, r in d.items()} for ds, d in reference.FIGURE16.items()}
    theirs = {ds: {t.lower(): v for t, v in d.items()} for ds, d in audit.PAPER_FIG16.items()}
    assert ours == theirs


def test_unestablished_values_are_listed_not_invented():
    missing = dict(reference.not_established())
    assert "TABLE8.openimages.centrality_with_mis.clean_acc" in missing
    assert missing["TABLE9.openimages.resnet50.trigger_acc"] == "paper, Table 9"
    assert reference.lookup("TABLE5", "openimages", "classes") is None
    # values recorded by the authors are kept apart from the paper's
    assert reference.lookup("TABLE5_AUTHORS", "openimages", "classes") == 486
    assert reference.record("TABLE5_AUTHORS", "openimages", "classes")["source"].startswith("authors'")


def test_lookup_errors_name_what_exists():
    with pytest.raises(DataError, match="one of"):
        reference.lookup("FIGURE16", "coco")
    with pytest.raises(DataError, match="no section"):
        reference.lookup("TABLE99")
    with pytest.raises(DataError, match="a group"):
        reference.lookup("FIGURE16", "imagenet")


def test_artifacts_name_a_notebook_for_every_table_and_figure():
    names = set(reference.ARTIFACTS)
    for want in ["Figure 7", "Table 5", "Figures 8-11", "Tables 6-7", "Table 8", "Table 9", "Table 10",
                 "Figure 12", "Figure 13", "Figure 14", "Figure 15", "Figure 16", "Figure 17", "App. D"]:
        assert want in names
    assert {nb for nb, _ in reference.ARTIFACTS.values()} == {
        "01_calibration", "02_cooccurrence", "03_centrality", "04_subsets", "05_train", "06_sentinet"}


def test_authors_trigger_class_sets_shipped_with_attribution(realdata):
    df = reference.authors_trigger_class_sets()
    assert len(df) == 45 and set(df["dataset"]) == {"openimages", "imagenet"}
    assert (df["repository"] == "uchicago-sandlab/naturalbackdoors").all()
    assert df["licence"].str.contains("MIT").all()
    wheel = df[(df.dataset == "openimages") & (df.centrality == "betweenness") & (df.trigger_id == 328)]
    assert wheel.iloc[0]["class_ids"] == [68, 318, 379, 312, 484, 251, 282, 361, 4, 75]
    assert all(len(a) == len(b) for a, b in zip(df["class_ids"], df["class_names"]))
    assert len(reference.authors_trigger_class_sets(None)) == 55
    with pytest.raises(DataError, match="no rows with purpose"):
        reference.authors_trigger_class_sets("nonesuch")
    # the shipped copy equals the realdata original (plus the attribution columns)
    orig = pd.read_csv(realdata / "naturalbackdoors_reference" / "authors_trigger_class_sets.csv",
                       dtype=str, keep_default_na=False)
    ship = pd.read_csv(reference.AUTHORS_SETS_FILE, dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(ship[orig.columns], orig)


def test_authors_sets_class_ids_match_the_embedded_openimages_classes(realdata):
    import numpy as np

    npz = np.load(realdata / "naturalbackdoors_reference" / "openimages_bbox_cooccurrence.npz")
    names = [str(x) for x in npz["names"]]
    df = reference.authors_trigger_class_sets()
    oi = df[df.dataset == "openimages"]
    for _, row in oi.iterrows():
        assert names[row.trigger_id] == row.trigger_name
        assert [names[c] for c in row.class_ids] == row.class_names
