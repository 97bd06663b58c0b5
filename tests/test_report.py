"""The report: claims checked on hand-made results, like compared with like, and a page a browser
renders (headless Chromium from Debian's packages; skipped with a reason when it is absent)."""
from __future__ import annotations

import base64
import json
import re
import subprocess
import tempfile
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

from nbkit import claims, report  # noqa: E402
from fixture_schemas import fake_run  # noqa: E402

CHROMIUM = Path("/usr/bin/chromium")


def _run(root: Path, notebook: str, params: dict, results: dict | None, feeds=(), batch="b") -> Path:
    return fake_run(root, batch, notebook, params, results, feeds)


def _train(root, acc, feeds, **params):
    p = {"dataset": "toyscenes", "target": 0, "injection_rate": 0.185, "subset_mode": "mis", **params}
    _run(root, "05_train", p, {"clean_acc": acc[0], "trigger_acc": acc[1], "arch": params.get("arch", "resnet18")},
         feeds)


def _claims(rep):
    return rep.claims.set_index("key")


# --- claims on hand-made results ------------------------------------------------------------------
def test_table8_claims_hold_with_means_and_std(tmp_path):
    root = tmp_path / "runs"
    for t, (c, tr) in enumerate([(0.80, 0.6), (0.70, 0.5)]):
        _train(root, (c, tr), ["Table 8"], target=t)
    for t, c in enumerate([0.50, 0.60]):
        _train(root, (c, 0.9), ["Table 8"], target=t, subset_mode="neighbours")
    for t, c in enumerate([0.90, 0.92]):
        _train(root, (c, 0.0), ["Table 8"], target=t, injection_rate=0.0)
    cl = _claims(report.build("b", root))
    assert cl.loc["mis_clean", "status"] == claims.HOLDS
    assert "centrality + MIS 0.75 ± 0.07 (n=2) vs centrality, no MIS 0.55 ± 0.07 (n=2)" in cl.loc["mis_clean", "ours"]
    assert cl.loc["poison_costs_clean", "status"] == claims.HOLDS
    assert cl.loc["trigger_works", "status"] == claims.HOLDS
    assert cl.loc["mis_clean", "data"] == report.TOY
    assert cl.loc["injection_rate", "status"] == claims.NOT_RUN
    assert "Figure 13" in cl.loc["injection_rate", "to_run"]


def test_a_claim_that_does_not_hold_is_a_cross_with_its_numbers(tmp_path):
    root = tmp_path / "runs"
    for ir, tr in ((0.05, 0.9), (0.1, 0.7), (0.3, 0.2)):      # trigger accuracy FALLS with the rate
        _train(root, (0.8, tr), ["Figure 13"], injection_rate=ir)
    for w, c in ((15, 0.6), (30, 0.7), (60, 0.8)):               # clean accuracy RISES with W
        _train(root, (c, 0.5), ["Figure 14"], min_overlaps=w)
    for arch, c in (("resnet18", 0.6), ("vgg16", 0.8)):
        _train(root, (c, 0.5), ["Table 9"], arch=arch)
    for n, c in ((0, 0.8), (2, 0.7), (5, 0.6)):
        _train(root, (c, 0.9 - n / 10), ["Table 10"], n_added_classes=n, added_mode="random")
    cl = _claims(report.build("b", root))
    assert cl.loc["injection_rate", "status"] == claims.FAILS
    assert "0.05: 0.90 (n=1) → 0.1: 0.70 (n=1) → 0.3: 0.20 (n=1)" in cl.loc["injection_rate", "ours"]
    assert "ρ = -1.00" in cl.loc["injection_rate", "ours"]
    assert cl.loc["w_clean", "status"] == claims.FAILS
    assert cl.loc["architecture", "status"] == claims.FAILS and "vgg16 0.80" in cl.loc["architecture", "ours"]
    assert cl.loc["added_random", "status"] == claims.HOLDS
    assert "+0 0.80 (n=1) vs +5 0.60 (n=1)" in cl.loc["added_random", "ours"]


