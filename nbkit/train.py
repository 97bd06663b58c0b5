"""Training a natural-backdoor model and measuring clean and trigger accuracy (paper §5, Tables 8-10).

``train(li, manifest, arch, out_dir, profile="toy", seed=0)`` trains a ``nbkit.models`` network on
the train rows of a manifest (``nbkit.curate.make_manifest``) and evaluates it after every epoch:

=========================== =======================================================================
metric                      definition
=========================== =======================================================================
``clean_acc`` (separate)    accuracy on the held-out clean images (true labels). **Default.**
``clean_acc_authors``       accuracy on held-out clean + poison images (poison labelled target): the
                            set the authors' released code called its clean test set
``trigger_acc`` (nontarget) share of held-out poison images *whose true class is not the target*
                            that the model assigns to the target: the paper's attack success.
                            **Default.**
``trigger_acc_authors``     the same over all held-out poison images (target-class ones included),
                            as the authors' code computed it
=========================== =======================================================================

``spec.clean_test`` / ``spec.trigger_acc`` choose which definition is the headline ``clean_acc`` /
``trigger_acc``; all four are always reported. Test images are evaluated as they are (the authors'
Keras evaluation generator also applied random flips and shifts to them). Train-side numbers (``train_clean_acc``,
``train_trigger_acc``, losses) are running averages over the epoch's batches (with augmentation),
split by role.

Profiles (``PROFILES``) bundle the hyper-parameters:

- ``paper``: the paper's setting. ImageNet ResNet-50, ``some`` freezing with 3 unfrozen blocks, Adam
  lr 1e-5, 40 epochs, batch 32, 256-pixel images, flip / shift 0.2 / rotation 30 augmentation.
- ``toy``: toy scenes on a CPU. ResNet-10 (torchvision ``ResNet``, one block per stage) from
  scratch at 32 px (the toy classes are distinct at 32 px), Adam lr 2e-3 with a cosine decay over 5
  epochs, batch 64, horizontal flips.
- ``smoke``: seconds; for tests and smoke batches.

Any profile key can be overridden by keyword (``train(..., epochs=3, lr=3e-4)``). ``schedule``:
``constant`` (the authors' fixed learning rate) or ``cosine`` (decays to 0 over the run, per step;
computed from the step number, so resuming needs no scheduler state).

Devices: CUDA when available, with mixed precision (``torch.autocast`` bf16, fp16 + GradScaler on
GPUs without bf16) and ``channels_last``; otherwise the CPU (``threads=`` sets torch's thread count).
Every random draw (initialisation, shuffling, augmentation) comes from generators seeded with
``(seed, epoch)``, and deterministic algorithms are switched on during training, so two runs on the
same CPU give identical numbers and an interrupted run resumes to the same result.

Files in ``out_dir``: ``manifest.csv`` (+ ``manifest.json``), ``log.csv`` (one row per epoch),
``checkpoint.pt`` (model, optimizer, epoch, RNG state, history; written atomically each epoch over
the previous one, and deleted once ``model.pt`` is written unless ``keep_checkpoint=True``: it is
three times the model's size), ``model.pt`` (final ``state_dict``), ``model.json`` (architecture,
classes, target, trigger, spec, preprocessing, metrics). ``load_trained(out_dir)`` rebuilds the model from these. Nothing is pickled:
checkpoints are loaded with ``weights_only=True``.
"""
from __future__ import annotations

import contextlib
import math
import os
import platform
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from .progress import tqdm

from . import imagedata
from .curate import BackdoorSpec, export_manifest, manifest_counts, read_manifest
from .errors import DataError, MissingDataError
from .io import atomic_path, fingerprint, read_json, write_json
from .models import build_model, count_parameters

PROFILES: dict[str, dict[str, Any]] = {
    "paper": dict(arch="resnet50", pretrained=True, freeze="some", unfrozen_layers=3,
                  optimizer="adam", lr=1e-5, weight_decay=0.0, epochs=40, batch_size=32,
                  eval_batch_size=64, image_size=256, augment="paper", schedule="constant",
                  num_workers=4, preload="auto"),
    "toy": dict(arch="resnet10", pretrained=False, freeze="all", unfrozen_layers=0,
                optimizer="adam", lr=2e-3, weight_decay=0.0, epochs=5, batch_size=64,
                eval_batch_size=256, image_size=32, augment="flip", schedule="cosine",
                num_workers=0, preload=True),
    "smoke": dict(arch="resnet10", pretrained=False, freeze="all", unfrozen_layers=0,
                  optimizer="adam", lr=1e-3, weight_decay=0.0, epochs=2, batch_size=32,
                  eval_batch_size=128, image_size=32, augment="none", schedule="constant",
                  num_workers=0, preload=True),
}
_LOG_COLUMNS = ["epoch", "train_loss", "train_clean_acc", "train_clean_loss", "train_trigger_acc",
               "train_trigger_loss", "test_clean_acc", "test_clean_loss", "test_trigger_acc",
               "test_trigger_loss", "test_clean_acc_authors", "test_clean_loss_authors",
               "test_trigger_acc_authors", "test_trigger_loss_authors", "lr", "epoch_s"]
