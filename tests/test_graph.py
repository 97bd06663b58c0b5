"""nbkit.graph: M = YᵀY (nbkit.cooccurrence), the co-occurrence graph, Table 5, distributions, bad input.

Real data: the VOC2007 label table must reproduce ML-GCN's ``voc_adj`` exactly; the COCO and the
authors' Open Images counts must give the edge counts recorded in ../shared/realdata/README.md.
"""
from __future__ import annotations

import warnings

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from nbkit import graph as G
from nbkit.cooccurrence import Cooccurrence, cooccurrence_matrix
from nbkit.errors import DataError, GraphError
from nbkit.labelindex import LabelIndex
from realcounts import coco_counts, openimages_counts


# --------------------------------------------------------------------------------------------
# fixtures
def tiny_index(with_boxes=True):
    # 5 images, 4 classes; class 3 ("unicorn") never appears
    Y = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 0, 1, 0], [1, 1, 1, 0], [0, 1, 0, 0],
                                [1, 0, 0, 0]], dtype=bool))
    boxes = None
    if with_boxes:
        boxes = pd.DataFrame({"image": [0, 0, 0, 1, 2, 2, 2, 3, 4, 4],
                              "class": [0, 1, 1, 0, 0, 1, 2, 1, 0, 0],
                              "x0": 0.1, "y0": 0.1, "x1": 0.5, "y1": 0.5})
    return LabelIndex("tiny", ["a", "b", "c", "u"], ["apple", "bee", "cat", "unicorn"],
                      [f"i{k}" for k in range(5)], ["train"] * 4 + ["test"], Y, boxes=boxes)


def voc_labelindex(realdata, split="trainval"):
    d = pd.read_csv(realdata / "voc2007_labels" / f"voc2007_{split}_labels.csv",
                    dtype={"image_id": str})
    cls = [c for c in d.columns if c != "image_id"]
    Y = sp.csr_matrix(d[cls].to_numpy() == 1)  # positives only; 0 = "difficult" only
    return LabelIndex(f"voc2007-{split}", cls, cls, d["image_id"], [split] * len(d), Y)


oi_counts = openimages_counts


# --------------------------------------------------------------------------------------------
# M = YᵀY
def test_cooccurrence_matrix_matches_sparse_product():
    Y = G.synthetic_label_matrix(3000, 40, labels_per_image=5, zipf=1.0, seed=3)
    Yi = Y.astype(np.int64)
    M = cooccurrence_matrix(Y)
    assert M.dtype == np.int64 and (M == (Yi.T @ Yi).toarray()).all()
    assert (np.diag(M) == np.asarray(Y.sum(axis=0)).ravel()).all()


def test_cooccurrence_matrix_handles_unsorted_duplicates_and_counts():
    # row 0: classes 2, 0 (unsorted) and a duplicate of 2; integer "counts" mean presence
    indptr = np.array([0, 3, 5, 5, 8])
    indices = np.array([2, 0, 2, 1, 3, 3, 1, 0])
    data = np.array([1, 1, 1, 2, 1, 5, 1, 1])
    Y = sp.csr_matrix((data, indices, indptr), shape=(4, 4))
    expected = np.array([[2, 1, 1, 1], [1, 2, 0, 2], [1, 0, 1, 0], [1, 2, 0, 2]])
    assert cooccurrence_matrix(Y).tolist() == expected.tolist()
    assert cooccurrence_matrix(Y.toarray()).tolist() == expected.tolist()  # dense input too


def test_cooccurrence_loads_no_native_code_from_the_cache(tmp_path, monkeypatch):
    """A library planted in the cache's kernels/ folder is never loaded: nothing compiles there."""
    import ctypes

    monkeypatch.setenv("NBKIT_CACHE", str(tmp_path))
    (tmp_path / "kernels").mkdir()
    (tmp_path / "kernels" / "nbkit_cooc_planted.so").write_bytes(b"\x7fELF not a library")
    Y = G.synthetic_label_matrix(500, 12, labels_per_image=3, seed=0)
    cooccurrence_matrix(Y[:5])  # numba (and its LLVM library) imported and compiled first
    loaded = []
    monkeypatch.setattr(ctypes, "CDLL", lambda *a, **k: loaded.append(a) or pytest.fail("CDLL"))
    assert (cooccurrence_matrix(Y) == (Y.T.astype(int) @ Y.astype(int)).toarray()).all()
    assert loaded == [] and sorted(p.name for p in (tmp_path / "kernels").iterdir()) == [
        "nbkit_cooc_planted.so"]
    assert not hasattr(G, "fast_cooccurrence") and not hasattr(G, "cooccurrence_kernel")


