"""Training: a real (tiny) run, determinism, resume after interruption, bad images."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch

from nbkit import curate, train
from nbkit.curate import BackdoorSpec, make_manifest
from nbkit.errors import DataError, MissingDataError
from nbkit.imagedata import tiny_shapes

FAST = dict(epochs=2, image_size=16, batch_size=32, eval_batch_size=256)


@pytest.fixture(scope="module")
def li():
    return tiny_shapes(700, 3, seed=5, image_size=16)


@pytest.fixture(scope="module")
def manifest(li):
    spec = BackdoorSpec("tiny", trigger=0, classes=[1, 2, 3], target=2, clean_per_class=60,
                        injection_rate=0.2, test_fraction=0.25, max_poison_test=60)
    return make_manifest(li, spec)


def _history(r):
    assert all("epoch_s" not in h for h in r["history"])   # wall-clock lives under "timing"
    return pd.DataFrame(r["history"])


@pytest.fixture(scope="module")
def full_run(li, manifest, tmp_path_factory):
    out = tmp_path_factory.mktemp("full")
    return out, train.train(li, manifest, "resnet10", out, profile="smoke", seed=0, progress=False,
                            threads=1, **FAST)


def test_smoke_training_learns_and_writes_everything(li, manifest, full_run):
    out, r = full_run
    h = _history(r)
    assert len(h) == 2 and r["complete"] and r["epochs_done"] == 2
    assert h["train_loss"].iloc[-1] < h["train_loss"].iloc[0]          # the loss falls
    assert r["clean_acc"] > 1 / 3                                       # better than chance
    for f in ["log.csv", "model.pt", "model.json", "manifest.csv", "manifest.json"]:
        assert (out / f).is_file(), f
    assert not (out / "checkpoint.pt").exists(), "only the final state (model.pt) is kept by default"
    log = pd.read_csv(out / "log.csv")
    assert list(log.columns) == train._LOG_COLUMNS and len(log) == 2
    # the definitions: headline = separate / nontarget by default
    assert r["clean_acc"] == r["clean_acc_separate"] and r["trigger_acc"] == r["trigger_acc_nontarget"]
    assert r["n_clean_test"] == 45 and r["n_poison_test"] == 60
    assert r["counts"]["poison_train"] == curate._injection_count(135, 0.2)
    assert r["device"] == "cpu" and r["deterministic"] and r["amp"] == "off"
    assert r["timing"]["threads"] == 1 and len(r["timing"]["epoch_s"]) == 2
    assert r["timing"]["train_images_per_s"] > 0


def test_load_trained_and_evaluate_agree(li, full_run):
    out, r = full_run
    model, meta = train.load_trained(out)
    assert meta["arch"] == "resnet10" and meta["target"] == 2 and meta["target_index"] == 1
    assert meta["trigger"]["name"] == "trigger" and [c["id"] for c in meta["classes"]] == [1, 2, 3]
    man = train.load_manifest(out)
    ev = train.evaluate(model, li, man, meta)
    for k in ["clean_acc", "trigger_acc", "clean_acc_authors", "trigger_acc_authors"]:
        assert ev[k] == pytest.approx(r[k]), k
    # the authors' clean test set also holds the poison test images
    assert ev["clean_acc_authors"] == pytest.approx(
        (ev["clean_acc_separate"] * 45 + _poison_hits(model, li, man, meta)) / 105)


def _poison_hits(model, li, man, meta):
    from nbkit import imagedata

    rows = man[(man.split == "test") & (man.role == "poison")]
    x = torch.stack([torch.from_numpy(imagedata.resize_uint8(li.load_image(int(r)), meta["image_size"]))
                     .permute(2, 0, 1) for r in rows["row"]])
    with torch.no_grad():
        pred = model(imagedata.to_float(x)).argmax(1).numpy()
    return int((pred == meta["target_index"]).sum())


def test_predict_of_an_image_source_is_predict_of_its_images(li, full_run):
    """Training evaluates through imagedata.predict on its image source: the same probabilities
    as predicting the images themselves with the model's recorded transform."""
    from nbkit import imagedata

    out, _ = full_run
    model, meta = train.load_trained(out)
    man = train.load_manifest(out)
    rows = np.flatnonzero((man["split"] == "test").to_numpy())[:40]
    src = imagedata.load_images(li, man, meta["image_size"], progress=False)
    via_source = imagedata.predict(model, src, batch_size=16, positions=rows)
    images = [li.load_image(int(r)) for r in man["row"].to_numpy()[rows]]
    via_images = imagedata.predict(model, images, imagedata.transform_from_meta(meta), batch_size=16)
    assert via_source.shape == (40, 3)
    np.testing.assert_allclose(via_source, via_images, atol=1e-6)
    logits = imagedata.predict(model, src, positions=rows, logits=True)
    np.testing.assert_allclose(torch.softmax(torch.from_numpy(logits), 1).numpy(), via_source, atol=1e-6)


