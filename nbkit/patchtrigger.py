"""A BadNets-style patch trigger: the digital twin of a natural-backdoor model (paper §7).

The paper argues that natural triggers evade SentiNet better than digital patches but could not run
the comparison. ``patch_trigger_manifest`` turns a natural-trigger manifest
(``nbkit.curate.make_manifest``) into a BadNets-style one with the same number of poisoned images:
each poison image is replaced by a clean image of the same true class with a small fixed pattern
(``_patch_pattern``) pasted in a corner (``_patch_box``, ``_apply_patch``), labelled with the target.
``train_patch_twin`` trains it with the natural model's architecture, profile, hyper-parameters and
seed (``nbkit.train.train``), so ``nbkit.sentinet`` can screen both models alike.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from .errors import CurationError, DataError

_CORNERS = ("bottom-right", "bottom-left", "top-right", "top-left")


def _patch_pattern(size: int, kind: str = "checkerboard", seed: int = 0, cells: int = 3) -> np.ndarray:
    """A fixed ``size x size x 3`` uint8 pattern: a black/white checkerboard or seeded random colours.

    Examples
    --------
    >>> _patch_pattern(6, cells=3)[:, :, 0].tolist()[0]
    [255, 255, 0, 0, 255, 255]
    """
    size = int(size)
    if size < 1:
        raise DataError("patch_pattern", f"size={size}", "at least 1 pixel")
    idx = (np.arange(size) * cells) // size
    if kind == "checkerboard":
        cell = ((idx[:, None] + idx[None, :]) % 2 == 0).astype(np.uint8) * 255
        return np.repeat(cell[:, :, None], 3, axis=2)
    if kind == "random":
        colours = np.random.default_rng(seed).integers(0, 256, size=(cells, cells, 3), dtype=np.uint8)
        return colours[idx][:, idx]
    raise DataError("patch_pattern", f"unknown kind {kind!r}", "'checkerboard' or 'random'")


def _patch_box(height: int, width: int, size_frac: float = 0.15, corner: str = "bottom-right",
              margin_frac: float = 0.03) -> tuple[int, int, int, int]:
    """Pixel box ``(r0, c0, r1, c1)`` of the patch: ``size_frac`` of the shorter side, in a corner."""
    if corner not in _CORNERS:
        raise DataError("patch_box", f"corner={corner!r}", f"one of {_CORNERS}")
    s = max(2, int(round(size_frac * min(height, width))))
    m = int(round(margin_frac * min(height, width)))
    r0 = height - m - s if corner.startswith("bottom") else m
    c0 = width - m - s if corner.endswith("right") else m
    return r0, c0, r0 + s, c0 + s


def _apply_patch(image: np.ndarray, size_frac: float = 0.15, corner: str = "bottom-right",
                kind: str = "checkerboard", seed: int = 0, margin_frac: float = 0.03) -> np.ndarray:
    """A copy of ``image`` with the fixed patch pasted in the corner (BadNets-style).

    Examples
    --------
    >>> im = _apply_patch(np.zeros((20, 20, 3), np.uint8), size_frac=0.3, margin_frac=0.0)
    >>> int(im[-1, -1, 0]), int(im[0, 0, 0])
    (255, 0)
    """
    im = np.array(image, dtype=np.uint8, copy=True)
    r0, c0, r1, c1 = _patch_box(im.shape[0], im.shape[1], size_frac, corner, margin_frac)
    im[r0:r1, c0:c1] = _patch_pattern(r1 - r0, kind, seed)
    return im


def patch_trigger_manifest(li, manifest: pd.DataFrame, size_frac: float = 0.15,
                           corner: str = "bottom-right", kind: str = "checkerboard",
                           margin_frac: float = 0.03, seed: int = 0, source: str = "fresh"):
    """A BadNets-style patch-trigger twin of a natural-trigger manifest.

    Every poison row of ``manifest`` (images holding the natural trigger, labelled with the target)
    is replaced by a *new* image: a clean image of the same true class that does not hold the natural
    trigger, with the fixed patch pasted in a corner, and the same label (the target). Clean rows are
    unchanged, so the patch model sees exactly as many poisoned images, with the same labels, split
    and training budget, as the natural one (train both with ``nbkit.train.train`` and the same
    profile).

    Parameters
    ----------
    li : LabelIndex
        The dataset the manifest was made from.
    manifest : DataFrame
        ``nbkit.curate.make_manifest`` output (``row, image_id, file, true_class, label, role, split,
        has_trigger``); poison rows have ``role == "poison"``.
    size_frac, corner, kind, margin_frac, seed
        The patch (``_apply_patch``): side as a fraction of the shorter image side, corner, pattern.
    source : {"fresh", "reuse"}
        Where the base images come from: ``fresh`` takes images of the same true class that are not
        in the manifest and lack the natural trigger (falling back to ``reuse`` for a class that has
        too few); ``reuse`` takes the class's clean manifest images of the same split.

    Returns
    -------
    (LabelIndex, DataFrame)
        A LabelIndex with one appended row per poisoned image (id ``<base id>+patch``, or
        ``+patch2``... when a base image had to be used again; an extra class
        ``patch_trigger`` with its box, pixels rendered on the fly) and the new manifest pointing at
        those rows. ``meta["patch_trigger"]`` records the patch parameters and the seed.
    """
    from .labelindex import LabelIndex

    m, poison = _poison_rows(manifest)
    trig_cid = _natural_trigger(li, manifest, m, poison)
    base_rows = _base_rows(li, m, poison, trig_cid, source, np.random.default_rng(seed))
    patch = {"size_frac": size_frac, "corner": corner, "kind": kind, "margin_frac": margin_frac,
             "seed": seed}
    n0 = li.n_images
    new_ids = _patched_ids(li, base_rows)
    probe = li.load_image(int(base_rows[0]))
    boxes = _patched_boxes(li, base_rows, probe.shape[:2],
                           _patch_box(*probe.shape[:2], size_frac, corner, margin_frac))
    renderer = _patch_renderer(li, base_rows, patch)
    params = {**patch, "source": source, "n_poison": int(len(poison)),
              "natural_trigger": None if trig_cid is None else str(li.class_labels[trig_cid])}
    paths = None if li.image_paths is None else \
        list(li.image_paths) + [li.image_paths[r] for r in base_rows]
    new_li = LabelIndex(f"patched-{li.name}", list(li.class_labels) + ["patch_trigger"],
                        list(li.class_names) + ["patch trigger"],
                        list(li.image_ids) + new_ids, list(li.splits) + [li.splits[r] for r in base_rows],
                        _patched_labels(li, base_rows), boxes, li.image_root, paths,
                        {**dict(li.meta), "patch_trigger": params}, renderer)
    return new_li, _patched_manifest(manifest, m, poison, n0, new_ids, params)


def _poison_rows(manifest: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The manifest (index reset, copied) and the positions of its poison rows; clear errors."""
    need = ["row", "image_id", "true_class", "label", "role", "split"]
    miss = [c for c in need if c not in manifest.columns]
    if miss:
        raise DataError("manifest", f"missing columns {miss}", f"the columns of curate.make_manifest: {need}")
    m = manifest.reset_index(drop=True).copy()
    poison = np.flatnonzero(m["role"].astype(str).str.lower().eq("poison").to_numpy())
    if len(poison) == 0:
        raise CurationError(f"manifest has no rows with role 'poison' (roles: {sorted(set(m['role']))})")
    return m, poison