def test_cooccurrence_matrix_bad_input():
    with pytest.raises(DataError, match="NaN"):
        cooccurrence_matrix(sp.csr_matrix(np.array([[1.0, np.nan]])))
    with pytest.raises(DataError, match="infinite"):
        cooccurrence_matrix(sp.csr_matrix(np.array([[1.0, np.inf]])))
    with pytest.raises(DataError, match="complex"):
        cooccurrence_matrix(sp.csr_matrix(np.array([[1 + 1j, 0]])))
    with pytest.raises(DataError, match="negative"):
        cooccurrence_matrix(sp.csr_matrix(np.array([[1, -1]])))
    with pytest.raises(DataError, match="2-D"):
        cooccurrence_matrix(np.ones(3))


def test_synthetic_label_matrix_is_seeded():
    a = G.synthetic_label_matrix(4000, 60, labels_per_image=6, seed=7)
    b = G.synthetic_label_matrix(4000, 60, labels_per_image=6, seed=7)
    c = G.synthetic_label_matrix(4000, 60, labels_per_image=6, seed=8)
    assert (a != b).nnz == 0 and (a != c).nnz > 0
    assert 5.5 < a.nnz / 4000 < 6.5
    counts = np.sort(np.asarray(a.sum(axis=0)).ravel())[::-1]
    assert counts[0] > 5 * counts[30]  # Zipf-like: heavy head


def test_voc2007_labels_reproduce_mlgcn_counts(realdata):
    li = voc_labelindex(realdata)
    co = G.as_cooccurrence(li)
    z = np.load(realdata / "cooccurrence_mlgcn" / "voc_adj.npz")
    assert (co.pairs == z["adj"]).all()
    assert (co.class_counts == z["nums"]).all()
    assert co.n_images == 5011


# --------------------------------------------------------------------------------------------
# the graph
def test_build_graph_nodes_edges_attributes():
    li = tiny_index()
    with pytest.warns(UserWarning, match="unicorn"):
        g = G.build_graph(li, min_overlaps=1)
    assert sorted(g.nodes) == [0, 1, 2, 3]  # every class is a vertex, also the empty one
    assert g.nodes[3] == {"label": "u", "name": "unicorn", "count": 0, "count_exact": True}
    assert g.nodes[0]["count"] == 4
    assert sorted(g.edges(data="overlaps")) == [(0, 1, 2), (0, 2, 2), (1, 2, 1)]
    assert g.edges[0, 1]["distance"] == pytest.approx(0.5)
    assert g.graph["min_overlaps"] == 1 and g.graph["n_images"] == 5
    with pytest.warns(UserWarning):
        g2 = G.build_graph(li, min_overlaps=2)  # threshold is inclusive: M >= 2
    assert sorted(g2.edges) == [(0, 1), (0, 2)]


def test_edge_list_agrees_with_build_graph(realdata):
    co = coco_counts(realdata)
    for m in (1, 10, 100):
        src, dst, w = G.edge_list(co, m)
        g = G.build_graph(co, m)
        assert (src < dst).all() and (w >= m).all()
        assert sorted(zip(src.tolist(), dst.tolist(), w.tolist())) == \
            sorted(g.edges(data="overlaps"))


def test_real_edge_counts(realdata):
    co = coco_counts(realdata)
    assert len(G.edge_list(co, 10)[0]) == 1559  # README: 80 nodes, 1,559 edges at >= 10
    assert len(G.edge_list(co, 1)[0]) == 2574   # nonzero pairs
    oi = oi_counts(realdata)
    assert len(G.edge_list(oi, 1)[0]) == 19303
    assert len(G.edge_list(oi, 10)[0]) == 5377
    d = G.degree_weight_distributions(oi, 15)
    assert d["summary"]["edges"] == 4330 and d["summary"]["isolated"] == 75
    top = d["nodes"].sort_values("strength", ascending=False).index[:2].tolist()
    assert sorted(oi.class_names[top]) == ["Human face", "Man"]
    assert d["weights"].max() == 172923  # Man–Human face


