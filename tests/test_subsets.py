"""Poisonable subsets (nbkit.subsets): exact and approximate maximum independent sets, the class
filter and counts, the authors' golden outputs (Feb-2022 JSONs, relabel notebook), App. D overlaps."""
from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from nbkit import mis as MIS
from nbkit import subsets as S
from nbkit.cooccurrence import Cooccurrence
from nbkit.errors import DataError, GraphError


# ---------------------------------------------------------------------------------------------
# helpers
def brute_force_alpha(A: np.ndarray) -> int:
    """Independence number by enumerating all vertex subsets (bitsets; n <= 14)."""
    n = A.shape[0]
    adj = [sum(1 << j for j in np.flatnonzero(A[i])) for i in range(n)]
    best = 0
    for mask in range(1 << n):
        k = bin(mask).count("1")
        if k <= best:
            continue
        m, ok = mask, True
        while m:
            i = (m & -m).bit_length() - 1
            if adj[i] & mask:
                ok = False
                break
            m &= m - 1
        if ok:
            best = k
    return best


def random_graph(rng, n, p):
    U = np.triu(rng.random((n, n)) < p, 1)
    return U | U.T


def toy_co():
    """A trigger t (id 0) with five candidates a..e; conflicts a-b (40), c-d (12); f is rare."""
    names = ["t", "a", "b", "c", "d", "e", "f", "lonely"]
    n = len(names)
    M = np.zeros((n, n), dtype=np.int64)
    diag = [5000, 600, 600, 300, 900, 400, 60, 70]
    np.fill_diagonal(M, diag)

    def put(i, j, v):
        M[i, j] = M[j, i] = v

    for j, w in zip(range(1, 7), [100, 90, 80, 70, 60, 55]):
        put(0, j, w)
    put(1, 2, 40)   # a-b conflict
    put(3, 4, 12)   # c-d: conflict only when the tolerance is below 12
    put(2, 5, 3)    # b-e: below any tolerance used
    exact = np.ones(n, dtype=bool)
    exact[4] = False  # d's image count is only a lower bound
    return Cooccurrence(M, [f"/m/{x}" for x in names], names, name="toy", counts_exact=exact)


# ---------------------------------------------------------------------------------------------
# the solvers on graphs
def test_exact_matches_brute_force_and_approx_never_larger():
    rng = np.random.default_rng(20220224)
    for k in range(30):
        n = int(rng.integers(1, 15))
        A = random_graph(rng, n, float(rng.uniform(0.05, 0.9)))
        alpha = brute_force_alpha(A)
        ex = MIS.mis_exact(A, time_limit=10)
        assert ex["size"] == alpha and ex["optimal"] and ex["upper_bound"] == alpha, (k, n)
        assert MIS._is_independent(A, ex["members"])
        ap = MIS.mis_approx(A, runs=5, seed=k)
        assert ap["size"] <= alpha and MIS._is_independent(A, ap["members"])
        assert len(ap["sizes"]) == 5 and max(ap["sizes"]) == ap["size"]
        assert MIS._clique_partition_bound(A) >= alpha
        # every draw is maximal: no outside vertex could be added
        outside = np.setdiff1d(np.arange(n), ap["members"])
        assert all(A[v, ap["members"]].any() for v in outside)


def test_exact_handles_reductions_and_components():
    # a path of 5 (alpha 3), a triangle (1), an isolated vertex (1), a 5-cycle (2), a K4 (1)
    blocks = [np.eye(5, k=1, dtype=bool), np.ones((3, 3), bool), np.zeros((1, 1), bool),
              np.eye(5, k=1, dtype=bool), np.ones((4, 4), bool)]
    blocks[3][4, 0] = True
    n = sum(b.shape[0] for b in blocks)
    A = np.zeros((n, n), bool)
    o = 0
    for b in blocks:
        k = b.shape[0]
        A[o:o + k, o:o + k] = b | b.T
        o += k
    np.fill_diagonal(A, False)
    r = MIS.mis_exact(A)
    assert r["size"] == 3 + 1 + 1 + 2 + 1 and r["optimal"]
    assert MIS._is_independent(A, r["members"])


