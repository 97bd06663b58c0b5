"""nbkit.centrality: the 8 variants, the three semantics, both backends, trigger candidates, Tables 6-7.

networkx is the reference: the igraph path must agree with it (values and rankings), and both with
networkx computed here independently of nbkit on real counts (COCO, VOC2007, the authors' Open
Images matrix, whose graph-tool betweenness the authors recorded).
"""
from __future__ import annotations


import json

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from nbkit import centrality as C
from nbkit import graph as G
from nbkit import subsets as S
from nbkit.cooccurrence import Cooccurrence
from nbkit.datasets import load_openimages_counts
from nbkit.errors import DataError, GraphError
from nbkit.labelindex import LabelIndex
from realcounts import coco_counts, openimages_counts, paper_tables_6_7_openimages

REF = "naturalbackdoors_reference"


coco = coco_counts
openimages = openimages_counts


def independent_graph(M: np.ndarray, min_overlaps: int) -> nx.Graph:
    """The co-occurrence graph built here with plain networkx, without nbkit."""
    g = nx.Graph()
    g.add_nodes_from(range(len(M)))
    for i in range(len(M)):
        for j in range(i + 1, len(M)):
            if M[i, j] >= min_overlaps:
                g.add_edge(i, j, overlaps=float(M[i, j]), distance=1.0 / M[i, j])
    return g


def as_array(d: dict, n: int) -> np.ndarray:
    return np.array([d[i] for i in range(n)], dtype=float)


def _with(s: pd.Series, df: pd.DataFrame) -> pd.Series:
    s = s.copy()
    s.attrs = dict(df.attrs)
    return s


def same_ranking(a: pd.Series, b: pd.Series, k: int, tol: float = 1e-9) -> bool:
    """Top-k orders agree, except for swaps among values equal within tol."""
    ra = a.sort_values(ascending=False, kind="mergesort").index[:k]
    rb = b.sort_values(ascending=False, kind="mergesort").index[:k]
    for x, y in zip(ra, rb):
        if x != y and abs(a[x] - a[y]) > tol * max(1.0, abs(a[x])):
            return False
    return True


# --------------------------------------------------------------------------------------------
# golden values from the authors' graph-tool run
def test_openimages_betweenness_reproduces_graph_tool(realdata):
    ref = pd.read_csv(realdata / REF / "notebook_outputs" /
                      "oi_gt_betweenness_minTrig50_maxOther15_relabel_ipynb.csv")
    co = openimages(realdata)
    # relabel.ipynb: graph with edges >= 15, betweenness on the view with edges > 50
    for backend in C.BACKENDS:
        s = C.centrality(co, "betweenness", False, 51, backend=backend)
        assert np.abs(s[ref["index"]].to_numpy() - ref["betweenness_normalized"].to_numpy()).max() < 1e-9
    top = C.top_m(s, 3)
    assert top.attrs["names"] == ["Man", "Human face", "Woman"]
    assert top.round(4).tolist() == [0.0828, 0.0816, 0.0461]


def test_coco_top_betweenness(realdata):
    s = C.centrality(coco(realdata), "betweenness", False, 10)
    assert C.top_m(s, 5).attrs["names"] == ["person", "chair", "car", "handbag", "backpack"]


def test_voc2007_person_dominates_betweenness(realdata):
    d = pd.read_csv(realdata / "voc2007_labels" / "voc2007_trainval_labels.csv", dtype={"image_id": str})
    cls = [c for c in d.columns if c != "image_id"]
    li = LabelIndex("voc2007", cls, cls, d["image_id"], ["trainval"] * len(d),
                    sp.csr_matrix(d[cls].to_numpy() == 1))
    s = C.centrality(li, "betweenness", False, 10)
    top = C.top_m(s, 2)
    assert top.attrs["names"][0] == "person" and round(top.iloc[0], 2) == 0.80
    assert top.iloc[0] > 10 * top.iloc[1]