def test_training_is_deterministic(li, manifest, full_run, tmp_path):
    _, r1 = full_run
    r2 = train.train(li, manifest, "resnet10", tmp_path, profile="smoke", seed=0, progress=False,
                     threads=1, **FAST)
    pd.testing.assert_frame_equal(_history(r1), _history(r2))
    r3 = train.train(li, manifest, "resnet10", tmp_path / "s1", profile="smoke", seed=1,
                     progress=False, threads=1, **{**FAST, "epochs": 1})
    assert not _history(r1).iloc[:1].equals(_history(r3))


def test_resume_after_interruption_matches_uninterrupted(li, manifest, full_run, tmp_path):
    out_full, r_full = full_run

    # a kill after epoch 1 is checkpointed (simulated by an exception from a callback)
    class Killed(RuntimeError):
        pass

    def boom(epoch, row, model):
        raise Killed("simulated kill")

    with pytest.raises(Killed):
        train.train(li, manifest, "resnet10", tmp_path, profile="smoke", seed=0, progress=False,
                    threads=1, callbacks=[boom], **FAST)
    ck = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert ck["epoch"] == 0 and len(pd.read_csv(tmp_path / "log.csv")) == 1
    assert not (tmp_path / "model.pt").exists()
    # the same call again continues from epoch 2 and ends where the uninterrupted run ended
    r2 = train.train(li, manifest, "resnet10", tmp_path, profile="smoke", seed=0, progress=False,
                     threads=1, **FAST)
    assert r2["resumed_from_epoch"] == 1 and r2["complete"] and r2["epochs_done"] == 2
    pd.testing.assert_frame_equal(_history(r2), _history(r_full))
    a = torch.load(tmp_path / "model.pt", weights_only=True)
    b = torch.load(out_full / "model.pt", weights_only=True)
    assert all(torch.equal(a[k], b[k]) for k in a)
    # a rerun of a complete training trains nothing and reports the same numbers
    r3 = train.train(li, manifest, "resnet10", tmp_path, profile="smoke", seed=0, progress=False,
                     threads=1, **FAST)
    assert r3["resumed_from_epoch"] == 2 and r3["timing"]["epoch_s"] == r2["timing"]["epoch_s"]
    for k in ["clean_acc", "trigger_acc", "clean_acc_authors", "trigger_acc_authors"]:
        assert r3[k] == r2[k]


def test_partial_call_then_changed_configuration_starts_over(li, manifest, tmp_path):
    r = train.train(li, manifest, "resnet10", tmp_path, profile="smoke", progress=False, threads=1,
                    max_epochs_this_call=1, **FAST)
    assert not r["complete"] and r["epochs_done"] == 1 and not (tmp_path / "model.json").exists()
    with pytest.warns(UserWarning, match="another configuration"):
        r = train.train(li, manifest, "resnet10", tmp_path, profile="smoke", progress=False,
                        threads=1, keep_checkpoint=True, **{**FAST, "epochs": 1, "lr": 5e-4})
    assert r["resumed_from_epoch"] == 0 and r["complete"]
    assert (tmp_path / "checkpoint.pt").is_file(), "keep_checkpoint=True keeps it"


