"""Calibrating the ReLabel confidence threshold (paper App. B, Figure 7).

The authors hand-labelled 20 ImageNet images, decoded their ReLabel maps (``nbkit.labelmaps``) at
every threshold from 0.900 to 1.000 in steps of 0.001, and counted, over the image x class pairs of
those images,

- false positives (FP): a class the maps mark present that the hand labels do not list;
- false negatives (FN): a hand-labelled class the maps miss.

FP falls and FN rises with the threshold; they chose 0.994, where the curves cross (14 FP, 16 FN;
``nbkit.reference.CALIBRATION``). Their notebook (``relabel.ipynb``, cell 19) printed the sweep
0.990-0.999: 18/15, 18/15, 17/15, 16/15, **14/16**, 14/16, 14/16, 14/18, 14/19, 12/19.

Choosing the threshold (:func:`_choose`), three named rules:

- ``"crossing"`` (default, the paper's published choice): the lowest threshold at which FN >= FP,
  i.e. where the FN curve crosses the FP curve. On the authors' sweep: 0.994.
- ``"balanced"``: the smallest ``|FP - FN|``; ties to the smallest FP + FN, then the lowest
  threshold. On the authors' sweep this gives 0.993 (16 FP / 15 FN, |diff| = 1), *not* the
  published 0.994 (|diff| = 2), which is why it is not the default.
- ``"min_total"``: the smallest FP + FN; ties to the lowest threshold. On the authors' sweep: 0.994.

Hand labels are a CSV ``image_id,labels`` with the labels of an image separated by ``;`` (ImageNet:
wnids such as ``n02099601``; toy scenes: class labels such as ``striped_blue_bar``; class ids as
integers work too). :func:`write_label_template` writes such a file to fill in by hand.
"""
from __future__ import annotations

import csv
import io as _io
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .errors import DataError, MissingDataError
from .io import write_text

_RULES = ("crossing", "balanced", "min_total")


# --------------------------------------------------------------------------------------- thresholds
def thresholds(start: float = 0.900, stop: float = 1.000, step: float = 0.001) -> np.ndarray:
    """Thresholds from ``start`` to ``stop`` inclusive, built from integers (no floating drift).

    Parameters
    ----------
    start, stop, step : float
        Decimal values; ``step`` sets the resolution (at most 9 decimals).

    Returns
    -------
    numpy.ndarray, float64
        Integers divided by a power of ten (``np.arange(900, 1001) / 1000`` for the default), so
        every value is the float nearest to its decimal (``t[94] == 0.994`` exactly).

    Examples
    --------
    >>> t = thresholds()
    >>> len(t), float(t[0]), float(t[94]), float(t[-1])
    (101, 0.9, 0.994, 1.0)
    """
    for d in range(10):
        scale = 10 ** d
        if abs(step * scale - round(step * scale)) < 1e-9 and abs(start * scale - round(start * scale)) < 1e-9 \
                and abs(stop * scale - round(stop * scale)) < 1e-9:
            break
    else:
        raise ValueError(f"thresholds({start}, {stop}, {step}): use at most 9 decimals")
    a, b, s = round(start * scale), round(stop * scale), round(step * scale)
    if s <= 0 or b < a:
        raise ValueError(f"thresholds({start}, {stop}, {step}): need step > 0 and stop >= start")
    return np.arange(a, b + 1, s, dtype=np.int64) / scale


# --------------------------------------------------------------------------------------- the sweep
def _as_dense_bool(truth) -> np.ndarray:
    if sp.issparse(truth):
        return truth.toarray().astype(bool)
    return np.asarray(truth).astype(bool)


def _sweep(confidences, truth, levels: Sequence[float] | np.ndarray | None = None,
          comparison: str = ">=") -> pd.DataFrame:
    """False positives and false negatives at every threshold.

    Parameters
    ----------
    confidences : array-like or sparse, shape (n_images, n_classes)
        Per image and class the decoding confidence (``nbkit.labelmaps.class_confidence``; 0 where
        the class is absent).
    truth : array-like or sparse bool, shape (n_images, n_classes)
        Hand labels.
    levels : sequence of float, optional
        The thresholds; default :func:`thresholds` ``(0.900, 1.000, 0.001)``.
    comparison : {">=", ">"}
        Present means ``confidence >= threshold`` (authors' code, default) or ``>``.

    Returns
    -------
    pandas.DataFrame
        Columns ``threshold, fp, fn, fp_plus_fn, tp, n_true`` (one row per threshold); counts are
        over image x class pairs. ``fp`` is exactly ``((conf >= t) & ~truth).sum()``.

    Examples
    --------
    >>> conf = np.array([[0.999, 0.95, 0.0], [0.0, 0.991, 0.9995]])
    >>> truth = np.array([[True, False, False], [False, True, True]])
    >>> df = _sweep(conf, truth, [0.9, 0.995, 1.0])
    >>> df[["threshold", "fp", "fn"]].values.tolist()
    [[0.9, 1.0, 0.0], [0.995, 0.0, 1.0], [1.0, 0.0, 3.0]]
    """
    if comparison not in (">=", ">"):
        raise ValueError(f"comparison={comparison!r}; expected '>=' or '>'")
    conf = confidences.toarray() if sp.issparse(confidences) else np.asarray(confidences, dtype=float)
    truth = _as_dense_bool(truth)
    if conf.shape != truth.shape:
        raise DataError("calibration", f"confidences have shape {conf.shape}, hand labels {truth.shape}",
                        "one row per hand-labelled image and one column per class in both")
    t = np.asarray(thresholds() if levels is None else levels, dtype=float)
    pos = np.sort(conf[truth])           # confidences of true pairs
    neg = np.sort(conf[~truth])          # confidences of the other pairs
    side = "left" if comparison == ">=" else "right"
    # count of values passing: len - number below (">=": strictly below t; ">": at most t)
    passing_neg = len(neg) - np.searchsorted(neg, t, side=side)
    passing_pos = len(pos) - np.searchsorted(pos, t, side=side)
    fp = passing_neg.astype(np.int64)
    fn = (len(pos) - passing_pos).astype(np.int64)
    return pd.DataFrame({"threshold": t, "fp": fp, "fn": fn, "fp_plus_fn": fp + fn,
                         "tp": passing_pos.astype(np.int64),
                         "n_true": np.full(len(t), len(pos), dtype=np.int64)})


