"""Images for training: decoded from JPEG/PNG files (real data) or rendered (toy scenes).

Images travel as ``uint8`` tensors ``N x 3 x S x S`` (the authors resized every image straight to
``DIM x DIM``, no crop, and so do we); conversion to float, augmentation and ImageNet normalisation
happen per batch on the training device (``to_float``, ``augment``), so the CPU workers only decode.

Two sources, one interface (``batches(order, batch_size)`` yields ``(x_uint8, positions, ok)``):

``_PreloadedImages``
    every image decoded (with DataLoader workers) or rendered once and kept in memory: the fast path
    for toy scenes and for small real subsets (``load_images(..., preload=True)``);
``_StreamingImages``
    a ``torch.utils.data.DataLoader`` over ``_ManifestImages`` with workers, decoding each epoch: for
    subsets too large for memory.

Preprocessing and prediction for trained models live here too, in one place: ``preprocess`` (PIL
resize + ImageNet ``MEAN`` / ``STD``, what training does), ``to_tensor`` / ``make_transform`` (torch
resize), ``transform_from_meta`` (the transform a saved model records) and ``predict`` (softmax
probabilities or logits, of image arrays or of an image source); ``nbkit.train``, ``nbkit.audit``
and ``nbkit.sentinet`` use them.

A missing or unreadable image file raises a ``DataError`` naming the file. With
``skip_bad_images=True`` it is skipped instead: ``ok`` is False for it, the training loop leaves it
out, and the count and file names are reported (``bad``).
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset

from .errors import DataError

MEAN = (0.485, 0.456, 0.406)   # ImageNet statistics (torchvision weights)
STD = (0.229, 0.224, 0.225)
_AUGMENTATIONS = ("none", "flip", "paper")


# ----------------------------------------------------------------------------- decoding
def _decode_file(path: str | Path, image_size: int) -> np.ndarray:
    """Decode a JPEG/PNG and resize it to ``image_size x image_size`` (bilinear): ``S x S x 3`` uint8.

    Raises
    ------
    DataError
        The file is missing or cannot be decoded; the message names it.
    """
    from PIL import Image, UnidentifiedImageError

    p = Path(path)
    if not p.is_file():
        raise DataError(p, "image file not found", "a JPEG or PNG file",
                        hint="pass skip_bad_images=True to skip unreadable images and count them")
    try:
        with Image.open(p) as im:
            im = im.convert("RGB")
            if im.size != (image_size, image_size):
                im = im.resize((image_size, image_size), Image.BILINEAR)
            return np.asarray(im, dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise DataError(p, f"cannot decode image ({e})", "a readable JPEG or PNG",
                        hint="pass skip_bad_images=True to skip unreadable images and count them") from e


def resize_uint8(img: np.ndarray, image_size: int) -> np.ndarray:
    """Resize an ``H x W x 3`` uint8 array to ``image_size`` square (bilinear, as ``_decode_file``)."""
    if img.shape[0] == image_size and img.shape[1] == image_size:
        return np.ascontiguousarray(img, dtype=np.uint8)
    from PIL import Image

    return np.asarray(Image.fromarray(img).resize((image_size, image_size), Image.BILINEAR))


class _ManifestImages(Dataset):
    """A torch Dataset over manifest rows: ``(uint8 3xSxS array, y, position, ok, error)``.

    Decoding errors never raise inside a worker: the item comes back with ``ok=False`` and the error
    text, and the caller (``load_images`` / the training loop) raises a ``DataError`` naming the file
    or, with ``skip_bad_images``, counts and skips it.

    Parameters
    ----------
    li : LabelIndex
        Resolves rows to files (``file`` column) or renders them (``li.renderer``).
    manifest : DataFrame
        Rows of ``nbkit.curate.make_manifest`` (columns ``row``, ``file``, ``y``).
    image_size : int
        Output side in pixels.
    """

    def __init__(self, li, manifest, image_size: int):
        self.li = li
        self.rows = manifest["row"].to_numpy(np.int64)
        self.files = manifest["file"].fillna("").astype(str).to_numpy() if "file" in manifest else \
            np.array([""] * len(manifest))
        self.y = manifest["y"].to_numpy(np.int64)
        self.image_size = int(image_size)

    def __len__(self) -> int:
        return len(self.rows)

    def load(self, i: int) -> np.ndarray:
        f = self.files[i]
        if f:
            return _decode_file(f, self.image_size)
        if self.li is None:
            raise DataError("manifest", f"row {self.rows[i]} has no file and no LabelIndex to render it")
        return resize_uint8(self.li.load_image(int(self.rows[i])), self.image_size)

    def __getitem__(self, i: int):
        """``(uint8 3 x S x S ndarray, y, position, ok, error text)``; never raises on a bad file."""
        try:
            img = np.ascontiguousarray(self.load(i).transpose(2, 0, 1))
            return img, int(self.y[i]), int(i), True, ""
        except DataError as e:
            z = np.zeros((3, self.image_size, self.image_size), dtype=np.uint8)
            return z, int(self.y[i]), int(i), False, str(e)


def _collate(items):
    """Stack items with numpy (no torch intra-op threads: they crawl on a shared, busy CPU)."""
    x = np.stack([it[0] for it in items])
    return (x, np.array([it[1] for it in items], np.int64), np.array([it[2] for it in items], np.int64),
            np.array([it[3] for it in items], bool), [it[4] for it in items])


def _worker_init(worker_id: int) -> None:  # seeded workers (decoding is deterministic anyway)
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    import random
    random.seed(seed)


def _loader(ds: Dataset, indices: Sequence[int], batch_size: int, num_workers: int):
    """Batches of ``ds[indices]`` as numpy arrays: in-process, or from DataLoader workers."""
    indices = [int(i) for i in indices]
    if num_workers <= 0:
        return (_collate([ds[i] for i in indices[j:j + batch_size]])
                for j in range(0, len(indices), batch_size))
    sub = torch.utils.data.Subset(ds, indices)
    g = torch.Generator()
    g.manual_seed(0)
    return DataLoader(sub, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                      worker_init_fn=_worker_init, generator=g, collate_fn=_collate,
                      persistent_workers=False)


# ----------------------------------------------------------------------------- the two sources
class _PreloadedImages:
    """All images in memory (``uint8 N x 3 x S x S``), with an ``ok`` mask and the bad files."""

    def __init__(self, x: torch.Tensor, ok: torch.Tensor, bad: list[dict]):
        self.x, self.ok, self.bad = x, ok, bad

    def __len__(self):
        return len(self.x)

    def batches(self, order: Sequence[int] | torch.Tensor, batch_size: int) -> Iterator:
        order = np.asarray(order, dtype=np.int64)
        xs, oks = self.x.numpy(), self.ok.numpy()   # numpy gathers: no torch threads involved
        for i in range(0, len(order), batch_size):
            pos = order[i:i + batch_size]
            yield torch.from_numpy(xs[pos]), torch.from_numpy(pos), torch.from_numpy(oks[pos])


class _StreamingImages:
    """Decode each batch with DataLoader workers (images too many to keep in memory); ``ok`` marks
    the images read so far that failed to decode (``skip_bad_images``)."""

    def __init__(self, ds: _ManifestImages, num_workers: int = 2, skip_bad_images: bool = False):
        self.ds, self.num_workers, self.skip = ds, int(num_workers), skip_bad_images
        self.bad: list[dict] = []
        self._seen_bad: set[int] = set()
        self.ok = torch.ones(len(ds), dtype=torch.bool)   # False once an image failed to decode

    def __len__(self):
        return len(self.ds)

    def batches(self, order, batch_size: int) -> Iterator:
        order = torch.as_tensor(order, dtype=torch.long)
        for x, _, pos, ok, err in _loader(self.ds, order.tolist(), batch_size, self.num_workers):
            if not bool(ok.all()):
                for p, o, e in zip(pos.tolist(), ok.tolist(), err):
                    if not o:
                        _bad(self.ds, p, e, self.skip, self.bad, self._seen_bad)
                        self.ok[p] = False
            yield torch.from_numpy(x), torch.from_numpy(pos), torch.from_numpy(ok)


def _bad(ds: _ManifestImages, pos: int, err: str, skip: bool, bad: list, seen: set) -> None:
    f = ds.files[pos] or f"row {ds.rows[pos]}"
    if not skip:
        raise DataError(f, f"unreadable training image ({err})", "a readable JPEG or PNG",
                        hint="pass skip_bad_images=True to skip unreadable images and count them")
    if pos not in seen:
        seen.add(pos)
        bad.append({"file": f, "row": int(ds.rows[pos]), "error": err})


def render_rows(li, rows: Sequence[int], image_size: int) -> np.ndarray:
    """Render toy-scene rows to ``N x S x S x 3`` uint8 (``toyscenes.render_batch`` when available)."""
    rows = np.asarray(rows, dtype=np.int64)
    imgs = None
    if str(li.name).startswith("toyscenes"):
        try:
            from .datasets.toyscenes import render_batch
        except ImportError:
            render_batch = None
        if render_batch is not None:
            imgs = np.asarray(render_batch(li, rows))
    if imgs is None:
        from .progress import tqdm
        imgs = np.stack([li.load_image(int(r)) for r in tqdm(rows, desc="render", leave=False,
                                                             disable=len(rows) < 500)])
    if imgs.shape[1] != image_size or imgs.shape[2] != image_size:
        imgs = np.stack([resize_uint8(im, image_size) for im in imgs])
    return imgs.astype(np.uint8, copy=False)


def load_images(li, manifest, image_size: int, preload: bool | str = "auto", num_workers: int = 2,
                skip_bad_images: bool = False, max_preload_bytes: int = 3 << 30,
                batch_size: int = 64, progress: bool = True):
    """The image source of a manifest: preloaded in memory, or streamed with workers.

    Parameters
    ----------
    li : LabelIndex
    manifest : DataFrame
        Rows to load (``row``, ``file``, ``y``).
    image_size : int
    preload : bool or "auto"
        ``"auto"``: preload when the decoded images need at most ``max_preload_bytes``. Rendered
        images are always preloaded.
    num_workers : int
        DataLoader workers that decode files.
    skip_bad_images : bool
        Skip (and count) missing / corrupt files instead of raising.

    Returns
    -------
    image source
        ``batches(order, batch_size)`` yields ``(x_uint8, positions, ok)``; ``len``; ``ok`` (bool
        per image, False for one that failed to decode); ``bad``: a list of ``{file, row, error}``
        for skipped images.

    Raises
    ------
    DataError
        A missing or corrupt image file (without ``skip_bad_images``); names the file.
    """
    from .progress import tqdm

    n = len(manifest)
    files = manifest["file"].fillna("").astype(str).to_numpy() if "file" in manifest else np.array([""] * n)
    rendered = li is not None and li.renderer is not None and not any(files)
    if rendered:
        x = np.ascontiguousarray(render_rows(li, manifest["row"].to_numpy(), image_size).transpose(0, 3, 1, 2))
        return _PreloadedImages(torch.from_numpy(x), torch.ones(n, dtype=torch.bool), [])
    ds = _ManifestImages(li, manifest, image_size)
    need = n * 3 * image_size * image_size
    if preload == "auto":
        preload = need <= max_preload_bytes
    if not preload:
        return _StreamingImages(ds, num_workers, skip_bad_images)
    x = np.empty((n, 3, image_size, image_size), dtype=np.uint8)
    ok = np.ones(n, dtype=bool)
    bad: list[dict] = []
    seen: set[int] = set()
    for xb, _, pos, okb, err in tqdm(_loader(ds, range(n), batch_size, num_workers),
                                     total=math.ceil(n / batch_size), desc="decode images",
                                     leave=False, disable=not progress):
        x[pos] = xb
        ok[pos] = okb
        for p, o, e in zip(pos.tolist(), okb.tolist(), err):
            if not o:
                _bad(ds, p, e, skip_bad_images, bad, seen)
    return _PreloadedImages(torch.from_numpy(x), torch.from_numpy(ok), bad)


# ----------------------------------------------------------------------------- preprocessing
def _normalise(x: torch.Tensor, mean, std) -> torch.Tensor:
    """Per-channel ``(x - mean) / std`` of a float batch in [0, 1]; ``None`` skips it."""
    if mean is None or std is None:
        return x
    m = torch.tensor(mean, device=x.device, dtype=torch.float32).view(1, 3, 1, 1)
    s = torch.tensor(std, device=x.device, dtype=torch.float32).view(1, 3, 1, 1)
    return (x - m) / s


def to_float(x: torch.Tensor, mean=MEAN, std=STD) -> torch.Tensor:
    """uint8 ``N x 3 x S x S`` -> float, scaled to [0, 1] and normalised per channel."""
    return _normalise(x.float() / 255.0, mean, std)


def preprocess(images, image_size: int, mean=MEAN, std=STD) -> torch.Tensor:
    """HxWx3 uint8 arrays (or one array) -> the normalised float batch a trained model expects.

    Each image is resized to ``image_size`` square with ``resize_uint8`` (PIL bilinear, as training
    decodes it), then scaled to [0, 1] and normalised with ``mean`` / ``std`` (``None``: not
    normalised).

    Examples
    --------
    >>> preprocess(np.zeros((40, 50, 3), np.uint8), 32).shape
    torch.Size([1, 3, 32, 32])
    """
    if isinstance(images, np.ndarray) and images.ndim == 3:
        images = [images]
    arr = np.stack([resize_uint8(np.asarray(im, dtype=np.uint8), image_size) for im in images])
    return to_float(torch.from_numpy(arr).permute(0, 3, 1, 2), mean, std)


def _as_batch(images) -> np.ndarray | None:
    """One ``[n, H, W, 3]`` array when ``images`` are equal-sized RGB arrays, else None."""
    if isinstance(images, np.ndarray):
        return images if images.ndim == 4 and images.shape[-1] == 3 else None
    if len(images) and all(isinstance(im, np.ndarray) for im in images) \
            and len({im.shape for im in images}) == 1:
        arr = np.stack(images)
        return arr if arr.ndim == 4 and arr.shape[-1] == 3 else None
    return None


def _image_tensor(im) -> torch.Tensor:
    a = np.asarray(im)
    if a.ndim != 3 or a.shape[2] != 3:
        raise DataError("images", f"image of shape {a.shape}", "HxWx3 RGB pixels")
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1).float() / 255.0


def _interpolate(x: torch.Tensor, size) -> torch.Tensor:
    """Bilinear resize of a float ``[n, 3, h, w]`` batch to ``size`` (int or (h, w)); None keeps it."""
    if size is None:
        return x
    hw = (size, size) if isinstance(size, int) else tuple(size)
    if tuple(x.shape[2:]) == hw:
        return x
    return F.interpolate(x, size=hw, mode="bilinear", align_corners=False)


def to_tensor(images: Sequence[np.ndarray] | np.ndarray, size: int | tuple[int, int] | None = None,
              mean: Sequence[float] | None = MEAN, std: Sequence[float] | None = STD) -> torch.Tensor:
    """Stack HxWx3 uint8 images into a normalised float tensor ``[n, 3, h, w]``.

    Unlike ``preprocess`` (PIL resize of uint8 pixels, what training does), ``size`` resizes the
    float tensor (torch bilinear) and images may keep their own size.

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
    arr = _as_batch(images)
    if arr is not None:  # fast path: one array
        x = torch.from_numpy(np.ascontiguousarray(arr)).permute(0, 3, 1, 2).float() / 255.0
        return _normalise(_interpolate(x, size), mean, std)
    ts = [_interpolate(_image_tensor(im)[None], size)[0] for im in images]
    if not ts:
        return torch.zeros((0, 3, 1, 1))
    shapes = {tuple(t.shape) for t in ts}
    if len(shapes) > 1:
        raise DataError("images", f"images of different sizes {sorted(shapes)[:3]}",
                        "equal sizes, or pass size= to resize")
    return _normalise(torch.stack(ts), mean, std)