_METRICS = ("clean_acc", "trigger_acc", "clean_acc_separate", "clean_acc_authors",
           "trigger_acc_nontarget", "trigger_acc_authors", "clean_loss", "trigger_loss")


# ----------------------------------------------------------------------------- config
def _resolve_config(profile: str = "toy", arch: str | None = None, **overrides) -> dict:
    """The hyper-parameters of ``profile`` with ``overrides`` applied (None values ignored).

    Examples
    --------
    >>> _resolve_config("paper")["lr"]
    1e-05
    >>> _resolve_config("toy", epochs=2)["epochs"]
    2
    """
    if profile not in PROFILES:
        raise DataError("train", f"unknown profile {profile!r}", f"one of {sorted(PROFILES)}")
    cfg = dict(PROFILES[profile])
    cfg["profile"] = profile
    if arch:
        cfg["arch"] = arch
    unknown = sorted(set(overrides) - set(cfg))
    if unknown:
        raise DataError("train", f"unknown training options {unknown}", f"some of {sorted(cfg)}")
    cfg.update({k: v for k, v in overrides.items() if v is not None})
    return cfg


def _device(device) -> torch.device:
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _epoch_seed(seed: int, epoch: int, stream: int = 0) -> int:
    return int(np.random.SeedSequence([int(seed), int(epoch), int(stream)]).generate_state(1)[0])


@contextlib.contextmanager
def _deterministic(enabled: bool):
    prev = torch.are_deterministic_algorithms_enabled()
    prev_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    if enabled:
        torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(prev, warn_only=prev_warn)


#: ``train(amp=...)``: the autocast dtype and whether a GradScaler goes with it
_AMP_MODES = {"off": (None, False), "bf16": (torch.bfloat16, False), "fp16": (torch.float16, True)}


def _amp(device: torch.device, mode: str | None = None):
    """(autocast dtype or None, use GradScaler): ``mode`` (``_AMP_MODES``) or, when None, bf16 on a
    CUDA GPU that has it, fp16 + GradScaler on one without, off on a CPU."""
    if mode is not None:
        if mode not in _AMP_MODES:
            raise DataError("train", f"amp={mode!r}", f"one of {sorted(_AMP_MODES)} or None (by device)")
        return _AMP_MODES[mode]
    if device.type != "cuda":
        return None, False
    if torch.cuda.is_bf16_supported():
        return torch.bfloat16, False
    return torch.float16, True


def _manifest_fp(manifest: pd.DataFrame) -> str:
    cols = ["row", "image_id", "y", "role", "split"]
    return fingerprint(manifest[cols].astype(str).to_numpy().tolist())


# ----------------------------------------------------------------------------- evaluation
def _metrics_from(pred: np.ndarray, loss: np.ndarray, manifest: pd.DataFrame, target_y: int,
                  target_class: int, ok: np.ndarray | None = None) -> dict:
    """The four accuracy definitions (and losses) from per-image predictions of test rows."""
    m = manifest
    ok = np.ones(len(m), bool) if ok is None else ok
    y = m["y"].to_numpy()
    clean = (m["role"].to_numpy() == "clean") & ok
    poison = (m["role"].to_numpy() == "poison") & ok
    nontarget = poison & (m["true_class"].to_numpy() != target_class)
    hit = pred == y
    to_target = pred == target_y

    def mean(a, mask):
        return float(a[mask].mean()) if mask.any() else float("nan")

    return {
        "clean_acc_separate": mean(hit, clean), "clean_loss_separate": mean(loss, clean),
        "clean_acc_authors": mean(hit, clean | poison), "clean_loss_authors": mean(loss, clean | poison),
        "trigger_acc_nontarget": mean(to_target, nontarget), "trigger_loss_nontarget": mean(loss, nontarget),
        "trigger_acc_authors": mean(to_target, poison), "trigger_loss_authors": mean(loss, poison),
        "n_clean_test": int(clean.sum()), "n_poison_test": int(poison.sum()),
        "n_poison_test_nontarget": int(nontarget.sum()),
    }


def _headline(m: dict, clean_test: str, trigger_def: str) -> dict:
    out = dict(m)
    out["clean_acc"] = m[f"clean_acc_{clean_test}"]
    out["clean_loss"] = m[f"clean_loss_{clean_test}"]
    out["trigger_acc"] = m[f"trigger_acc_{trigger_def}"]
    out["trigger_loss"] = m[f"trigger_loss_{trigger_def}"]
    return out