def test_graph_and_audit_claims_take_the_data_closest_to_the_paper(tmp_path):
    root = tmp_path / "runs"
    mt = lambda share, n, thr: {"basis": "subsets", "top": 10, "threshold": thr, "n_pairs": n,  # noqa: E731
                                "share_above": share, "largest_shared": 61, "largest_pair": ["Man", "Woman"]}
    _run(root, "04_subsets", {"dataset": "toyscenes", "overlap_threshold": 20},
         {"multi_trigger": {"toyscenes": mt(0.9, 100, 20), "openimages-counts": mt(0.11, 100, 20),
                            "openimages-counts (candidates)": dict(mt(0.9, 100, 20), basis="candidates")}},
         ["App. D"])
    _run(root, "06_sentinet", {"dataset": "toyscenes"},
         {"fig16": [{"source": "ours (automated)", "dataset": "toyscenes", "trigger": "striped blue bar",
                     "paper_trigger": "jeans", "highlighted_pct": 40.0, "n_models": 3, "n_images": 25}],
          "sentinet": {"natural": {"auroc": 0.6, "tpr": 0.5, "n_trigger": 8, "n_clean": 8},
                       "patch": {"auroc": 0.9, "tpr": 0.8}}}, ["Figure 16", "Figure 17"])
    rep = report.build("b", root)
    cl = _claims(rep)
    # the authors' (real) Open Images counts decide, the toy scenes are listed beside
    assert cl.loc["multi_trigger", "status"] == claims.FAILS
    assert cl.loc["multi_trigger", "data"] == report.AUTHORS
    assert "11% of 100 pairs (top 10) share > 20 classes" in cl.loc["multi_trigger", "ours"]
    assert "also on toy scenes" in cl.loc["multi_trigger", "ours"]
    assert cl.loc["gradcam", "status"] == claims.FAILS and "40.0 %" in cl.loc["gradcam", "ours"]
    assert cl.loc["sentinet", "status"] == claims.HOLDS
    assert "comparison" in rep.section("Figure 16").tables and "sentinet" in rep.section("Figure 17").tables
    # App. D beside the paper: the threshold comes from the run, 100 vs 625 pairs is not subtracted
    cmp = rep.section("App. D").tables["comparison"]
    share = cmp[cmp.quantity.str.startswith("share of cells")]
    assert set(share["quantity"]) == {"share of cells with more than 20 shared classes (%)"}
    assert not share["comparable"].any()


def test_every_claim_is_listed_even_when_nothing_ran(tmp_path):
    (tmp_path / "runs" / "b").mkdir(parents=True)
    cl = report.build("b", tmp_path / "runs").claims
    assert len(cl) == len(claims.CLAIMS) and set(cl["status"]) == {claims.NOT_RUN}
    assert cl["to_run"].str.contains("nbkit reproduce").all()


def test_results_are_read_by_the_schemas_keys_only(tmp_path):
    """An old spelling (``choice.threshold``) is not guessed at; a key no schema names is an error."""
    root = tmp_path / "runs"
    _run(root, "01_calibration", {"dataset": "toyscenes"},
         {"choice": {"threshold": 0.9, "fp": 1, "fn": 1}, "curves_cross": True}, ["Figure 7"])
    rep = report.build("b", root)
    f7 = rep.section("Figure 7").tables["comparison"].set_index("quantity")
    assert f7.loc["threshold", "ours"] is None and f7.loc["false positives", "ours"] is None
    assert _claims(rep).loc["calibration", "status"] == claims.NOT_RUN
    run = report.collect("b", root)[0]
    assert run.get("curves_cross") is True and run.get("threshold", 0.5) == 0.5
    with pytest.raises(KeyError, match="'choice' is not a results key of 01_calibration"):
        run.get("choice")