def _listed(v) -> list | None:
    return None if v is None else list(v)


def make_transform(size: int | tuple[int, int] | None = None, mean: Sequence[float] | None = MEAN,
                   std: Sequence[float] | None = STD) -> Callable[[Sequence[np.ndarray]], torch.Tensor]:
    """A ``transform(images) -> tensor`` for ``predict`` / ``nbkit.audit.gradcam`` (``to_tensor``)."""
    def transform(images):
        return to_tensor(images, size=size, mean=mean, std=std)
    transform.params = {"size": size, "mean": _listed(mean), "std": _listed(std)}  # type: ignore[attr-defined]
    return transform


def transform_from_meta(meta: Mapping | None) -> Callable[[Sequence[np.ndarray]], torch.Tensor]:
    """The evaluation transform recorded by training (``meta`` of ``train.load_trained``).

    Reads ``image_size`` (or ``input_size``), ``mean`` and ``std`` (or ``normalize: {mean, std}``;
    ``normalize: false`` skips normalisation) when present, also nested under ``transform`` /
    ``preprocess`` / ``eval_transform``; otherwise ImageNet normalisation at the images' own size.
    A square ``image_size`` gives ``preprocess`` (PIL bilinear resize, as training did); an
    ``(h, w)`` size ``make_transform``.
    """
    meta = dict(meta or {})
    for k in ("transform", "preprocess", "eval_transform"):
        if isinstance(meta.get(k), Mapping):
            meta = {**meta, **meta[k]}
    size = meta.get("image_size", meta.get("input_size"))
    norm = meta.get("normalize") if isinstance(meta.get("normalize"), Mapping) else {}
    mean = meta.get("mean", norm.get("mean", MEAN))
    std = meta.get("std", norm.get("std", STD))
    if meta.get("normalize") is False:
        mean = std = None
    if isinstance(size, (list, tuple)):
        return make_transform(tuple(int(s) for s in size), mean, std)
    if size is None:
        return make_transform(None, mean, std)
    size = int(size)

    def transform(images):
        return preprocess(list(images), size, mean, std)
    transform.params = {"size": size, "mean": _listed(mean), "std": _listed(std),  # type: ignore[attr-defined]
                        "resize": "PIL bilinear"}
    return transform


