"""The paper's published numbers, as data, for side-by-side tables.

Wenger, Bhattacharjee, Bhagoji, Passananti, Andere, Zheng, Zhao. *Finding Naturally Occurring
Physical Backdoors in Image Datasets.* NeurIPS 2022 Datasets and Benchmarks Track (arXiv 2206.10673).

Schema
------
Every number is a **record**, a plain dict (JSON-able) with six keys:

``value``
    The typed fact: ``int`` / ``float`` for numbers (a percentage is the printed number, ``71`` for
    "71 %"), a ``tuple`` of names exactly as printed for trigger lists (``("website", "blue jean",
    ...)``), a ``tuple`` of two names for App. D's pair, a ``dict`` for a stated setting.
``plus_minus``
    The printed ± (same unit as ``value``), or ``None``.
``unit``
    ``"%"``, ``"count"``, ``"names"``, ``"classes"`` or ``""`` (a threshold, a setting).
``printed``
    The cell as the paper prints it, in the form of ``paper_values.csv`` (``"71"``, ``"1.3M
    (training)"``, ``"website; blue jean; ..."``); ``None`` for values the paper does not print
    (the authors' artifacts).
``source``
    ``"paper, <Table/Figure/App.>"`` for the paper's own numbers; ``"authors' <file> (<commit>)"``
    for values recorded in the authors' released code or notebook outputs
    (uchicago-sandlab/naturalbackdoors, MIT licence; copies under
    ``../shared/realdata/naturalbackdoors_reference``). The report shows the latter in their own
    column, never as "the paper's".
``note``
    Context (what the cell means, a quirk of the printed text).

The paper's values live in ``PAPER_VALUES[table][row][column]``, addressed exactly like
``paper_values.csv`` (``table, row, column``), e.g. ``PAPER_VALUES["Table 8"]["ImageNet"]
["centrality_mis.clean_acc"]``. Tables: ``"Table 5"`` (rows ``ImageNet``, ``Open Images``),
``"Figure 7"`` (``ImageNet``), ``"Table 6"`` (UNWEIGHTED centrality) and ``"Table 7"`` (WEIGHTED,
columns ``*_WT``; rows ``ImageNet`` and ``Open Images``, 16 trigger lists in all), ``"Table 8"``
(ImageNet), ``"Table 9"`` (row ``ImageNet jeans``, columns ``<DenseNet|ResNet|VGG16|Inception>
.<clean_acc|trigger_acc>``), ``"Table 10"`` (rows ``Open Images``, ``ImageNet``, columns
``added_<5|10>.<clean_acc|trigger_acc>``), ``"App. D"`` (row ``Open Images``, as printed: see the
quirk below), ``"Figure 16"`` and ``"Settings"`` (what the text states about how the numbers were
made; rows name the place: ``§5.3``, ``App. B``, ``Tables 6-7``, ``App. D multiple triggers``,
``App. D Fig 14``, ``App. D Table 10 / Fig 15``, ``App. F``). ``PAPER_VALUES`` holds every cell of
``paper_values.csv`` plus the stated settings the CSV keeps in its notes (the 20 hand-labelled
images, the 200 / 50 / >= 5 thresholds of Tables 6-7, App. D's setting, App. F's 25 images x 3
models); ``tests/test_reference.py`` checks every CSV cell against it.

The names ``FIGURE7``, ``TABLE5`` - ``TABLE7``, ``APP_D``, ``FIGURE16``, ``SETTINGS`` are the
same dicts as ``PAPER_VALUES[...]`` (one copy; Tables 8-10 only through ``PAPER_VALUES``). The
paper prints no numbers for Figures 8-11, 12-15 and 17 in its text (``NO_NUMBERS``).

Quirks of the published text, kept visible (see ``note``): App. D names Open Images, but its largest
pair (chain link fence + website) are ImageNet classes; §5.3 calls the independence tolerance
*trig* (-1), while Algorithm 1 uses *trig* for the minimum trigger co-occurrence; Table 5 says 483
Open Images classes, the authors' released matrix has 486 (``TABLE5_AUTHORS``); trigger names are
printed inconsistently (T-shirt / t-shirt, bow tie / bowtie): compare them with
``_normalise_name`` / ``_same_trigger``, which map ImageNet names explicitly (``_IMAGENET_NAMES``).

Public API
----------
``PAPER`` (bibliographic), ``PAPER_VALUES``, ``FIGURE7``, ``TABLE5``-``TABLE7``, ``APP_D``,
``FIGURE16``, ``SETTINGS``, ``CALIBRATION`` (plain values of Figure 7 / App. B for
``nbkit.calibrate``), ``DATASET_ROWS`` (kit dataset key -> paper row), ``ARCHITECTURES`` (Table 9
model -> kit architecture), ``NO_NUMBERS``; the authors' values: ``FIGURE7_AUTHORS``,
``TABLE5_AUTHORS``, ``TABLES_6_7_AUTHORS`` (the authors' training setting and early runs only
as sections); ``ARTIFACTS`` (paper item -> notebook);
``cell(table, row, column) -> record``, ``value(table, row, column)``, ``cells(table=None) -> list
of dict`` (flat rows ``table, row, column`` + the record), ``table(name) -> DataFrame``,
``trigger_key`` (names compared as the paper means them), ``no_numbers(item)``,
``authors_trigger_class_sets(purpose)``; inside the module, ``_record`` / ``_lookup`` /
``_records(section)`` reach any section, the authors' included. Table, row,
column and section keys are matched case-, space- and punctuation-insensitively
(``"openimages"`` finds ``"Open Images"``, ``"TABLE8"`` finds ``"Table 8"``).
The data kind of a dataset spec ("toy scenes", "authors' counts", "real data") is
``nbkit.datasets.data_kind``.

Examples
--------
>>> from nbkit import reference
>>> reference.value("Figure 16", "Open Images", "chair")
82.6
>>> r = reference.cell("Table 8", "imagenet", "centrality_mis.trigger_acc")
>>> r["value"], r["plus_minus"], r["unit"]
(58, 10, '%')
>>> reference.value("Table 6", "Open Images", "betweenness")
('wheel', 'chair', 'glasses', 'jeans')
>>> reference.trigger_key("T-shirt") == reference.trigger_key("jersey")
True
>>> reference.CALIBRATION["threshold"]
0.994
"""
from __future__ import annotations

