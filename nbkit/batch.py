"""Papermill batches: ``python -m nbkit reproduce`` (``make reproduce``).

A *batch* (``batches/<name>.yaml``) says which notebook runs with which parameters and which table or
figure of the paper each run feeds. The runner expands every entry's parameter grid, checks that the
data it needs is there (listing every missing path at once), and executes the runs with papermill on
the ``nbkit`` kernel, one run folder per notebook × parameter set::

    runs/<batch>/<notebook>/<name>/    e.g. 05_train/inj0.185-target1-3f2a9c01
        <notebook>.ipynb   the executed notebook
        params.json        the parameters (the notebook rewrites it with its own PARAMS)
        results.json       every number the report needs; written last, atomically, by the notebook
        timing.json        wall time of the run, measured by the runner (never in results.json)
        batch.json         the batch that ran it and the tables / figures it feeds
        error.txt          the traceback, when the notebook raised
        complete.json      the completion record (results.json's SHA-256 + the inputs that ran)
        .nbkit-run         marks a folder the kit made (the only kind it ever clears)
        *.png *.pdf *.csv  figures and tables
    runs/<batch>/index.csv   every run: its varying parameters, status and headline numbers

A run folder's ``<name>`` is the parameters that vary between the batch's runs of that notebook,
short (``runs.run_name``), then a short hash of the parameters the batch gives it; a folder of the
same hash under an older name is renamed, not redone.

Runs execute stage by stage in notebook-number order (``01_…`` before ``02_…``; a barrier between
stages), because a later notebook finds an earlier one's output by its parameters
(``runs.find_run``). A run is kept (resume) only when its completion record (``complete.json``)
vouches for the ``results.json`` that is there and names the same inputs as now:

- the notebook's code (SHA-256 of its code cells' source; markdown, outputs and metadata don't count),
- the kit's version (``_kit_version()``: ``nbkit.__version__`` plus a SHA-256 of every file of the
  ``nbkit`` package: editing any nbkit file redoes every run, slower but more honest than the
  version string, which nobody bumps for a bug fix),
- the full resolved parameters (the notebook's ``parameters``-cell defaults overlaid with what the
  batch sets, so changing a default redoes the run),
- the upstream runs it read (``runs.find_run`` records each one with its results' SHA-256), so a
  run whose input was redone is redone too.

Anything else is redone after its folder's stale contents are removed; ``--dry-run`` says why each
run is kept or redone (``new``, ``incomplete``, ``parameters changed``, ``notebook changed``,
``kit changed``, ``upstream changed`` / ``upstream redone``, ``complete``). One-off overrides
(``-p KEY=VALUE``) apply to every entry whose notebook declares the parameter and, being
parameters, give runs of their own. A run that fails is recorded (traceback in ``error.txt`` and
in the summary) and the batch goes on. The batch
ends with a summary (done / skipped / failed, time per run and in total), also written to
``runs/<batch>/summary.json``, and, unless ``--no-report``, the report (notebook 07,
``runs/<batch>/report/``).

Batch file format (YAML)::

    name: smoke                        # runs/<name>/ (default: the file's stem)
    description: every notebook on tiny settings
    data: embedded                     # embedded | real  (how the report labels its numbers)
    defaults: {smoke: true}            # applied to every notebook that declares the parameter
    requires:                          # checked before anything runs ({data_root} is --data-root)
      - path: "{data_root}/openimages/oidv6-train-annotations-bbox.csv"
        what: Open Images V6 train boxes
        get: https://storage.googleapis.com/openimages/v6/oidv6-train-annotations-bbox.csv
        notebooks: [02_cooccurrence]   # optional: only when one of these runs
    slurm: {timeout_min: 240, gpus_per_node: 1, cpus_per_task: 8}   # optional, for --executor slurm
    runs:
      - notebook: 05_train
        params: {dataset: toyscenes, arch: resnet18}     # fixed
        grid: {injection_rate: [0.05, 0.185], target: [0, 1, 2]}   # cartesian product
        feeds: ["Figure 13"]

Every parameter a batch sets must be declared in the notebook's ``parameters`` cell (a typo is an
error, not a silently ignored value). When two entries produce the same parameters the run happens
once and feeds both entries' tables. Strings may use ``{data_root}``; ``requires`` paths may also use
``{torch_hub}`` (``torch.hub.get_dir()``, where pretrained weights live), ``~``, ``$VARS`` and globs.

Environment seen by every notebook kernel: ``NBKIT_RUNS`` (absolute runs root), ``NBKIT_RUN_DIR``
(the run's folder: ``runs.find_run`` records there which upstream runs it read), ``NBKIT_BATCH``
(the batch name; notebooks pass it to ``runs.find_run(..., batch=os.environ.get("NBKIT_BATCH"))``),
``NBKIT_DATA_ROOT`` (when given), and per worker ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` /
``NBKIT_NUM_THREADS`` (cores ÷ workers) and ``CUDA_VISIBLE_DEVICES`` (one GPU per worker).

Executors: ``local`` (default) runs in this process when one worker is used, else in a process pool;
``slurm`` submits each run as a job through submitit (``pip install nbkit[cluster]``), stage by stage.

Examples
--------
>>> from nbkit import batch
>>> b = batch.load_batch("smoke")                           # doctest: +SKIP
>>> [(r.notebook, r.hash) for r in b.runs][:2]              # doctest: +SKIP
>>> summary = batch.run_batch(b, jobs=2)                    # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import functools
import itertools
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import traceback
import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping

from .progress import tqdm

from . import __version__
from . import runs as _runs
from .errors import DataError, MissingDataError, NbkitError
from .io import dumps_json, read_json, write_json, write_text

_REPO = Path(__file__).resolve().parents[1]
_BATCH_DIR = _REPO / "batches"
_REPORT_NOTEBOOK = "07_report"
_KERNEL = "nbkit"
_TIMING = "timing.json"
#: written by the runner into each run folder: which batch ran it and what it feeds
_BATCH_INFO = "batch.json"
_ERROR = "error.txt"
_SUMMARY = "summary.json"
#: parameters the runner sets itself; a batch file may not set them
_RESERVED = ("run_dir",)
_PRIMITIVE = (str, int, float, bool, type(None))
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


# --------------------------------------------------------------------------------------------------
# batch files
# --------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class RunSpec:
    """One notebook execution: a notebook and one point of its parameter grid.

    Attributes
    ----------
    notebook : str
        Notebook stem (``"05_train"``).
    params : dict
        Parameters injected by papermill (``run_dir`` excluded; the runner adds it).
    feeds : list of str
        Tables / figures of the paper this run feeds (``"Table 8"``).
    stage : int
        Execution stage (the notebook's number prefix).
    run_dir : Path
        ``<runs_root>/<batch>/<notebook>/<name>`` (``runs.run_name``).
    path : Path
        The ``.ipynb`` file executed.
    resolved : dict
        The full parameters the notebook runs with: its ``parameters``-cell defaults overlaid with
        ``params`` (what the completion record is keyed on).
    """

    notebook: str
    params: dict
    feeds: list
    stage: int
    run_dir: Path
    path: Path
    resolved: dict = dataclasses.field(default_factory=dict)

    @property
    def hash(self) -> str:
        return self.run_dir.name

    def complete(self) -> bool:
        return _runs.is_complete(self.run_dir)


@dataclasses.dataclass
class Batch:
    """A loaded batch file with its runs expanded.

    Attributes
    ----------
    name : str
        Batch name (``runs/<name>/``).
    source : Path
        The YAML file.
    runs_root : Path
        Absolute runs root.
    runs : list of RunSpec
        In execution order (stage, then file order, then grid order).
    data : str
        ``"embedded"`` or ``"real"``.
    requires : list of dict
        Data files checked before running (``path``, ``what``, ``get``, optional ``notebooks``).
    data_root : Path or None
        What ``{data_root}`` stands for.
    description : str
    slurm : dict
        submitit parameters for ``--executor slurm``.
    report : dict
        Extra parameters for notebook 07 (``report: false`` in the file disables it).
    """

    name: str
    source: Path
    runs_root: Path
    runs: list
    data: str = "embedded"
    requires: list = dataclasses.field(default_factory=list)
    data_root: Path | None = None
    description: str = ""
    slurm: dict = dataclasses.field(default_factory=dict)
    report: dict | None = dataclasses.field(default_factory=dict)
    notebooks_dir: Path = _runs.NOTEBOOK_DIR
    #: whether notebooks look for upstream runs in this batch only (``NBKIT_BATCH``); ``nbkit run``
    #: sets False so a single notebook finds upstream runs of every batch
    scoped: bool = True

    @property
    def dir(self) -> Path:
        return _runs.child(self.runs_root, self.name, what="batch name", source=self.source)

    def select(self, only: str | Iterable[str] | None) -> list[RunSpec]:
        """The runs of the notebooks named in ``only`` (stem, ``05`` or ``05_train``; all if None)."""
        if not only:
            return list(self.runs)
        names = [only] if isinstance(only, str) else list(only)
        names = [n for item in names for n in str(item).split(",") if n]
        out = [r for r in self.runs if any(_matches(r.notebook, n) for n in names)]
        if not out:
            known = sorted({r.notebook for r in self.runs})
            raise DataError(self.source, f"--only {','.join(names)} matches no notebook of the batch",
                            f"one of {known}")
        return out


def _matches(stem: str, name: str) -> bool:
    name = Path(name).stem if name.endswith(".ipynb") else name
    return stem == name or stem.split("_", 1)[0] == name or stem.startswith(name + "_")


def batch_path(name: str | os.PathLike) -> Path:
    """Resolve a batch name (``smoke``) or a path to its YAML file.

    Looks in ``./batches`` first (a user's own batches beside their runs), then the kit's
    ``batches/`` folder.
    """
    p = Path(name)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.is_file():
            raise MissingDataError(p, "batch file not found", "a YAML batch file")
        return p.resolve()
    for d in (Path.cwd() / "batches", _BATCH_DIR):
        for ext in (".yaml", ".yml"):
            if (d / f"{name}{ext}").is_file():
                return (d / f"{name}{ext}").resolve()
    known = sorted({q.stem for d in (Path.cwd() / "batches", _BATCH_DIR) if d.is_dir()
                    for q in d.glob("*.y*ml")})
    raise MissingDataError(_BATCH_DIR / f"{name}.yaml", f"no batch named {name!r}",
                           f"one of {known} or a path to a .yaml file")


def _stage(stem: str) -> int:
    m = re.match(r"(\d+)", stem)
    return int(m.group(1)) if m else 0


def _check_primitive(src, where: str, key: str, value) -> None:
    if not isinstance(value, _PRIMITIVE):
        raise DataError(src, f"{where}: parameter {key!r} is {type(value).__name__} {value!r}",
                        "a primitive (str, int, float, bool or null): notebooks take primitives only")


def _substitute(value, data_root: Path | None, src, where: str):
    if isinstance(value, str) and "{data_root}" in value:
        if data_root is None:
            raise MissingDataError(src, f"{where} uses {{data_root}} but no data root was given",
                                   hint="pass --data-root DIR (make reproduce DATA_ROOT=DIR) or set "
                                        "NBKIT_DATA_ROOT")
        return value.replace("{data_root}", str(data_root))
    return value


def _expand_grid(params: Mapping[str, Any] | None, grid: Mapping[str, list] | None) -> list[dict]:
    """The cartesian product of ``grid`` (axes → lists), each point merged over ``params``.

    Parameters
    ----------
    params : dict
        Fixed parameters.
    grid : dict of lists
        Axes; the product is taken in the file's axis order (first axis varies slowest).

    Returns
    -------
    list of dict

    Examples
    --------
    >>> _expand_grid({"a": 1}, {"b": [1, 2], "c": ["x"]})
    [{'a': 1, 'b': 1, 'c': 'x'}, {'a': 1, 'b': 2, 'c': 'x'}]
    """
    params = dict(params or {})
    grid = dict(grid or {})
    if not grid:
        return [params]
    keys = list(grid)
    out = []
    for combo in itertools.product(*(grid[k] for k in keys)):
        p = dict(params)
        p.update(zip(keys, combo))
        out.append(p)
    return out


def _parse_overrides(items: Iterable[str] | None, source: str = "-p") -> dict:
    """``["injection_rate=0.3", "arch=resnet18"]`` -> ``{"injection_rate": 0.3, "arch": "resnet18"}``.

    Values are read as YAML scalars (``0.3`` a float, ``true`` a bool, ``null`` None, anything else a
    string); a value that is not a primitive, a missing ``=`` or a bad name is a ``DataError``.
    """
    import yaml

    out: dict = {}
    for item in items or []:
        key, eq, text = str(item).partition("=")
        key = key.strip()
        if not eq or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            raise DataError(source, f"override {item!r} is not KEY=VALUE", "e.g. -p injection_rate=0.3")
        if key in _RESERVED:
            raise DataError(source, f"override sets {key!r}", "the runner sets run_dir itself")
        try:
            value = yaml.safe_load(text) if text.strip() else ""
        except yaml.YAMLError:
            value = text
        if isinstance(value, _dt.date):  # YAML reads 2024-01-01 as a date; a notebook wants text
            value = text
        _check_primitive(source, "override", key, value)
        out[key] = value
    return out


def _resolved_parameters(declared: Mapping[str, Mapping] | None, params: Mapping[str, Any]) -> dict:
    """The full parameters a notebook runs with: its declared defaults overlaid with ``params``.

    ``declared`` is ``_runs.notebook_parameters(path)`` (defaults as source text, read with
    ``ast.literal_eval``; a default that is not a literal is kept as its text). ``run_dir`` is left out.
    """
    import ast

    out: dict = {}
    for k, info in (declared or {}).items():
        if k in _RESERVED:
            continue
        text = str((info or {}).get("default", ""))
        try:
            out[k] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            out[k] = text
    out.update(params)
    return out


def load_batch(name: str | os.PathLike, runs_root: str | os.PathLike | None = None,
               data_root: str | os.PathLike | None = None, notebooks_dir: str | os.PathLike | None = None,
               validate: bool = True, overrides: Mapping[str, Any] | None = None) -> Batch:
    """Read a batch file and expand its runs.

    Parameters
    ----------
    name : str or path
        ``smoke`` / ``default`` / ``paper`` or a path to a YAML file.
    runs_root : path, optional
        Where run folders go (default ``$NBKIT_RUNS`` or ``./runs``).
    data_root : path, optional
        What ``{data_root}`` in the file stands for (default ``$NBKIT_DATA_ROOT``).
    notebooks_dir : path, optional
        Where the notebooks are (default: the file's ``notebooks_dir`` key, else ``notebooks/``
        beside the file's ``batches/`` folder, else the kit's ``notebooks/``).
    validate : bool
        Check that every notebook exists and declares every parameter the batch sets.
    overrides : dict, optional
        One-off parameters (``-p KEY=VALUE``) set on every run whose notebook declares them (over
        the file's params and grid; grid points they make equal run once). A key no notebook of the
        batch declares is a ``DataError``.

    Returns
    -------
    Batch

    Raises
    ------
    DataError
        Malformed file: names the file, the entry and the field.
    """
    src = batch_path(name)
    doc = _read_batch_file(src)
    bname = _runs.check_name(doc.get("name") or src.stem, "batch name", src)
    data = doc.get("data", "embedded")
    if data not in ("embedded", "real"):
        raise DataError(src, f"data: {data!r}", "'embedded' or 'real'")
    if data_root is None and os.environ.get("NBKIT_DATA_ROOT"):
        data_root = os.environ["NBKIT_DATA_ROOT"]
    droot = Path(data_root).expanduser().resolve() if data_root else None
    root = Path(runs_root).expanduser().resolve() if runs_root else _runs.runs_root()
    nbdir = _notebooks_dir(src, notebooks_dir or doc.get("notebooks_dir"))
    defaults = doc.get("defaults") or {}
    if not isinstance(defaults, dict):
        raise DataError(src, "defaults is not a mapping", "parameter: value pairs")
    entries = doc.get("runs")
    if not isinstance(entries, list) or not entries:
        raise DataError(src, "no 'runs' list", "a list of entries with notebook / params / grid / feeds")
    requires = doc.get("requires") or []
    if not isinstance(requires, list):
        raise DataError(src, "requires is not a list", "a list of {path, what, get}")
    for i, r in enumerate(requires):
        if not isinstance(r, dict) or "path" not in r:
            raise DataError(src, f"requires[{i}] has no 'path'", "{path, what, get, notebooks?}")
    overrides = dict(overrides or {})
    for k, v in overrides.items():
        _check_primitive("-p", "override", k, v)
        if k in _RESERVED:
            raise DataError("-p", f"override sets {k!r}", "the runner sets run_dir itself")
    specs = _expand_entries(src, bname, entries, nbdir, defaults, overrides, droot, root, validate)
    _name_runs(specs, bname, root)
    specs.sort(key=lambda r: r.stage)  # stable: file order within a stage
    return Batch(name=bname, source=src, runs_root=root, runs=specs, data=data, requires=requires,
                 data_root=droot, description=str(doc.get("description", "")),
                 slurm=dict(doc.get("slurm") or {}), report=_report_setting(src, doc),
                 notebooks_dir=nbdir)


def _read_batch_file(src: Path) -> dict:
    """The batch file's top-level mapping (only the known keys)."""
    import yaml

    try:
        doc = yaml.safe_load(src.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise DataError(src, f"not valid YAML: {e}") from e
    if not isinstance(doc, dict):
        raise DataError(src, f"top level is {type(doc).__name__}", "a mapping with a 'runs' list")
    unknown = set(doc) - {"name", "description", "data", "defaults", "requires", "runs", "slurm",
                          "report", "notebooks_dir"}
    if unknown:
        raise DataError(src, f"unknown top-level keys {sorted(unknown)}",
                        "name, description, data, defaults, requires, runs, slurm, report, notebooks_dir")
    return doc


def _notebooks_dir(src: Path, nbdir) -> Path:
    """Where the batch's notebooks are: as given (relative to the file), else ``notebooks/``
    beside the file's ``batches/`` folder, else the kit's."""
    if not nbdir:  # batches/<name>.yaml sits beside notebooks/ in a checkout
        beside = src.parent.parent / "notebooks"
        nbdir = beside if src.parent.name == "batches" and beside.is_dir() else _runs.NOTEBOOK_DIR
    nbdir = Path(nbdir).expanduser()
    if not nbdir.is_absolute():
        nbdir = (src.parent / nbdir).resolve()
    return nbdir


def _report_setting(src: Path, doc: dict) -> dict | None:
    """The file's ``report`` key: None (no report), else the report's parameters."""
    report = doc.get("report", {})
    if report is False:
        return None
    if report is True or report is None:
        return {}
    if not isinstance(report, dict):
        raise DataError(src, "report is not a mapping or a boolean", "report: {param: value} or false")
    return report


def _parse_entry(src: Path, i: int, e, nbdir: Path) -> tuple:
    """One ``runs`` entry checked: ``(stem, where, notebook path, params, grid, feeds)``."""
    where = f"runs[{i}]"
    if not isinstance(e, dict) or "notebook" not in e:
        raise DataError(src, f"{where} has no 'notebook'", "notebook, params, grid, feeds")
    bad = set(e) - {"notebook", "params", "grid", "feeds"}
    if bad:
        raise DataError(src, f"{where} has unknown keys {sorted(bad)}", "notebook, params, grid, feeds")
    stem = Path(str(e["notebook"])).stem
    where = f"runs[{i}] ({stem})"
    params = e.get("params") or {}
    grid = e.get("grid") or {}
    feeds = e.get("feeds") or []
    if isinstance(feeds, str):
        feeds = [feeds]
    if not isinstance(params, dict):
        raise DataError(src, f"{where}: params is not a mapping", "parameter: value pairs")
    if not isinstance(grid, dict):
        raise DataError(src, f"{where}: grid is not a mapping", "parameter: [values, ...]")
    for k, v in grid.items():
        if not isinstance(v, list) or not v:
            raise DataError(src, f"{where}: grid axis {k!r} is {v!r}", "a non-empty list of values")
        for x in v:
            _check_primitive(src, where, k, x)
    for k, v in params.items():
        _check_primitive(src, where, k, v)
    for k in list(params) + list(grid):
        if k in _RESERVED:
            raise DataError(src, f"{where} sets {k!r}", "the runner sets run_dir itself; remove it")
    return stem, where, nbdir / f"{stem}.ipynb", params, grid, feeds


def _declared(src: Path, where: str, stem: str, path: Path, keys: list, cache: dict) -> dict:
    """The parameters ``path`` declares (read once per notebook); every key of ``keys`` must be one."""
    if not path.is_file():
        raise MissingDataError(path, f"{src.name} {where}: notebook not found",
                               f"notebooks/{stem}.ipynb")
    if stem not in cache:
        cache[stem] = _runs.notebook_parameters(path)
    declared = cache[stem]
    unknown = [k for k in keys if k not in declared]
    if unknown:
        raise DataError(src, f"{where} sets {unknown} which {path.name} does not declare",
                        f"parameters of its 'parameters' cell: {sorted(declared)}")
    return declared


def _expand_entries(src: Path, bname: str, entries: list, nbdir: Path, defaults: dict,
                    overrides: dict, droot: Path | None, root: Path, validate: bool) -> list:
    """Every entry's grid points as ``RunSpec`` (file order), a run two entries share once."""
    used_overrides: set = set()
    declared_cache: dict[str, dict] = {}
    specs: list[RunSpec] = []
    seen: dict[tuple, tuple[int, RunSpec]] = {}
    for i, e in enumerate(entries):
        stem, where, path, params, grid, feeds = _parse_entry(src, i, e, nbdir)
        declared = (_declared(src, where, stem, path, list(params) + list(grid), declared_cache)
                    if validate else None)
        mine = {k: v for k, v in overrides.items() if declared is None or k in declared}
        used_overrides |= set(mine)
        for point in _expand_grid(params, grid):
            full = {k: v for k, v in defaults.items() if declared is None or k in declared}
            full.update(point)
            overridden = any(k in full and full[k] != v for k, v in mine.items())
            full.update(mine)
            full = {k: _substitute(v, droot, src, f"{where} parameter {k}") for k, v in full.items()}
            key = (stem, _runs.params_hash(full))
            if key in seen:
                j, prev = seen[key]
                if j == i and not overridden:
                    raise DataError(src, f"{where} repeats the parameters {full} within its grid",
                                    "each grid point once")
                # the same run feeds several tables (e.g. the 0.185 point of Figure 13 is Table 8's
                # MIS row): run it once, feeding both
                prev.feeds += [f for f in feeds if f not in prev.feeds]
                continue
            spec = RunSpec(stem, full, list(feeds), _stage(stem), root, path,
                           _resolved_parameters(declared, full))
            seen[key] = (i, spec)
            specs.append(spec)
    unused = sorted(set(overrides) - used_overrides)
    if unused:
        known = sorted({k for d in declared_cache.values() for k in d if k not in _RESERVED})
        raise DataError(src, f"override(s) {unused} set a parameter no notebook of batch {bname!r} "
                        "declares", f"one of {known}")
    return specs


def _varying_parameters(param_sets: Iterable[Mapping[str, Any]]) -> list[str]:
    """The parameter names whose value differs between ``param_sets`` (a missing key counts as a
    value), in order of first appearance."""
    sets = list(param_sets)
    order: dict[str, None] = {}
    for p in sets:
        order.update(dict.fromkeys(p))
    return [k for k in order
            if len({dumps_json(p[k], indent=None) if k in p else "<unset>" for p in sets}) > 1]


def _name_runs(specs: list[RunSpec], batch_name: str, root: Path) -> None:
    """Give each run its folder: ``<root>/<batch>/<notebook>/<varying params>-<hash>``."""
    by_nb: dict[str, list[RunSpec]] = {}
    for r in specs:
        by_nb.setdefault(r.notebook, []).append(r)
    for stem, group in by_nb.items():
        vary = _varying_parameters(r.params for r in group)
        for r in group:
            r.run_dir = _runs.run_dir_for(stem, r.params, batch=batch_name, root=root, vary=vary)


# --------------------------------------------------------------------------------------------------
# data check
# --------------------------------------------------------------------------------------------------
def _missing_data(batch: Batch, selected: Iterable[RunSpec] | None = None) -> list[dict]:
    """The ``requires`` entries of ``batch`` whose path does not exist (globs allowed).

    Only entries that concern one of the ``selected`` runs' notebooks are checked.
    """
    stems = {r.notebook for r in (selected if selected is not None else batch.runs)}
    out = []
    for i, req in enumerate(batch.requires):
        nbs = req.get("notebooks")
        if nbs and not any(_matches(s, str(n)) for s in stems for n in nbs):
            continue
        path = _substitute(str(req["path"]), batch.data_root, batch.source, f"requires[{i}]")
        if "{torch_hub}" in path:
            path = path.replace("{torch_hub}", _torch_hub_dir())
        p = Path(os.path.expandvars(path)).expanduser()
        ok = any(p.parent.glob(p.name)) if any(c in p.name for c in "*?[") else p.exists()
        if not ok:
            out.append(dict(req, path=str(p)))
    return out


def _torch_hub_dir() -> str:
    """``torch.hub.get_dir()`` (``$TORCH_HOME/hub``, default ``~/.cache/torch/hub``) without importing
    torch when the environment already says where it is."""
    if os.environ.get("TORCH_HOME"):
        return str(Path(os.environ["TORCH_HOME"]).expanduser() / "hub")
    import torch

    return str(torch.hub.get_dir())


def _check_data(batch: Batch, selected: Iterable[RunSpec] | None = None) -> None:
    """Raise a ``MissingDataError`` listing every missing path, what it is and how to get it."""
    uses_root = any("{data_root}" in str(r.get("path", "")) for r in batch.requires)
    if uses_root and batch.data_root is None:
        raise MissingDataError(batch.source, f"batch {batch.name!r} reads real datasets but no data "
                               "root was given",
                               hint="pass --data-root DIR (make reproduce BATCH=%s DATA_ROOT=DIR); "
                                    "data/README.md says what goes where" % batch.name)
    miss = _missing_data(batch, selected)
    if miss:
        lines = [f"  - {m['path']}" + (f"\n      what: {m['what']}" if m.get("what") else "")
                 + (f"\n      get:  {m['get']}" if m.get("get") else "") for m in miss]
        raise MissingDataError(batch.data_root or batch.source,
                               f"batch {batch.name!r} needs {len(miss)} missing file(s) or folder(s):\n"
                               + "\n".join(lines) + "\n",
                               hint="download them to those paths (data/README.md explains the layout), "
                                    "then rerun")


# --------------------------------------------------------------------------------------------------
# executing one run
# --------------------------------------------------------------------------------------------------
def kernel_name(preferred: str = _KERNEL) -> str:
    """``preferred`` when its kernelspec is installed, else ``python3`` (with a warning)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec(preferred)
        return preferred
    except NoSuchKernel:
        warnings.warn(f"Jupyter kernel {preferred!r} is not installed (make venv registers it); "
                      f"running notebooks on 'python3' ({sys.executable}) instead", stacklevel=2)
        return "python3"


@contextlib.contextmanager
def _environ(env: Mapping[str, str]):
    old = {k: os.environ.get(k) for k in env}
    os.environ.update({k: str(v) for k, v in env.items()})
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _clear_run_dir(run_dir: Path) -> None:
    """Empty a run folder before (re)running it: nothing a previous attempt left is trusted.

    Only folders the kit created (``.nbkit-run`` marker) are ever removed (``runs.clear_folder``).
    """
    _runs.clear_folder(run_dir)


# --------------------------------------------------------------------------------------------------
# what a run's numbers depend on
# --------------------------------------------------------------------------------------------------
_KIT_VERSION: str | None = None


def _kit_version() -> str:
    """``nbkit.__version__`` plus the first 12 hex digits of a SHA-256 over every file of the nbkit
    package (relative path and bytes; ``__pycache__`` left out), e.g. ``0.1.0+3f2a9c01d2e4``.

    Part of every batch run's completion record: a run made by other kit code is redone. Computed
    once per process (about 1 MB of files).
    """
    global _KIT_VERSION
    if _KIT_VERSION is None:
        import hashlib

        pkg = Path(__file__).resolve().parent
        h = hashlib.sha256()
        for f in sorted(pkg.rglob("*")):
            if f.is_file() and "__pycache__" not in f.parts and f.suffix not in (".pyc", ".pyo"):
                h.update(f.relative_to(pkg).as_posix().encode() + b"\0")
                h.update(f.read_bytes())
                h.update(b"\0")
        _KIT_VERSION = f"{__version__}+{h.hexdigest()[:12]}"
    return _KIT_VERSION


def _notebook_code_sha256(path: str | os.PathLike) -> str:
    """SHA-256 of a notebook's code: the source of its code cells, in order (markdown, outputs,
    execution counts and metadata do not change what runs, so they do not count)."""
    st = Path(path).stat()
    return _code_sha(str(path), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=256)
def _code_sha(path: str, _mtime_ns: int, _size: int) -> str:
    import hashlib

    import nbformat

    nb = nbformat.read(path, as_version=4)
    h = hashlib.sha256()
    for c in nb.cells:
        if c.cell_type == "code":
            h.update(c.source.encode("utf-8") + b"\0\0")
    return h.hexdigest()


def _run_inputs(r: RunSpec) -> dict:
    """What a run's numbers depend on, as recorded in its completion record: ``notebook``,
    ``notebook_code`` (``_notebook_code_sha256``), ``kit`` (``_kit_version``) and ``params`` (the full
    resolved parameters)."""
    return {"notebook": r.notebook, "notebook_code": _notebook_code_sha256(r.path), "kit": _kit_version(),
            "params": dict(r.resolved or r.params)}


def _run_status(r: RunSpec, inputs: Mapping[str, Any] | None = None) -> tuple[bool, str]:
    """``(keep, reason)`` for one run: kept only when complete for exactly these inputs.

    Reasons: ``new``, ``incomplete`` (no valid completion record, ``results.json`` missing, not
    parsing or not the one recorded; ``failed last time`` when ``error.txt`` is there),
    ``parameters changed (k: old -> new)``, ``notebook changed``, ``kit changed (old -> new)``,
    ``upstream changed (notebook/run)`` (a run it read has other results now), ``complete``;
    ``_plan`` adds ``upstream redone`` and ``forced (--force)``.
    """
    d = r.run_dir
    if not d.exists():
        return False, "new"
    rec = _runs.completion(d)
    if rec is None or not isinstance(rec.get("inputs"), dict):
        return False, "incomplete" + (" (failed last time)" if (d / _ERROR).is_file() else "")
    now = dict(inputs) if inputs is not None else _run_inputs(r)
    old = rec["inputs"]
    if old.get("params") != now["params"]:
        op, np_ = old.get("params") or {}, now["params"]
        diff = [f"{k}: {op.get(k, '<unset>')!r} -> {np_.get(k, '<unset>')!r}"
                for k in sorted(set(op) | set(np_)) if op.get(k, "<unset>") != np_.get(k, "<unset>")]
        return False, f"parameters changed ({'; '.join(diff[:4])}{' ...' if len(diff) > 4 else ''})"
    if old.get("notebook_code") != now["notebook_code"]:
        return False, "notebook changed"
    if old.get("kit") != now["kit"]:
        return False, f"kit changed ({old.get('kit')} -> {now['kit']})"
    for up, sha in _upstream_of(r, rec):
        c = _runs.completion(up)
        if c is None or c.get("results_sha256") != sha:
            return False, f"upstream changed ({up.parent.name}/{up.name})"
    return True, "complete"


def _upstream_of(r: RunSpec, rec: Mapping | None = None) -> list[tuple[Path, str | None]]:
    """``(folder, results SHA-256 then)`` of each upstream run ``r``'s completion record names;
    relative folders are relative to the runs root ``r`` lives in (``<root>/<batch>/<nb>/<name>``)."""
    rec = _runs.completion(r.run_dir) if rec is None else rec
    root = r.run_dir.parents[2]
    return [(root / u.get("run", ""), u.get("results_sha256"))  # an absolute path stays as it is
            for u in ((rec or {}).get("inputs") or {}).get("upstream") or []]


def _error_text(exc: BaseException) -> str:
    from papermill.exceptions import PapermillExecutionError

    if isinstance(exc, PapermillExecutionError):
        tb = "\n".join(_ANSI.sub("", line) for line in (exc.traceback or []))
        return (f"{exc.ename}: {exc.evalue}\n(cell {exc.cell_index}, execution count "
                f"{exc.exec_count})\n\n{tb}\n")
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


_WORKER_ENV: dict[str, str] = {}


def _init_worker(slots, env_per_slot) -> None:
    """Process-pool initializer: take a slot and pin this worker's GPU / thread budget."""
    slot = slots.get()
    _WORKER_ENV.clear()
    _WORKER_ENV.update(env_per_slot[slot])
    os.environ.update(_WORKER_ENV)


def _execute_run(task: Mapping[str, Any]) -> dict:
    """Execute one run (a top-level function so process pools and submitit can call it).

    Parameters
    ----------
    task : dict
        ``notebook``, ``path`` (the .ipynb), ``run_dir``, ``params``, ``kernel``, ``cwd``, ``env``
        (extra environment for the kernel), ``timeout`` (seconds per cell or None), ``feeds``.

    Returns
    -------
    dict
        The run's record for the summary: ``status`` (``done`` / ``failed``), ``wall_s``,
        ``error`` (traceback text, failed runs only) and the task's identity fields.
    """
    import papermill

    run_dir = Path(task["run_dir"])
    record = {"notebook": task["notebook"], "hash": run_dir.name, "run_dir": str(run_dir),
              "params": dict(task["params"]), "feeds": list(task.get("feeds", [])),
              "status": "failed", "wall_s": 0.0}
    env = dict(task.get("env") or {})
    env.update(_WORKER_ENV)
    started, t0 = _now(), time.perf_counter()
    try:
        _clear_run_dir(run_dir)
    except NbkitError as exc:  # not the kit's folder: touch nothing in it
        record["error"] = str(exc)
        return record
    try:
        write_json(run_dir / _runs.PARAMS, dict(task["params"]))
        if task.get("batch"):
            write_json(run_dir / _BATCH_INFO, {"batch": task["batch"], "notebook": task["notebook"],
                                              "feeds": list(task.get("feeds", [])),
                                              "source": task.get("source")})
        out_nb = run_dir / f"{task['notebook']}.ipynb"
        with _environ(env):
            papermill.execute_notebook(
                str(task["path"]), str(out_nb),
                parameters=dict(task["params"], run_dir=str(run_dir)),
                kernel_name=task.get("kernel") or _KERNEL, cwd=task.get("cwd"),
                progress_bar=False, log_output=False, start_timeout=300,
                execution_timeout=task.get("timeout"),
                # the kernel's own log: errors only (not the TCP-transport notice on every start)
                extra_arguments=["--IPKernelApp.log_level=CRITICAL"])
        if not _runs.is_complete(run_dir):
            raise NbkitError(f"{out_nb}: the notebook finished without a complete results.json "
                             "(its last cell must call runs.save_results(run_dir, NOTEBOOK, results))")
        if task.get("inputs") is not None:  # the runner vouches for what ran (resume keys on it)
            inputs = dict(task["inputs"])
            if (run_dir / _runs.UPSTREAM).is_file():
                inputs["upstream"] = read_json(run_dir / _runs.UPSTREAM)
            _runs.mark_complete(run_dir, inputs)
        record["status"] = "done"
    except Exception as exc:  # noqa: BLE001 - any failure is recorded; the batch goes on
        text = _error_text(exc)
        record["error"] = text
        with contextlib.suppress(OSError):
            write_text(run_dir / _ERROR, text)
        # a failed run must never look complete (the record goes first)
        with contextlib.suppress(OSError):
            (run_dir / _runs.COMPLETE).unlink(missing_ok=True)
            (run_dir / _runs.RESULTS).unlink(missing_ok=True)
    record["wall_s"] = round(time.perf_counter() - t0, 3)
    with contextlib.suppress(OSError):
        write_json(run_dir / _TIMING, {"started": started, "finished": _now(), "wall_s": record["wall_s"],
                                      "status": record["status"], "host": socket.gethostname(),
                                      "threads": env.get("OMP_NUM_THREADS"),
                                      "cuda_visible_devices": env.get("CUDA_VISIBLE_DEVICES")})
    return record


# --------------------------------------------------------------------------------------------------
# executors
# --------------------------------------------------------------------------------------------------
def _detect_gpus() -> list[str]:
    """GPU ids this process may use: ``$CUDA_VISIBLE_DEVICES`` when set, else ``nvidia-smi -L``."""
    vis = os.environ.get("CUDA_VISIBLE_DEVICES")
    if vis is not None:
        return [g for g in vis.split(",") if g.strip() and g.strip() != "-1"]
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(l for l in out.splitlines() if l.startswith("GPU"))]


def _worker_envs(jobs: int | None, gpus: list[str] | None = None, cores: int | None = None,
                threads: int | None = None) -> list[dict]:
    """The environment of each worker: one per GPU, or ``jobs`` CPU workers sharing the cores.

    Parameters
    ----------
    jobs : int or None
        Number of workers; None means one per GPU (or 1 without GPUs).
    gpus : list of str, optional
        GPU ids (default: ``_detect_gpus()``); each worker gets one (round robin).
    cores : int, optional
        CPU cores to share (default ``os.cpu_count()``).
    threads : int, optional
        Threads per worker (default ``cores // workers``).

    Returns
    -------
    list of dict
        Per worker: ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``,
        ``NBKIT_NUM_THREADS``, ``NBKIT_WORKER``, ``OMP_WAIT_POLICY`` (``PASSIVE`` unless set: idle
        OpenMP threads sleep instead of spinning, which on a busy shared machine made 2-thread training
        4x faster in our measurement) and, with GPUs, ``CUDA_VISIBLE_DEVICES``.

    Examples
    --------
    >>> [e["OMP_NUM_THREADS"] for e in _worker_envs(2, gpus=[], cores=8)]
    ['4', '4']
    >>> [e["CUDA_VISIBLE_DEVICES"] for e in _worker_envs(None, gpus=["0", "1"], cores=8)]
    ['0', '1']
    """
    gpus = _detect_gpus() if gpus is None else list(gpus)
    cores = cores or os.cpu_count() or 1
    n = jobs if jobs else (len(gpus) or 1)
    n = max(1, int(n))
    threads = str(max(1, int(threads) if threads else cores // n))
    wait = os.environ.get("OMP_WAIT_POLICY", "PASSIVE")
    envs = []
    for i in range(n):
        e = {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "OPENBLAS_NUM_THREADS": threads,
             "NBKIT_NUM_THREADS": threads, "NBKIT_WORKER": str(i), "OMP_WAIT_POLICY": wait}
        if gpus:
            e["CUDA_VISIBLE_DEVICES"] = gpus[i % len(gpus)]
        envs.append(e)
    return envs


def _run_local(tasks: list[dict], envs: list[dict], bar) -> Iterable[dict]:
    if len(envs) == 1 or len(tasks) == 1:
        for t in tasks:
            t = dict(t, env=dict(t["env"], **envs[0]))
            yield _execute_run(t)
            bar.update(1)
        return
    import concurrent.futures as cf
    import multiprocessing as mp

    ctx = mp.get_context("spawn")
    slots = ctx.Queue()
    n = min(len(envs), len(tasks))
    for i in range(n):
        slots.put(i)
    with cf.ProcessPoolExecutor(max_workers=n, mp_context=ctx, initializer=_init_worker,
                                initargs=(slots, envs)) as pool:
        futs = {pool.submit(_execute_run, t): t for t in tasks}
        for f in cf.as_completed(futs):
            t = futs[f]
            try:
                rec = f.result()
            except Exception as exc:  # noqa: BLE001 - a crashed worker is a failed run
                rec = {"notebook": t["notebook"], "hash": Path(t["run_dir"]).name,
                       "run_dir": t["run_dir"], "params": t["params"], "feeds": t.get("feeds", []),
                       "status": "failed", "wall_s": 0.0, "error": _error_text(exc)}
            bar.update(1)
            yield rec


def _run_submitit(tasks: list[dict], batch: Batch, jobs: int | None, cluster: str | None,
                  slurm: Mapping[str, Any], bar, threads: int | None = None) -> Iterable[dict]:
    try:
        import submitit
    except ImportError as e:  # pragma: no cover - submitit is in the dev extra
        raise NbkitError("--executor slurm needs submitit: pip install 'nbkit[cluster]'") from e
    folder = batch.dir / ".submitit"
    ex = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
    params = {"timeout_min": 240, "name": f"nbkit-{batch.name}"}
    params.update(slurm or {})
    if jobs:
        params.setdefault("slurm_array_parallelism", int(jobs))
    if ex.cluster == "local":
        params = {k: v for k, v in params.items() if not k.startswith("slurm_")}
        params.pop("name", None)
    ex.update_parameters(**params)
    threads = str(threads or params.get("cpus_per_task")
                  or max(1, (os.cpu_count() or 1) // max(1, int(jobs or 1))))
    submitted = []
    for t in tasks:
        env = dict(t["env"], OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads,
                   OPENBLAS_NUM_THREADS=threads, NBKIT_NUM_THREADS=threads,
                   OMP_WAIT_POLICY=os.environ.get("OMP_WAIT_POLICY", "PASSIVE"))
        submitted.append((t, ex.submit(_execute_run, dict(t, env=env))))
    for t, job in submitted:
        try:
            rec = job.result()
        except Exception as exc:  # noqa: BLE001 - a job that died is a failed run
            rec = {"notebook": t["notebook"], "hash": Path(t["run_dir"]).name, "run_dir": t["run_dir"],
                   "params": t["params"], "feeds": t.get("feeds", []), "status": "failed",
                   "wall_s": 0.0, "error": f"submitit job {job.job_id} failed:\n{exc}"}
            with contextlib.suppress(OSError):
                write_text(Path(t["run_dir"]) / _ERROR, rec["error"])
        rec["job_id"] = str(job.job_id)
        bar.update(1)
        yield rec


# --------------------------------------------------------------------------------------------------
# the batch
# --------------------------------------------------------------------------------------------------
@dataclasses.dataclass
class _Step:
    """One line of a plan: the run, ``action`` (``"run"`` / ``"skip"``), why, and the folder of the
    same run under an older name (``adopt``), renamed to ``run.run_dir`` before anything else."""

    run: RunSpec
    action: str
    reason: str
    adopt: Path | None = None


def _older_folder(r: RunSpec) -> Path | None:
    """A kit folder of the same notebook and parameter hash under another name (the batch's varying
    parameters changed, so the name did), or None."""
    if r.run_dir.exists() or not r.run_dir.parent.is_dir():
        return None
    h = _runs.params_hash(r.params)[:_runs.HASH_LEN]
    found = [d for d in r.run_dir.parent.iterdir()
             if (d.name == h or d.name.endswith("-" + h)) and _runs.is_kit_folder(d)]
    return found[0] if len(found) == 1 else None


def _plan(batch: Batch, only=None, force: bool = False) -> list[_Step]:
    """What to do with each selected run, in execution order (see ``_run_status`` for the reasons)."""
    steps = []
    redo: dict[str, RunSpec] = {}
    for r in batch.select(only):
        adopt = _older_folder(r)
        here = dataclasses.replace(r, run_dir=adopt) if adopt else r
        keep, why = _run_status(here)
        if force and keep:
            keep, why = False, "forced (--force)"
        if keep:  # an upstream run that is redone in this batch makes this one stale too
            ups = [redo[str(u.resolve())] for u, _ in _upstream_of(here) if str(u.resolve()) in redo]
            if ups:
                keep, why = False, f"upstream redone ({ups[0].notebook}/{ups[0].hash})"
        if not keep:
            redo[str(r.run_dir.resolve())] = r
        steps.append(_Step(r, "skip" if keep else "run", why, adopt))
    return steps


def _format_plan(batch: Batch, steps: list[_Step]) -> str:
    """The dry-run listing: one line per run with the action and why."""
    lines = [f"batch {batch.name} ({batch.source}) -> {batch.dir}"]
    n_run = sum(s.action == "run" for s in steps)
    lines.append(f"{n_run} to run, {len(steps) - n_run} complete (skipped)")
    stage = None
    for st in steps:
        r = st.run
        if r.stage != stage:
            stage = r.stage
            lines.append(f"stage {stage:02d}:")
        p = ", ".join(f"{k}={v}" for k, v in r.params.items())
        feeds = f"  [{'; '.join(r.feeds)}]" if r.feeds else ""
        moved = f" (folder renamed from {st.adopt.name})" if st.adopt else ""
        lines.append(f"  {'RUN ' if st.action == 'run' else 'skip'} {r.notebook}/{r.hash}  "
                     f"[{st.reason}]{moved}  {p}{feeds}")
    return "\n".join(lines)


def _task(batch: Batch, r: RunSpec, kernel: str, timeout: float | None) -> dict:
    env = {"NBKIT_RUNS": str(batch.runs_root), "NBKIT_RUN_DIR": str(r.run_dir),
           _runs.NOTEBOOK_ENV: str(r.path)}
    if batch.scoped:
        env["NBKIT_BATCH"] = batch.name
    if batch.data_root is not None:
        env["NBKIT_DATA_ROOT"] = str(batch.data_root)
    return {"notebook": r.notebook, "path": str(r.path), "run_dir": str(r.run_dir), "batch": batch.name,
            "source": str(batch.source), "params": dict(r.params), "feeds": list(r.feeds), "kernel": kernel,
            "cwd": str(r.path.parent), "env": env, "timeout": timeout, "inputs": _run_inputs(r)}


def _check_folders(b: Batch, steps: list[_Step]) -> None:
    """Refuse, before anything runs, to reuse a folder the kit did not create."""
    bad = [st.run.run_dir for st in steps if st.action == "run" and st.adopt is None
           and st.run.run_dir.exists() and not _runs.is_kit_folder(st.run.run_dir)
           and (not st.run.run_dir.is_dir() or any(st.run.run_dir.iterdir()))]
    if bad:
        raise NbkitError(f"batch {b.name!r}: {len(bad)} run folder(s) exist but nbkit did not create "
                         f"them (no {_runs.MARKER} marker), refusing to clear them:\n"
                         + "\n".join(f"  - {d}" for d in bad)
                         + "\nmove them away or choose another --runs-root (left by an nbkit older than "
                         "the marker? `make clean-runs` starts afresh)")


def run_batch(batch: Batch | str, jobs: int | None = None, executor: str = "local", only=None,
              dry_run: bool = False, report: bool = True, force: bool = False,
              timeout: float | None = None, cluster: str | None = None, gpus: list[str] | None = None,
              kernel: str | None = None, progress: bool = True, stream=None,
              threads: int | None = None) -> dict:
    """Execute a batch: data check, stages in order, summary, report.

    Parameters
    ----------
    batch : Batch or str
        A loaded batch or a batch name / path (loaded with default roots).
    jobs : int, optional
        Parallel workers (default: one per GPU, else 1). CPU threads per worker = cores ÷ jobs.
    executor : {"local", "slurm"}
        ``local``: this process (1 worker) or a process pool; ``slurm``: submitit jobs.
    only : str or list, optional
        Notebooks to run (``05`` / ``05_train``); others are left alone.
    dry_run : bool
        Only list what would run and what would be skipped.
    report : bool
        Build the report (notebook 07) at the end.
    force : bool
        Redo complete runs too.
    timeout : float, optional
        Seconds per notebook cell (papermill ``execution_timeout``).
    cluster : str, optional
        submitit cluster (``None``: auto-detect Slurm; ``"local"`` runs jobs as local processes).
    gpus : list of str, optional
        GPU ids to spread workers over (default: detected).
    kernel : str, optional
        Jupyter kernel (default ``nbkit``, falling back to ``python3``).
    threads : int, optional
        CPU threads per worker (default cores ÷ workers). On a machine shared with other work, 1
        thread per worker can be much faster than oversubscribed threads.
    progress : bool
        Show a tqdm bar.
    stream : file, optional
        Where the plan / summary text goes (default stdout).

    Returns
    -------
    dict
        The summary (also in ``runs/<batch>/summary.json`` unless ``dry_run``): ``done``,
        ``skipped``, ``failed`` counts, ``total_s``, and ``runs`` (one record each).
    """
    stream = stream or sys.stdout
    b = batch if isinstance(batch, Batch) else load_batch(batch)
    steps = _plan(b, only=only, force=force)
    _check_data(b, [st.run for st in steps])
    if dry_run:
        text = _format_plan(b, steps)
        if report and b.report is not None:
            text += f"\nthen: report -> {b.dir / 'report'}"
        print(text, file=stream)
        return {"batch": b.name, "dry_run": True,
                "to_run": [f"{st.run.notebook}/{st.run.hash}" for st in steps if st.action == "run"],
                "to_skip": [f"{st.run.notebook}/{st.run.hash}" for st in steps if st.action == "skip"],
                "reasons": {f"{st.run.notebook}/{st.run.hash}": st.reason for st in steps}}
    if executor not in ("local", "slurm"):
        raise NbkitError(f"unknown executor {executor!r} (expected local or slurm)")
    _check_folders(b, steps)
    if report and b.report is not None:
        rd = report_dir(b.name, b.runs_root)
        if rd.exists() and not _runs.is_kit_folder(rd) and any(rd.iterdir()):
            raise NbkitError(f"{rd}: the report folder exists but nbkit did not create it (no "
                             f"{_runs.MARKER} marker); refusing to clear it. Move it away or pass "
                             "--no-report (left by an nbkit older than the marker? `make clean-runs` "
                             "starts afresh)")
    kern = kernel or kernel_name()
    b.dir.mkdir(parents=True, exist_ok=True)
    for st in steps:  # same run, older folder name (the batch's varying parameters changed)
        if st.adopt is not None:
            st.adopt.rename(st.run.run_dir)
    envs = _worker_envs(jobs, gpus=gpus, threads=threads)
    started, t0 = _now(), time.perf_counter()
    records: list[dict] = []
    for st in steps:
        r = st.run
        if st.action == "skip":
            timing = {}
            with contextlib.suppress(DataError, OSError):
                timing = read_json(r.run_dir / _TIMING)
            records.append({"notebook": r.notebook, "hash": r.hash, "run_dir": str(r.run_dir),
                            "params": r.params, "feeds": r.feeds, "status": "skipped",
                            "reason": st.reason, "wall_s": 0.0, "previous_wall_s": timing.get("wall_s")})
    reasons = {st.run.run_dir: st.reason for st in steps}
    todo = [st.run for st in steps if st.action == "run"]
    interrupted = False
    bar = tqdm(total=len(todo), desc=f"batch {b.name}", unit="run", disable=not progress or not todo,
               file=sys.stderr)
    try:
        for stage, group in itertools.groupby(todo, key=lambda r: r.stage):
            group = list(group)
            bar.set_postfix_str(f"stage {stage:02d} ({group[0].notebook})")
            tasks = [_task(b, r, kern, timeout) for r in group]
            if executor == "slurm":
                it = _run_submitit(tasks, b, jobs, cluster, b.slurm, bar, threads)
            else:
                it = _run_local(tasks, envs, bar)
            for rec in it:
                rec["reason"] = reasons.get(Path(rec["run_dir"]), "")
                records.append(rec)
                if rec["status"] == "failed":
                    first = (rec.get("error") or "").strip().splitlines()[:1]
                    tqdm.write(f"FAILED {rec['notebook']}/{rec['hash']}: {first[0] if first else ''}",
                               file=sys.stderr)
    except KeyboardInterrupt:
        interrupted = True
    finally:
        bar.close()
    summary = _summarise(b, records, started, time.perf_counter() - t0, interrupted)
    if b.scoped:  # a one-off `nbkit run` does not own its folder's index
        summary["index"] = str(_write_index(b))
    if report and b.report is not None and not interrupted:
        summary["report"] = _report_record(b, kern, timeout)
    write_json(b.dir / _SUMMARY, summary)
    print(_format_summary(summary), file=stream)
    if interrupted:
        raise KeyboardInterrupt
    return summary


#: run statuses in ``index.csv``
_INDEX = "index.csv"
#: how many top-level numbers of a run's results.json ``index.csv`` shows
_HEADLINE_NUMBERS = 6


def _headline_numbers(results: Mapping[str, Any], n: int = _HEADLINE_NUMBERS,
                     skip: Iterable[str] = ()) -> dict:
    """The first ``n`` top-level numbers of a ``results.json`` (booleans, ``timing`` and the keys in
    ``skip`` left out), in the notebook's order: its headline (05: ``clean_acc``, ``trigger_acc``)."""
    skip = set(skip) | set(_VOLATILE_KEYS)
    out = {}
    for k, v in results.items():
        if k not in skip and isinstance(v, (int, float)) and not isinstance(v, bool):
            out[k] = v
            if len(out) >= n:
                break
    return out


def _index_table(b: Batch):
    """One row per run of the batch: ``notebook``, ``run`` (folder name), ``status`` (``complete`` /
    ``failed`` / ``incomplete`` / ``not run``), the parameters that vary within the batch, ``feeds``,
    the headline numbers of complete runs (``_headline_numbers``) and ``run_dir`` (relative)."""
    import pandas as pd

    vary = _varying_parameters(r.params for r in b.runs)
    rows, numbers = [], []
    for r in b.runs:
        d = r.run_dir
        complete = _runs.is_complete(d)
        status = ("complete" if complete else "failed" if (d / _ERROR).is_file()
                  else "incomplete" if d.exists() else "not run")
        row = {"notebook": r.notebook, "run": d.name, "status": status}
        row.update({k: r.params.get(k) for k in vary})
        row["feeds"] = "; ".join(r.feeds)
        nums = {}
        if complete:
            with contextlib.suppress(DataError, OSError):
                nums = _headline_numbers(read_json(d / _runs.RESULTS), skip=r.params)
        numbers.append(nums)
        row["run_dir"] = d.relative_to(b.runs_root).as_posix()
        rows.append(row)
    cols = list(dict.fromkeys(k for n in numbers for k in n))
    for row, nums in zip(rows, numbers):
        rd = row.pop("run_dir")
        row.update({k: nums.get(k) for k in cols})
        row["run_dir"] = rd
    return pd.DataFrame(rows).convert_dtypes()  # integers stay integers beside empty cells


def _write_index(b: Batch) -> Path:
    """Write ``runs/<batch>/index.csv`` (``_index_table``) atomically and return its path."""
    from .io import atomic_path

    p = b.dir / _INDEX
    with atomic_path(p, suffix=".csv") as tmp:
        _index_table(b).to_csv(tmp, index=False)
    return p


def _summarise(b: Batch, records: list[dict], started: str, total: float, interrupted: bool) -> dict:
    order = {(r.notebook, r.hash): i for i, r in enumerate(b.runs)}
    records = sorted(records, key=lambda x: order.get((x["notebook"], x["hash"]), 1 << 30))
    for rec in records:
        with contextlib.suppress(ValueError):
            rec["run_dir"] = str(Path(rec["run_dir"]).relative_to(b.runs_root))
    count = {s: sum(r["status"] == s for r in records) for s in ("done", "skipped", "failed")}
    return {"batch": b.name, "source": str(b.source), "runs_root": str(b.runs_root),
            "data": b.data, "data_root": str(b.data_root) if b.data_root else None,
            "started": started, "finished": _now(), "total_s": round(total, 3),
            "interrupted": interrupted, **count, "runs": records}


def _format_summary(summary: Mapping[str, Any]) -> str:
    """The end-of-batch table: one line per run, then the totals."""
    lines = [f"\nbatch {summary['batch']}: {summary['done']} done, {summary['skipped']} skipped, "
             f"{summary['failed']} failed in {summary['total_s']:.1f} s"
             + (" (INTERRUPTED)" if summary.get("interrupted") else "")]
    for r in summary["runs"]:
        t = f"{r['wall_s']:8.1f} s" if r["status"] != "skipped" else "        -  "
        lines.append(f"  {r['status']:<7} {t}  {r['notebook']}/{r['hash']}")
        if r["status"] == "failed":
            err = (r.get("error") or "").strip().splitlines()
            lines.append(f"          {err[0] if err else 'unknown error'}")
            lines.append(f"          traceback: {Path(summary['runs_root']) / r['run_dir'] / _ERROR}")
    rep = summary.get("report")
    if rep:
        lines.append(f"  report  {rep.get('status')}: {rep.get('html') or rep.get('error', '').splitlines()[:1]}")
    return "\n".join(lines)


#: top-level results.json keys that may differ between two identical runs (wall-clock timing)
_VOLATILE_KEYS = ("timing",)


def _stable_results(results: Mapping[str, Any], ignore: Iterable[str] = _VOLATILE_KEYS) -> dict:
    """``results`` without its volatile top-level keys (``timing``): what must be reproducible."""
    ignore = set(ignore)
    return {k: v for k, v in results.items() if k not in ignore}


def _compare_batches(root_a: str | os.PathLike, root_b: str | os.PathLike, batch: str,
                    ignore: Iterable[str] = _VOLATILE_KEYS) -> list[str]:
    """Differences between the ``results.json`` files of two runs of the same batch.

    Parameters
    ----------
    root_a, root_b : path
        Two runs roots holding ``<batch>/<notebook>/<hash>/results.json``.
    batch : str
        Batch name.
    ignore : iterable of str
        Top-level keys left out of the comparison (default: ``timing``).

    Returns
    -------
    list of str
        One line per run folder present in only one root or whose results differ; empty when the
        two batches reproduced each other exactly.
    """
    def collect(root):
        base = Path(root) / batch
        return {p.parent.relative_to(base).as_posix(): p for p in base.glob("*/*/results.json")
                if p.parent.parent.name != "report"}

    a, b = collect(root_a), collect(root_b)
    out = [f"only in {root_a}: {k}" for k in sorted(set(a) - set(b))]
    out += [f"only in {root_b}: {k}" for k in sorted(set(b) - set(a))]
    for k in sorted(set(a) & set(b)):
        ra, rb = _stable_results(read_json(a[k]), ignore), _stable_results(read_json(b[k]), ignore)
        if ra != rb:
            keys = sorted(x for x in set(ra) | set(rb) if ra.get(x) != rb.get(x))
            out.append(f"{k}: results differ in {keys}")
    return out


# --------------------------------------------------------------------------------------------------
# the report (notebook 07)
# --------------------------------------------------------------------------------------------------
def report_dir(batch: str, runs_root: str | os.PathLike | None = None) -> Path:
    """``<runs_root>/<batch>/report`` (``batch`` must be a plain folder name)."""
    root = Path(runs_root) if runs_root else _runs.runs_root()
    return _runs.child(root, batch, what="batch name") / "report"


def _export_html(executed: str | os.PathLike, html_path: str | os.PathLike, exclude_input: bool = True) -> Path:
    """Write an executed notebook as standalone HTML (nbconvert ``HTMLExporter``), atomically."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(executed), as_version=4)
    exporter = HTMLExporter()
    exporter.exclude_input = exclude_input
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(nb)
    return write_text(html_path, body)


def _build_report(b: Batch, kernel: str | None = None, timeout: float | None = None,
                 notebook: str | os.PathLike | None = None) -> dict:
    """Execute notebook 07 for ``b`` into ``runs/<batch>/report/`` (it writes ``report.html``).

    Always rebuilt (the report must reflect the current results). Returns a record with ``status``,
    ``wall_s``, ``html`` and, on failure, ``error``.
    """
    nb = Path(notebook) if notebook else b.notebooks_dir / f"{_REPORT_NOTEBOOK}.ipynb"
    if not nb.is_file():
        nb = _runs.NOTEBOOK_DIR / f"{_REPORT_NOTEBOOK}.ipynb"
    out = report_dir(b.name, b.runs_root)
    if not nb.is_file():
        return {"status": "failed", "wall_s": 0.0, "error": f"{nb}: report notebook not found"}
    declared = _runs.notebook_parameters(nb)
    params = {"batch": b.name, "runs_root": str(b.runs_root)}
    params.update(b.report or {})
    params = {k: v for k, v in params.items() if k in declared}
    task = {"notebook": _REPORT_NOTEBOOK, "path": str(nb), "run_dir": str(out), "params": params,
            "feeds": ["report"], "kernel": kernel or kernel_name(), "cwd": str(nb.parent),
            "env": {"NBKIT_RUNS": str(b.runs_root), "NBKIT_BATCH": b.name, _runs.NOTEBOOK_ENV: str(nb)},
            "timeout": timeout}
    rec = _execute_run(task)
    rec.pop("params", None)
    if rec["status"] == "done":
        try:
            # report.html is the report's own self-contained page (nbkit.report.write, run by the
            # notebook); the executed notebook is exported beside it
            _export_html(out / f"{_REPORT_NOTEBOOK}.ipynb", out / f"{_REPORT_NOTEBOOK}.html")
            rec["html"] = str(out / "report.html")
            if not (out / "report.html").is_file():
                raise FileNotFoundError(f"{out / 'report.html'}: notebook 07 did not write the report")
        except Exception as exc:  # noqa: BLE001
            rec["status"], rec["error"] = "failed", _error_text(exc)
    return rec


def _report_record(b: Batch, kernel: str, timeout: float | None) -> dict:
    return _build_report(b, kernel=kernel, timeout=timeout)


# --------------------------------------------------------------------------------------------------
# command line
# --------------------------------------------------------------------------------------------------
def add_parser(subparsers) -> None:
    """Register ``python -m nbkit reproduce`` and ``python -m nbkit run``."""
    p = subparsers.add_parser(
        "reproduce", help="run a batch of notebooks (papermill) and build the report",
        description="Execute a batch of notebooks (batches/<name>.yaml) with papermill into "
                    "runs/<batch>/<notebook>/<varying-params>-<hash>/, skipping runs complete for "
                    "the same notebook code, kit and parameters (--dry-run says why), then build the "
                    "report beside the paper's numbers (runs/<batch>/report/).")
    p.add_argument("--batch", default="default",
                   help="smoke | default | paper, or a path to a batch YAML file (default: default)")
    p.add_argument("--jobs", "-j", type=int, default=None,
                   help="parallel workers (default: one per GPU, else 1); CPU threads per worker = "
                        "cores / jobs")
    p.add_argument("--executor", choices=["local", "slurm"], default="local",
                   help="local process(es) or Slurm jobs through submitit (default: local)")
    p.add_argument("--cluster", default=None,
                   help="submitit cluster for --executor slurm (default: auto; 'local' runs the "
                        "jobs as local processes, for testing)")
    p.add_argument("--dry-run", action="store_true", help="list what would run and what is skipped")
    p.add_argument("--data-root", default=None,
                   help="folder holding the real datasets (paper batch; default $NBKIT_DATA_ROOT)")
    p.add_argument("--runs-root", default=None,
                   help="where run folders go (default $NBKIT_RUNS, else the checkout's runs/)")
    p.add_argument("--only", default=None, metavar="NOTEBOOK",
                   help="run only these notebooks (comma-separated: 05, 05_train)")
    p.add_argument("--no-report", action="store_true", help="skip the report (notebook 07)")
    p.add_argument("--report-only", action="store_true",
                   help="rebuild the report from the existing results.json files, run nothing else")
    p.add_argument("--force", action="store_true", help="redo runs that are already complete")
    p.add_argument("--timeout", type=float, default=None, help="seconds per notebook cell (default: none)")
    p.add_argument("--gpus", default=None,
                   help="comma-separated GPU ids for the workers (default: detected; 'none' for CPU)")
    p.add_argument("--kernel", default=None, help="Jupyter kernel (default: nbkit, else python3)")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads per worker (default: cores / jobs); 1 is faster on a busy shared machine")
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                   help="one-off parameter for every run whose notebook declares KEY (repeatable; "
                        "values read as YAML scalars: 0.3, true, resnet18); such runs get folders "
                        "of their own")
    p.set_defaults(func=_main)

    r = subparsers.add_parser(
        "run", help="run one notebook (papermill) with parameters from the command line",
        description="Execute one notebook into <runs root>/<batch>/<notebook>/<overrides>-<hash>/ "
                    "(default batch folder: interactive), kept and skipped when already complete "
                    "for the same code and parameters. Upstream runs are looked up in every batch.")
    r.add_argument("notebook", help="notebook stem or number (05_train, 05) or a path to an .ipynb")
    r.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                   help="a parameter of the notebook's parameters cell (repeatable)")
    r.add_argument("--batch-name", default="interactive",
                   help="folder under the runs root the run goes to (default: interactive)")
    r.add_argument("--runs-root", default=None,
                   help="where run folders go (default $NBKIT_RUNS, else the checkout's runs/)")
    r.add_argument("--data-root", default=None, help="what {data_root} in a value stands for")
    r.add_argument("--force", action="store_true", help="redo the run even when complete")
    r.add_argument("--dry-run", action="store_true", help="say whether it would run, and why")
    r.add_argument("--timeout", type=float, default=None, help="seconds per notebook cell (default: none)")
    r.add_argument("--kernel", default=None, help="Jupyter kernel (default: nbkit, else python3)")
    r.add_argument("--threads", type=int, default=None, help="CPU threads (default: all cores)")
    r.set_defaults(func=_main_run)


def _notebook_path(name: str | os.PathLike, notebooks_dir: str | os.PathLike | None = None) -> Path:
    """A notebook named by stem (``05_train``), number (``05``) or path, as an existing ``.ipynb``."""
    p = Path(name)
    if p.suffix == ".ipynb":
        if not p.is_file():
            raise MissingDataError(p, "notebook not found", "an .ipynb file")
        return p.resolve()
    nbdir = Path(notebooks_dir) if notebooks_dir else _runs.NOTEBOOK_DIR
    hits = sorted(q for q in nbdir.glob("*.ipynb") if _matches(q.stem, str(name)))
    if len(hits) != 1:
        known = sorted(q.stem for q in nbdir.glob("*.ipynb"))
        raise MissingDataError(nbdir / f"{name}.ipynb",
                               f"{'no' if not hits else 'more than one'} notebook matches {str(name)!r}",
                               f"one of {known}")
    return hits[0].resolve()


def _single_run(notebook: str | os.PathLike, params: Mapping[str, Any] | None = None,
               batch_name: str = "interactive", runs_root: str | os.PathLike | None = None,
               data_root: str | os.PathLike | None = None,
               notebooks_dir: str | os.PathLike | None = None) -> Batch:
    """A one-run batch for ``python -m nbkit run``: ``notebook`` with ``params`` (each must be
    declared by the notebook), in ``<runs_root>/<batch_name>/<notebook>/<params>-<hash>``.

    The run is unscoped (no ``NBKIT_BATCH``): it finds upstream runs in every batch, like a notebook
    opened in JupyterLab.
    """
    path = _notebook_path(notebook, notebooks_dir)
    stem = _runs.check_name(path.stem, "notebook name", path)
    bname = _runs.check_name(batch_name, "batch name", "--batch-name")
    params = dict(params or {})
    declared = _runs.notebook_parameters(path)
    unknown = [k for k in params if k not in declared]
    if unknown:
        raise DataError(path, f"-p sets {unknown} which {path.name} does not declare",
                        f"parameters of its 'parameters' cell: {sorted(k for k in declared if k not in _RESERVED)}")
    if data_root is None and os.environ.get("NBKIT_DATA_ROOT"):
        data_root = os.environ["NBKIT_DATA_ROOT"]
    droot = Path(data_root).expanduser().resolve() if data_root else None
    params = {k: _substitute(v, droot, path, f"parameter {k}") for k, v in params.items()}
    root = Path(runs_root).expanduser().resolve() if runs_root else _runs.runs_root()
    rd = _runs.run_dir_for(stem, params, batch=bname, root=root, vary=list(params))
    spec = RunSpec(stem, params, [], _stage(stem), rd, path, _resolved_parameters(declared, params))
    return Batch(name=bname, source=path, runs_root=root, runs=[spec], data_root=droot,
                 description=f"python -m nbkit run {stem}", report=None, notebooks_dir=path.parent,
                 scoped=False)


def _main_run(args) -> int:
    """Entry point of ``python -m nbkit run``; returns 1 when the run failed."""
    b = _single_run(args.notebook, _parse_overrides(args.param), batch_name=args.batch_name,
                   runs_root=args.runs_root, data_root=args.data_root)
    try:
        s = run_batch(b, jobs=1, dry_run=args.dry_run, report=False, force=args.force,
                      timeout=args.timeout, kernel=args.kernel, threads=args.threads, gpus=None)
    except KeyboardInterrupt:
        print("interrupted: rerun the same command to redo the run", file=sys.stderr)
        return 130
    if args.dry_run:
        return 0
    print(f"run folder: {b.runs[0].run_dir}")
    return 1 if s["failed"] else 0


def _main(args) -> int:
    """Entry point of ``python -m nbkit reproduce``; returns the exit status (1 if a run failed)."""
    gpus = None
    if args.gpus:
        gpus = [] if args.gpus.lower() in ("none", "cpu", "") else args.gpus.split(",")
    b = load_batch(args.batch, runs_root=args.runs_root, data_root=args.data_root,
                   overrides=_parse_overrides(getattr(args, "param", None)))
    if args.report_only:
        rec = _build_report(b, kernel=args.kernel, timeout=args.timeout)
        print(f"report {rec['status']}: {rec.get('html') or rec.get('error')}")
        return 0 if rec["status"] == "done" else 1
    try:
        s = run_batch(b, jobs=args.jobs, executor=args.executor, only=args.only, dry_run=args.dry_run,
                      report=not args.no_report, force=args.force, timeout=args.timeout,
                      cluster=args.cluster, gpus=gpus, kernel=args.kernel, threads=args.threads)
    except KeyboardInterrupt:
        print("interrupted: complete runs are kept; rerun the same command to resume", file=sys.stderr)
        return 130
    if args.dry_run:
        return 0
    rep_failed = bool(s.get("report")) and s["report"].get("status") != "done"
    return 1 if (s["failed"] or rep_failed) else 0