# --------------------------------------------------------------------------------------------
# igraph path == networkx path, all 8 variants, every semantics
@pytest.mark.parametrize("semantics", C.SEMANTICS)
def test_backends_agree_coco(realdata, semantics):
    co = coco(realdata)
    a = C.all_variants(co, 10, semantics=semantics, backend="igraph")
    b = C.all_variants(co, 10, semantics=semantics, backend="networkx")
    assert list(a.columns) == list(C.VARIANTS) == list(b.columns)
    for v in C.VARIANTS:
        scale = max(1.0, float(b[v].abs().max()))
        assert np.allclose(a[v], b[v], rtol=1e-9, atol=1e-12 * scale, equal_nan=True), v
        assert same_ranking(a[v], b[v], 20), v


def test_backends_agree_disconnected_openimages(realdata):
    """At min_overlaps 51 the Open Images graph has many isolated classes and small components."""
    co = openimages(realdata)
    _, lab = sp.csgraph.connected_components(
        sp.csr_matrix(np.triu(co.pairs >= 51, 1)), directed=False)
    assert len(np.unique(lab)) > 50
    a = C.all_variants(co, 51, semantics="paper", backend="igraph")
    b = C.all_variants(co, 51, semantics="paper", backend="networkx")
    for v in C.VARIANTS:
        assert np.allclose(a[v], b[v], rtol=1e-9, atol=1e-15), v
        assert same_ranking(a[v], b[v], 30), v
    for v in ("closeness", "closeness_WT", "degree", "degree_WT"):  # the variants that differ
        m, w = C.parse_variant(v)
        x = C.centrality(co, m, w, 51, semantics="networkx", backend="igraph")
        y = C.centrality(co, m, w, 51, semantics="networkx", backend="networkx")
        assert np.allclose(x, y, rtol=1e-9, atol=1e-15), v


# --------------------------------------------------------------------------------------------
# against networkx computed here, without nbkit
def test_matches_networkx_computed_independently(realdata):
    co = coco(realdata)
    n = co.n_classes
    g = independent_graph(co.M, 10)
    ours = C.all_variants(co, 10)  # paper semantics, igraph
    ref = {
        "betweenness": nx.betweenness_centrality(g, normalized=True),
        "betweenness_WT": nx.betweenness_centrality(g, normalized=True, weight="overlaps"),
        "closeness": nx.closeness_centrality(g, wf_improved=False),
        "closeness_WT": nx.closeness_centrality(g, distance="overlaps", wf_improved=False),
        "degree": dict(g.degree()),
        "degree_WT": dict(g.degree(weight="overlaps")),
        "eigenvector": nx.eigenvector_centrality(g, max_iter=5000, tol=1e-12),
        "eigenvector_WT": nx.eigenvector_centrality(g, max_iter=5000, tol=1e-12, weight="overlaps"),
    }
    for v, d in ref.items():
        tol = 1e-6 if v.startswith("eigenvector") else 1e-9  # power iteration vs exact solver
        assert np.allclose(ours[v].to_numpy(), as_array(d, n), rtol=tol, atol=tol), v
    later = C.all_variants(co, 10, semantics="networkx")
    nx_later = {
        "closeness": nx.closeness_centrality(g),
        "closeness_WT": nx.closeness_centrality(g, distance="distance"),
        "degree": nx.degree_centrality(g),
        "degree_WT": nx.degree_centrality(g),
    }
    for v, d in nx_later.items():
        assert np.allclose(later[v].to_numpy(), as_array(d, n), rtol=1e-9), v


