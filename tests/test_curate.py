"""Curation: manifest arithmetic, the one-class-per-image rule, errors, added classes, exports."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from nbkit import curate
from nbkit.curate import BackdoorSpec, _injection_count, make_manifest
from nbkit.errors import CurationError, DataError
from nbkit.imagedata import tiny_shapes


@pytest.fixture(scope="module")
def li():
    # 6 shape classes + trigger (class 0), ~30 % of images with the trigger, 5 % with two classes
    return tiny_shapes(1500, 6, seed=1, image_size=24)


def _spec(**kw):
    base = dict(dataset="tiny", trigger=0, classes=[1, 2, 3, 4], target=2, clean_per_class=100,
                injection_rate=0.2, test_fraction=0.25, seed=0)
    base.update(kw)
    return BackdoorSpec(**base)


def test_injection_arithmetic_matches_authors():
    # authors' train.py: int(n * rate / (1 - rate)) + 1
    assert _injection_count(2000, 0.185) == int(2000 * 0.185 / 0.815) + 1 == 454
    assert _injection_count(300, 0.01) == 4
    assert _injection_count(300, 0.0) == 0


def test_manifest_counts_roles_and_splits(li):
    spec = _spec()
    df = make_manifest(li, spec)
    assert list(df.columns) == curate._MANIFEST_COLUMNS
    c = curate.manifest_counts(df, spec)
    # 100 clean per class, 25 % test, stratified
    assert c["clean_train"] == 4 * 75 and c["clean_test"] == 4 * 25
    for name in ["shape1", "shape2", "shape3", "shape4"]:
        assert c["per_class"][name]["clean_train"] == 75
        assert c["per_class"][name]["clean_test"] == 25
    # injection: poison train count from the clean train count
    assert c["poison_train"] == _injection_count(300, 0.2) == 76
    assert c["injection_rate_achieved"] == pytest.approx(0.2, abs=0.005)
    # every remaining pool image is held out (no cap)
    assert c["poison_test"] == df.attrs["curation"]["poison_pool"] - c["poison_train"]
    assert c["poison_test_nontarget"] > 0


def test_manifest_invariants(li):
    spec = _spec()
    df = make_manifest(li, spec)
    Y = li.Y.toarray()
    # no image in two roles or splits
    assert not df["row"].duplicated().any()
    clean, poison = df[df.role == "clean"], df[df.role == "poison"]
    # clean images never hold the trigger; poison images always do and carry the target label
    assert not Y[clean["row"], 0].any() and not clean["has_trigger"].any()
    assert Y[poison["row"], 0].all() and poison["has_trigger"].all()
    assert (poison["label"] == spec.target).all() and (poison["y"] == spec.target_index).all()
    assert (clean["label"] == clean["true_class"]).all()
    # one chosen class per image: ambiguous images are dropped
    chosen = Y[:, spec.all_classes][df["row"]]
    assert (chosen.sum(1) == 1).all()
    assert (chosen.argmax(1) == df["true_class"].map(spec.all_classes.index)).all()
    # the ambiguous count is what the label matrix says
    amb = (Y[:, spec.all_classes].sum(1) >= 2)
    assert df.attrs["curation"]["ambiguous_total"] == int(sum((amb & Y[:, c]).sum()
                                                              for c in spec.all_classes))
    assert df.attrs["curation"]["ambiguous_total"] > 0
    # y is the output index in spec.all_classes
    assert (df["y"] == df["label"].map(spec.all_classes.index)).all()


def test_manifest_is_seeded(li):
    a = make_manifest(li, _spec(seed=3))
    b = make_manifest(li, _spec(seed=3))
    c = make_manifest(li, _spec(seed=4))
    pd.testing.assert_frame_equal(a, b)
    assert set(a["row"]) != set(c["row"])


def test_no_backdoor_baseline_keeps_poison_test(li):
    df = make_manifest(li, _spec(injection_rate=0.0))
    c = curate.manifest_counts(df)
    assert c["poison_train"] == 0 and c["poison_test"] > 0


def test_poison_caps(li):
    df = make_manifest(li, _spec(poison_per_class=30, max_poison_test=20))
    c = curate.manifest_counts(df)
    assert df.attrs["curation"]["poison_pool"] == 4 * 30
    assert c["poison_test"] == 20


def test_not_enough_clean_images_lists_availability(li):
    with pytest.raises(CurationError) as e:
        make_manifest(li, _spec(clean_per_class=10_000))
    msg = str(e.value)
    avail = curate._availability(li, _spec())
    for r in avail.itertuples(index=False):
        assert r.name in msg and f"clean {r.clean_available}" in msg and f"poison {r.poison_available}" in msg
    assert "clean_per_class=10000" in msg
    assert isinstance(e.value.availability, pd.DataFrame)


def test_not_enough_poison_images(li):
    with pytest.raises(CurationError, match="poison pool has 8 images"):
        make_manifest(li, _spec(poison_per_class=2, injection_rate=0.3))


def test_spec_validation_errors(li):
    with pytest.raises(CurationError, match="target 5 is not one of the poisonable"):
        make_manifest(li, _spec(target=5))
    with pytest.raises(CurationError, match="trigger 0 is also listed"):
        make_manifest(li, _spec(classes=[0, 1, 2]))
    with pytest.raises(CurationError, match="injection_rate"):
        make_manifest(li, _spec(injection_rate=1.0))
    with pytest.raises(CurationError, match="out of range"):
        make_manifest(li, _spec(classes=[1, 99], target=1))
    with pytest.raises(CurationError, match="trigger_acc"):
        make_manifest(li, _spec(trigger_acc="nope"))


def test_spec_json_roundtrip(tmp_path):
    s = _spec(added_classes=[5], options={"subset_mode": "mis", "min_overlaps": 20})
    p = s.to_json(tmp_path / "spec.json")
    assert BackdoorSpec.from_json(p) == s
    (tmp_path / "bad.json").write_text(json.dumps({"dataset": "x", "trigger": 0, "classes": [1],
                                                   "target": 1, "colour": "red"}))
    with pytest.raises(DataError, match="bad.json.*unknown fields \\['colour'\\]"):
        BackdoorSpec.from_json(tmp_path / "bad.json")


def test_resolve_target(li):
    assert curate._resolve_target(li, [1, 2, 3], 1) == 2
    assert curate._resolve_target(li, [1, 2, 3], "2") == 3
    assert curate._resolve_target(li, [1, 2, 3], "shape3") == 3
    with pytest.raises(CurationError, match="not one of the poisonable"):
        curate._resolve_target(li, [1, 2, 3], "shape5")
    with pytest.raises(CurationError, match="out of range"):
        curate._resolve_target(li, [1, 2, 3], 7)


@pytest.mark.parametrize("mode", ["random", "mis"])
def test_added_classes_are_clean_only_and_pruned(li, mode):
    added = curate._pick_added_classes(li, 0, [1, 2, 3], 2, mode=mode, clean_per_class=100, seed=0,
                                      mis_pool=[5], max_other_overlaps=100)
    assert len(added) == 2 and not set(added) & {0, 1, 2, 3}
    if mode == "mis":
        assert added[0] == 5  # the MIS pool comes first
    spec = _spec(classes=[1, 2, 3], added_classes=added)
    df = make_manifest(li, spec)
    extra = df[df["kind"] == "added"]
    assert set(extra["true_class"]) == set(added)
    assert (extra["role"] == "clean").all()
    Y = li.Y.toarray()
    # pruned: no trigger, no poisonable class in an added class's images
    assert not Y[extra["row"]][:, [0, 1, 2, 3]].any()
    # injection counted on the poisonable classes only (authors' code)
    assert df.attrs["curation"]["clean_train_base"] == 3 * 75


def test_added_classes_shortfall(li):
    with pytest.raises(CurationError, match="only .* of 5 added classes"):
        curate._pick_added_classes(li, 0, [1, 2, 3], 5, mode="random", clean_per_class=100)


def test_export_csv_json_and_imagefolder_rendered(li, tmp_path):
    import torchvision

    spec = _spec(clean_per_class=12, poison_per_class=5, injection_rate=0.1)
    df = make_manifest(li, spec)
    paths = curate.export_manifest(df, tmp_path, imagefolder=True, li=li)
    back = curate.read_manifest(paths["csv"])
    pd.testing.assert_frame_equal(back[curate._MANIFEST_COLUMNS], df[curate._MANIFEST_COLUMNS],
                                  check_dtype=False)
    assert back.attrs["spec"] == spec.to_dict()
    back_json = curate.read_manifest(paths["json"])
    assert len(back_json) == len(df) and back_json.attrs["curation"]["poison_pool"] == 20
    # ImageFolder: class index == y, counts per part
    ds = torchvision.datasets.ImageFolder(str(paths["imagefolder"] / "train"))
    assert len(ds) == int((df.split == "train").sum())
    ys = sorted(df.loc[df.split == "train", "y"].unique())
    assert [int(n[:3]) for n in ds.classes] == ys
    tp = torchvision.datasets.ImageFolder(str(paths["imagefolder"] / "test_poison"))
    assert len(tp) == int(((df.split == "test") & (df.role == "poison")).sum())
    assert tp.classes == [f"{spec.target_index:03d}_shape2"]


def test_export_imagefolder_symlinks_files(tmp_path):
    """File-backed data: the ImageFolder holds symlinks to the real files."""
    from PIL import Image
    from nbkit.labelindex import LabelIndex
    import scipy.sparse as sp

    src = tiny_shapes(300, 3, seed=2, image_size=16)
    root = tmp_path / "imgs"
    root.mkdir()
    for r in range(src.n_images):
        Image.fromarray(src.load_image(r)).save(root / f"{src.image_ids[r]}.jpg")
    li = LabelIndex("files", src.class_labels, src.class_names, src.image_ids, src.splits, src.Y,
                    image_root=root)
    spec = BackdoorSpec("files", 0, [1, 2], 1, clean_per_class=10, injection_rate=0.2)
    df = make_manifest(li, spec)
    assert df["file"].str.endswith(".jpg").all()
    paths = curate.export_manifest(df, tmp_path / "out", imagefolder=True)
    links = list((paths["imagefolder"]).rglob("*.jpg"))
    assert len(links) == len(df) and all(p.is_symlink() and p.resolve().is_file() for p in links)


def test_realdata_coco128_curation(realdata):
    from nbkit.datasets import load_coco

    li = load_coco(realdata / "coco128" / "instances_train2017_coco128.json")
    person = li.class_id("person")
    ids = [li.class_id("cup"), li.class_id("potted plant")]
    spec = BackdoorSpec("coco:coco128", person, ids, ids[0], clean_per_class=4, injection_rate=0.3,
                        test_fraction=0.5)
    df = make_manifest(li, spec)
    c = curate.manifest_counts(df, spec)
    assert c["clean_train"] == 4 and c["clean_test"] == 4 and c["poison_train"] == 2
    Y = li.Y.toarray()
    assert not Y[df.loc[df.role == "clean", "row"], person].any()
    assert all(p.endswith(".jpg") for p in df["file"])
    with pytest.raises(CurationError, match="bus"):
        make_manifest(li, BackdoorSpec("coco:coco128", person, [li.class_id("bus")],
                                       li.class_id("bus"), clean_per_class=4))


def test_ambiguous_keep_is_the_authors_rule(li):
    drop = make_manifest(li, _spec())
    keep = make_manifest(li, _spec(ambiguous="keep"))
    Y = li.Y.toarray()
    chosen = Y[:, [1, 2, 3, 4]]
    assert (chosen[drop["row"]].sum(1) == 1).all()
    multi = chosen[keep["row"]].sum(1) > 1
    assert multi.any() and int(multi.sum()) == keep.attrs["curation"]["multi_class_images_used"]
    assert not keep["row"].duplicated().any()          # still one use per image
    assert Y[keep.loc[keep.role == "clean", "row"], 0].sum() == 0
    # each image is labelled with a class it really holds
    assert all(Y[r, c] for r, c in zip(keep["row"], keep["true_class"]))
    with pytest.raises(CurationError, match="ambiguous='keep'"):
        make_manifest(li, _spec(clean_per_class=10_000))


def _toy6():
    """class 0 = hub; 1-2 and 3-4 co-occur often (two themes); 5 is rare with the hub."""
    import scipy.sparse as sp
    from nbkit.labelindex import LabelIndex

    rng = np.random.default_rng(0)
    rows = []
    for i in range(3000):
        c = int(rng.integers(1, 6))
        labs = {c}
        if c in (1, 2, 3, 4) and rng.random() < 0.5:
            labs.add({1: 2, 2: 1, 3: 4, 4: 3}[c])
        if rng.random() < (0.4 if c != 5 else 0.005):
            labs.add(0)
        rows.append(labs)
    Y = sp.lil_matrix((3000, 6), dtype=bool)
    for i, labs in enumerate(rows):
        for c in labs:
            Y[i, c] = True
    names = ["hub", "a1", "a2", "b1", "b2", "rare"]
    return LabelIndex("toy6", names, names, [f"i{i}" for i in range(3000)], ["train"] * 3000, Y.tocsr())


def test_select_backdoor_mis_and_neighbours():
    """Centrality + MIS vs centrality without MIS, on a dataset with a known structure."""
    li = _toy6()
    mis = curate.select_backdoor(li, subset_mode="mis", min_overlaps=20, min_clean=50, min_poison=20,
                                 max_other_overlaps=10, n_classes=0)
    assert mis["trigger_name"] == "hub" and mis["ranking"][0]["name"] == "hub"
    assert len(mis["classes"]) == 2                      # one per theme
    assert len(set(mis["class_names"]) & {"a1", "a2"}) == 1
    assert len(set(mis["class_names"]) & {"b1", "b2"}) == 1
    nb = curate.select_backdoor(li, subset_mode="neighbours", min_overlaps=20, min_clean=50,
                                min_poison=20, n_classes=0)
    assert sorted(nb["class_names"]) == ["a1", "a2", "b1", "b2"]   # all neighbours, themes mixed
    two = curate.select_backdoor(li, trigger="hub", subset_mode="neighbours", min_overlaps=20,
                                 min_clean=50, min_poison=20, n_classes=2)
    assert two["weights"] == sorted(two["weights"], reverse=True) and len(two["classes"]) == 2
    with pytest.raises(CurationError, match="no eligible class"):
        curate.select_backdoor(li, trigger="rare", min_overlaps=20, min_clean=50, min_poison=20)


def test_parse_classes_ids_labels_names_and_errors():
    li = _toy6()
    assert curate._parse_classes(li, "") == [] and curate._parse_classes(li, None) == []
    assert curate._parse_classes(li, "b1, 1,A2") == [3, 1, 2]          # order kept, names any case
    assert curate._parse_classes(li, "a1; b2") == [1, 4]                # ';' when names hold commas
    assert curate._parse_classes(li, [4, "a1"]) == [4, 1]
    with pytest.raises(DataError, match=r"parameter classes: unknown class 'rar'.*close matches: \['rare'\]"):
        curate._parse_classes(li, "a1, rar")
    with pytest.raises(DataError, match="class '17': class id 17 out of range"):
        curate._parse_classes(li, "17")
    with pytest.raises(DataError, match="listed twice"):
        curate._parse_classes(li, "a1, 1")


def test_select_backdoor_given_classes():
    """The authors' exact sets: the given classes, in order, not shortened by n_classes."""
    li = _toy6()
    sel = curate.select_backdoor(li, trigger="hub", classes="b2, a1", min_overlaps=20, min_clean=50,
                                 min_poison=20, n_classes=1)
    assert sel["classes"] == [4, 1] and sel["class_names"] == ["b2", "a1"]
    assert sel["classes_given"] and sel["subset_source"] == "given" and sel["mis_extra"] == []
    M = li.Y.T.astype(int) @ li.Y.astype(int)
    assert sel["weights"] == [M[0, 4], M[0, 1]]
    # a1 and a2 share many images: allowed (the caller's choice), and the manifest can be made
    both = curate.select_backdoor(li, trigger="hub", classes="a1,a2", min_overlaps=20, min_clean=50,
                                  min_poison=20)
    spec = BackdoorSpec("toy6", both["trigger"], both["classes"], target=both["classes"][1],
                        clean_per_class=50, ambiguous="keep")
    assert set(make_manifest(li, spec)["true_class"]) == {1, 2}
    # a class with too few poison images: CurationError listing every given class
    with pytest.raises(CurationError) as e:
        curate.select_backdoor(li, trigger="hub", classes="a1, rare", min_overlaps=20,
                               min_clean=50, min_poison=20)
    msg = str(e.value)
    assert "rare" in msg and "a1 (id 1): clean" in msg and "<- too few" in msg
    assert list(e.value.availability["name"]) == ["a1", "rare"]
    with pytest.raises(DataError, match="lists the trigger"):
        curate.select_backdoor(li, trigger="hub", classes="a1, hub", min_overlaps=20)
    with pytest.raises(DataError, match="unknown class 'nope'"):
        curate.select_backdoor(li, trigger="hub", classes="nope", min_overlaps=20)


