"""nbkit.reference: the paper's numbers as typed data, checked cell by cell against
``../shared/paper/paper_values.csv``; the lookups, the trigger-name normaliser, the authors' sets."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from nbkit import reference
from nbkit.errors import DataError

REPO = Path(__file__).resolve().parents[1]
#: ../shared/paper beside the checkout (or shared/paper inside it; $NBKIT_PAPER names another folder)
PAPER_DIRS = [Path(p) for p in [os.environ.get("NBKIT_PAPER", "")] if p] + [
    REPO.parent / "shared" / "paper", REPO / "shared" / "paper"]
PAPER_CSV = next((d / "paper_values.csv" for d in PAPER_DIRS if (d / "paper_values.csv").is_file()),
                 PAPER_DIRS[-2] / "paper_values.csv")


@pytest.fixture(scope="module")
def paper_csv() -> list[dict]:
    """The rows of ../shared/paper/paper_values.csv (the test oracle); skipped when absent."""
    if not PAPER_CSV.is_file():
        pytest.skip(f"{PAPER_CSV} is absent: the paper's values live in ../shared/paper beside the "
                    "checkout (set NBKIT_PAPER to that folder)")
    with PAPER_CSV.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert rows and set(rows[0]) == {"table", "row", "column", "value", "plus_minus", "unit", "note"}
    return rows


def _number(text: str):
    try:
        return float(text)
    except ValueError:
        return None


def cell_differences(rows: list[dict]) -> list[str]:
    """Every CSV cell missing from nbkit.reference or differing from it (value, ±, unit)."""
    bad = []
    for r in rows:
        where = f"{r['table']} / {r['row']} / {r['column']}"
        try:
            rec = reference.cell(r["table"], r["row"], r["column"])
        except DataError as e:
            bad.append(f"{where}: missing ({e})")
            continue
        if rec["printed"] != r["value"]:
            bad.append(f"{where}: printed {rec['printed']!r}, the paper {r['value']!r}")
        num = _number(r["value"])
        if num is not None and rec["value"] != num:
            bad.append(f"{where}: value {rec['value']!r}, the paper {num!r}")
        if rec["unit"] == "names" and " + " not in r["value"]:
            if rec["value"] != tuple(x.strip() for x in r["value"].split(";")):
                bad.append(f"{where}: names {rec['value']!r}, the paper {r['value']!r}")
        pm = _number(r["plus_minus"]) if r["plus_minus"] else None
        if rec["plus_minus"] != pm:
            bad.append(f"{where}: ± {rec['plus_minus']!r}, the paper {r['plus_minus']!r}")
        if rec["unit"] != r["unit"]:
            bad.append(f"{where}: unit {rec['unit']!r}, the paper {r['unit']!r}")
        if not rec["source"].startswith("paper, "):
            bad.append(f"{where}: source {rec['source']!r} is not the paper")
    return bad


def test_every_paper_cell_is_in_reference_and_equal(paper_csv):
    assert cell_differences(paper_csv) == []
    assert len(paper_csv) == 60
    # and the check bites: a changed value, ±, unit and trigger name, and a missing cell
    changed = {(r["table"], r["row"], r["column"]): dict(r) for r in paper_csv}
    changed["Table 5", "ImageNet", "classes"]["value"] = "999"
    changed["Table 8", "ImageNet", "no_backdoor.clean_acc"]["plus_minus"] = "3"
    changed["Table 10", "Open Images", "added_5.clean_acc"]["unit"] = "count"
    changed["Table 6", "ImageNet", "degree"]["value"] = changed["Table 6", "ImageNet", "degree"][
        "value"].replace("bow tie", "bowtie")
    changed["Table 8", "ImageNet", "nonesuch.clean_acc"] = {
        "table": "Table 8", "row": "ImageNet", "column": "nonesuch.clean_acc", "value": "1",
        "plus_minus": "", "unit": "%", "note": ""}
    flagged = {d.split(":")[0] for d in cell_differences(list(changed.values()))}
    assert flagged == {"Table 5 / ImageNet / classes", "Table 8 / ImageNet / no_backdoor.clean_acc",
                       "Table 10 / Open Images / added_5.clean_acc", "Table 6 / ImageNet / degree",
                       "Table 8 / ImageNet / nonesuch.clean_acc"}


def test_paper_cells_cover_the_csv_tables_and_the_stated_settings(paper_csv):
    csv_keys = {(r["table"], r["row"], r["column"]) for r in paper_csv}
    ours = {(c["table"], c["row"], c["column"]) for c in reference.cells()}
    assert csv_keys <= ours
    # every other cell is a setting the text states (the CSV keeps those in its notes)
    assert {t for t, _, _ in ours - csv_keys} == {"Settings"}
    # trigger lists: 16 of them, Table 6 unweighted, Table 7 weighted, both datasets
    lists = [c for c in reference.cells() if c["unit"] == "names" and c["table"] in ("Table 6", "Table 7")]
    assert len(lists) == 16
    assert all(isinstance(c["value"], tuple) for c in lists)
    assert {c["column"].endswith("_WT") for c in lists if c["table"] == "Table 7"} == {True}
    assert {c["column"].endswith("_WT") for c in lists if c["table"] == "Table 6"} == {False}


def test_records_are_typed_and_sourced():
    for path, rec in reference._records():
        assert set(rec) == set(reference._RECORD_KEYS), path
        assert rec["value"] is not None, path
        assert rec["source"].startswith(("paper, ", "authors' ")), (path, rec["source"])
        if rec["source"].startswith("paper, "):
            assert isinstance(rec["printed"], str), path
        else:
            assert rec["printed"] is None, "the authors' values are not printed in the paper"
    json.dumps(reference._SECTIONS)
    json.dumps(reference.cells())
    # numbers are numbers, ± kept, units kept
    r = reference.cell("Table 10", "ImageNet", "added_10.trigger_acc")
    assert (r["value"], r["plus_minus"], r["unit"]) == (58, 2, "%")
    assert reference.value("Table 5", "ImageNet", "images") == 1_300_000
    assert reference.cell("Table 5", "ImageNet", "images")["printed"] == "1.3M (training)"
    assert reference.value("Settings", "App. D Table 10 / Fig 15", "subset")["injection_rate"] == 0.185
    assert reference.value("Settings", "App. D Fig 14", "injection_rate") == 0.2
    assert reference.value("Settings", "App. D Fig 14", "W_sweep") == {"from": 20, "to": 60,
                                                                       "spacing": "linear"}
    assert reference.value("Settings", "§5.3", "max_overlaps_in_subset") == -1
    assert reference.value("App. D", "Open Images", "largest_overlap_pair") == ("chain link fence", "website")


def test_thresholds_credited_to_the_paper_and_sentinet_to_app_f():
    s = reference.SETTINGS["Tables 6-7"]
    assert [s[k]["value"] for k in ("min_clean_per_class", "min_poison_per_class", "min_classes")] == [200, 50, 5]
    assert all(s[k]["source"].startswith("paper, ") for k in s)
    app_f = reference.SETTINGS["App. F"]
    assert {k: r["value"] for k, r in app_f.items()} == {"trigger_images_per_model": 25,
                                                        "models_per_dataset": 3, "inspectors": 2}
    assert all(r["source"] == "paper, App. F" for r in app_f.values())
    assert not any("App. G" in rec["source"] for _, rec in reference._records())


def test_lookups_by_address_table_and_section():
    assert reference.value("Figure 16", "Open Images", "chair") == 82.6
    # addresses are matched case-, space- and punctuation-insensitively; kit dataset keys work
    assert reference.cell("table 8", "imagenet", "Centrality_MIS.clean_acc") is \
        reference._TABLE8["ImageNet"]["centrality_mis.clean_acc"]
    assert reference.value("TABLE 7", "openimages", "closeness_WT") == ("dress", "sunglasses")
    assert reference._lookup("FIGURE16", "openimages", "chair") == 82.6
    assert reference._lookup("TABLE5_AUTHORS", "openimages", "classes") == 486
    t = reference.table("Table 9")
    assert list(t.columns[:3]) == ["table", "row", "column"] and len(t) == 8
    assert t.set_index("column").loc["ResNet.trigger_acc", "plus_minus"] == 2
    assert [c["column"] for c in reference.cells("Figure 7")] == ["threshold", "false_positives",
                                                                  "false_negatives"]
    assert reference.CALIBRATION == {"threshold": 0.994, "false_positives": 14, "false_negatives": 16,
                                     "n_images": 20, "sweep": (0.900, 1.000, 0.001)}
    assert set(reference.ARCHITECTURES) == {c.split(".")[0] for c in reference._TABLE9["ImageNet jeans"]}
    assert reference.DATASET_ROWS == {"imagenet": "ImageNet", "openimages": "Open Images"}


def test_lookup_errors_name_what_exists():
    with pytest.raises(DataError, match="Open Images"):
        reference.cell("Figure 16", "COCO", "chair")
    with pytest.raises(DataError, match="Table 5"):
        reference.cell("Table 99", "ImageNet", "classes")
    with pytest.raises(DataError, match="FIGURE16"):
        reference._lookup("TABLE99")
    with pytest.raises(DataError, match="a group"):
        reference._lookup("FIGURE16", "imagenet")
    with pytest.raises(DataError, match="Table 5"):
        reference.cells("Table 99")


def test_figures_without_printed_numbers():
    for item in ("Figure 12", "Figure 13", "Figure 14", "Figure 15"):
        assert reference.no_numbers(item) == f"{item} prints no numbers in the text"
    assert reference.no_numbers("figure 16") is None
    assert not any(c["table"] in reference.NO_NUMBERS for c in reference.cells())


def test_trigger_names_compare_case_and_space_insensitively():
    n = reference._normalise_name
    assert n("T-shirt") == n("t-shirt") == n("t shirt") and n("bow tie") == n("bowtie")
    assert reference._same_trigger("chain link fence", "chainlink fence")
    assert reference._same_trigger("website", "web site")
    # the paper's ImageNet spellings meet the class list's names (nbkit's display names)
    assert reference._same_trigger("T-shirt", "jersey") and reference._same_trigger("blue jean", "jean")
    assert reference._same_trigger("jeans", "blue jean", "imagenet")
    assert reference._same_trigger("suit of clothes", "suit") and reference._same_trigger("flowerpot", "pot")
    assert not reference._same_trigger("wheel", "chair")
    assert not reference._same_trigger("jeans", "dress", "openimages")
    assert reference.trigger_key("Jeans", "Open Images") == "jeans"
    assert reference._imagenet_wnid("n03594734") == "n03594734"
    assert reference._imagenet_wnid("crane") is None          # two ImageNet classes: never guessed


def test_every_imagenet_name_the_paper_prints_is_mapped_explicitly():
    from nbkit.datasets.relabel import imagenet_classes

    printed = set()
    for t in ("Table 6", "Table 7"):
        for rec in reference.PAPER_VALUES[t]["ImageNet"].values():
            printed |= set(rec["value"])
    printed |= set(reference.FIGURE16["ImageNet"])
    printed |= set(reference.value("App. D", "Open Images", "largest_overlap_pair"))  # ImageNet names
    assert printed <= set(reference._IMAGENET_NAMES)
    classes = imagenet_classes().set_index("wnid")
    for name, wnid in reference._IMAGENET_NAMES.items():
        synonyms = {reference._normalise_name(s) for s in classes.loc[wnid, "label"].split(",")}
        if name != "jeans":                     # the paper's plural of "jean, blue jean, denim"
            assert reference._normalise_name(name) in synonyms, (name, wnid)


def test_artifacts_name_a_notebook_for_every_table_and_figure():
    names = set(reference.ARTIFACTS)
    for want in ["Figure 7", "Table 5", "Figures 8-11", "Tables 6-7", "Table 8", "Table 9", "Table 10",
                 "Figure 12", "Figure 13", "Figure 14", "Figure 15", "Figure 16", "Figure 17", "App. D"]:
        assert want in names
    assert {nb for nb, _ in reference.ARTIFACTS.values()} == {
        "01_calibration", "02_cooccurrence", "03_centrality", "04_subsets", "05_train", "06_sentinet"}


def test_data_kinds():
    from nbkit.datasets import DATA_KINDS, data_kind

    assert DATA_KINDS == ("toy scenes", "authors' counts", "real data")
    assert data_kind("toyscenes") == data_kind("toyscenes:3?n_images=100") == "toy scenes"
    assert data_kind("openimages-counts") == data_kind("openimages-counts (candidates)") == "authors' counts"
    for spec in ("openimages:/data/oi", "relabel:maps?images=imagenet/train", "coco:x.json",
                 "counts:m.npz", "voc:VOC2007"):
        assert data_kind(spec) == "real data", spec
    assert data_kind({"dataset": "toyscenes:1", "seed": 0}) == "toy scenes"
    assert data_kind("") == data_kind(None) == "toy scenes"          # no spec: every notebook's default
    assert data_kind("imagenet") == "real data"      # a label no adapter knows: the user's data
    assert data_kind({"relabel_dir": "/d/maps"}) == "real data" and data_kind({}) == "toy scenes"


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
    from nbkit.datasets import packaged
    ship = pd.read_csv(packaged(reference._AUTHORS_SETS_FILE), dtype=str, keep_default_na=False)
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