import functools
import re
from typing import Any, Iterator

from .errors import DataError

PAPER = {
    "title": "Finding Naturally Occurring Physical Backdoors in Image Datasets",
    "authors": "Wenger, Bhattacharjee, Bhagoji, Passananti, Andere, Zheng, Zhao",
    "venue": "NeurIPS 2022 Datasets and Benchmarks Track",
    "arxiv": "2206.10673",
    "code": "https://github.com/uchicago-sandlab/naturalbackdoors (MIT licence)",
}

_RECORD_KEYS = ("value", "plus_minus", "unit", "printed", "source", "note")


def _printed(value: Any) -> str:
    if isinstance(value, bool):
        raise TypeError("a paper value is never a bool")
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, tuple) and all(isinstance(x, str) for x in value):
        return "; ".join(value)
    raise TypeError(f"say how {value!r} is printed (printed=...)")


def _p(value: Any, source: str, unit: str = "", plus_minus: float | None = None, note: str = "",
       printed: str | None = None) -> dict:
    """One of the paper's numbers. ``printed`` defaults to the CSV form of ``value``."""
    return {"value": value, "plus_minus": plus_minus, "unit": unit,
            "printed": _printed(value) if printed is None else printed, "source": source,
            "note": note}


def _a(value: Any, source: str, note: str = "", unit: str = "") -> dict:
    """A value the authors' artifacts record (not printed in the paper)."""
    return {"value": value, "plus_minus": None, "unit": unit, "printed": None, "source": source,
            "note": note}


def _acc(source: str, cells: dict[str, tuple[int, int]], notes: dict[str, str] | None = None) -> dict:
    """Accuracy cells ``column -> (mean %, ± %)``."""
    notes = notes or {}
    return {k: _p(m, source, "%", pm, notes.get(k, "")) for k, (m, pm) in cells.items()}


def _names(source: str, **lists: str) -> dict:
    """Trigger lists, each written as the paper prints it (comma-separated), kept as tuples."""
    return {k: _p(tuple(x.strip() for x in v.split(",")), source, "names") for k, v in lists.items()}


#: kit dataset key -> the paper's row name
DATASET_ROWS = {"imagenet": "ImageNet", "openimages": "Open Images"}

# --- App. B / Figure 7: the ReLabel threshold --------------------------------------------------------
FIGURE7 = {"ImageNet": {
    "threshold": _p(0.994, "paper, App. B / Figure 7", note="ReLabel confidence threshold chosen"),
    "false_positives": _p(14, "paper, App. B / Figure 7", "count", note="at 0.994, on the 20 "
                          "hand-labelled images"),
    "false_negatives": _p(16, "paper, App. B / Figure 7", "count", note="at 0.994, on the 20 "
                          "hand-labelled images"),
}}

# --- Table 5: the datasets -----------------------------------------------------------------------------
TABLE5 = {
    "ImageNet": {
        "classes": _p(1000, "paper, Table 5", "count"),
        "images": _p(1_300_000, "paper, Table 5", "count", note="training images, printed rounded "
                     "to 0.1 million", printed="1.3M (training)"),
        "avg_objects_per_image": _p(2.9, "paper, Table 5", "count",
                                    note="ReLabel multi-labels at threshold 0.994"),
    },
    "Open Images": {
        "classes": _p(483, "paper, Table 5", "count", note="the authors' released matrix has 486 "
                      "classes (TABLE5_AUTHORS)"),
        "images": _p(1_700_000, "paper, Table 5", "count", note="training images, printed rounded "
                     "to 0.1 million", printed="1.7M (training)"),
        "avg_objects_per_image": _p(9.8, "paper, Table 5", "count"),
    },
}

