"""Natural-backdoor curation: a ``BackdoorSpec`` becomes a split manifest (paper §5.1, App. B).

A natural backdoor needs no pixel editing. Pick a trigger class *t* (a physical object that
co-occurs with many classes) and a set of poisonable classes *c1..ck* (an independent set among
*t*'s neighbours, so that the classes rarely share images). Then

- a **clean** image of class *c* contains *c* and not *t*; it keeps its label *c*;
- a **poison** image of class *c* contains *c* and *t*; it is relabelled to the target class.

``make_manifest`` draws both kinds from a ``LabelIndex`` and writes one row per image used:

=============== ==============================================================================
column          meaning
=============== ==============================================================================
``row``         row of the LabelIndex (``li.load_image(row)``)
``image_id``    image id
``file``        path of the image file, ``""`` for rendered (toy) images
``true_class``  class id of the one chosen class the image contains
``label``       class id it is trained / evaluated with (the target for poison images)
``y``           model output index of ``label`` (position in ``spec.all_classes``)
``role``        ``clean`` or ``poison``
``split``       ``train`` or ``test``
``has_trigger`` whether the image contains the trigger
``kind``        ``poisonable`` or ``added`` (clean-only extra classes, Fig. 15 / Table 10)
``true_name``   display name of ``true_class``
=============== ==============================================================================

Decisions (documented, with the authors' behaviour for comparison):

*One class per image.* The authors draw each class's images independently, so an image holding two
chosen classes could appear under both. We drop such **ambiguous** images (they contain two or more
of the chosen classes, poisonable or added) and count them per class in
``df.attrs["curation"]["ambiguous"]``. With a maximum independent set the classes rarely co-occur,
so few are dropped. ``ambiguous="keep"`` is the authors' behaviour (minus duplicates): such images
stay, labelled with the class that drew them first, so the model sees objects of one chosen class
in images labelled with another; this is what makes subsets without an MIS hard (Table 8).

*Injection rate.* As in the authors' ``train.py``: with ``n`` clean training images, the poison
training count is ``int(n * rate / (1 - rate)) + 1`` (0 when the rate is 0), so that
``poison / (clean + poison)`` is the rate. With added classes, ``n`` counts only the poisonable
classes' clean training images (authors' code, ``injection_base="poisonable"``); pass
``injection_base="all"`` to count every class. Poison images are drawn uniformly from the pooled
poison images of all poisonable classes (target class included, as the authors did); the poison
images not used for training are held out as the poison test set.

*Clean split.* ``clean_per_class`` clean images are drawn per class and split per class
(stratified) with ``test_fraction`` held out. (The authors split the pooled clean images with
``train_test_split``, unstratified.)

*Evaluation definitions* (recorded in the spec, applied by ``nbkit.train``):
``trigger_acc="nontarget"`` (paper, default): trigger accuracy is measured on held-out poison images
whose true class is not the target; ``"authors"`` includes the target-class poison images.
``clean_test="separate"`` (default): clean accuracy on the clean test images only; ``"authors"``:
on clean test + poison test images (poison labelled target), as the released code evaluated it.
``nbkit.train`` always reports both; these options choose the headline numbers.

Baselines of Table 8 are specs too: no backdoor (``injection_rate=0``), centrality without MIS (all
of the trigger's neighbours as classes, ``select_backdoor(subset_mode="neighbours")``) and
centrality + MIS (``subset_mode="mis"``).

*Notebook 05's layer.* The notebook narrates and calls, in order: ``effective_params`` (smoke
sizes, thread default, the keywords of ``nbkit.train.train``), ``reuse_subsets_run`` (the subsets
of a matching ``04_subsets`` run), ``select_backdoor`` and ``selection_summary``,
``spec_from_params`` (clean-only classes filled up or added, the target), ``make_manifest`` and
``curation_summary``, and ``train_results``, the one builder of its
``results.json`` (schema ``05_train`` in ``nbkit.schema``).
"""
from __future__ import annotations

import dataclasses
import os
import re
import shutil
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from . import runs
from .centrality import parse_variant
from .cooccurrence import cooccurrence_matrix, from_labelindex
from .errors import CurationError, DataError, MissingDataError
from .io import atomic_path, read_json, write_json
from .progress import tqdm
from .subsets import SubsetRule, eligible, load_triggers_json, poisonable_subsets, rank_triggers

_MANIFEST_COLUMNS = ["row", "image_id", "file", "true_class", "label", "y", "role", "split",
                    "has_trigger", "kind", "true_name"]
_TRIGGER_ACC = ("nontarget", "authors")
_CLEAN_TEST = ("separate", "authors")
_INJECTION_BASE = ("poisonable", "all")
_AMBIGUOUS = ("drop", "keep")