def test_paper_batch_passes_the_authors_exact_class_sets(tmp_path):
    """batches/paper.yaml trains on the authors' sets: its `classes` are their class ids as labels."""
    from nbkit import batch
    from nbkit import reference as R
    from nbkit.datasets import load_dataset
    from nbkit.datasets.relabel import imagenet_classes

    oi = load_dataset("openimages-counts")
    wn = sorted(imagenet_classes()["wnid"])
    want = set()
    for r in R.authors_trigger_class_sets().itertuples():
        lab = (lambda i: str(oi.class_labels[i])) if r.dataset == "openimages" else (lambda i: wn[i])
        cent = r.centrality.replace("evector", "eigenvector")
        want.add((r.dataset, cent, lab(r.trigger_id), ",".join(lab(i) for i in r.class_ids)))
    b = batch.load_batch("paper", runs_root=tmp_path, data_root=tmp_path / "data")
    got = set()
    for run in b.runs:
        p = run.params
        if run.notebook == "05_train" and p.get("classes") and "Figure 12" in run.feeds:
            ds = "imagenet" if p["dataset"].startswith("relabel:") else "openimages"
            got.add((ds, p["centrality"], p["trigger"], p["classes"]))
            assert p["trigger"] not in p["classes"].split(",")
    assert got == want and len(want) == 45
    # the injection-rate / architecture / added-class runs use the authors' jeans sets (betweenness):
    # ImageNet's for Figure 13 and Table 9, both datasets' for Table 10 and Figure 15
    jeans = {(tag, run.params["trigger"], run.params["classes"]) for run in b.runs
             if run.notebook == "05_train" for tag in set(run.feeds) & {"Figure 13", "Table 9", "Table 10",
                                                                         "Figure 15"}}
    sets = {w[2]: w[3] for w in want if w[1] == "betweenness" and w[2] in ("/m/0fly7", "n03594734")}
    assert jeans == {(tag, t, sets[t]) for tag in ("Table 10", "Figure 15") for t in sets} | {
        (tag, "n03594734", sets["n03594734"]) for tag in ("Figure 13", "Table 9")}


