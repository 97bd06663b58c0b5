"""The miniature paper: the paper batch's data in the upstream layouts, and the paper batch run end to end.

``nbkit.minipaper`` writes Open Images V6 and ImageNet + ReLabel files (a few hundred toy-rendered
images, the paper batch's class ids) and shrinks ``batches/paper.yaml`` (same entries, smaller sizes);
the slow test runs every notebook of it, 01 to the report, on a CPU.
"""
from __future__ import annotations

import csv
import json
import time

import pandas as pd
import pytest
import yaml

from nbkit import batch, feeds, labelmaps, minipaper, report
from nbkit.cooccurrence import from_labelindex
from nbkit.datasets import load_dataset

from test_feeds import _paper_values


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    root = tmp_path_factory.mktemp("minipaper")
    info = minipaper.write_fixtures(root / "data")
    path = minipaper.miniature_batch(root / "paper_mini.yaml")
    return root, info, path


def test_fixtures_are_in_the_upstream_layouts(mini):
    root, info, _ = mini
    oi = root / "data" / "openimages"
    head = (oi / "oidv6-train-annotations-bbox.csv").read_text().splitlines()[0]
    assert head == minipaper._OI_TRAIN_HEADER and head.endswith("XClick4Y")
    for s in ("validation", "test"):
        assert (oi / f"{s}-annotations-bbox.csv").read_text().splitlines()[0] == minipaper._OI_HEADER
        assert any((oi / s).glob("*.jpg"))
    first = (oi / "oidv6-class-descriptions.csv").read_text().splitlines()[0]
    assert first.startswith("/m/") and "DisplayName" not in first          # V6: no header row
    ids = {p.stem for p in (oi / "train").glob("*.jpg")}
    assert ids and all(len(i) == 16 and int(i, 16) >= 0 for i in ids)      # 16 hex digits
    human = list(csv.reader(open(oi / "oidv6-train-annotations-human-imagelabels.csv")))
    assert human[0] == ["ImageID", "Source", "LabelName", "Confidence"] and {r[3] for r in human[1:]} == {"0", "1"}
    maps = sorted((root / "data" / minipaper._MAPS_DIR).glob("n*/n*_*.pt"))
    imgs = sorted((root / "data" / "imagenet" / "train").glob("n*/n*_*.JPEG"))
    assert len(maps) == len(imgs) == info["imagenet"]["n_images"]
    assert [p.relative_to(p.parents[1]).with_suffix("") for p in maps] == \
        [p.relative_to(p.parents[1]).with_suffix("") for p in imgs]       # <wnid>/<wnid>_<n> in both
    assert labelmaps.load_map(maps[0]).shape == (2, 5, 15, 15)
    hand = list(csv.DictReader(open(root / "data" / "relabel_imagenet" / "hand_labels.csv")))
    assert len(hand) == 20 and all(r["labels"].startswith("n") for r in hand)


def test_the_kits_adapters_read_the_fixtures_with_the_paper_batchs_classes(mini):
    root, info, _ = mini
    oi = load_dataset(f"openimages:{root / 'data' / 'openimages'}")
    plan = info["openimages"]
    want = sorted([plan["trigger"], *plan["classes"], *plan["extras"]])
    assert list(oi.class_labels) == want                     # the paper's valid-class rule keeps them all
    assert oi.boxes is not None and len(oi.boxes) > oi.n_images
    assert oi.resolve(0).is_file() and oi.load_image(0).shape == (64, 64, 3)
    co = from_labelindex(oi)
    t = oi.class_id(plan["trigger"])
    got = [int(co.M[t, oi.class_id(c)]) for c in plan["classes"]]
    assert got == list(minipaper._N_POISON)                   # each class with the trigger, as planned
    spec = f"relabel:{root / 'data' / minipaper._MAPS_DIR}?images={root / 'data' / 'imagenet' / 'train'}"
    inet = load_dataset(spec)
    p = info["imagenet"]
    assert inet.n_classes == 1000 and inet.n_images == p["n_images"]
    t = inet.class_id(p["trigger"])
    co = from_labelindex(inet)
    assert [int(co.M[t, inet.class_id(c)]) for c in p["classes"]] == list(minipaper._N_POISON)
    assert inet.resolve(0).is_file() and inet.resolve(0).suffix == ".JPEG"