def test_empty_graph_and_bad_adjacency():
    r = MIS.mis_exact(np.zeros((0, 0), bool))
    assert r["size"] == 0 and r["optimal"]
    assert MIS.mis_approx(np.zeros((0, 0), bool))["size"] == 0
    with pytest.raises(GraphError, match="not symmetric"):
        MIS.mis_exact(np.triu(np.ones((3, 3), bool), 1))
    with pytest.raises(GraphError, match="square"):
        MIS.mis_exact(np.zeros((2, 3), bool))
    with pytest.raises(GraphError, match="runs"):
        MIS.mis_approx(np.zeros((2, 2), bool), runs=0)
    loops = np.ones((4, 4), bool)                 # self-loops are ignored, not an endless loop
    loops[:2, 2:] = loops[2:, :2] = False
    assert MIS._clique_partition_bound(loops) == 2 and MIS.mis_exact(loops)["size"] == 2


def test_time_limit_gives_an_honest_optimal_flag():
    rng = np.random.default_rng(7)
    A = random_graph(rng, 150, 0.5)   # dense random graphs are the hard case for MIS
    ap = MIS.mis_approx(A, runs=20, seed=0)
    r = MIS.mis_exact(A, time_limit=0.01)
    assert MIS._is_independent(A, r["members"])
    assert r["size"] >= ap["size"] - 0       # never worse than the approximation
    assert r["upper_bound"] >= r["size"]
    if r["optimal"]:
        assert r["upper_bound"] == r["size"]
    else:
        assert r["upper_bound"] > r["size"] and r["status"] != "optimal"


def test_approx_is_seeded():
    rng = np.random.default_rng(3)
    A = random_graph(rng, 60, 0.2)
    a1, a2 = MIS.mis_approx(A, 4, seed=11), MIS.mis_approx(A, 4, seed=11)
    assert a1["sizes"] == a2["sizes"] and a1["members"].tolist() == a2["members"].tolist()


def test_approx_keep_mask_filters_every_draw():
    A = np.zeros((4, 4), bool)
    keep = np.array([True, False, True, False])
    r = MIS.mis_approx(A, runs=3, keep=keep)
    assert r["members"].tolist() == [0, 2] and r["sizes"] == [2, 2, 2]


# ---------------------------------------------------------------------------------------------
# on a Cooccurrence
def test_candidates_thresholds_and_order():
    co = toy_co()
    assert S.candidates(co, "t", 50).tolist() == [1, 2, 3, 4, 5, 6]   # by decreasing weight
    assert S.candidates(co, "t", 75).tolist() == [1, 2, 3]
    assert S.candidates(co, 0, None, min_overlaps=90).tolist() == [1, 2]
    assert S.candidates(co, "lonely", 0).tolist() == []
    with pytest.raises(DataError, match="unknown class 'nope'"):
        S.candidates(co, "nope", 10)
    with pytest.raises(GraphError):
        S.candidates(co, "t", None)


def test_conflicts_use_tolerance_and_graph_threshold():
    co = toy_co()
    A = S.conflict_matrix(co, [1, 2, 3, 4], max_other_overlaps=10)
    assert A[0, 1] and A[2, 3] and A.sum() == 4
    A = S.conflict_matrix(co, [1, 2, 3, 4], max_other_overlaps=12)     # edges AT the tolerance
    assert A[0, 1] and not A[2, 3]                                       # do not conflict
    A = S.conflict_matrix(co, [1, 2, 3, 4], max_other_overlaps=0, min_overlaps=20)
    assert A[0, 1] and not A[2, 3]                                       # not an edge of the graph


def test_independent_set_on_classes():
    co = toy_co()
    r = S._independent_set(co, ["a", "b", "c", "d", "e"], max_other_overlaps=10)
    assert r["size"] == 3 and r["optimal"] and r["method"] == "exact"
    assert 5 in r["classes"] and len({1, 2} & set(r["classes"])) == 1
    r2 = S._independent_set(co, ["a", "b", "c", "d", "e"], 10, mis="approx", mis_runs=5, seed=1)
    assert r2["size"] <= r["size"]
    with pytest.raises(DataError):
        S._independent_set(co, ["a", "zzz"], 10)
    with pytest.raises(DataError, match="repeated"):
        S._independent_set(co, ["a", "a"], 10)
    with pytest.raises(GraphError, match="method"):
        S._independent_set(co, ["a"], 10, mis="greedy")