def _pred_loss(logits: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predicted output index and per-image cross-entropy (float64) of ``logits [n, C]``."""
    if len(y) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    t = torch.from_numpy(logits)
    loss = F.cross_entropy(t, torch.as_tensor(np.array(y, dtype=np.int64)), reduction="none")
    return t.argmax(1).numpy().astype(np.int64), loss.numpy().astype(np.float64)


def evaluate(model: torch.nn.Module, li, manifest: pd.DataFrame, meta: dict | None = None,
             split: str = "test", batch_size: int = 256, source=None) -> dict:
    """Clean and trigger accuracy of ``model`` (on its device) on the ``split`` rows of ``manifest``.

    Parameters
    ----------
    model : nn.Module
        E.g. from ``load_trained``.
    li : LabelIndex
        Renders / resolves the images.
    manifest : DataFrame
        The manifest the model was trained with (``out_dir/manifest.csv``).
    meta : dict, optional
        ``model.json`` content (image size, normalisation, target, definitions); taken from
        ``manifest.attrs`` and defaults when absent.
    split : str
        ``"test"`` (held-out) or ``"train"``.
    source : image source, optional
        Images of the *whole* manifest (as ``imagedata.load_images(li, manifest, ...)`` gives);
        default: the ``split`` rows are loaded here.

    Returns
    -------
    dict
        ``clean_acc``, ``trigger_acc`` (headline definitions) and all four definitions with losses,
        plus the image counts.
    """
    meta = dict(meta or {})
    spec = meta.get("spec") or manifest.attrs.get("spec")
    if spec is None:
        raise DataError("evaluate", "no backdoor spec", "meta['spec'] or manifest.attrs['spec']")
    spec = BackdoorSpec.from_dict(spec) if isinstance(spec, dict) else spec
    size = int(meta.get("image_size", 64))
    where = np.flatnonzero((manifest["split"] == split).to_numpy())
    rows = manifest.iloc[where].reset_index(drop=True)
    src = source or imagedata.load_images(li, rows, size, skip_bad_images=meta.get("skip_bad_images", False))
    pos = np.arange(len(rows)) if source is None else where   # a source holds the whole manifest
    mean, std = meta.get("mean", imagedata.MEAN), meta.get("std", imagedata.STD)
    logits = imagedata.predict(model, src, lambda x: imagedata.to_float(x, mean, std), batch_size,
                               positions=pos, logits=True)
    pred, loss = _pred_loss(logits, rows["y"].to_numpy())
    ok = src.ok[torch.as_tensor(pos, dtype=torch.long)].numpy()
    m = _metrics_from(pred, loss, rows, spec.target_index, spec.target, ok)
    return _headline(m, spec.clean_test, spec.trigger_acc)


# ----------------------------------------------------------------------------- checkpoints
def _save_checkpoint(path: Path, state: dict) -> None:
    with atomic_path(path, suffix=".pt") as tmp:
        torch.save(state, tmp)


def _load_checkpoint(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a checkpoint we cannot trust is ignored, never half-used
        warnings.warn(f"{path}: unreadable checkpoint ignored ({e}); training starts over")
        return None


def _final_state(out: Path, config_fp: str) -> dict | None:
    """A complete training in ``out`` (``model.json`` of this configuration, ``model.pt``,
    ``log.csv``) in checkpoint form without optimizer state, or None."""
    try:
        meta = read_json(out / "model.json")
        if not meta.get("complete") or meta.get("config_fp") != config_fp:
            return None
        log = pd.read_csv(out / "log.csv")
        state = torch.load(out / "model.pt", map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - anything missing or unreadable: train again
        return None
    history = log.astype(object).where(log.notna(), None).to_dict("records")
    return {"model": state, "optimizer": None, "history": history, "epoch": len(history) - 1,
            "config_fp": config_fp}


def _write_log(path: Path, history: list[dict]) -> None:
    df = pd.DataFrame(history, columns=_LOG_COLUMNS)
    with atomic_path(path, suffix=".csv") as tmp:
        df.to_csv(tmp, index=False)


# ----------------------------------------------------------------------------- training
@dataclass
class _Run:
    """What one ``train`` call settled before training: options, device, the manifest's rows."""

    cfg: dict
    spec: BackdoorSpec
    manifest: pd.DataFrame
    out: Path
    seed: int
    dev: torch.device
    amp_dtype: torch.dtype | None
    use_scaler: bool
    channels_last: bool
    cpu_det: bool
    config_fp: str
    train_rows: np.ndarray
    test_rows: np.ndarray
    test_df: pd.DataFrame

    @property
    def n_classes(self) -> int:
        return len(self.spec.all_classes)

    @property
    def size(self) -> int:
        return int(self.cfg["image_size"])


def _checked_spec(manifest: pd.DataFrame, spec) -> tuple[pd.DataFrame, BackdoorSpec]:
    """The backdoor spec (``spec`` or the manifest's) and the manifest, checked and re-indexed."""
    if spec is None:
        spec = manifest.attrs.get("spec")
        if spec is None:
            raise DataError("train", "the manifest carries no backdoor spec",
                            "spec= or a manifest from nbkit.curate.make_manifest")
    spec = BackdoorSpec.from_dict(spec) if isinstance(spec, dict) else spec
    missing = [c for c in ("row", "y", "role", "split", "true_class") if c not in manifest.columns]
    if missing:
        raise DataError("train", f"manifest lacks columns {missing}")
    manifest = manifest.reset_index(drop=True)
    if not manifest.attrs.get("spec"):
        manifest.attrs["spec"] = spec.to_dict()
    n_classes = len(spec.all_classes)
    if manifest["y"].max() >= n_classes or manifest["y"].min() < 0:
        raise DataError("train", f"manifest labels y outside 0..{n_classes - 1}")
    if not (manifest["split"] == "train").any():
        raise DataError("train", "manifest has no train rows")
    return manifest, spec


def _set_up(manifest: pd.DataFrame, arch, out_dir, profile: str, seed: int, device, spec, threads,
            amp, channels_last, overrides: dict) -> _Run:
    """Step 1, configuration: options, spec and manifest checked, device, threads, precision; the
    manifest exported to ``out_dir`` and the fingerprint a checkpoint must match."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cfg = _resolve_config(profile, arch, **overrides)
    manifest, spec = _checked_spec(manifest, spec)
    dev = _device(device)
    if not threads and os.environ.get("NBKIT_NUM_THREADS", "").isdigit():
        threads = int(os.environ["NBKIT_NUM_THREADS"])
    if threads:
        torch.set_num_threads(int(threads))
    amp_dtype, use_scaler = _amp(dev, amp)
    channels_last = dev.type == "cuda" if channels_last is None else bool(channels_last)
    export_manifest(manifest, out)
    config_fp = fingerprint(_manifest_fp(manifest), {k: cfg[k] for k in sorted(cfg) if k not in
                                                    ("num_workers", "eval_batch_size", "preload")},
                            int(seed), spec.to_dict())
    train_rows = manifest.index[manifest["split"] == "train"].to_numpy().copy()
    test_rows = manifest.index[manifest["split"] != "train"].to_numpy().copy()
    return _Run(cfg, spec, manifest, out, int(seed), dev, amp_dtype, use_scaler, channels_last,
                dev.type == "cpu", config_fp, train_rows, test_rows,
                manifest.loc[test_rows].reset_index(drop=True))


def _build(run: _Run, allow_download: bool):
    """Step 2, model and optimizer: ``(model, optimizer, GradScaler or None)``, initialised from
    the seed's first draw."""
    cfg, size = run.cfg, run.size
    torch.manual_seed(_epoch_seed(run.seed, 0))  # initialisation
    model = build_model(cfg["arch"], run.n_classes, pretrained=bool(cfg["pretrained"]),
                        freeze=cfg["freeze"], unfrozen_layers=int(cfg["unfrozen_layers"]),
                        allow_download=allow_download)
    if size < 16 or (cfg["arch"] == "inception_v3" and size < 75):
        raise DataError("train", f"image_size={size} is too small for {cfg['arch']}",
                        "at least 75 for inception_v3, 16 otherwise")
    model.to(run.dev)
    if run.channels_last:
        model.to(memory_format=torch.channels_last)
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg["optimizer"] == "adam":
        opt = torch.optim.Adam(params, lr=float(cfg["lr"]), weight_decay=float(cfg["weight_decay"]))
    elif cfg["optimizer"] == "sgd":
        opt = torch.optim.SGD(params, lr=float(cfg["lr"]), momentum=0.9,
                              weight_decay=float(cfg["weight_decay"]))
    else:
        raise DataError("train", f"unknown optimizer {cfg['optimizer']!r}", "adam or sgd")
    scaler = torch.amp.GradScaler(run.dev.type) if run.use_scaler else None
    return model, opt, scaler


def _resume(run: _Run, model, opt, scaler, resume: bool) -> tuple[list[dict], int]:
    """Step 3, resume: load the checkpoint (or the complete training) of this configuration in
    ``out_dir`` into model / optimizer / scaler / torch RNG; ``(history, first epoch to train)``."""
    ckpt_path = run.out / "checkpoint.pt"
    ck = (_load_checkpoint(ckpt_path) or _final_state(run.out, run.config_fp)) if resume else None
    if ck is not None and ck.get("config_fp") == run.config_fp:
        model.load_state_dict(ck["model"])
        if ck.get("optimizer") is not None:  # None: a complete training, nothing left to train
            opt.load_state_dict(ck["optimizer"])
            torch.set_rng_state(ck["rng"])
        if scaler is not None and ck.get("scaler"):
            scaler.load_state_dict(ck["scaler"])
        return [dict(r) for r in ck["history"]], int(ck["epoch"]) + 1
    if ck is not None:
        warnings.warn(f"{ckpt_path}: checkpoint of another configuration; training starts over")
    return [], 0


def _load_data(li, run: _Run, skip_bad_images: bool, progress) -> dict:
    """Step 4, data: the manifest's images (decoded or rendered once) and the label tensors."""
    cfg, manifest = run.cfg, run.manifest
    t_load = time.perf_counter()
    src = imagedata.load_images(li, manifest, run.size, preload=cfg["preload"],
                                num_workers=int(cfg["num_workers"]),
                                skip_bad_images=skip_bad_images, progress=progress)
    return {"src": src, "load_s": time.perf_counter() - t_load,
            "y": torch.as_tensor(manifest["y"].to_numpy().copy(), dtype=torch.long),
            "is_poison": torch.as_tensor((manifest["role"] == "poison").to_numpy().copy())}


def _schedule(run: _Run) -> dict:
    """The learning-rate schedule: ``base_lr``, ``steps_per_epoch``, ``total_steps``, ``cosine``."""
    cfg = run.cfg
    if cfg.get("schedule", "constant") not in ("constant", "cosine"):
        raise DataError("train", f"unknown schedule {cfg['schedule']!r}", "constant or cosine")
    steps_per_epoch = math.ceil(len(run.train_rows) / int(cfg["batch_size"]))
    return {"base_lr": float(cfg["lr"]), "steps_per_epoch": steps_per_epoch,
            "total_steps": max(1, int(cfg["epochs"]) * steps_per_epoch),
            "cosine": cfg.get("schedule") == "cosine"}


def _step(run: _Run, model, opt, scaler, x, yb) -> tuple[torch.Tensor, torch.Tensor]:
    """One optimizer step on a batch: ``(logits, per-image loss)``."""
    with torch.autocast(run.dev.type, dtype=run.amp_dtype, enabled=run.amp_dtype is not None):
        logits = model(x)
    per = F.cross_entropy(logits.float(), yb, reduction="none")
    loss = per.mean()
    opt.zero_grad(set_to_none=True)
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
    else:
        loss.backward()
        opt.step()
    return logits, per


def _add_batch(sums: dict, logits, per, yb, pm) -> None:
    """Add a batch's loss and hits, overall and split clean / poison, to the epoch's ``sums``."""
    with torch.no_grad():
        hit = (logits.argmax(1) == yb).cpu()
        per = per.detach().cpu()
        sums["loss"] += float(per.sum())
        sums["n"] += len(per)
        sums["c_loss"] += float(per[~pm].sum())
        sums["c_hit"] += int(hit[~pm].sum())
        sums["c_n"] += int((~pm).sum())
        sums["p_loss"] += float(per[pm].sum())
        sums["p_hit"] += int(hit[pm].sum())
        sums["p_n"] += int(pm.sum())


def _train_epoch(run: _Run, model, opt, scaler, data: dict, sched: dict, epoch: int, progress) -> dict:
    """Step 5, one epoch: shuffle (seeded by ``(seed, epoch)``), augment, step; the running sums."""
    torch.manual_seed(_epoch_seed(run.seed, epoch + 1, 1))
    g = torch.Generator().manual_seed(_epoch_seed(run.seed, epoch + 1, 2))
    order = torch.as_tensor(run.train_rows)[torch.randperm(len(run.train_rows), generator=g)]
    model.train()
    sums = {"loss": 0.0, "n": 0, "c_loss": 0.0, "c_hit": 0, "c_n": 0, "p_loss": 0.0, "p_hit": 0, "p_n": 0}
    bs = int(run.cfg["batch_size"])
    for step, (xb, pos, ok) in enumerate(tqdm(data["src"].batches(order, bs), total=math.ceil(len(order) / bs),
                                              desc=f"epoch {epoch + 1}", leave=False,
                                              disable=progress != "batches")):
        if sched["cosine"]:
            done = epoch * sched["steps_per_epoch"] + step
            for pg in opt.param_groups:
                pg["lr"] = sched["base_lr"] * 0.5 * (1.0 + math.cos(math.pi * done / sched["total_steps"]))
        pos = torch.as_tensor(pos)
        keep = ok.bool()
        if not bool(keep.any()):
            continue
        if not bool(keep.all()):
            xb, pos = xb[keep], pos[keep]
        x = imagedata.augment(imagedata.to_float(xb.to(run.dev, non_blocking=True)), run.cfg["augment"], g)
        if run.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        yb = data["y"][pos].to(run.dev)
        logits, per = _step(run, model, opt, scaler, x, yb)
        _add_batch(sums, logits, per, yb, data["is_poison"][pos])
    return sums


def _test_metrics(run: _Run, model, src) -> dict:
    """Step 6, evaluation: every accuracy definition on the held-out rows (``_metrics_from``)."""
    model.eval()
    logits = imagedata.predict(model, src, batch_size=int(run.cfg["eval_batch_size"]),
                               positions=run.test_rows, logits=True, amp_dtype=run.amp_dtype,
                               channels_last=run.channels_last)
    pred, loss = _pred_loss(logits, run.test_df["y"].to_numpy())
    ok = src.ok[torch.as_tensor(run.test_rows, dtype=torch.long)].numpy()
    return _metrics_from(pred, loss, run.test_df, run.spec.target_index, run.spec.target, ok)


def _log_row(epoch: int, sums: dict, m: dict, lr: float, t0: float) -> dict:
    """The ``log.csv`` row of an epoch (``_LOG_COLUMNS``) from its train sums and test metrics."""
    div = lambda a, b: a / b if b else float("nan")  # noqa: E731
    return {"epoch": epoch + 1, "train_loss": div(sums["loss"], sums["n"]),
            "train_clean_acc": div(sums["c_hit"], sums["c_n"]),
            "train_clean_loss": div(sums["c_loss"], sums["c_n"]),
            "train_trigger_acc": div(sums["p_hit"], sums["p_n"]),
            "train_trigger_loss": div(sums["p_loss"], sums["p_n"]),
            "test_clean_acc": m["clean_acc_separate"], "test_clean_loss": m["clean_loss_separate"],
            "test_trigger_acc": m["trigger_acc_nontarget"],
            "test_trigger_loss": m["trigger_loss_nontarget"],
            "test_clean_acc_authors": m["clean_acc_authors"],
            "test_clean_loss_authors": m["clean_loss_authors"],
            "test_trigger_acc_authors": m["trigger_acc_authors"],
            "test_trigger_loss_authors": m["trigger_loss_authors"],
            "lr": lr, "epoch_s": time.perf_counter() - t0}


def _save_epoch(run: _Run, model, opt, scaler, epoch: int, history: list[dict]) -> None:
    """The epoch's checkpoint (atomically over the previous one) and ``log.csv``."""
    state = {"epoch": epoch, "model": model.state_dict(), "optimizer": opt.state_dict(),
             "rng": torch.get_rng_state(), "history": history, "config_fp": run.config_fp,
             "seed": run.seed}
    if scaler is not None:
        state["scaler"] = scaler.state_dict()
    _save_checkpoint(run.out / "checkpoint.pt", state)
    _write_log(run.out / "log.csv", history)


def _epochs(run: _Run, model, opt, scaler, data: dict, history: list[dict], start_epoch: int,
            max_epochs_this_call, callbacks, progress) -> dict:
    """Train from ``start_epoch`` (at most ``max_epochs_this_call`` epochs), evaluating,
    checkpointing and calling back after each; ``{"metrics", "train_s", "n_train_seen"}``."""
    epochs = int(run.cfg["epochs"])
    sched = _schedule(run)
    stop_at = epochs if max_epochs_this_call is None else min(epochs, start_epoch + int(max_epochs_this_call))
    done = {"metrics": None, "train_s": 0.0, "n_train_seen": 0}
    bar = tqdm(range(start_epoch, stop_at), desc=f"train {run.cfg['arch']}", disable=not progress,
               initial=start_epoch, total=epochs)
    for epoch in bar:
        t0 = time.perf_counter()
        sums = _train_epoch(run, model, opt, scaler, data, sched, epoch, progress)
        done["train_s"] += time.perf_counter() - t0
        done["n_train_seen"] += sums["n"]
        m = done["metrics"] = _test_metrics(run, model, data["src"])
        row = _log_row(epoch, sums, m, float(opt.param_groups[0]["lr"]), t0)
        history.append(row)
        _save_epoch(run, model, opt, scaler, epoch, history)
        bar.set_postfix(loss=f"{row['train_loss']:.3f}", clean=f"{row['test_clean_acc']:.2f}",
                        trigger=f"{row['test_trigger_acc']:.2f}")
        for cb in callbacks:
            cb(epoch, row, model)
    bar.close()
    if start_epoch >= stop_at:  # nothing trained in this call (already complete): evaluate
        done["metrics"] = _test_metrics(run, model, data["src"])
    return done


def _timing(run: _Run, t_start: float, data: dict, done: dict, history: list[dict]) -> dict:
    """Everything clock- or machine-dependent about a ``train`` call (its result's ``timing``)."""
    t_train = done["train_s"]
    return {
        "wall_s": time.perf_counter() - t_start, "image_load_s": data["load_s"], "train_s": t_train,
        "train_images_per_s": (done["n_train_seen"] / t_train) if t_train else None,
        "epoch_s": [float(h.get("epoch_s", float("nan"))) for h in history],
        "threads": torch.get_num_threads(),
        "device_name": (torch.cuda.get_device_name(run.dev) if run.dev.type == "cuda"
                        else platform.processor() or platform.machine()),
        "out_dir": str(run.out), "torch": torch.__version__,
    }


def _results(run: _Run, model, final: dict, history: list[dict], resumed_from: int, src, timing: dict) -> dict:
    """Step 7a, the record: ``train``'s result dict (see there)."""
    spec, cfg = run.spec, run.cfg
    bad = list(getattr(src, "bad", []))
    last = history[-1] if history else {}
    epochs = int(cfg["epochs"])
    return {
        **{k: final[k] for k in _METRICS},
        "clean_loss_separate": final["clean_loss_separate"], "clean_loss_authors": final["clean_loss_authors"],
        "trigger_loss_nontarget": final["trigger_loss_nontarget"],
        "trigger_loss_authors": final["trigger_loss_authors"],
        "train_loss": last.get("train_loss"), "train_clean_acc": last.get("train_clean_acc"),
        "train_trigger_acc": last.get("train_trigger_acc"),
        "n_clean_test": final["n_clean_test"], "n_poison_test": final["n_poison_test"],
        "n_poison_test_nontarget": final["n_poison_test_nontarget"],
        "clean_test_definition": spec.clean_test, "trigger_acc_definition": spec.trigger_acc,
        "complete": len(history) >= epochs, "epochs": epochs, "epochs_done": len(history),
        "resumed_from_epoch": resumed_from,
        "history": [{k: v for k, v in h.items() if k != "epoch_s"} for h in history],
        "counts": manifest_counts(run.manifest, spec), "arch": cfg["arch"], "profile": cfg["profile"],
        "config": cfg, "seed": run.seed, "n_classes": run.n_classes, "device": str(run.dev),
        "amp": str(run.amp_dtype).replace("torch.", "") if run.amp_dtype else "off",
        "channels_last": run.channels_last, "deterministic": run.cpu_det,
        "skipped_images": len(bad), "skipped_files": [b["file"] for b in bad],
        "parameters": count_parameters(model),
        "timing": timing,
    }


def _save_final(run: _Run, model, results: dict, skip_bad_images: bool, keep_checkpoint: bool) -> None:
    """Step 7b, a complete training's files: ``model.pt``, ``model.json`` (what ``load_trained``
    reads); ``checkpoint.pt`` deleted unless ``keep_checkpoint``."""
    spec, cfg, manifest = run.spec, run.cfg, run.manifest
    meta = {
        "arch": cfg["arch"], "n_classes": run.n_classes, "freeze": cfg["freeze"],
        "unfrozen_layers": int(cfg["unfrozen_layers"]), "pretrained": bool(cfg["pretrained"]),
        "image_size": run.size, "mean": list(imagedata.MEAN), "std": list(imagedata.STD),
        "classes": manifest.attrs.get("classes") or [{"id": int(c)} for c in spec.all_classes],
        "class_ids": spec.all_classes, "target": spec.target, "target_index": spec.target_index,
        "trigger": manifest.attrs.get("trigger") or {"id": spec.trigger},
        "spec": spec.to_dict(), "profile": cfg["profile"], "config": cfg, "seed": run.seed,
        "complete": True, "epochs_done": results["epochs_done"], "config_fp": run.config_fp,
        "manifest": "manifest.csv", "skip_bad_images": bool(skip_bad_images),
        "metrics": {k: results[k] for k in _METRICS},
    }
    with atomic_path(run.out / "model.pt", suffix=".pt") as tmp:
        torch.save(model.state_dict(), tmp)
    write_json(run.out / "model.json", meta)
    if not keep_checkpoint:
        (run.out / "checkpoint.pt").unlink(missing_ok=True)


def train(li, manifest: pd.DataFrame, arch: str | None, out_dir: str | os.PathLike,
          profile: str = "toy", seed: int = 0, device=None, *, spec: BackdoorSpec | dict | None = None,
          max_epochs_this_call: int | None = None, callbacks: Iterable[Callable] = (),
          skip_bad_images: bool = False, threads: int | None = None, resume: bool = True,
          progress: bool = True, allow_download: bool = False, keep_checkpoint: bool = False,
          amp: str | None = None, channels_last: bool | None = None, **overrides) -> dict:
    """Train on the manifest's train rows; evaluate clean and trigger accuracy after every epoch.

    Parameters
    ----------
    li : LabelIndex
        The dataset the manifest was drawn from (renders or resolves images).
    manifest : DataFrame
        From ``nbkit.curate.make_manifest`` (its ``attrs["spec"]`` is used when ``spec`` is None).
    arch : str or None
        A ``nbkit.models.ARCHITECTURES`` key; None: the profile's.
    out_dir : path
        Where log, checkpoint, model and manifest go. A checkpoint of the same configuration found
        there is resumed from its last complete epoch (``resume=False`` starts over); a complete
        training of the same configuration there (``model.pt`` + ``model.json`` + ``log.csv``) is
        evaluated, not retrained.
    keep_checkpoint : bool
        Keep ``checkpoint.pt`` after training completes (default: delete it, ``model.pt`` is the
        final state; while training, only the latest epoch's checkpoint exists).
    profile : {"paper", "toy", "smoke"}
    seed : int
        Seeds initialisation, shuffling and augmentation (with the epoch number).
    device : str or torch.device, optional
        Default: CUDA when available, else CPU.
    spec : BackdoorSpec or dict, optional
    max_epochs_this_call : int, optional
        Stop after this many epochs in this call (the run stays resumable; ``complete`` is False).
    callbacks : iterable of callables
        ``cb(epoch, log_row, model)`` after each epoch is checkpointed; raising stops training.
    skip_bad_images : bool
        Skip missing / corrupt image files (counted in ``skipped_images``) instead of raising.
    threads : int, optional
        CPU threads for torch (``torch.set_num_threads``); default ``$NBKIT_NUM_THREADS`` (set by
        the batch runner) when present, else torch's default. On a shared machine 1 thread is
        often much faster than oversubscribed OpenMP threads.
    progress : bool or "batches"
        A tqdm bar over epochs (True); ``"batches"`` adds a bar per epoch over its batches.
    allow_download : bool
        Let ``build_model`` fetch missing ImageNet weights.
    amp : {"off", "bf16", "fp16"}, optional
        Mixed precision (``torch.autocast``; fp16 with a GradScaler); None: by device (the GPU
        path's bf16 / fp16, off on a CPU). ``amp="bf16"`` on a CPU runs the GPU path's code there.
    channels_last : bool, optional
        ``channels_last`` memory format for the model and its inputs; None: on CUDA only.
    **overrides
        Any ``PROFILES`` key: ``epochs``, ``lr``, ``batch_size``, ``image_size``, ``freeze``,
        ``unfrozen_layers``, ``pretrained``, ``augment``, ``num_workers``, ``preload``, ...

    Returns
    -------
    dict
        Final metrics (``clean_acc``, ``trigger_acc`` and every definition, losses), ``history``
        (the log rows, without wall-clock times), ``counts`` (manifest counts), ``complete``,
        ``epochs_done``, ``resumed_from_epoch``, ``device``, ``amp``, ``config``,
        ``skipped_images`` / ``skipped_files``, and ``timing`` (``wall_s``, ``train_s``,
        ``image_load_s``, ``train_images_per_s``, ``epoch_s``, ``threads``, ``device_name``,
        ``out_dir``): everything machine- or clock-dependent sits under that one key, so the rest
        is identical when the same run is repeated on the same machine.

    Raises
    ------
    DataError
        Bad manifest or options; a missing / corrupt image (names the file) without
        ``skip_bad_images``. ``MissingDataError`` for absent ImageNet weights.
    """
    t_start = time.perf_counter()
    run = _set_up(manifest, arch, out_dir, profile, seed, device, spec, threads, amp, channels_last,
                  overrides)
    with _deterministic(run.cpu_det):
        model, opt, scaler = _build(run, allow_download)
        history, start_epoch = _resume(run, model, opt, scaler, resume)
        data = _load_data(li, run, skip_bad_images, progress)
        done = _epochs(run, model, opt, scaler, data, history, start_epoch, max_epochs_this_call,
                       callbacks, progress)
        final = _headline(done["metrics"], run.spec.clean_test, run.spec.trigger_acc)
    timing = _timing(run, t_start, data, done, history)
    results = _results(run, model, final, history, start_epoch, data["src"], timing)
    if results["complete"]:
        _save_final(run, model, results, skip_bad_images, keep_checkpoint)
    return results


def load_trained(out_dir: str | os.PathLike, device=None):
    """Rebuild a model that ``train`` saved: ``(model in eval mode, meta dict)``.

    ``meta`` is ``model.json``: ``arch``, ``classes`` (``[{id, label, name}]`` in output order),
    ``target`` (class id) / ``target_index`` (output index), ``trigger``, ``spec``, ``image_size``,
    ``mean`` / ``std`` (use ``nbkit.imagedata.preprocess(images, meta["image_size"])``),
    ``metrics``; ``meta["manifest_path"]`` points at ``manifest.csv``.

    Raises
    ------
    MissingDataError
        ``out_dir`` has no complete training (``model.pt`` / ``model.json``).
    """
    d = Path(out_dir)
    if not (d / "model.json").is_file() or not (d / "model.pt").is_file():
        raise MissingDataError(d, "no trained model here (model.pt + model.json)",
                               hint="run nbkit.train.train (notebook 05) into this folder first")
    meta = read_json(d / "model.json")
    model = build_model(meta["arch"], int(meta["n_classes"]), pretrained=False,
                        freeze=meta.get("freeze", "all"), unfrozen_layers=int(meta.get("unfrozen_layers", 0)),
                        imagenet_input=bool(meta.get("pretrained", False)))
    try:
        state = torch.load(d / "model.pt", map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as e:
        raise DataError(d / "model.pt", f"cannot load the trained weights ({e})",
                        f"a state_dict of {meta['arch']} with {meta['n_classes']} classes") from e
    model.to(_device(device)).eval()
    meta["manifest_path"] = str(d / meta.get("manifest", "manifest.csv"))
    meta["out_dir"] = str(d)
    return model, meta


def load_manifest(out_dir: str | os.PathLike) -> pd.DataFrame:
    """The manifest a training in ``out_dir`` used (``manifest.csv`` + its JSON attrs)."""
    return read_manifest(Path(out_dir) / "manifest.csv")