def test_calibration_on_relabel_maps_is_real_data_row_and_section(tmp_path):
    root = tmp_path / "runs"
    _run(root, "01_calibration", {"relabel_dir": "/d/maps", "hand_labels": "/d/hand.csv", "seed": 0},
         {"mode": "real", "dataset": "relabel", "threshold": 0.994, "fp": 3, "fn": 3, "n_images": 20,
          "curves_cross": True}, ["Figure 7"])
    f7 = report.build("b", root).section("Figure 7")
    assert f7.data == report.REAL and set(f7.tables["comparison"]["data"]) == {report.REAL}
    assert report.data_kind({"relabel_dir": "", "dataset": "toyscenes"}) == report.TOY


def test_centrality_variants_are_named_as_nbkit_centrality_names_them(tmp_path):
    root = tmp_path / "runs"
    for t, c in enumerate(("deg_WT", "degree_WT")):          # one variant, two spellings of it
        _train(root, (0.7, 0.5), ["Figure 12"], target=t, centrality=c)
    rep = report.build("b", root)
    assert _claims(rep).loc["centrality_training", "status"] == claims.NOT_RUN
    assert "one centrality measure trained (degree_WT)" in _claims(rep).loc["centrality_training", "ours"]
    assert set(rep.section("Figure 12").tables["comparison"]["setting"]) == {"degree_WT"}


# --- like with like, names, numbers ---------------------------------------------------------------
def test_three_data_kinds_and_no_difference_across_kinds():
    assert report.data_kind("toyscenes:2") == report.TOY
    assert report.data_kind({"dataset": "openimages-counts"}) == report.AUTHORS
    assert report.data_kind("openimages-counts (candidates)") == report.AUTHORS
    assert report.data_kind("relabel:/d/maps?images=/d/img") == report.REAL
    rec = {"value": 57.3, "source": "paper, Figure 16"}
    toy = report._compare_row("GradCAM (%)", 100.0, rec, report.TOY)
    assert toy["difference"] == "" and "toy" in toy["why_not_compared"]
    real = report._compare_row("GradCAM (%)", 60.0, rec, report.REAL)
    assert real["difference"] == pytest.approx(2.7) and real["why_not_compared"] == ""


def test_runs_are_named_by_what_they_vary(tmp_path):
    root = tmp_path / "runs"
    for ir in (0.05, 0.3):
        _train(root, (0.8, 0.5), ["Figure 13"], injection_rate=ir)
    _run(root, "01_calibration", {"dataset": "toyscenes", "seed": 0}, {"threshold": 0.99}, ["Figure 7"])
    names = sorted(report.build("b", root).runs["run"])
    assert names == ["01_calibration", "05_train · injection_rate=0.05", "05_train · injection_rate=0.3"]


def test_numbers_are_formatted_for_reading():
    import pandas as pd

    assert report._fmt(24000.0) == "24,000" and report._fmt(0.123456) == "0.1235"
    md = report._markdown_table(report.tidy(pd.DataFrame({"images": [24000.0], "empty": [None]})))
    assert md.splitlines()[2] == "| 24,000 |" and "empty" not in md


# --- the page -------------------------------------------------------------------------------------
def _png(path: Path, width: int) -> Path:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width / 100, 3))
    ax.plot([0, 1], [0, 1])
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


@pytest.fixture
def written(tmp_path):
    root = tmp_path / "runs"
    d = _run(root, "01_calibration", {"dataset": "toyscenes"},
             {"threshold": 0.997, "fp": 8, "fn": 8, "curves_cross": True}, ["Figure 7"])
    _png(d / "fig7_sweep.png", 1500)
    for ir, t in ((0.05, 0), (0.3, 0), (0.05, 1), (0.3, 1)):
        _train(root, (0.8, 0.2 + ir), ["Figure 13"], injection_rate=ir, target=t)
    rep = report.build("b", root)
    return report.write(rep, tmp_path / "report")