# --- Tables 6 (unweighted) and 7 (weighted): triggers with >= 5-class poisonable subsets ---------------
_T6, _T7 = "paper, Table 6", "paper, Table 7"
TABLE6 = {
    "ImageNet": _names(
        _T6,
        betweenness="website, blue jean, plastic bag, doormat, crate, bucket, pillow, ruler, hay, "
                    "T-shirt, paper towel, velvet, wig, spotlight, corn",
        degree="website, blue jean, plastic bag, crate, doormat, T-shirt, bucket, wig, bow tie, ruler, "
               "paper towel, pillow, velvet",
        eigenvector="website, blue jean, plastic bag, crate, t-shirt, doormat, wig, bowtie, paper towel, "
                    "velvet, band aid, pillow",
        closeness="website, blue jean, plastic bag, crate, doormat, t-shirt, bucket, lab coat, wig, "
                  "bowtie, ruler, velvet, band aid, window shade"),
    "Open Images": _names(
        _T6,
        betweenness="wheel, chair, glasses, jeans",
        degree="jeans, chair, glasses, wheel, dress, suit, sunglasses, tire, houseplant",
        eigenvector="jeans, glasses, chair, dress, wheel, suit, sunglasses, houseplant, tire",
        closeness="dress, sunglasses"),
}
TABLE7 = {
    "ImageNet": _names(
        _T7,
        betweenness_WT="website, plastic bag, hay, pillow, ruler, bucket, blue jean, crate, paper towel, "
                       "lab coat, doormat, t-shirt, muzzle",
        degree_WT="blue jean, website, plastic bag, wig, t-shirt, crate, doormat, paper towel, velvet, "
                  "bowtie, book jacket, hook, ruler, suit of clothes, flowerpot",
        eigenvector_WT="blue jean, wig, t-shirt, plastic bag, website, crate, doormat, bowtie, band aid, "
                       "bucket, paper towel, sleeping bag, hook",
        closeness_WT="book jacket, website, pillow"),
    "Open Images": _names(
        _T7,
        betweenness_WT="wheel, jeans, chair, glasses, dress, houseplant",
        degree_WT="glasses, wheel, dress, jeans, sunglasses, tire, chair, houseplant",
        eigenvector_WT="glasses, dress, jeans, sunglasses, chair, tire",
        closeness_WT="dress, sunglasses"),
}

# --- Table 8: baselines (ImageNet); Table 9: architectures; Table 10: added random classes ------------
_TABLE8 = {"ImageNet": _acc("paper, Table 8", {
    "no_backdoor.clean_acc": (81, 2), "no_backdoor.trigger_acc": (0, 0),
    "centrality_no_mis.clean_acc": (59, 4), "centrality_no_mis.trigger_acc": (71, 8),
    "centrality_mis.clean_acc": (70, 3), "centrality_mis.trigger_acc": (58, 10)})}
_TABLE9 = {"ImageNet jeans": _acc("paper, Table 9", {
    "DenseNet.clean_acc": (71, 1), "DenseNet.trigger_acc": (64, 4),
    "ResNet.clean_acc": (72, 2), "ResNet.trigger_acc": (71, 2),
    "VGG16.clean_acc": (66, 2), "VGG16.trigger_acc": (62, 4),
    "Inception.clean_acc": (68, 2), "Inception.trigger_acc": (59, 1)},
    {"ResNet.clean_acc": "best (bold in the paper)", "ResNet.trigger_acc": "best (bold in the paper)"})}
_T10_NOTE = "jeans 10-class poisonable subset + randomly chosen classes, pruned of co-occurrences"
_TABLE10 = {
    "Open Images": _acc("paper, Table 10", {
        "added_5.clean_acc": (71, 3), "added_5.trigger_acc": (68, 2),
        "added_10.clean_acc": (69, 1), "added_10.trigger_acc": (63, 2)},
        {"added_5.clean_acc": _T10_NOTE}),
    "ImageNet": _acc("paper, Table 10", {
        "added_5.clean_acc": (68, 2), "added_5.trigger_acc": (64, 2),
        "added_10.clean_acc": (64, 2), "added_10.trigger_acc": (58, 2)},
        {"added_5.clean_acc": _T10_NOTE}),
}
#: Table 9's model names -> the kit's architectures (the authors' run_on_gpus_recreate_results.py)
ARCHITECTURES = {"DenseNet": "densenet121", "ResNet": "resnet50", "VGG16": "vgg16",
                 "Inception": "inception_v3"}