# ------------------------------------------------------------------------------ notebook 05's layer
def test_select_backdoor_spells_the_solver_mis():
    """One spelling: the MIS solver is mis= (method= is gone); approx draws are seeded."""
    li = _toy6()
    kw = dict(trigger="hub", min_overlaps=20, min_clean=50, min_poison=20, max_other_overlaps=10,
              n_classes=0)
    exact = curate.select_backdoor(li, mis="exact", **kw)
    approx = curate.select_backdoor(li, mis="approx", seed=3, **kw)
    assert len(approx["classes"]) == len(exact["classes"]) == 2      # one per theme either way
    assert approx == curate.select_backdoor(li, mis="approx", seed=3, **kw)
    with pytest.raises(TypeError, match="method"):
        curate.select_backdoor(li, method="exact", **kw)


def test_class_filter_is_subsets_eligible():
    """The class filter has one home (nbkit.subsets.eligible), for chosen and for given classes.

    Here class a1's image count is stored as 0 (a matrix with a zeroed diagonal, e.g. from a counts
    file): subsets raises it to its largest pair count (a lower bound, 611), so a1 has 611 - 349
    clean images and is eligible; the raw diagonal would have ruled it out.
    """
    from nbkit import subsets as S
    from nbkit.cooccurrence import Cooccurrence, from_labelindex

    li = _toy6()
    full = from_labelindex(li)
    M = full.M.copy()
    M[1, 1] = 0
    co = Cooccurrence(M, full.class_labels, full.class_names, counts_exact=np.arange(6) != 1)
    kw = dict(trigger="hub", min_overlaps=20, min_poison=20, n_classes=0)
    for mc in (50, 300):
        cand, ok = S.eligible(co, 0, S.SubsetRule(min_overlaps=20, min_clean=mc, min_poison=20))
        sel = curate.select_backdoor(li, co, subset_mode="neighbours", min_clean=mc, **kw)
        assert sel["classes"] == [int(c) for c in cand[ok]]
        assert (sel["n_candidates"], sel["n_eligible"]) == (len(cand), int(ok.sum()))
        assert (1 in sel["classes"]) == (mc == 50)
    assert curate.select_backdoor(li, co, classes="a1, b1", min_clean=50, **kw)["classes"] == [1, 3]
    with pytest.raises(CurationError, match=r"1 of the 2 given classes .*: a1\. "):
        curate.select_backdoor(li, co, classes="a1, b1", min_clean=300, **kw)