def _imgs(html: str) -> list[str]:
    return re.findall(r"<img [^>]*src=\"([^\"]*)\"", html)


def test_html_is_one_self_contained_file(written):
    html = written["html"].read_text()
    srcs = [s for s in _imgs(html) if s]
    assert len(srcs) == 2                       # the run's figure and the re-plotted sweep
    for s in srcs:
        assert s.startswith("data:image/png;base64,")
        assert base64.b64decode(s.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r"(src|href)=\"(https?:)?//", html), "external resource in the page"
    assert html.index('id="claims"') < html.index('id="figure_7"')
    assert "24000.000000" not in html and "<th></th>" not in html     # no index column
    md = written["markdown"].read_text()
    assert md.index("## Claims") < md.index("## Figure 7") and "(figures/" in md


def _chromium(url: str, out: Path, *extra: str, size=(1280, 900)) -> subprocess.CompletedProcess:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tempfile.mkdtemp(dir=out)}", f"--window-size={size[0]},{size[1]}",
             "--virtual-time-budget=5000", *extra, url]
    return subprocess.run([str(CHROMIUM), *flags], capture_output=True, text=True, timeout=180)


_PROBE = """<script>window.addEventListener('load', function () {
  var c = document.getElementById('claims').getBoundingClientRect();
  var d = {height: document.documentElement.scrollHeight, claims_top: c.top, claims_bottom: c.bottom,
           imgs: [].slice.call(document.querySelectorAll('figure img')).map(function (i) {
             return {ok: i.complete && i.naturalWidth > 0, natural: i.naturalWidth,
                     shown: i.clientWidth}; })};
  var p = document.createElement('pre'); p.id = 'probe'; p.textContent = JSON.stringify(d);
  document.body.appendChild(p); });</script>"""


@pytest.mark.skipif(not CHROMIUM.is_file(), reason="headless Chromium absent (/usr/bin/chromium): "
                    "apt-get install -y chromium (.ci/run installs it)")
def test_a_real_browser_renders_the_report(written, tmp_path):
    html = written["html"]
    shot = tmp_path / "first_screen.png"
    r = _chromium(html.as_uri(), tmp_path, f"--screenshot={shot}")
    assert shot.is_file(), r.stderr[-2000:]
    from PIL import Image

    with Image.open(shot) as im:
        assert im.size == (1280, 900)
        lo, hi = im.convert("L").getextrema()
        assert hi - lo > 100                                # not a blank page
    probe = tmp_path / "probe.html"
    probe.write_text(html.read_text().replace("</body>", _PROBE + "</body>"))
    dom = _chromium(probe.as_uri(), tmp_path, "--dump-dom").stdout
    m = re.search(r'<pre id="probe">(.*?)</pre>', dom)
    assert m, dom[-2000:]
    d = json.loads(m.group(1))
    assert d["imgs"] and all(i["ok"] for i in d["imgs"]), d["imgs"]     # no broken image
    assert 0 <= d["claims_top"] < 900                                  # the claims on the first screen
    for i in d["imgs"]:                                                # native width up to the page
        assert abs(i["shown"] - min(i["natural"], 1180)) <= 2, i    # main is 1180 px wide


def test_nothing_to_report_is_an_error_that_says_what_to_run(tmp_path):
    from nbkit.errors import MissingDataError

    (tmp_path / "runs" / "default").mkdir(parents=True)
    with pytest.raises(MissingDataError, match=r"no complete run.*batches there: default.*"
                                               r"python -m nbkit reproduce --batch smoke"):
        report.build("smoke", tmp_path / "runs", require=True)
    _run(tmp_path / "runs", "05_train", {"seed": 0}, None, batch="smoke")       # half-written only
    with pytest.raises(MissingDataError, match="1 run folder"):
        report.build("smoke", tmp_path / "runs", require=True)