def test_poisonable_subsets_counts_filter_and_shape():
    co = toy_co()
    subs = S.poisonable_subsets(co, pd.Series({0: 0.5, 7: 0.1}), trig_overlaps=50,
                                max_other_overlaps=10, min_overlaps=None, min_clean=200,
                                min_poison=50, progress=False)
    assert [e["trigger"]["name"] for e in subs] == ["t", "lonely"]
    t = subs[0]
    assert t["centrality"] == 0.5 and t["method"] == "exact" and t["optimal"]
    # f (60 images, 55 with t) has 5 clean images: filtered out before the MIS
    assert t["n_candidates"] == 6 and t["n_eligible"] == 5
    ids = [c["id"] for c in t["classes"]]
    assert 6 not in ids and 5 in ids and len(ids) == 3 and t["size"] == 3
    weights = [c["weight"] for c in t["classes"]]
    assert weights == sorted(weights, reverse=True)
    for c in t["classes"]:
        assert c["num_poison"] == co.M[0, c["id"]] == c["weight"]
        assert c["num_clean"] == co.M[c["id"], c["id"]] - co.M[0, c["id"]]
        assert c["num_clean_is_lower_bound"] == (c["id"] == 4)
        assert set(c) >= {"id", "label", "name", "weight", "num_clean", "num_poison"}
    assert t["exact_size"] == 3 and t["approx_size"] <= 3 and t["gap"] == 3 - t["approx_size"]
    # a trigger with no neighbours: an empty subset, not a crash
    lonely = subs[1]
    assert lonely["classes"] == [] and lonely["size"] == 0 and lonely["n_candidates"] == 0


def test_filter_options_and_include_trigger():
    co = toy_co()
    kw = dict(trig_overlaps=50, max_other_overlaps=10, min_overlaps=None, progress=False)
    none = S.poisonable_subsets(co, ["t"], mis_filter="none", **kw)[0]
    assert 6 in [c["id"] for c in none["classes"]] and none["n_eligible"] == 6
    strict = S.poisonable_subsets(co, ["t"], min_clean=400, **kw)[0]
    assert {c["id"] for c in strict["classes"]} <= {1, 2, 4}
    after = S.poisonable_subsets(co, ["t"], mis_filter="after", mis="approx", mis_runs=10, **kw)[0]
    assert all(c["num_clean"] >= 200 and c["num_poison"] >= 50 for c in after["classes"])
    inc = S.poisonable_subsets(co, ["t"], include_trigger=True, **kw)[0]
    assert inc["classes"][0]["id"] == 0 and inc["classes"][0]["is_trigger"]
    assert len(inc["classes"]) == inc["size"] + 1
    with pytest.raises(GraphError, match="mis_filter"):
        S.poisonable_subsets(co, ["t"], mis_filter="later", **kw)
    with pytest.raises(DataError, match="unknown class"):
        S.poisonable_subsets(co, ["t", "no such class"], **kw)


def test_zero_diagonal_counts_are_flagged_as_lower_bounds():
    M = np.array([[0, 80, 70], [80, 0, 0], [70, 0, 0]])
    co = Cooccurrence(M, ["t", "a", "b"], ["t", "a", "b"], name="zero-diagonal")
    e = S.poisonable_subsets(co, ["t"], trig_overlaps=10, max_other_overlaps=0, min_overlaps=None,
                             min_clean=0, min_poison=0, progress=False)[0]
    assert [c["num_clean"] for c in e["classes"]] == [0, 0]
    assert all(c["num_clean_is_lower_bound"] for c in e["classes"])