def test_core_subgraph_deterministic(realdata):
    g = G.build_graph(coco_counts(realdata), 10)
    a = G.core_subgraph(g, 12)
    b = G.core_subgraph(g, 12)
    assert list(a.nodes) == list(b.nodes) and len(a) == 12
    assert "person" in {a.nodes[v]["name"] for v in a}
    w = G.core_subgraph(g, 5, by="weighted")
    assert w.nodes[max(w.nodes, key=lambda v: g.degree(v, weight="overlaps"))]["name"] == "person"
    with pytest.raises(GraphError, match="by="):
        G.core_subgraph(g, 5, by="pagerank")


def test_degree_weight_distributions_on_graph_and_counts():
    M = np.array([[5, 3, 0, 0], [3, 4, 2, 0], [0, 2, 6, 0], [0, 0, 0, 1]])
    d = G.degree_weight_distributions(M, 1)
    assert d["nodes"]["degree"].tolist() == [1, 2, 1, 0]
    assert d["nodes"]["strength"].tolist() == [3, 5, 2, 0]
    s = d["summary"]
    assert (s["vertices"], s["edges"], s["isolated"], s["components"], s["largest_component"]) == \
        (4, 2, 1, 2, 3)
    d2 = G.degree_weight_distributions(G.build_graph(M, 1))
    assert d2["nodes"]["degree"].tolist() == [1, 2, 1, 0] and d2["summary"] == s


# --------------------------------------------------------------------------------------------
# Table 5
def test_table5_labelindex_and_counts(realdata):
    li = tiny_index()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t = G._table5([li, ("tiny-nobox", tiny_index(with_boxes=False)),
                      ("tiny-counts", G.as_cooccurrence(li)), oi_counts(realdata)], min_overlaps=1)
    r = t.set_index("dataset")
    assert r.loc["tiny", "classes"] == 4 and r.loc["tiny", "classes_with_images"] == 3
    assert r.loc["tiny", "images"] == 5
    assert r.loc["tiny", "labels_per_image"] == pytest.approx(9 / 5)
    assert r.loc["tiny", "objects_per_image"] == pytest.approx(10 / 5)  # 10 boxes / 5 images
    assert r.loc["tiny", "objects_basis"] == "boxes"
    assert r.loc["tiny-nobox", "objects_basis"] == "labels"
    assert r.loc["tiny-counts", "labels_per_image"] == pytest.approx(9 / 5)
    assert r.loc["tiny", "edges"] == 3 and r.loc["tiny", "isolated"] == 1
    assert r.loc["tiny", "components"] == 2
    oi = r.loc["openimages"]
    assert oi["classes"] == 486 and oi["edges"] == 19303
    assert np.isnan(oi["labels_per_image"]) and "number of images not recorded" in oi["note"]


def test_table5_bad_item():
    with pytest.raises(GraphError, match="table5"):
        G._table5([42])


# --------------------------------------------------------------------------------------------
# bad input: clear errors, never a crash
def test_bad_counts_are_named():
    with pytest.raises(DataError, match="NaN"):
        G.build_graph(np.array([[1.0, np.nan], [np.nan, 1.0]]), 1)
    with pytest.raises(DataError, match="negative"):
        G.build_graph(np.array([[1, -2], [-2, 1]]), 1)
    with pytest.raises(DataError, match="square"):
        G.edge_list(np.ones((2, 3)), 1)
    with pytest.raises(DataError, match="symmetric"):
        G.build_graph(np.array([[3, 1], [2, 3]]), 1)
    # an exact per-class count below a pair count is impossible
    bad = Cooccurrence(np.array([[2, 5], [5, 9]]), ["x", "y"], ["x", "y"], name="bad")
    with pytest.raises(DataError, match="'x' appears in 2 images but co-occurs with 'y' in 5"):
        G.build_graph(bad, 1)
    # ... unless the count is only a lower bound
    ok = Cooccurrence(np.array([[2, 5], [5, 9]]), ["x", "y"], ["x", "y"],
                      counts_exact=np.array([False, True]))
    assert G.build_graph(ok, 1).number_of_edges() == 1