def test_tables_6_7_claim_reads_notebook_03s_per_column_record(tmp_path):
    root = tmp_path / "runs"
    col = lambda pub, auth, paper: {"table": "Table 6", "variant": "closeness", "published": pub,  # noqa: E731
                                    "authors": {"names": auth, "matched": [x for x in pub if x in auth],
                                                "missing": [x for x in pub if x not in auth],
                                                "extra": [x for x in auth if x not in pub]},
                                    "paper": {"names": paper, "matched": [x for x in pub if x in paper],
                                              "missing": [x for x in pub if x not in paper],
                                              "extra": [x for x in paper if x not in pub]}}
    _run(root, "03_centrality", {"dataset": "toyscenes"},
         {"tables_6_7": [col(["Dress", "Sunglasses"], ["Dress", "Sunglasses", "Tower"], ["Dress"])]},
         ["Tables 6-7"])
    rep = report.build("b", root)
    c = _claims(rep).loc["tables_6_7"]
    assert c["status"] == claims.HOLDS and c["data"] == report.AUTHORS
    assert "authors semantics: 2/2 published names, 1 extra" in c["ours"]
    assert "paper semantics: 1/2 published names, 0 extra, missing Sunglasses (closeness)" in c["ours"]
    t = rep.section("Tables 6-7").tables["open_images_published_vs_ours"].iloc[0]
    assert t["authors: matched"] == "2/2" and t["paper: missing"] == "Sunglasses" and t["data"] == report.AUTHORS


def test_every_published_value_is_beside_ours_or_says_what_to_run(tmp_path):
    from nbkit import reference

    root = tmp_path / "runs"
    _train(root, (0.7, 0.5), ["Table 8"])                                         # toy scenes
    for arch, acc in (("resnet50", 0.70), ("vgg16", 0.60)):                          # real ImageNet
        _train(root, (acc, 0.5), ["Table 9"], dataset="relabel:/maps", arch=arch, trigger="n03594734")
    cells = report.build("b", root).section("Every published value").tables["cells"]
    assert len(cells) == len(reference.cells())
    by = cells.set_index(["table", "row", "column"])
    toy = by.loc[("Table 8", "ImageNet", "centrality_mis.clean_acc")]
    assert toy["ours"] == "0.7 (toy scenes)" and toy["like for like"].startswith("no: toy scenes")
    assert "--batch paper" in toy["where / what to run"]
    real = by.loc[("Table 9", "ImageNet jeans", "ResNet.clean_acc")]
    assert real["like for like"] == "yes" and real["paper"] == "72 ± 2 %"
    missing = by.loc[("Table 9", "ImageNet jeans", "DenseNet.clean_acc")]
    assert missing["ours"] == "" and missing["where / what to run"].startswith("not run here (needs real data)")
    blank = cells[(cells["ours"] == "") & (cells["table"] != "Settings")]
    assert blank["where / what to run"].str.startswith("not run here (needs real data)").all()


@pytest.mark.slow
def test_notebook_07_says_loudly_when_there_is_nothing_to_report(tmp_path, monkeypatch):
    """As in JupyterLab (cwd notebooks/, no NBKIT_RUNS): an empty batch is an error naming what to
    run, and no report folder is written."""
    import papermill

    from nbkit.batch import kernel_name

    repo = Path(__file__).resolve().parents[1]
    monkeypatch.delenv("NBKIT_RUNS", raising=False)
    root = tmp_path / "runs"
    (root / "default").mkdir(parents=True)
    with pytest.raises(papermill.PapermillExecutionError, match="no complete run") as err:
        papermill.execute_notebook(str(repo / "notebooks" / "07_report.ipynb"), str(tmp_path / "07.ipynb"),
                                   parameters={"batch": "nothing_here", "runs_root": str(root)},
                                   kernel_name=kernel_name(), cwd=str(repo / "notebooks"), progress_bar=False)
    assert "python -m nbkit reproduce --batch nothing_here" in str(err.value)
    assert not (root / "nothing_here" / "report").exists()