def test_triggers_json_roundtrip_and_bad_files(tmp_path):
    co = toy_co()
    subs = S.poisonable_subsets(co, ["t", "lonely"], trig_overlaps=50, max_other_overlaps=10,
                                progress=False)
    p = S.save_triggers_json(tmp_path / "possible_triggers.json", subs, {"seed": 0, "x": 1})
    data = S.load_triggers_json(p)
    assert isinstance(data, list) and len(data) == 2
    assert data[0]["params"] == {"seed": 0, "x": 1}
    assert len(data[0]["classes"]) >= len(data[1]["classes"])
    assert data[0]["classes"][0].keys() >= {"id", "label", "name", "weight", "num_clean",
                                            "num_poison"}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"trigger": 1}))
    with pytest.raises(DataError, match="top level is a dict"):
        S.load_triggers_json(bad)
    bad.write_text(json.dumps([{"trigger": {"id": 1, "name": "x"}, "classes": [{"name": "a"}]}]))
    with pytest.raises(DataError, match=r"entry 0 \(trigger x\): class 0 has no 'id'"):
        S.load_triggers_json(bad)
    bad.write_text(json.dumps([{"trigger": {"id": 1}}]))
    with pytest.raises(DataError, match="lacks 'trigger' or 'classes'"):
        S.load_triggers_json(bad)


def test_multi_trigger_overlap_counts_pairs():
    subs = [{"trigger": {"id": i, "name": f"t{i}"}, "centrality": 10 - i,
             "classes": [{"id": c} for c in cls]}
            for i, cls in enumerate([range(0, 40), range(5, 50), range(100, 110)])]
    r = S.multi_trigger_overlap(subs, top=3, threshold=30)
    assert r["triggers"] == ["t0", "t1", "t2"]
    assert r["matrix"].loc["t0", "t1"] == 35 and r["matrix"].loc["t0", "t0"] == 40
    assert r["largest"] == {"trigger_a": "t0", "trigger_b": "t1", "shared": 35}
    assert r["n_pairs"] == 3 and r["frac_pairs_above"] == pytest.approx(1 / 3)
    assert r["n_cells"] == 9 and r["frac_cells_above"] == pytest.approx(4 / 9)  # t0,t1 x2 + 2 diag
    assert S.multi_trigger_overlap(subs, top=1)["largest"] is None


def test_app_d_compares_against_the_papers_printed_setting_and_names_our_data():
    p = S._app_d_paper()
    assert (p["top"], p["min_overlaps"], p["trig_overlaps"], p["centrality"]) == (25, 15, 40, "betweenness")
    assert (p["n_cells"], p["share_above_pct"], p["largest_shared"]) == (625, 88, 111)
    assert p["dataset_named"] == "Open Images" and p["largest_pair"] == ("chain link fence", "website")
    summ = {"top": 10, "threshold": 7, "n_pairs": 100, "share_above": 0.42, "largest_shared": 12,
            "largest_pair": ["hub a", "hub b"], "basis": "subsets"}
    params = {"dataset": "toyscenes:1", "top_m": 25, "min_overlaps": 10, "trig_overlaps": -1,
              "centrality": "degree", "weighted": True, "overlap_threshold": 7, "max_other_overlaps": 40}
    st = S._app_d_setting(params, summ)
    assert st == {"top": 10, "min_overlaps": 10, "trig_overlaps": None, "centrality": "degree_WT",
                  "overlap_threshold": 7, "basis": "subsets"}
    cmp = S.app_d_comparison(summ, params).set_index("quantity")
    assert set(cmp["data"]) == {"toy scenes"} and set(cmp["dataset"]) == {"toyscenes:1"}
    assert cmp["paper_dataset"].str.startswith("Open Images (as printed").all()
    share = cmp.loc["share of cells with more than 7 shared classes (%)"]   # our threshold, not 30
    assert share["ours"] == 42.0 and share["paper"] == 88 and not share["comparable"]
    assert "ours counts more than 7 shared classes, the paper more than 30" in share["note"]
    assert cmp.loc["that pair", "paper"] == "chain link fence + website"
    assert cmp.loc["trig (min trigger overlaps)", "ours"] == "every graph neighbour"
    assert cmp.loc["centrality", "comparable"] == False  # noqa: E712
    text = S.app_d_text(summ, params)
    assert "toyscenes:1, toy scenes" in text and "more than 7 classes" in text
    assert text.count("more than 30") == 1 and "names Open Images" in text   # 30 is the paper's only
    assert "W 10 (paper 15)" in text and "top 10 (paper 25)" in text
    # the paper's own setting on the authors' Open Images counts: every row comparable
    same = dict(params, dataset="openimages-counts", top_m=25, min_overlaps=15, trig_overlaps=40,
                centrality="betweenness", weighted=False, overlap_threshold=30)
    summ2 = dict(summ, top=25, threshold=30, n_pairs=625)
    cmp2 = S.app_d_comparison(summ2, same)
    assert set(cmp2["data"]) == {"authors' counts"}
    assert cmp2["comparable"].dropna().all() and "Same setting" in S.app_d_text(summ2, same)
    assert S._app_d_differences(dict(S._app_d_setting(same, summ2), basis="candidates")) == [
        "counted on candidates (paper subsets)"]