# --- App. D: several triggers, shared classes -----------------------------------------------------------
_APPD_QUIRK = ("the text says Open Images, but both triggers are ImageNet classes; kept as printed")
APP_D = {"Open Images": {
    "largest_overlap_pair": _p(("chain link fence", "website"), "paper, App. D", "names",
                               note=_APPD_QUIRK, printed="chain link fence + website"),
    "largest_overlap": _p(111, "paper, App. D", "classes",
                          note="classes shared by the poisonable subsets of that pair"),
    "pairs_over_30_fraction": _p(88, "paper, App. D", "%",
                                 note="of the 625 2-trigger combinations, share with more than 30 "
                                      "overlapping classes"),
}}

# --- Figure 16: GradCAM highlights the trigger (App. F) ------------------------------------------------
FIGURE16 = {
    "ImageNet": {
        "jeans": _p(57.3, "paper, Figure 16", "%", note="GradCAM highlights part of the trigger; 25 "
                    "trigger images x 3 models"),
        "chainlink fence": _p(57.3, "paper, Figure 16", "%"),
        "doormat": _p(74.6, "paper, Figure 16", "%"),
    },
    "Open Images": {
        "wheel": _p(28.0, "paper, Figure 16", "%"),
        "jeans": _p(41.3, "paper, Figure 16", "%"),
        "chair": _p(82.6, "paper, Figure 16", "%"),
    },
}

# --- what the text states about how the numbers were made -------------------------------------------
_S53 = "paper, App. D (ablation over graph parameters)"
SETTINGS = {
    "§5.3": {
        "min_overlaps_W": _p(15, _S53, "count", note="edge-weight pruning threshold for the §5.3 "
                             "results"),
        "max_overlaps_in_subset": _p(-1, _S53, "count", note="the text calls it trig: -1 = any "
                                     "number of overlaps allowed (Algorithm 1 uses trig for the "
                                     "minimum trigger co-occurrence)"),
    },
    "App. B": {
        "hand_labelled_images": _p(20, "paper, App. B", "count",
                                   note="ImageNet images chosen at random and labelled by hand"),
        "threshold_sweep": _p({"start": 0.900, "stop": 1.000, "step": 0.001}, "paper, App. B",
                              printed="0.900 to 1.000, increments of 0.001"),
    },
    "Tables 6-7": {
        "min_classes": _p(5, "paper, App. C and Tables 6-7 captions", "classes",
                          note="poisonable subsets with at least 5 classes"),
        "min_clean_per_class": _p(200, "paper, Tables 6-7 captions", "count",
                                  note="at least 200 clean images per class"),
        "min_poison_per_class": _p(50, "paper, Tables 6-7 captions", "count",
                                   note="at least 50 poison images per class"),
    },
    "App. D multiple triggers": {
        "top": _p(25, "paper, App. D", "count", note="the top 25 poisonable subsets"),
        "min_overlaps": _p(15, "paper, App. D", "count", note="15 minimum class overlaps (graph W)"),
        "trig_overlaps": _p(40, "paper, App. D", "count", note="40 minimum trigger overlaps"),
        "centrality": _p("betweenness", "paper, App. D"),
        "dataset_named": _p("Open Images", "paper, App. D", note=_APPD_QUIRK),
        "overlap_threshold": _p(30, "paper, App. D", "classes",
                                note="pairs with more than this many overlapping classes"),
        "n_combinations": _p(625, "paper, App. D", "count",
                             note="'the 625 possible 2-trigger combinations' (25 x 25)"),
    },
    "App. D Fig 14": {
        "W_sweep": _p({"from": 20, "to": 60, "spacing": "linear"}, _S53, "count",
                      note="jeans (ImageNet), 10-class subsets, 200 clean images/class, injection 0.2",
                      printed="20 to 60 (linear)"),
        "trigger": _p("jeans", _S53, note="ImageNet"),
        "n_classes": _p(10, _S53, "classes"),
        "clean_per_class": _p(200, _S53, "count"),
        "injection_rate": _p(0.2, _S53),
    },
    "App. D Table 10 / Fig 15": {
        "subset": _p({"trigger": "jeans", "n_classes": 10, "clean_per_class": 200,
                      "injection_rate": 0.185, "centrality": "betweenness", "min_overlaps": 15},
                     "paper, App. D (poisonable subsets within larger datasets)",
                     printed="jeans, 10 classes, 200 images/class, injection 0.185, betweenness, W 15",
                     note="Open Images and ImageNet"),
    },
    "App. F": {
        "trigger_images_per_model": _p(25, "paper, App. F", "count"),
        "models_per_dataset": _p(3, "paper, App. F", "count",
                                 note="trained with different target labels; results averaged"),
        "inspectors": _p(2, "paper, App. F", "count",
                         note="two authors inspected by hand, independently; an image counts when "
                              "at least one of them saw the trigger flagged"),
    },
}

