"""The report beside the paper: every table and figure rebuilt from a batch's ``results.json`` files.

Notebook 07 calls :func:`build` for a batch; :func:`write` puts the result under
``runs/<batch>/report/``::

    report.html        one self-contained page (figures as data URIs): the claims first, a table
                       of contents, every section; mail it or publish it as it is
    report.md          the same as Markdown, fit for a paper's appendix (figures linked)
    tables/*.csv       each table of each section, the claims and the runs
    figures/*.png      the runs' figures (copied) and the sweeps re-plotted from results

Only ``results.json``, ``params.json`` and ``batch.json`` of complete runs are read (never notebook
outputs); a run folder without ``results.json`` is listed as incomplete and contributes nothing.

Every number of ours carries where its data came from, in three kinds (:func:`data_kind`):
``toy scenes`` (synthetic), ``authors' counts`` (the real Open Images co-occurrence matrix the
authors released) and ``real data`` (a dataset the user pointed the kit at). A difference with the
paper's number is given only where both measure the same thing on the same kind of data; elsewhere
the row says why they are not compared, and :mod:`nbkit.claims` checks whether the paper's
*finding* holds on our runs (the table the report opens with). The paper's numbers come from
``nbkit.reference`` with their source; the authors' recorded values (their notebooks and scripts)
appear in their own column; where the paper prints no number (Figures 12-15 are
plots) the paper column says ``n/a``.

Examples
--------
>>> from nbkit import report
>>> rep = report.build("smoke", runs_root="runs")             # doctest: +SKIP
>>> paths = report.write(rep, "runs/smoke/report")            # doctest: +SKIP
>>> rep.sections[0].key                                       # doctest: +SKIP
'Figure 7'
"""
from __future__ import annotations

import dataclasses
import math
import os
import re
import shutil
import traceback
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from . import reference as R
from . import runs as _runs
from . import subsets as S
from .errors import DataError, MissingDataError
from .io import read_json, write_text
from .claims import (_arch, _centrality_variant, _multi_blocks, _num, _printed,  # noqa: F401
                     _runs_of, _table8_column)
from .datasets import AUTHORS, REAL, TOY, data_kind
from .schema import schema_for
from . import claims as _claims

#: the three kinds of data a number can come from (``data_kind``)
#: parameters that repeat an experiment (aggregated over), never an experimental axis
_REPLICATE_AXES = ("target", "seed")
NA = "n/a"


# --------------------------------------------------------------------------------------------------
# collecting runs
# --------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Run:
    """One run folder of a batch, as the report sees it."""

    notebook: str
    hash: str
    run_dir: Path
    params: dict
    results: dict | None
    feeds: list
    data: str

    @property
    def complete(self) -> bool:
        return self.results is not None

    def get(self, key: str, default: Any = None) -> Any:
        """``results[key]`` (``default`` when the run did not record it), for a ``key`` that the
        notebook's schema (:mod:`nbkit.schema`) names: a key it does not name is a ``KeyError``,
        so a misspelt key fails loudly instead of reading as missing."""
        if key not in schema_for(self.notebook).fields:
            raise KeyError(f"{key!r} is not a results key of {self.notebook} (nbkit.schema)")
        value = (self.results or {}).get(key)
        return default if value is None else value


def collect(batch: str, runs_root: str | os.PathLike | None = None) -> list[Run]:
    """Every run folder of ``<runs_root>/<batch>/<notebook>/<hash>``, complete or not.

    Parameters
    ----------
    batch : str
        Batch name.
    runs_root : path, optional
        Default ``$NBKIT_RUNS`` or ``./runs``.

    Returns
    -------
    list of Run
        Sorted by notebook then hash; ``results`` is None for incomplete runs.
    """
    out: list[Run] = []
    for rec in _runs.scan(batch=batch, root=runs_root or None):   # the kit's one run scanner
        info = _read(rec.dir / "batch.json") or {}
        out.append(Run(rec.notebook, rec.dir.name, rec.dir, rec.params, rec.results if rec.complete else None,
                       list(info.get("feeds") or []), data_kind(rec.params)))
    return out


def _read(path: Path):
    if not path.is_file():
        return None
    return read_json(path)


# --------------------------------------------------------------------------------------------------
# sections
# --------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class Section:
    """One table or figure of the paper, rebuilt.

    Attributes
    ----------
    key : str
        ``"Table 8"``, ``"Figure 13"``, ``"App. D"``...
    title : str
    notebook : str
        The notebook whose runs feed it.
    tables : dict of DataFrame
        Named tables (the comparison first).
    figures : list of Path
        PNG files (from runs, or re-plotted here).
    notes : list of str
    data : str
        The data kinds of its runs (``toy scenes``, ``authors' counts``, ``real data``, joined
        with `` + ``) or ``none`` (no complete run).
    runs : int
        Complete runs used.
    """

    key: str
    title: str
    notebook: str
    tables: dict = dataclasses.field(default_factory=dict)
    figures: list = dataclasses.field(default_factory=list)
    notes: list = dataclasses.field(default_factory=list)
    data: str = "none"
    runs: int = 0
    captions: dict = dataclasses.field(default_factory=dict)

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "_", self.key.lower()).strip("_")


@dataclasses.dataclass
class Report:
    """The whole report: its sections, the run list and the paper items that print no numbers."""

    batch: str
    runs_root: Path
    sections: list
    runs: pd.DataFrame
    no_numbers: pd.DataFrame
    claims: pd.DataFrame = dataclasses.field(default_factory=pd.DataFrame)

    def section(self, key: str) -> Section:
        for s in self.sections:
            if s.key == key:
                return s
        raise KeyError(key)


def _kinds(runs: Iterable[Run]) -> str:
    return _claims._kinds(runs, none="none")


_ADDRESSES: dict[int, str] = {}


def _paper_address(rec: Mapping | None) -> str:
    """``"Table 8 · ImageNet · centrality_mis.clean_acc"`` for a record of ``nbkit.reference``'s
    paper cells (the ``paper_values.csv`` address), ``""`` for anything else."""
    if rec is None:
        return ""
    if not _ADDRESSES:
        for t, rows in R.PAPER_VALUES.items():
            for r, cols in rows.items():
                for c, x in cols.items():
                    _ADDRESSES[id(x)] = f"{t} · {r} · {c}"
    return _ADDRESSES.get(id(rec), "")


#: why a toy-scene number is never subtracted from the paper's
_TOY_WHY = "toy scenes: a synthetic stand-in at toy scale, not the paper's dataset (read the claims table)"


def _compare_row(quantity: str, ours: Any, rec: Mapping | None, data: str, dataset: str = "",
                runs: int | None = None, authors: Any = None, authors_source: str = "",
                scale: float = 1.0, why: str | None = None) -> dict:
    """One comparison row: ours beside the paper's (with source), the data used, and either their
    difference or the one-line reason they are not compared.

    A ``difference`` (ours − paper) is given only where both numbers measure the same thing on the
    same kind of data: never for toy scenes (``why`` defaults to :data:`_TOY_WHY`), and never when
    the caller names a reason in ``why`` (e.g. ``"100 vs 625 pairs"``). ``scale`` multiplies the
    paper's value first (0.01 for a percentage beside a fraction).

    Examples
    --------
    >>> _compare_row("threshold", 0.996, {"value": 0.994, "source": "paper"}, REAL)["difference"]
    0.0020000000000000018
    >>> r = _compare_row("threshold", 0.996, {"value": 0.994, "source": "paper"}, TOY)
    >>> r["difference"], r["why_not_compared"] == _TOY_WHY
    ('', True)
    """
    paper = rec["value"] if rec else None
    if isinstance(paper, (int, float)) and not isinstance(paper, bool):
        paper = paper * scale
    if why is None and data == TOY and paper is not None:
        why = _TOY_WHY
    o, p = _num(ours), _num(paper)
    diff = (o - p) if (not why and o is not None and p is not None and not isinstance(ours, str)) else None
    return {"quantity": quantity, "dataset": dataset, "data": data,
            "ours": ours, "paper": paper if paper is not None else NA,
            "difference": diff if diff is not None else "",
            "why_not_compared": (why or "") if paper is not None else "",
            "paper_source": rec["source"] if rec else "", "paper_cell": _paper_address(rec),
            "authors_recorded": authors if authors is not None else "",
            "authors_source": authors_source, "runs": runs if runs is not None else ""}