@pytest.mark.parametrize("m", [0, -3, 1.5, "10", None, True])
def test_bad_min_overlaps(m):
    with pytest.raises(GraphError, match="min_overlaps"):
        G.edge_list(np.eye(3, dtype=int), m)


def test_class_without_images_warns_but_builds():
    M = np.array([[4, 2, 0], [2, 3, 0], [0, 0, 0]])
    co = Cooccurrence(M, ["a", "b", "ghost"], ["a", "b", "ghost"], name="toy")
    with pytest.warns(UserWarning, match="1 class\\(es\\) have no images: 'ghost'"):
        g = G.build_graph(co, 1)
    assert g.degree(2) == 0


def test_unknown_input_type():
    with pytest.raises(GraphError, match="Cooccurrence, a LabelIndex"):
        G.build_graph({"a": 1}, 1)


def test_empty_split():
    with pytest.raises(DataError, match="no images in split"):
        G.as_cooccurrence(tiny_index(), split="val")


def test_graph_is_plain_networkx():
    g = G.build_graph(np.array([[3, 2], [2, 3]]), 1)
    assert isinstance(g, nx.Graph) and not g.is_directed()


# --------------------------------------------------------------------------------------------
# figures of notebook 02
def test_graph_figures(realdata, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    from nbkit import figures as F
    from nbkit import runs

    co = coco_counts(realdata)
    fig = F.distributions_figure(G.degree_weight_distributions(co, 10), "coco")
    assert len(fig.axes) == 3
    g = G.build_graph(co, 10)
    f1 = F.core_figure(g, k=15, seed=0)
    f2 = F.core_figure(g, k=15, seed=0)
    pos1 = [c.get_offsets().tolist() for c in f1.axes[0].collections if hasattr(c, "get_offsets")]
    pos2 = [c.get_offsets().tolist() for c in f2.axes[0].collections if hasattr(c, "get_offsets")]
    assert pos1 == pos2  # seeded layout
    paths = runs.save_figure(f1, tmp_path, "core")
    assert all(p.stat().st_size > 0 for p in paths)


# --------------------------------------------------------------------------------------------
# notebook 02's steps
def test_effective_sizes():
    assert G.effective_sizes(30, "1, 5,10,15,20", smoke=False) == {"top_k": 30,
                                                                   "thresholds": [1, 5, 10, 15, 20]}
    assert G.effective_sizes(30, [1, 5, 10, 15, 20], smoke=True) == {"top_k": 15,
                                                                     "thresholds": [1, 5, 10, 15]}


def test_notebook_steps_and_results_fit_the_schema():
    from nbkit.schema import SCHEMAS

    li = tiny_index()
    counted = G.count_cooccurrence(li)
    co = counted["co"]
    assert counted["seconds"] is not None and "5 images, 4 classes" in counted["text"]
    assert G.count_cooccurrence(co)["seconds"] is None
    assert G.matrix_head(co, 2).to_dict() == {"apple": {"apple": 4, "bee": 2},
                                              "bee": {"apple": 2, "bee": 3}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t5 = G.table5_of("tiny", li, " , tiny", min_overlaps=1)  # the dataset is not repeated
        g = G.build_graph(co, 1)
        dist = G.degree_weight_distributions(co, 1)
        sweep = G.threshold_sweep(co, [1, 2])
    assert t5["dataset"].tolist() == ["tiny"]
    assert sweep["edges"].tolist() == [3, 2]
    top = G.top_degree(dist, 2)
    assert top["name"].tolist() == ["apple", "bee"]
    assert G._core_names(g, 2, "weighted") == ["apple", "bee"]
    res = G.cooccurrence_results("tiny", 1, t5, dist, top, g, 2, sweep, {"cooccurrence_s": 0.1})
    SCHEMAS["02_cooccurrence"].check(res, "test")
    assert res["top_degree"][0] == {"class_id": 0, "name": "apple", "degree": 2, "strength": 4}
    assert res["table5"][0]["images"] == 5 and res["threshold_sweep"][1]["min_overlaps"] == 2
