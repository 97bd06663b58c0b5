"""Which run feeds which published cell: the one mapping from the paper's cells to a batch's runs.

Every value the paper prints is one cell of ``paper_values.csv`` (``table, row, column``; see
``../shared/paper/README.md``). A run *feeds* a cell when

1. its notebook is the one that computes that table or figure,
2. the batch tagged it with the report section (``feeds: ["Table 9"]``, matched the way the report
   matches it, :func:`nbkit.claims._feeds_match`: ``"Tables 6-7"`` feeds Table 6),
3. it reads the dataset the paper used for the cell (``relabel:`` = ImageNet, ``openimages:`` = Open
   Images; the paper's row says which), and
4. its parameters are the cell's setting (Table 9's ``DenseNet`` column is ``arch=densenet121`` on
   ImageNet *jeans*; Table 10's ``added_5`` is ``n_added_classes=5, added_mode=random``; ...).

:data:`_RULES` holds 1, 3 and 4 per table, :func:`rule` turns one cell into a :class:`Feed`, and
:func:`feed_table` lists, for every cell, the runs of a batch that feed it. It takes the batch's
``RunSpec`` objects (a dry run: parameters the batch leaves out are the notebook's declared defaults)
or the report's ``Run`` objects (``params.json``, already complete), so the dry-run check and the
report use the same mapping.

Examples
--------
>>> from nbkit import feeds
>>> f = feeds.rule("Table 9", "ImageNet jeans", "DenseNet.clean_acc")
>>> f.notebook, f.section, f.dataset, dict(f.params)["arch"]
('05_train', 'Table 9', 'imagenet', 'densenet121')
"""
from __future__ import annotations

import ast
import dataclasses
import functools
import os
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import pandas as pd

from .errors import DataError

#: the paper's row labels -> the kit's dataset kind (``None``: the cell belongs to no one dataset)
_DATASETS = {"ImageNet": "imagenet", "ImageNet jeans": "imagenet", "Open Images": "openimages"}
#: the triggers the paper names in its cells, as the kit's class labels (wnid / MID)
_TRIGGERS = {("imagenet", "jeans"): "n03594734", ("imagenet", "chainlink fence"): "n03000134",
            ("imagenet", "doormat"): "n03223299", ("openimages", "jeans"): "/m/0fly7",
            ("openimages", "wheel"): "/m/083wq", ("openimages", "chair"): "/m/01mzpv"}
#: Table 9's column prefixes -> ``arch`` of notebook 05
_ARCHS = {"DenseNet": "densenet121", "ResNet": "resnet50", "VGG16": "vgg16", "Inception": "inception_v3"}


@dataclasses.dataclass(frozen=True)
class Feed:
    """What a run must be to feed one cell of the paper.

    Attributes
    ----------
    table, row, column : str
        The cell (``paper_values.csv``).
    notebook : str
        The notebook that computes it.
    section : str
        The report section / batch ``feeds`` tag (``"Tables 6-7"`` for Table 6).
    dataset : str or None
        ``"imagenet"`` / ``"openimages"``; None when either dataset feeds it (App. D: the text names
        Open Images, its pair is ImageNet's).
    params : tuple of (name, value)
        Parameters the run must have; a value may be a one-argument predicate.
    """

    table: str
    row: str
    column: str
    notebook: str
    section: str
    dataset: str | None
    params: tuple = ()

    def describe(self) -> str:
        """``05_train [Table 9] imagenet, arch=densenet121, ...`` (predicates by their docstring)."""
        conds = [f"{k} {v.__doc__}" if callable(v) else f"{k}={v}"
                 for k, v in self.params]
        return f"{self.notebook} [{self.section}] " + ", ".join([self.dataset or "either dataset"] + conds)

    def matches(self, run: Any) -> bool:
        """Does ``run`` (a batch ``RunSpec`` or a report ``Run``) feed this cell?"""
        from .claims import _feeds_match

        if run.notebook != self.notebook:
            return False
        if not any(_feeds_match(str(f), self.section) for f in (run.feeds or [])):
            return False
        p = _resolved_params(run)
        if self.dataset is not None and dataset_of(p) != self.dataset:
            return False
        for k, want in self.params:
            have = p.get(k)
            if callable(want):
                if not want(have):
                    return False
            elif not _same(have, want):
                return False
        return True


