"""Torchvision classifiers with the authors' head, freezing modes, and offline ImageNet weights.

The paper (§5, Appendix Table 9) fine-tunes ImageNet-pretrained ResNet-50 (the default), DenseNet-121,
VGG-16 and Inception-v3. The authors' Keras code replaces each network's top with

    global average pool -> Dense 1024 + ReLU -> Dense n_classes (softmax)

and trains the top only (``top``), everything (``all``) or the last few layers plus the head
(``some``, the paper's setting with 3 unfrozen layers). This module builds the same shape on the
torchvision implementations:

``BackdoorNet(features, head)``
    ``features`` is the convolutional trunk of the torchvision model (an ``nn.Sequential`` whose last
    element is the last convolutional stage: the layer a GradCAM audit hooks, see
    ``BackdoorNet.cam_layer``); ``pool`` is a global average pool; ``head`` is
    ``Linear(d, 1024) -> ReLU -> Linear(1024, n_classes)``. The softmax is left to the loss.

Freezing counts *blocks*, the units torchvision builds a trunk from: ResNet residual blocks, DenseNet
dense layers and transitions (plus the final norm), VGG convolutions, Inception ``Mixed`` /
``Conv2d`` modules, MobileNet inverted-residual blocks. ``some`` with ``unfrozen_layers=3`` unfreezes
the last three of those plus the head. Note: the authors' Keras code counted *Keras layers of the
whole model, head included*, so its ``some`` with 3 layers unfroze pooling + the two Dense layers,
i.e. only the head (our ``top``). We follow the paper's wording (last layers of the network trained
together with the head); pass ``freeze="top"`` for the released code's effective behaviour. Batch
norm layers inside frozen blocks stay in inference mode while training (as Keras does for
non-trainable layers), so their running statistics do not drift.

ImageNet weights are read from the torch hub cache, ``torch.hub.get_dir()/checkpoints/<file>``, the
file name torchvision itself uses (e.g. ``resnet50-0676ba61.pth``). Nothing is downloaded unless the
caller passes ``allow_download=True``; offline without the file a ``MissingDataError`` names the
file, the folder and the command that fetches it.

Small architectures for CPU runs: ``resnet18``, ``resnet10`` (torchvision's ``ResNet`` with one
``BasicBlock`` per stage; no published weights) and ``mobilenet_v3_small``.
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import torch
import torch.nn as nn
import torchvision.models as tvm

from .errors import DataError, MissingDataError

_FREEZE_MODES = ("top", "all", "some")
_HEAD_WIDTH = 1024


@dataclasses.dataclass(frozen=True)
class _ArchInfo:
    """Facts about one architecture.

    Attributes
    ----------
    builder : str
        ``torchvision.models`` function name.
    weights : str or None
        Name of the torchvision weights enum member used as "ImageNet-pretrained" (``None``: no
        published weights).
    feature_dim : int
        Channels of the trunk's output (input of the head).
    min_size : int
        Smallest input side the trunk accepts.
    paper : bool
        Used in the paper (Table 9).
    """

    builder: str
    weights: str | None
    feature_dim: int
    min_size: int
    paper: bool = False
    note: str = ""


ARCHITECTURES: dict[str, _ArchInfo] = {
    "resnet50": _ArchInfo("resnet50", "ResNet50_Weights.IMAGENET1K_V1", 2048, 32, True,
                         "paper default (Table 8); IMAGENET1K_V1 = the classic weights, as Keras"),
    "densenet121": _ArchInfo("densenet121", "DenseNet121_Weights.IMAGENET1K_V1", 1024, 32, True,
                            "Table 9"),
    "vgg16": _ArchInfo("vgg16", "VGG16_Weights.IMAGENET1K_V1", 512, 32, True, "Table 9"),
    "inception_v3": _ArchInfo("inception_v3", "Inception_V3_Weights.IMAGENET1K_V1", 2048, 75, True,
                             "Table 9; needs inputs of at least 75 px"),
    "resnet18": _ArchInfo("resnet18", "ResNet18_Weights.IMAGENET1K_V1", 512, 16, False,
                         "small variant for CPU runs"),
    "resnet10": _ArchInfo("resnet10", None, 512, 16, False,
                         "torchvision ResNet with one BasicBlock per stage (CPU toy runs); no "
                         "published ImageNet weights"),
    "vgg11_bn": _ArchInfo("vgg11_bn", None, 512, 32, False,
                         "the smallest VGG, with batch norm, from scratch (CPU toy runs of Table 9's VGG "
                         "row: VGG-16 without batch norm does not train from scratch in a few "
                         "epochs); ImageNet weights not wired"),
    "googlenet": _ArchInfo("googlenet", None, 1024, 32, False,
                          "Inception v1 without auxiliary heads, from scratch (CPU toy runs of Table "
                          "9's Inception row: Inception-v3 needs >= 75 px inputs); ImageNet "
                          "weights not wired"),
    "mobilenet_v3_small": _ArchInfo("mobilenet_v3_small", "MobileNet_V3_Small_Weights.IMAGENET1K_V1",
                                   576, 16, False, "light model for CPU runs"),
}


# ----------------------------------------------------------------------------- the network
class _InceptionInput(nn.Module):
    """torchvision's ``transform_input`` for Inception-v3 weights: ImageNet-normalised input ->
    the (x - 0.5) / 0.5 scaling those weights were trained with."""

    def forward(self, x):
        ch0 = x[:, 0:1] * (0.229 / 0.5) + (0.485 - 0.5) / 0.5
        ch1 = x[:, 1:2] * (0.224 / 0.5) + (0.456 - 0.5) / 0.5
        ch2 = x[:, 2:3] * (0.225 / 0.5) + (0.406 - 0.5) / 0.5
        return torch.cat([ch0, ch1, ch2], 1)


class BackdoorNet(nn.Module):
    """A torchvision trunk with the authors' head (GAP -> Linear 1024 + ReLU -> Linear classes).

    Parameters
    ----------
    features : nn.Sequential
        The convolutional trunk (input ``N x 3 x H x W``, output ``N x feature_dim x h x w``).
    feature_dim : int
        Channels of the trunk's output.
    n_classes : int
        Number of output classes.
    blocks : list of str
        Qualified names (inside ``features``) of the trunk's blocks, input to output; freezing
        counts these.
    arch : str
        Architecture name (recorded, used by ``load_trained``).
    """

    def __init__(self, features: nn.Sequential, feature_dim: int, n_classes: int,
                 blocks: list[str], arch: str = ""):
        super().__init__()
        self.arch = arch
        self.features = features
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(nn.Linear(feature_dim, _HEAD_WIDTH), nn.ReLU(inplace=True),
                                  nn.Linear(_HEAD_WIDTH, n_classes))
        self.block_names = list(blocks)
        self.freeze_mode = "all"
        self.unfrozen_layers = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.pool(self.features(x)), 1))

    @property
    def n_classes(self) -> int:
        return self.head[-1].out_features

    def blocks(self) -> list[nn.Module]:
        """The trunk's blocks, input to output."""
        return [self.features.get_submodule(n) for n in self.block_names]

    @property
    def cam_layer(self) -> nn.Module:
        """The last convolutional block: the usual GradCAM target layer."""
        return self.features.get_submodule(self.block_names[-1])

    def train(self, mode: bool = True):
        super().train(mode)
        if mode:  # batch norm in frozen parts keeps its ImageNet statistics (Keras behaviour)
            for m in self.features.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm) and not any(
                        p.requires_grad for p in m.parameters(recurse=False)):
                    m.eval()
        return self