# ---------------------------------------------------------------------------------------------
# real data: the authors' Open Images matrix and their recorded outputs
@pytest.fixture(scope="module")
def oi():
    from nbkit.datasets import load_cooccurrence

    return load_cooccurrence("openimages-counts")


def _golden_files(realdata):
    files = sorted((realdata / "naturalbackdoors_reference" / "possible_triggers" /
                    "openimages").glob("possible_triggers_minTrigOverlap*_maxOtherOverlap*.json"))
    assert len(files) == 24
    out = []
    for f in files:
        mt, mo = map(int, re.findall(r"\d+", f.name))
        out.append((mt, mo, f))
    return out


def test_authors_feb2022_trigger_sets_match_all_24_files(realdata, oi):
    from nbkit import centrality as C

    for mt, mo, f in _golden_files(realdata):
        theirs = json.loads(f.read_text())
        b = C.centrality(oi, "betweenness", False, max(mo, mt + 1))
        ours = set(S._authors_feb2022_triggers(oi, mt, mo, betweenness=b).index)
        assert ours == {e["trigger"]["id"] for e in theirs}, f.name
        # their class lists are random draws: check each one is valid under the same rule
        for e in theirs:
            t = e["trigger"]["id"]
            ids = [c["id"] for c in e["classes"]]
            w = oi.M[t, ids]
            assert (w > mt).all() and (w >= mo).all() and (w >= 49).all(), (f.name, t)
            A = S.conflict_matrix(oi, ids, max_other_overlaps=mo - 1, min_overlaps=mo)
            assert not A.any(), (f.name, e["trigger"]["name"])


@pytest.mark.parametrize("mt,mo", [(10, 5), (50, 15), (60, 20)])
def test_authors_feb2022_rule_reproduces_a_file(realdata, oi, mt, mo):
    f = dict(((a, b), p) for a, b, p in _golden_files(realdata))[(mt, mo)]
    theirs = json.loads(f.read_text())
    ours = S._authors_feb2022_rule(oi, mt, mo, seed=0)
    assert {e["trigger"]["id"] for e in ours} == {e["trigger"]["id"] for e in theirs}
    assert [len(e["classes"]) for e in ours] == sorted((len(e["classes"]) for e in ours),
                                                       reverse=True)
    total_ours = sum(len(e["classes"]) for e in ours)
    total_theirs = sum(len(e["classes"]) for e in theirs)
    assert abs(total_ours - total_theirs) <= 0.1 * total_theirs   # same procedure, other draws
    for e in ours:
        t = e["trigger"]["id"]
        ids = [c["id"] for c in e["classes"]]
        assert not S.conflict_matrix(oi, ids, mo - 1, mo).any()
        assert all(c["num_poison"] >= 49 and c["num_clean"] >= 250 and c["weight"] > mt
                   for c in e["classes"]), t
    exact = S._authors_feb2022_rule(oi, mt, mo, mis="exact")
    by = {e["trigger"]["id"]: e for e in exact}
    assert all(by[e["trigger"]["id"]]["size"] >= e["size"] for e in ours)