def test_semantics_differences_by_hand():
    # path a - b - c with overlaps 10 and 2, plus an isolated class d
    M = np.array([[20, 10, 0, 0], [10, 30, 2, 0], [0, 2, 5, 0], [0, 0, 0, 4]])
    co = Cooccurrence(M, list("abcd"), list("abcd"))
    for backend in C.BACKENDS:
        p = C.all_variants(co, 1, semantics="paper", backend=backend)
        q = C.all_variants(co, 1, semantics="networkx", backend=backend)
        assert p["degree"].tolist() == [1, 2, 1, 0]
        assert p["degree_WT"].tolist() == [10, 12, 2, 0]             # strength
        assert q["degree_WT"].tolist() == q["degree"].tolist() == [1 / 3, 2 / 3, 1 / 3, 0]
        # paper: path length = overlaps; a: 2 reachable, distances 10 and 12
        assert p["closeness_WT"].tolist() == pytest.approx([2 / 22, 2 / 12, 2 / 14, 0])
        # networkx: length = 1/overlaps, and wf_improved scales by (3 - 1) / (4 - 1)
        f = 2 / 3
        assert q["closeness_WT"].tolist() == pytest.approx(
            [f * 2 / 0.7, f * 2 / 0.6, f * 2 / 1.1, 0])
        assert p["closeness"].tolist() == pytest.approx([2 / 3, 1, 2 / 3, 0])
        assert q["closeness"].tolist() == pytest.approx([f * 2 / 3, f, f * 2 / 3, 0])
        # betweenness identical in both semantics: b is on the only a-c path; 3 pairs without b
        assert p["betweenness"].tolist() == q["betweenness"].tolist() == [0, 1 / 3, 0, 0]


# --------------------------------------------------------------------------------------------
# eigenvector centrality on disconnected graphs
def test_eigenvector_disconnected_matches_power_iteration():
    g = nx.Graph()
    g.add_nodes_from(range(7))
    g.add_edges_from([(0, 1), (1, 2), (0, 2)], overlaps=3.0)   # triangle: lambda 2
    g.add_edge(3, 4, overlaps=3.0)                             # single edge: lambda 1
    g.add_edge(5, 6, overlaps=1.0)
    for backend in C.BACKENDS:
        s = C.centrality(g, "eigenvector", False, backend=backend)
        assert s.tolist() == pytest.approx([3 ** -0.5] * 3 + [0] * 4, abs=1e-12)
    ref = nx.eigenvector_centrality(g, max_iter=10000, tol=1e-12)
    assert np.allclose(C.centrality(g, "eigenvector").to_numpy(), as_array(ref, 7), atol=1e-6)
    # weighted: the triangle (lambda 6) still dominates the 3-weighted single edge (lambda 3)
    w = C.centrality(g, "eigenvector", True)
    assert w[:3].tolist() == pytest.approx([3 ** -0.5] * 3) and w[3:].abs().max() < 1e-12


def test_eigenvector_equal_components_and_isolated():
    g = nx.Graph()
    g.add_nodes_from(range(8))
    g.add_edges_from([(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5)])  # two triangles, 6, 7 alone
    for backend in C.BACKENDS:
        s = C.centrality(g, "eigenvector", backend=backend)
        assert s.tolist() == pytest.approx([6 ** -0.5] * 6 + [0, 0])
    ref = nx.eigenvector_centrality(g, max_iter=10000, tol=1e-12)
    assert np.allclose(C.centrality(g, "eigenvector").to_numpy(), as_array(ref, 8), atol=1e-6)


def test_graph_input_with_custom_nodes():
    g = nx.Graph()
    g.add_node("hub", name="Hub")
    g.add_edge("hub", "x", overlaps=5)
    g.add_edge("hub", "y", overlaps=7)
    s = C.centrality(g, "betweenness")
    assert list(s.index) == ["hub", "x", "y"] and s["hub"] == 1.0
    assert C.top_m(s, 1).attrs["names"] == ["Hub"]
    assert C.centrality(g, "degree", True, min_overlaps=6).tolist() == [7, 0, 7]


# --------------------------------------------------------------------------------------------
# bad input
def test_no_edges_is_a_clear_error():
    M = np.array([[5, 2], [2, 5]])
    with pytest.raises(GraphError, match="no edges at min_overlaps=3"):
        C.centrality(M, "betweenness", min_overlaps=3)
    with pytest.raises(GraphError, match="no vertices"):
        C.centrality(nx.Graph(), "degree")
    with pytest.raises(GraphError, match="no edges"):
        C.all_variants(nx.empty_graph(4))


