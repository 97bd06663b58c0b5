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
4. ``review_export`` (grid PNG + CSV with a blank ``human_verdict`` column) and ``agreement``
   (agreement and Cohen's kappa, scikit-learn's, between automated and human verdicts).

Images are preprocessed and classified by ``nbkit.imagedata`` (``transform_from_meta``,
``predict``); the Figure 17 grid is ``nbkit.figures.cam_grid``; the models notebook 06 audits (and
which notebook-05 runs hold them) come from ``nbkit.naturalmodels``.

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
from . import imagedata
from .io import atomic_path

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
            model(torch.zeros((1, 3, *hw), device=imagedata.device_of(model)))
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
    transform = transform or imagedata.make_transform()
    lay = target_layer(model, layer)
    was_training = model.training
    dev = imagedata.device_of(model)
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


def _has_hooks(module: nn.Module) -> bool:
    """True when ``module`` or any submodule still carries forward / backward hooks."""
    for m in module.modules():
        if (m._forward_hooks or m._forward_pre_hooks or m._backward_hooks
                or getattr(m, "_backward_pre_hooks", None)):
            return True
    return False


# --------------------------------------------------------------------------------- scoring
def _box_mask(boxes: np.ndarray, height: int, width: int) -> np.ndarray:
    """Boolean HxW mask of the pixels whose centres lie in any of the normalised boxes.

    Parameters
    ----------
    boxes : ndarray [k, 4]
        ``x0, y0, x1, y1`` in [0, 1] (as ``LabelIndex.boxes_of`` returns).
    height, width : int
        Image size.

    Examples
    --------
    >>> int(_box_mask(np.array([[0.0, 0.0, 0.5, 0.5]]), 4, 4).sum())
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
    inbox = _box_mask(boxes, H, W)
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
    probs = imagedata.predict(model, images, transform, batch_size)
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
def _paper_fig16_table() -> pd.DataFrame:
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
        Append ``_paper_fig16_table()``. Columns ``paper_imagenet_pct`` / ``paper_openimages_pct``
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
    out = [ours] + ([_paper_fig16_table()] if include_paper else [])
    cols = ["source", "dataset", "trigger", "paper_trigger", "n_models", "n_images", "highlighted_pct",
            "highlighted_sd", "mass_in_box_pct", "pointing_pct", "attack_success_pct"] + paper_cols
    df = pd.concat([o for o in out if len(o)], ignore_index=True) if any(len(o) for o in out) \
        else pd.DataFrame(columns=cols)
    return df.reindex(columns=cols)


# --------------------------------------------------------------------------------- human review
_REVIEW_COLUMNS = ["image_id", "auto_verdict", "human_verdict"]
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
    from .figures import cam_grid

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


def _cohen_kappa(a: Sequence, b: Sequence) -> float:
    """Cohen's kappa between two raters' labels (any hashable categories), by scikit-learn.

    ``sklearn.metrics.cohen_kappa_score``: ``(p_o - p_e) / (1 - p_e)`` with ``p_o`` the observed
    agreement and ``p_e`` the agreement expected from the raters' marginals; ``nan`` when there is
    nothing to rate or ``p_e == 1`` (both raters constant and equal).

    Examples
    --------
    >>> _cohen_kappa([1, 1, 0, 0], [1, 0, 0, 0])
    0.5
    """
    from sklearn.metrics import cohen_kappa_score

    a = np.asarray(list(a))
    b = np.asarray(list(b))
    if len(a) != len(b):
        raise ValueError("cohen_kappa: raters labelled different numbers of items")
    cats = np.unique(np.concatenate([a, b]))
    if len(cats) < 2:  # empty, or both raters constant and equal: p_e = 1
        return math.nan
    return float(cohen_kappa_score(a, b, labels=cats))


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
        missing = [c for c in _REVIEW_COLUMNS if c not in cols]
        if missing:
            raise DataError(p, f"missing columns {missing}", f"columns {_REVIEW_COLUMNS}")
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
            "kappa": _cohen_kappa(A, Hh),
            "auto_yes": float(A.mean()) if n else math.nan,
            "human_yes": float(Hh.mean()) if n else math.nan,
            "both_yes": int((A & Hh).sum()), "both_no": int((~A & ~Hh).sum()),
            "auto_only": int((A & ~Hh).sum()), "human_only": int((~A & Hh).sum())}


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
    transform = imagedata.transform_from_meta(meta)
    size = meta.get("image_size")
    lay = target_layer(model, layer, size, min_cam_size) if size else target_layer(model, layer)
    cam_size = feature_sizes(model, [lay], size)[id(lay)] if size else None
    extra = {"model": str(meta.get("out_dir", "")), "arch": meta.get("arch"),
             "image_size": size, "cam_size": "x".join(map(str, cam_size)) if cam_size else None,
             **dict(info or {})}
    return audit(model, li, rows, trig, target, cam_threshold, lay, transform, batch_size,
                 progress=progress, info=extra)



# --------------------------------------------------------------------------------- figures 16 and 17
def fig16_figure(fig16: pd.DataFrame):
    """Figure 16 as bars: our automated % highlighted (blue, pointing game as black marks) beside
    the paper's by-eye % (grey); ``fig16`` is ``fig16_table``'s. Returns the matplotlib figure."""
    import matplotlib.pyplot as plt

    ours = fig16[fig16["source"].str.startswith("ours")]
    paper = fig16[~fig16["source"].str.startswith("ours")]
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    labels = [f"{t}\n(ours, {d})" for t, d in zip(ours["trigger"], ours["dataset"])] + \
             [f"{t}\n(paper, {d})" for t, d in zip(paper["trigger"], paper["dataset"])]
    vals = list(ours["highlighted_pct"]) + list(paper["highlighted_pct"])
    ax.bar(range(len(vals)), vals, color=["tab:blue"] * len(ours) + ["tab:gray"] * len(paper))
    if len(ours):
        ax.scatter(range(len(ours)), ours["pointing_pct"], color="k", marker="v", zorder=3,
                   label="ours: pointing game")
        ax.legend(fontsize=7)
    ax.set_xticks(range(len(vals)), labels, fontsize=7, rotation=30, ha="right")
    ax.set_ylabel("% trigger images highlighted")
    ax.set_ylim(0, 105)
    ax.set_title("Figure 16: GradCAM highlights the trigger (ours: automated; paper: by eye)", fontsize=9)
    return fig


def example_images(res: AuditResult, li) -> tuple[list, list]:
    """The images ``res`` audited and their trigger boxes (``li.load_image``, ``li.boxes_of``)."""
    rows = [int(r) for r in res.table["row"].to_numpy()]
    return [li.load_image(r) for r in rows], [li.boxes_of(r, res.info["trigger_id"]) for r in rows]


def fig17_figure(res: AuditResult, images: Sequence, boxes: Sequence, n: int, cam_threshold: float):
    """Figure 17: the first ``n`` images of ``res`` with their CAMs, trigger boxes and verdicts
    (``nbkit.figures.cam_grid``). Returns the matplotlib figure."""
    from .figures import cam_grid

    k = min(n, len(res.table))
    titles = [f"{i}: {'yes' if h else 'no'}" for i, h in zip(res.table["image_id"], res.table["highlighted"])]
    fig = cam_grid(images[:k], res.cams[:k], boxes[:k], titles[:k], ncols=4, cam_threshold=cam_threshold)
    fig.suptitle(f"Figure 17: GradCAM of the target on '{res.info['trigger']}' images "
                 f"({res.info['layer']}, {res.info['cam_size']} cells)", fontsize=9, y=1.04)
    return fig