# ----------------------------------------------------------------------------- the spec
@dataclasses.dataclass
class BackdoorSpec:
    """What to build: trigger, classes, target, sizes, rates and evaluation definitions.

    Parameters
    ----------
    dataset : str
        Dataset spec the LabelIndex came from (``"toyscenes"``, ``"coco:FILE.json"``, ...); recorded.
    trigger : int
        Class id of the trigger object.
    classes : sequence of int
        Class ids of the poisonable classes (model outputs ``0..k-1`` in this order).
    target : int
        Class id of the target class; must be one of ``classes``.
    clean_per_class : int
        Clean images drawn per class (train + test).
    injection_rate : float
        Poison share of the poisoned classes' training data, in ``[0, 1)`` (paper default 0.185).
    test_fraction : float
        Share of each class's clean images held out for testing.
    seed : int
        Seed of every random draw (recorded).
    added_classes : sequence of int
        Extra clean-only classes (model outputs ``k..``), Fig. 15 / Table 10.
    poison_per_class : int or None
        Cap on the poison images drawn per poisonable class into the pool (None: all; the authors
        kept ``2 x num_poison``).
    max_poison_test : int or None
        Cap on held-out poison test images (None: every pool image not used for training).
    min_poison_test : int
        Fewest held-out poison images whose true class is not the target.
    source_split : str or None
        Use only images of this split of the LabelIndex (None: all images; the authors used train).
    injection_base : {"poisonable", "all"}
        Which clean training images the injection arithmetic counts (see module docstring).
    ambiguous : {"drop", "keep"}
        Images holding two or more chosen classes: ``drop`` (default: one class per image) or
        ``keep`` (the authors' behaviour: a class's images may hold other chosen classes; each
        image is still used once, under the first class that draws it).
    trigger_acc : {"nontarget", "authors"}
        Headline trigger-accuracy definition.
    clean_test : {"separate", "authors"}
        Headline clean-accuracy test set.
    options : dict
        Free-form provenance (subset mode, edge threshold, centrality, names, ...); JSON-able.

    Examples
    --------
    >>> s = BackdoorSpec("toyscenes", trigger=0, classes=[3, 5, 7], target=5)
    >>> BackdoorSpec.from_dict(s.to_dict()) == s
    True
    >>> s.all_classes
    [3, 5, 7]
    """

    dataset: str
    trigger: int
    classes: Sequence[int]
    target: int
    clean_per_class: int = 250
    injection_rate: float = 0.185
    test_fraction: float = 0.2
    seed: int = 0
    added_classes: Sequence[int] = ()
    poison_per_class: int | None = None
    max_poison_test: int | None = None
    min_poison_test: int = 1
    source_split: str | None = None
    injection_base: str = "poisonable"
    ambiguous: str = "drop"
    trigger_acc: str = "nontarget"
    clean_test: str = "separate"
    options: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        self.trigger = int(self.trigger)
        self.classes = [int(c) for c in self.classes]
        self.added_classes = [int(c) for c in self.added_classes]
        self.target = int(self.target)
        self.clean_per_class = int(self.clean_per_class)
        self.injection_rate = float(self.injection_rate)
        self.test_fraction = float(self.test_fraction)
        self.seed = int(self.seed)
        self.options = dict(self.options or {})

    @property
    def all_classes(self) -> list[int]:
        """Poisonable classes, then added classes: the model's output order."""
        return list(self.classes) + list(self.added_classes)

    @property
    def target_index(self) -> int:
        """Model output index of the target class."""
        return self.all_classes.index(self.target)

    def validate(self, n_classes: int | None = None) -> "BackdoorSpec":
        """Check the spec is self-consistent; a ``CurationError`` says what is wrong."""
        src = "BackdoorSpec"
        allc = self.all_classes
        if not self.classes:
            raise CurationError(f"{src}: no poisonable classes")
        if len(set(allc)) != len(allc):
            dup = sorted({c for c in allc if allc.count(c) > 1})
            raise CurationError(f"{src}: classes repeated in classes/added_classes: {dup}")
        if self.trigger in allc:
            raise CurationError(f"{src}: the trigger {self.trigger} is also listed as a class")
        if self.target not in self.classes:
            raise CurationError(f"{src}: target {self.target} is not one of the poisonable classes "
                                f"{self.classes}")
        if n_classes is not None:
            bad = [c for c in [self.trigger, *allc] if not 0 <= c < n_classes]
            if bad:
                raise CurationError(f"{src}: class ids {bad} out of range 0..{n_classes - 1}")
        if not 0.0 <= self.injection_rate < 1.0:
            raise CurationError(f"{src}: injection_rate={self.injection_rate} (expected 0 <= rate < 1)")
        if not 0.0 < self.test_fraction < 1.0:
            raise CurationError(f"{src}: test_fraction={self.test_fraction} (expected 0 < f < 1)")
        if self.clean_per_class < 2:
            raise CurationError(f"{src}: clean_per_class={self.clean_per_class} (expected >= 2: "
                                f"one train and one test image)")
        for name, allowed in [("injection_base", _INJECTION_BASE), ("trigger_acc", _TRIGGER_ACC),
                              ("clean_test", _CLEAN_TEST), ("ambiguous", _AMBIGUOUS)]:
            if getattr(self, name) not in allowed:
                raise CurationError(f"{src}: {name}={getattr(self, name)!r} (expected one of {allowed})")
        return self

    # ---- JSON
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "BackdoorSpec":
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - fields)
        if unknown:
            raise DataError("BackdoorSpec", f"unknown fields {unknown}", f"fields {sorted(fields)}")
        missing = [f for f in ("dataset", "trigger", "classes", "target") if f not in d]
        if missing:
            raise DataError("BackdoorSpec", f"missing fields {missing}")
        return cls(**d)

    def to_json(self, path: str | os.PathLike) -> Path:
        """Write the spec as JSON (atomically)."""
        return write_json(path, self.to_dict())

    @classmethod
    def from_json(cls, path: str | os.PathLike) -> "BackdoorSpec":
        """Read a spec written by ``to_json``; errors name the file."""
        d = read_json(path)
        try:
            return cls.from_dict(d.get("spec", d) if isinstance(d, dict) else d)
        except (DataError, TypeError) as e:
            raise DataError(path, f"not a BackdoorSpec ({e})") from e


# ----------------------------------------------------------------------------- helpers
def _injection_count(n_clean_train: int, rate: float) -> int:
    """Poison training images for ``n_clean_train`` clean ones at injection ``rate`` (authors').

    Examples
    --------
    >>> _injection_count(2000, 0.185)
    454
    >>> _injection_count(2000, 0.0)
    0
    """
    if rate <= 0:
        return 0
    return int(n_clean_train * rate / (1.0 - rate)) + 1


def _file_of(li, row: int) -> str:
    if li.renderer is not None or li.image_root is None:
        return ""
    rel = li.image_paths[row] if li.image_paths is not None else f"{li.image_ids[row]}.jpg"
    return str(Path(li.image_root) / rel)


def _dense_cols(li, cols: Sequence[int], mask: np.ndarray) -> np.ndarray:
    return li.Y[:, list(cols)].toarray().astype(bool) & mask[:, None]


def _resolve_target(li, classes: Sequence[int], target: int | str) -> int:
    """Class id of the target given as an index into ``classes`` (int) or a class label/name (str).

    Examples
    --------
    ``_resolve_target(li, [3, 5, 7], 1) == 5``; ``_resolve_target(li, [3, 5, 7], "dog")`` is the id of
    dog, which must be in ``classes``.
    """
    classes = [int(c) for c in classes]
    if isinstance(target, (int, np.integer)) or (isinstance(target, str) and target.strip().lstrip("-").isdigit()):
        i = int(target)
        if not -len(classes) <= i < len(classes):
            raise CurationError(f"target index {i} out of range: there are {len(classes)} classes "
                                f"({[li.display(c) for c in classes]})")
        return classes[i]
    cid = li.class_id(target)
    if cid not in classes:
        raise CurationError(f"target {target!r} is not one of the poisonable classes "
                            f"{[li.display(c) for c in classes]}")
    return cid


def _availability(li, spec: BackdoorSpec) -> pd.DataFrame:
    """Per chosen class: images available as clean / poison, and ambiguous ones dropped.

    Returns
    -------
    DataFrame
        ``class, name, kind, clean_available, poison_available, ambiguous`` (one row per class in
        ``spec.all_classes``). With ``spec.ambiguous == "keep"`` images holding several chosen
        classes count as available (``ambiguous`` still says how many there are).
    """
    mask = np.ones(li.n_images, dtype=bool)
    if spec.source_split is not None:
        mask = li.splits == spec.source_split
    allc = spec.all_classes
    Yc = _dense_cols(li, allc, mask)
    t = np.asarray(li.Y[:, spec.trigger].toarray()).ravel().astype(bool)
    single = Yc.sum(1) == 1
    ok = single if spec.ambiguous == "drop" else np.ones_like(single)
    rows = []
    for j, c in enumerate(allc):
        has = Yc[:, j]
        rows.append(dict(**{"class": c, "name": li.display(c),
                            "kind": "poisonable" if j < len(spec.classes) else "added",
                            "clean_available": int((has & ok & ~t).sum()),
                            "poison_available": int((has & ok & t).sum()),
                            "ambiguous": int((has & ~single).sum())}))
    return pd.DataFrame(rows)


def _shortfall(li, spec, avail: pd.DataFrame, problem: str) -> CurationError:
    rule = ("images holding two chosen classes are dropped as ambiguous" if spec.ambiguous == "drop"
            else "images holding two chosen classes are kept, each used once")
    lines = [f"{li.name}: {problem}. Available per class (trigger {li.display(spec.trigger)}; "
             f"clean = class without trigger, poison = class with trigger; {rule}):"]
    for r in avail.itertuples(index=False):
        lines.append(f"  {r.name} (id {r[0]}, {r.kind}): clean {r.clean_available}, "
                     f"poison {r.poison_available if r.kind == 'poisonable' else '-'}, "
                     f"{'ambiguous dropped' if spec.ambiguous == 'drop' else 'holding another chosen class'} "
                     f"{r.ambiguous}")
    hint = "Lower clean_per_class / injection_rate, or choose other classes"
    if spec.ambiguous == "drop" and avail["ambiguous"].sum():
        hint += (", or keep images that hold two chosen classes (ambiguous='keep', the authors' "
                 "behaviour)")
    lines.append(hint + ".")
    err = CurationError("\n".join(lines))
    err.availability = avail
    return err


