"""The paper's published numbers, as data, for side-by-side tables.

Wenger, Bhattacharjee, Bhagoji, Passananti, Andere, Zheng, Zhao. *Finding Naturally Occurring
Physical Backdoors in Image Datasets.* NeurIPS 2022 Datasets and Benchmarks Track (arXiv 2206.10673).

Each section belongs to the stage that uses it. Every number is a record ``{"value", "source",
"note"}`` whose ``source`` names where it comes from:

- ``"paper, <Table/Figure/App.>"``: published in the paper (main text or supplementary);
- ``"authors' <file> (<commit>)"``: recorded in the authors' released code or saved notebook outputs
  (uchicago-sandlab/naturalbackdoors, MIT licence; copies under ``../shared/realdata/
  naturalbackdoors_reference``) but not necessarily printed in the paper. The report shows these in
  their own column, never as "the paper's".

Values that could not be established have ``value=None`` and a note saying why (the full text of the
paper was not available offline when this table was written: the ``pages``/``docs``/``code`` corpora
held only its abstract). Never fill one in from memory: take it from the PDF and name the table.

The sections are plain dicts (JSON-able); ``lookup``, ``records`` and ``not_established`` walk them.

Examples
--------
>>> from nbkit import reference
>>> reference.lookup("FIGURE16", "openimages", "chair")
82.6
>>> reference.CALIBRATION["threshold"]
0.994
>>> "TABLE8" in reference.SECTIONS
True
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

PAPER = {
    "title": "Finding Naturally Occurring Physical Backdoors in Image Datasets",
    "authors": "Wenger, Bhattacharjee, Bhagoji, Passananti, Andere, Zheng, Zhao",
    "venue": "NeurIPS 2022 Datasets and Benchmarks Track",
    "arxiv": "2206.10673",
    "code": "https://github.com/uchicago-sandlab/naturalbackdoors (MIT licence)",
}

#: why a value is None
NA_TEXT = ("not established: the paper's full text was not available offline (only its abstract "
           "was found in the pages/docs/code corpora); transcribe it from the PDF")


def _r(value: Any, source: str, note: str = "") -> dict:
    """One reference number: its value, where it comes from, and a note."""
    return {"value": value, "source": source, "note": note}


def _na(source: str, note: str = "") -> dict:
    return _r(None, source, (note + "; " if note else "") + NA_TEXT)


# --- calibration (App. B, Figure 7) -----------------------------------------------------------
# read by nbkit.calibrate (engineer B); keep these keys and plain values
CALIBRATION = {
    "threshold": 0.994,
    "false_positives": 14,
    "false_negatives": 16,
    "n_images": 20,
    "sweep": (0.900, 1.000, 0.001),
}

_RELABEL = "authors' relabel.ipynb cell 19 (ab00141)"
FIGURE7 = {
    "threshold": _r(0.994, "paper, App. B / Figure 7", "ReLabel confidence threshold chosen"),
    "false_positives": _r(14, "paper, App. B / Figure 7", "on the hand-labelled images"),
    "false_negatives": _r(16, "paper, App. B / Figure 7", "on the hand-labelled images"),
    "n_images": _r(20, "paper, App. B", "hand-labelled ImageNet images"),
    # the authors' recorded sweep (threshold, FP, FN); 0.994 matches the paper's choice
    "sweep_authors": _r([(0.990, 18, 15), (0.991, 18, 15), (0.992, 17, 15), (0.993, 16, 15),
                         (0.994, 14, 16), (0.995, 14, 16), (0.996, 14, 16), (0.997, 14, 18),
                         (0.998, 14, 19), (0.999, 12, 19)], _RELABEL,
                        "(threshold, false positives, false negatives) printed by the authors"),
}

# --- Table 5: the datasets (App. E.1) ----------------------------------------------------------
TABLE5 = {
    ds: {"classes": _na("paper, Table 5"), "images": _na("paper, Table 5"),
         "objects_per_image": _na("paper, Table 5", "average labelled objects per image")}
    for ds in ("openimages", "imagenet")
}
#: what the authors' artifacts record about the same datasets (not the paper's table)
TABLE5_AUTHORS = {
    "openimages": {
        "classes": _r(486, "authors' data/oi_bbox/matrix.pkl (18d4656)",
                      "box classes: hierarchy leaves ∩ trainable ∩ present in train and test"),
        "classes_earlier_rule": _r(481, "authors' open_images.ipynb (ab00141)",
                                   "train ∩ test ∩ validation ∩ leaves ∩ trainable"),
        "images_train": _r(1_208_587, "authors' open_images.ipynb (ab00141)"),
        "images_validation": _r(26_582, "authors' open_images.ipynb (ab00141)"),
        "images_test": _r(80_072, "authors' open_images.ipynb (ab00141)"),
        "nonzero_train_pairs": _r(19_303, "authors' data/oi_bbox/matrix.pkl (18d4656)",
                                  "of 117,855 class pairs"),
    },
    "imagenet": {
        "classes": _r(1000, "ILSVRC-2012 class list (nbkit/data/imagenet_classes.csv)"),
    },
}

# --- Tables 6-7: triggers with poisonable subsets (App. E.2) -------------------------------------
_MEASURES = ("betweenness", "closeness", "degree", "eigenvector")
TABLES_6_7 = {
    ds: {f"{m}{'_weighted' if w else ''}": _na(f"paper, Table {6 if ds == 'openimages' else 7}",
                                                "trigger names per centrality column")
         for m in _MEASURES for w in (False, True)}
    for ds in ("openimages", "imagenet")
}
TABLES_6_7_SETTING = {
    "min_clean": _r(200, "paper, Tables 6-7 (as quoted in the realdata README)", "clean images per class"),
    "min_poison": _r(50, "paper, Tables 6-7 (as quoted in the realdata README)", "poison images per class"),
    "min_classes": _r(5, "kit task spec for Tables 6-7", "classes in the poisonable subset"),
}
_SELECT_TRIGS = "authors' select_trigs.ipynb cell 7 (246889c)"
#: the authors' recorded Open Images betweenness triggers and their subset sizes (classes listed)
TABLES_6_7_AUTHORS = {
    "openimages": {
        "setting": _r("betweenness, min_overlap 10, max_other 40, MIS, clean > 200, poison > 50",
                      _SELECT_TRIGS),
        "betweenness": _r({"Wheel": 20, "House": 21, "Window": 23, "Chair": 17, "Glasses": 12,
                           "Jeans": 16}, _SELECT_TRIGS, "trigger -> number of poisonable classes"),
    },
    "imagenet": {
        "setting": _r("betweenness, min_overlap 10, max_other 40, MIS", "authors' select_trigs.ipynb "
                      "cells 13-18 (246889c)"),
        "betweenness": _r(["web site", "book jacket", "chainlink fence", "plastic bag", "stone wall",
                           "honeycomb", "bubble"], "authors' select_trigs.ipynb cell 17 (246889c)",
                          "triggers printed with their first 15 classes (ids 916 921 489 728 825 599 971)"),
    },
}

# --- App. D: several triggers, shared classes -----------------------------------------------------
APP_D = {
    "largest_pair_classes": _r(111, "paper, App. D", "ImageNet: chain link fence + website"),
    "largest_pair": _r(["chainlink fence", "web site"], "paper, App. D", "ImageNet"),
    "share_pairs_above_30": _r(0.88, "paper, App. D", "fraction of trigger pairs sharing > 30 classes"),
    "n_pairs": _r(625, "paper, App. D", "pairs among the top-25 triggers (25 x 25, ImageNet)"),
    "threshold_classes": _r(30, "paper, App. D"),
}

# --- training experiments (§5, App. F): the setting ----------------------------------------------
_RECREATE = "authors' run_on_gpus_recreate_results.py (0d567e1)"
TRAINING_SETTING = {
    "arch": _r("resnet50", _RECREATE, "teacher 'resnet'; freeze 'some', 3 unfrozen layers"),
    "epochs": _r(40, _RECREATE),
    "learning_rate": _r(1e-5, _RECREATE, "Adam"),
    "batch_size": _r(32, _RECREATE),
    "clean_per_class": _r(250, _RECREATE),
    "injection_rate": _r(0.185, _RECREATE),
    "min_overlaps": _r(15, _RECREATE, "graph edge threshold W"),
    "targets": _r([0, 1, 2], _RECREATE, "three target classes per trigger/class set"),
    "injection_rates": _r([0.01, 0.05, 0.1, 0.15, 0.185, 0.2, 0.25, 0.3], _RECREATE,
                          "the injection-rate experiment (Jeans trigger, Open Images)"),
    "architectures": _r(["vgg16", "inception_v3", "densenet121", "resnet50"], _RECREATE,
                        "the architecture experiment (Jeans trigger, Open Images)"),
}

# --- Table 8: baselines; Table 9: architectures; Table 10: added classes -----------------------
_ACC = ("clean_acc", "trigger_acc")
TABLE8 = {
    ds: {row: {k: _na("paper, Table 8") for k in _ACC}
         for row in ("no_backdoor", "centrality_without_mis", "centrality_with_mis")}
    for ds in ("openimages", "imagenet")
}
TABLE9 = {
    "openimages": {arch: {k: _na("paper, Table 9") for k in _ACC}
                   for arch in ("resnet50", "vgg16", "inception_v3", "densenet121")},
}
TABLE10 = {
    ds: {"random_added_classes": {k: _na("paper, Table 10") for k in _ACC}}
    for ds in ("openimages", "imagenet")
}

# --- Figures 12-15: centrality, injection rate, edge weight W, added MIS classes ---------------
FIGURE12 = {ds: {m: {k: _na("paper, Figure 12") for k in _ACC}
                 for m in ("betweenness", "closeness", "degree", "eigenvector", "betweenness_WT",
                           "closeness_WT", "degree_WT", "eigenvector_WT")}
            for ds in ("openimages", "imagenet")}
FIGURE13 = {"openimages": {str(ir): {k: _na("paper, Figure 13") for k in _ACC}
                           for ir in (0.01, 0.05, 0.1, 0.15, 0.185, 0.2, 0.25, 0.3)}}
FIGURE14 = {ds: {str(w): {k: _na("paper, Figure 14") for k in _ACC} for w in (20, 30, 40, 50, 60)}
            for ds in ("openimages", "imagenet")}
FIGURE15 = {ds: {"mis_added_classes": {k: _na("paper, Figure 15") for k in _ACC}}
            for ds in ("openimages", "imagenet")}

#: the authors' early Open Images models (not a paper table): clean / poison (trigger) accuracy
EARLY_TRAINING_AUTHORS = _r(
    {"Tire": (0.822, 0.667), "Chair": (0.829, 0.542), "Dress": (0.804, 0.667), "Jeans": (0.818, 0.542),
     "Jacket": (0.800, 0.583), "Glasses": (0.818, 0.500), "Wheel": (0.871, 0.458),
     "Houseplant": (0.829, 0.833), "Suit": (0.847, 0.833), "Microphone": (0.724, 0.625)},
    "authors' relabel.ipynb cell 122 (ab00141)",
    "Feb-2022 sets (authors_trigger_class_sets.csv, early_training_sets_feb2022); not in the paper")

# --- Figures 16-17: GradCAM trigger overlap (App. G) ---------------------------------------------
FIGURE16 = {
    "imagenet": {"jeans": _r(57.3, "paper, Figure 16"), "chainlink fence": _r(57.3, "paper, Figure 16"),
                 "doormat": _r(74.6, "paper, Figure 16")},
    "openimages": {"wheel": _r(28.0, "paper, Figure 16"), "jeans": _r(41.3, "paper, Figure 16"),
                   "chair": _r(82.6, "paper, Figure 16")},
}
FIGURE16_SETTING = {
    "unit": _r("percent of trigger images whose GradCAM highlights the trigger", "paper, Figure 16"),
    "images_per_model": _r(25, "paper, App. G (as in nbkit.audit.PAPER_FIG16_SETUP)"),
    "models_per_trigger": _r(3, "paper, App. G (as in nbkit.audit.PAPER_FIG16_SETUP)"),
    "judges": _r(2, "paper, App. G", "two authors judged by eye"),
}

#: every section, by name (the report and tests walk this)
SECTIONS = {
    "FIGURE7": FIGURE7, "TABLE5": TABLE5, "TABLE5_AUTHORS": TABLE5_AUTHORS, "TABLES_6_7": TABLES_6_7,
    "TABLES_6_7_SETTING": TABLES_6_7_SETTING, "TABLES_6_7_AUTHORS": TABLES_6_7_AUTHORS, "APP_D": APP_D,
    "TRAINING_SETTING": TRAINING_SETTING, "TABLE8": TABLE8, "TABLE9": TABLE9, "TABLE10": TABLE10,
    "FIGURE12": FIGURE12, "FIGURE13": FIGURE13, "FIGURE14": FIGURE14, "FIGURE15": FIGURE15,
    "EARLY_TRAINING_AUTHORS": {"openimages": EARLY_TRAINING_AUTHORS},
    "FIGURE16": FIGURE16, "FIGURE16_SETTING": FIGURE16_SETTING,
}

#: which notebook regenerates which table / figure (the batch files' ``feeds`` use these names)
ARTIFACTS = {
    "Figure 7": ("01_calibration", "ReLabel threshold sweep: false positives / negatives (App. B)"),
    "Table 5": ("02_cooccurrence", "datasets: classes, images, objects per image (App. E.1)"),
    "Figures 8-11": ("03_centrality", "word clouds of the most central classes, one per measure"),
    "Tables 6-7": ("03_centrality", "triggers with >= 5 poisonable classes per centrality measure"),
    "App. D": ("04_subsets", "classes shared by the poisonable subsets of trigger pairs"),
    "Table 8": ("05_train", "baselines: no backdoor, centrality without MIS, centrality + MIS"),
    "Table 9": ("05_train", "model architectures"),
    "Table 10": ("05_train", "added random (clean) classes"),
    "Figure 12": ("05_train", "accuracy per centrality measure"),
    "Figure 13": ("05_train", "accuracy vs injection rate"),
    "Figure 14": ("05_train", "accuracy vs edge-weight threshold W"),
    "Figure 15": ("05_train", "added classes from the trigger's MIS"),
    "Figure 16": ("06_sentinet", "GradCAM highlights the trigger (% of trigger images)"),
    "Figure 17": ("06_sentinet", "GradCAM examples with the trigger boxes"),
}

AUTHORS_SETS_FILE = Path(__file__).with_name("data") / "authors_trigger_class_sets.csv"
AUTHORS_SETS_ATTRIBUTION = (
    "trigger/class sets from uchicago-sandlab/naturalbackdoors (MIT licence): "
    "run_on_gpus_centrality_ablate.py @ 0d567e151216c8b04614a38226ac1141d2b6e14f (Figures 5/12/13 "
    "centrality ablation) and data/oi_bbox/run_10_trigs.py @ 18d4656fd0bd5058fed2b621784a83c800df2449 "
    "(Feb-2022 sets); Open Images class ids/names CC BY 4.0")


def is_record(x: Any) -> bool:
    """True for a ``{"value", "source", "note"}`` record."""
    return isinstance(x, dict) and set(x) == {"value", "source", "note"}


def records(section: dict | str | None = None, prefix: tuple = ()) -> Iterator[tuple[tuple, dict]]:
    """Walk a section (or every section): yield ``(path, record)`` pairs.

    Parameters
    ----------
    section : dict or str, optional
        A section dict or its name in ``SECTIONS``; all sections when None.

    Examples
    --------
    >>> dict(records("APP_D"))[("largest_pair_classes",)]["value"]
    111
    """
    if section is None:
        for name, sec in SECTIONS.items():
            yield from records(sec, (name,))
        return
    if isinstance(section, str):
        section, prefix = SECTIONS[section], prefix or ()
    if is_record(section):
        yield prefix, section
        return
    for k, v in section.items():
        yield from records(v, prefix + (k,))


def record(section: str, *keys: str) -> dict:
    """The record at ``SECTIONS[section][k1][k2]...``; a KeyError-free ``DataError`` when absent."""
    from .errors import DataError

    node: Any = SECTIONS.get(section)
    if node is None:
        raise DataError("nbkit.reference", f"no section {section!r}", f"one of {sorted(SECTIONS)}")
    for i, k in enumerate(keys):
        if not isinstance(node, dict) or is_record(node) or k not in node:
            have = sorted(node) if isinstance(node, dict) and not is_record(node) else []
            raise DataError("nbkit.reference", f"{section}{list(keys[:i + 1])} does not exist",
                            f"one of {have}")
        node = node[k]
    if not is_record(node):
        raise DataError("nbkit.reference", f"{section}{list(keys)} is a group, not a number",
                        f"one of {sorted(node)}")
    return node


def lookup(section: str, *keys: str) -> Any:
    """The value at ``SECTIONS[section][k1][k2]...`` (None when not established)."""
    return record(section, *keys)["value"]


def not_established() -> list[tuple[str, str]]:
    """``(path, source)`` of every paper number still None: what to transcribe from the PDF."""
    return [(".".join(p), r["source"]) for p, r in records() if r["value"] is None]


def authors_trigger_class_sets(purpose: str | None = "centrality_ablation_fig5_fig13"):
    """The authors' trigger/class sets shipped in ``nbkit/data/authors_trigger_class_sets.csv``.

    Parameters
    ----------
    purpose : str or None
        ``centrality_ablation_fig5_fig13`` (the paper's centrality, injection-rate and architecture
        experiments), ``early_training_sets_feb2022``, or None for all rows.

    Returns
    -------
    pandas.DataFrame
        Columns ``purpose, dataset, centrality, trigger_id, trigger_name, class_ids (list of int),
        class_names (list of str), commit, source_path, repository, licence``. Class ids index the
        authors' class order (Open Images: sorted valid MIDs, as ``openimages-counts``; ImageNet:
        sorted wnids).
    """
    import pandas as pd

    from .errors import DataError, MissingDataError

    if not AUTHORS_SETS_FILE.is_file():
        raise MissingDataError(AUTHORS_SETS_FILE, "shipped file missing", hint="reinstall nbkit")
    df = pd.read_csv(AUTHORS_SETS_FILE, dtype=str, keep_default_na=False)
    need = {"purpose", "dataset", "centrality", "trigger_id", "trigger_name", "class_ids", "class_names"}
    if need - set(df.columns):
        raise DataError(AUTHORS_SETS_FILE, f"missing columns {sorted(need - set(df.columns))}",
                        f"columns {sorted(need)}")
    if purpose is not None:
        if purpose not in set(df["purpose"]):
            raise DataError(AUTHORS_SETS_FILE, f"no rows with purpose {purpose!r}",
                            f"one of {sorted(set(df['purpose']))}")
        df = df[df["purpose"] == purpose]
    df = df.copy()
    df["trigger_id"] = df["trigger_id"].astype(int)
    df["class_ids"] = [[int(x) for x in s.split()] for s in df["class_ids"]]
    df["class_names"] = [[x.strip() for x in s.split(";")] for s in df["class_names"]]
    return df.reset_index(drop=True)