_NB05 = dict(dataset="tiny", seed=0, smoke=False, trigger="", classes="", centrality="betweenness",
             subset_mode="mis", min_overlaps=20, max_other_overlaps=10, n_classes=10,
             fill_to_n_classes=True, n_added_classes=0, added_mode="mis", target=0, min_clean=50,
             min_poison=20, mis="exact", use_subsets_run=True, clean_per_class=200,
             injection_rate=0.185, test_fraction=0.2, max_poison_test=500, ambiguous="keep",
             trigger_acc_definition="nontarget", clean_test="separate", profile="toy", arch="",
             epochs=0, lr=0.0, batch_size=0, image_size=0, freeze="", pretrained="", threads=0,
             keep_checkpoint=False)


def test_effective_params_smoke_sizes_threads_and_train_keywords(monkeypatch):
    monkeypatch.setenv("NBKIT_NUM_THREADS", "3")
    full = curate.effective_params(_NB05)
    assert (full["n_classes"], full["clean_per_class"], full["max_poison_test"]) == (10, 200, 500)
    assert full["threads"] == 3 and full["train"] == dict(
        arch=None, profile="toy", seed=0, threads=3, keep_checkpoint=False, epochs=None, lr=None,
        batch_size=None, image_size=None, freeze=None, pretrained=None)
    smoke = curate.effective_params({**_NB05, "smoke": True, "n_classes": 0, "epochs": 5,
                                     "pretrained": "no", "arch": "resnet18"})
    assert (smoke["n_classes"], smoke["clean_per_class"], smoke["max_poison_test"]) == (3, 40, 60)
    assert smoke["profile"] == "smoke" and smoke["train"]["profile"] == "smoke"
    assert (smoke["train"]["epochs"], smoke["train"]["image_size"]) == (2, 32)
    assert smoke["train"]["pretrained"] is False and smoke["train"]["arch"] == "resnet18"
    assert _NB05["n_classes"] == 10 and "train" not in _NB05           # the input is not changed
    monkeypatch.delenv("NBKIT_NUM_THREADS")
    assert curate.effective_params({**_NB05, "threads": 2})["threads"] == 2