@pytest.mark.parametrize("bad", [float("nan"), -1.0, 0, "many", float("inf")])
def test_bad_edge_weights(bad):
    g = nx.Graph()
    g.add_edge(0, 1, overlaps=3)
    g.add_edge(1, 2, overlaps=bad)
    with pytest.raises(GraphError, match="edge \\(1, 2\\) has overlaps"):
        C.centrality(g, "betweenness", weighted=True)


def test_bad_counts_and_options():
    with pytest.raises(DataError, match="NaN"):
        C.centrality(np.array([[1.0, np.nan], [np.nan, 1.0]]), "degree")
    with pytest.raises(DataError, match="negative"):
        C.all_variants(np.array([[1, -1], [-1, 1]]))
    M = np.array([[5, 2], [2, 5]])
    with pytest.raises(GraphError, match="unknown centrality measure 'pagerank'"):
        C.centrality(M, "pagerank")
    with pytest.raises(GraphError, match="semantics="):
        C.centrality(M, "degree", semantics="graph-tool")
    with pytest.raises(GraphError, match="backend="):
        C.centrality(M, "degree", backend="graph_tool")
    with pytest.raises(GraphError, match="directed"):
        C.centrality(nx.DiGraph([(0, 1)]), "degree")
    with pytest.warns(UserWarning, match="no images"):  # a class without images: isolated, 0
        s = C.centrality(Cooccurrence(np.array([[5, 2, 0], [2, 5, 0], [0, 0, 0]]), list("abc"),
                                      list("abc")), "closeness")
    assert s.tolist() == [1.0, 1.0, 0.0]


# --------------------------------------------------------------------------------------------
# trigger candidates
def test_top_m_ties_exclusion_and_names():
    s = pd.Series([0.2, 0.5, 0.5, 0.1, np.nan], index=[10, 11, 12, 13, 14])
    assert C.top_m(s, 3).index.tolist() == [11, 12, 10]        # ties by id, NaN dropped
    assert C.top_m(s, 10).index.tolist() == [11, 12, 10, 13]
    nm = ["Man", "Wheel", "Human face", "Chair", "x"]
    t = C.top_m(s, 3, exclude=C.BODY_PARTS, names=nm)
    assert t.attrs["names"] == ["Wheel", "Chair"] and t.attrs["excluded"] == [10, 12]
    assert C.top_m(s, 2, exclude=[11]).index.tolist() == [12, 10]
    with pytest.raises(DataError, match="without class names"):
        C.top_m(s, 2, exclude=["Man"])
    with pytest.raises(GraphError, match="m=0"):
        C.top_m(s, 0)


def test_body_parts_exclusion_on_openimages(realdata):
    s = C.centrality(openimages(realdata), "betweenness", False, 51)
    full = C.top_m(s, 10).attrs["names"]
    clean = C.top_m(s, 10, exclude=C.BODY_PARTS).attrs["names"]
    assert full[:3] == ["Man", "Human face", "Woman"]
    assert not set(clean) & set(C.BODY_PARTS)
    assert clean[:3] == ["House", "Window", "Wheel"]
    assert set(C.BODY_PARTS) <= set(C.BODY_PARTS_EXTENDED)
    assert len(C.BODY_PARTS) == 14 and "Human beard" not in C.BODY_PARTS


def test_body_parts_are_the_authors_whole_list():
    """select_trigs.ipynb @ 246889c (the notebook that printed their Open Images triggers)."""
    assert C.BODY_PARTS == ("Human arm", "Human leg", "Human", "Woman", "Human hand", "Man",
                            "Human face", "Human head", "Human hair", "Girl", "Boy", "Human nose",
                            "Human eye", "Human mouth")
    oi = load_openimages_counts()
    s = C.centrality(oi, "closeness", True, 15)     # Human mouth ranks 40th among all classes
    assert "Human mouth" in C.top_m(s, 50).attrs["names"]
    assert not set(C.top_m(s, 50, exclude=C.BODY_PARTS).attrs["names"]) & set(C.BODY_PARTS)