def _row(df: pd.DataFrame, i) -> dict:
    r = df.loc[i]
    return {"threshold": float(r["threshold"]), "fp": int(r["fp"]), "fn": int(r["fn"]),
            "fp_plus_fn": int(r["fp"] + r["fn"])}


def _choose(df: pd.DataFrame, rule: str = "crossing") -> dict:
    """Pick the threshold from a sweep.

    Parameters
    ----------
    df : DataFrame
        From :func:`_sweep` (columns ``threshold, fp, fn``).
    rule : {"crossing", "balanced", "min_total"}
        ``crossing`` (default, reproduces the paper's 0.994 from the authors' sweep): the lowest
        threshold with FN >= FP; when FN < FP everywhere, the highest threshold; ``balanced``:
        smallest ``|FP - FN|``, then smallest FP + FN, then lowest threshold; ``min_total``:
        smallest FP + FN, then lowest threshold.

    Returns
    -------
    dict
        ``threshold, fp, fn, fp_plus_fn, rule`` of the chosen threshold, and one sub-dict per rule
        (``crossing``, ``balanced``, ``min_total``) so every choice can be reported.

    Examples
    --------
    The authors' recorded sweep (``relabel.ipynb``):

    >>> df = pd.DataFrame({"threshold": thresholds(0.990, 0.999),
    ...                    "fp": [18, 18, 17, 16, 14, 14, 14, 14, 14, 12],
    ...                    "fn": [15, 15, 15, 15, 16, 16, 16, 18, 19, 19]})
    >>> c = _choose(df)
    >>> c["threshold"], c["fp"], c["fn"], c["balanced"]["threshold"]
    (0.994, 14, 16, 0.993)
    """
    if rule not in _RULES:
        raise ValueError(f"rule={rule!r}; expected one of {_RULES}")
    missing = [c for c in ("threshold", "fp", "fn") if c not in df.columns]
    if missing or len(df) == 0:
        raise DataError("calibration sweep", f"sweep table lacks columns {missing} or is empty",
                        "columns threshold, fp, fn (the sweep of nbkit.calibrate.calibrate_directory)")
    d = df.sort_values("threshold", kind="stable").reset_index(drop=True)
    fp, fn, t = d["fp"].to_numpy(), d["fn"].to_numpy(), d["threshold"].to_numpy()
    total, diff = fp + fn, np.abs(fp - fn)
    cross = np.flatnonzero(fn >= fp)
    i_cross = int(cross[0]) if len(cross) else len(d) - 1
    i_bal = int(np.lexsort((t, total, diff))[0])
    i_min = int(np.lexsort((t, total))[0])
    out = {"crossing": _row(d, i_cross), "balanced": _row(d, i_bal), "min_total": _row(d, i_min)}
    out["crossing"]["curves_cross"] = bool(len(cross) and fp[0] >= fn[0])
    chosen = dict(out[rule])
    chosen.pop("curves_cross", None)
    return {**chosen, "rule": rule, **out}


# --------------------------------------------------------------------------------------- hand labels
def _class_space(classes, relabel_dir: Path | None, n_classes: int | None):
    """(labels list, source) of the class ids; see :func:`calibrate_directory`."""
    if classes is not None:
        if isinstance(classes, pd.DataFrame):
            col = next((c for c in ("label", "wnid") if c in classes.columns), None)
            if col is None:
                raise DataError("classes", "class table lacks a 'label' or 'wnid' column",
                                "columns label[, name] in class-id order")
            return classes[col].astype(str).tolist(), "classes argument"
        return [str(c) for c in classes], "classes argument"
    if relabel_dir is not None and (relabel_dir / "classes.csv").is_file():
        p = relabel_dir / "classes.csv"
        df = pd.read_csv(p, dtype=str, keep_default_na=False)
        if "label" not in df.columns:
            raise DataError(p, "no 'label' column", "columns id,label,name")
        return df["label"].tolist(), str(p)
    if n_classes is None or n_classes == 1000:
        try:
            from .datasets.relabel import imagenet_classes

            return imagenet_classes()["wnid"].tolist(), "ImageNet class list (nbkit/data)"
        except (ImportError, DataError):
            pass  # fall back to integer ids below
    return None, "integer class ids"