def test_exact_mis_at_least_the_relabel_notebook_sets(realdata, oi):
    ref = pd.read_csv(realdata / "naturalbackdoors_reference" / "notebook_outputs" /
                      "oi_gt_mis_sets_minTrig50_maxOther15_relabel_ipynb.csv")
    subs = S.poisonable_subsets(oi, ref["trigger_index"].tolist(), trig_overlaps=50,
                                max_other_overlaps=14, min_overlaps=15, mis_filter="none",
                                include_trigger=True, progress=False)
    by = {e["trigger"]["name"]: e for e in subs}
    for _, r in ref.iterrows():
        e = by[r.trigger_name]
        assert e["optimal"]
        assert len(e["classes"]) >= r.set_size_incl_trigger, r.trigger_name
        theirs = [int(x) for x in r.set_indices_incl_trigger.split() if int(x) != r.trigger_index]
        assert not S.conflict_matrix(oi, theirs, 14, 15).any(), r.trigger_name
    for name, n in {"Chair": 15, "Wheel": 19, "Jeans": 14, "Glasses": 13}.items():
        assert len(by[name]["classes"]) >= n


def test_top50_betweenness_exact_all_optimal(oi):
    """The bench setting: graph min 10, candidates = neighbours, tolerance 40 (authors' Jun 2022)."""
    trig = S.rank_triggers(oi, "betweenness", False, 10, 50)
    subs = S.poisonable_subsets(oi, trig, trig_overlaps=None, max_other_overlaps=40,
                                min_overlaps=10, mis_filter="none", progress=False)
    assert len(subs) == 50 and all(e["optimal"] for e in subs)
    assert all(e["exact_size"] >= e["approx_size"] for e in subs)
    assert sum(e["exact_size"] for e in subs) == 1916
    assert sum(e["gap"] > 0 for e in subs) >= 10   # the approximation misses many optima


def test_edge_weight_ablation_on_coco_counts(realdata):
    from nbkit.datasets import load_cooccurrence

    co = load_cooccurrence(f"counts:{realdata / 'cooccurrence_mlgcn' / 'coco_adj.npz'}")
    df = S.edge_weight_ablation(co, mins=(20, 60), top=5, max_other_overlaps=40, progress=False)
    assert df["min_overlaps"].tolist() == [20, 60]
    assert (df["n_triggers"] == 5).all() and df["all_optimal"].all()
    assert (df["max_size"] >= df["mean_size"]).all() and (df["total_classes"] > 0).all()


def test_multi_trigger_overlap_on_candidates_basis():
    co = toy_co()
    subs = S.poisonable_subsets(co, pd.Series({0: 1.0, 7: 0.5}), trig_overlaps=50,
                                max_other_overlaps=10, min_overlaps=None, progress=False)
    r = S.multi_trigger_overlap(subs, top=2, threshold=0, basis="candidates")
    assert r["matrix"].loc["t", "t"] == 5 and r["basis"] == "candidates"
    summ = S.multi_trigger_summary(r)
    assert summ["n_pairs"] == 4 and summ["distinct_pairs"] == 1 and summ["largest_shared"] == 0
    json.dumps(summ)  # JSON-able for results.json
    with pytest.raises(GraphError, match="basis"):
        S.multi_trigger_overlap(subs, basis="both")
    with pytest.raises(DataError, match="eligible_ids"):
        S.multi_trigger_overlap([{"trigger": {"id": 0}, "classes": []}], basis="candidates")