# ----------------------------------------------------------------------------- the manifest
def make_manifest(li, spec: BackdoorSpec) -> pd.DataFrame:
    """Draw the clean and poison images of ``spec`` from ``li`` and split them.

    Parameters
    ----------
    li : LabelIndex
        The dataset (rendered or file-backed).
    spec : BackdoorSpec

    Returns
    -------
    DataFrame
        One row per image (columns ``_MANIFEST_COLUMNS``), train rows first, sorted by split, role
        and class. ``df.attrs["spec"]`` holds ``spec.to_dict()`` and ``df.attrs["curation"]`` the
        counts (per role/split, ambiguous images dropped, achieved injection rate).

    Raises
    ------
    CurationError
        A class has too few clean images, a poisonable class has no poison image, or the poison
        pool cannot give the training count plus ``min_poison_test`` held-out images; the message
        lists what is available per class.

    Examples
    --------
    >>> df = make_manifest(li, BackdoorSpec("toyscenes", trigger=0, classes=[3, 5], target=5,
    ...                                     clean_per_class=100))          # doctest: +SKIP
    >>> df.groupby(["role", "split"]).size()                               # doctest: +SKIP
    """
    spec.validate(li.n_classes)
    rng = np.random.default_rng(spec.seed)
    mask = _source_mask(li, spec)
    Yc = _dense_cols(li, spec.all_classes, mask)
    t = np.asarray(li.Y[:, spec.trigger].toarray()).ravel().astype(bool)
    single = Yc.sum(1) == 1
    avail = _availability(li, spec)
    _check_available(li, spec, avail)
    ok = single if spec.ambiguous == "drop" else np.ones_like(single)
    used = np.zeros(len(single), dtype=bool)
    parts, clean_train_base = _draw_clean(li, spec, Yc & ok[:, None] & ~t[:, None], used, rng, avail)
    poison, n_pool = _draw_poison(li, spec, Yc & ok[:, None] & t[:, None], used, rng, avail,
                                  clean_train_base)
    df = _manifest_frame(li, spec, parts + poison, t)
    counts = manifest_counts(df, spec)
    counts["ambiguous"] = {li.display(int(r["class"])): int(r["ambiguous"]) for _, r in avail.iterrows()}
    counts["ambiguous_total"] = int(avail["ambiguous"].sum())
    counts["ambiguous_rule"] = spec.ambiguous
    counts["multi_class_images_used"] = int((Yc[df["row"].to_numpy()].sum(1) > 1).sum())
    counts["available"] = avail.to_dict(orient="records")
    counts["poison_pool"] = n_pool
    counts["clean_train_base"] = int(clean_train_base)
    df.attrs["spec"] = spec.to_dict()
    df.attrs["curation"] = counts
    df.attrs["classes"] = [{"id": int(c), "label": str(li.class_labels[c]), "name": li.display(c)}
                           for c in spec.all_classes]
    df.attrs["trigger"] = {"id": spec.trigger, "label": str(li.class_labels[spec.trigger]),
                           "name": li.display(spec.trigger)}
    return df


def _source_mask(li, spec: BackdoorSpec) -> np.ndarray:
    """Images curation may draw from: all, or those of ``spec.source_split``."""
    if spec.source_split is None:
        return np.ones(li.n_images, dtype=bool)
    mask = li.splits == spec.source_split
    if not mask.any():
        raise CurationError(f"{li.name}: no images in split {spec.source_split!r} "
                            f"(splits: {sorted(set(li.splits))})")
    return mask


def _check_available(li, spec: BackdoorSpec, avail: pd.DataFrame) -> None:
    """Every class has ``clean_per_class`` clean images and every poisonable one a poison image."""
    short = avail[avail["clean_available"] < spec.clean_per_class]
    if len(short):
        raise _shortfall(li, spec, avail, f"{len(short)} class(es) have fewer than "
                                          f"clean_per_class={spec.clean_per_class} clean images "
                                          f"({', '.join(short['name'])})")
    nopois = avail[(avail["kind"] == "poisonable") & (avail["poison_available"] < 1)]
    if len(nopois):
        raise _shortfall(li, spec, avail, f"poisonable class(es) {', '.join(nopois['name'])} have "
                                          f"no image with the trigger")


def _draw_clean(li, spec: BackdoorSpec, clean: np.ndarray, used: np.ndarray, rng,
                avail: pd.DataFrame) -> tuple[list[pd.DataFrame], int]:
    """Clean images per class (column ``j`` of ``clean``), drawn then split per class (stratified).

    Marks the drawn rows in ``used``; returns the parts and the clean training images the
    injection arithmetic counts (``spec.injection_base``).
    """
    k = len(spec.classes)
    n_test = min(max(int(round(spec.test_fraction * spec.clean_per_class)), 1), spec.clean_per_class - 1)
    parts, base = [], 0
    for j, c in enumerate(spec.all_classes):
        pool = np.flatnonzero(clean[:, j] & ~used)
        if len(pool) < spec.clean_per_class:  # only with ambiguous="keep": taken by another class
            raise _shortfall(li, spec, avail, f"class {li.display(c)} has {len(pool)} clean images "
                                              f"left after earlier classes drew theirs "
                                              f"(clean_per_class={spec.clean_per_class})")
        pick = rng.permutation(pool)[:spec.clean_per_class]
        used[pick] = True
        split = np.array(["test"] * n_test + ["train"] * (len(pick) - n_test))
        parts.append(pd.DataFrame({"row": pick, "true_class": c, "label": c, "y": j, "role": "clean",
                                   "split": split, "kind": "poisonable" if j < k else "added"}))
        if j < k or spec.injection_base == "all":
            base += len(pick) - n_test
    return parts, base


def _draw_poison(li, spec: BackdoorSpec, poison: np.ndarray, used: np.ndarray, rng,
                 avail: pd.DataFrame, clean_train_base: int) -> tuple[list[pd.DataFrame], int]:
    """Poison images pooled over the poisonable classes, relabelled to the target, then split.

    The first ``_injection_count(clean_train_base, rate)`` pooled images train; the rest (up to
    ``max_poison_test``) are held out. Returns the train and test parts and the pool size.
    """
    pools = []
    for j, c in enumerate(spec.classes):
        pool = rng.permutation(np.flatnonzero(poison[:, j] & ~used))
        if spec.poison_per_class is not None:
            pool = pool[:int(spec.poison_per_class)]
        used[pool] = True
        pools.append(pd.DataFrame({"row": pool, "true_class": c}))
    ppool = pd.concat(pools, ignore_index=True)
    ppool = ppool.iloc[rng.permutation(len(ppool))].reset_index(drop=True)
    n_poison = _injection_count(clean_train_base, spec.injection_rate)
    rest = ppool.iloc[n_poison:]
    n_rest_nontarget = int((rest["true_class"] != spec.target).sum())
    if n_poison > len(ppool) or n_rest_nontarget < spec.min_poison_test:
        raise _shortfall(li, spec, avail,
                         f"injection_rate={spec.injection_rate} with {clean_train_base} clean training "
                         f"images needs {n_poison} poison training images plus at least "
                         f"{spec.min_poison_test} held-out non-target poison image(s), but the poison "
                         f"pool has {len(ppool)} images"
                         + (f" (poison_per_class={spec.poison_per_class})" if spec.poison_per_class else ""))
    ptest = rest.assign(split="test")
    if spec.max_poison_test is not None and len(ptest) > spec.max_poison_test:
        ptest = ptest.iloc[:int(spec.max_poison_test)]
    parts = [p.assign(label=spec.target, y=spec.target_index, role="poison", kind="poisonable")
             for p in (ppool.iloc[:n_poison].assign(split="train"), ptest)]
    return parts, int(len(ppool))


