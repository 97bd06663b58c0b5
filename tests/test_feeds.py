"""nbkit.feeds: every published cell of the paper is fed by a run of the paper batch (a dry run)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from nbkit import batch, feeds
from nbkit.errors import DataError

from conftest import REALDATA, REPO


def _paper_values() -> Path | None:
    cands = [Path(os.environ["NBKIT_PAPER"])] if os.environ.get("NBKIT_PAPER") else []
    cands += [REPO.parent / "shared" / "paper"] + ([REALDATA.parent / "paper"] if REALDATA else [])
    return next((c / "paper_values.csv" for c in cands if (c / "paper_values.csv").is_file()), None)


@pytest.fixture(scope="module")
def paper_cells():
    path = _paper_values()
    if path is None:
        pytest.skip("../shared/paper/paper_values.csv is absent (set NBKIT_PAPER to its folder)")
    return feeds.read_cells(path)


@pytest.fixture(scope="module")
def paper_batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("paper")
    return batch.load_batch("paper", runs_root=root / "runs", data_root=root / "data")


def test_every_paper_cell_is_fed_by_a_run_of_the_paper_batch(paper_cells, paper_batch):
    table = feeds.feed_table(paper_cells, paper_batch.runs)
    assert len(table) == len(paper_cells) > 50
    unfed = table[table["n_runs"] == 0]
    assert unfed.empty, "cells no run of batches/paper.yaml feeds:\n" + unfed.to_string()


def test_the_paper_batch_runs_each_cell_on_the_papers_dataset(paper_batch):
    runs = paper_batch.runs
    # Table 9, Figure 13 and Figure 14 on ImageNet jeans only; Table 10 on both datasets
    for key in ("Table 9", "Figure 13", "Figure 14"):
        mine = [r for r in runs if r.notebook == "05_train" and key in r.feeds]
        assert mine and {feeds.dataset_of(r.params) for r in mine} == {"imagenet"}, key
        assert {r.params["trigger"] for r in mine} == {"n03594734"}, key
    t10 = [r for r in runs if "Table 10" in r.feeds]
    assert {(feeds.dataset_of(r.params), r.params["n_added_classes"]) for r in t10} == {
        ("imagenet", 5), ("imagenet", 10), ("openimages", 5), ("openimages", 10)}
    # Figure 14 sweeps W over the paper's 20..60 at its stated 200 clean images and injection 0.2
    f14 = [r for r in runs if r.notebook == "05_train" and "Figure 14" in r.feeds]
    assert sorted({r.params["min_overlaps"] for r in f14}) == [20, 30, 40, 50, 60]
    # the 0.185 point of Figure 13 is the Figure 12 / Table 8 jean run (one run, three tables)
    both = [r for r in runs if {"Figure 13", "Figure 12", "Table 8"} <= set(r.feeds)]
    assert len(both) == 3 and {r.params["target"] for r in both} == {0, 1, 2}


def test_a_cell_is_fed_only_by_its_notebook_tag_dataset_and_setting(paper_batch):
    runs = paper_batch.runs
    dense = feeds.rule("Table 9", "ImageNet jeans", "DenseNet.trigger_acc")
    got = feeds._feeders(dense, runs)
    assert len(got) == 3 and all(r.params["arch"] == "densenet121" for r in got)
    # the same run with another tag, dataset or parameter does not feed it
    import dataclasses
    r0 = got[0]
    assert not dense.matches(dataclasses.replace(r0, feeds=["Figure 12"]))
    oi = dict(r0.params, dataset="openimages:/d/openimages")
    assert not dense.matches(dataclasses.replace(r0, params=oi))
    assert not dense.matches(dataclasses.replace(r0, params=dict(r0.params, arch="vgg16")))
    # defaults a batch leaves out come from the notebook (05's subset_mode = "mis")
    mis = feeds.rule("Table 8", "ImageNet", "centrality_mis.clean_acc")
    fed = feeds._feeders(mis, runs)
    assert fed and all("subset_mode" not in r.params for r in fed)
    assert feeds._resolved_params(fed[0])["subset_mode"] == "mis"
    # the section names are the report's; "Tables 6-7" feeds Table 6
    assert feeds.rule("Table 6", "ImageNet", "degree").section == "Tables 6-7"
    assert len(feeds._feeders(feeds.rule("Table 6", "ImageNet", "degree"), runs)) == 1


def test_unknown_cells_are_named():
    with pytest.raises(DataError, match="Table 11"):
        feeds.rule("Table 11", "ImageNet", "x")
    with pytest.raises(DataError, match="Table 9 column 'AlexNet.clean_acc'"):
        feeds.rule("Table 9", "ImageNet jeans", "AlexNet.clean_acc")
    with pytest.raises(DataError, match="unknown"):
        feeds.rule("Figure 16", "ImageNet", "wheel")