# ----------------------------------------------------------------------------- trunks
def _resnet10(**kw) -> tvm.ResNet:
    return tvm.ResNet(tvm.resnet.BasicBlock, [1, 1, 1, 1], **kw)


class _VGGTrunk(nn.Module):
    """VGG-16 (or VGG-11 with batch norm) without its 120M-parameter classifier (never used: the
    head replaces it); same ``features`` module and initialisation as ``torchvision.models.vgg16``."""

    def __init__(self, cfg: str = "D", batch_norm: bool = False):
        super().__init__()
        self.features = tvm.vgg.make_layers(tvm.vgg.cfgs[cfg], batch_norm=batch_norm)
        for m in self.features.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.constant_(m.bias, 0)

    def load_state_dict(self, state, strict: bool = True):
        feats = {k: v for k, v in state.items() if k.startswith("features.")}
        return super().load_state_dict(feats, strict=strict)


def _torchvision_model(arch: str, pretrained: bool = False) -> nn.Module:
    info = ARCHITECTURES[arch]
    if arch == "resnet10":
        return _resnet10()
    if arch == "vgg16":
        return _VGGTrunk()
    if arch == "vgg11_bn":
        return _VGGTrunk("A", batch_norm=True)
    if arch == "googlenet":
        return tvm.googlenet(weights=None, aux_logits=False, init_weights=True,
                             transform_input=False)
    if arch == "inception_v3":  # its truncated-normal init is slow and pointless before loading
        return tvm.inception_v3(weights=None, aux_logits=True, init_weights=not pretrained)
    return getattr(tvm, info.builder)(weights=None)


