"""Models: architectures, the authors' head, freezing modes, offline ImageNet weights."""
from __future__ import annotations

import re

import pytest
import torch
import torch.nn as nn
import torchvision.models as tvm

from nbkit import models
from nbkit.errors import DataError, MissingDataError


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    """A torch hub cache with nothing in it (tests never download)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch" / "hub" / "checkpoints"


@pytest.mark.parametrize("arch,size", [("resnet10", 32), ("resnet18", 32), ("mobilenet_v3_small", 32),
                                       ("resnet50", 32), ("densenet121", 32), ("vgg16", 32),
                                       ("vgg11_bn", 32), ("googlenet", 32),
                                       pytest.param("inception_v3", 75, marks=pytest.mark.slow)])
def test_architectures_head_and_forward(arch, size):
    m = models.build_model(arch, 5, freeze="all")
    assert isinstance(m.head[0], nn.Linear) and m.head[0].out_features == models._HEAD_WIDTH
    assert isinstance(m.head[1], nn.ReLU) and m.head[2].out_features == 5
    assert m.head[0].in_features == models.ARCHITECTURES[arch].feature_dim
    m.eval()
    with torch.no_grad():
        assert m(torch.zeros(1, 3, size, size)).shape == (1, 5)
    assert m.cam_layer is m.blocks()[-1]


def test_freeze_modes():
    m = models.build_model("resnet18", 3, freeze="top")
    assert models.count_parameters(m)["trainable"] == sum(p.numel() for p in m.head.parameters())
    m = models.build_model("resnet18", 3, freeze="all")
    c = models.count_parameters(m)
    assert c["trainable"] == c["total"]
    m = models.build_model("resnet18", 3, freeze="some", unfrozen_layers=2)
    assert m.block_names[-2:] == ["layer4.0", "layer4.1"]
    trainable = {n.split(".")[0] for n, p in m.features.named_parameters() if p.requires_grad}
    assert trainable == {"layer4"}
    assert all(p.requires_grad for p in m.head.parameters())
    assert not any(p.requires_grad for p in m.features.layer3.parameters())
    # some with 0 blocks == top
    m0 = models.build_model("resnet18", 3, freeze="some", unfrozen_layers=0)
    assert models.count_parameters(m0) == models.count_parameters(models.build_model("resnet18", 3, freeze="top"))
    with pytest.raises(DataError, match="freeze mode 'middle'"):
        models.build_model("resnet18", 3, freeze="middle")
    with pytest.raises(DataError, match="unknown architecture 'resnet51'"):
        models.build_model("resnet51", 3)


def test_frozen_batchnorm_keeps_statistics():
    m = models.build_model("resnet10", 3, freeze="some", unfrozen_layers=1)
    m.train()
    bn_frozen = m.features.bn1
    bn_trained = m.features.layer4[0].bn1
    assert not bn_frozen.training and bn_trained.training
    before = bn_frozen.running_mean.clone()
    m(torch.randn(4, 3, 32, 32))
    assert torch.equal(before, bn_frozen.running_mean)


def test_paper_setting_resnet50_blocks():
    m = models.build_model("resnet50", 10, freeze="some", unfrozen_layers=3)
    assert m.block_names[-3:] == ["layer4.0", "layer4.1", "layer4.2"]
    trainable = {n.split(".")[0] for n, p in m.features.named_parameters() if p.requires_grad}
    assert trainable == {"layer4"}


def test_missing_pretrained_weights_message(empty_hub):
    with pytest.raises(MissingDataError) as e:
        models.build_model("resnet50", 10, pretrained=True)
    msg = str(e.value)
    assert "resnet50-0676ba61.pth" in msg                 # the exact torchvision file name
    assert str(empty_hub) in msg                          # where to put it
    assert "torchvision.models.resnet50(weights='IMAGENET1K_V1')" in msg   # how to fetch it
    assert "https://download.pytorch.org/models/resnet50-0676ba61.pth" in msg
    assert "allow_download=True" in msg
    assert not empty_hub.exists() or not any(empty_hub.iterdir())   # nothing was downloaded
    with pytest.raises(DataError, match="no published ImageNet weights"):
        models.build_model("resnet10", 3, pretrained=True)


def test_pretrained_weights_loaded_from_cache(empty_hub):
    """A state_dict in the cache under torchvision's file name is loaded (trunk equals it)."""
    empty_hub.mkdir(parents=True)
    ref = tvm.resnet18()
    torch.save(ref.state_dict(), empty_hub / "resnet18-f37072fd.pth")
    m = models.build_model("resnet18", 4, pretrained=True, freeze="top")
    assert torch.equal(m.features.conv1.weight, ref.conv1.weight)
    assert torch.equal(m.features.layer4[1].bn2.running_var, ref.layer4[1].bn2.running_var)


def test_densenet_old_style_keys(empty_hub):
    """torchvision's published DenseNet file uses 'norm.1'-style keys; they are remapped."""
    empty_hub.mkdir(parents=True)
    ref = tvm.densenet121()
    old = {re.sub(r"(denselayer\d+\.(?:norm|relu|conv))([12])\.", r"\1.\2.", k): v
           for k, v in ref.state_dict().items() if "num_batches_tracked" not in k}
    assert any(".norm.1." in k for k in old)
    torch.save(old, empty_hub / "densenet121-a639ec97.pth")
    m = models.build_model("densenet121", 4, pretrained=True, freeze="top")
    assert torch.equal(m.features.denseblock4.denselayer16.conv2.weight,
                       ref.features.denseblock4.denselayer16.conv2.weight)


def test_corrupt_weights_file(empty_hub):
    empty_hub.mkdir(parents=True)
    (empty_hub / "resnet18-f37072fd.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="resnet18-f37072fd.pth: cannot read ImageNet weights"):
        models.build_model("resnet18", 4, pretrained=True)


def test_vgg16_pretrained_uses_features_only(empty_hub):
    """The published VGG-16 file holds the classifier too; only its features are used."""
    empty_hub.mkdir(parents=True)
    ref = nn.Module()
    ref.features = tvm.vgg.make_layers(tvm.vgg.cfgs["D"])
    state = dict(ref.state_dict())
    state["classifier.0.weight"] = torch.zeros(2, 2)      # stands in for the 120M-parameter classifier
    torch.save(state, empty_hub / "vgg16-397923af.pth")
    m = models.build_model("vgg16", 4, pretrained=True, freeze="some", unfrozen_layers=3)
    assert torch.equal(m.features[28].weight, ref.features[28].weight)
    assert m.block_names[-3:] == ["24", "26", "28"]