def _file_dataset(tmp_path, n=200):
    from PIL import Image
    from nbkit.labelindex import LabelIndex

    src = tiny_shapes(n, 2, seed=3, image_size=16)
    root = tmp_path / "images"
    root.mkdir()
    for r in range(src.n_images):
        Image.fromarray(src.load_image(r)).save(root / f"{src.image_ids[r]}.png")
    li = LabelIndex("files", src.class_labels, src.class_names, src.image_ids, src.splits, src.Y,
                    image_root=root, image_paths=[f"{i}.png" for i in src.image_ids])
    spec = BackdoorSpec("files", 0, [1, 2], 1, clean_per_class=20, injection_rate=0.2, max_poison_test=10)
    return li, make_manifest(li, spec)


def test_bad_image_file_is_named_or_skipped(tmp_path):
    li, man = _file_dataset(tmp_path)
    victim = man[man.split == "train"]["file"].iloc[3]
    with open(victim, "wb") as fh:
        fh.write(b"\x89PNG truncated")
    missing = man[man.split == "test"]["file"].iloc[0]
    import os
    os.remove(missing)
    kw = dict(epochs=1, image_size=16, batch_size=16, num_workers=1, threads=1)
    with pytest.raises(DataError) as e:
        train.train(li, man, "resnet10", tmp_path / "a", profile="smoke", progress=False, **kw)
    assert victim in str(e.value) or missing in str(e.value)
    assert "skip_bad_images=True" in str(e.value)
    r = train.train(li, man, "resnet10", tmp_path / "b", profile="smoke", progress=False,
                    skip_bad_images=True, **kw)
    assert r["skipped_images"] == 2 and set(r["skipped_files"]) == {victim, missing}
    assert r["complete"]
    # streaming (no preload) finds them too
    n_test = r["n_clean_test"] + r["n_poison_test"]
    assert n_test == (man.split == "test").sum() - 1, "the missing test image is left out"
    r = train.train(li, man, "resnet10", tmp_path / "c", profile="smoke", progress=False,
                    skip_bad_images=True, **{**kw, "preload": False})
    assert r["skipped_images"] == 2 and r["n_clean_test"] + r["n_poison_test"] == n_test


def test_missing_pretrained_weights_message_from_train(li, manifest, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(MissingDataError, match="resnet50-0676ba61.pth"):
        train.train(li, manifest, None, tmp_path / "p", profile="paper", progress=False)


def test_options_errors(li, manifest, tmp_path):
    with pytest.raises(DataError, match="unknown profile 'fast'"):
        train.train(li, manifest, None, tmp_path, profile="fast")
    with pytest.raises(DataError, match="unknown training options \\['epoch'\\]"):
        train.train(li, manifest, None, tmp_path, profile="smoke", epoch=3)
    with pytest.raises(MissingDataError, match="no trained model"):
        train.load_trained(tmp_path / "nothing")


@pytest.mark.slow
def test_realdata_coco128_one_epoch(realdata, tmp_path):
    """Real photographs: curate from COCO128 (person as trigger) and train one epoch on CPU."""
    from nbkit.datasets import load_coco

    li = load_coco(realdata / "coco128" / "instances_train2017_coco128.json")
    person = li.class_id("person")
    ids = [li.class_id("cup"), li.class_id("potted plant")]
    spec = BackdoorSpec("coco:coco128", person, ids, ids[0], clean_per_class=4, injection_rate=0.3,
                        test_fraction=0.5)
    man = make_manifest(li, spec)
    r = train.train(li, man, "resnet10", tmp_path, profile="smoke", epochs=1, image_size=64,
                    batch_size=4, num_workers=2, progress=False, threads=1)
    assert r["complete"] and r["skipped_images"] == 0
    assert math.isfinite(r["history"][0]["train_loss"])
    assert r["n_clean_test"] == 4 and r["n_poison_test"] == r["counts"]["poison_test"] > 0
    model, meta = train.load_trained(tmp_path)
    assert [c["name"] for c in meta["classes"]] == ["cup", "potted plant"]
    assert meta["trigger"]["name"] == "person"