# ---------------------------------------------------------------------------------------------
# notebook 04 end to end (smoke settings), on the real papermill + kernel
@pytest.mark.slow
def test_notebook_04_smoke(tmp_path, monkeypatch):
    import papermill

    from nbkit import runs
    from nbkit.batch import kernel_name

    repo = __import__("pathlib").Path(__file__).resolve().parents[1]
    monkeypatch.setenv("NBKIT_RUNS", str(tmp_path / "runs"))
    d = tmp_path / "r04"
    papermill.execute_notebook(str(repo / "notebooks" / "04_subsets.ipynb"), str(tmp_path / "04.ipynb"),
                               parameters={"run_dir": str(d), "smoke": True},
                               kernel_name=kernel_name(), cwd=str(repo / "notebooks"),
                               progress_bar=False)
    r = runs.load_results(d)
    assert r["best_trigger"]["name"] == "striped blue bar" and r["best_trigger"]["optimal"]
    oi = r["approx_vs_exact"]["openimages-counts"]
    assert oi["all_optimal"] and oi["exact_total"] >= oi["approx_total"]
    assert set(r["multi_trigger"]) >= {"toyscenes", "openimages-counts"}
    assert r["multi_trigger"]["openimages-counts"]["largest_pair"]
    assert set(r["edge_weight_ablation"]) == {"toyscenes", "openimages-counts"}
    if r["authors_checks"]:
        assert r["authors_checks"]["feb2022_same_triggers"]
        assert r["authors_checks"]["relabel_exact_at_least_authors"]
    data = S.load_triggers_json(d / "possible_triggers.json")
    assert data[0]["trigger"]["name"] == "striped blue bar"
    assert data[0]["params"]["dataset"] == "toyscenes" and data[0]["params"]["seed"] == 0
    for f in ("approx_vs_exact.png", "multi_trigger_toyscenes.png", "ablation_min_overlaps.pdf",
              "approx_vs_exact.csv", "app_d_summary.csv"):
        assert (d / f).is_file(), f