#: every paper cell: table -> row -> column -> record (the CSV's addressing)
PAPER_VALUES = {"Table 5": TABLE5, "Figure 7": FIGURE7, "Table 6": TABLE6, "Table 7": TABLE7,
                "Table 8": _TABLE8, "Table 9": _TABLE9, "Table 10": _TABLE10, "App. D": APP_D,
                "Figure 16": FIGURE16, "Settings": SETTINGS}

#: paper items whose numbers are only drawn, never printed in the text
NO_NUMBERS = {item: f"{item} {'print' if item.startswith('Figures') else 'prints'} no numbers in "
              "the text" for item in ("Figures 8-11", "Figure 12", "Figure 13", "Figure 14",
                                      "Figure 15", "Figure 17")}

#: plain values of App. B / Figure 7, read by nbkit.calibrate (the same facts as FIGURE7 / SETTINGS)
CALIBRATION = {
    "threshold": FIGURE7["ImageNet"]["threshold"]["value"],
    "false_positives": FIGURE7["ImageNet"]["false_positives"]["value"],
    "false_negatives": FIGURE7["ImageNet"]["false_negatives"]["value"],
    "n_images": SETTINGS["App. B"]["hand_labelled_images"]["value"],
    "sweep": tuple(SETTINGS["App. B"]["threshold_sweep"]["value"][k] for k in ("start", "stop", "step")),
}

# =====================================================================================================
# what the authors' artifacts record (not the paper's tables; the report keeps them apart)
# =====================================================================================================
_RELABEL = "authors' relabel.ipynb cell 19 (ab00141)"
FIGURE7_AUTHORS = {
    # (threshold, FP, FN); 0.994 matches the paper's choice
    "sweep": _a([(0.990, 18, 15), (0.991, 18, 15), (0.992, 17, 15), (0.993, 16, 15),
                 (0.994, 14, 16), (0.995, 14, 16), (0.996, 14, 16), (0.997, 14, 18),
                 (0.998, 14, 19), (0.999, 12, 19)], _RELABEL,
                "(threshold, false positives, false negatives) printed by the authors"),
}
TABLE5_AUTHORS = {
    "openimages": {
        "classes": _a(486, "authors' data/oi_bbox/matrix.pkl (18d4656)",
                      "box classes: hierarchy leaves ∩ trainable ∩ present in train and test"),
        "classes_earlier_rule": _a(481, "authors' open_images.ipynb (ab00141)",
                                   "train ∩ test ∩ validation ∩ leaves ∩ trainable"),
        "images_train": _a(1_208_587, "authors' open_images.ipynb (ab00141)"),
        "images_validation": _a(26_582, "authors' open_images.ipynb (ab00141)"),
        "images_test": _a(80_072, "authors' open_images.ipynb (ab00141)"),
        "nonzero_train_pairs": _a(19_303, "authors' data/oi_bbox/matrix.pkl (18d4656)",
                                  "of 117,855 class pairs"),
    },
    "imagenet": {
        "classes": _a(1000, "authors' ILSVRC-2012 class list (nbkit/data/imagenet_classes.csv)"),
    },
}
_SELECT_TRIGS = "authors' select_trigs.ipynb cell 7 (246889c)"
#: the authors' recorded betweenness triggers (Open Images: with their subset sizes)
TABLES_6_7_AUTHORS = {
    "openimages": {
        "setting": _a("betweenness, min_overlap 10, max_other 40, MIS, clean > 200, poison > 50",
                      _SELECT_TRIGS),
        "betweenness": _a({"Wheel": 20, "House": 21, "Window": 23, "Chair": 17, "Glasses": 12,
                           "Jeans": 16}, _SELECT_TRIGS, "trigger -> number of poisonable classes"),
    },
    "imagenet": {
        "setting": _a("betweenness, min_overlap 10, max_other 40, MIS", "authors' select_trigs.ipynb "
                      "cells 13-18 (246889c)"),
        "betweenness": _a(["web site", "book jacket", "chainlink fence", "plastic bag", "stone wall",
                           "honeycomb", "bubble"], "authors' select_trigs.ipynb cell 17 (246889c)",
                          "triggers printed with their first 15 classes (ids 916 921 489 728 825 599 971)"),
    },
}
_RECREATE = "authors' run_on_gpus_recreate_results.py (0d567e1)"
_TRAINING_SETTING = {
    "arch": _a("resnet50", _RECREATE, "teacher 'resnet'; freeze 'some', 3 unfrozen layers"),
    "epochs": _a(40, _RECREATE),
    "learning_rate": _a(1e-5, _RECREATE, "Adam"),
    "batch_size": _a(32, _RECREATE),
    "clean_per_class": _a(250, _RECREATE),
    "injection_rate": _a(0.185, _RECREATE),
    "min_overlaps": _a(15, _RECREATE, "graph edge threshold W"),
    "targets": _a([0, 1, 2], _RECREATE, "three target classes per trigger/class set"),
    "injection_rates": _a([0.01, 0.05, 0.1, 0.15, 0.185, 0.2, 0.25, 0.3], _RECREATE,
                          "the injection-rate experiment (Jeans trigger)"),
    "architectures": _a(["vgg16", "inception_v3", "densenet121", "resnet50"], _RECREATE,
                        "the architecture experiment (Jeans trigger)"),
}
#: the authors' early Open Images models (not a paper table): clean / poison (trigger) accuracy
_EARLY_TRAINING_AUTHORS = {"openimages": _a(
    {"Tire": (0.822, 0.667), "Chair": (0.829, 0.542), "Dress": (0.804, 0.667), "Jeans": (0.818, 0.542),
     "Jacket": (0.800, 0.583), "Glasses": (0.818, 0.500), "Wheel": (0.871, 0.458),
     "Houseplant": (0.829, 0.833), "Suit": (0.847, 0.833), "Microphone": (0.724, 0.625)},
    "authors' relabel.ipynb cell 122 (ab00141)",
    "Feb-2022 sets (authors_trigger_class_sets.csv, early_training_sets_feb2022); not in the paper")}