def _read_hand_labels(path: str | os.PathLike, class_labels: Sequence[str] | None = None,
                     n_classes: int | None = None) -> tuple[list[str], np.ndarray]:
    """Read a hand-label CSV (``image_id,labels``; labels ``;``-separated).

    Parameters
    ----------
    path : path-like
    class_labels : sequence of str, optional
        The label of each class id (wnids, toy labels). Without it, labels must be integer ids.
    n_classes : int, optional
        Width of the result when ``class_labels`` is None.

    Returns
    -------
    (image_ids, truth)
        ``truth`` is a bool array ``len(image_ids) x n_classes``.

    Raises
    ------
    DataError
        Missing columns, duplicate image ids, an unknown label (named with its line), a file whose
        ``labels`` column is empty everywhere (an unfilled template).
    """
    path = Path(path)
    if not path.is_file():
        raise MissingDataError(path, "hand-label file not found",
                               hint="write one with nbkit.calibrate.write_label_template and fill "
                                    "in the 'labels' column")
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in ("image_id", "labels") if c not in df.columns]
    if missing:
        raise DataError(path, f"missing column(s) {missing}; found {list(df.columns)}",
                        "columns image_id,labels (labels separated by ';')")
    if len(df) == 0:
        raise DataError(path, "no rows", "one row per hand-labelled image")
    dup = df["image_id"].duplicated()
    if dup.any():
        raise DataError(path, f"duplicate image ids {df.loc[dup, 'image_id'].tolist()[:3]}",
                        "one row per image")
    if (df["labels"].str.strip() == "").all():
        raise DataError(path, "the 'labels' column is empty for every image",
                        "the hand labels of each image", hint="fill in the template first")
    if class_labels is not None:
        lookup = {str(lab): i for i, lab in enumerate(class_labels)}
        C = len(class_labels)
    else:
        lookup, C = None, n_classes
    rows, cols = [], []
    for k, (iid, labs) in enumerate(zip(df["image_id"], df["labels"])):
        for lab in (x.strip() for x in labs.split(";")):
            if not lab:
                continue
            if lookup is not None and lab in lookup:
                cid = lookup[lab]
            else:
                try:
                    cid = int(lab)
                except ValueError:
                    raise DataError(path, f"line {k + 2} (image {iid}): unknown class label {lab!r}",
                                    "a label of the class list (e.g. a wnid) or an integer class id"
                                    ) from None
                if C is not None and not 0 <= cid < C:
                    raise DataError(path, f"line {k + 2} (image {iid}): class id {cid} out of range",
                                    f"0..{C - 1}")
            rows.append(k)
            cols.append(cid)
    if C is None:
        C = (max(cols) + 1) if cols else 1
    truth = np.zeros((len(df), C), dtype=bool)
    truth[rows, cols] = True
    return df["image_id"].tolist(), truth


def calibrate_directory(relabel_dir: str | os.PathLike, hand_labels_csv: str | os.PathLike | None = None,
                        n_classes: int | None = None, classes=None, exclude_corners: bool = True,
                        topk: int = 1, corners: str = "drop", comparison: str = ">=",
                        levels: Sequence[float] | None = None, rule: str = "crossing") -> dict:
    """The whole App. B calibration on a ReLabel folder plus a hand-label CSV.

    Parameters
    ----------
    relabel_dir : path-like
        ``.pt`` maps, flat or ReLabel's ``<wnid>/<image_id>.pt``; image id = file stem.
    hand_labels_csv : path-like, optional
        ``image_id,labels`` CSV; default ``<relabel_dir>/hand_labels.csv``. Only its images are used
        (each must have a map).
    n_classes : int, optional
        Width of the label space; default: the length of the class list.
    classes : sequence of str or DataFrame, optional
        Labels of the class ids. Default: ``<relabel_dir>/classes.csv`` when present (toy samples
        write one), else the 1,000 ImageNet wnids shipped in ``nbkit/data`` (when ``n_classes`` is
        None or 1000), else hand labels must be integer ids.
    exclude_corners, topk, corners, comparison
        Decoding options (``nbkit.labelmaps``).
    levels : sequence of float, optional
        Thresholds; default 0.900..1.000 step 0.001.
    rule : str
        Threshold rule for :func:`_choose`.

    Returns
    -------
    dict
        ``sweep`` (DataFrame), ``choice`` (from :func:`_choose`), ``confidences`` (n x C array),
        ``truth`` (n x C bool), ``image_ids``, ``class_labels`` (or None), ``class_source``.
    """
    from .labelmaps import class_confidence, load_map, map_paths

    d = Path(relabel_dir)
    if not d.is_dir():
        map_paths(d)  # raises the MissingDataError that says where maps come from
    hl = Path(hand_labels_csv) if hand_labels_csv else d / "hand_labels.csv"
    labels, source = _class_space(classes, d, n_classes)
    C = n_classes if n_classes is not None else (len(labels) if labels is not None else None)
    ids, truth = _read_hand_labels(hl, labels, C)
    if C is None:
        C = truth.shape[1]
    # look the hand-labelled maps up directly (flat, or ReLabel's <wnid>/<id>.pt) before walking
    # the folder (the full ReLabel set has 1.28 million files)
    files = {}
    for i in ids:
        for cand in (d / f"{i}.pt", d / i.split("_")[0] / f"{i}.pt"):
            if cand.is_file():
                files[i] = cand
                break
    if len(files) < len(ids):
        files = {p.stem: p for p in map_paths(d)}
    lost = [i for i in ids if i not in files]
    if lost:
        raise DataError(hl, f"{len(lost)} hand-labelled image(s) have no label map in {d}, e.g. "
                            f"{lost[:3]}", "a <image_id>.pt file for every hand-labelled image")
    maps = np.stack([load_map(files[i], n_classes=C) for i in ids])
    conf = class_confidence(maps, exclude_corners=exclude_corners, topk=topk, n_classes=C,
                            corners=corners)
    if truth.shape[1] < C:
        truth = np.pad(truth, ((0, 0), (0, C - truth.shape[1])))
    df = _sweep(conf, truth, levels, comparison=comparison)
    return {"sweep": df, "choice": _choose(df, rule), "confidences": conf, "truth": truth,
            "image_ids": ids, "class_labels": labels, "class_source": source,
            "maps": maps}