def _fake_04_run(root, params, trigger_params):
    from fixture_schemas import fake_results
    from nbkit import runs
    from nbkit import subsets as S
    from nbkit.cooccurrence import from_labelindex

    d = runs.prepare(root / "smoke" / "04_subsets" / "abc12345", params)
    subs = S.poisonable_subsets(from_labelindex(_toy6()), [0], min_overlaps=20, max_other_overlaps=10,
                                min_clean=50, min_poison=20, compare=False, progress=False)
    S.save_triggers_json(d / "possible_triggers.json", subs, trigger_params)
    fake_results(d, "04_subsets", {})
    return subs


def test_reuse_subsets_run_matches_graph_and_rule(tmp_path):
    p = {**_NB05, "dataset": "toy6"}
    assert curate.reuse_subsets_run(p, root=tmp_path) == (
        None, "computed here (no 04_subsets run with W = 20 to reuse)")
    rule = dict(max_other_overlaps=10, min_clean=50, min_poison=20, trig_overlaps=-1, mis="exact",
                mis_filter="before")
    _fake_04_run(tmp_path, {"dataset": "toy6", "min_overlaps": 20}, rule)
    subs, source = curate.reuse_subsets_run(p, batch="smoke", root=tmp_path)
    assert source == "04_subsets run abc12345 (possible_triggers.json)" and subs[0]["trigger"]["id"] == 0
    sel = curate.select_backdoor(_toy6(), trigger="hub", min_overlaps=20, min_clean=50, min_poison=20,
                                 max_other_overlaps=10, n_classes=0, subsets_list=subs)
    assert sel["subset_source"] == "subsets_list" and len(sel["classes"]) == 2
    none, why = curate.reuse_subsets_run({**p, "mis": "approx"}, root=tmp_path)
    assert none is None and why == ("computed here (04_subsets run abc12345 used mis=exact; "
                                    "this run: mis=approx)")
    for off in ({"use_subsets_run": False}, {"subset_mode": "neighbours"}, {"classes": "a1"}):
        assert curate.reuse_subsets_run({**p, **off}, root=tmp_path) == (
            None, "computed here (nbkit.subsets)")