# ---------------------------------------------------------------------------------------------
# the subset rule: one frozen dataclass, one set of defaults for every caller
def test_subset_rule_one_set_of_defaults():
    import dataclasses
    import inspect

    from nbkit.cli import build_parser

    rule = S.SubsetRule()
    assert (rule.min_overlaps, rule.trig_overlaps, rule.max_other_overlaps, rule.min_clean,
            rule.min_poison, rule.mis_filter, rule.mis, rule.mis_runs, rule.seed, rule.time_limit) == \
        (10, None, 40, 200, 50, "before", "exact", 20, 0, 10.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rule.mis_runs = 5
    args = build_parser().parse_args(["triggers"])
    assert {f.name: getattr(args, f.name) for f in dataclasses.fields(rule)} == \
        dataclasses.asdict(rule)
    fields = {f.name for f in dataclasses.fields(rule)}
    for fn in (S.poisonable_subsets, S.trigger_table, S.edge_weight_ablation):
        assert not fields & set(inspect.signature(fn).parameters), fn.__name__   # no re-typed defaults
    assert S.SubsetRule.of(mis="approx", mis_runs=3) == S.SubsetRule(mis="approx", mis_runs=3)
    assert S.SubsetRule.of(rule, seed=4).seed == 4 and rule.seed == 0
    for old in ("method", "runs", "filter"):      # one spelling per choice: the old names are refused
        with pytest.raises(GraphError, match=f"unknown subset-rule setting \\['{old}'\\]"):
            S.SubsetRule.of(**{old: "approx"})
    with pytest.raises(GraphError, match="method"):
        S.SubsetRule(mis="greedy")
    co = toy_co()
    a = S.poisonable_subsets(co, ["t"], S.SubsetRule(trig_overlaps=50, max_other_overlaps=10,
                                                      mis="approx", mis_runs=7), progress=False)
    b = S.poisonable_subsets(co, ["t"], trig_overlaps=50, max_other_overlaps=10, mis="approx",
                             mis_runs=7, progress=False)
    strip = [{k: v for k, v in e.items() if k != "solve_s"} for e in a + b]
    assert strip[0] == strip[1] and a[0]["method"] == "approx"


def test_mis_components_from_scipy():
    A = np.zeros((6, 6), bool)
    for i, j in [(0, 3), (3, 5), (1, 4)]:
        A[i, j] = A[j, i] = True
    assert [c.tolist() for c in MIS._components(A)] == [[0, 3, 5], [1, 4], [2]]
    assert MIS.solve(A, "exact")["size"] == MIS.solve(A, "approx", mis_runs=20)["size"] == 4


# ---------------------------------------------------------------------------------------------
# notebook 04's settings, sections and results (the logic its cells call)
NB04_PARAMS = {"dataset": "toyscenes", "compare_dataset": "", "trig_overlaps": -1, "max_other_overlaps": 10,
               "min_overlaps": 1, "mis": "exact", "mis_runs": 7, "seed": 3, "time_limit": 20.0,
               "min_clean": 0, "min_poison": 0, "mis_filter": "before", "centrality": "degree",
               "weighted": True, "exclude_body_parts": False, "semantics": "paper", "top_m": 25,
               "ablation_mins": "20, 30,40,,50", "overlap_threshold": 1, "smoke": False}


def test_notebook_04_settings_and_smoke_sizes():
    full = S.notebook_settings(NB04_PARAMS)
    assert full["rule"] == S.SubsetRule(min_overlaps=1, trig_overlaps=None, max_other_overlaps=10,
                                        min_clean=0, min_poison=0, mis_filter="before", mis="exact",
                                        mis_runs=7, seed=3, time_limit=20.0)
    assert full["top_m"] == 25 and full["mins"] == [20, 30, 40, 50] and full["n_golden"] is None
    assert full["rank"] == dict(measure="degree", weighted=True, exclude_body_parts=False,
                                semantics="paper", min_overlaps=1)
    assert full["ablation"]["top"] == 25 and full["ablation"]["rule"] is full["rule"]
    smoke = S.notebook_settings(dict(NB04_PARAMS, smoke=True, trig_overlaps=40))
    assert (smoke["top_m"], smoke["mins"], smoke["rule"].time_limit, smoke["n_golden"],
            smoke["exact_golden"], smoke["rule"].trig_overlaps) == (10, [20, 40], 5.0, 2, False, 40)
    with pytest.raises(GraphError, match="mis_filter"):
        S.notebook_settings(dict(NB04_PARAMS, mis_filter="later"))


def test_notebook_04_sections_and_results_fit_the_schema(tmp_path, monkeypatch):
    from nbkit.schema import schema_for

    co = toy_co()
    cfg = S.notebook_settings(NB04_PARAMS)
    subs = S.poisonable_subsets(co, S.rank_triggers(co, top=3, **cfg["rank"]), cfg["rule"],
                                progress=False)
    assert S.approx_vs_exact_text("toy", subs).startswith("toy: exact ")
    overlaps, tab = S.app_d_overlaps([("toyscenes", subs), ("skipped", None)], top=3, threshold=1)
    assert [(r["key"], r["basis"], r["tag"]) for r in overlaps] == [
        ("toyscenes", "subsets", "toyscenes"),
        ("toyscenes (candidates)", "candidates", "toyscenes_candidates")]
    assert list(tab["data"]) == ["toyscenes", "toyscenes (candidates)"] and "share > 1" in tab.columns
    abl = {"toyscenes": S.edge_weight_ablation(co, mins=[20, 50], threshold=1, progress=False,
                                         **cfg["ablation"])}
    monkeypatch.setenv("NBKIT_REALDATA", str(tmp_path))      # no authors' files here
    monkeypatch.chdir(tmp_path)
    checks, golden, relcmp = S.authors_checks(co)
    assert (checks, golden, relcmp) == ({}, None, None)
    res = S.subsets_results(NB04_PARAMS, subsets=subs, compare_subsets=None, checks=checks,
                            overlaps=overlaps, ablation=abl, timing={"subsets_s": 0.1})
    schema_for("04_subsets").check(res, "test")             # compare_dataset "" -> null is allowed
    assert res["compare_dataset"] is None and list(res["approx_vs_exact"]) == ["toyscenes"]
    assert res["best_trigger"]["name"] == subs[0]["trigger"]["name"]
    assert set(res["app_d_vs_paper"]) == {"toyscenes", "toyscenes (candidates)"}
    assert res["paper_app_d"]["n_cells"] == 625


def test_paper_tables_6_7_setting_names_the_mis_choices_once():
    st = S.PAPER_TABLES_6_7
    assert st["mis"] == "exact" and st["mis_filter"] == "before"
    assert not {"method", "filter", "runs"} & set(st)