def device_of(model: torch.nn.Module) -> torch.device:
    """The device of ``model``'s first parameter (CPU for a model without parameters)."""
    try:
        return next(model.parameters()).device
    except StopIteration:
        return torch.device("cpu")


def _input_batches(images, transform: Callable | None, batch_size: int, positions) -> Iterator:
    """The model-ready float batches of ``predict``'s ``images`` (see there)."""
    if hasattr(images, "batches"):  # an image source of load_images: uint8 N x 3 x S x S batches
        transform = transform or to_float
        positions = np.arange(len(images)) if positions is None else positions
        for xb, _, _ in images.batches(positions, batch_size):
            yield transform(xb)
        return
    transform = transform or make_transform()
    for i in range(0, len(images), batch_size):
        yield transform(images[i:i + batch_size])


@torch.no_grad()
def predict(model: torch.nn.Module, images, transform: Callable | None = None,
            batch_size: int = 64, progress: bool = False, *, positions: Sequence[int] | None = None,
            logits: bool = False, amp_dtype: torch.dtype | None = None,
            channels_last: bool = False) -> np.ndarray:
    """Softmax probabilities ``[n, n_classes]`` of ``model`` (eval mode, on its device).

    Parameters
    ----------
    images : sequence of HxWx3 uint8 arrays, or an image source of ``load_images``
        Arrays go through ``transform(images) -> tensor`` (default ``make_transform()``: ImageNet
        normalisation at the images' size; a trained model's is ``transform_from_meta(meta)``). A
        source (what training evaluates) gives uint8 ``N x 3 x S x S`` batches of its ``positions``
        (default: all), which ``transform`` (default ``to_float``) normalises; an image it could not read (``skip_bad_images``) is
        predicted from zeros and marked False in the source's ``ok``.
    logits : bool
        Return the raw (float32) logits instead of softmax probabilities.
    amp_dtype : torch.dtype, optional
        Run the model under ``torch.autocast`` with this dtype (the training's mixed precision).
    channels_last : bool
        Feed the model ``channels_last`` inputs.

    The model's train/eval mode is restored afterwards.

    Examples
    --------
    >>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
    >>> predict(net, np.zeros((2, 2, 2, 3), np.uint8)).shape
    (2, 3)
    """
    from .progress import tqdm

    n = len(images) if positions is None else len(positions)
    was = model.training
    model.eval()
    dev = device_of(model)
    out = []
    try:
        for x in tqdm(_input_batches(images, transform, batch_size, positions),
                      total=math.ceil(n / batch_size), desc="predict", leave=False, disable=not progress):
            x = x.to(dev)
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.autocast(dev.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                y = model(x)
            y = y.float()
            out.append((y if logits else torch.softmax(y, dim=1)).cpu().numpy())
    finally:
        model.train(was)
    if not out:
        return np.zeros((0, 0), np.float32)
    return np.concatenate(out).astype(np.float32)


def augment(x: torch.Tensor, mode: str, generator: torch.Generator, shift: float = 0.2,
            rotation: float = 30.0) -> torch.Tensor:
    """Random augmentation of a float batch, a different draw per image, seeded by ``generator``.

    Parameters
    ----------
    x : Tensor ``N x 3 x S x S`` (float)
    mode : {"none", "flip", "paper"}
        ``flip``: horizontal flip with p = 0.5. ``paper``: the authors' Keras ImageDataGenerator
        setting, flip + shift up to ``shift`` of the side in x and y + rotation up to ``rotation``
        degrees, edges filled with the nearest pixel.
    generator : torch.Generator
        CPU generator; every random number comes from it (reproducible, independent of workers).

    Returns
    -------
    Tensor
        Same shape and device.
    """
    if mode == "none":
        return x
    if mode not in _AUGMENTATIONS:
        raise DataError("augment", f"unknown augmentation {mode!r}", f"one of {_AUGMENTATIONS}")
    n = x.shape[0]
    flip = torch.rand(n, generator=generator) < 0.5
    if mode == "flip":
        return torch.where(flip.to(x.device).view(-1, 1, 1, 1), x.flip(-1), x)
    ang = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(rotation)
    tx = (torch.rand(n, generator=generator) * 2 - 1) * shift * 2  # grid units span [-1, 1]
    ty = (torch.rand(n, generator=generator) * 2 - 1) * shift * 2
    sx = torch.where(flip, -1.0, 1.0)
    cos, sin = torch.cos(ang), torch.sin(ang)
    theta = torch.stack([torch.stack([cos * sx, -sin, tx], 1), torch.stack([sin * sx, cos, ty], 1)], 1)
    grid = F.affine_grid(theta.to(x.device, x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


# ----------------------------------------------------------------------------- a tiny rendered dataset
_PALETTE = np.array([[230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
                     [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212],
                     [0, 128, 128], [170, 110, 40]], dtype=np.uint8)


def tiny_shapes(n_images: int = 600, n_classes: int = 4, seed: int = 0, image_size: int = 32,
                p_trigger: float = 0.3, p_ambiguous: float = 0.05):
    """A small rendered multi-label dataset for tests and smoke runs (not the paper's toy scenes).

    Class 0 is ``trigger`` (a small white cross at a random place); classes ``1..n_classes`` are
    ``shape1..`` (a filled disc, square or bar of a class-specific colour). Every image holds one
    main class; a share ``p_trigger`` also holds the trigger, and ``p_ambiguous`` a second class
    (to exercise the one-class-per-image rule). Rendering is deterministic per row.

    Returns
    -------
    LabelIndex
        With ``renderer`` and ``boxes``; splits ``train``/``test`` (80/20).

    Examples
    --------
    >>> li = tiny_shapes(50, 3)
    >>> li.load_image(0).shape
    (32, 32, 3)
    """
    import scipy.sparse as sp
    import pandas as pd
    from .labelindex import LabelIndex

    if not 1 <= n_classes <= len(_PALETTE):
        raise DataError("tiny_shapes", f"n_classes={n_classes}", f"1..{len(_PALETTE)}")
    rng = np.random.default_rng(seed)
    main = rng.integers(1, n_classes + 1, n_images)
    trig = rng.random(n_images) < p_trigger
    second = np.where(rng.random(n_images) < p_ambiguous, rng.integers(1, n_classes + 1, n_images), 0)
    second[second == main] = 0
    rows, cols, boxes = [], [], []
    geo = rng.random((n_images, 6))
    for i in range(n_images):
        for c, k in ((main[i], 0), (second[i], 1)):
            if c:
                rows.append(i)
                cols.append(c)
                cx, cy = 0.3 + 0.4 * geo[i, 2 * k], 0.3 + 0.4 * geo[i, 2 * k + 1]
                r = 0.22 if k == 0 else 0.14
                boxes.append((i, c, cx - r, cy - r, cx + r, cy + r))
        if trig[i]:
            rows.append(i)
            cols.append(0)
            tx, ty = 0.1 + 0.8 * geo[i, 4], 0.1 + 0.8 * geo[i, 5]
            boxes.append((i, 0, tx - 0.1, ty - 0.1, tx + 0.1, ty + 0.1))
    Y = sp.csr_matrix((np.ones(len(rows), bool), (rows, cols)), shape=(n_images, n_classes + 1))
    bx = pd.DataFrame(boxes, columns=["image", "class", "x0", "y0", "x1", "y1"])
    bx[["x0", "y0", "x1", "y1"]] = bx[["x0", "y0", "x1", "y1"]].clip(0, 1)
    by_image = {i: g for i, g in bx.groupby("image")}
    S = int(image_size)
    yy, xx = np.mgrid[0:S, 0:S] / S

    def render(row: int) -> np.ndarray:
        r = np.random.default_rng((seed, int(row)))
        img = np.full((S, S, 3), 90, np.uint8) + r.integers(0, 20, (S, S, 3), dtype=np.uint8)
        for b in by_image[int(row)].itertuples(index=False):
            cx, cy = (b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2
            h = (b.x1 - b.x0) / 2
            if b[1] == 0:
                m = ((np.abs(xx - cx) < h) & (np.abs(yy - cy) < h / 4)) | \
                    ((np.abs(yy - cy) < h) & (np.abs(xx - cx) < h / 4))
                img[m] = 255
            else:
                shape = b[1] % 3
                if shape == 0:
                    m = (xx - cx) ** 2 + (yy - cy) ** 2 < h ** 2
                elif shape == 1:
                    m = (np.abs(xx - cx) < h) & (np.abs(yy - cy) < h)
                else:
                    m = (np.abs(xx - cx) < h) & (np.abs(yy - cy) < h / 2.5)
                img[m] = _PALETTE[(b[1] - 1) % len(_PALETTE)]
        return img

    names = ["trigger"] + [f"shape{c}" for c in range(1, n_classes + 1)]
    splits = np.where(rng.random(n_images) < 0.8, "train", "test")
    return LabelIndex("tiny_shapes", names, names, [f"img{i:05d}" for i in range(n_images)], splits,
                      Y, bx, meta={"source": "nbkit.imagedata.tiny_shapes", "seed": seed,
                                   "image_size": S}, renderer=render)