def test_rankings_and_compare(realdata):
    df = C.all_variants(coco(realdata), 10)
    r = C.rankings(df, 5)
    assert r.shape == (5, 8) and r.loc[1, "betweenness"] == "person"
    c = C.compare_names(["Wheel", "chair", "Tree"], ["Chair", "Wheel", "Jeans"])
    assert c["matched"] == ["Wheel", "chair"] and c["missing"] == ["Jeans"] and c["extra"] == ["Tree"]
    assert c["jaccard"] == pytest.approx(0.5)


def test_variant_names():
    assert C.VARIANTS[:2] == ("betweenness", "betweenness_WT") and len(C.VARIANTS) == 8
    assert C.parse_variant("evector_WT") == ("eigenvector", True)
    assert C.variant_name("closeness", False) == "closeness"


# --------------------------------------------------------------------------------------------
# Tables 6-7
def test_authors_top_is_pythons_sorted_over_a_list_with_nan():
    s = pd.Series([0.2, 0.5, np.nan, 0.9, 0.1], index=[10, 11, 12, 13, 14])
    s.attrs["names"] = list("abcde")
    # NaN compares False both ways: Timsort's run stops there, so 0.9 never reaches the front
    assert C._authors_top(s, 2) == [11, 10]
    assert C.top_m(s, 2).index.tolist() == [13, 11]                    # a true ranking
    t = C.top_m(s, 3, order="authors")
    assert t.index.tolist() == [11, 10, 12] and t.tolist() == [0.5, 0.2, 0.0]   # NaN read as 0
    # body parts leave after the cut (the authors dropped them from the 50 they had)
    assert C.top_m(s, 2, exclude=["a"], order="authors").index.tolist() == [11]
    assert C.top_m(s, 2, exclude=["a"]).index.tolist() == [13, 11]
    s.attrs["semantics"] = "authors"                                  # default order follows it
    assert C.top_m(s, 2).index.tolist() == [11, 10]
    with pytest.raises(GraphError, match="order"):
        C.top_m(s, 2, order="timsort")


def test_authors_closeness_keeps_graph_tools_nan():
    oi = load_openimages_counts()
    iso = (oi.pairs >= 15).sum(axis=1) == 0
    for backend in C.BACKENDS:
        a = C.centrality(oi, "closeness", False, 15, semantics="authors", backend=backend)
        p = C.centrality(oi, "closeness", False, 15, semantics="paper", backend=backend)
        assert int(a.isna().sum()) == 75 and not p.isna().any()       # the 75 isolated classes
        assert (p[a.isna()] == 0).all() and np.allclose(a.dropna(), p[a.notna()])
        assert (a.isna().to_numpy() == iso).all()
    w = C.centrality(oi, "closeness", True, 15, semantics="authors")
    assert a.attrs["semantics"] == "authors" and int(w.isna().sum()) == 75
    # the quirk at work: the authors' "top 50" is not the top 50
    got = C.top_m(a, 50).attrs["names"]
    assert {"Dress", "Sunglasses"} <= set(got) and got != C.top_m(p, 50).attrs["names"]


def test_tables_6_7_open_images_reproduced(realdata):
    pub = paper_tables_6_7_openimages(realdata)
    assert sum(map(len, pub.values())) == 46
    recs = S.tables_6_7(published=pub)
    json.dumps(recs)                                                # results.json-ready
    assert [r["variant"] for r in recs] == list(C.VARIANTS)
    for r in recs:
        assert set(r) == {"table", "variant", "weighted", "dataset", "published", "authors", "paper"}
        assert r["table"] == ("Table 7" if r["weighted"] else "Table 6")
        assert r["dataset"] == "openimages-counts" and r["published"] == pub[r["variant"]]
        a = r["authors"]
        assert set(a) == {"names", "matched", "missing", "extra"}
        # all published names, in the paper's order
        assert a["missing"] == [] and [x.lower() for x in a["matched"]] == pub[r["variant"]]
        assert not set(a["names"]) & set(C.BODY_PARTS)
    by = {r["variant"]: r for r in recs}
    assert {"House", "Window"} <= set(by["betweenness"]["authors"]["extra"])
    # today's paper semantics: 45/46, Sunglasses out of weighted closeness
    assert {v: len(r["paper"]["matched"]) for v, r in by.items()} == {
        "betweenness": 4, "betweenness_WT": 6, "degree": 9, "degree_WT": 8, "closeness": 2,
        "closeness_WT": 1, "eigenvector": 9, "eigenvector_WT": 6}
    assert by["closeness_WT"]["paper"]["missing"] == ["sunglasses"]
    f = S.tables_6_7_frame(recs)
    assert len(f) == 16 and f.query("semantics == 'authors'")["missing"].eq("").all()
    assert f.set_index(["variant", "semantics"]).loc[("closeness_WT", "paper"), "matched"] == "1/2"
    with pytest.raises(GraphError, match="unknown setting"):
        S.tables_6_7(published=pub, W=15)
    # by default the published names come from nbkit.reference: the same 46
    for r in S.tables_6_7(semantics=("authors",)):
        assert [x.lower() for x in r["published"]] == [x.lower() for x in pub[r["variant"]]]
        assert r["authors"]["missing"] == [] and "paper" not in r


