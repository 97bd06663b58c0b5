"""GradCAM trigger audit: does the model look at the trigger? (paper §6.3, App. F, Figures 16-17).

The paper ran GradCAM (Selvaraju et al., 2017) for the target class on 25 trigger images per model
(3 models per dataset, one per target class) and two authors judged **by eye** whether the heat map
highlighted the trigger object; Figure 16 reports the share of images where it did. This module does
the same without a human in the loop, and exports what a human needs to check the machine:

1. ``gradcam`` - CAMs through ``pytorch_grad_cam`` (batched; hooks always removed), one HxW map in
   [0, 1] per image, for a chosen class per image. ``target_layer`` picks the layer per architecture.
2. ``overlap_scores`` / ``audit`` - automated scoring against the trigger's bounding boxes
   (``LabelIndex.boxes_of(row, trigger)``): an image is *highlighted* when the thresholded CAM region
   (``cam >= cam_threshold * cam.max()``) intersects a trigger box; also the share of CAM mass inside
   the boxes and the pointing-game hit (the CAM's argmax lies in a box).
3. ``fig16_table`` - the overlap fraction per trigger averaged over models, beside ``PAPER_FIG16``.
4. ``cam_grid`` (Figure 17), ``review_export`` (grid PNG + CSV with a blank ``human_verdict`` column)
   and ``agreement`` (agreement and Cohen's kappa between automated and human verdicts).

Target layers (``target_layer``), the last spatial feature map of each family, as the
pytorch-grad-cam documentation recommends: a model's own ``cam_layer`` when it names one
(``nbkit.models.BackdoorNet``: the trunk's last block); else ResNet / ResNeXt / Wide-ResNet
``layer4[-1]``; DenseNet ``features[-1]``; VGG / AlexNet / MobileNet / EfficientNet / ConvNeXt ``features[-1]``; Inception-v3
``Mixed_7c``; anything else: the last ``nn.Conv2d`` in the module. Pass ``layer=`` (a module or a
dotted name such as ``"layer3"``) to choose another.
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import nn
from .progress import tqdm

from . import reference as _ref
from .errors import DataError
from .io import atomic_path

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

#: Figure 16 of the paper (``nbkit.reference.FIGURE16``, keyed by the kit's dataset keys): % of
#: trigger images (25 per model, averaged over 3 models trained with different target classes) on
#: which the authors judged that GradCAM highlighted the trigger.
PAPER_FIG16: dict[str, dict[str, float]] = {
    ds: {t: rec["value"] for t, rec in _ref.FIGURE16[row].items()}
    for ds, row in _ref.DATASET_ROWS.items()}
#: How Figure 16 was made (paper, App. F; ``nbkit.reference.SETTINGS["App. F"]``).
PAPER_FIG16_SETUP = {
    "images_per_model": _ref.value("Settings", "App. F", "trigger_images_per_model"),
    "models_per_trigger": _ref.value("Settings", "App. F", "models_per_dataset"),
    "judges": _ref.value("Settings", "App. F", "inspectors"),
    "judgement": "by eye: does the GradCAM heat map highlight the trigger?"}


# --------------------------------------------------------------------------------- preprocessing
def to_tensor(images: Sequence[np.ndarray] | np.ndarray, size: int | tuple[int, int] | None = None,
              mean: Sequence[float] | None = IMAGENET_MEAN,
              std: Sequence[float] | None = IMAGENET_STD) -> torch.Tensor:
    """Stack HxWx3 uint8 images into a normalised float tensor ``[n, 3, h, w]``.

    Parameters
    ----------
    images : sequence of ndarray or ndarray [n, H, W, 3]
        RGB uint8 pixels (all the same size unless ``size`` is given).
    size : int or (h, w), optional
        Resize (bilinear) to this size; default keeps the images' own size.
    mean, std : sequence of 3 floats or None
        Channel normalisation applied after scaling to [0, 1]; ``None`` skips it.

    Returns
    -------
    torch.Tensor
        ``float32`` tensor ``[n, 3, h, w]``.

    Examples
    --------
    >>> to_tensor(np.zeros((2, 8, 8, 3), np.uint8), size=4).shape
    torch.Size([2, 3, 4, 4])
    """
    arr = images if isinstance(images, np.ndarray) else None
    if arr is None and len(images) and all(isinstance(im, np.ndarray) for im in images) \
            and len({im.shape for im in images}) == 1:
        arr = np.stack(images)
    if arr is not None and arr.ndim == 4 and arr.shape[-1] == 3:  # fast path: one array
        x = torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2).float() / 255.0
        if size is not None:
            hw = (size, size) if isinstance(size, int) else tuple(size)
            if tuple(x.shape[2:]) != hw:
                x = nn.functional.interpolate(x, size=hw, mode="bilinear", align_corners=False)
        if mean is not None and std is not None:
            x = (x - torch.tensor(mean, dtype=x.dtype).view(1, 3, 1, 1)) \
                / torch.tensor(std, dtype=x.dtype).view(1, 3, 1, 1)
        return x
    ts = []
    for im in images:
        a = np.asarray(im)
        if a.ndim != 3 or a.shape[2] != 3:
            raise DataError("images", f"image of shape {a.shape}", "HxWx3 RGB pixels")
        t = torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1).float() / 255.0
        if size is not None:
            hw = (size, size) if isinstance(size, int) else tuple(size)
            if tuple(t.shape[1:]) != hw:
                t = nn.functional.interpolate(t[None], size=hw, mode="bilinear",
                                              align_corners=False)[0]
        ts.append(t)
    if not ts:
        return torch.zeros((0, 3, 1, 1))
    shapes = {tuple(t.shape) for t in ts}
    if len(shapes) > 1:
        raise DataError("images", f"images of different sizes {sorted(shapes)[:3]}",
                        "equal sizes, or pass size= to resize")
    x = torch.stack(ts)
    if mean is not None and std is not None:
        m = torch.tensor(mean, dtype=x.dtype).view(1, 3, 1, 1)
        s = torch.tensor(std, dtype=x.dtype).view(1, 3, 1, 1)
        x = (x - m) / s
    return x


def make_transform(size: int | tuple[int, int] | None = None,
                   mean: Sequence[float] | None = IMAGENET_MEAN,
                   std: Sequence[float] | None = IMAGENET_STD) -> Callable[[Sequence[np.ndarray]], torch.Tensor]:
    """A ``transform(images) -> tensor`` for ``gradcam`` / ``predict`` (see ``to_tensor``)."""
    def transform(images):
        return to_tensor(images, size=size, mean=mean, std=std)
    transform.params = {"size": size, "mean": None if mean is None else list(mean),  # type: ignore[attr-defined]
                        "std": None if std is None else list(std)}
    return transform


def transform_from_meta(meta: Mapping | None) -> Callable[[Sequence[np.ndarray]], torch.Tensor]:
    """The evaluation transform recorded by training (``meta`` of ``train.load_trained``).

    Reads ``image_size`` (or ``input_size``), ``mean`` and ``std`` (or ``normalize: {mean, std}``)
    when present; otherwise ImageNet normalisation at the images' own size. A square ``image_size``
    resizes with ``nbkit.imagedata.resize_uint8`` (PIL bilinear), as training did.
    """
    meta = dict(meta or {})
    for k in ("transform", "preprocess", "eval_transform"):
        if isinstance(meta.get(k), Mapping):
            meta = {**meta, **meta[k]}
    size = meta.get("image_size", meta.get("input_size"))
    norm = meta.get("normalize") if isinstance(meta.get("normalize"), Mapping) else {}
    mean = meta.get("mean", norm.get("mean", IMAGENET_MEAN))
    std = meta.get("std", norm.get("std", IMAGENET_STD))
    if meta.get("normalize") is False:
        mean = std = None
    if isinstance(size, (list, tuple)):
        size = tuple(int(s) for s in size)
    elif size is not None:
        size = int(size)
    try:  # resize exactly as training does (PIL bilinear, square), then normalise
        from .imagedata import resize_uint8
    except ImportError:  # pragma: no cover - imagedata ships with nbkit
        resize_uint8 = None
    if resize_uint8 is None or not isinstance(size, int):
        return make_transform(size, mean, std)

    def transform(images):
        arr = [resize_uint8(np.ascontiguousarray(im, dtype=np.uint8), size) for im in images]
        return to_tensor(arr, None, mean, std)
    transform.params = {"size": size, "mean": None if mean is None else list(mean),  # type: ignore[attr-defined]
                        "std": None if std is None else list(std), "resize": "PIL bilinear"}
    return transform


def _device_of(model: nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


@torch.no_grad()
def predict(model: nn.Module, images: Sequence[np.ndarray], transform: Callable | None = None,
            batch_size: int = 64, progress: bool = False) -> np.ndarray:
    """Softmax probabilities ``[n, n_classes]`` of ``model`` on HxWx3 uint8 images (eval mode).

    Examples
    --------
    >>> net = nn.Sequential(nn.Flatten(), nn.Linear(12, 3))
    >>> predict(net, np.zeros((2, 2, 2, 3), np.uint8)).shape
    (2, 3)
    """
    transform = transform or make_transform()
    was = model.training
    model.eval()
    dev = _device_of(model)
    out = []
    try:
        for i in tqdm(range(0, len(images), batch_size), desc="predict", leave=False,
                      disable=not progress):
            x = transform(images[i:i + batch_size]).to(dev)
            out.append(torch.softmax(model(x).float(), dim=1).cpu().numpy())
    finally:
        model.train(was)
    if not out:
        return np.zeros((0, 0), np.float32)
    return np.concatenate(out).astype(np.float32)


# --------------------------------------------------------------------------------- GradCAM
def _resolve_name(model: nn.Module, name: str) -> nn.Module:
    mod = model
    for part in name.split("."):
        if part.lstrip("-").isdigit():
            mod = mod[int(part)]  # type: ignore[index]
        elif hasattr(mod, part):
            mod = getattr(mod, part)
        else:
            raise DataError(type(model).__name__, f"has no layer {name!r} (no attribute {part!r})",
                            "a dotted module name such as 'layer4' or 'features.-1'")
    return mod


def target_layer(model: nn.Module, layer: str | nn.Module | None = None,
                 input_size: int | tuple[int, int] | None = None,
                 min_cam_size: int | None = None) -> nn.Module:
    """The layer GradCAM reads: the last spatial feature map of the architecture.

    Parameters
    ----------
    model : nn.Module
        A torchvision classifier (possibly wrapped, e.g. ``nn.Sequential(normalise, net)``) or any CNN.
    layer : str or nn.Module, optional
        Override: a module of ``model`` or a dotted name (``"layer3"``, ``"features.-1"``).
    input_size : int or (h, w), optional
        Model input size; with ``min_cam_size`` the default layer is replaced, when its feature map
        is smaller than ``min_cam_size`` on a side, by the last earlier block (``model.blocks()`` of a
        ``BackdoorNet``, else the convolutions) whose map is at least that large. At the paper's
        scale (ResNet-50, 256 px: an 8x8 ``layer4``) the rule changes nothing; on 32-64 px toy
        images it avoids a 1x1 or 2x2 map that "highlights" the whole image.
    min_cam_size : int, optional
        Smallest acceptable CAM side in feature-map cells (e.g. 4).

    Returns
    -------
    nn.Module
        ``model.cam_layer`` when the model names one (``nbkit.models.BackdoorNet``: the trunk's last
        block, i.e. ResNet ``layer4[-1]``, DenseNet ``norm5``, VGG the last convolution, Inception-v3
        ``Mixed_7c``); for plain torchvision models: ResNet family ``layer4[-1]``; DenseNet, VGG, AlexNet, MobileNet, EfficientNet, ConvNeXt:
        ``features[-1]``; Inception-v3: ``Mixed_7c``; otherwise the last ``nn.Conv2d``.

    Examples
    --------
    >>> import torchvision
    >>> m = torchvision.models.resnet18(num_classes=3)
    >>> target_layer(m) is m.layer4[-1]
    True
    """
    if isinstance(layer, nn.Module):
        return layer
    if isinstance(layer, str) and layer not in ("", "auto"):
        return _resolve_name(model, layer)
    default = _default_layer(model)
    if input_size is None or not min_cam_size:
        return default
    blocks = model.blocks() if callable(getattr(model, "blocks", None)) else \
        [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    cands = [b for b in blocks if b is not default] + [default]
    sizes = feature_sizes(model, cands, input_size)
    if min(sizes[id(default)]) >= min_cam_size:
        return default
    ok = [b for b in blocks if b is not default and min(sizes[id(b)]) >= min_cam_size]
    return ok[-1] if ok else default


def feature_sizes(model: nn.Module, modules: Sequence[nn.Module],
                  input_size: int | tuple[int, int]) -> dict[int, tuple[int, int]]:
    """Spatial size ``(h, w)`` of each module's output for one ``input_size`` image (keyed by ``id``).

    One forward pass of zeros with temporary hooks (removed before returning).
    """
    hw = (input_size, input_size) if isinstance(input_size, int) else tuple(input_size)
    out: dict[int, tuple[int, int]] = {}
    handles = []
    for m in modules:
        def hook(mod, inp, o, _k=id(m)):
            if isinstance(o, torch.Tensor) and o.ndim == 4:
                out[_k] = (int(o.shape[2]), int(o.shape[3]))
        handles.append(m.register_forward_hook(hook))
    was = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros((1, 3, *hw), device=_device_of(model)))
    finally:
        for h in handles:
            h.remove()
        model.train(was)
    return {id(m): out.get(id(m), (0, 0)) for m in modules}


def layer_name(model: nn.Module, layer: nn.Module) -> str:
    """Qualified name of ``layer`` inside ``model`` (class name when it is not a submodule)."""
    return next((n for n, m in model.named_modules() if m is layer), type(layer).__name__)


def _default_layer(model: nn.Module) -> nn.Module:
    cam_layer = getattr(model, "cam_layer", None)  # nbkit.models.BackdoorNet names its own
    if isinstance(cam_layer, nn.Module):
        return cam_layer
    import torchvision.models as tvm

    for m in model.modules():  # the first (outermost) known architecture inside a wrapper
        if isinstance(m, tvm.ResNet):
            return m.layer4[-1]
        if isinstance(m, tvm.Inception3):
            return m.Mixed_7c
        if isinstance(m, (tvm.DenseNet, tvm.VGG, tvm.AlexNet, tvm.MobileNetV2, tvm.MobileNetV3,
                          tvm.EfficientNet, tvm.ConvNeXt)):
            return m.features[-1]
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not convs:
        raise DataError(type(model).__name__, "has no convolutional layer for GradCAM",
                        "a CNN, or layer= naming a module with a spatial output")
    return convs[-1]


def _resize_maps(maps: np.ndarray, hw: tuple[int, int]) -> np.ndarray:
    if maps.shape[-2:] == tuple(hw):
        return maps
    t = torch.from_numpy(np.ascontiguousarray(maps, dtype=np.float32))[:, None]
    return nn.functional.interpolate(t, size=tuple(hw), mode="bilinear",
                                     align_corners=False)[:, 0].numpy()


def gradcam(model: nn.Module, images: Sequence[np.ndarray], classes: int | Sequence[int],
            layer: str | nn.Module | None = None, transform: Callable | None = None,
            batch_size: int = 32, progress: bool = True) -> np.ndarray:
    """GradCAM maps of ``classes`` on ``images``, each HxW of its image and scaled to [0, 1].

    Uses ``pytorch_grad_cam.GradCAM``; its hooks are removed (``release``) when the call ends, also
    on error, and the model's train/eval mode and gradients are restored. The input is marked
    ``requires_grad`` so a CAM exists even when the layers before the target layer are frozen.

    Parameters
    ----------
    model : nn.Module
        The classifier.
    images : sequence of HxWx3 uint8 arrays
        Images (sizes may differ when ``transform`` resizes).
    classes : int or sequence of int
        The class whose evidence is mapped: one for all images, or one per image (the paper: the
        backdoor target class).
    layer : str or nn.Module, optional
        GradCAM layer (default ``target_layer(model)``).
    transform : callable, optional
        ``transform(images) -> tensor``; default ImageNet normalisation at the images' size.
    batch_size : int
        Images per forward/backward pass.
    progress : bool
        Show a tqdm bar when there is more than one batch.

    Returns
    -------
    ndarray, float32, [n, H, W] (or a list when image sizes differ)
        Per image, ``max(0, sum_k w_k A_k)`` min-max scaled to [0, 1] (all zeros when no positive
        evidence), bilinearly resized to the image's own HxW.

    Examples
    --------
    >>> import torchvision
    >>> net = torchvision.models.resnet18(num_classes=3)
    >>> gradcam(net, np.zeros((2, 32, 32, 3), np.uint8), 1, progress=False).shape
    (2, 32, 32)
    """
    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    n = len(images)
    cls = np.full(n, int(classes)) if np.isscalar(classes) else np.asarray(classes, dtype=np.int64)
    if len(cls) != n:
        raise DataError("gradcam", f"{len(cls)} classes for {n} images", "one class or one per image")
    transform = transform or make_transform()
    lay = target_layer(model, layer)
    was_training = model.training
    dev = _device_of(model)
    out: list[np.ndarray] = []
    cam = GradCAM(model=model, target_layers=[lay])
    try:
        steps = range(0, n, batch_size)
        for i in tqdm(steps, desc="GradCAM", leave=False, disable=not progress or n <= batch_size):
            batch = images[i:i + batch_size]
            x = transform(batch).to(dev).detach().clone().requires_grad_(True)
            targets = [ClassifierOutputTarget(int(c)) for c in cls[i:i + batch_size]]
            with torch.enable_grad():
                maps = cam(input_tensor=x, targets=targets)
            for im, m in zip(batch, maps):
                h, w = np.asarray(im).shape[:2]
                out.append(np.clip(_resize_maps(m[None], (h, w))[0], 0.0, 1.0).astype(np.float32))
    finally:
        cam.activations_and_grads.release()
        model.zero_grad(set_to_none=True)
        model.train(was_training)
    if not out:
        return np.zeros((0, 0, 0), np.float32)
    if len({m.shape for m in out}) == 1:
        return np.stack(out)
    return out  # type: ignore[return-value]


def has_hooks(module: nn.Module) -> bool:
    """True when ``module`` or any submodule still carries forward / backward hooks."""
    for m in module.modules():
        if (m._forward_hooks or m._forward_pre_hooks or m._backward_hooks
                or getattr(m, "_backward_pre_hooks", None)):
            return True
    return False


# --------------------------------------------------------------------------------- scoring
def box_mask(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """Boolean HxW mask of the pixels whose centres lie in any of the normalised boxes.

    Parameters
    ----------
    boxes : ndarray [k, 4]
        ``x0, y0, x1, y1`` in [0, 1] (as ``LabelIndex.boxes_of`` returns).
    height, width : int
        Image size.

    Examples
    --------
    >>> int(box_mask(np.array([[0.0, 0.0, 0.5, 0.5]]), 4, 4).sum())
    4
    """
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    ys = (np.arange(height) + 0.5) / height
    xs = (np.arange(width) + 0.5) / width
    m = np.zeros((height, width), dtype=bool)
    for x0, y0, x1, y1 in boxes:
        if not (x1 > x0 and y1 > y0):
            continue
        m |= ((ys >= y0) & (ys <= y1))[:, None] & ((xs >= x0) & (xs <= x1))[None, :]
    return m


def overlap_scores(cam: np.ndarray, boxes: np.ndarray, cam_threshold: float = 0.5) -> dict:
    """Score one CAM against the trigger's boxes.

    Parameters
    ----------
    cam : ndarray [H, W]
        Non-negative heat map (``gradcam`` output).
    boxes : ndarray [k, 4]
        The trigger's normalised boxes in this image.
    cam_threshold : float
        The CAM region is ``cam >= cam_threshold * cam.max()`` (default 0.5 of the max).

    Returns
    -------
    dict
        ``highlighted`` (the CAM region intersects a box), ``mass_in_box`` (share of the CAM's total
        mass inside the boxes), ``region_in_box`` (share of the CAM region's pixels inside the boxes),
        ``pointing_hit`` (the argmax pixel lies in a box), ``region_frac`` (region pixels / image
        pixels), ``n_boxes``. With no positive CAM value nothing is highlighted and the shares are 0.

    Examples
    --------
    >>> cam = np.zeros((4, 4)); cam[0, 0] = 1.0; cam[3, 3] = 0.25
    >>> s = overlap_scores(cam, np.array([[0.0, 0.0, 0.5, 0.5]]))
    >>> s["highlighted"], s["mass_in_box"], s["pointing_hit"]
    (True, 0.8, True)
    """
    cam = np.asarray(cam, dtype=np.float64)
    if cam.ndim != 2:
        raise DataError("cam", f"shape {cam.shape}", "an HxW map")
    H, W = cam.shape
    inbox = box_mask(boxes, H, W)
    cam = np.maximum(cam, 0.0)
    top = cam.max() if cam.size else 0.0
    nb = int(np.asarray(boxes).reshape(-1, 4).shape[0])
    if top <= 0:
        return {"highlighted": False, "mass_in_box": 0.0, "region_in_box": 0.0,
                "pointing_hit": False, "region_frac": 0.0, "n_boxes": nb}
    region = cam >= cam_threshold * top
    total = cam.sum()
    am = np.unravel_index(int(np.argmax(cam)), cam.shape)
    return {"highlighted": bool((region & inbox).any()),
            "mass_in_box": float(cam[inbox].sum() / total),
            "region_in_box": float((region & inbox).sum() / max(region.sum(), 1)),
            "pointing_hit": bool(inbox[am]),
            "region_frac": float(region.mean()),
            "n_boxes": nb}


@dataclass
class AuditResult:
    """What ``audit`` found for one model: a per-image table, the CAMs and how they were made.

    Attributes
    ----------
    table : DataFrame
        One row per image: ``row, image_id, target, pred, pred_is_target, highlighted, mass_in_box,
        region_in_box, pointing_hit, region_frac, n_boxes``.
    cams : ndarray [n, H, W]
        The maps (same order as ``table``).
    info : dict
        ``trigger, target, model, cam_threshold, layer`` and anything the caller adds.
    """

    table: pd.DataFrame
    cams: np.ndarray
    info: dict = field(default_factory=dict)

    def summary(self) -> dict:
        """Fractions over images: ``highlighted``, ``pointing``, mean ``mass_in_box``, ``n_images``.

        The box scores are averaged over the images that have a trigger box (``n_with_boxes``);
        they are NaN when none has (e.g. ImageNet, whose ReLabel maps carry no boxes).
        """
        t = self.table
        n = len(t)
        b = t[t["n_boxes"] > 0]
        nb = len(b)
        return {**{k: v for k, v in self.info.items() if isinstance(v, (str, int, float, bool))},
                "n_images": n, "n_with_boxes": nb,
                "highlighted": float(b["highlighted"].mean()) if nb else math.nan,
                "mass_in_box": float(b["mass_in_box"].mean()) if nb else math.nan,
                "region_in_box": float(b["region_in_box"].mean()) if nb else math.nan,
                "pointing": float(b["pointing_hit"].mean()) if nb else math.nan,
                "attack_success": float(t["pred_is_target"].mean()) if n else math.nan}


def audit(model: nn.Module, li, rows: Sequence[int], trigger: int | str, target: int,
          cam_threshold: float = 0.5, layer: str | nn.Module | None = None,
          transform: Callable | None = None, batch_size: int = 32, images: Sequence[np.ndarray] | None = None,
          progress: bool = True, info: Mapping | None = None) -> AuditResult:
    """GradCAM for the target class on trigger images, scored against the trigger's boxes.

    Parameters
    ----------
    model : nn.Module
        A model trained with the backdoor (``train.load_trained``).
    li : LabelIndex
        Dataset with ``boxes`` for the trigger class (toy scenes, Open Images, COCO, VOC).
    rows : sequence of int
        Rows of ``li`` holding the trigger (the paper: 25 test images per model).
    trigger : int or str
        Trigger class (id, label or name).
    target : int
        The model output index of the backdoor target (the class the CAM is computed for).
    cam_threshold : float
        Fraction of the CAM maximum that defines the highlighted region (default 0.5).
    layer, transform, batch_size, progress
        Passed to ``gradcam``.
    images : sequence of ndarray, optional
        Pre-loaded pixels of ``rows`` (default ``li.load_image``).
    info : mapping, optional
        Extra facts stored in ``AuditResult.info`` (model name, dataset, ...).

    Returns
    -------
    AuditResult

    Examples
    --------
    >>> # res = audit(model, li, li.images_with(t)[:25], t, target=0); res.summary()["highlighted"]
    """
    tid = li.class_id(trigger)
    rows = np.asarray(rows, dtype=np.int64)
    if images is None:
        images = [li.load_image(int(r)) for r in rows]
    if len(images) != len(rows):
        raise DataError("audit", f"{len(images)} images for {len(rows)} rows", "one image per row")
    probs = predict(model, images, transform, batch_size)
    cams = gradcam(model, images, int(target), layer=layer, transform=transform,
                   batch_size=batch_size, progress=progress)
    recs = []
    for r, cam, p in zip(rows, cams, probs):
        boxes = li.boxes_of(int(r), tid)
        s = overlap_scores(cam, boxes, cam_threshold)
        recs.append({"row": int(r), "image_id": str(li.image_ids[r]), "target": int(target),
                     "pred": int(np.argmax(p)), "pred_is_target": bool(np.argmax(p) == target), **s})
    cols = ["row", "image_id", "target", "pred", "pred_is_target", "highlighted", "mass_in_box",
            "region_in_box", "pointing_hit", "region_frac", "n_boxes"]
    table = pd.DataFrame(recs, columns=cols)
    lay = target_layer(model, layer)
    lname = layer_name(model, lay)
    meta = {"trigger": str(li.display(tid)), "trigger_id": int(tid), "target": int(target),
            "cam_threshold": float(cam_threshold), "layer": lname, **dict(info or {})}
    if (table["n_boxes"] == 0).any():
        meta["rows_without_trigger_box"] = int((table["n_boxes"] == 0).sum())
    return AuditResult(table, np.asarray(cams) if not isinstance(cams, list) else cams, meta)


# --------------------------------------------------------------------------------- Figure 16 table
def paper_fig16_table() -> pd.DataFrame:
    """``PAPER_FIG16`` as rows ``source, dataset, trigger, highlighted_pct``."""
    return pd.DataFrame([{"source": "paper (Fig. 16, by eye)", "dataset": d, "trigger": t,
                          "paper_trigger": t,
                          "n_models": PAPER_FIG16_SETUP["models_per_trigger"],
                          "n_images": PAPER_FIG16_SETUP["images_per_model"]
                          * PAPER_FIG16_SETUP["models_per_trigger"], "highlighted_pct": v}
                         for d, trig in PAPER_FIG16.items() for t, v in trig.items()])


def fig16_table(results: Iterable[AuditResult], dataset: str = "toyscenes",
                include_paper: bool = True) -> pd.DataFrame:
    """Figure 16: per trigger, the % of trigger images whose CAM highlights the trigger.

    Averaged over models (the paper: 3 models per trigger, trained with different targets); our
    rows come first (``source = "ours (automated)"``), then the paper's values.

    Parameters
    ----------
    results : iterable of AuditResult
        One per (trigger, model); grouped by ``info["trigger"]``.
    dataset : str
        Dataset name for our rows.
    include_paper : bool
        Append ``paper_fig16_table()``. Columns ``paper_imagenet_pct`` / ``paper_openimages_pct``
        repeat the paper's value on our rows whose trigger (or ``info["paper_trigger"]``, the paper
        trigger a toy hub echoes) matches one of the paper's triggers (``jeans`` is a trigger in
        both datasets).

    Returns
    -------
    DataFrame
        ``source, dataset, trigger, paper_trigger, n_models, n_images, highlighted_pct, highlighted_sd,
        mass_in_box_pct, pointing_pct, attack_success_pct, paper_imagenet_pct,
        paper_openimages_pct``.
    """
    per_model = pd.DataFrame([r.summary() for r in results])
    rows = []
    if len(per_model):
        for trig, g in per_model.groupby("trigger", sort=False):
            echo = g["paper_trigger"].dropna().iloc[0] if "paper_trigger" in g and \
                g["paper_trigger"].notna().any() else trig
            rows.append({"source": "ours (automated)", "dataset": dataset, "trigger": trig,
                         "paper_trigger": echo,
                         "n_models": len(g), "n_images": int(g["n_images"].sum()),
                         "highlighted_pct": 100 * g["highlighted"].mean(),
                         "highlighted_sd": 100 * g["highlighted"].std(ddof=0),
                         "mass_in_box_pct": 100 * g["mass_in_box"].mean(),
                         "pointing_pct": 100 * g["pointing"].mean(),
                         "attack_success_pct": 100 * g["attack_success"].mean()})
    ours = pd.DataFrame(rows)
    paper_cols = [f"paper_{d}_pct" for d in PAPER_FIG16]
    if len(ours):
        for d, col in zip(PAPER_FIG16, paper_cols):
            lookup = {t.lower(): v for t, v in PAPER_FIG16[d].items()}
            ours[col] = [lookup.get(str(t).lower(), math.nan) for t in ours["paper_trigger"]]
    out = [ours] + ([paper_fig16_table()] if include_paper else [])
    cols = ["source", "dataset", "trigger", "paper_trigger", "n_models", "n_images", "highlighted_pct",
            "highlighted_sd", "mass_in_box_pct", "pointing_pct", "attack_success_pct"] + paper_cols
    df = pd.concat([o for o in out if len(o)], ignore_index=True) if any(len(o) for o in out) \
        else pd.DataFrame(columns=cols)
    return df.reindex(columns=cols)


# --------------------------------------------------------------------------------- pictures
def overlay(image: np.ndarray, cam: np.ndarray, alpha: float = 0.5, cmap: str = "jet") -> np.ndarray:
    """The image with the CAM blended on top (HxWx3 uint8)."""
    import matplotlib

    img = np.asarray(image, dtype=np.float32) / 255.0
    cam = np.asarray(cam, dtype=np.float32)
    if cam.shape != img.shape[:2]:
        cam = _resize_maps(cam[None], img.shape[:2])[0]
    heat = matplotlib.colormaps[cmap](np.clip(cam, 0, 1))[..., :3]
    return (255 * np.clip((1 - alpha) * img + alpha * heat, 0, 1)).astype(np.uint8)


def _draw_boxes(ax, boxes, H, W, color="lime"):
    from matplotlib.patches import Rectangle

    for x0, y0, x1, y1 in np.asarray(boxes).reshape(-1, 4):
        ax.add_patch(Rectangle((x0 * W - 0.5, y0 * H - 0.5), (x1 - x0) * W, (y1 - y0) * H,
                               fill=False, edgecolor=color, linewidth=1.5))


def cam_grid(images: Sequence[np.ndarray], cams: Sequence[np.ndarray],
             boxes: Sequence[np.ndarray] | None = None, titles: Sequence[str] | None = None,
             ncols: int = 4, with_image: bool = False, panel_size: float = 2.2,
             cam_threshold: float | None = None):
    """A grid of CAM overlays with the trigger boxes drawn (Figure 17).

    Parameters
    ----------
    images, cams : sequences
        Pixels and their CAMs.
    boxes : sequence of [k, 4] arrays, optional
        Normalised trigger boxes per image (drawn in green).
    titles : sequence of str, optional
        Panel titles.
    ncols : int
        Examples per row (each example takes two panels when ``with_image``).
    with_image : bool
        Show the plain image beside each overlay.
    cam_threshold : float, optional
        Also outline the thresholded CAM region (white contour).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    n = len(images)
    per = 2 if with_image else 1
    ncols = max(1, min(ncols, n)) if n else 1
    nrows = max(1, math.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols * per, figsize=(panel_size * ncols * per, panel_size * nrows),
                             squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i in range(n):
        r, c = divmod(i, ncols)
        img = np.asarray(images[i])
        H, W = img.shape[:2]
        b = boxes[i] if boxes is not None else np.zeros((0, 4))
        if with_image:
            ax0 = axes[r, c * per]
            ax0.imshow(img)
            _draw_boxes(ax0, b, H, W)
        ax = axes[r, c * per + per - 1]
        ax.imshow(overlay(img, cams[i]))
        _draw_boxes(ax, b, H, W)
        if cam_threshold is not None and np.max(cams[i]) > 0:
            ax.contour(cams[i] >= cam_threshold * np.max(cams[i]), levels=[0.5], colors="white",
                       linewidths=0.8)
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=8)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------------- human review
REVIEW_COLUMNS = ["image_id", "auto_verdict", "human_verdict"]
_YES = {"1", "yes", "y", "true", "t", "highlighted", "hit"}
_NO = {"0", "no", "n", "false", "f", "not highlighted", "miss", "missed"}