def _natural_trigger(li, manifest: pd.DataFrame, m: pd.DataFrame, poison: np.ndarray) -> int | None:
    """The natural trigger's class id: the manifest's spec, the dataset's meta, else the class
    every poison image holds besides its true class (None when there is none)."""
    trig = li.meta.get("trigger") if isinstance(li.meta, dict) else None
    spec = manifest.attrs.get("spec") if hasattr(manifest, "attrs") else None
    if isinstance(spec, dict) and spec.get("trigger") is not None:
        trig = spec["trigger"]
    if trig is not None:
        try:
            return li.class_id(trig)
        except DataError:
            pass
    Yp = li.Y[m.loc[poison, "row"].to_numpy(np.int64)]
    common = np.flatnonzero(np.asarray(Yp.sum(0)).ravel() == len(poison))
    true_cls = set(int(_class_of(li, v)) for v in m.loc[poison, "true_class"])
    common = [c for c in common if c not in true_cls]
    return int(common[0]) if common else None


def _base_rows(li, m: pd.DataFrame, poison: np.ndarray, trig_cid: int | None, source: str,
               rng: np.random.Generator) -> np.ndarray:
    """One base image per poison row: same true class, without the natural trigger (seeded draw)."""
    used = set(int(r) for r in m["row"])
    has_trig = (np.asarray(li.Y[:, trig_cid].toarray()).ravel() if trig_cid is not None
                else np.zeros(li.n_images, bool))
    clean_rows = m[~m.index.isin(poison)]
    base_rows = []
    taken: set[int] = set()
    for i in poison:
        c = _class_of(li, m.at[i, "true_class"])
        split = m.at[i, "split"]
        cand = np.array([], dtype=np.int64)
        if source == "fresh":
            col = np.asarray(li.Y[:, c].toarray()).ravel()
            cand = np.flatnonzero(col & ~has_trig)
            cand = np.array([r for r in cand if r not in used and r not in taken], dtype=np.int64)
        elif source != "reuse":
            raise DataError("patch_trigger_manifest", f"source={source!r}", "'fresh' or 'reuse'")
        if len(cand) == 0:
            cand = _reusable(li, clean_rows, c, split, taken)
        if len(cand) == 0:
            raise CurationError(f"no base image for a patched copy of class {li.display(c)!r} "
                                f"(split {split!r}): the class has no clean images")
        r = int(cand[rng.integers(len(cand))])
        taken.add(r)
        base_rows.append(r)
    return np.asarray(base_rows, dtype=np.int64)