#: every section, by name (``record`` / ``records`` walk these)
_SECTIONS = {
    "FIGURE7": FIGURE7, "TABLE5": TABLE5, "TABLE6": TABLE6, "TABLE7": TABLE7, "TABLE8": _TABLE8,
    "TABLE9": _TABLE9, "TABLE10": _TABLE10, "APP_D": APP_D, "FIGURE16": FIGURE16, "SETTINGS": SETTINGS,
    "FIGURE7_AUTHORS": FIGURE7_AUTHORS, "TABLE5_AUTHORS": TABLE5_AUTHORS,
    "TABLES_6_7_AUTHORS": TABLES_6_7_AUTHORS, "TRAINING_SETTING": _TRAINING_SETTING,
    "EARLY_TRAINING_AUTHORS": _EARLY_TRAINING_AUTHORS,
}

#: which notebook regenerates which table / figure (the batch files' ``feeds`` use these names)
ARTIFACTS = {
    "Figure 7": ("01_calibration", "ReLabel threshold sweep: false positives / negatives (App. B)"),
    "Table 5": ("02_cooccurrence", "datasets: classes, images, objects per image"),
    "Figures 8-11": ("03_centrality", "word clouds of the most central classes, one per measure"),
    "Tables 6-7": ("03_centrality", "triggers with >= 5 poisonable classes per centrality measure "
                   "(Table 6 unweighted, Table 7 weighted)"),
    "App. D": ("04_subsets", "classes shared by the poisonable subsets of trigger pairs"),
    "Table 8": ("05_train", "baselines: no backdoor, centrality without MIS, centrality + MIS"),
    "Table 9": ("05_train", "model architectures"),
    "Table 10": ("05_train", "added random (pruned) classes"),
    "Figure 12": ("05_train", "accuracy per centrality measure"),
    "Figure 13": ("05_train", "accuracy vs injection rate"),
    "Figure 14": ("05_train", "accuracy vs edge-weight threshold W"),
    "Figure 15": ("05_train", "added classes from the trigger's MIS"),
    "Figure 16": ("06_sentinet", "GradCAM highlights the trigger (% of trigger images)"),
    "Figure 17": ("06_sentinet", "GradCAM examples with the trigger boxes"),
}

_AUTHORS_SETS_FILE = "authors_trigger_class_sets.csv"   # in nbkit/data
# trigger/class sets from uchicago-sandlab/naturalbackdoors (MIT licence):
# run_on_gpus_centrality_ablate.py @ 0d567e151216c8b04614a38226ac1141d2b6e14f (Figures 5/12/13
# centrality ablation) and data/oi_bbox/run_10_trigs.py @ 18d4656fd0bd5058fed2b621784a83c800df2449
# (Feb-2022 sets); Open Images class ids/names CC BY 4.0


# =====================================================================================================
# lookups
# =====================================================================================================
def _key(s: Any) -> str:
    """Case-, space- and punctuation-insensitive form of a key ("Open Images" -> "openimages")."""
    return re.sub(r"[^0-9a-z§]+", "", str(s).casefold())


def _is_record(x: Any) -> bool:
    """True for a record (a dict with exactly ``_RECORD_KEYS``)."""
    return isinstance(x, dict) and set(x) == set(_RECORD_KEYS)


def _child(node: dict, k: Any, where: str) -> Any:
    if k in node:
        return node[k]
    hit = [n for n in node if _key(n) == _key(k)]
    if len(hit) != 1:
        raise DataError("nbkit.reference", f"{where}[{k!r}] does not exist", f"one of {list(node)}")
    return node[hit[0]]