# --------------------------------------------------------------------------------------- figures
def plot_sweep(df: pd.DataFrame, choice: Mapping | None = None, reference: Mapping | None = None,
               ax=None, title: str | None = None, reference_sweep=None, zoom: float | None = None):
    """Figure 7: false positives and false negatives against the threshold.

    Parameters
    ----------
    df : DataFrame
        From :func:`_sweep`.
    choice : dict, optional
        From :func:`_choose`; marked with a vertical line and its FP / FN.
    reference : dict, optional
        The paper's choice, e.g. ``nbkit.reference.CALIBRATION`` (``threshold``,
        ``false_positives``, ``false_negatives``, ``n_images``), drawn beside ours.
    ax : matplotlib Axes, optional
        Draw the full sweep here (no zoom panel then).
    title : str, optional
    reference_sweep : sequence of (threshold, fp, fn), optional
        A recorded sweep to draw beside ours (e.g. the authors' 0.990-0.999 points,
        ``nbkit.reference.FIGURE7["sweep_authors"]["value"]``), as hollow markers.
    zoom : float, optional
        Add a second panel from this threshold to the end of the sweep (e.g. 0.985), where
        the curves cross.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    if ax is not None:
        fig, axes = ax.figure, [ax]
    elif zoom is not None:
        fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.0), gridspec_kw={"width_ratios": [3, 2]})
    else:
        fig, ax0 = plt.subplots(figsize=(8.6, 4.0))
        axes = [ax0]
    for k, a in enumerate(axes):
        a.plot(df["threshold"], df["fp"], color="tab:red", lw=2, label="false positives")
        a.plot(df["threshold"], df["fn"], color="tab:blue", lw=2, label="false negatives")
        if reference_sweep is not None and len(reference_sweep):
            r = np.asarray(reference_sweep, dtype=float)
            a.plot(r[:, 0], r[:, 1], "o", ms=3.5, color="tab:red", alpha=0.5, mfc="none",
                   label="authors' recorded FP (ImageNet)")
            a.plot(r[:, 0], r[:, 2], "s", ms=3.5, color="tab:blue", alpha=0.5, mfc="none",
                   label="authors' recorded FN (ImageNet)")
        if choice is not None:
            t = choice["threshold"]
            a.axvline(t, color="black", ls="--", lw=1.2,
                      label=f"ours: {t:.3f} ({choice['fp']} FP, {choice['fn']} FN)")
        if reference is not None:
            t = reference["threshold"]
            lab = f"paper: {t:.3f} ({reference.get('false_positives')} FP, " \
                  f"{reference.get('false_negatives')} FN"
            lab += f", {reference['n_images']} images)" if reference.get("n_images") else ")"
            a.axvline(t, color="tab:green", ls=":", lw=2, label=lab)
            if reference.get("false_positives") is not None:
                a.scatter([t, t], [reference["false_positives"], reference["false_negatives"]],
                          color="tab:green", marker="x", zorder=5)
        lo = float(df["threshold"].min()) if k == 0 else float(zoom)
        a.set_xlim(lo, float(df["threshold"].max()))
        a.set_xlabel("confidence threshold")
        a.set_ylim(bottom=0)
        a.grid(alpha=0.3)
    axes[0].set_ylabel("count (image x class pairs)")
    if len(axes) > 1:
        axes[1].set_title(f"zoom: {zoom:.3f} to {float(df['threshold'].max()):.3f}", fontsize=9)
        axes[1].legend(fontsize=7, loc="upper left")
    else:
        axes[0].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    if title:
        axes[0].set_title(title)
    fig.tight_layout()
    return fig


def labelling_grid(images: Sequence[np.ndarray], predicted_labels: Sequence[Sequence[str]],
                   titles: Sequence[str] | None = None, truth_labels: Sequence[Sequence[str]] | None = None,
                   ncols: int = 5, size: float = 2.2):
    """A labelling aid: images in a grid, each captioned with the labels the maps predict.

    Parameters
    ----------
    images : sequence of HxWx3 uint8
    predicted_labels : sequence of sequence of str
        Per image, the decoded labels (e.g. at the chosen threshold).
    titles : sequence of str, optional
        Per image caption head (image ids).
    truth_labels : sequence of sequence of str, optional
        When given, wrong predictions are marked ``+label`` (false positive) and missed labels
        ``-label`` (false negative).
    ncols : int
    size : float
        Inches per image.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    n = len(images)
    if len(predicted_labels) != n:
        raise ValueError(f"{n} images but {len(predicted_labels)} label lists")
    ncols = max(1, min(ncols, n))
    nrows = max(1, -(-n // ncols))
    most = max([len(p) + (len(truth_labels[k]) if truth_labels is not None else 0)
                for k, p in enumerate(predicted_labels)] + [1]) + (titles is not None)
    fig, axes = plt.subplots(nrows, ncols, squeeze=False,
                             figsize=(size * ncols, (size + 0.14 * most + 0.1) * nrows))
    for k, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if k >= n:
            continue
        ax.imshow(images[k], interpolation="nearest")
        pred = list(predicted_labels[k])
        if truth_labels is not None:
            tru = set(truth_labels[k])
            lines = [(("+" if p not in tru else "") + p) for p in pred]
            lines += ["-" + t for t in sorted(tru - set(pred))]
        else:
            lines = pred
        head = f"{titles[k]}\n" if titles is not None else ""
        ax.set_title(head + "\n".join(lines) if lines else head + "(nothing)", fontsize=6.5)
    if truth_labels is not None:
        fig.suptitle("decoded labels; +x: false positive, -x: missed (false negative)", fontsize=9)
    fig.tight_layout()
    return fig


def write_label_template(csv_path: str | os.PathLike, image_ids: Sequence[str],
                         predicted: Sequence[Sequence[str]] | None = None) -> Path:
    """Write a hand-label template: ``image_id,labels,suggested``.

    ``labels`` is left empty for a person to fill in (class labels separated by ``;``; an image with
    no object stays empty); ``suggested`` lists what the label maps predict, as a reminder only —
    :func:`_read_hand_labels` reads ``labels`` and ignores ``suggested``.

    Parameters
    ----------
    csv_path : path-like
    image_ids : sequence of str
    predicted : sequence of sequence of str, optional
        Per image, the predicted labels for the ``suggested`` column.

    Returns
    -------
    pathlib.Path
    """
    if predicted is not None and len(predicted) != len(image_ids):
        raise ValueError(f"{len(image_ids)} image ids but {len(predicted)} predictions")
    buf = _io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["image_id", "labels", "suggested"])
    for k, iid in enumerate(image_ids):
        w.writerow([iid, "", ";".join(predicted[k]) if predicted is not None else ""])
    return write_text(csv_path, buf.getvalue())


# --------------------------------------------------------------------------------------- notebook 01
#: The decoding variants notebook 01 compares (section 3): label -> keywords of calibrate_directory.
DECODING_VARIANTS = {"paper (corners out, >=, top-1)": {},
                     "corners kept": {"exclude_corners": False},
                     "strict > comparison": {"comparison": ">"},
                     "top-2 classes per cell": {"topk": 2}}

_IMAGE_EXTENSIONS = (".png", ".jpg", ".JPEG", ".jpeg")


def effective_sizes(smoke: bool, large_sample: int) -> dict:
    """The sizes notebook 01 runs at: the full ones, or the quick ones of a smoke run.

    Parameters
    ----------
    smoke : bool
        The notebook's ``smoke`` parameter.
    large_sample : int
        The notebook's ``large_sample`` parameter (0 skips the large-sample study).

    Returns
    -------
    dict
        ``dataset_images`` (toy scenes to generate; None = the dataset's default),
        ``large_sample`` (images of the large sample before capping at the dataset size; 0 = skip),
        ``draws`` (random 20-image calibrations of the histogram) and ``size_draws`` (random
        samples per sample size).

    Examples
    --------
    >>> effective_sizes(True, 1000)
    {'dataset_images': 3000, 'large_sample': 200, 'draws': 40, 'size_draws': 20}
    >>> effective_sizes(False, 0)["large_sample"]
    0
    """
    n_large = (200 if smoke else int(large_sample)) if large_sample else 0
    return {"dataset_images": 3000 if smoke else None, "large_sample": n_large,
            "draws": 40 if smoke else 200, "size_draws": 20 if smoke else 200}


def prepare_sample(run_dir, dataset: str = "toyscenes", relabel_dir: str = "",
                   hand_labels: str = "", n_images: int = 20, seed: int = 0, labeller_seed: int = 0,
                   smoke: bool = False) -> dict:
    """The hand-labelled ReLabel-format sample notebook 01 calibrates on.

    Toy mode (``relabel_dir`` empty): load the toy-scenes ``dataset`` (smaller in a smoke run, see
    :func:`effective_sizes`) and write ``n_images`` of its scenes with the simulated labeller's maps
    into ``<run_dir>/relabel_sample`` (``nbkit.datasets.toyscenes.write_relabel_sample``). Real mode:
    use ``relabel_dir`` and ``hand_labels`` (default ``<relabel_dir>/hand_labels.csv``) as they are.

    Returns
    -------
    dict
        ``mode`` ("toy" or "real"), ``sample_dir``, ``labels_csv`` (Paths), ``li`` (the toy
        ``LabelIndex``, None in real mode) and ``text`` (one line saying what was used).

    Raises
    ------
    ValueError
        Toy mode with a ``dataset`` that is not toy scenes.
    """
    from .labelmaps import map_paths

    if relabel_dir:
        sample_dir = Path(relabel_dir)
        labels_csv = Path(hand_labels) if hand_labels else sample_dir / "hand_labels.csv"
        return {"mode": "real", "sample_dir": sample_dir, "labels_csv": labels_csv, "li": None,
                "text": f"ReLabel folder {sample_dir}: {len(map_paths(sample_dir)):,} maps; "
                        f"hand labels {labels_csv}"}
    from .datasets import load_dataset
    from .datasets.toyscenes import write_relabel_sample

    if not str(dataset).startswith("toyscenes"):
        raise ValueError(f"dataset={dataset!r}: the simulated labeller needs toy scenes; "
                         "for real data set relabel_dir and hand_labels instead")
    n = effective_sizes(smoke, 0)["dataset_images"]
    li = load_dataset(dataset, **({"n_images": n} if n else {}))
    sample_dir = Path(run_dir) / "relabel_sample"
    sample = write_relabel_sample(sample_dir, n=n_images, seed=seed, li=li, labeller_seed=labeller_seed)
    return {"mode": "toy", "sample_dir": sample_dir, "labels_csv": sample_dir / "hand_labels.csv",
            "li": li, "text": f"{li.name}: {li.n_images:,} scenes, {li.n_classes} classes; wrote "
                              f"{len(sample)} maps to {sample_dir}"}


def _names(class_labels, class_ids) -> list[str]:
    """Class labels of ``class_ids`` (their ids as text when the label space is unknown)."""
    return [class_labels[c] if class_labels is not None else str(c) for c in class_ids]


def _image_file(sample_dir: Path, image_id: str) -> Path | None:
    """The picture beside a label map (``<image_id>.png`` / ``.jpg`` / ``.JPEG``), or None."""
    return next((Path(sample_dir) / f"{image_id}{ext}" for ext in _IMAGE_EXTENSIONS
                 if (Path(sample_dir) / f"{image_id}{ext}").exists()), None)


def _sample_images(sample_dir, image_ids: Sequence[str]) -> list[np.ndarray] | None:
    """The RGB pictures of ``image_ids`` from ``sample_dir``, or None when any one is missing."""
    files = [_image_file(Path(sample_dir), i) for i in image_ids]
    if any(f is None for f in files):
        return None
    from PIL import Image

    return [np.asarray(Image.open(f).convert("RGB")) for f in files]


def label_map_figure(cal: Mapping, sample_dir, k: int | None = None):
    """One label map beside its image: top-1 class per cell and top-1 softmax probability.

    Parameters
    ----------
    cal : dict
        From :func:`calibrate_directory`.
    sample_dir : path-like
        The folder of the maps; the image ``<image_id>.png`` (or ``.jpg``) is shown when present.
    k : int, optional
        Row of the image to show; default the busiest image (most hand labels).

    Returns
    -------
    matplotlib.figure.Figure
        Three panels; cells of hand-labelled classes coloured, the rest grey; the four corners
        (ignored by the decoder) outlined in red.
    """
    import matplotlib.pyplot as plt

    from .labelmaps import cell_probabilities, top1_grid

    truth, ids, maps = cal["truth"], cal["image_ids"], cal["maps"]
    k = int(np.argmax(truth.sum(axis=1))) if k is None else int(k)
    top1, p1 = top1_grid(maps[k:k + 1])[0], cell_probabilities(maps[k:k + 1])[0, 0]
    present = set(np.flatnonzero(truth[k]))
    fig, axes = plt.subplots(1, 3, figsize=(10.5, 3.6))
    img = _sample_images(sample_dir, [ids[k]])
    if img is not None:
        axes[0].imshow(img[0], interpolation="nearest")
    axes[0].set_title(f"{ids[k]}\nhand labels: " + ", ".join(_names(cal["class_labels"], sorted(present))),
                      fontsize=7)
    shown = np.where(np.isin(top1, list(present)), top1, -1)
    axes[1].imshow(np.ma.masked_less(shown, 0), cmap="tab20", vmin=0,
                   vmax=max(20, cal["confidences"].shape[1]))
    axes[1].imshow(np.ma.masked_greater_equal(shown, 0), cmap="Greys", vmin=-3, vmax=1, alpha=0.5)
    axes[1].set_title("top-1 class per cell\n(labelled classes coloured)", fontsize=8)
    im = axes[2].imshow(p1, cmap="viridis", vmin=0.2, vmax=1.0)
    axes[2].set_title("top-1 softmax probability", fontsize=8)
    fig.colorbar(im, ax=axes[2], fraction=0.046)
    for ax in axes[1:]:
        for r, c in ((0, 0), (0, 14), (14, 0), (14, 14)):
            ax.add_patch(plt.Rectangle((c - 0.5, r - 0.5), 1, 1, fill=False, ec="red", lw=1.5))
    for ax in axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def choice_text(choice: Mapping, paper: Mapping | None = None) -> str:
    """One line: the chosen threshold with its FP / FN, beside the paper's (App. B).

    Examples
    --------
    >>> choice_text({"rule": "crossing", "threshold": 0.994, "fp": 3, "fn": 4})
    'chosen (crossing): 0.994 -> 3 FP, 4 FN; paper: 0.994 -> 14 FP, 16 FN'
    """
    from .reference import CALIBRATION

    p = CALIBRATION if paper is None else paper
    return (f"chosen ({choice['rule']}): {choice['threshold']:.3f} -> {choice['fp']} FP, "
            f"{choice['fn']} FN; paper: {p['threshold']:.3f} -> {p['false_positives']} FP, "
            f"{p['false_negatives']} FN")


def rules_table(choice: Mapping, reference_sweep) -> pd.DataFrame:
    """Every threshold rule applied to our sweep and to a recorded one (the authors').

    Parameters
    ----------
    choice : dict
        From :func:`_choose` on our sweep.
    reference_sweep : sequence of (threshold, fp, fn)
        E.g. ``nbkit.reference.FIGURE7_AUTHORS["sweep"]["value"]``.

    Returns
    -------
    DataFrame
        Columns ``rule, source, threshold, fp, fn, fp_plus_fn``; one row per rule and source
        (``ours``, ``authors' recorded sweep``).

    Examples
    --------
    >>> authors = [(0.993, 16, 15), (0.994, 14, 16)]
    >>> t = rules_table(_choose(pd.DataFrame(authors, columns=["threshold", "fp", "fn"])), authors)
    >>> t.loc[t["source"] != "ours", ["rule", "threshold"]].values.tolist()
    [['crossing', 0.994], ['balanced', 0.993], ['min_total', 0.994]]
    """
    cols = ["threshold", "fp", "fn", "fp_plus_fn"]
    theirs = _choose(pd.DataFrame(reference_sweep, columns=["threshold", "fp", "fn"]))
    return pd.DataFrame([{"rule": r, "source": src, **{c: ch[r][c] for c in cols}}
                         for src, ch in (("ours", choice), ("authors' recorded sweep", theirs))
                         for r in _RULES])


def decoding_options(sample_dir, labels_csv, levels, rule: str, at: float,
                     variants: Mapping[str, Mapping] | None = None) -> pd.DataFrame:
    """Rerun the calibration under each decoding variant (corners, ``>`` / ``>=``, top-k).

    Parameters
    ----------
    sample_dir, labels_csv, levels, rule
        As for :func:`calibrate_directory`.
    at : float
        A threshold of ``levels`` (our choice) at which every variant's FP / FN is also reported.
    variants : dict, optional
        Label -> keywords of :func:`calibrate_directory`; default :data:`DECODING_VARIANTS`.

    Returns
    -------
    DataFrame
        One row per variant: ``decoding, chosen_threshold, fp_at_chosen, fn_at_chosen`` and
        ``fp_at_<at>, fn_at_<at>`` (``at`` with three decimals).
    """
    rows = []
    for name, opt in (DECODING_VARIANTS if variants is None else variants).items():
        r = calibrate_directory(sample_dir, labels_csv, levels=levels, rule=rule, **opt)
        here = r["sweep"].set_index("threshold").loc[at]
        rows.append({"decoding": name, "chosen_threshold": r["choice"]["threshold"],
                     "fp_at_chosen": int(r["choice"]["fp"]), "fn_at_chosen": int(r["choice"]["fn"]),
                     f"fp_at_{at:.3f}": int(here["fp"]), f"fn_at_{at:.3f}": int(here["fn"])})
    return pd.DataFrame(rows)


def _chosen_thresholds(conf, truth, levels, rule, rng, n_sample: int, draws: int) -> np.ndarray:
    """Thresholds chosen on ``draws`` random ``n_sample``-image subsets (rows of ``conf``)."""
    return np.array([_choose(_sweep(conf[idx], truth[idx], levels), rule)["threshold"]
                     for idx in (rng.choice(len(conf), n_sample, replace=False) for _ in range(draws))])


def large_sample_study(li, n_images: int, levels, rule: str = "crossing", seed: int = 0,
                       labeller_seed: int = 0, large_sample: int = 1000, draws: int = 200,
                       size_draws: int = 200) -> dict:
    """How much a small calibration varies: a large toy sample and many small ones drawn from it.

    Decodes ``large_sample`` seeded toy scenes (capped at the dataset size) with the simulated
    labeller, chooses the threshold on the whole sample (the *expected* crossing), then on
    ``draws`` random ``n_images``-image subsets (the spread of App. B's procedure) and on
    ``size_draws`` random subsets of each size 10, 20, 50, 100, 200 and ``n_images`` smaller than
    the large sample. One generator, seeded from ``[seed, 0x6C617267]``, makes every draw.

    Parameters
    ----------
    li : LabelIndex
        Toy scenes (``nbkit.datasets.toyscenes``).
    n_images : int
        Size of the hand-labelled sample being judged (the paper: 20).
    levels : array
        Thresholds (:func:`thresholds`).
    rule : str
        Threshold rule (:func:`_choose`).
    seed, labeller_seed : int
        Seed of the draws; seed of the simulated labeller.
    large_sample, draws, size_draws : int
        See :func:`effective_sizes`.

    Returns
    -------
    dict
        ``n_large``, ``n_images``, ``sweep`` (DataFrame of the large sample), ``choice`` (its :func:`_choose`),
        ``draws`` (array of chosen thresholds), ``by_size`` (DataFrame ``sample_size, median,
        p05, p95, share_at_0.994``) and ``scale`` (``n_images / n_large``).
    """
    from .datasets.toyscenes import labelmaps
    from .labelmaps import class_confidence

    n_large = min(int(large_sample), li.n_images)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, 0x6C617267])))
    rows = np.sort(rng.choice(li.n_images, n_large, replace=False))
    conf = class_confidence(labelmaps(li, rows, seed=labeller_seed), n_classes=li.n_classes)
    truth = li.Y[rows].toarray()
    sw = _sweep(conf, truth, levels)
    drawn = _chosen_thresholds(conf, truth, levels, rule, rng, int(n_images), draws)
    by_size = []
    for n_s in sorted({10, 20, 50, 100, 200, int(n_images)}):
        if n_s < n_large:
            th = _chosen_thresholds(conf, truth, levels, rule, rng, n_s, size_draws)
            by_size.append({"sample_size": n_s, "median": float(np.median(th)),
                            "p05": float(np.quantile(th, 0.05)), "p95": float(np.quantile(th, 0.95)),
                            "share_at_0.994": float(np.mean(np.isclose(th, 0.994)))})
    return {"n_large": n_large, "n_images": int(n_images), "sweep": sw, "choice": _choose(sw, rule),
            "draws": drawn, "by_size": pd.DataFrame(by_size), "scale": int(n_images) / n_large}