def _split(arch: str, net: nn.Module, transform_input: bool) -> tuple[nn.Sequential, list[str]]:
    """The trunk of a torchvision model as a Sequential plus the names of its blocks."""
    if arch.startswith("resnet"):
        feats = nn.Sequential()
        for name in ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]:
            feats.add_module(name, getattr(net, name))
        blocks = ["conv1"] + [f"layer{i}.{j}" for i in range(1, 5)
                              for j in range(len(getattr(net, f"layer{i}")))]
        return feats, blocks
    if arch == "densenet121":
        feats = nn.Sequential()
        for name, m in net.features.named_children():
            feats.add_module(name, m)
        feats.add_module("relu_out", nn.ReLU(inplace=False))  # torchvision applies F.relu here
        blocks = ["conv0"]
        for name, m in net.features.named_children():
            if name.startswith("denseblock"):
                blocks += [f"{name}.{c}" for c, _ in m.named_children()]
            elif name.startswith("transition") or name == "norm5":
                blocks.append(name)
        return feats, blocks
    if arch in ("vgg16", "vgg11_bn"):
        feats = nn.Sequential(*net.features.children())
        blocks = [str(i) for i, m in enumerate(feats) if isinstance(m, nn.Conv2d)]
        return feats, blocks
    if arch == "inception_v3":
        feats = nn.Sequential()
        if transform_input:
            feats.add_module("transform_input", _InceptionInput())
        order = ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1", "Conv2d_3b_1x1",
                 "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a",
                 "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c"]
        for name in order:
            feats.add_module(name, getattr(net, name))
        blocks = [n for n in order if not n.startswith("maxpool")]
        return feats, blocks
    if arch == "googlenet":
        feats = nn.Sequential()
        order = ["conv1", "maxpool1", "conv2", "conv3", "maxpool2", "inception3a", "inception3b",
                 "maxpool3", "inception4a", "inception4b", "inception4c", "inception4d",
                 "inception4e", "maxpool4", "inception5a", "inception5b"]
        for name in order:
            feats.add_module(name, getattr(net, name))
        return feats, [n for n in order if not n.startswith("maxpool")]
    if arch == "mobilenet_v3_small":
        feats = nn.Sequential(*net.features.children())
        return feats, [str(i) for i in range(len(feats))]
    raise DataError("build_model", f"unknown architecture {arch!r}", f"one of {sorted(ARCHITECTURES)}")


# ----------------------------------------------------------------------------- ImageNet weights
def _weights_enum(arch: str):
    info = ARCHITECTURES[arch]
    if info.weights is None:
        raise DataError("build_model", f"architecture {arch!r} has no published ImageNet weights",
                        "pretrained=False for it", hint="use resnet18 or resnet50 for pretrained runs")
    enum_name, member = info.weights.split(".")
    return getattr(getattr(tvm, enum_name), member)


def _pretrained_path(arch: str) -> Path:
    """Where the ImageNet weights of ``arch`` are looked for: ``<torch hub>/checkpoints/<file>``.

    Examples
    --------
    >>> _pretrained_path("resnet50").name
    'resnet50-0676ba61.pth'
    """
    w = _weights_enum(arch)
    return Path(torch.hub.get_dir()) / "checkpoints" / Path(w.url).name