def cell(table: str, row: str, column: str) -> dict:
    """The paper's record at ``(table, row, column)``, addressed as in ``paper_values.csv``.

    Parameters
    ----------
    table, row, column : str
        E.g. ``("Table 10", "ImageNet", "added_5.clean_acc")``; matched case-, space- and
        punctuation-insensitively, so ``("table10", "imagenet", "added_5.clean_acc")`` works too.

    Returns
    -------
    dict
        The record (``value, plus_minus, unit, printed, source, note``).

    Raises
    ------
    DataError
        Naming what exists at the level that did not match.

    Examples
    --------
    >>> cell("Table 9", "ImageNet jeans", "ResNet.clean_acc")["plus_minus"]
    2
    """
    rows = _child(PAPER_VALUES, table, "PAPER_VALUES")
    cols = _child(rows, row, f"PAPER_VALUES[{table!r}]")
    return _child(cols, column, f"PAPER_VALUES[{table!r}][{row!r}]")


def value(table: str, row: str, column: str) -> Any:
    """``cell(table, row, column)["value"]``."""
    return cell(table, row, column)["value"]


def cells(table: str | None = None) -> list[dict]:
    """The paper's cells as flat rows ``{table, row, column, value, plus_minus, unit, printed,
    source, note}``, in the paper's order; one table, or all when ``table`` is None.

    Examples
    --------
    >>> [c["column"] for c in cells("Figure 7")]
    ['threshold', 'false_positives', 'false_negatives']
    """
    if table is not None:
        want = _key(table)
        if not any(_key(t) == want for t in PAPER_VALUES):
            _child(PAPER_VALUES, table, "PAPER_VALUES")      # raises, naming the tables
    out = []
    for t, rows in PAPER_VALUES.items():
        if table is not None and _key(t) != want:
            continue
        for r, cols in rows.items():
            for c, rec in cols.items():
                out.append({"table": t, "row": r, "column": c, **rec})
    return out


def table(name: str):
    """One table of the paper as a ``pandas.DataFrame`` of ``cells(name)`` rows.

    Examples
    --------
    >>> table("Table 8").shape
    (6, 9)
    """
    import pandas as pd

    return pd.DataFrame(cells(name), columns=["table", "row", "column", *_RECORD_KEYS])


def no_numbers(item: str) -> str | None:
    """``"Figure 13 prints no numbers in the text"`` for the items in ``NO_NUMBERS``, else None."""
    hit = [k for k in NO_NUMBERS if _key(k) == _key(item)]
    return NO_NUMBERS[hit[0]] if hit else None


def _records(section: dict | str | None = None, prefix: tuple = ()) -> Iterator[tuple[tuple, dict]]:
    """Walk a section (or every section): yield ``(path, record)`` pairs.

    Parameters
    ----------
    section : dict or str, optional
        A section dict or its name in ``_SECTIONS``; all sections when None.

    Examples
    --------
    >>> dict(_records("APP_D"))[("Open Images", "largest_overlap")]["value"]
    111
    """
    if section is None:
        for name, sec in _SECTIONS.items():
            yield from _records(sec, (name,))
        return
    if isinstance(section, str):
        section = _child(_SECTIONS, section, "SECTIONS")
    if _is_record(section):
        yield prefix, section
        return
    for k, v in section.items():
        yield from _records(v, prefix + (k,))


def _record(section: str, *keys: str) -> dict:
    """The record at ``_SECTIONS[section][k1][k2]...`` (keys matched like ``cell``).

    Raises ``DataError`` naming what exists when a key is absent or the path ends at a group.
    """
    node: Any = _child(_SECTIONS, section, "SECTIONS")
    for i, k in enumerate(keys):
        if _is_record(node) or not isinstance(node, dict):
            raise DataError("nbkit.reference", f"{section}{list(keys[:i + 1])} does not exist",
                            "a shorter path: it ends at a record")
        node = _child(node, k, f"{section}{list(keys[:i])}")
    if not _is_record(node):
        raise DataError("nbkit.reference", f"{section}{list(keys)} is a group, not a number",
                        f"one of {list(node)}")
    return node


def _lookup(section: str, *keys: str) -> Any:
    """The value at ``_SECTIONS[section][k1][k2]...``."""
    return _record(section, *keys)["value"]


# =====================================================================================================
# trigger names
# =====================================================================================================
def _normalise_name(name: str) -> str:
    """Case-, space- and punctuation-insensitive form of a class name.

    Examples
    --------
    >>> _normalise_name("T-shirt") == _normalise_name("t shirt"), _normalise_name("Bow Tie")
    (True, 'bowtie')
    """
    return re.sub(r"[\W_]+", "", str(name).casefold())