def _same(have, want) -> bool:
    if isinstance(want, (int, float)) and not isinstance(want, bool):
        try:
            return float(have) == float(want)
        except (TypeError, ValueError):
            return False
    return str(have) == str(want)


def _positive(x) -> bool:
    """> 0"""
    try:
        return float(x) > 0
    except (TypeError, ValueError):
        return False


def _w_sweep(x) -> bool:
    """in 20..60"""
    try:
        return 20 <= float(x) <= 60
    except (TypeError, ValueError):
        return False


def dataset_of(params: Mapping) -> str | None:
    """``"imagenet"`` (ReLabel maps), ``"openimages"`` or None for a run's parameters.

    Notebook 01 reads ImageNet through ``relabel_dir``; the others through a ``relabel:`` /
    ``openimages:`` dataset spec. The authors' embedded counts (``openimages-counts``) and toy scenes
    are None: they are not the paper's data.

    >>> dataset_of({"dataset": "relabel:/d/maps?images=/d/train"}), dataset_of({"dataset": "toyscenes"})
    ('imagenet', None)
    """
    if params.get("relabel_dir"):
        return "imagenet"
    spec = str(params.get("dataset") or "")
    if spec.startswith("relabel:"):
        return "imagenet"
    if spec.startswith("openimages:"):
        return "openimages"
    return None


@functools.lru_cache(maxsize=None)
def _declared(path: str, mtime: float) -> dict:
    from .runs import notebook_parameters

    out = {}
    for name, info in notebook_parameters(Path(path)).items():
        try:
            out[name] = ast.literal_eval(str(info.get("default")))
        except (ValueError, SyntaxError):
            out[name] = info.get("default")
    return out


def _resolved_params(run: Any) -> dict:
    """A run's full parameters: the notebook's declared defaults, then what the batch (or
    ``params.json``) sets. A report ``Run`` already holds them all; a batch ``RunSpec`` only holds
    what the batch file sets, so the defaults come from its notebook's ``parameters`` cell."""
    path = getattr(run, "path", None)
    base = _declared(str(path), os.path.getmtime(path)) if path and Path(path).is_file() else {}
    return {**base, **dict(run.params)}


def _training(section: str, dataset: str, *params) -> Callable[[str, str, str], Feed]:
    return lambda t, r, c: Feed(t, r, c, "05_train", section, dataset, tuple(params))


def _table8(t, r, c) -> Feed:
    what = c.split(".")[0]
    cond = {"no_backdoor": (("injection_rate", 0),),
            "centrality_no_mis": (("subset_mode", "neighbours"), ("injection_rate", _positive)),
            "centrality_mis": (("subset_mode", "mis"), ("injection_rate", _positive))}
    if what not in cond:
        raise DataError("paper_values.csv", f"Table 8 column {c!r} is not one of the kit's rows",
                        f"one of {sorted(cond)} followed by .clean_acc / .trigger_acc")
    return Feed(t, r, c, "05_train", "Table 8", _DATASETS[r], (("centrality", "betweenness"),) + cond[what])


def _table9(t, r, c) -> Feed:
    arch = _ARCHS.get(c.split(".")[0])
    if arch is None:
        raise DataError("paper_values.csv", f"Table 9 column {c!r} names no known architecture",
                        f"one of {sorted(_ARCHS)} followed by .clean_acc / .trigger_acc")
    return Feed(t, r, c, "05_train", "Table 9", "imagenet",
                (("trigger", _TRIGGERS["imagenet", "jeans"]), ("arch", arch)))


def _table10(t, r, c) -> Feed:
    ds = _DATASETS[r]
    n = int(c.split(".")[0].removeprefix("added_"))
    return Feed(t, r, c, "05_train", "Table 10", ds,
                (("trigger", _TRIGGERS[ds, "jeans"]), ("n_added_classes", n), ("added_mode", "random")))


def _figure16(t, r, c) -> Feed:
    ds = _DATASETS[r]
    return Feed(t, r, c, "06_sentinet", "Figure 16", ds, (("trigger", _TRIGGERS[ds, c]),))