_DENSENET_KEY = re.compile(r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$")


def _load_imagenet_state(arch: str, allow_download: bool = False) -> dict:
    """The torchvision ImageNet ``state_dict`` of ``arch``, read from the torch hub cache.

    Parameters
    ----------
    arch : str
        A key of ``ARCHITECTURES`` with published weights.
    allow_download : bool
        Fetch the file into the cache when it is absent (never the default; tests never do).

    Returns
    -------
    dict
        Parameter name -> tensor, ready for the torchvision model of ``arch``.

    Raises
    ------
    MissingDataError
        The weight file is absent and downloading is not allowed; the message names the file, the
        folder, and a command that fetches it.
    """
    w = _weights_enum(arch)
    path = _pretrained_path(arch)
    if not path.is_file():
        if not allow_download:
            info = ARCHITECTURES[arch]
            enum_name, member = info.weights.split(".")
            raise MissingDataError(
                path, f"ImageNet weights for {arch} are not in the torch cache",
                f"the torchvision file {path.name} in {path.parent}",
                hint=(f"Fetch it on a machine with internet access with `python -c \"import torchvision; "
                      f"torchvision.models.{info.builder}(weights='{member}')\"` (or `curl -L {w.url} "
                      f"-o {path}`) and copy it to {path.parent}; set $TORCH_HOME to use another cache; "
                      f"or pass allow_download=True; or pretrained=False to train from scratch"))
        state = w.get_state_dict(progress=True, check_hash=True)
    else:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # truncated download, wrong file
            raise DataError(path, f"cannot read ImageNet weights ({e})",
                            f"the torchvision file {path.name} downloaded from {w.url}",
                            hint="delete it and fetch it again") from e
    if arch == "densenet121":  # old key style 'norm.1' -> 'norm1' used by the published file
        state = {(_DENSENET_KEY.sub(r"\1\2", k)): v for k, v in state.items()}
    return state


# ----------------------------------------------------------------------------- build + freeze
def _set_freeze(model: BackdoorNet, freeze: str = "some", unfrozen_layers: int = 3) -> BackdoorNet:
    """Choose which parameters train.

    Parameters
    ----------
    model : BackdoorNet
    freeze : {"top", "all", "some"}
        ``top``: only the head trains; ``all``: everything trains; ``some``: the last
        ``unfrozen_layers`` blocks of the trunk plus the head train.
    unfrozen_layers : int
        Blocks unfrozen by ``some`` (the paper's setting: 3).

    Returns
    -------
    BackdoorNet
        The same model, modified in place.
    """
    if freeze not in _FREEZE_MODES:
        raise DataError("build_model", f"unknown freeze mode {freeze!r}", f"one of {_FREEZE_MODES}")
    if int(unfrozen_layers) < 0:
        raise DataError("build_model", f"unfrozen_layers={unfrozen_layers}", "a count >= 0")
    for p in model.features.parameters():
        p.requires_grad_(freeze == "all")
    if freeze == "some" and int(unfrozen_layers) > 0:
        for b in model.blocks()[-int(unfrozen_layers):]:
            for p in b.parameters():
                p.requires_grad_(True)
    for p in model.head.parameters():
        p.requires_grad_(True)
    model.freeze_mode, model.unfrozen_layers = freeze, int(unfrozen_layers)
    return model


def build_model(arch: str, n_classes: int, pretrained: bool = False, freeze: str = "some",
                unfrozen_layers: int = 3, allow_download: bool = False,
                imagenet_input: bool | None = None) -> BackdoorNet:
    """A torchvision architecture with the authors' head, optionally ImageNet-initialised.

    Parameters
    ----------
    arch : str
        A key of ``ARCHITECTURES``: ``resnet50`` (paper default), ``densenet121``, ``vgg16``,
        ``inception_v3`` (Table 9), ``resnet18``, ``resnet10``, ``vgg11_bn``, ``googlenet`` (CPU-sized
        members of Table 9's VGG and Inception families), ``mobilenet_v3_small``.
    n_classes : int
        Output classes.
    pretrained : bool
        Initialise the trunk with torchvision's ImageNet weights from the torch cache (see
        the module docstring); the head is always freshly initialised.
    freeze : {"top", "all", "some"}
        ``top``: only the head trains; ``all``: everything trains; ``some``: the last
        ``unfrozen_layers`` blocks of the trunk plus the head. Training from scratch with a frozen
        trunk makes little sense, but is allowed.
    unfrozen_layers : int
        Blocks unfrozen by ``some``.
    allow_download : bool
        Permit fetching missing ImageNet weights.
    imagenet_input : bool, optional
        Inception-v3 only: convert ImageNet-normalised input to the scaling its torchvision weights
        expect (default: ``pretrained``; ``load_trained`` passes the trained model's setting).

    Returns
    -------
    BackdoorNet

    Examples
    --------
    >>> m = build_model("resnet10", 10, freeze="all")
    >>> m(torch.zeros(2, 3, 64, 64)).shape
    torch.Size([2, 10])
    """
    if arch not in ARCHITECTURES:
        raise DataError("build_model", f"unknown architecture {arch!r}", f"one of {sorted(ARCHITECTURES)}")
    if int(n_classes) < 1:
        raise DataError("build_model", f"n_classes={n_classes}", "at least 1 class")
    net = _torchvision_model(arch, bool(pretrained))
    if pretrained:
        state = _load_imagenet_state(arch, allow_download=allow_download)
        net.load_state_dict(state)
    feats, blocks = _split(arch, net, transform_input=bool(pretrained if imagenet_input is None
                                                           else imagenet_input))
    model = BackdoorNet(feats, ARCHITECTURES[arch].feature_dim, int(n_classes), blocks, arch)
    return _set_freeze(model, freeze, unfrozen_layers)


def count_parameters(model: nn.Module) -> dict:
    """``{"trainable": n, "total": n}`` parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"trainable": int(train), "total": int(total)}