def test_the_miniature_batch_is_the_paper_batch_with_sizes_changed(mini, tmp_path):
    root, _, path = mini
    doc = yaml.safe_load(path.read_text())
    assert not any("{torch_hub}" in r["path"] for r in doc["requires"])    # trained from scratch
    small = batch.load_batch(path, runs_root=tmp_path, data_root=root / "data")
    full = batch.load_batch("paper", runs_root=tmp_path, data_root=root / "data")
    changed = {k for v in minipaper._MINI_PARAMS.values() for k in v}

    def key(r):
        return r.notebook, json.dumps({k: v for k, v in r.params.items() if k not in changed}, sort_keys=True)

    paper_runs = {key(r): r for r in full.runs}
    assert {r.notebook for r in small.runs} == {r.notebook for r in full.runs}   # every notebook
    for r in small.runs:
        assert key(r) in paper_runs, r.params                 # each run is one of the paper batch's
        assert set(r.feeds) <= set(paper_runs[key(r)].feeds)
    tags = {f for r in small.runs for f in r.feeds}
    assert {"Figure 7", "Table 5", "Tables 6-7", "App. D", "Table 8", "Table 9", "Table 10", "Figure 12",
            "Figure 13", "Figure 14", "Figure 15", "Figure 16", "Figure 17"} <= tags


@pytest.mark.slow
def test_every_notebook_of_the_paper_batch_runs_on_the_miniature(mini, capsys):
    root, info, path = mini
    b = batch.load_batch(path, runs_root=root / "runs", data_root=root / "data")
    t0 = time.perf_counter()
    s = batch.run_batch(b, jobs=2, progress=False)
    wall = time.perf_counter() - t0
    with capsys.disabled():
        print(f"\nminiature paper batch: {s['done']} runs + report in {wall:.0f} s")
    failed = [f"{r['notebook']}/{r['hash']}: {(r.get('error') or '').strip()[:300]}"
              for r in s["runs"] if r["status"] != "done"]
    assert not failed, "\n".join(failed)
    assert s["done"] == len(b.runs) and s["report"]["status"] == "done", s.get("report")
    runs = report.collect(b.name, b.runs_root)
    assert runs and all(r.complete for r in runs)
    assert all(r.data == report.REAL for r in runs if r.notebook != "01_calibration")   # 01: relabel_dir
    # the report rebuilt the paper's tables from these real-format runs
    rep = report.build(b.name, b.runs_root)
    f7 = rep.section("Figure 7")   # its rows say real; the section label does not (report.figure7)
    assert f7.runs == 1 and set(f7.tables["comparison"]["data"]) == {report.REAL}
    for key in ("Table 5", "Tables 6-7", "Table 8", "Table 9", "Table 10", "Figure 13",
                "Figure 16"):
        sec = rep.section(key)
        assert sec.runs > 0 and "real" in sec.data, (key, sec.notes)
    t9 = rep.section("Table 9").tables["comparison"]
    assert set(t9["setting"]) == {"ResNet", "DenseNet"}   # the paper's Table 9 names (reference.ARCHITECTURES)
    assert (t9["data"] == report.REAL).all() and set(t9["quantity"]) == {"clean acc", "trigger acc"}
    # ImageNet models were trained on ImageNet images and audited (Figure 16, both datasets)
    r05 = [r for r in runs if r.notebook == "05_train" and "Table 9" in r.feeds]
    assert {r.results["arch"] for r in r05} == {"resnet50", "densenet121"}
    assert all(r.results["dataset"].startswith("relabel:") for r in r05)
    f16 = rep.section("Figure 16").tables["comparison"]
    assert len(f16) == 2 and pd.to_numeric(f16["ours"], errors="coerce").notna().all(), f16  # ImageNet too
    fig16 = [r for r in runs if r.notebook == "06_sentinet"]
    assert {feeds.dataset_of(r.params) for r in fig16} == {"imagenet", "openimages"}
    assert all(r.results["fig16"] and r.results["sentinet"]["patch"] for r in fig16)
    # the same mapping as the dry-run check: these cells of the paper have a run of ours beside them
    cells = _paper_values()
    if cells is not None:
        table = feeds.feed_table(cells, runs)
        fed = table[table["n_runs"] > 0]
        for t in ("Figure 7", "Table 5", "Table 6", "Table 7", "Table 8", "Table 9", "Table 10",
                  "App. D", "Figure 16"):
            assert (fed["table"] == t).any(), t
        assert set(fed.loc[fed["table"] == "Figure 16", "column"]) == {"jeans"}