def plot_variability(study: Mapping, choice: Mapping, start: float, stop: float, step: float,
                     paper_threshold: float = 0.994):
    """The large-sample study as a figure: expected FP / FN curves and the spread of small samples.

    Parameters
    ----------
    study : dict
        From :func:`large_sample_study`.
    choice : dict
        This notebook's own choice (:func:`_choose`), marked on the histogram.
    start, stop, step : float
        The sweep's range (histogram bins are one per threshold).
    paper_threshold : float
        Marked on the curves (the paper: 0.994).

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    sw, ch, draws, scale = study["sweep"], study["choice"], study["draws"], study["scale"]
    n_small = study["n_images"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    axes[0].plot(sw["threshold"], sw["fp"] * scale, color="tab:red", label=f"FP per {n_small} images")
    axes[0].plot(sw["threshold"], sw["fn"] * scale, color="tab:blue", label=f"FN per {n_small} images")
    axes[0].axvline(ch["threshold"], color="k", ls="--", lw=1,
                    label=f"expected crossing {ch['threshold']:.3f}")
    axes[0].axvline(paper_threshold, color="tab:green", ls=":", lw=2, label=f"paper {paper_threshold}")
    axes[0].set_xlabel("threshold")
    axes[0].legend(fontsize=8)
    axes[0].set_ylim(bottom=0)
    axes[0].set_title(f"{study['n_large']} images, scaled to {n_small}", fontsize=9)
    axes[1].hist(draws, bins=thresholds(start, stop + step, step) - step / 2, color="grey")
    axes[1].axvline(choice["threshold"], color="k", ls="--", lw=1, label="this notebook's sample")
    axes[1].set_xlim(max(start, draws.min() - 0.005), stop)
    axes[1].set_xlabel(f"chosen threshold of a random {n_small}-image sample")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    return fig


def _large_sample_record(study: Mapping | None) -> dict | None:
    """The ``large_sample`` entry of notebook 01's results (None when the study was skipped).

    Returns
    -------
    dict or None
        ``n_images`` (large sample size), ``threshold`` (its expected crossing),
        ``fp_per_sample`` / ``fn_per_sample`` (its FP / FN at that threshold scaled to the
        hand-labelled sample size), ``draws`` and ``draw_threshold_median`` / ``_p05`` / ``_p95``
        (thresholds chosen on random small samples), ``by_sample_size`` (records).
    """
    if study is None:
        return None
    ch, draws, scale = study["choice"], study["draws"], study["scale"]
    return {"n_images": study["n_large"], "threshold": ch["threshold"],
            "fp_per_sample": ch["fp"] * scale, "fn_per_sample": ch["fn"] * scale,
            "draws": int(len(draws)), "draw_threshold_median": float(np.median(draws)),
            "draw_threshold_p05": float(np.quantile(draws, 0.05)),
            "draw_threshold_p95": float(np.quantile(draws, 0.95)),
            "by_sample_size": study["by_size"].to_dict(orient="records")}


def labelling_aid(cal: Mapping, threshold: float, sample_dir) -> dict:
    """What the labelling aid shows: the sample's pictures and, per image, decoded and hand labels.

    Parameters
    ----------
    cal : dict
        From :func:`calibrate_directory`.
    threshold : float
        Decoding threshold (the paper's options otherwise, ``nbkit.labelmaps.decode``).
    sample_dir : path-like
        The folder of the maps, where ``<image_id>.png`` (or ``.jpg``) pictures may lie.

    Returns
    -------
    dict
        ``images`` (RGB arrays, or None when any picture is missing), ``predicted`` and ``truth``
        (per image, the list of class labels decoded at ``threshold`` / hand-labelled).
    """
    from .labelmaps import decode

    labels = cal["class_labels"]
    pred = decode(cal["maps"], threshold, n_classes=cal["confidences"].shape[1])
    return {"images": _sample_images(sample_dir, cal["image_ids"]),
            "predicted": [_names(labels, np.flatnonzero(p)) for p in pred],
            "truth": [_names(labels, np.flatnonzero(t)) for t in cal["truth"]]}


def calibration_results(cal: Mapping, options: pd.DataFrame, study: Mapping | None, *, mode: str,
                        dataset: str, relabel_dir: str, timing: Mapping) -> dict:
    """Notebook 01's ``results.json`` (schema ``01_calibration``), built from its objects.

    Parameters
    ----------
    cal : dict
        From :func:`calibrate_directory` (its ``choice`` carries the rule).
    options : DataFrame
        From :func:`decoding_options`.
    study : dict or None
        From :func:`large_sample_study` (None when it was skipped: real mode, ``large_sample = 0``).
    mode, dataset, relabel_dir : str
        ``"toy"`` or ``"real"``; the dataset spec (toy) or ReLabel folder (real) recorded.
    timing : dict
        Wall-clock seconds.

    Returns
    -------
    dict
        The keys ``nbkit.schema`` documents for ``01_calibration``.
    """
    from .reference import CALIBRATION as paper

    choice, sw, truth = cal["choice"], cal["sweep"], cal["truth"]
    return {
        "mode": mode, "dataset": dataset if mode == "toy" else str(relabel_dir),
        "n_images": len(cal["image_ids"]), "rule": choice["rule"],
        **{k: choice[k] for k in ("threshold", "fp", "fn", "fp_plus_fn")},
        "curves_cross": choice["crossing"]["curves_cross"],
        **{r: choice[r] for r in _RULES},
        "fp_at_start": int(sw["fp"].iloc[0]), "fn_at_start": int(sw["fn"].iloc[0]),
        "fp_at_stop": int(sw["fp"].iloc[-1]), "fn_at_stop": int(sw["fn"].iloc[-1]),
        "n_true_labels": int(truth.sum()),
        "decoding_options": options.to_dict(orient="records"),
        "large_sample": _large_sample_record(study),
        "paper": {"threshold": paper["threshold"], "fp": paper["false_positives"],
                  "fn": paper["false_negatives"], "n_images": paper["n_images"],
                  "fp_plus_fn": paper["false_positives"] + paper["false_negatives"]},
        "timing": dict(timing),
    }


__all__ = ["DECODING_VARIANTS", "thresholds",
           "calibrate_directory", "plot_sweep", "labelling_grid", "write_label_template",
           "effective_sizes", "prepare_sample", "label_map_figure", "choice_text", "rules_table",
           "decoding_options", "large_sample_study", "plot_variability", "labelling_aid",
           "calibration_results"]