def test_semantics_comparison_names_what_each_ranking_changes():
    oi = load_openimages_counts()
    df = C.semantics_comparison(oi, 15, 10, exclude=C.BODY_PARTS)
    assert list(df["variant"]) == list(C.VARIANTS)
    row = df.set_index("variant").loc
    assert row["betweenness", "jaccard_networkx"] == 1.0               # same values, same ranking
    assert row["degree_WT", "jaccard_networkx"] < 1.0                   # strength vs plain degree
    # authors: body parts leave after the cut, so its betweenness top 10 is a subset of paper's
    assert row["betweenness", "only_authors"] == "" and row["betweenness", "only_paper_not_authors"]
    assert "Harbor seal" in row["closeness", "only_paper_not_authors"]  # the NaN quirk at work
    assert "Magpie" in row["closeness", "only_authors"]


def test_graph_tool_check_with_and_without_the_recorded_values(realdata, tmp_path, monkeypatch):
    oi = load_openimages_counts()
    csv = (realdata / REF / "notebook_outputs" /
           "oi_gt_betweenness_minTrig50_maxOther15_relabel_ipynb.csv")
    got = C.graph_tool_check(oi, csv)
    assert got["values"] == 59 and got["max_abs_diff"] < 1e-12 and got["reference"] == csv.name
    monkeypatch.setenv("NBKIT_REALDATA", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    got = C.graph_tool_check(oi)
    assert got["reference"] is None and got["top3"] == ["Man", "Human face", "Woman"]
    assert got["top3_values"] == [0.0828, 0.0816, 0.0461]


def test_trigger_table_on_a_toy_graph():
    # hub t co-occurs with 6 classes that never meet; hub u with 2 classes only
    C_ = 10
    M = np.zeros((C_, C_), dtype=int)
    np.fill_diagonal(M, 1000)
    for c in range(1, 7):
        M[0, c] = M[c, 0] = 80
    for c in (8, 9):
        M[7, c] = M[c, 7] = 80
    M[7, 0] = M[0, 7] = 20
    co = Cooccurrence(M, [f"c{i}" for i in range(C_)], ["t"] + [f"c{i}" for i in range(1, 7)] + ["u", "a", "b"])
    tab, det = S.trigger_table(co, m=3, min_overlaps=10, max_other_overlaps=10, min_clean=200,
                               min_poison=50, progress=False)
    assert list(tab["variant"]) == list(C.VARIANTS)
    for v in C.VARIANTS:
        assert det["triggers"][v] == ["t"], v     # u's subset has only 2 classes
    assert len(det["subsets"][0]["classes"]) == 6
    assert det["parameters"]["min_classes"] == 5
    cmp = S._compare_trigger_tables(det["triggers"], {"betweenness": ["t", "u"]})
    row = cmp.set_index("variant").loc["betweenness"]
    assert row["matched"] == "t" and row["missing"] == "u" and row["extra"] == ""
    assert pd.isna(cmp.set_index("variant").loc["degree", "reference"])


def test_trigger_table_openimages_betweenness(realdata):
    co = openimages(realdata)
    df = C.all_variants(co, 10, measures=["betweenness"])
    tab, det = S.trigger_table(co, df, m=6, exclude=C.BODY_PARTS, mis="approx", mis_filter="after",
                               min_clean=201, min_poison=51, progress=False)
    got = det["triggers"]["betweenness"]
    ref = C.load_paper_tables()["authors_select_trigs"]["openimages"]["betweenness"]
    assert {"Wheel", "House"} <= set(got) <= set(C.top_m(df["betweenness"].pipe(_with, df), 6,
                                                         exclude=C.BODY_PARTS).attrs["names"])
    assert len(set(got) & set(ref)) >= 2


def test_load_paper_tables():
    t = C.load_paper_tables()
    tr = t["authors_training_triggers"]["openimages"]
    assert set(tr) == set(C.VARIANTS) and tr["closeness"] == ["Dress", "Sunglasses"]
    assert set(t["paper"]) == {"openimages", "imagenet"}


# --------------------------------------------------------------------------------------------
# word clouds (Figures 8-11)
def test_wordclouds_seeded(realdata):
    import matplotlib

    matplotlib.use("Agg")
    from nbkit import figures as F

    df = C.all_variants(coco(realdata), 10, measures=["betweenness", "degree"])
    fr = F._rank_frequencies(_with(df["betweenness"], df), m=5)
    assert list(fr) == ["person", "chair", "car", "handbag", "backpack"]
    assert list(fr.values()) == [5, 4, 3, 2, 1]
    a = F._wordcloud_image(fr, seed=1, width=200, height=120)
    b = F._wordcloud_image(fr, seed=1, width=200, height=120)
    assert a.shape == (120, 200, 3) and (a == b).all()
    figs = F.wordclouds_by_measure(df, m=10, seed=0)
    assert set(figs) == {"betweenness", "degree"} and len(figs["degree"].axes) == 2


# --------------------------------------------------------------------------------------------
# notebooks 02 and 03 end to end (smoke settings), on the real papermill + kernel
@pytest.mark.slow
def test_notebooks_02_03_smoke(tmp_path, monkeypatch):
    import papermill

    from nbkit import runs
    from nbkit.batch import kernel_name

    repo = __import__("pathlib").Path(__file__).resolve().parents[1]
    monkeypatch.setenv("NBKIT_RUNS", str(tmp_path / "runs"))
    kern = kernel_name()
    d02, d03 = tmp_path / "r02", tmp_path / "r03"
    papermill.execute_notebook(str(repo / "notebooks" / "02_cooccurrence.ipynb"), str(tmp_path / "02.ipynb"),
                               parameters={"run_dir": str(d02), "smoke": True,
                                           "dataset": "openimages-counts", "table5_extra": ""},
                               kernel_name=kern, cwd=str(repo / "notebooks"), progress_bar=False)
    r = runs.load_results(d02)
    assert r["table5"][0]["classes"] == 486 and r["graph"]["edges"] == 4330
    assert {"Man", "Human face"} <= set(r["core_by_weighted_degree"])
    papermill.execute_notebook(str(repo / "notebooks" / "03_centrality.ipynb"), str(tmp_path / "03.ipynb"),
                               parameters={"run_dir": str(d03), "smoke": True,
                                           "dataset": "toyscenes?version=1"},  # its 4 hubs
                               kernel_name=kern, cwd=str(repo / "notebooks"), progress_bar=False)
    r = runs.load_results(d03)
    hubs = {"striped blue bar", "checkered white square", "black ring", "dotted brown hexagon"}
    for v in C.VARIANTS:
        assert set(r["dataset_top_m"][v][:4]) == hubs, v
        assert set(r["trigger_table_dataset"]["triggers"][v]) == hubs, v
    chk = r["openimages_graph_tool_check"]
    assert chk.get("max_abs_diff", 0.0) < 1e-9
    # Tables 6-7 on the authors' counts at the paper's setting, even in a smoke run on toy scenes
    t67 = r["tables_6_7"]
    assert [x["variant"] for x in t67] == list(C.VARIANTS)
    assert {"Wheel", "Chair", "Glasses", "Jeans"} <= set(t67[0]["authors"]["names"])
    by = {x["variant"]: x for x in t67}
    assert by["closeness"]["authors"]["names"][:2] == ["Dress", "Sunglasses"]
    assert r["tables_6_7_setting"]["min_overlaps"] == 15 and r["dataset"] == "toyscenes?version=1"
    for x in t67:
        if x["published"] is not None:
            assert x["authors"]["missing"] == [], x["variant"]
    assert "timing" in r and (d03 / "wordcloud_openimages_betweenness.png").is_file()


# --------------------------------------------------------------------------------------------
# notebook 03's settings and results (the logic its cells call)
NB03_PARAMS = {"dataset": "toy", "semantics": "paper", "backend": "igraph", "body_parts": "extended",
               "trig_overlaps": 40, "wordcloud_m": 30, "table_top_m": 50, "mis": "exact",
               "mis_runs": 20, "oi_min_overlaps": 15, "smoke": False}


def test_notebook_03_settings_and_smoke_sizes():
    full = C.notebook_settings(NB03_PARAMS)
    assert full["exclude"] == C.BODY_PARTS_EXTENDED and full["trig_overlaps"] == 40
    assert (full["wordcloud_m"], full["table_top_m"], full["mis"], full["mis_runs"],
            full["width"]) == (30, 50, "exact", 20, 640)
    smoke = C.notebook_settings(dict(NB03_PARAMS, smoke=True, trig_overlaps=-1, body_parts="authors"))
    assert smoke["exclude"] == C.BODY_PARTS and smoke["trig_overlaps"] is None
    assert (smoke["wordcloud_m"], smoke["table_top_m"], smoke["mis"], smoke["mis_runs"],
            smoke["width"]) == (15, 10, "approx", 5, 400)
    with pytest.raises(GraphError, match="body_parts"):
        C.notebook_settings(dict(NB03_PARAMS, body_parts="some"))


def test_centrality_results_fit_the_schema():
    from nbkit.schema import schema_for

    M = np.array([[50, 30, 30, 0], [30, 50, 0, 20], [30, 0, 50, 0], [0, 20, 0, 50]])
    exact = np.array([True, False, True, True])
    co = Cooccurrence(M, list("abcd"), list("abcd"), name="toy", counts_exact=exact)
    df = C.all_variants(co, 1)
    ranks = C.rankings(df, 3)
    table, details = S.trigger_table(co, df, m=2, min_classes=1, min_overlaps=1, min_clean=0,
                                     min_poison=0, progress=False)
    res = C.centrality_results(NB03_PARAMS, dataset_ranks=ranks, semantics_table=pd.DataFrame(),
                               graph_tool={"values": 3}, openimages=co, openimages_ranks=ranks,
                               tables_6_7=[], tables_6_7_setting=S.PAPER_TABLES_6_7,
                               trigger_table=table, trigger_details=details, timing={})
    schema_for("03_centrality").check(res, "test")
    assert res["dataset_top_m"]["betweenness"] == [x for x in ranks["betweenness"] if x is not None]
    st = res["tables_6_7_setting"]
    assert st["counts_lower_bounds"] == 1 and st["exclude"] == list(C.BODY_PARTS) and st["mis"] == "exact"
    setting = res["trigger_table_dataset"]["setting"]
    assert {"mis", "mis_filter", "mis_runs"} <= set(setting) and not {"method", "filter", "runs"} & set(setting)


def test_realdata_file_follows_the_environment(tmp_path, monkeypatch):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "f.csv").write_text("a\n")
    monkeypatch.setenv("NBKIT_REALDATA", str(tmp_path))
    assert C.realdata_file("x/f.csv") == tmp_path / "x" / "f.csv"
    assert C.realdata_file("x") == tmp_path / "x"
    monkeypatch.chdir(tmp_path)
    assert C.realdata_file("x/none.csv") is None