def _settings(t, r, c) -> Feed:
    """The settings the text states: fed by the runs that use them."""
    if c == "min_overlaps_W":          # §5.3: W = 15 for the main results (Figure 12 / Table 8)
        return Feed(t, r, c, "05_train", "Table 8", None, (("min_overlaps", 15),))
    if c == "max_overlaps_in_subset":  # §5.3: tolerance -1
        return Feed(t, r, c, "05_train", "Table 8", None, (("max_other_overlaps", -1),))
    if c == "W_sweep":                 # App. D, Figure 14: jeans (ImageNet), 200 clean, injection 0.2
        return Feed(t, r, c, "05_train", "Figure 14", "imagenet",
                    (("trigger", _TRIGGERS["imagenet", "jeans"]), ("min_overlaps", _w_sweep),
                     ("clean_per_class", 200), ("injection_rate", 0.2), ("n_classes", 10)))
    if c == "subset":                  # App. D, Table 10 / Figure 15
        return Feed(t, r, c, "05_train", "Table 10", None,
                    (("centrality", "betweenness"), ("min_overlaps", 15), ("clean_per_class", 200),
                     ("injection_rate", 0.185), ("n_classes", 10)))
    raise DataError("paper_values.csv", f"Settings column {c!r} has no rule in nbkit.feeds",
                    "min_overlaps_W, max_overlaps_in_subset, W_sweep or subset")


#: paper_values.csv ``table`` -> cell -> Feed
_RULES: dict[str, Callable[[str, str, str], Feed]] = {
    "Figure 7": lambda t, r, c: Feed(t, r, c, "01_calibration", "Figure 7", "imagenet"),
    "Table 5": lambda t, r, c: Feed(t, r, c, "02_cooccurrence", "Table 5", _DATASETS[r]),
    "Table 6": lambda t, r, c: Feed(t, r, c, "03_centrality", "Tables 6-7", _DATASETS[r]),
    "Table 7": lambda t, r, c: Feed(t, r, c, "03_centrality", "Tables 6-7", _DATASETS[r]),
    "Table 8": _table8,
    "Table 9": _table9,
    "Table 10": _table10,
    "App. D": lambda t, r, c: Feed(t, r, c, "04_subsets", "App. D", None,
                                   (("centrality", "betweenness"), ("top_m", 25), ("min_overlaps", 15),
                                    ("trig_overlaps", 40))),
    "Figure 16": _figure16,
    "Settings": _settings,
}


def rule(table: str, row: str, column: str) -> Feed:
    """The :class:`Feed` of one cell of ``paper_values.csv``.

    Raises
    ------
    DataError
        A table, row or column the mapping does not know (names it and what is known).
    """
    if table not in _RULES:
        raise DataError("paper_values.csv", f"table {table!r} has no rule in nbkit.feeds",
                        f"one of {sorted(_RULES)}")
    try:
        return _RULES[table](table, row, column)
    except KeyError as e:
        raise DataError("paper_values.csv", f"{table} row {row!r} column {column!r}: unknown {e}",
                        f"rows {sorted(_DATASETS)}, triggers {sorted(k[1] for k in _TRIGGERS)}") from None


def read_cells(path: str | os.PathLike) -> pd.DataFrame:
    """``paper_values.csv`` as a DataFrame of strings (``table, row, column, value, ...``)."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"table", "row", "column", "value"} - set(df.columns)
    if missing:
        raise DataError(path, f"missing columns {sorted(missing)}", "table,row,column,value,...")
    return df


def _feeders(feed: Feed, runs: Iterable[Any]) -> list:
    """The runs among ``runs`` that feed ``feed``'s cell."""
    return [r for r in runs if feed.matches(r)]


def feed_table(cells: pd.DataFrame | str | os.PathLike, runs: Sequence[Any]) -> pd.DataFrame:
    """Every cell with the runs that feed it.

    Parameters
    ----------
    cells : DataFrame or path
        ``paper_values.csv`` (or its rows).
    runs : sequence
        A batch's ``RunSpec`` list (``load_batch(...).runs``) or the report's ``Run`` list.

    Returns
    -------
    DataFrame
        ``table, row, column, fed_by`` (the rule, :meth:`Feed.describe`), ``n_runs`` and ``runs``
        (run-folder hashes), one row per cell, in the file's order.
    """
    if not isinstance(cells, pd.DataFrame):
        cells = read_cells(cells)
    rows = []
    for c in cells.itertuples(index=False):
        f = rule(c.table, c.row, c.column)
        got = _feeders(f, runs)
        rows.append({"table": c.table, "row": c.row, "column": c.column, "fed_by": f.describe(),
                     "n_runs": len(got), "runs": ", ".join(sorted({Path(str(r.run_dir)).name for r in got}))})
    return pd.DataFrame(rows, columns=["table", "row", "column", "fed_by", "n_runs", "runs"])