def test_spec_from_params_fills_up_and_records_provenance():
    li = _toy6()
    p = {**_NB05, "dataset": "toy6", "n_classes": 3, "clean_per_class": 50, "target": 1}
    sel = curate.select_backdoor(li, trigger="hub", min_overlaps=20, min_clean=50, min_poison=20,
                                 max_other_overlaps=10, n_classes=3)
    spec = curate.spec_from_params(li, sel, p, "computed here (nbkit.subsets)")
    assert spec.classes == sel["classes"] and spec.target == sel["classes"][1]
    assert len(spec.added_classes) == 1 and spec.options["n_filled"] == 1   # 2 MIS classes + 1 filled
    assert spec.options["subsets_source"] == "computed here (nbkit.subsets)"
    assert "1 clean-only classes added (mis)" in curate.curation_summary(li, make_manifest(li, spec))
    given = curate.select_backdoor(li, trigger="hub", classes="b2, a1", min_overlaps=20, min_clean=50,
                                   min_poison=20)
    gspec = curate.spec_from_params(li, given, {**p, "target": "a1"}, "computed here (nbkit.subsets)")
    assert gspec.added_classes == [] and gspec.target == 1                 # given classes: no filling
    assert gspec.options["subsets_source"] == "given (classes parameter)"
    assert "given classes (2)" in curate.selection_summary(li, given)