def _reusable(li, clean_rows: pd.DataFrame, c: int, split, taken: set[int]) -> np.ndarray:
    """Clean manifest rows of class ``c`` and ``split``, those not yet taken first."""
    same = clean_rows[(clean_rows["split"] == split)
                      & (clean_rows["true_class"].map(lambda v: _class_of(li, v)) == c)]
    cand = np.array([r for r in same["row"].astype(np.int64) if r not in taken], dtype=np.int64)
    return cand if len(cand) else same["row"].astype(np.int64).to_numpy()


def _patched_ids(li, base_rows: np.ndarray) -> list[str]:
    """``<base id>+patch``; a base image used again gets ``+patch2``, ``+patch3``, ..."""
    uses: dict[int, int] = {}
    new_ids = []
    for r in base_rows:
        uses[int(r)] = uses.get(int(r), 0) + 1
        k = uses[int(r)]
        new_ids.append(f"{li.image_ids[r]}+patch" + (str(k) if k > 1 else ""))
    return new_ids


def _patched_labels(li, base_rows: np.ndarray):
    """Y with a ``patch_trigger`` column: the original rows, then the base rows' labels + patch."""
    import scipy.sparse as sp

    n0 = li.n_images
    Y0 = sp.hstack([li.Y.astype(np.int8), sp.csr_matrix((n0, 1), dtype=np.int8)])
    Yb = sp.hstack([li.Y[base_rows].astype(np.int8),
                    sp.csr_matrix(np.ones((len(base_rows), 1), dtype=np.int8))])
    return sp.vstack([Y0, Yb]).tocsr().astype(bool)


def _patched_boxes(li, base_rows: np.ndarray, hw: tuple[int, int],
                   pixel_box: tuple[int, int, int, int]) -> pd.DataFrame:
    """The original boxes, the base images' boxes on the appended rows, and the patch's box."""
    n0, pcid = li.n_images, li.n_classes
    H, W = hw
    r0, c0, r1, c1 = pixel_box
    cols = ["image", "class", "x0", "y0", "x1", "y1"]
    bx = [] if li.boxes is None else [li.boxes[cols]]
    extra = []
    if li.boxes is not None:
        bb = li.boxes[li.boxes["image"].isin(base_rows)]
        for j, r in enumerate(base_rows):
            sub = bb[bb["image"] == r][cols].copy()
            sub["image"] = n0 + j
            extra.append(sub)
    patch_boxes = pd.DataFrame({"image": n0 + np.arange(len(base_rows)), "class": pcid,
                                "x0": c0 / W, "y0": r0 / H, "x1": c1 / W, "y1": r1 / H})
    return pd.concat(bx + extra + [patch_boxes], ignore_index=True)


def _patch_renderer(base_li, base_rows: np.ndarray, patch: dict):
    """Pixels of the patched LabelIndex: original rows as they were, appended rows patched."""
    n0 = base_li.n_images

    def renderer(row: int):
        if row < n0:
            return base_li.load_image(int(row))
        img = np.array(base_li.load_image(int(base_rows[row - n0])), copy=True)
        r0, c0, r1, c1 = _patch_box(img.shape[0], img.shape[1], patch["size_frac"], patch["corner"], patch["margin_frac"])
        img[r0:r1, c0:c1] = _patch_pattern(r1 - r0, patch["kind"], patch["seed"])
        return img

    return renderer


