"""The GPU path's code (mixed precision, channels_last) run on a CPU: shapes, dtypes, memory formats.

No GPU is needed: ``train(amp=..., channels_last=...)`` forces the branches the CUDA device takes by
default (autocast bf16, or fp16 with a GradScaler; channels_last model and inputs), and torch runs
them on the CPU, so a break in them shows here before a GPU user meets it.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from nbkit import imagedata, models, train
from nbkit.curate import BackdoorSpec, make_manifest
from nbkit.errors import DataError
from nbkit.imagedata import tiny_shapes

FAST = dict(epochs=1, image_size=16, batch_size=32, eval_batch_size=64)


@pytest.fixture(scope="module")
def li():
    return tiny_shapes(300, 3, seed=7, image_size=16)


@pytest.fixture(scope="module")
def manifest(li):
    spec = BackdoorSpec("tiny", trigger=0, classes=[1, 2, 3], target=2, clean_per_class=30,
                        injection_rate=0.2, test_fraction=0.25, max_poison_test=20)
    return make_manifest(li, spec)


class _Probe:
    """Forward hooks recording the first conv's input memory format and the head's output dtype."""

    def __init__(self, model):
        conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
        self.seen = {"conv_in_channels_last": [], "conv_out_dtype": [], "head_out_dtype": []}
        self.handles = [conv.register_forward_hook(self._conv), model.head.register_forward_hook(self._head)]

    def _conv(self, module, inputs, output):
        self.seen["conv_in_channels_last"].append(inputs[0].is_contiguous(memory_format=torch.channels_last))
        self.seen["conv_out_dtype"].append(output.dtype)

    def _head(self, module, inputs, output):
        self.seen["head_out_dtype"].append(output.dtype)

    def remove(self):
        for h in self.handles:
            h.remove()


def test_amp_modes_by_device_and_forced():
    cpu = torch.device("cpu")
    assert train._amp(cpu) == (None, False)                 # the CPU default: off
    assert train._amp(cpu, "bf16") == (torch.bfloat16, False)
    assert train._amp(cpu, "fp16") == (torch.float16, True)  # fp16 goes with a GradScaler
    assert train._amp(cpu, "off") == (None, False)
    with pytest.raises(DataError, match="amp='fp8'"):
        train._amp(cpu, "fp8")


@pytest.mark.parametrize("arch", ["resnet10", "mobilenet_v3_small"])
def test_predict_under_bf16_autocast_and_channels_last(li, manifest, arch):
    torch.manual_seed(0)
    model = models.build_model(arch, 3, pretrained=False, freeze="all").to(memory_format=torch.channels_last)
    src = imagedata.load_images(li, manifest, 32, preload=True, num_workers=0)
    rows = np.arange(len(manifest))[:40]
    probe = _Probe(model)
    try:
        logits = imagedata.predict(model, src, batch_size=16, positions=rows, logits=True,
                                   amp_dtype=torch.bfloat16, channels_last=True)
        assert all(probe.seen["conv_in_channels_last"]) and len(probe.seen["conv_in_channels_last"]) == 3
        assert set(probe.seen["conv_out_dtype"]) == {torch.bfloat16}    # autocast ran the conv in bf16
        assert set(probe.seen["head_out_dtype"]) == {torch.bfloat16}
        assert logits.shape == (40, 3) and logits.dtype == np.float32 and np.isfinite(logits).all()
        # the same model in fp32 and contiguous memory predicts (nearly) the same: bf16 only rounds
        probe.seen = {k: [] for k in probe.seen}
        logits32 = imagedata.predict(model, src, batch_size=16, positions=rows, logits=True)
        assert set(probe.seen["conv_out_dtype"]) == {torch.float32}
        assert np.abs(logits - logits32).max() < 0.1
        assert (logits.argmax(1) == logits32.argmax(1)).mean() >= 0.9
    finally:
        probe.remove()


@pytest.mark.parametrize("amp, dtype", [("bf16", "bfloat16"), ("fp16", "float16")])
def test_training_with_the_gpu_paths_mixed_precision_and_channels_last_on_a_cpu(li, manifest, amp, dtype,
                                                                                tmp_path):
    r = train.train(li, manifest, "resnet10", tmp_path, profile="smoke", seed=0, progress=False,
                    threads=1, amp=amp, channels_last=True, keep_checkpoint=True, **FAST)
    assert r["device"] == "cpu" and r["amp"] == dtype and r["channels_last"] is True
    assert r["complete"] and len(r["history"]) == 1
    assert math.isfinite(r["history"][0]["train_loss"]) and 0 <= r["clean_acc"] <= 1
    ck = torch.load(tmp_path / "checkpoint.pt", weights_only=True)
    assert ("scaler" in ck) == (amp == "fp16")               # fp16 trains through a GradScaler
    # the weights stay float32 (autocast casts per op) and the saved model reloads and predicts
    model, meta = train.load_trained(tmp_path)
    assert {p.dtype for p in model.parameters()} == {torch.float32}
    ev = train.evaluate(model, li, train.load_manifest(tmp_path), meta)
    assert 0 <= ev["clean_acc"] <= 1 and ev["n_clean_test"] == r["n_clean_test"]