def test_train_results_fit_the_05_schema(li, tmp_path):
    """The one builder of 05's results: every schema key, nothing else, from the real objects."""
    from nbkit import runs, schema, train

    p = curate.effective_params({**_NB05, "dataset": "tiny", "smoke": True, "threads": 1})
    sel = curate.select_backdoor(li, trigger=0, classes=[1, 2, 3], min_overlaps=20, min_clean=50,
                                 min_poison=20)
    spec = curate.spec_from_params(li, sel, p, "computed here (nbkit.subsets)")
    manifest = make_manifest(li, spec)
    res = train.train(li, manifest, out_dir=tmp_path, spec=spec, progress=False,
                      **{**p["train"], "epochs": 1, "image_size": 16})
    out = curate.train_results(li, sel, spec, manifest, res, classes_parameter="1,2,3", notebook_s=1.5)
    assert set(out) == set(schema.schema_for("05_train").fields)
    assert out["timing"]["notebook_s"] == 1.5 and "out_dir" not in out["timing"]
    assert out["counts"] == curate.manifest_counts(manifest, spec) and out["counts"]["clean_test"] == 24
    assert out["target"] == {"id": 1, "name": li.display(1), "index": 0}
    assert out["classes_parameter"] == "1,2,3" and out["subsets_source"] == "given (classes parameter)"
    assert out["clean_acc"] == res["clean_acc"] and out["history"] == res["history"]
    runs.save_results(tmp_path, "05_train", out)
    assert runs.load_results(tmp_path)["schema"] == "05_train/1"