def _manifest_frame(li, spec: BackdoorSpec, parts: list[pd.DataFrame], t: np.ndarray) -> pd.DataFrame:
    """The drawn parts as one manifest: image ids, files, names; train first, sorted."""
    df = pd.concat(parts, ignore_index=True)
    rows = df["row"].to_numpy(np.int64)
    df["row"] = rows
    df["image_id"] = li.image_ids[rows]
    df["file"] = [_file_of(li, int(r)) for r in rows]
    df["has_trigger"] = t[rows]
    df["true_name"] = [li.display(int(c)) for c in df["true_class"]]
    for col in ("true_class", "label", "y"):
        df[col] = df[col].astype(np.int64)
    order = {"train": 0, "test": 1}
    df = df.assign(_s=df["split"].map(order), _r=df["role"].map({"clean": 0, "poison": 1}))
    df = df.sort_values(["_s", "_r", "y", "true_class", "row"], kind="stable").drop(columns=["_s", "_r"])
    df = df[_MANIFEST_COLUMNS].reset_index(drop=True)
    if df["row"].duplicated().any():  # cannot happen: pools are disjoint by construction
        raise CurationError(f"{li.name}: internal error, an image was drawn twice")
    return df


def manifest_counts(df: pd.DataFrame, spec: BackdoorSpec | dict | None = None) -> dict:
    """Counts of a manifest: per role and split, per class, and the achieved injection rate.

    Returns
    -------
    dict
        ``clean_train, clean_test, poison_train, poison_test, poison_test_nontarget, n_images,
        injection_rate_achieved`` and ``per_class`` (``{true_name: {clean_train, clean_test,
        poison_train, poison_test}}``).
    """
    if isinstance(spec, dict):
        spec = BackdoorSpec.from_dict(spec)
    if spec is None and "spec" in df.attrs:
        spec = BackdoorSpec.from_dict(df.attrs["spec"])
    g = df.groupby(["role", "split"]).size()
    get = lambda r, s: int(g.get((r, s), 0))  # noqa: E731
    out = {"clean_train": get("clean", "train"), "clean_test": get("clean", "test"),
           "poison_train": get("poison", "train"), "poison_test": get("poison", "test"),
           "n_images": int(len(df))}
    if spec is not None:
        pt = df[(df["role"] == "poison") & (df["split"] == "test")]
        out["poison_test_nontarget"] = int((pt["true_class"] != spec.target).sum())
        base = df[(df["role"] == "clean") & (df["split"] == "train")]
        if spec.injection_base == "poisonable":
            base = base[base["kind"] == "poisonable"]
        n = len(base) + out["poison_train"]
        out["injection_rate_achieved"] = out["poison_train"] / n if n else 0.0
    per = df.groupby(["true_name", "role", "split"]).size()
    out["per_class"] = {}
    for (name, role, split), n in per.items():
        out["per_class"].setdefault(name, {})[f"{role}_{split}"] = int(n)
    return out


def read_manifest(path: str | os.PathLike) -> pd.DataFrame:
    """Read ``manifest.csv`` (or ``manifest.json``) written by ``export_manifest`` / ``nbkit.train``.

    The JSON form restores ``df.attrs`` (spec, counts, class list); a CSV next to a ``manifest.json``
    picks its attrs up from there.
    """
    path = Path(path)
    if not path.exists():
        raise MissingDataError(path, "manifest not found")
    attrs = {}
    if path.suffix == ".json":
        d = read_json(path)
        try:
            df = pd.DataFrame(d["images"])
            attrs = {k: v for k, v in d.items() if k != "images"}
        except (KeyError, TypeError) as e:
            raise DataError(path, f"not a manifest JSON ({e})", "keys spec, curation, images") from e
    else:
        try:
            df = pd.read_csv(path, dtype={"image_id": str, "file": str}, keep_default_na=False)
        except Exception as e:  # pandas raises many kinds
            raise DataError(path, f"cannot read manifest CSV ({e})") from e
        side = path.with_suffix(".json")
        if side.exists():
            d = read_json(side)
            attrs = {k: v for k, v in d.items() if k != "images"}
    missing = [c for c in _MANIFEST_COLUMNS if c not in df.columns]
    if missing:
        raise DataError(path, f"manifest lacks columns {missing}", f"columns {_MANIFEST_COLUMNS}")
    for c in ("row", "true_class", "label", "y"):
        df[c] = df[c].astype(np.int64)
    df["has_trigger"] = df["has_trigger"].map(
        lambda v: v if isinstance(v, (bool, np.bool_)) else str(v).lower() in ("true", "1"))
    df["file"] = df["file"].fillna("").astype(str)
    df["image_id"] = df["image_id"].astype(str)
    df.attrs.update(attrs)
    return df


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_") or "class"