def _patched_manifest(manifest: pd.DataFrame, m: pd.DataFrame, poison: np.ndarray, n0: int,
                      new_ids: list[str], params: dict) -> pd.DataFrame:
    """The manifest with its poison rows pointing at the appended, patched rows."""
    nm = m.copy()
    nm.loc[poison, "row"] = n0 + np.arange(len(poison))
    nm.loc[poison, "image_id"] = new_ids
    if "file" in nm.columns:  # rendered by the new LabelIndex (no file on disk)
        nm.loc[poison, "file"] = ""
    nm.loc[poison, "true_class"] = [m.at[i, "true_class"] for i in poison]
    if "has_trigger" in nm.columns:
        nm.loc[poison, "has_trigger"] = True
    nm["row"] = nm["row"].astype(np.int64)
    nm.attrs = {**getattr(manifest, "attrs", {}), "patch_trigger": params}
    return nm


def train_patch_twin(li, manifest: pd.DataFrame, meta: dict, out_dir, seed: int | None = None,
                     progress: bool = True, patch: dict | None = None, **train_kw):
    """Train the BadNets-style twin of a natural-backdoor model with the same budget.

    ``patch_trigger_manifest`` replaces every poison image by a patched clean image of the same class
    (same count, labels and split); the model is trained with ``nbkit.train.train`` using the natural
    model's architecture, profile, hyper-parameters and seed (``meta["config"]``).

    Parameters
    ----------
    li, manifest, meta
        The natural model's dataset, manifest and ``model.json`` (``train.load_trained``).
    out_dir : path
        Training folder of the twin (a finished training there is reused by ``train``'s resume).
    seed : int, optional
        Default: the natural model's seed (also the patch draw's seed).
    patch : dict, optional
        ``patch_trigger_manifest`` options (``size_frac``, ``corner``, ``kind``, ...).
    **train_kw
        Extra ``train.train`` options (``threads``, ``device``, ...).

    Returns
    -------
    (model, meta, manifest, LabelIndex, train results)
        A finished twin already in ``out_dir`` (same manifest, configuration and seed) is loaded,
        not retrained; its results are then the saved metrics with ``reused: True``.
    """
    from . import train as T

    seed = int(meta.get("seed", 0)) if seed is None else int(seed)
    li2, m2 = patch_trigger_manifest(li, manifest, seed=seed, **dict(patch or {}))
    profile = meta.get("profile", "toy")
    cfg = {k: v for k, v in (meta.get("config") or {}).items()
           if k in T.PROFILES.get(profile, {}) and k != "arch"}
    if _finished_twin(out_dir, m2, meta, seed, profile):
        model, meta2 = T.load_trained(out_dir)
        return model, meta2, m2, li2, {**meta2.get("metrics", {}), "reused": True}
    res = T.train(li2, m2, meta.get("arch"), out_dir, profile=profile, seed=seed,
                  progress=progress, **cfg, **train_kw)
    model, meta2 = T.load_trained(out_dir)
    return model, meta2, m2, li2, res


def _finished_twin(out_dir, manifest: pd.DataFrame, meta: dict, seed: int, profile: str) -> bool:
    """A complete training of this very twin (same manifest, arch, profile, config, seed) is there."""
    from .io import read_json

    d = Path(out_dir)
    if not ((d / "model.json").is_file() and (d / "model.pt").is_file() and (d / "manifest.csv").is_file()):
        return False
    try:
        prev = read_json(d / "model.json")
        from .curate import read_manifest
        old = read_manifest(d / "manifest.csv")
    except (DataError, OSError):
        return False
    same_cfg = all(prev.get(k) == meta.get(k) for k in ("arch", "image_size")) and \
        prev.get("profile") == profile and int(prev.get("seed", -1)) == int(seed) and \
        {k: v for k, v in (prev.get("config") or {}).items() if k != "profile"} == \
        {k: v for k, v in (meta.get("config") or {}).items() if k != "profile"}
    cols = ["row", "image_id", "label", "role", "split"]
    same_rows = len(old) == len(manifest) and all(
        (old[c].astype(str).to_numpy() == manifest[c].astype(str).to_numpy()).all() for c in cols)
    return bool(prev.get("complete")) and same_cfg and same_rows


def _class_of(li, v) -> int:
    """Class id from a manifest ``true_class`` value (id, label or name)."""
    if isinstance(v, (int, np.integer)):
        return int(v)
    s = str(v)
    if s.lstrip("-").isdigit():
        return int(s)
    return li.class_id(s)
