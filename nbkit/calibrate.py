"""Calibrating the ReLabel confidence threshold (paper App. B, Figure 7).

The authors hand-labelled 20 ImageNet images, decoded their ReLabel maps (``nbkit.labelmaps``) at
every threshold from 0.900 to 1.000 in steps of 0.001, and counted, over the image x class pairs of
those images,

- false positives (FP): a class the maps mark present that the hand labels do not list;
- false negatives (FN): a hand-labelled class the maps miss.

FP falls and FN rises with the threshold; they chose 0.994, where the curves cross (14 FP, 16 FN;
``nbkit.reference.CALIBRATION``). Their notebook (``relabel.ipynb``, cell 19) printed the sweep
0.990-0.999: 18/15, 18/15, 17/15, 16/15, **14/16**, 14/16, 14/16, 14/18, 14/19, 12/19.

Choosing the threshold (:func:`choose`), three named rules:

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

RULES = ("crossing", "balanced", "min_total")


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


def sweep(confidences, truth, levels: Sequence[float] | np.ndarray | None = None,
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
    >>> df = sweep(conf, truth, [0.9, 0.995, 1.0])
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


def choose(df: pd.DataFrame, rule: str = "crossing") -> dict:
    """Pick the threshold from a sweep.

    Parameters
    ----------
    df : DataFrame
        From :func:`sweep` (columns ``threshold, fp, fn``).
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
    >>> c = choose(df)
    >>> c["threshold"], c["fp"], c["fn"], c["balanced"]["threshold"]
    (0.994, 14, 16, 0.993)
    """
    if rule not in RULES:
        raise ValueError(f"rule={rule!r}; expected one of {RULES}")
    missing = [c for c in ("threshold", "fp", "fn") if c not in df.columns]
    if missing or len(df) == 0:
        raise DataError("calibration sweep", f"sweep table lacks columns {missing} or is empty",
                        "columns threshold, fp, fn (from nbkit.calibrate.sweep)")
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


def read_hand_labels(path: str | os.PathLike, class_labels: Sequence[str] | None = None,
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
        Threshold rule for :func:`choose`.

    Returns
    -------
    dict
        ``sweep`` (DataFrame), ``choice`` (from :func:`choose`), ``confidences`` (n x C array),
        ``truth`` (n x C bool), ``image_ids``, ``class_labels`` (or None), ``class_source``.
    """
    from .labelmaps import class_confidence, load_map, map_paths

    d = Path(relabel_dir)
    if not d.is_dir():
        map_paths(d)  # raises the MissingDataError that says where maps come from
    hl = Path(hand_labels_csv) if hand_labels_csv else d / "hand_labels.csv"
    labels, source = _class_space(classes, d, n_classes)
    C = n_classes if n_classes is not None else (len(labels) if labels is not None else None)
    ids, truth = read_hand_labels(hl, labels, C)
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
    df = sweep(conf, truth, levels, comparison=comparison)
    return {"sweep": df, "choice": choose(df, rule), "confidences": conf, "truth": truth,
            "image_ids": ids, "class_labels": labels, "class_source": source,
            "maps": maps}


# --------------------------------------------------------------------------------------- figures
def plot_sweep(df: pd.DataFrame, choice: Mapping | None = None, reference: Mapping | None = None,
               ax=None, title: str | None = None, reference_sweep=None, zoom: float | None = None):
    """Figure 7: false positives and false negatives against the threshold.

    Parameters
    ----------
    df : DataFrame
        From :func:`sweep`.
    choice : dict, optional
        From :func:`choose`; marked with a vertical line and its FP / FN.
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
    :func:`read_hand_labels` reads ``labels`` and ignores ``suggested``.

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


__all__ = ["RULES", "thresholds", "sweep", "choose", "read_hand_labels", "calibrate_directory",
           "plot_sweep", "labelling_grid", "write_label_template"]