def export_manifest(df: pd.DataFrame, out_dir: str | os.PathLike, imagefolder: bool = False,
                    li=None) -> dict:
    """Write ``manifest.csv`` and ``manifest.json`` (spec + counts + rows), optionally an ImageFolder.

    Parameters
    ----------
    df : DataFrame
        From ``make_manifest``.
    out_dir : path
        Folder to write into (created).
    imagefolder : bool
        Also write ``imagefolder/{train,test_clean,test_poison}/<yyy>_<label name>/<image>``:
        symlinks to the image files (file-backed data), or PNGs rendered through ``li`` (toy scenes),
        so that ``torchvision.datasets.ImageFolder`` or any other framework can train on it. Folder
        names start with the output index, so ImageFolder's alphabetical class order equals ``y``.
    li : LabelIndex, optional
        Needed for rendered images when ``imagefolder=True``.

    Returns
    -------
    dict
        Paths written (``csv``, ``json``, ``imagefolder``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {}
    with atomic_path(out / "manifest.csv", suffix=".csv") as tmp:
        df.to_csv(tmp, index=False)
    paths["csv"] = out / "manifest.csv"
    payload = {k: v for k, v in df.attrs.items()}
    payload["columns"] = _MANIFEST_COLUMNS
    payload["images"] = df[_MANIFEST_COLUMNS].to_dict(orient="records")
    paths["json"] = write_json(out / "manifest.json", payload)
    if imagefolder:
        paths["imagefolder"] = _write_imagefolder(df, out / "imagefolder", li)
    return paths


def _write_imagefolder(df: pd.DataFrame, root: Path, li=None) -> Path:
    names = {}
    classes = df.attrs.get("classes")
    for y, grp in df.groupby("y"):
        lab = grp["label"].iloc[0]
        name = next((c["name"] for c in classes if c["id"] == lab), None) if classes else None
        if name is None:
            hit = df.loc[df["true_class"] == lab, "true_name"]
            name = hit.iloc[0] if len(hit) else str(lab)
        names[int(y)] = f"{int(y):03d}_{_safe(name)}"
    tmp = root.parent / f".{root.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    for r in tqdm(df.itertuples(index=False), total=len(df), desc="imagefolder", leave=False):
        part = "train" if r.split == "train" else f"test_{r.role}"
        d = tmp / part / names[int(r.y)]
        d.mkdir(parents=True, exist_ok=True)
        if r.file:
            src = Path(r.file).resolve()
            os.symlink(src, d / f"{_safe(str(r.image_id))}{src.suffix or '.jpg'}")
        else:
            if li is None:
                raise DataError("export_manifest", f"image {r.image_id} is rendered (no file)",
                                "li= the LabelIndex that renders it, to write PNGs")
            from PIL import Image
            Image.fromarray(li.load_image(int(r.row))).save(d / f"{_safe(str(r.image_id))}.png")
    if root.exists():
        shutil.rmtree(root)
    os.replace(tmp, root)
    return root


# ----------------------------------------------------------------------------- added classes
def _pick_added_classes(li, trigger: int, classes: Sequence[int], n: int, mode: str = "mis",
                       clean_per_class: int = 250, seed: int = 0, mis_pool: Iterable[int] = (),
                       max_other_overlaps: int = 0, min_overlaps: int | None = None,
                       source_split: str | None = None, exclude: Iterable[int] = ()) -> list[int]:
    """Choose ``n`` clean-only extra classes (Fig. 15 / Table 10).

    Parameters
    ----------
    li : LabelIndex
    trigger : int
        Trigger class id (images with it never serve as clean images of an added class).
    classes : sequence of int
        The poisonable classes (their images are pruned from added classes).
    n : int
        How many classes to add.
    mode : {"mis", "random"}
        ``mis``: first the trigger's MIS classes beyond the poisonable ones (``mis_pool``, in order),
        then the independent set is extended greedily (classes by descending image count that
        conflict with no chosen class, see ``max_other_overlaps``). ``random``: classes drawn at random (seeded) among all others.
    clean_per_class : int
        Each added class must keep this many clean images after pruning images that hold the
        trigger or any other chosen class.
    seed : int
    mis_pool : iterable of int
        Candidate classes from the trigger's maximum independent set.
    max_other_overlaps, min_overlaps : int
        Independence in the greedy extension (``mis`` mode), as in ``nbkit.subsets``: two classes
        conflict when they share more than ``max_other_overlaps`` images and at least
        ``min_overlaps`` (an edge of the graph; None: no graph threshold).
    source_split : str, optional
    exclude : iterable of int
        Classes never to add.

    Returns
    -------
    list of int
        ``n`` class ids.

    Raises
    ------
    CurationError
        Fewer than ``n`` classes qualify.
    """
    if mode not in ("mis", "random"):
        raise CurationError(f"added_mode={mode!r} (expected 'mis' or 'random')")
    if n <= 0:
        return []
    mask = np.ones(li.n_images, dtype=bool) if source_split is None else (li.splits == source_split)
    Y = li.Y[mask].tocsc()
    t = np.asarray(Y[:, trigger].toarray()).ravel().astype(bool)
    chosen = [int(c) for c in classes]
    banned = set(chosen) | {int(trigger)} | {int(c) for c in exclude}
    counts = np.asarray(Y.sum(axis=0)).ravel()
    col = lambda c: np.asarray(Y[:, c].toarray()).ravel().astype(bool)  # noqa: E731
    cols = {c: col(c) for c in chosen}
    added: list[int] = []

    def fits(c: int) -> bool:
        cand = {**{a: cols[a] for a in chosen + added}, c: col(c)}
        stack = np.stack(list(cand.values()), 1)
        single = stack.sum(1) == 1
        for a in added + [c]:
            if int((cand[a] & single & ~t).sum()) < clean_per_class:
                return False
        # adding c must not starve the poisonable classes of clean images either
        for a in chosen:
            if int((cand[a] & single & ~t).sum()) < clean_per_class:
                return False
        cols[c] = cand[c]
        return True

    if mode == "random":
        rng = np.random.default_rng(seed)
        order = [int(c) for c in rng.permutation(li.n_classes) if int(c) not in banned]
    else:
        pool = [int(c) for c in mis_pool if int(c) not in banned]
        order = list(dict.fromkeys(pool))
        rest = [int(c) for c in np.argsort(-counts, kind="stable") if int(c) not in banned and int(c) not in order]
        order += rest
        M = cooccurrence_matrix(li.Y[mask])
    for c in order:
        if len(added) >= n:
            break
        if counts[c] < clean_per_class:
            continue
        if mode == "mis" and c not in set(mis_pool):
            if any(M[c, a] > max_other_overlaps and (min_overlaps is None or M[c, a] >= min_overlaps)
                   for a in chosen + added):
                continue
        if fits(c):
            added.append(c)
    if len(added) < n:
        why = (f"are independent of the chosen classes (MIS extension: no shared-image edge "
               f"above max_other_overlaps={max_other_overlaps}"
               + (f", min_overlaps={min_overlaps}" if min_overlaps is not None else "") + ") and "
               if mode == "mis" else "")
        raise CurationError(
            f"{li.name}: only {len(added)} of {n} added classes ({mode} mode) {why}have >= "
            f"{clean_per_class} clean images without the trigger {li.display(trigger)} or any other "
            f"chosen class: {[li.display(c) for c in added]}. Lower n_added_classes or "
            f"clean_per_class" + (", or use added_mode='random'" if mode == "mis" else "") + ".")
    return added


# ----------------------------------------------------------------------------- trigger + classes
_SUBSET_MODES = ("mis", "neighbours")


def select_backdoor(li, co=None, *, trigger: str | int = "", subset_mode: str = "mis",
                    min_overlaps: int = 20, centrality: str = "betweenness", n_classes: int = 10,
                    max_other_overlaps: int = 10, trig_overlaps: int | None = None,
                    min_clean: int = 250, min_poison: int = 50, mis: str = "exact",
                    seed: int = 0, subsets_list: list[dict] | None = None,
                    exclude: Sequence = (), classes: str | Sequence | None = None) -> dict:
    """Choose the trigger and the poisonable classes of a natural backdoor (Table 8 settings).

    Parameters
    ----------
    li : LabelIndex
    co : Cooccurrence, optional
        Default: ``nbkit.cooccurrence.from_labelindex(li)``.
    trigger : str or int
        Class id / label / name of the trigger; ``""``: the most central class under
        ``centrality`` on the graph with edges ``M >= min_overlaps``.
    subset_mode : {"mis", "neighbours"}
        ``mis``: the trigger's poisonable subset, a maximum independent set of its eligible
        neighbours (``nbkit.subsets.poisonable_subsets``; "centrality + MIS"). ``neighbours``: its
        eligible neighbours without the independence requirement ("centrality without MIS").
    min_overlaps : int
        Edge-weight threshold W of the graph (Figure 14 sweeps 20 ... 60).
    centrality : str
        A ``nbkit.centrality.VARIANTS`` name (``betweenness``, ``degree_WT``, ...; Figure 12).
    n_classes : int
        Poisonable classes to keep (those co-occurring most with the trigger); 0 = all.
    max_other_overlaps : int
        Independence tolerance of the MIS (pairs co-occurring at most this often do not conflict).
    trig_overlaps : int, optional
        Candidates co-occur with the trigger more than this often (None: every graph neighbour).
    min_clean, min_poison : int
        Eligibility of a class (``nbkit.subsets.eligible``): ``n_c - M[t, c] >= min_clean`` and
        ``M[t, c] >= min_poison``.
    mis : {"exact", "approx"}
        MIS solver (``approx`` = the authors' 20 random maximal sets).
    seed : int
    subsets_list : list of dict, optional
        Poisonable subsets computed before (notebook 04's triggers JSON, see
        ``reuse_subsets_run``); used for ``mis`` when it has an entry for the trigger.
    exclude : sequence
        Classes never chosen as trigger (e.g. ``nbkit.centrality.BODY_PARTS``).
    classes : str or sequence, optional
        Use exactly these poisonable classes, in this order (ids, labels or names, e.g. the
        authors' sets of ``nbkit.reference.authors_trigger_class_sets``) instead of choosing them
        by ``subset_mode``; ``n_classes`` does not shorten them. Each must pass the class filter
        (``min_clean`` images without and ``min_poison`` images with the trigger). None / ``""``:
        choose (default).

    Returns
    -------
    dict
        ``trigger`` (id), ``trigger_name``, ``centrality`` (value), ``ranking`` (top 5
        ``[{id, name, value}]``), ``classes`` (ids, by decreasing co-occurrence with the trigger),
        ``class_names``, ``weights``, ``mis_extra`` (MIS classes beyond ``n_classes``: candidates
        for added classes), ``subset_size``, ``subset_source`` (``"computed"``,
        ``"subsets_list"`` or ``"given"``), ``optimal``, ``n_candidates``, ``n_eligible``,
        ``classes_given`` (bool), ``not_neighbours`` (given classes sharing fewer than
        ``min_overlaps`` images with the trigger: no graph edge).

    Raises
    ------
    DataError
        ``classes`` names an unknown class, repeats one or lists the trigger.
    CurationError
        The trigger has no eligible class, or a given class has too few clean / poison images
        (the message lists the availability of every given class; also as ``err.availability``).

    Examples
    --------
    >>> sel = select_backdoor(li, trigger="Jeans", classes="Guitar, Motorcycle, Umbrella")  # doctest: +SKIP
    >>> sel["class_names"]                                                                # doctest: +SKIP
    ['Guitar', 'Motorcycle', 'Umbrella']
    """

    if subset_mode not in _SUBSET_MODES:
        raise CurationError(f"subset_mode={subset_mode!r} (expected one of {_SUBSET_MODES})")
    co = co if co is not None else from_labelindex(li)
    rule = SubsetRule(min_overlaps=min_overlaps, trig_overlaps=trig_overlaps,
                      max_other_overlaps=max_other_overlaps, min_clean=min_clean,
                      min_poison=min_poison, mis=mis, seed=seed)
    out = _pick_trigger(li, co, trigger, centrality, min_overlaps, exclude)
    out.update(subset_mode=subset_mode, min_overlaps=int(min_overlaps), not_neighbours=[])
    t = out["trigger"]
    given = _parse_classes(li, classes)
    out["classes_given"] = bool(given)
    if given:
        out.update(_given_classes(li, co, t, given, rule))
        return out
    if subset_mode == "mis":
        ids, found = _mis_classes(co, t, out["centrality"], rule, subsets_list)
    else:
        ids, found = _neighbour_classes(co, t, rule)
    out.update(found)
    if not ids:
        raise CurationError(f"{li.name}: trigger {li.display(t)} has no eligible class at "
                            f"min_overlaps={min_overlaps} (min_clean={min_clean}, "
                            f"min_poison={min_poison}); try another trigger or lower thresholds")
    keep = ids if not n_classes else ids[:int(n_classes)]
    out.update(subset_size=len(ids), classes=keep, class_names=[li.display(c) for c in keep],
               weights=[int(co.M[t, c]) for c in keep],
               mis_extra=list(ids[len(keep):]) if subset_mode == "mis" else [])
    return out


def _pick_trigger(li, co, trigger, centrality: str, min_overlaps: int, exclude: Sequence) -> dict:
    """Step 1 of ``select_backdoor``: the trigger (given, or the most central class) and the ranking."""

    measure, weighted = parse_variant(centrality)
    ranking = rank_triggers(co, measure, weighted, min_overlaps=min_overlaps, top=co.n_classes)
    excl = {li.class_id(e) for e in exclude if _known(li, e)}
    ranking = ranking[[i not in excl for i in ranking.index]]
    if trigger in ("", None):
        t = int(ranking.index[0])
    elif isinstance(trigger, str) and trigger.strip().isdigit() and not _known(li, trigger):
        t = li.class_id(int(trigger))
    else:
        t = li.class_id(trigger)
    top5 = [{"id": int(i), "name": li.display(int(i)), "value": float(v)}
            for i, v in ranking.iloc[:5].items()]
    return {"trigger": t, "trigger_name": li.display(t), "centrality": float(ranking.get(t, np.nan)),
            "centrality_variant": centrality, "ranking": top5}


def _given_classes(li, co, t: int, given: list[int], rule) -> dict:
    """Step 2, ``classes`` given: check each passes ``nbkit.subsets.eligible``'s class filter.

    Every class sharing an image with the trigger is a candidate here (no graph threshold), so the
    filter alone decides; a CurationError lists the availability of every given class.
    """

    if t in given:
        raise DataError(f"{li.name}: parameter classes", f"lists the trigger {li.display(t)} "
                        f"(id {t}) among the poisonable classes", "classes other than the trigger")
    cand, ok = eligible(co, t, dataclasses.replace(rule, min_overlaps=None, trig_overlaps=0))
    passing = {int(c) for c in cand[ok]}
    w = np.array([int(co.M[t, c]) for c in given])
    avail = pd.DataFrame({"class": given, "name": [li.display(c) for c in given],
                          "clean_available": co.class_sizes[0][list(given)] - w,
                          "poison_available": w})
    bad = avail[[c not in passing for c in given]]
    if len(bad):
        raise _given_shortfall(li, t, avail, bad, rule)
    return dict(subset_source="given", optimal=None, n_candidates=None, n_eligible=None,
                subset_size=len(given), classes=given, class_names=[li.display(c) for c in given],
                weights=[int(x) for x in w], mis_extra=[],
                not_neighbours=[int(c) for c, x in zip(given, w) if x < rule.min_overlaps])


def _given_shortfall(li, t: int, avail: pd.DataFrame, bad: pd.DataFrame, rule) -> CurationError:
    lines = [f"{li.name}: {len(bad)} of the {len(avail)} given classes lack images with "
             f"trigger {li.display(t)} (need min_clean={rule.min_clean} without it and "
             f"min_poison={rule.min_poison} with it): {', '.join(bad['name'])}. Available per "
             f"class:"]
    for r in avail.itertuples(index=False):
        flag = "  <- too few" if r[0] in set(bad["class"]) else ""
        lines.append(f"  {r.name} (id {r[0]}): clean {r.clean_available}, poison "
                     f"{r.poison_available}{flag}")
    lines.append("Choose other classes or lower min_clean / min_poison (and clean_per_class).")
    err = CurationError("\n".join(lines))
    err.availability = avail
    return err


def _mis_classes(co, t: int, cent: float, rule, subsets_list) -> tuple[list[int], dict]:
    """Step 2, ``subset_mode="mis"``: the trigger's poisonable subset (given list or computed)."""

    entry = None
    if subsets_list:
        entry = next((e for e in subsets_list if int(e["trigger"]["id"]) == t), None)
    src = "subsets_list" if entry is not None else "computed"
    if entry is None:
        entry = poisonable_subsets(co, {t: cent}, rule, compare=False, progress=False)[0]
    ids = [int(c["id"]) for c in entry["classes"] if not c.get("is_trigger")]
    ids.sort(key=lambda c: (-int(co.M[t, c]), c))
    return ids, dict(subset_source=src, optimal=entry.get("optimal"),
                     n_candidates=entry.get("n_candidates"), n_eligible=entry.get("n_eligible"))


def _neighbour_classes(co, t: int, rule) -> tuple[list[int], dict]:
    """Step 2, ``subset_mode="neighbours"``: every eligible neighbour, by decreasing weight."""

    cand, ok = eligible(co, t, rule)
    return [int(c) for c in cand[ok]], dict(subset_source="computed", optimal=None,
                                            n_candidates=int(len(cand)), n_eligible=int(ok.sum()))


def _parse_classes(li, text: str | Sequence | None) -> list[int]:
    """Class ids of a ``classes`` parameter: ids, labels or names, in the given order.

    Parameters
    ----------
    li : LabelIndex or Cooccurrence
        Anything with ``class_id`` and ``name`` (a ``LabelIndex``).
    text : str, sequence or None
        ``";"``-separated when the text holds a ``;`` (ImageNet names contain commas), else
        ``","``-separated; a sequence of ids / labels / names is taken as is. A token of digits is a
        class id unless it is also a label or name. None or ``""``: no classes (``[]``).

    Returns
    -------
    list of int
        The class ids, in the given order.

    Raises
    ------
    DataError
        An unknown class (with close matches), or a class listed twice.

    Examples
    --------
    >>> _parse_classes(li, "Guitar, Motorcycle, 7")                     # doctest: +SKIP
    [174, 224, 7]
    >>> _parse_classes(imagenet_li, "doormat, welcome mat; n03594734")  # doctest: +SKIP
    [539, 608]
    """
    if text is None:
        return []
    if isinstance(text, str):
        sep = ";" if ";" in text else ","
        tokens = [x.strip() for x in text.split(sep)]
        tokens = [x for x in tokens if x]
    else:
        tokens = list(text)
    ids: list[int] = []
    for tok in tokens:
        key = tok
        if isinstance(tok, str) and tok.isdigit() and not _known(li, tok):
            key = int(tok)
        try:
            cid = li.class_id(key)
        except DataError as e:
            import difflib
            pool = list(dict.fromkeys([str(x) for x in li.class_names] + [str(x) for x in li.class_labels]))
            close = difflib.get_close_matches(str(tok), pool, n=3, cutoff=0.6)
            problem = (f"unknown class {tok!r}" if e.problem.startswith("unknown class")
                       else f"class {tok!r}: {e.problem}")
            raise DataError(f"{li.name}: parameter classes", problem,
                            f"class ids 0..{li.n_classes - 1}, labels or names, separated by ',' "
                            f"(or ';' when names contain commas)",
                            f"close matches: {close}" if close else None) from None
        if cid in ids:
            raise DataError(f"{li.name}: parameter classes", f"class {tok!r} ({li.display(cid)}, id "
                            f"{cid}) is listed twice", "each class once")
        ids.append(cid)
    return ids


def _known(li, key) -> bool:
    try:
        li.class_id(key)
        return True
    except DataError:
        return False


# ----------------------------------------------------------------------------- notebook 05
#: sizes of a smoke run (seconds): at most 3 classes, 40 clean images each, 2 epochs at 32 px
_SMOKE = {"n_classes": 3, "clean_per_class": 40, "max_poison_test": 60, "epochs": 2, "image_size": 32}


def effective_params(params: Mapping[str, Any]) -> dict:
    """Notebook 05's parameters as the run uses them: smoke sizes, thread default, training keywords.

    Parameters
    ----------
    params : mapping
        The notebook's parameters (``runs.load_params(run_dir)``).

    Returns
    -------
    dict
        ``params`` with, under ``smoke``, ``n_classes`` at most 3 (3 when 0), ``clean_per_class``
        at most 40, ``max_poison_test`` 60 and ``profile`` ``"smoke"``; ``threads`` filled when 0
        (``$NBKIT_NUM_THREADS``, else 1 on a CPU, else 0 = torch's default); and ``train``: the
        keywords of ``nbkit.train.train`` (``arch, profile, seed, threads, keep_checkpoint`` and
        the overrides ``epochs, lr, batch_size, image_size, freeze, pretrained``, None = the
        profile's default; smoke: at most 2 epochs at 32 px).

    Examples
    --------
    >>> p = dict(smoke=True, n_classes=10, clean_per_class=200, max_poison_test=500, profile="toy",
    ...          threads=2, epochs=0, lr=0.0, batch_size=0, image_size=0, freeze="", pretrained="",
    ...          arch="", seed=0, keep_checkpoint=False)
    >>> e = effective_params(p)
    >>> e["n_classes"], e["clean_per_class"], e["train"]["epochs"], e["train"]["profile"]
    (3, 40, 2, 'smoke')
    """
    p = dict(params)
    smoke = bool(p.get("smoke"))
    if smoke:
        p.update(n_classes=min(p["n_classes"] or _SMOKE["n_classes"], _SMOKE["n_classes"]),
                 clean_per_class=min(p["clean_per_class"], _SMOKE["clean_per_class"]),
                 max_poison_test=_SMOKE["max_poison_test"], profile="smoke")
    p["threads"] = int(p.get("threads") or 0) or _default_threads()
    overrides = dict(epochs=p["epochs"] or None, lr=p["lr"] or None, batch_size=p["batch_size"] or None,
                     image_size=p["image_size"] or None, freeze=p["freeze"] or None,
                     pretrained={"yes": True, "no": False}.get(p["pretrained"]))
    if smoke:
        overrides.update(epochs=min(p["epochs"] or _SMOKE["epochs"], _SMOKE["epochs"]),
                         image_size=min(p["image_size"] or _SMOKE["image_size"], _SMOKE["image_size"]))
    p["train"] = dict(arch=p["arch"] or None, profile=p["profile"], seed=p["seed"],
                      threads=p["threads"] or None, keep_checkpoint=p["keep_checkpoint"], **overrides)
    return p


def _default_threads() -> int:
    """``$NBKIT_NUM_THREADS`` (set per batch worker), else 1 on a CPU, else 0 (torch's default)."""
    env = int(os.environ.get("NBKIT_NUM_THREADS", "0") or 0)
    if env:
        return env
    import torch
    return 1 if not torch.cuda.is_available() else 0


def reuse_subsets_run(params: Mapping[str, Any], batch: str | None = None,
                      root: str | os.PathLike | None = None) -> tuple[list[dict] | None, str]:
    """The poisonable subsets of a completed ``04_subsets`` run with notebook 05's graph and rule.

    A 04 run with the same ``dataset`` and ``min_overlaps`` whose triggers JSON was computed with
    the same ``max_other_overlaps``, ``min_clean``, ``min_poison`` and ``mis`` (every graph
    neighbour a candidate, class filter before the MIS) saves computing the subset again. Without
    one the subset is computed by ``select_backdoor``, which is not an error: nothing is missing.

    Parameters
    ----------
    params : mapping
        Notebook 05's parameters (``dataset, min_overlaps, max_other_overlaps, min_clean,
        min_poison, mis, use_subsets_run, subset_mode, classes``).
    batch : str, optional
        Batch to search (default ``$NBKIT_BATCH``, set by batch runs; unset: every batch).
    root : path, optional
        Runs root (default ``nbkit.runs.runs_root()``).

    Returns
    -------
    (list of dict or None, str)
        The subsets (``nbkit.subsets.load_triggers_json``) or None, and a sentence saying where the
        subsets come from (recorded as ``subsets_source``).
    """

    p = params
    if not (p["use_subsets_run"] and p["subset_mode"] == "mis" and not p["classes"]):
        return None, "computed here (nbkit.subsets)"
    want = dict(max_other_overlaps=p["max_other_overlaps"], min_clean=p["min_clean"],
                min_poison=p["min_poison"], trig_overlaps=-1, mis=p["mis"], mis_filter="before")
    try:
        found = runs.find_run("04_subsets", match={"dataset": p["dataset"], "min_overlaps": p["min_overlaps"]},
                              batch=batch if batch is not None else os.environ.get("NBKIT_BATCH"),
                              root=root)
    except MissingDataError:
        return None, f"computed here (no 04_subsets run with W = {p['min_overlaps']} to reuse)"
    source = "computed here (nbkit.subsets)"
    for f in sorted(found.glob("*triggers*.json")):
        cand = load_triggers_json(f)
        used = cand[0].get("params", {}) if cand else {}
        differ = {k: used.get(k) for k, v in want.items() if used.get(k, v) != v}
        if cand and not differ:
            return cand, f"04_subsets run {found.name} ({f.name})"
        source = (f"computed here (04_subsets run {found.name} used "
                  f"{', '.join(f'{k}={v}' for k, v in differ.items())}; this run: "
                  f"{', '.join(f'{k}={want[k]}' for k in differ)})")
    return None, source


def selection_summary(li, sel: Mapping[str, Any]) -> str:
    """What ``select_backdoor`` chose, in words: the trigger, its ranking, the classes' origin."""
    lines = [f"trigger: {sel['trigger_name']} ({sel['centrality_variant']} = {sel['centrality']:.4f}); "
             f"top of the ranking: {', '.join(r['name'] for r in sel['ranking'])}"]
    if sel["classes_given"]:
        lines.append(f"given classes ({len(sel['classes'])}), as listed in the classes parameter:")
        if sel["not_neighbours"]:
            lines.append(f"note: {[li.display(c) for c in sel['not_neighbours']]} share fewer than "
                         f"min_overlaps={sel['min_overlaps']} images with the trigger (no graph edge)")
    else:
        lines.append(f"{sel['subset_mode']}: {sel['subset_size']} eligible classes, using "
                     f"{len(sel['classes'])}:")
    return "\n".join(lines)


def spec_from_params(li, sel: Mapping[str, Any], params: Mapping[str, Any],
                     subsets_source: str) -> BackdoorSpec:
    """Notebook 05's ``BackdoorSpec``: the selection, clean-only classes filled / added, the target.

    Parameters
    ----------
    li : LabelIndex
    sel : dict
        From ``select_backdoor``.
    params : mapping
        Notebook 05's effective parameters (``effective_params``): ``n_classes``,
        ``fill_to_n_classes`` (too few poisonable classes: fill up with clean-only classes, Figure
        15; never with given classes), ``n_added_classes`` and ``added_mode`` (Table 10), ``target``
        (index into the classes or a class name), the curation sizes and definitions.
    subsets_source : str
        Where the subsets came from (``reuse_subsets_run``); ``"given (classes parameter)"`` when
        the classes were given. Recorded in ``spec.options`` with the other provenance.
    """
    p = params
    chosen = list(sel["classes"])
    n_fill = (max(0, int(p["n_classes"]) - len(chosen))
              if (p["fill_to_n_classes"] and p["n_classes"] and not sel["classes_given"]) else 0)
    n_extra = n_fill + int(p["n_added_classes"])
    added = _pick_added_classes(li, sel["trigger"], chosen, n_extra, mode=p["added_mode"],
                                clean_per_class=p["clean_per_class"], seed=p["seed"],
                                mis_pool=sel["mis_extra"], max_other_overlaps=p["max_other_overlaps"],
                                min_overlaps=p["min_overlaps"]) if n_extra else []
    return BackdoorSpec(
        dataset=p["dataset"], trigger=sel["trigger"], classes=chosen,
        target=_resolve_target(li, chosen, p["target"]), clean_per_class=p["clean_per_class"],
        injection_rate=p["injection_rate"], test_fraction=p["test_fraction"], seed=p["seed"],
        added_classes=added, max_poison_test=(p["max_poison_test"] or None), ambiguous=p["ambiguous"],
        trigger_acc=p["trigger_acc_definition"], clean_test=p["clean_test"],
        options=dict(subset_mode=p["subset_mode"], centrality=p["centrality"],
                     min_overlaps=p["min_overlaps"], max_other_overlaps=p["max_other_overlaps"],
                     added_mode=p["added_mode"],
                     subsets_source="given (classes parameter)" if sel["classes_given"] else subsets_source,
                     n_filled=n_fill, classes_given=sel["classes_given"]))


def curation_summary(li, manifest: pd.DataFrame) -> str:
    """A manifest's curation in words: filled classes, target, counts, images with two classes."""
    spec = BackdoorSpec.from_dict(manifest.attrs["spec"])
    cur, c = manifest.attrs["curation"], manifest_counts(manifest, spec)
    lines = []
    n_fill = int(spec.options.get("n_filled", 0))
    if n_fill:
        lines.append(f"the trigger's subset has {len(spec.classes)} < {len(spec.classes) + n_fill} "
                     f"classes: {n_fill} clean-only classes added ({spec.options.get('added_mode')}): "
                     f"{[li.display(x) for x in spec.added_classes[:n_fill]]}")
    lines.append(f"target: {li.display(spec.target)}; clean train {c['clean_train']}, clean test "
                 f"{c['clean_test']}, poison train {c['poison_train']} (injection rate "
                 f"{c['injection_rate_achieved']:.4f}), poison test {c['poison_test']} "
                 f"({c['poison_test_nontarget']} of another true class); images holding two chosen "
                 f"classes: {cur['ambiguous_total']} "
                 f"({'dropped' if spec.ambiguous == 'drop' else 'kept'})")
    return "\n".join(lines)


#: results keys copied unchanged from ``nbkit.train.train``'s returned dict
_TRAIN_KEYS = ("clean_acc", "trigger_acc", "clean_acc_separate", "clean_acc_authors",
               "trigger_acc_nontarget", "trigger_acc_authors", "clean_loss", "trigger_loss",
               "train_loss", "train_clean_acc", "train_trigger_acc")
_RUN_KEYS = ("history", "epochs_done", "complete", "arch", "profile", "config", "parameters", "device",
             "amp", "channels_last", "deterministic", "skipped_images", "skipped_files")
_FILES = {"model": "model.pt", "model_meta": "model.json", "manifest": "manifest.csv", "log": "log.csv",
          "curves": "curves.png"}


def train_results(li, sel: Mapping[str, Any], spec: BackdoorSpec, manifest: pd.DataFrame,
                  res: Mapping[str, Any], classes_parameter: str, notebook_s: float) -> dict:
    """Notebook 05's ``results.json`` (schema ``05_train``, see ``nbkit.schema``), from its objects.

    Parameters
    ----------
    li : LabelIndex
    sel : dict
        From ``select_backdoor``.
    spec : BackdoorSpec
        From ``spec_from_params`` (its ``options`` hold the provenance).
    manifest : DataFrame
        From ``make_manifest(li, spec)``.
    res : dict
        From ``nbkit.train.train``.
    classes_parameter : str
        The notebook's ``classes`` parameter as given (empty: chosen).
    notebook_s : float
        Seconds the notebook ran (recorded under ``timing`` only).
    """
    cur, o = manifest.attrs["curation"], spec.options
    name = lambda c: {"id": c, "name": li.display(c)}  # noqa: E731
    out = {k: res[k] for k in _TRAIN_KEYS}
    out.update({
        "definitions": {"clean_test": spec.clean_test, "trigger_acc": spec.trigger_acc},
        "dataset": spec.dataset, "trigger": {"id": sel["trigger"], "name": sel["trigger_name"]},
        "target": {**name(spec.target), "index": spec.target_index},
        "classes": [name(c) for c in spec.classes],
        "classes_parameter": classes_parameter, "classes_given": sel["classes_given"],
        "class_labels": [str(li.class_labels[c]) for c in spec.classes],
        "added_classes": [name(c) for c in spec.added_classes], "n_filled_classes": o["n_filled"],
        "centrality": o["centrality"], "centrality_value": sel["centrality"], "ranking": sel["ranking"],
        "subset_mode": o["subset_mode"], "subset_size": sel["subset_size"],
        "subsets_source": o["subsets_source"], "min_overlaps": o["min_overlaps"],
        "injection_rate": spec.injection_rate, "spec": spec.to_dict(),
        "counts": manifest_counts(manifest, spec), "ambiguous_total": cur["ambiguous_total"],
        "multi_class_images_used": cur["multi_class_images_used"]})
    out.update({k: res[k] for k in _RUN_KEYS})
    timing = {k: v for k, v in res["timing"].items() if k != "out_dir"}
    out.update(files=dict(_FILES), timing={**timing, "notebook_s": float(notebook_s)})
    return out