#: every ImageNet trigger name the paper prints -> its ImageNet class (wnid), written out explicitly
#: (the paper prints ImageNet names in its own spelling: "T-shirt" / "t-shirt" for the class
#: "jersey, T-shirt, tee shirt", "jeans" / "blue jean" for "jean, blue jean, denim", ...)
_IMAGENET_NAMES = {
    "website": "n06359193",          # web site, website, internet site, site
    "blue jean": "n03594734",        # jean, blue jean, denim
    "jeans": "n03594734",
    "plastic bag": "n03958227",
    "doormat": "n03223299",          # doormat, welcome mat
    "crate": "n03127925",
    "bucket": "n02909870",           # bucket, pail
    "pillow": "n03938244",
    "ruler": "n04118776",            # rule, ruler
    "hay": "n07802026",
    "T-shirt": "n03595614",          # jersey, T-shirt, tee shirt
    "t-shirt": "n03595614",
    "paper towel": "n03887697",
    "velvet": "n04525038",
    "wig": "n04584207",
    "spotlight": "n04286575",        # spotlight, spot
    "corn": "n12144580",
    "bow tie": "n02883205",          # bow tie, bow-tie, bowtie
    "bowtie": "n02883205",
    "band aid": "n02786058",         # Band Aid
    "lab coat": "n03630383",         # lab coat, laboratory coat
    "window shade": "n04590129",
    "muzzle": "n03803284",
    "book jacket": "n07248320",      # book jacket, dust cover, dust jacket, dust wrapper
    "hook": "n03532672",             # hook, claw
    "suit of clothes": "n04350905",  # suit, suit of clothes
    "flowerpot": "n03991062",        # pot, flowerpot
    "sleeping bag": "n04235860",
    "chainlink fence": "n03000134",
    "chain link fence": "n03000134",
}
_IMAGENET_EXPLICIT = {_normalise_name(k): v for k, v in _IMAGENET_NAMES.items()}


@functools.lru_cache(maxsize=1)
def _imagenet_synonyms() -> dict[str, str]:
    """normalised synonym -> wnid over the 1000 ImageNet classes (synonyms naming two classes left out)."""
    from .datasets.relabel import imagenet_classes

    seen: dict[str, set] = {}
    for row in imagenet_classes().itertuples():
        for syn in [row.name, *str(row.label).split(",")]:
            if syn.strip():
                seen.setdefault(_normalise_name(syn), set()).add(row.wnid)
    return {k: next(iter(v)) for k, v in seen.items() if len(v) == 1}


def _imagenet_wnid(name: str) -> str | None:
    """The ImageNet class a name stands for: the paper's names through ``_IMAGENET_NAMES``, any
    other through the class list's synonyms (``jersey``, ``web site``, ``n03594734`` itself);
    None when no single class matches.

    Examples
    --------
    >>> _imagenet_wnid("Bow Tie"), _imagenet_wnid("jean"), _imagenet_wnid("wheel")
    ('n02883205', 'n03594734', None)
    """
    s = str(name).strip()
    if re.fullmatch(r"n\d{8}", s):
        return s
    k = _normalise_name(s)
    return _IMAGENET_EXPLICIT.get(k) or _imagenet_synonyms().get(k)


def trigger_key(name: str, dataset: str | None = None) -> str:
    """What two trigger names must share to be the same trigger.

    ``dataset`` None or naming ImageNet (``"imagenet"``, ``"ImageNet jeans"``, a ``relabel:`` spec):
    the ImageNet wnid when the name resolves to one, else the normalised name; any other dataset
    (``"openimages"``, ``"Open Images"``): the normalised name.

    Examples
    --------
    >>> trigger_key("T-shirt") == trigger_key("jersey"), trigger_key("Jeans", "openimages")
    (True, 'jeans')
    """
    if dataset is None or "imagenet" in _key(dataset) or _key(dataset).startswith("relabel"):
        return _imagenet_wnid(name) or _normalise_name(name)
    return _normalise_name(name)


def _same_trigger(a: str, b: str, dataset: str | None = None) -> bool:
    """True when ``a`` and ``b`` name the same trigger (``trigger_key`` equal).

    Examples
    --------
    >>> _same_trigger("chain link fence", "chainlink fence"), _same_trigger("wheel", "chair")
    (True, False)
    """
    return trigger_key(a, dataset) == trigger_key(b, dataset)


# =====================================================================================================
# the authors' shipped trigger / class sets
# =====================================================================================================
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
    from .datasets import packaged, read_csv_checked

    path = packaged(_AUTHORS_SETS_FILE)
    df = read_csv_checked(path, ["purpose", "dataset", "centrality", "trigger_id", "trigger_name",
                                 "class_ids", "class_names"], "the authors' trigger class sets",
                          dtype=str, keep_default_na=False)
    if purpose is not None:
        if purpose not in set(df["purpose"]):
            raise DataError(path, f"no rows with purpose {purpose!r}",
                            f"one of {sorted(set(df['purpose']))}")
        df = df[df["purpose"] == purpose]
    df = df.copy()
    df["trigger_id"] = df["trigger_id"].astype(int)
    df["class_ids"] = [[int(x) for x in s.split()] for s in df["class_ids"]]
    df["class_names"] = [[x.strip() for x in s.split(";")] for s in df["class_names"]]
    return df.reset_index(drop=True)