def _figures(runs: Sequence[Run], *patterns: str) -> list[Path]:
    """The runs' PNG figures named by ``patterns`` (the names the notebooks save them under with
    ``runs.save_figure``), run by run, each pattern's files sorted."""
    return [p for r in runs for pat in patterns for p in sorted(r.run_dir.glob(pat))]


def _section(key: str, notebook: str, runs: Sequence[Run]) -> tuple[list[Run], Section]:
    """The complete runs of ``notebook`` that feed ``key``, and the section they start."""
    sel = _runs_of(runs, notebook, key)
    title = R.ARTIFACTS.get(key, (notebook, key))[1]
    s = Section(key=key, title=title, notebook=notebook, data=_kinds(sel), runs=len(sel))
    if not sel:
        s.notes.append(f"no complete run of {notebook} feeds {key} in this batch")
    return sel, s


# --- Figure 7 (01) ------------------------------------------------------------------------------
def _figure7(runs: Sequence[Run]) -> Section:
    sel, s = _section("Figure 7", "01_calibration", runs)
    rows = []
    for r in sel:
        ds = r.get("dataset", "")
        th, fp, fn, n = (r.get(k) for k in ("threshold", "fp", "fn", "n_images"))
        f7 = R.FIGURE7["ImageNet"]
        rows += [_compare_row("threshold", th, f7["threshold"], r.data, ds, 1),
                 _compare_row("false positives", fp, f7["false_positives"], r.data, ds, 1),
                 _compare_row("false negatives", fn, f7["false_negatives"], r.data, ds, 1),
                 _compare_row("hand-labelled images", n, R.cell("Settings", "App. B",
                                                               "hand_labelled_images"), r.data, ds, 1)]
    if rows:
        s.tables["comparison"] = pd.DataFrame(rows)
    s.tables["authors_sweep"] = pd.DataFrame(R.FIGURE7_AUTHORS["sweep"]["value"],
                                             columns=["threshold", "false_positives", "false_negatives"])
    s.notes.append("authors' sweep: " + R.FIGURE7_AUTHORS["sweep"]["source"])
    s.figures = _figures(sel, "fig7*.png")
    return s


# --- Table 5 (02) -------------------------------------------------------------------------------
def _table5(runs: Sequence[Run]) -> Section:
    sel, s = _section("Table 5", "02_cooccurrence", runs)
    seen: dict[str, dict] = {}
    for r in sel:
        for row in r.get("table5", []):
            seen.setdefault(str(row["dataset"]), row)
    rows = []
    for name, row in seen.items():
        kind = data_kind(name)
        paper_ds = "openimages" if "openimages" in name else ("imagenet" if "relabel" in name
                                                              or "imagenet" in name else None)
        for q, key in (("classes", "classes"), ("images", "images"),
                       ("objects per image", "objects_per_image")):
            rec = R.cell("Table 5", paper_ds, "avg_objects_per_image" if key == "objects_per_image"
                         else key) if paper_ds else None
            auth = R.TABLE5_AUTHORS.get(paper_ds or "", {}).get(key)
            rows.append(_compare_row(q, row.get(key), rec, kind, name,
                                    authors=auth["value"] if auth else None,
                                    authors_source=auth["source"] if auth else ""))
    if rows:
        s.tables["comparison"] = pd.DataFrame(rows)
        s.tables["ours"] = pd.DataFrame(list(seen.values()))
    s.notes.append("authors' recorded Open Images facts: " + "; ".join(
        f"{k} = {v['value']:,}" if isinstance(v["value"], int) else f"{k} = {v['value']}"
        for k, v in R.TABLE5_AUTHORS["openimages"].items()))
    s.figures = _figures(sel, "distributions.png", "core.png")
    return s


# --- Figures 8-11 and Tables 6-7 (03) -------------------------------------------------------------
def _figures8_11(runs: Sequence[Run]) -> Section:
    sel, s = _section("Figures 8-11", "03_centrality", runs)
    rows = []
    for r in sel:
        for key, ds in (("dataset_top_m", r.params.get("dataset", "")), ("openimages_top_m", "openimages-counts")):
            for variant, names in r.get(key, {}).items():
                rows.append({"dataset": ds, "data": data_kind(ds), "variant": variant,
                             "top classes": ", ".join(map(str, names[:10]))})
    if rows:
        s.tables["top_classes"] = pd.DataFrame(rows)
    s.figures = _figures(sel, "wordcloud*.png")
    s.notes.append("the paper's Figures 8-11 are word clouds of ImageNet/Open Images classes sized by "
                   "centrality; ours are drawn from the same 8 centrality variants (toy scenes and the "
                   "authors' Open Images counts); the "
                   "kit compares trigger names in Tables 6-7")
    return s


def _tables6_7(runs: Sequence[Run]) -> Section:
    sel, s = _section("Tables 6-7", "03_centrality", runs)
    for r in sel:
        sfx = f"_{r.hash}" if len(sel) > 1 else ""
        t = r.get("tables_6_7", [])
        if t:
            df = S.tables_6_7_frame(t, wide=True)
            df.insert(2, "data", AUTHORS)
            s.tables[f"open_images_published_vs_ours{sfx}"] = df
            s.data = " + ".join(sorted({*s.data.split(" + "), AUTHORS} - {"none"}))
            setting = r.get("tables_6_7_setting", {})
            if setting:
                s.notes.append("Open Images rows regenerated on the authors' counts at the paper's "
                               "setting, whatever the dataset chosen for the run: "
                               + _flat({k: v for k, v in setting.items() if k != "exclude"}))
            if setting.get("counts_lower_bounds"):
                s.notes.append(f"{setting['counts_lower_bounds']} of the authors' Open Images per-class "
                               "counts are lower bounds: a clean-count filter can only wrongly reject a "
                               "class, never wrongly accept it")
        ds_table = r.get("trigger_table_dataset", {}).get("table")
        if ds_table:
            df = pd.DataFrame(ds_table)
            df.insert(0, "data", r.data)
            s.tables[f"triggers_on_{re.sub(r'[^A-Za-z0-9]+', '_', str(r.params.get('dataset', ''))).strip('_')}"
                     f"{sfx}"] = df
    s.notes.append("the paper's ImageNet rows of Tables 6-7 are not run here (needs real data): "
                   "run notebook 03 on ImageNet multi-labels, e.g. `python -m nbkit reproduce --batch "
                   "paper --data-root DIR` (03_centrality with dataset=relabel:...)")
    return s


def _flat(v):
    if isinstance(v, (list, tuple)):
        return ", ".join(map(str, v))
    if isinstance(v, Mapping):
        return "; ".join(f"{k}: {_flat(x)}" for k, x in v.items())
    return v


# --- App. D (04) ----------------------------------------------------------------------------------
def _app_d(runs: Sequence[Run]) -> Section:

    sel, s = _section("App. D", "04_subsets", runs)
    frames = []
    for r in sel:
        for ds, mt in _multi_blocks(r):
            frames.append(S.app_d_comparison(mt, r.params, ds or r.params.get("dataset", "")))
            s.notes.append(S.app_d_text(mt, r.params, ds or r.params.get("dataset", "")))
    if frames:
        s.tables["comparison"] = pd.concat(frames, ignore_index=True)
    s.figures = _figures(sel, "multi_trigger_*.png", "ablation_min_overlaps.png")
    return s