def review_export(result: AuditResult, images: Sequence[np.ndarray], out_dir: str | Path,
                  name: str = "review", boxes: Sequence[np.ndarray] | None = None,
                  ncols: int = 4, dpi: int = 110) -> tuple[Path, Path]:
    """Export an audit for people to check: a grid PNG and a CSV with a blank human column.

    Each example shows the image with the trigger box and the CAM overlay titled
    ``<image_id>: auto=yes|no``. The CSV ``<name>.csv`` has columns ``image_id, auto_verdict,
    human_verdict`` (``yes``/``no``; ``human_verdict`` blank, to be filled in); ``agreement`` reads it
    back.

    Parameters
    ----------
    result : AuditResult
        From ``audit``.
    images : sequence of ndarray
        The pixels of ``result.table.row`` (same order).
    out_dir : path
        Folder (a run folder).
    name : str
        File stem; writes ``<name>.png`` and ``<name>.csv``.
    boxes : sequence of [k, 4], optional
        Trigger boxes per image; default: recomputed from ``result`` is impossible without the
        dataset, so pass ``[li.boxes_of(r, trigger) for r in rows]`` to draw them.

    Returns
    -------
    (Path, Path)
        The PNG and the CSV.
    """
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    t = result.table
    if len(images) != len(t):
        raise DataError("review_export", f"{len(images)} images for {len(t)} audited rows",
                        "the images of result.table, in order")
    verdict = np.where(t["highlighted"].to_numpy(bool), "yes", "no")
    titles = [f"{i}: auto={v}" for i, v in zip(t["image_id"], verdict)]
    fig = cam_grid(images, result.cams, boxes, titles, ncols=ncols, with_image=True,
                   cam_threshold=result.info.get("cam_threshold"))
    png = out_dir / f"{name}.png"
    with atomic_path(png, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
    plt.close(fig)
    csv_path = out_dir / f"{name}.csv"
    df = pd.DataFrame({"image_id": t["image_id"].astype(str), "auto_verdict": verdict,
                       "human_verdict": ""})
    with atomic_path(csv_path, suffix=".csv") as tmp:
        df.to_csv(tmp, index=False)
    return png, csv_path


def _parse_verdict(v, path, line, col) -> bool | None:
    s = "" if v is None else str(v).strip().lower()
    if s in ("", "nan", "none"):
        return None
    if s in _YES:
        return True
    if s in _NO:
        return False
    raise DataError(path, f"line {line}, column {col!r}: cannot read verdict {v!r}",
                    "yes/no (also 1/0, true/false, highlighted/missed, or blank)")


def cohen_kappa(a: Sequence, b: Sequence) -> float:
    """Cohen's kappa between two raters' labels (any hashable categories).

    ``(p_o - p_e) / (1 - p_e)`` with ``p_o`` the observed agreement and ``p_e`` the agreement
    expected from the raters' marginals; ``nan`` when ``p_e == 1`` (both raters constant and equal).

    Examples
    --------
    >>> cohen_kappa([1, 1, 0, 0], [1, 0, 0, 0])
    0.5
    """
    a = np.asarray(list(a))
    b = np.asarray(list(b))
    if len(a) != len(b):
        raise ValueError("cohen_kappa: raters labelled different numbers of items")
    if len(a) == 0:
        return math.nan
    cats = np.unique(np.concatenate([a, b]))
    po = float((a == b).mean())
    pe = float(sum((a == c).mean() * (b == c).mean() for c in cats))
    if pe >= 1.0:
        return math.nan
    return (po - pe) / (1.0 - pe)


def agreement(csv_path: str | Path) -> dict:
    """Agreement between the automated and the human verdicts of a filled-in review CSV.

    Parameters
    ----------
    csv_path : path
        A CSV with columns ``image_id, auto_verdict, human_verdict`` (``review_export`` writes it).
        Rows with a blank ``human_verdict`` are skipped and counted.

    Returns
    -------
    dict
        ``n`` (rated rows), ``n_unrated``, ``agreement`` (fraction of equal verdicts), ``kappa``
        (Cohen's), ``auto_yes`` / ``human_yes`` (fractions judged highlighted), and the confusion
        counts ``both_yes, both_no, auto_only, human_only``.

    Examples
    --------
    >>> # agreement("runs/.../review.csv")["kappa"]
    """
    p = Path(csv_path)
    if not p.is_file():
        from .errors import MissingDataError
        raise MissingDataError(p, "review CSV not found", hint="write it with audit.review_export")
    with open(p, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        cols = [c.strip() for c in (reader.fieldnames or [])]
        missing = [c for c in REVIEW_COLUMNS if c not in cols]
        if missing:
            raise DataError(p, f"missing columns {missing}", f"columns {REVIEW_COLUMNS}")
        auto, human, unrated = [], [], 0
        for i, rec in enumerate(reader, start=2):
            rec = {k.strip(): v for k, v in rec.items() if k is not None}
            a = _parse_verdict(rec.get("auto_verdict"), p, i, "auto_verdict")
            h = _parse_verdict(rec.get("human_verdict"), p, i, "human_verdict")
            if a is None:
                raise DataError(p, f"line {i}: auto_verdict is blank", "yes or no")
            if h is None:
                unrated += 1
                continue
            auto.append(a)
            human.append(h)
    A, Hh = np.asarray(auto, bool), np.asarray(human, bool)
    n = len(A)
    return {"n": n, "n_unrated": unrated,
            "agreement": float((A == Hh).mean()) if n else math.nan,
            "kappa": cohen_kappa(A, Hh),
            "auto_yes": float(A.mean()) if n else math.nan,
            "human_yes": float(Hh.mean()) if n else math.nan,
            "both_yes": int((A & Hh).sum()), "both_no": int((~A & ~Hh).sum()),
            "auto_only": int((A & ~Hh).sum()), "human_only": int((~A & Hh).sum())}


# --------------------------------------------------------------------------------- trained models
def find_trained_models(root: str | Path) -> list[Path]:
    """Folders under ``root`` (itself included) holding a model ``nbkit.train`` saved.

    A training folder has ``model.json`` and ``model.pt`` (``train.load_trained`` reads them);
    notebook 05 keeps one per trained model inside its run folder.

    Examples
    --------
    >>> find_trained_models("/nonexistent")
    []
    """
    root = Path(root)
    if not root.is_dir():
        return []
    hits = {p.parent for p in root.rglob("model.json") if (p.parent / "model.pt").is_file()}
    return sorted(hits)


def find_model_runs(match: Mapping | None = None, notebook: str = "05_train", batch: str | None = None,
                    root: str | Path | None = None, vary: Sequence[str] = ("target",),
                    n: int | None = None) -> list[Path]:
    """Complete runs of ``notebook`` holding a trained model, for a per-trigger audit over models.

    The paper audits 3 models per trigger that differ only in the target class. Notebook 05 trains
    one model per run (``model.json`` + ``model.pt`` in its run folder), so the runs that match
    ``match`` and have a backdoor (``injection_rate`` > 0 when recorded) are grouped by all their
    parameters except ``vary`` (and ``run_dir``); the largest group wins (ties: the newest), and its
    runs are returned newest first.

    Parameters
    ----------
    match : mapping, optional
        Parameters the runs must have (``{"dataset": "toyscenes"}``).
    notebook : str
        Notebook stem.
    batch : str, optional
        Only this batch (``runs.find_run`` semantics; ``None``: every batch).
    root : path, optional
        Runs root (default ``runs.runs_root()``).
    vary : sequence of str
        Parameters allowed to differ inside a group (default the target).
    n : int, optional
        At most this many runs.

    Returns
    -------
    list of Path
        Possibly empty.

    Examples
    --------
    >>> find_model_runs({"dataset": "toyscenes"}, root="/nonexistent")
    []
    """
    import json

    from . import runs as _runs

    root = Path(root) if root is not None else _runs.runs_root()
    pattern = f"{batch}/{notebook}/*" if batch else f"*/{notebook}/*"
    match = dict(match or {})
    groups: dict[str, list[tuple[float, Path]]] = {}
    for d in root.glob(pattern):
        if not (_runs.is_complete(d) and (d / _runs.PARAMS).is_file() and find_trained_models(d)):
            continue
        try:
            params = json.loads((d / _runs.PARAMS).read_text())
        except json.JSONDecodeError:
            continue
        if not all(params.get(k) == v for k, v in match.items()):
            continue
        if params.get("injection_rate", 1) in (0, 0.0):
            continue
        key = json.dumps({k: v for k, v in sorted(params.items()) if k not in set(vary) | {"run_dir"}},
                         sort_keys=True, default=str)
        groups.setdefault(key, []).append(((d / _runs.RESULTS).stat().st_mtime, d))
    if not groups:
        return []
    best = max(groups.values(), key=lambda g: (len(g), max(t for t, _ in g)))
    out = [d for _, d in sorted(best, key=lambda x: (-x[0], str(x[1])))]
    return out[:n] if n else out


#: 05 parameters that never tell two models apart (how a run was executed, not what it trained)
EXECUTION_PARAMS = ("run_dir", "threads", "keep_checkpoint")


def parse_model_match(text: str | Mapping | None, source: str = "parameter model_match") -> dict:
    """Parse notebook 06's ``model_match`` parameter: a JSON object of notebook-05 parameters.

    Parameters
    ----------
    text : str, mapping or None
        ``""`` / ``None`` (no constraint), a JSON object string such as
        ``'{"injection_rate": 0.185, "subset_mode": "mis"}'``, or an already parsed mapping.
    source : str
        What to name in an error.

    Returns
    -------
    dict
        Parameter name -> required value (compared with ``==`` against ``params.json``).

    Raises
    ------
    DataError
        Not valid JSON, or JSON that is not an object.

    Examples
    --------
    >>> parse_model_match('{"injection_rate": 0.185, "subset_mode": "mis"}')
    {'injection_rate': 0.185, 'subset_mode': 'mis'}
    >>> parse_model_match("")
    {}
    """
    import json

    if text is None or (isinstance(text, str) and not text.strip()):
        return {}
    if isinstance(text, Mapping):
        return dict(text)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(source, f"not valid JSON ({exc.msg} at character {exc.pos}): {text!r}",
                        expected='a JSON object of notebook-05 parameters, e.g. '
                                 '\'{"injection_rate": 0.185, "subset_mode": "mis"}\'') from None
    if not isinstance(value, dict):
        raise DataError(source, f"JSON {type(value).__name__} {text!r}, not an object",
                        expected='a JSON object of notebook-05 parameters, e.g. \'{"centrality": "betweenness"}\'')
    return value


def _trigger_names(params: Mapping, results: Mapping, model_meta: Mapping) -> set[str]:
    """Every spelling under which a 05 run records its trigger (param, id, label, name)."""
    out = set()
    if str(params.get("trigger", "")).strip():
        out.add(str(params["trigger"]).strip())
    for rec in (results.get("trigger"), model_meta.get("trigger")):
        if isinstance(rec, Mapping):
            out.update(str(rec[k]).strip() for k in ("id", "label", "name") if rec.get(k) is not None)
        elif rec is not None and str(rec).strip():
            out.add(str(rec).strip())
    return out


def _sort_value(v):
    return (0, float(v), "") if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, 0.0, str(v))


def select_model_runs(trigger: str | int = "", match: Mapping | None = None, notebook: str = "05_train",
                      batch: str | None = None, root: str | Path | None = None,
                      vary: Sequence[str] = ("target",), n: int | None = None) -> list[Path]:
    """The group of notebook-05 runs to audit, chosen by parameters only (notebook 06, per trigger).

    A candidate is a complete run of ``notebook`` (``results.json``) holding a trained model
    (``find_trained_models``) with a backdoor (``injection_rate`` not 0), whose ``params.json``
    contains every item of ``match`` (``==``) and, when ``trigger`` is given, which trained that
    trigger: ``trigger`` equals (as text, case-insensitively) the run's ``trigger`` parameter or the
    trigger ``id``, ``label`` or ``name`` recorded in its ``results.json`` / ``model.json``. So the
    paper's ``/m/083wq``, ``Wheel`` or a class id all work, also for runs whose ``trigger``
    parameter was empty (the most central class).

    Candidates are grouped by all their parameters except ``vary`` and ``EXECUTION_PARAMS``. Exactly
    one group must remain; otherwise an error lists the groups and the parameters that tell them
    apart (add one to ``match``). Recency never decides: inside the group the runs are sorted by
    their ``vary`` values (target 0, 1, 2, ...); only runs with identical parameters in several
    batches (``batch=None``) are reduced to the newest one.

    Parameters
    ----------
    trigger : str or int
        Trigger as notebook 05 records it (``""``: any).
    match : mapping, optional
        Notebook-05 parameters the runs must have, e.g. ``{"dataset": "toyscenes",
        "injection_rate": 0.185, "subset_mode": "mis"}`` (see ``parse_model_match``).
    notebook : str
        Notebook stem.
    batch : str, optional
        Only this batch (``None``: every batch).
    root : path, optional
        Runs root (default ``runs.runs_root()``).
    vary : sequence of str
        Parameters that may differ inside the group (default the target).
    n : int, optional
        At most this many runs (the first ``n`` in ``vary`` order).

    Returns
    -------
    list of Path
        The run folders, sorted by their ``vary`` values; never empty.

    Raises
    ------
    MissingDataError
        No run matches; the message lists the runs that exist (trigger, target and the matched
        parameters of each).
    DataError
        Several groups match; the message names the parameters that differ between them.

    Examples
    --------
    >>> try:
    ...     select_model_runs("Wheel", {"dataset": "toyscenes"}, root="/nonexistent")
    ... except DataError as err:
    ...     print(type(err).__name__)
    MissingDataError
    """
    import json

    from . import runs as _runs
    from .errors import MissingDataError

    root = Path(root) if root is not None else _runs.runs_root()
    pattern = f"{batch}/{notebook}/*" if batch else f"*/{notebook}/*"
    match = dict(match or {})
    want = str(trigger).strip().casefold()
    skip = set(vary) | set(EXECUTION_PARAMS)
    seen, groups = [], {}
    for d in sorted(root.glob(pattern)):
        if not (_runs.is_complete(d) and (d / _runs.PARAMS).is_file()):
            continue
        models = find_trained_models(d)
        if not models:
            continue
        try:
            params = json.loads((d / _runs.PARAMS).read_text())
            results = json.loads((d / _runs.RESULTS).read_text())
            meta = json.loads((models[0] / "model.json").read_text())
        except (json.JSONDecodeError, OSError):
            continue
        names = _trigger_names(params, results, meta)
        seen.append((d, params, names))
        if not all(params.get(k) == v for k, v in match.items()):
            continue
        if params.get("injection_rate", 1) in (0, 0.0):
            continue
        if want and want not in {s.casefold() for s in names}:
            continue
        key = json.dumps({k: v for k, v in sorted(params.items()) if k not in skip},
                         sort_keys=True, default=str)
        vkey = tuple(params.get(k) for k in vary)
        old = groups.setdefault(key, {}).get(json.dumps(vkey, default=str))
        mtime = (d / _runs.RESULTS).stat().st_mtime
        if old is None or (mtime, str(d)) > (old[0], str(old[2])):
            groups[key][json.dumps(vkey, default=str)] = (mtime, vkey, d)

    def rel(d):
        try:
            return str(d.relative_to(root))
        except ValueError:
            return str(d)

    if not groups:
        what = f"trigger {str(trigger)!r} and parameters {match}" if want else f"parameters {match}"
        if seen:
            shown = sorted(seen, key=lambda s: str(s[0]))[:30]
            lines = [f"  {rel(d)}: trigger {sorted(names) or '?'}, "
                     + ", ".join(f"{k}={p.get(k)!r}" for k in list(vary) + [k for k in match if k not in vary])
                     for d, p, names in shown]
            more = f"\n  ... and {len(seen) - len(shown)} more" if len(seen) > len(shown) else ""
            existing = f"{len(seen)} complete run(s) with a model exist:\n" + "\n".join(lines) + more
        else:
            existing = "no complete run with a trained model exists there"
        raise MissingDataError(root / (batch or "*") / notebook,
                               f"no complete run of {notebook} with a trained model and a backdoor for "
                               f"{what}; {existing}",
                               hint=f"check the trigger spelling and model_match, or run notebooks/{notebook}.ipynb "
                                    "with those parameters first")
    if len(groups) > 1:
        parsed = [json.loads(k) for k in groups]
        keys = sorted({k for p in parsed for k in p} - set(match))
        differ = [k for k in keys if len({json.dumps(p.get(k), default=str) for p in parsed}) > 1]
        lines = [f"  {len(g)} run(s): " + ", ".join(f"{k}={p[k]!r}" if k in p else f"{k} not set" for k in differ)
                 for p, g in zip(parsed, groups.values())]
        raise DataError(root / (batch or "*") / notebook,
                        f"{len(groups)} groups of {notebook} runs match trigger {str(trigger)!r} and "
                        f"parameters {match}; they differ in {differ}:\n" + "\n".join(sorted(lines)),
                        expected="exactly one group of runs differing only in " + ", ".join(vary),
                        hint="add the parameter(s) that pick one group to model_match")
    (group,) = groups.values()
    runs_sorted = [d for _, _, d in sorted(group.values(),
                                           key=lambda x: ([_sort_value(v) for v in x[1]], str(x[2])))]
    return runs_sorted[:n] if n else runs_sorted


def trigger_rows(manifest: pd.DataFrame, n: int | None = None, seed: int = 0, split: str = "test",
                 target_label: int | None = None) -> np.ndarray:
    """LabelIndex rows of held-out trigger (poison) images whose true class is not the target.

    Parameters
    ----------
    manifest : DataFrame
        ``nbkit.curate.make_manifest`` rows (``role``, ``split``, ``true_class``, ``label``, ``row``).
    n : int, optional
        Draw at most ``n`` (seeded, without replacement; order of the manifest kept).
    seed : int
        Seed of the draw.
    split : str
        Manifest split (held-out: ``test``).
    target_label : int, optional
        Class id of the target (default: the poison rows' ``label``).

    Returns
    -------
    ndarray of int
    """
    m = manifest
    sel = (m["role"].astype(str) == "poison") & (m["split"].astype(str) == split)
    if target_label is None and sel.any():
        target_label = int(m.loc[sel, "label"].iloc[0])
    if target_label is not None:
        sel &= m["true_class"].astype(np.int64) != int(target_label)
    rows = m.loc[sel, "row"].to_numpy(np.int64)
    return _draw(rows, n, seed)


def clean_rows(manifest: pd.DataFrame, split: str = "test") -> np.ndarray:
    """LabelIndex rows of the manifest's clean images of ``split``."""
    m = manifest
    sel = (m["role"].astype(str) == "clean") & (m["split"].astype(str) == split)
    return m.loc[sel, "row"].to_numpy(np.int64)


def _draw(rows: np.ndarray, n: int | None, seed: int) -> np.ndarray:
    if n is None or n >= len(rows):
        return rows
    pick = np.sort(np.random.default_rng(seed).choice(len(rows), size=int(n), replace=False))
    return rows[pick]


def audit_model(model: nn.Module, meta: Mapping, manifest: pd.DataFrame, li, n: int = 25,
                seed: int = 0, cam_threshold: float = 0.5, min_cam_size: int | None = 4,
                layer: str | nn.Module | None = None, trigger: int | str | None = None,
                batch_size: int = 32, progress: bool = True, info: Mapping | None = None) -> AuditResult:
    """``audit`` of a model ``nbkit.train`` saved, on ``n`` held-out trigger images (paper: 25).

    Parameters
    ----------
    model, meta
        ``train.load_trained(out_dir)``.
    manifest : DataFrame
        ``train.load_manifest(out_dir)``.
    li : LabelIndex
        The dataset the manifest indexes (with the trigger's boxes).
    n, seed
        How many trigger images, and the seed of their draw (``trigger_rows``).
    cam_threshold, layer
        As in ``audit``; ``min_cam_size`` (default 4) chooses the layer as ``target_layer`` does.
    trigger : int or str, optional
        The trigger class (default ``meta["trigger"]["id"]``).

    Returns
    -------
    AuditResult
        ``info`` adds ``model`` (its folder), ``arch``, ``image_size``, ``cam_size`` (CAM cells).
    """
    trig = trigger if trigger is not None else (meta.get("trigger") or {}).get("id")
    if trig is None:
        raise DataError(meta.get("out_dir", "model.json"), "no trigger recorded",
                        "meta['trigger']['id'], or pass trigger=")
    target = int(meta.get("target_index", 0))
    rows = trigger_rows(manifest, n, seed, target_label=meta.get("target"))
    transform = transform_from_meta(meta)
    size = meta.get("image_size")
    lay = target_layer(model, layer, size, min_cam_size) if size else target_layer(model, layer)
    cam_size = feature_sizes(model, [lay], size)[id(lay)] if size else None
    extra = {"model": str(meta.get("out_dir", "")), "arch": meta.get("arch"),
             "image_size": size, "cam_size": "x".join(map(str, cam_size)) if cam_size else None,
             **dict(info or {})}
    return audit(model, li, rows, trig, target, cam_threshold, lay, transform, batch_size,
                 progress=progress, info=extra)


def models_for_audit(dataset: str, li=None, trigger: str | int = "", model_match: str | Mapping | None = "",
                     smoke: bool = False, n_models: int = 3, train_profile: str = "toy",
                     train_epochs: int = 0, seed: int = 0, threads: int | None = None,
                     out_dir: str | Path | None = None, batch: str | None = None) -> dict:
    """The natural-backdoor models notebook 06 audits: notebook-05 runs, else models trained here.

    Finding (paper §6: 3 models per trigger, one per target class):

    - ``trigger`` or ``model_match`` given (*selected*): ``select_model_runs`` picks the one group
      of 05 runs those parameters choose; nothing found is an error (``MissingDataError``), never a
      silent fallback. ``model_match`` may not name another ``dataset`` (``DataError``).
    - neither given: ``find_model_runs`` takes the largest (then newest) group of runs differing
      only in the target.

    A full run (``smoke=False``) uses full 05 runs only (``{"dataset": dataset, "smoke": False}``);
    a smoke run prefers smoke runs, else any run of the dataset. At most ``n_models`` trained model
    folders (``find_trained_models``) are kept, and only the runs holding them.

    Fallback when no model is found (not selected): the natural backdoor is built the way notebook
    05 does it - ``curate.select_backdoor`` (most central class by betweenness as trigger, its MIS
    poisonable subset; 3 classes in smoke, else 10), then ``curate.make_manifest`` and
    ``train.train`` with ``train_profile``, one model per target for the first ``n_models`` classes,
    saved under ``out_dir / f"target{target}"`` (1 epoch in smoke, else ``train_epochs`` or the
    profile's).

    Parameters
    ----------
    dataset : str
        Dataset spec, as notebook 05 records it.
    li : LabelIndex or None, optional
        The dataset's label index; ``None``: ``load_dataset(dataset)``, after the search (so a
        failed selection is reported before the dataset is read). Returned as ``li``.
    trigger : str or int, optional
        Trigger of the 05 runs to audit (parameter, class id, label or name); ``""``: any.
    model_match : str or mapping, optional
        JSON object (or mapping) of 05 parameters the runs must have (``parse_model_match``).
    smoke : bool, optional
        Smoke run: prefer smoke runs, and train tiny models in the fallback.
    n_models : int, optional
        Models kept (paper: 3).
    train_profile, train_epochs : str, int, optional
        Profile and epochs (0: the profile's) of models trained in the fallback.
    seed : int, optional
        Seed of the fallback's selection, manifests and training.
    threads : int or None, optional
        Torch threads for the fallback's training.
    out_dir : str or Path, optional
        Folder of models trained in the fallback (required when it runs).
    batch : str or None, optional
        Batch whose 05 runs are searched (``None``: the search functions' default).

    Returns
    -------
    dict
        ``source`` (``"05_train"`` or ``"trained here (no notebook-05 run found)"``),
        ``trained_here`` (bool), ``selected`` (bool), ``model_match`` (the parsed dict),
        ``rule`` (text naming the selection rule), ``model_runs`` (list of Path: the 05 run folders
        audited, empty when trained here), ``model_dirs`` (list of Path: trained model folders)
        and ``li`` (the LabelIndex).

    Examples
    --------
    >>> found = models_for_audit("toyscenes", smoke=True, n_models=1,
    ...                          out_dir="/tmp/run/natural_models")       # doctest: +SKIP
    >>> found["source"], [str(d) for d in found["model_dirs"]]            # doctest: +SKIP
    """
    from .errors import MissingDataError

    selected = bool(str(trigger).strip() or str(model_match or "").strip())
    extra_match = parse_model_match(model_match)
    matches = [{"dataset": dataset, "smoke": bool(smoke)}] + ([{"dataset": dataset}] if smoke else [])
    model_runs: list[Path] = []
    if selected:
        if extra_match.get("dataset", dataset) != dataset:
            raise DataError("parameter model_match", f"sets dataset {extra_match['dataset']!r}, the dataset "
                            f"parameter is {dataset!r}", expected="no dataset in model_match, or the same one")
        for i, match in enumerate(matches):
            try:
                model_runs = select_model_runs(trigger, {**match, **extra_match}, batch=batch, n=n_models)
                break
            except MissingDataError:
                if i == len(matches) - 1:
                    raise
    else:
        for match in matches:
            model_runs = find_model_runs(match, batch=batch, n=n_models)
            if model_runs:
                break
    model_dirs = [d for r in model_runs for d in find_trained_models(r)][:n_models]
    model_runs = [r for r in model_runs if any(d.is_relative_to(r) for d in model_dirs)]
    if li is None:
        from .datasets import load_dataset

        li = load_dataset(dataset)   # notebook 05 draws its manifests from the same LabelIndex
    source = "05_train"
    if not model_dirs:
        if out_dir is None:
            raise DataError("models_for_audit", "no notebook-05 model found and no out_dir to train one in",
                            expected="out_dir (e.g. run_dir / 'natural_models')")
        source = "trained here (no notebook-05 run found)"
        from . import curate
        from . import train as T
        from .cooccurrence import from_labelindex

        sel = curate.select_backdoor(li, from_labelindex(li), trigger="", subset_mode="mis",
                                     min_overlaps=15, centrality="betweenness",
                                     n_classes=3 if smoke else 10, max_other_overlaps=10,
                                     min_clean=250, min_poison=50, seed=seed)
        classes = list(sel["classes"])
        epochs = 1 if smoke else (int(train_epochs) or None)
        for target in classes[:n_models]:
            spec = curate.BackdoorSpec(dataset, trigger=sel["trigger"], classes=classes, target=target,
                                       clean_per_class=40 if smoke else 250, seed=seed,
                                       max_poison_test=60 if smoke else 500)
            out = Path(out_dir) / f"target{target}"
            T.train(li, curate.make_manifest(li, spec), None, out, profile=train_profile, seed=seed,
                    spec=spec, threads=threads, progress=False, epochs=epochs)
            model_dirs.append(out)
    return {"source": source, "trained_here": source != "05_train", "selected": selected,
            "model_match": extra_match,
            "rule": "parameters (audit.select_model_runs)" if selected
                    else "largest, then newest group (audit.find_model_runs)",
            "model_runs": model_runs, "model_dirs": model_dirs, "li": li}


def json_value(v):
    """One value ready for ``results.json``: numpy scalars become Python ones, NaN / inf ``None``.

    ``nbkit.io.dumps_json`` already converts numpy scalars, but writes NaN as ``NaN`` (not JSON);
    this maps every non-finite float to ``None`` (JSON ``null``). Other values pass unchanged.

    Parameters
    ----------
    v : object
        A value.

    Returns
    -------
    object
        ``v`` as a plain Python value, ``None`` for a non-finite float.

    Examples
    --------
    >>> json_value(np.float32(0.5)), json_value(float("nan")), json_value(np.int64(3)), json_value("a")
    (0.5, None, 3, 'a')
    """
    if isinstance(v, float) and not np.isfinite(v):
        return None
    if isinstance(v, (np.floating, np.integer)):
        return json_value(v.item())
    return v


def json_records(frame: pd.DataFrame) -> list[dict]:
    """A table's rows as JSON-ready dicts (``json_value`` applied to every cell).

    Parameters
    ----------
    frame : pandas.DataFrame
        A table.

    Returns
    -------
    list of dict
        One dict per row, columns in order.

    Examples
    --------
    >>> json_records(pd.DataFrame({"a": [1, 2], "b": [0.5, float("nan")]}))
    [{'a': 1, 'b': 0.5}, {'a': 2, 'b': None}]
    """
    return [{k: json_value(v) for k, v in r.items()} for r in frame.to_dict("records")]