# --- Tables 8-10 and Figures 12-15 (05) ------------------------------------------------------------
def _accuracy_frame(sel: Sequence[Run]) -> pd.DataFrame:
    """One row per training run: its parameters, clean and trigger accuracy and its data kind."""
    rows = []
    names = _run_names(sel)
    for r in sel:
        row = dict(r.params)
        if _arch(r):
            row["arch"] = _arch(r)
        row.update({k: _num(r.get(k)) for k in ("clean_acc", "trigger_acc")})
        row.update(run=names[r.run_dir], data=r.data)
        rows.append(row)
    return pd.DataFrame(rows)


def _sweep_axes(df: pd.DataFrame, ignore: Iterable[str] = ()) -> list[str]:
    """Parameters that vary across the runs, replicate axes (target, seed) and ``ignore`` excluded."""
    skip = set(_REPLICATE_AXES) | set(ignore) | {"run", "data", "clean_acc", "trigger_acc"}
    return [c for c in df.columns if c not in skip and df[c].astype(str).nunique() > 1]


def _aggregate(df: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Mean, std and count of clean / trigger accuracy over replicates, per value of ``by``."""
    if df.empty:
        return df
    by = list(by)
    g = df.groupby(by, dropna=False, sort=True) if by else df.assign(_all=0).groupby("_all")
    out = g.agg(clean_acc=("clean_acc", "mean"), clean_acc_std=("clean_acc", "std"),
                trigger_acc=("trigger_acc", "mean"), trigger_acc_std=("trigger_acc", "std"),
                n=("run", "count"), data=("data", lambda x: " + ".join(sorted(set(x)))))
    out = out.reset_index()
    return out.drop(columns=["_all"], errors="ignore")


def _fmt_pm(m, sd, n) -> str:
    if m is None or (isinstance(m, float) and math.isnan(m)):
        return NA
    s = f"{m:.3f}"
    if n and n > 1 and sd is not None and not (isinstance(sd, float) and math.isnan(sd)):
        s += f" ± {sd:.3f}"
    return s + f" (n={int(n)})"


def _paper_dataset(row: Mapping) -> str:
    """The paper's dataset row for a run: ``imagenet`` / ``openimages``, or ``toy`` for toy scenes
    (shown beside the paper's first row, never subtracted)."""
    ds = str(row.get("dataset", "") or "").lower()
    if data_kind(ds) == TOY:
        return "toy"
    return "imagenet" if ("relabel" in ds or "imagenet" in ds) else "openimages"


def _training_section(key: str, runs: Sequence[Run], row_label: Callable[[Mapping], str],
                      paper: Callable[[str, str, str], dict | None], axis_hint: Sequence[str] = (),
                      plot: str | None = None, xlabel: str | None = None,
                      replicates: Sequence[str] = _REPLICATE_AXES) -> Section:
    sel, s = _section(key, "05_train", runs)
    df = _accuracy_frame(sel)
    if df.empty:
        return s
    varies = lambda a: a in df.columns and df[a].astype(str).nunique() > 1  # noqa: E731
    axes = [a for a in axis_hint if varies(a)] or _sweep_axes(df, ignore=replicates)
    if varies("dataset") and "dataset" not in axes:
        axes = ["dataset"] + axes
    agg = _aggregate(df, axes)
    rows = []
    for _, a in agg.iterrows():
        label = row_label(a) if axes else row_label(df.iloc[0].to_dict())   # one setting: its own name
        for metric in ("clean_acc", "trigger_acc"):
            rec = paper(label, metric, _paper_dataset(a))
            why = None if a["data"] in (REAL,) else (
                _TOY_WHY if TOY in a["data"] else f"{a['data']}: not the paper's training data")
            if why and _paper_address(rec):
                why += f"; paper: {_paper_address(rec).split(' · ')[1]}"
            row = _compare_row(metric.replace("_", " "), _round(a[metric]), rec, a["data"],
                              ", ".join(f"{x}={a[x]}" for x in axes), int(a["n"]), why=why,
                              scale=0.01 if rec and rec["unit"] == "%" else 1)
            row["setting"] = label
            row["ours_mean_std"] = _fmt_pm(a[metric], a[f"{metric}_std"], a["n"])
            rows.append(row)
    cmp = pd.DataFrame(rows)
    cols = ["setting", "quantity", "ours_mean_std", "ours", "paper", "difference", "why_not_compared",
            "data", "runs", "paper_source", "dataset", "paper_cell"]
    s.tables["comparison"] = cmp[cols]
    keep = [c for c in df.columns if c in axes or c in replicates
            or (c not in ("clean_acc", "trigger_acc", "run", "data") and df[c].astype(str).nunique() > 1)]
    s.tables["runs"] = df[keep + ["clean_acc", "trigger_acc", "run", "data"]]
    if R.no_numbers(key):
        s.notes.append(R.no_numbers(key))
    s.notes.append(f"axis: {', '.join(axes) if axes else '(one setting)'}; mean ± std over "
                   f"{', '.join(r for r in replicates if r in df.columns)} replicates")
    plot_axes = [a for a in axes if a != "dataset"]
    if plot and plot_axes and not varies("dataset"):
        s.figures.append(("__plot__", agg, plot_axes[0], plot, xlabel or plot_axes[0]))
    return s


def _round(x):
    v = _num(x)
    return None if v is None else round(v, 4)


def _paper_acc(table: str, rows: Mapping[str, str] | None = None):
    """The paper's ``table`` cell ``<label>.<metric>`` in the run's dataset row (``rows`` maps the
    dataset to the paper's row name when the table names its rows otherwise)."""
    def get(label: str, metric: str, dataset: str):
        names = list(R.PAPER_VALUES.get(table, {})) if dataset == "toy" else [(rows or {}).get(dataset, dataset)]
        for name in names:
            try:
                return R.cell(table, name, f"{label}.{metric}")
            except DataError:
                continue
        return None
    return get


def _table8(runs):
    return _training_section("Table 8", runs, _table8_column, _paper_acc("Table 8"),
                             axis_hint=("subset_mode", "injection_rate"),
                             replicates=_REPLICATE_AXES + ("trigger",))


_PAPER_MODELS = {arch: model for model, arch in R.ARCHITECTURES.items()}   # resnet50 -> "ResNet"


def _table9(runs):
    def label(a):
        return _PAPER_MODELS.get(str(a.get("arch")), str(a.get("arch")))
    return _training_section("Table 9", runs, label, _paper_acc("Table 9", {"imagenet": "ImageNet jeans"}),
                             axis_hint=("arch",))


def _table10(runs):
    return _training_section("Table 10", runs,
                             lambda a: f"n_added_classes={a.get('n_added_classes')}",
                             lambda label, m, ds: _paper_acc("Table 10")(
                                 label.replace("n_added_classes=", "added_"), m, ds),
                             axis_hint=("n_added_classes",), plot="bar", xlabel="added random classes")


def _figure12(runs):
    return _training_section("Figure 12", runs, lambda a: _centrality_variant(a.get("centrality", "betweenness")),
                             lambda *_: None, axis_hint=("centrality",), plot="bar", xlabel="centrality",
                             replicates=_REPLICATE_AXES + ("trigger",))


def _figure13(runs):
    return _training_section("Figure 13", runs, lambda a: str(a.get("injection_rate")),
                             lambda *_: None, axis_hint=("injection_rate",), plot="line",
                             xlabel="injection rate")


def _figure14(runs):
    s = _training_section("Figure 14", runs, lambda a: str(a.get("min_overlaps")),
                          lambda *_: None, axis_hint=("min_overlaps",), plot="line",
                          xlabel="edge-weight threshold W (min_overlaps)")
    # the graph side of the same sweep: subset sizes and overlaps as W grows (notebook 04)
    sel = _runs_of(runs, "04_subsets", "Figure 14")
    for r in sel:
        for ds, recs in r.get("edge_weight_ablation", {}).items():
            df = pd.DataFrame(recs)
            if len(df):
                df.insert(0, "data", data_kind(ds))
                name = "graph_side_" + re.sub(r"[^A-Za-z0-9]+", "_", ds).strip("_")
                s.tables[name + (f"_{r.hash}" if len(sel) > 1 else "")] = df
        s.figures += _figures([r], "ablation_min_overlaps.png")
    if sel:
        s.runs += len(sel)
        s.data = _kinds(list(_runs_of(runs, "05_train", "Figure 14")) + sel)
        s.notes = [n for n in s.notes if not n.startswith("no complete run")]
        s.notes.append("graph side (04_subsets): poisonable-subset sizes and shared classes per W")
    return s


def _figure15(runs):
    return _training_section("Figure 15", runs, lambda a: f"n_added_classes={a.get('n_added_classes')}",
                             lambda *_: None,
                             axis_hint=("n_added_classes",), plot="line", xlabel="added MIS classes")


# --- Figures 16-17 (06) ---------------------------------------------------------------------------
_PAPER_TRIGGER_KEYS = {"jean": "jeans", "jeans": "jeans", "chain link fence": "chainlink fence",
                       "chainlink fence": "chainlink fence", "doormat": "doormat", "wheel": "wheel",
                       "chair": "chair"}


def _figure16(runs: Sequence[Run]) -> Section:
    sel, s = _section("Figure 16", "06_sentinet", runs)
    rows = []
    for r in sel:
        for it in r.get("fig16", []):          # our rows of audit.fig16_table (percentages)
            trig, pct, ds, n = str(it["trigger"]), _num(it["highlighted_pct"]), it["dataset"], it["n_models"]
            kind = data_kind(ds)
            key = _PAPER_TRIGGER_KEYS.get(trig.lower().split(",")[0].strip())
            if kind == REAL and key:
                pds = "imagenet" if "imagenet" in ds or "relabel" in ds else "openimages"
                rows.append(_compare_row(f"GradCAM highlights '{trig}' (%)", _round(pct),
                                        R.FIGURE16[R.DATASET_ROWS[pds]].get(key), kind, ds, n))
                continue
            # toy scenes: a toy hub stands for one of the paper's triggers ("paper_trigger")
            analogue = _PAPER_TRIGGER_KEYS.get(str(it["paper_trigger"]).lower())
            recs = [(pds, R.FIGURE16[R.DATASET_ROWS[pds]][analogue]) for pds in ("imagenet", "openimages")
                    if analogue and analogue in R.FIGURE16[R.DATASET_ROWS[pds]]] or [("", None)]
            for pds, rec in recs:
                what = f" vs the paper's {analogue} ({pds})" if rec else ""
                rows.append(_compare_row(f"GradCAM highlights '{trig}' (%){what}", _round(pct), rec,
                                        kind, ds, n))
    if rows:
        s.tables["comparison"] = pd.DataFrame(rows)
    s.tables["paper"] = pd.DataFrame([{"dataset": ds, "trigger": t, "highlighted_pct": rec["value"],
                                       "source": rec["source"]}
                                      for ds, d in R.FIGURE16.items() for t, rec in d.items()])
    s.notes.append("paper: two authors judged 25 trigger images x 3 models per trigger by eye; the kit "
                   "scores CAM/box overlap automatically (nbkit.audit), so the two measure the same "
                   "thing differently")
    s.figures = _figures(sel, "fig16*.png")
    return s


def _figure17(runs: Sequence[Run]) -> Section:
    sel, s = _section("Figure 17", "06_sentinet", runs)
    rows = []
    for r in sel:
        for name, v in r.get("sentinet", {}).items():
            rows.append({"model": name, "data": r.data,
                         **{k: _flat(x) for k, x in v.items() if not isinstance(x, (list, dict))}})
    if rows:
        s.tables["sentinet"] = pd.DataFrame(rows)
        s.notes.append("SentiNet detection (the paper ran GradCAM only and argued the rest): the kit's "
                       "full SentiNet on natural vs digital-patch triggers")
    s.figures = _figures(sel, "fig17*.png", "sentinet_roc.png")
    return s


# --- every published value (paper_values.csv), beside ours or with what to run ----------------------
_PAPER_RUN = "python -m nbkit reproduce --batch paper --data-root DIR"
#: which notebook (and dataset) regenerates each paper table on real data
_WHAT_TO_RUN = {"Table 5": "02_cooccurrence on {row}", "Figure 7": "01_calibration with relabel_dir and "
                "hand_labels (ImageNet)", "Table 6": "03_centrality on {row}", "Table 7": "03_centrality on {row}",
                "Table 8": "05_train on {row} (no backdoor / neighbours / MIS)", "Table 9": "05_train on "
                "ImageNet, trigger jeans, arch over the four models", "Table 10": "05_train on {row}, "
                "n_added_classes 5 and 10 with added_mode=random", "App. D": "04_subsets on ImageNet "
                "(its pair are ImageNet classes) with top_m=25, min_overlaps=15, trig_overlaps=40",
                "Figure 16": "06_sentinet on models trained on {row}"}
#: the paper's stated settings -> the (notebook, parameter) that holds ours
_SETTING_PARAMS = {
    ("§5.3", "min_overlaps_W"): ("05_train", "min_overlaps"),
    ("§5.3", "max_overlaps_in_subset"): ("05_train", "max_other_overlaps"),
    ("App. B", "hand_labelled_images"): ("01_calibration", "n_images"),
    ("App. B", "threshold_sweep"): ("01_calibration", "threshold_start,threshold_stop,threshold_step"),
    ("Tables 6-7", "min_classes"): ("03_centrality", "min_classes"),
    ("Tables 6-7", "min_clean_per_class"): ("03_centrality", "min_clean"),
    ("Tables 6-7", "min_poison_per_class"): ("03_centrality", "min_poison"),
    ("App. D multiple triggers", "top"): ("04_subsets", "top_m"),
    ("App. D multiple triggers", "min_overlaps"): ("04_subsets", "min_overlaps"),
    ("App. D multiple triggers", "trig_overlaps"): ("04_subsets", "trig_overlaps"),
    ("App. D multiple triggers", "centrality"): ("04_subsets", "centrality"),
    ("App. D multiple triggers", "dataset_named"): ("04_subsets", "dataset"),
    ("App. D multiple triggers", "overlap_threshold"): ("04_subsets", "overlap_threshold"),
    ("App. D Fig 14", "W_sweep"): ("05_train", "min_overlaps"),
    ("App. D Fig 14", "trigger"): ("05_train", "trigger"),
    ("App. D Fig 14", "n_classes"): ("05_train", "n_classes"),
    ("App. D Fig 14", "clean_per_class"): ("05_train", "clean_per_class"),
    ("App. D Fig 14", "injection_rate"): ("05_train", "injection_rate"),
    ("App. F", "trigger_images_per_model"): ("06_sentinet", "n_audit"),
    ("App. F", "models_per_dataset"): ("06_sentinet", "n_models"),
}
_NOT_A_PARAMETER = {
    "n_combinations": "top x top cells of the overlap matrix (04_subsets top_m, squared)",
    "subset": "a set of 05_train parameters (trigger, n_classes, clean_per_class, injection_rate, "
              "centrality, min_overlaps): see the Runs table",
    "inspectors": "the kit scores CAM / box overlap automatically (nbkit.audit); 06_sentinet writes "
                  "review.csv for judging by eye"}


def _sort_key(v: str):
    try:
        return (0, float(v), "")
    except ValueError:
        return (1, 0.0, v)


_APP_D_QUANTITIES = {"largest_overlap": "largest shared classes", "largest_overlap_pair": "that pair",
                     "pairs_over_30_fraction": "share of cells"}


def _rows_by_cell(sections: Sequence[Section]) -> dict[str, list[tuple[Section, Mapping]]]:
    """The sections' comparison rows by the paper cell they sit beside (``paper_cell``)."""
    out: dict[str, list[tuple[Section, Mapping]]] = {}
    for sec in sections:
        for df in sec.tables.values():
            if "paper_cell" in df.columns:
                for rec in df.to_dict("records"):
                    if rec.get("paper_cell"):
                        out.setdefault(rec["paper_cell"], []).append((sec, rec))
    return out


def _params_seen(runs: Sequence[Run]) -> dict[str, dict[str, set]]:
    """notebook -> parameter -> the values (formatted) its complete runs used."""
    out: dict[str, dict[str, set]] = {}
    for r in runs:
        if r.complete:
            for k, v in r.params.items():
                out.setdefault(r.notebook, {}).setdefault(k, set()).add(_fmt(v))
    return out


def _setting_cell(c: Mapping, params: Mapping) -> dict:
    """A ``Settings`` cell: the values our runs used for the parameter that holds it."""
    nb, keys = _SETTING_PARAMS.get((c["row"], c["column"]), ("", ""))
    have = [params.get(nb, {}).get(k) for k in keys.split(",")] if nb else []
    if not nb or any(v is None for v in have):
        return {"where / what to run": _NOT_A_PARAMETER.get(c["column"], "not a parameter of the kit")
                if not nb else f"no {nb} run in this batch"}
    vals = ["/".join(sorted(v, key=_sort_key)) if v else "" for v in have]
    ours = f"{vals[0]} to {vals[1]}, step {vals[2]}" if len(vals) == 3 else vals[0]
    return {"ours": ours if ours.strip("/") else "(empty: the run's default)", "data": "(parameter)",
            "where / what to run": f"{nb} parameter {keys}"}


def _tables6_7_cell(c: Mapping, rec: Mapping) -> dict:
    """A Tables 6-7 Open Images column: how many published names our run matched."""
    return {"ours": f"{len(rec['authors']['matched'])}/{len(c['value'])} names matched (authors' semantics)",
            "data": AUTHORS, "like for like": "yes (the authors' own matrix, the paper's setting)",
            "where / what to run": "Tables 6-7"}


def _app_d_cell(c: Mapping, appd: Sequence[Mapping], todo: str) -> dict:
    """An App. D cell: the App. D comparison rows of the same quantity."""
    q = _APP_D_QUANTITIES.get(c["column"], "~")
    hit = [x for x in appd if str(x.get("quantity", "")).startswith(q)]
    if not hit:
        return {}
    return {"ours": "; ".join(f"{_fmt(x['ours'])} ({x.get('dataset', '')})" for x in hit),
            "data": " + ".join(sorted({str(x.get("data", "")) for x in hit})),
            "like for like": "yes" if any(x.get("comparable") for x in hit) else
            "no: " + (hit[0].get("note") or "another setting"),
            "where / what to run": f"App. D; like for like: {_PAPER_RUN} ({todo})"}


def _section_cell(hits: Sequence[tuple[Section, Mapping]], todo: str) -> dict:
    """A cell some section compares with: its rows' numbers, like for like where one subtracts."""
    like = [rec for _, rec in hits if rec.get("difference") not in ("", None)]
    return {"ours": "; ".join(f"{_fmt(rec.get('ours'))} ({rec.get('data')})" for _, rec in hits),
            "data": " + ".join(sorted({str(rec.get("data")) for _, rec in hits})),
            "like for like": "yes" if like else "no: " + str(hits[0][1].get("why_not_compared")
                                                             or "another dataset"),
            "where / what to run": hits[0][0].key + ("" if like else f"; like for like: {_PAPER_RUN} ({todo})")}


def _paper_values(sections: Sequence[Section], runs: Sequence[Run]) -> Section:
    """Every value the paper prints (``nbkit.reference.cells()``, the rows of ``paper_values.csv``),
    each with ours beside it and how it compares, or *not run here (needs real data)* with what to
    run. ``beside ours`` names the section; ``like for like`` says whether the two numbers measure
    the same thing on the same kind of data."""
    s = Section(key="Every published value", title="the paper's cells, ours beside each",
                notebook="(all)", data=_kinds([r for r in runs if r.complete]),
                runs=sum(r.complete for r in runs))
    by_cell, params = _rows_by_cell(sections), _params_seen(runs)
    t67 = {(rec["table"], rec["variant"]): rec for r in _runs_of(runs, "03_centrality", "Tables 6-7")
           for rec in r.get("tables_6_7", []) if "authors" in rec}
    appd = next((x.tables.get("comparison") for x in sections if x.key == "App. D"), None)
    appd = [] if appd is None else appd.to_dict("records")
    out = []
    for c in R.cells():
        row = {"table": c["table"], "row": c["row"], "column": c["column"], "paper": _printed(c),
               "ours": "", "data": "", "like for like": "", "where / what to run": ""}
        todo = _WHAT_TO_RUN.get(c["table"], "").format(row=c["row"])
        hits = [(sec, rec) for sec, rec in by_cell.get(f"{c['table']} · {c['row']} · {c['column']}", [])
                if _fmt(rec.get("ours")) != ""]
        if c["table"] == "Settings":
            row.update(_setting_cell(c, params))
        elif c["table"] in ("Table 6", "Table 7") and c["row"] == "Open Images" and (c["table"], c["column"]) in t67:
            row.update(_tables6_7_cell(c, t67[(c["table"], c["column"])]))
        elif c["table"] == "App. D" and appd:
            row.update(_app_d_cell(c, appd, todo))
        elif hits:
            row.update(_section_cell(hits, todo))
        if not row["ours"] and c["table"] != "Settings":
            row["where / what to run"] = f"not run here (needs real data): {_PAPER_RUN} ({todo})"
        out.append(row)
    s.tables["cells"] = pd.DataFrame(out)
    n_like = sum(r["like for like"].startswith("yes") for r in out)
    n_beside = sum(bool(r["ours"]) for r in out)
    s.notes.append(f"{len(out)} cells printed by the paper: {n_beside} beside a number or setting of "
                   f"ours ({n_like} like for like), {len(out) - n_beside} not run here")
    return s


_BUILDERS: list[Callable[[Sequence[Run]], Section]] = [
    _figure7, _table5, _figures8_11, _tables6_7, _app_d, _table8, _table9, _table10, _figure12, _figure13,
    _figure14, _figure15, _figure16, _figure17]


def _run_names(runs: Sequence[Run]) -> dict:
    """A name for each run folder that says what it varies: ``05_train · injection_rate=0.3, target=1``.

    The parameters named are those that differ between the runs of the same notebook (``run_dir``
    and ``runs_root`` never count); a notebook with one run is named by the notebook alone. Two runs
    with the same varying values (impossible within one batch, whose folders are keyed by their
    parameters) keep their folder name as a suffix.

    Returns
    -------
    dict
        ``run_dir -> name``.

    Examples
    --------
    >>> rs = [Run("05_train", "a1", Path("a1"), {"injection_rate": 0.1, "seed": 0}, {}, [], TOY),
    ...       Run("05_train", "b2", Path("b2"), {"injection_rate": 0.3, "seed": 0}, {}, [], TOY),
    ...       Run("01_calibration", "c3", Path("c3"), {"seed": 0}, {}, [], TOY)]
    >>> list(_run_names(rs).values())
    ['05_train · injection_rate=0.1', '05_train · injection_rate=0.3', '01_calibration']
    """
    by_nb: dict[str, list[Run]] = {}
    for r in runs:
        by_nb.setdefault(r.notebook, []).append(r)
    names = {}
    for nb, rs in by_nb.items():
        keys = sorted({k for r in rs for k in r.params} - {"run_dir", "runs_root"})
        vary = [k for k in keys if len({repr(r.params.get(k)) for r in rs}) > 1]
        for r in rs:
            label = ", ".join(f"{k}={_cell(r.params.get(k))}" for k in vary)
            names[r.run_dir] = f"{nb} · {label}" if label else nb
    counts: dict[str, int] = {}
    for n in names.values():
        counts[n] = counts.get(n, 0) + 1
    return {d: (n if counts[n] == 1 else f"{n} ({d.name})") for d, n in names.items()}


def _runs_table(runs: Sequence[Run]) -> pd.DataFrame:
    """Every run folder: its name (what it varies), status, data kind, feeds, folder and parameters."""
    names = _run_names(runs)
    return pd.DataFrame([{"run": names[r.run_dir],
                          "status": "complete" if r.complete else "INCOMPLETE (ignored)",
                          "data": r.data, "feeds": "; ".join(r.feeds),
                          "folder": f"{r.notebook}/{r.hash}",
                          "params": ", ".join(f"{k}={_cell(v)}" for k, v in r.params.items())}
                         for r in runs],
                        columns=["run", "status", "data", "feeds", "folder", "params"])


def _require_runs(batch: str, runs_root: str | os.PathLike, runs: Sequence[Run]) -> None:
    """Raise :class:`~nbkit.errors.MissingDataError` when ``runs`` holds no complete run, naming
    the folder searched, the batches that do exist there, and what to run."""
    if any(r.complete for r in runs):
        return
    root = Path(runs_root)
    have = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    there = (f"batches there: {', '.join(have)}" if have else "no batch there") + (
        f"; {len(runs)} run folder(s) of '{batch}' are incomplete (no results.json)" if runs else "")
    raise MissingDataError(root.resolve() / batch, "no complete run to report on", None,
                           f"{there}. From the checkout run `python -m nbkit reproduce --batch {batch}` "
                           "(or `make reproduce BATCH=" + batch + "`), or set `batch` / `runs_root` "
                           "in this notebook's parameters to a batch that has run")


def build(batch: str, runs_root: str | os.PathLike | None = None, require: bool = False) -> Report:
    """Rebuild every table and figure of the paper from a batch's results.

    Parameters
    ----------
    batch : str
        Batch name (``runs/<batch>/``).
    runs_root : path, optional
        Default ``$NBKIT_RUNS`` or ``./runs``.
    require : bool
        Raise :class:`~nbkit.errors.MissingDataError` (with what to run) when the batch has no
        complete run, instead of building an empty report (notebook 07 sets it).

    Returns
    -------
    Report
        ``sections`` in the paper's order; a section whose builder raised carries the error in its
        notes (the report is still written).
    """
    root = Path(runs_root) if runs_root else _runs.runs_root()
    runs = collect(batch, root)
    if require:
        _require_runs(batch, root, runs)
    sections = []
    for b in _BUILDERS:
        try:
            sections.append(b(runs))
        except Exception as exc:  # noqa: BLE001 - one odd results.json must not hide the rest
            key = b.__name__
            s = Section(key=key, title="(could not be built)", notebook="", data="none")
            s.notes.append(f"ERROR building {key}: {type(exc).__name__}: {exc}\n"
                           + "".join(traceback.format_exception(exc)[-3:]))
            sections.append(s)
    try:
        sections.append(_paper_values(sections, runs))
    except Exception as exc:  # noqa: BLE001
        s = Section(key="Every published value", title="(could not be built)", notebook="", data="none")
        s.notes.append(f"ERROR building the paper's cells: {type(exc).__name__}: {exc}")
        sections.append(s)
    nn = pd.DataFrame(list(R.NO_NUMBERS.items()), columns=["item", "note"])
    return Report(batch=batch, runs_root=root, sections=sections, runs=_runs_table(runs),
                  no_numbers=nn, claims=_claims.evaluate(runs))


# --------------------------------------------------------------------------------------------------
# writing
# --------------------------------------------------------------------------------------------------
def _fmt(v) -> str:
    """A value as a reader wants it: ``24,000`` not ``24000.000000``, ``0.7083`` not ``0.708333…``.

    >>> _fmt(24000.0), _fmt(24000), _fmt(0.70833333), _fmt(None), _fmt(float("nan")), _fmt(["a", "b"])
    ('24,000', '24,000', '0.7083', '', '', 'a, b')
    """
    if v is None or isinstance(v, bool):
        return "" if v is None else str(v)
    if isinstance(v, (np.integer,)):
        v = int(v)
    if isinstance(v, (np.floating,)):
        v = float(v)
    if isinstance(v, int):
        return f"{v:,}" if abs(v) >= 10000 else str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        if v.is_integer():
            return _fmt(int(v))
        return f"{v:.4g}" if abs(v) < 1e5 else f"{v:,.0f}"
    if isinstance(v, (list, tuple)):
        return ", ".join(map(_fmt, v))
    return str(v)


def _cell(v) -> str:
    return _fmt(v).replace("|", "\\|").replace("\n", " ")


#: columns kept in the CSV files but not printed (the paper-cell address, summarised in "Every
#: published value")
_HIDDEN = ("paper_cell",)


def tidy(df: pd.DataFrame) -> pd.DataFrame:
    """The table as shown: columns that are empty in every row dropped, names with spaces."""
    if df is None or df.empty:
        return df
    keep = [c for c in df.columns if c not in _HIDDEN and not all(_fmt(v) == "" for v in df[c])]
    return df[keep].rename(columns=lambda c: str(c).replace("_", " "))


def _markdown_table(df: pd.DataFrame, max_rows: int | None = 60) -> str:
    """A GitHub-flavoured Markdown table (no index column, numbers through :func:`_fmt`).

    Examples
    --------
    >>> print(_markdown_table(pd.DataFrame({"a": [1, 2.5], "b": ["x", None]})))
    | a | b |
    |---|---|
    | 1 | x |
    | 2.5 |  |
    """
    if df is None or df.empty:
        return "_(empty)_"
    shown = df if max_rows is None or len(df) <= max_rows else df.head(max_rows)
    lines = ["| " + " | ".join(map(str, shown.columns)) + " |",
             "|" + "|".join("---" for _ in shown.columns) + "|"]
    for row in shown.itertuples(index=False):
        lines.append("| " + " | ".join(_cell(v) for v in row) + " |")
    if len(shown) < len(df):
        lines.append(f"\n_({len(df) - len(shown)} more rows in the CSV)_")
    return "\n".join(lines)


def _plot_sweep(agg: pd.DataFrame, axis: str, kind: str, xlabel: str, title: str, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    x = agg[axis]
    numeric = pd.to_numeric(x, errors="coerce").notna().all() and kind == "line"
    xs = pd.to_numeric(x) if numeric else np.arange(len(x))
    for metric, style in (("clean_acc", "o-"), ("trigger_acc", "s--")):
        y, e = agg[metric].to_numpy(float), agg[f"{metric}_std"].fillna(0).to_numpy(float)
        if numeric:
            ax.errorbar(xs, y, yerr=e, fmt=style, capsize=3, label=metric.replace("_", " "))
        else:
            off = -0.2 if metric == "clean_acc" else 0.2
            ax.bar(np.asarray(xs) + off, y, width=0.4, yerr=e, capsize=3, label=metric.replace("_", " "))
    if not numeric:
        ax.set_xticks(np.arange(len(x)))
        ax.set_xticklabels([str(v) for v in x], rotation=30, ha="right")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    from .io import atomic_path

    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path


_CLAIM_COLUMNS = ["status", "claim", "source", "ours", "paper", "data"]


def _claims_view(claims: pd.DataFrame) -> pd.DataFrame:
    """The claims table as printed: what was checked, the verdict, our numbers, the paper's."""
    if claims is None or claims.empty:
        return pd.DataFrame(columns=_CLAIM_COLUMNS)
    df = claims.copy()
    df["ours"] = [o if st != "not run" else f"{o} · to run: {t}" if o else f"to run: {t}"
                  for o, st, t in zip(df["ours"], df["status"], df["to_run"])]
    return df[_CLAIM_COLUMNS]


def _figure_rel(f: Path, out: Path | None) -> Path:
    return f.relative_to(out) if out and f.is_relative_to(out) else f


def write(rep: Report, out_dir: str | os.PathLike) -> dict:
    """Write ``report.html`` (one self-contained file), ``report.md``, ``tables/*.csv`` and
    ``figures/*.png`` under ``out_dir``.

    Returns
    -------
    dict
        ``html`` and ``markdown`` paths, ``tables`` (list of CSV paths), ``figures`` (list of PNG
        paths); each section's ``figures`` is replaced by the paths inside ``out_dir``.
    """
    from .io import atomic_path

    out = Path(out_dir)
    (out / "tables").mkdir(parents=True, exist_ok=True)
    (out / "figures").mkdir(parents=True, exist_ok=True)
    tables, figures = [], []
    names = dict(zip(rep.runs["folder"], rep.runs["run"])) if len(rep.runs) else {}
    for s in rep.sections:
        for name, df in s.tables.items():
            p = out / "tables" / f"{s.slug}_{name}.csv"
            with atomic_path(p, suffix=".csv") as tmp:
                df.to_csv(tmp, index=False)
            tables.append(p)
        new_figs = []
        for f in s.figures:
            if isinstance(f, tuple) and f and f[0] == "__plot__":
                _, agg, axis, kind, xlabel = f
                p = _plot_sweep(agg, axis, kind, xlabel, f"{s.key} (ours; {s.data})",
                                out / "figures" / f"{s.slug}_sweep.png")
                s.captions[p.name] = f"{s.key} · ours re-plotted from the runs' results, by {axis}"
            else:
                src = Path(f)
                if src.parent == out / "figures":      # already copied (write called twice)
                    new_figs.append(src)
                    continue
                rel = src.relative_to(rep.runs_root / rep.batch) if src.is_relative_to(
                    rep.runs_root / rep.batch) else Path(src.name)
                p = out / "figures" / f"{s.slug}__{'_'.join(rel.parts)}"
                shutil.copyfile(src, p)
                run = names.get("/".join(rel.parts[:-1]), "/".join(rel.parts[:-1]))
                s.captions[p.name] = f"{s.key} · {run} · {src.stem.replace('_', ' ')}" if run else s.key
            new_figs.append(p)
        s.figures = new_figs
        figures += new_figs
    for name, df in (("claims", rep.claims), ("runs", rep.runs), ("no_numbers", rep.no_numbers)):
        p = out / "tables" / f"{name}.csv"
        with atomic_path(p, suffix=".csv") as tmp:
            df.to_csv(tmp, index=False)
        tables.append(p)
    md = write_text(out / "report.md", _to_markdown(rep, out))
    html = write_text(out / "report.html", _to_html(rep))
    return {"html": html, "markdown": md, "tables": tables, "figures": figures}


def report_results(rep: Report, written: Mapping) -> dict:
    """Notebook 07's ``results.json`` (schema ``07_report``): what the report was built from, each
    claim's verdict, each section's inputs and outputs, and where :func:`write` put the page.

    Parameters
    ----------
    rep : Report
        From :func:`build`.
    written : dict
        From :func:`write` (its ``markdown`` and ``html`` paths).

    Returns
    -------
    dict
        ``batch``, ``runs_root``, ``runs`` (``total`` and a count per status), ``claims`` (key ->
        ``status``, ``ours``, ``data``), ``sections`` (key -> ``data``, ``runs``, ``tables``,
        ``figures``, ``built``), ``no_numbers``, ``markdown``, ``html``.
    """
    counts = rep.runs["status"].value_counts().to_dict() if len(rep.runs) else {}
    return {
        "batch": rep.batch,
        "runs_root": str(rep.runs_root),
        "runs": {"total": int(len(rep.runs)), **{k: int(v) for k, v in counts.items()}},
        "claims": {r["key"]: {"status": r["status"], "ours": r["ours"], "data": r["data"]}
                   for r in rep.claims.to_dict("records")},
        "sections": {s.key: {"data": s.data, "runs": s.runs, "tables": sorted(s.tables),
                             "figures": [Path(f).name for f in s.figures],
                             "built": not any(n.startswith("ERROR") for n in s.notes)}
                     for s in rep.sections},
        "no_numbers": list(rep.no_numbers["item"]),
        "markdown": str(written["markdown"]),
        "html": str(written["html"]),
    }


def _intro(rep: Report) -> str:
    n_complete = int((rep.runs["status"] == "complete").sum()) if len(rep.runs) else 0
    return (f"Rebuilt from the `results.json` files of {n_complete} complete runs under "
            f"`{rep.runs_root / rep.batch}` (never from notebook outputs). Every row says which data "
            f"produced it: **{TOY}** (the kit's synthetic scenes), **{AUTHORS}** (the real Open Images "
            f"co-occurrence matrix the authors released) or **{REAL}** (a dataset you pointed the kit "
            "at). A `difference` (ours − paper) appears only where both numbers measure the same "
            "thing on the same kind of data; elsewhere `why not compared` says why, and the claims "
            "table checks whether the paper's finding holds on our runs.")


def _toc(rep: Report) -> list[tuple[str, str]]:
    return ([("claims", "Claims")] + [(s.slug, f"{s.key}: {s.title}") for s in rep.sections]
            + [("runs", "Runs"), ("no-numbers", "Paper items without printed numbers")])


def _to_markdown(rep: Report, out_dir: str | os.PathLike | None = None) -> str:
    """The report as Markdown, fit for a paper's appendix (figure links relative to ``out_dir``)."""
    out = Path(out_dir) if out_dir else None
    lines = [f"# Report: batch `{rep.batch}` beside the paper", "",
             f"*{R.PAPER['title']}* ({R.PAPER['authors']}, {R.PAPER['venue']}, arXiv {R.PAPER['arxiv']}).",
             "", "## Claims", "", _markdown_table(_claims_view(rep.claims), max_rows=None), "",
             "Rule behind each verdict: " + "; ".join(
                 f"*{c}*: {r}" for c, r in zip(rep.claims.get("claim", []), rep.claims.get("rule", []))),
             "", "## Contents", ""]
    lines += [f"- [{t}](#{a})" for a, t in _toc(rep)[1:]] + ["", _intro(rep), ""]
    for s in rep.sections:
        lines += [f"## {s.key}: {s.title}", "",
                  f"Notebook `{s.notebook}` · data: **{s.data}** · complete runs: {s.runs}", ""]
        for name, df in s.tables.items():
            lines += [f"**{name.replace('_', ' ')}**", "", _markdown_table(tidy(df)), ""]
        for f in s.figures:
            if isinstance(f, Path):
                lines += [f"![{s.captions.get(f.name, s.key)}]({_figure_rel(f, out).as_posix()})", ""]
        for n in s.notes:
            lines += [f"> {n}", ""]
    lines += ["## Runs", "", _markdown_table(tidy(rep.runs), max_rows=None), "",
              "## Paper items without printed numbers", "",
              "; ".join(rep.no_numbers["note"]) + " (`tables/no_numbers.csv`).", ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------
# the self-contained HTML page
# --------------------------------------------------------------------------------------------------
_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1b1b;background:#fff}
main{max-width:1180px;margin:0 auto;padding:16px 24px 48px}
h1{font-size:1.45em;margin:.2em 0 .1em}h2{font-size:1.2em;margin:1.8em 0 .4em;border-bottom:1px solid #ddd;padding-bottom:.15em}
.sub{color:#555;margin:0 0 .6em}.meta{color:#555;font-size:.9em}
table{border-collapse:collapse;margin:.4em 0 1em;font-size:.86em;max-width:100%}
#claims{width:100%}
th,td{border:1px solid #d6d6d6;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3;position:sticky;top:0}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.tablewrap{max-height:520px;overflow:auto;margin-bottom:1em}
#claims td.st{font-weight:700;text-align:center;white-space:nowrap}
tr.ok td.st{color:#0a7a2a}tr.no td.st{color:#b3261e}tr.na td.st{color:#777;font-weight:400}
nav.toc{columns:2;font-size:.9em;margin:.4em 0 1em}nav.toc a{display:block;color:#0b57d0;text-decoration:none}
figure{margin:.6em 0 1.2em}figure img{max-width:100%;height:auto;box-sizing:border-box;cursor:zoom-in;border:1px solid #eee}
figcaption{font-size:.85em;color:#555}blockquote{margin:.4em 0;padding:.2em .8em;border-left:3px solid #ccc;color:#444}
code{background:#f3f3f3;padding:0 3px;border-radius:3px}
details{margin:.3em 0 .8em}summary{cursor:pointer}
#zoom{display:none;position:fixed;inset:0;background:rgba(0,0,0,.85);z-index:9;overflow:auto;cursor:zoom-out}
#zoom img{display:block;margin:16px auto;max-width:none}
"""
_JS = """document.addEventListener('click',function(e){var z=document.getElementById('zoom');
if(e.target.matches('figure img')){z.firstChild.src=e.target.src;z.style.display='block';}
else if(e.target.closest('#zoom')){z.style.display='none';}});"""


def _esc(v) -> str:
    import html

    return html.escape(_fmt(v))


def _inline(text: str) -> str:
    """Escape ``text`` and render its `code` and **bold** spans."""
    import html

    t = html.escape(str(text))
    t = re.sub(r"`([^`]+)`", r"<code>\1</code>", t)
    return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", t)


def html_table(df: pd.DataFrame, table_id: str = "", row_class: Callable[[Mapping], str] | None = None,
               scroll: bool = True) -> str:
    """An HTML table without an index column, numbers through :func:`_fmt` and right-aligned."""
    if df is None or df.empty:
        return "<p><i>(empty)</i></p>"
    head = "".join(f"<th>{_inline(c)}</th>" for c in df.columns)
    body = []
    for rec in df.to_dict("records"):
        cls = f' class="{row_class(rec)}"' if row_class else ""
        cells = []
        for c, v in rec.items():
            num = isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, bool)
            klass = ' class="num"' if num else (' class="st"' if c == "status" else "")
            cells.append(f"<td{klass}>{_esc(v)}</td>")
        body.append(f"<tr{cls}>{''.join(cells)}</tr>")
    t = (f'<table{f" id={chr(34)}{table_id}{chr(34)}" if table_id else ""}><thead><tr>{head}</tr></thead>'
         f"<tbody>{''.join(body)}</tbody></table>")
    return f'<div class="tablewrap">{t}</div>' if scroll and len(df) > 15 else t


def _data_uri(path: Path) -> tuple[str, int]:
    """``data:image/png;base64,...`` and the image's native width in pixels."""
    import base64

    from PIL import Image as _Image

    raw = Path(path).read_bytes()
    with _Image.open(path) as im:
        width = im.size[0]
    return "data:image/png;base64," + base64.b64encode(raw).decode("ascii"), width


def _figure_html(path: Path, caption: str = "") -> str:
    """A figure at its native width (up to the page width), embedded, click to enlarge."""
    import html

    uri, width = _data_uri(path)
    return (f'<figure><img src="{uri}" width="{width}" alt="{html.escape(caption)}" loading="eager">'
            f"<figcaption>{html.escape(caption)} (click to enlarge)</figcaption></figure>")


def claims_html(claims: pd.DataFrame) -> str:
    """The claims table as HTML (✓ green, ✗ red, not run grey)."""
    cls = {"✓": "ok", "✗": "no"}
    return html_table(_claims_view(claims), "claims", lambda r: cls.get(r["status"], "na"), scroll=False)


def section_html(s: Section) -> str:
    """One section: heading, what fed it, its tables, figures and notes."""
    parts = [f'<h2 id="{s.slug}">{_inline(s.key)}: {_inline(s.title)}</h2>',
             f'<p class="meta">notebook <code>{_inline(s.notebook)}</code> · data: <b>{_inline(s.data)}'
             f"</b> · complete runs: {s.runs}</p>"]
    for i, (name, df) in enumerate(s.tables.items()):
        title = _inline(name.replace("_", " "))
        if i == 0:          # the section's main table open, the others one click away
            parts += [f"<p><b>{title}</b></p>", html_table(tidy(df))]
        else:
            parts.append(f"<details><summary><b>{title}</b> ({len(df)} rows)</summary>"
                         f"{html_table(tidy(df))}</details>")
    for f in s.figures:
        if isinstance(f, Path) and f.is_file():
            parts.append(_figure_html(f, s.captions.get(f.name, s.key)))
    parts += [f"<blockquote>{_inline(n)}</blockquote>" for n in s.notes]
    return "\n".join(parts)


def _to_html(rep: Report) -> str:
    """The report as one self-contained HTML page (images as data URIs, no external resource):
    the claims table first, then a table of contents, every section, the runs."""
    import html

    toc = "".join(f'<a href="#{a}">{html.escape(t)}</a>' for a, t in _toc(rep))
    counts = rep.claims["status"].value_counts().to_dict() if len(rep.claims) else {}
    tally = " · ".join(f"{k} {counts.get(k, 0)}" for k in ("✓", "✗", "not run"))
    body = [f"<h1>Report: batch <code>{html.escape(rep.batch)}</code> beside the paper</h1>",
            f'<p class="sub"><i>{html.escape(R.PAPER["title"])}</i> ({html.escape(R.PAPER["authors"])}, '
            f'{html.escape(R.PAPER["venue"])}, arXiv {html.escape(R.PAPER["arxiv"])})</p>',
            f'<h2 id="claims" style="margin-top:.6em">Claims of the paper, checked on our runs ({tally})</h2>',
            claims_html(rep.claims),
            f"<nav class=\"toc\">{toc}</nav>", f"<p>{_inline(_intro(rep))}</p>"]
    body += [section_html(s) for s in rep.sections]
    body += ['<h2 id="runs">Runs</h2>', html_table(tidy(rep.runs)),
             '<h2 id="no-numbers">Paper items without printed numbers</h2>',
             html_table(rep.no_numbers, scroll=False),
             "<h2>How each claim is judged</h2>",
             html_table(rep.claims[["claim", "rule"]] if len(rep.claims) else rep.claims, scroll=False)]
    return ("<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>nbkit report: {html.escape(rep.batch)}</title><style>{_CSS}</style></head><body><main>"
            + "\n".join(body) + f'</main><div id="zoom"><img alt="enlarged figure"></div><script>{_JS}</script>'
            "</body></html>\n")
