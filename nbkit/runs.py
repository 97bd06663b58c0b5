"""Run folders: where a notebook writes what it produced, and how another notebook finds it.

A run folder is ``<runs_root>/<batch>/<notebook>/<name>/`` where ``<name>`` is the parameters that
vary within the batch, short, then a short hash of the run's parameters
(``05_train/inj0.185-target1-3f2a9c01``; just the hash when nothing varies). It holds ``params.json``,
the executed notebook, ``results.json`` (every number the report needs), figures (PNG + PDF) and
tables (CSV), plus two files the kit keeps for itself:

``.nbkit-run``
    the marker that says the kit created this folder; the kit never deletes a folder without it.
``complete.json``
    the completion record: the SHA-256 of ``results.json`` (written by ``save_results``) and, for
    batch runs, the inputs the runner executed (notebook code, kit version, full parameters; see
    ``nbkit.batch``). A run is complete only when this record exists, parses, and names the
    ``results.json`` that is there and parses; a truncated or replaced ``results.json`` is never
    trusted.

The runs root is found by ``runs_root()`` (``$NBKIT_RUNS``, else the ``runs/`` folder of the checkout
that holds the working directory, so JupyterLab, whose kernels start in ``notebooks/``, writes to the
same place as ``make reproduce``). Every path the kit builds from a name (batch, notebook, run key)
goes through ``child``, which refuses names that would leave their root.

Notebooks get ``run_dir`` from their ``parameters`` cell (papermill injects it in batches; an
interactive session defaults to ``runs/interactive/<notebook>/<hash>``). A notebook that needs
another's output (05 needs 04's subsets, 06 needs 05's model) calls ``find_run`` with the parameters
that identify it, never a hand-copied path.

Finding runs: one scanner, one selection rule
---------------------------------------------
``scan`` is the kit's only walk over run folders (the report, ``find_run`` and the choice of the
models notebook 06 audits, ``nbkit.naturalmodels``, all use it). ``select`` applies the one rule:

1. **Parameters decide.** A candidate is a *complete* run whose ``params.json`` contains every item
   asked for (``==``); when a batch is named, only that batch's own runs are candidates.
2. **A parameter set counts once.** Runs with the same parameters (``identity``: execution-only
   parameters such as ``threads`` ignored) in several batches are copies of one deterministic run;
   the newest copy stands for them.
3. **Ties: newest completion, then path.** Candidates are ordered by completion time (the
   modification time of ``results.json``, which ``save_results`` writes once), newest first, then by
   folder path, so a question asked after a rerun gets the rerun. ``find_run`` takes the first;
   callers that must not depend on recency (``naturalmodels.select_model_runs``) demand that their
   parameters leave exactly one group, and say which parameters tell the candidates apart when not.

Why: parameters are what a user can name and a batch can record; recency only breaks ties that
parameters leave open, and it is the tie-break an interactive user expects (the run just made).
"""
from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Iterable, Mapping

import pandas as pd

from . import schema
from .errors import DataError, MissingDataError
from .io import atomic_path, dumps_json, read_json, write_json

RESULTS = "results.json"
PARAMS = "params.json"
#: the completion record (see the module docstring)
COMPLETE = "complete.json"
#: marks a folder the kit created (and may therefore clear)
MARKER = ".nbkit-run"
#: the upstream runs a run read (``find_run`` / ``note_upstream``), with their results' SHA-256
UPSTREAM = "upstream.json"
#: length of the hash at the end of a run folder's name
HASH_LEN = 8
_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.=+-]*")
#: short forms of common parameter names in run folder names (others: see ``_short_key``)
_ABBREVIATIONS = {"injection_rate": "inj", "min_overlaps": "W", "dataset": "data",
                 "n_classes": "ncls", "max_other_overlaps": "maxo", "trig_overlaps": "trigo",
                 "trigger": "trig", "profile": "prof", "model_match": "match",
                 "subset_mode": "subset", "added_mode": "added", "n_added_classes": "nadd",
                 "centrality": "cent", "ambiguous": "amb"}


# ------------------------------------------------------------------------------------ safe paths
def check_name(name: Any, what: str = "name", source: Any = None) -> str:
    """``name`` if it is one plain folder name (letters, digits, ``_ . = + -``; not ``.``/``..``,
    no separator, no leading dot), else a ``DataError`` naming ``what`` and ``source``."""
    s = str(name)
    if len(s) > 120 or not _PLAIN.fullmatch(s) or s.strip(".") == "":
        raise DataError(source or what, f"{what} {s!r} is not a plain folder name (it could leave its "
                        "folder)", "letters, digits and _ . = + - (not starting with a dot, no '/' "
                        "or '..'), at most 120 characters")
    return s


def child(root: str | os.PathLike, *names: Any, what: str = "name", source: Any = None) -> Path:
    """``root / name / ...`` after checking that each name is a plain folder name, so the result is
    always inside ``root`` (``DataError`` otherwise)."""
    p = Path(root)
    for n in names:
        p = p / check_name(n, what, source)
    return p


def is_kit_folder(d: str | os.PathLike) -> bool:
    """True when ``d`` is a real folder (not a link) carrying the kit's ``.nbkit-run`` marker."""
    d = Path(d)
    return d.is_dir() and not d.is_symlink() and (d / MARKER).is_file()


def _make_run_folder(d: str | os.PathLike) -> Path:
    """Create ``d`` (parents too) and mark it as the kit's when it is new or empty (a folder that
    already holds someone else's files is used but never marked, so never cleared)."""
    d = Path(d)
    fresh = not d.exists() or (d.is_dir() and not any(d.iterdir()))
    d.mkdir(parents=True, exist_ok=True)
    if fresh:
        (d / MARKER).write_text("created by nbkit; this folder may be cleared and rewritten by it\n",
                                encoding="utf-8")
    return d


def clear_folder(d: str | os.PathLike) -> Path:
    """Empty a run folder the kit created and mark it again; refuse anything else.

    A missing or empty folder is simply created. A folder without the ``.nbkit-run`` marker (the
    kit did not create it), or a symbolic link, is never removed: ``NbkitError`` says so.
    """
    import shutil

    from .errors import NbkitError

    d = Path(d)
    if d.is_symlink():
        raise NbkitError(f"{d}: is a symbolic link; nbkit only clears folders it created, refusing")
    if d.exists():
        if not d.is_dir():
            raise NbkitError(f"{d}: exists and is not a folder; nbkit will not remove it")
        if any(d.iterdir()):
            if not (d / MARKER).is_file():
                raise NbkitError(f"{d}: folder exists but nbkit did not create it (no {MARKER} "
                                 "marker); refusing to delete it. Move it away, or choose another "
                                 "--runs-root / batch name (left by an nbkit older than the marker? "
                                 "`make clean-runs` starts afresh)")
            shutil.rmtree(d)
    return _make_run_folder(d)


# ------------------------------------------------------------------------------------ runs root
def runs_root(start: str | os.PathLike | None = None) -> Path:
    """The runs root, absolute: ``$NBKIT_RUNS``, else ``<checkout>/runs``, else ``./runs``.

    The checkout is the nearest folder at or above ``start`` (default: the working directory) that
    holds both ``batches/`` and ``pyproject.toml``. This is the one place a default runs root is
    chosen: the batch runner, ``runs.start`` / ``find_run``, the audit and the report all call it, so
    a notebook run in JupyterLab (kernel working directory ``notebooks/``) writes to and reads from
    the same ``runs/`` as ``make reproduce``.

    Examples
    --------
    >>> runs_root("/work/nbkit/notebooks")     # doctest: +SKIP
    PosixPath('/work/nbkit/runs')
    """
    env = os.environ.get("NBKIT_RUNS")
    if env:
        return Path(env).expanduser().resolve()
    here = Path(start or Path.cwd()).expanduser().resolve()
    for d in (here, *here.parents):
        if (d / "batches").is_dir() and (d / "pyproject.toml").is_file():
            return d / "runs"
    return here / "runs"


def relative_path(path: str | os.PathLike) -> str:
    """``path`` relative to the runs root (``runs_root()``), so a ``results.json`` that names a
    folder does not depend on where the runs live; ``str(path)`` when no relative path exists."""
    try:
        return os.path.relpath(path, runs_root().resolve())
    except ValueError:
        return str(path)


# ------------------------------------------------------------------------------------ run names
def params_hash(params: Mapping[str, Any]) -> str:
    """Stable 12-hex-digit hash of a parameter dict (keys sorted; ``run_dir`` / ``runs_root`` ignored)."""
    clean = {k: v for k, v in sorted(params.items()) if k not in ("run_dir", "runs_root")}
    return hashlib.sha256(dumps_json(clean, indent=None).encode()).hexdigest()[:12]


def _short_key(key: str) -> str:
    """A parameter name as it appears in a run folder name: ``_ABBREVIATIONS``, else names of up to
    8 characters as they are, else the first 4 letters of the first word and the initials of the
    others (``unfrozen_layers`` -> ``unfrl``)."""
    if key in _ABBREVIATIONS:
        return _ABBREVIATIONS[key]
    if len(key) <= 8:
        return key
    words = [w for w in key.split("_") if w]
    return words[0][:4] + "".join(w[0] for w in words[1:])


def _short_value(value: Any, width: int = 16) -> str:
    """A parameter value as it appears in a run folder name (safe characters, at most ``width``)."""
    if isinstance(value, bool) or value is None:
        s = str(value).lower()
    elif isinstance(value, float):
        s = f"{value:g}"
    else:
        s = str(value)
        if "/" in s or "\\" in s:  # a path: its last parts say most
            s = s.rstrip("/\\").replace("\\", "/").split("/")[-1] or s
    s = re.sub(r"[^A-Za-z0-9_.+=-]+", "_", s).strip("._") or "_"
    return s[:width]


def run_name(params: Mapping[str, Any], vary: Iterable[str] = ()) -> str:
    """Folder name of a run: the ``vary`` parameters, short, then the short parameter hash.

    Examples
    --------
    >>> run_name({"injection_rate": 0.1, "target": 0, "seed": 0}, vary=["injection_rate", "target"])[:-8]
    'inj0.1-target0-'
    >>> run_name({"centrality": "closeness", "seed": 0}, vary=["centrality"])[:-8]
    'cent=closeness-'
    """
    h = params_hash(params)[:HASH_LEN]
    # numbers read well glued to their name (inj0.1, target0); words get an '=' (cent=closeness)
    parts = [_short_key(k) + ("=" if isinstance(params[k], str) else "") + _short_value(params[k])
             for k in vary if k in params]
    slug = "-".join(parts)[:60].rstrip("-.")
    return check_name(f"{slug}-{h}" if slug else h, "run name")


def run_dir_for(notebook: str, params: Mapping[str, Any], batch: str = "interactive",
                root: str | os.PathLike | None = None, vary: Iterable[str] = ()) -> Path:
    """The run folder of ``notebook`` (stem, e.g. ``"05_train"``) with ``params`` in ``batch``
    (``vary``: parameters named in the folder, see ``run_name``)."""
    root = Path(root) if root is not None else runs_root()
    return child(root, batch, notebook, what="batch / notebook name") / run_name(params, vary)


# ------------------------------------------------------------------------------------ completion
def _file_sha256(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def completion(run_dir: str | os.PathLike) -> dict | None:
    """The run's completion record when the run is complete, else None.

    Complete means: ``complete.json`` parses, ``results.json`` parses, and its SHA-256 is the one the
    record names (a truncated, edited or half-copied ``results.json`` fails this).
    """
    d = Path(run_dir)
    try:
        rec = json.loads((d / COMPLETE).read_text(encoding="utf-8"))
        raw = (d / RESULTS).read_bytes()
        json.loads(raw.decode("utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(rec, dict) or rec.get("results_sha256") != hashlib.sha256(raw).hexdigest():
        return None
    return rec


def is_complete(run_dir: str | os.PathLike) -> bool:
    """True when the run's completion record vouches for its ``results.json`` (``completion``)."""
    return completion(run_dir) is not None


def mark_complete(run_dir: str | os.PathLike, inputs: Mapping[str, Any] | None = None) -> dict:
    """Write the completion record for the ``results.json`` that is there (``inputs``: what ran).

    Raises ``DataError`` when ``results.json`` is missing or does not parse.
    """
    d = Path(run_dir)
    read_json(d / RESULTS)  # names the file when missing or malformed
    rec = {"results_sha256": _file_sha256(d / RESULTS)}
    if inputs is not None:
        rec["inputs"] = dict(inputs)
    write_json(d / COMPLETE, rec)
    return rec


def prepare(run_dir: str | os.PathLike, params: Mapping[str, Any]) -> Path:
    """Create ``run_dir`` (marked as the kit's), write ``params.json``, and withdraw any previous
    completion (the record first, then ``results.json``)."""
    d = _make_run_folder(run_dir)
    (d / COMPLETE).unlink(missing_ok=True)
    (d / RESULTS).unlink(missing_ok=True)
    (d / UPSTREAM).unlink(missing_ok=True)
    write_json(d / PARAMS, dict(params))
    return d


def save_results(run_dir: str | os.PathLike, notebook: str, results: Mapping[str, Any]) -> Path:
    """Check ``results`` against ``notebook``'s schema (``nbkit.schema``), stamp it, and atomically
    write ``results.json`` and its completion record; call it last, it marks the run complete.

    Raises ``DataError`` (naming the run folder and the key) when ``results`` does not fit the schema;
    nothing is written then.
    """
    d = Path(run_dir)
    stamped = schema.stamp(notebook, results, source=d / RESULTS)
    (d / COMPLETE).unlink(missing_ok=True)
    p = write_json(d / RESULTS, stamped)
    mark_complete(d)
    return p


def load_results(run_dir: str | os.PathLike) -> dict:
    """The ``results.json`` of a complete run, written under its notebook's current schema.

    Raises ``MissingDataError`` when the run is not complete and ``DataError`` when its results
    carry another schema version (written by an older kit: rerun it).
    """
    d = Path(run_dir)
    if not is_complete(d):
        raise MissingDataError(d, "run is not complete (no results.json vouched for by complete.json)",
                               hint="run the notebook (or its batch) first")
    res = read_json(d / RESULTS)
    schema.check_stamp(res, d / RESULTS)
    return res


def load_params(run_dir: str | os.PathLike) -> dict:
    """The parameters a run was started with (its ``params.json``, written by ``start``)."""
    f = Path(run_dir) / PARAMS
    if not f.is_file():
        raise MissingDataError(f, "run has no params.json", hint="start it with runs.start")
    return read_json(f)


def save_figure(fig, run_dir: str | os.PathLike, name: str, dpi: int = 120) -> list[Path]:
    """Save a matplotlib figure as ``<name>.png`` and ``<name>.pdf`` (atomically)."""
    out = []
    for ext in ("png", "pdf"):
        p = Path(run_dir) / f"{name}.{ext}"
        with atomic_path(p, suffix=f".{ext}") as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format=ext)
        out.append(p)
    return out


def save_table(df: pd.DataFrame, run_dir: str | os.PathLike, name: str, index: bool = False) -> Path:
    """Save a table as ``<name>.csv`` (atomically)."""
    p = Path(run_dir) / f"{name}.csv"
    with atomic_path(p, suffix=".csv") as tmp:
        df.to_csv(tmp, index=index)
    return p


# ------------------------------------------------------------------------------------ scanning
@dataclasses.dataclass(frozen=True)
class RunRecord:
    """One run folder as ``scan`` found it.

    ``params`` is its ``params.json`` (``{}`` when missing or unreadable); ``completion`` its
    completion record when the run is complete (``completion``), else None; ``results`` (read on
    first use, through ``load_results``) its checked ``results.json``.
    """

    dir: Path
    batch: str
    notebook: str
    params: dict
    completion: dict | None

    @property
    def complete(self) -> bool:
        return self.completion is not None

    @functools.cached_property
    def results(self) -> dict:
        return load_results(self.dir)

    def completed_at(self) -> float:
        """When the run completed: the modification time of its ``results.json``."""
        return (self.dir / RESULTS).stat().st_mtime


def _subfolders(d: Path, skip: Iterable[str] = ()) -> list[Path]:
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")
                  and p.name not in skip)


def _read_params(d: Path) -> dict:
    try:
        p = json.loads((d / PARAMS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return p if isinstance(p, dict) else {}


def scan(notebook: str | None = None, batch: str | None = None, root: str | os.PathLike | None = None,
         match: Mapping[str, Any] | None = None) -> list[RunRecord]:
    """Every run folder ``<root>/<batch>/<notebook>/<name>/``, complete or not, in path order.

    ``notebook`` / ``batch`` None: every one (a batch's ``report`` folder is not a notebook);
    ``match``: only runs whose ``params.json`` contains each item (``==``). This is the kit's one
    scan of run folders; ``select`` applies the selection rule to it.
    """
    root = Path(root) if root is not None else runs_root()
    batches = [child(root, batch, what="batch name")] if batch else _subfolders(root)
    match = dict(match or {})
    out = []
    for b in batches:
        nbs = [child(b, notebook, what="notebook name")] if notebook else _subfolders(b, ("report",))
        for nb in nbs:
            for d in _subfolders(nb):
                params = _read_params(d)
                if all(k in params and params[k] == v for k, v in match.items()):
                    out.append(RunRecord(d, b.name, nb.name, params, completion(d)))
    return out


#: parameters that say how a run was executed, not what it computed (never tell two runs apart)
EXECUTION_PARAMS = ("run_dir", "runs_root", "threads", "keep_checkpoint")


def identity(params: Mapping[str, Any], skip: Iterable[str] = ()) -> str:
    """A run's parameters as a key, without ``EXECUTION_PARAMS`` and ``skip``: equal keys, same run."""
    drop = set(EXECUTION_PARAMS) | set(skip)
    return dumps_json({k: v for k, v in sorted(params.items()) if k not in drop}, indent=None)


def select(notebook: str, match: Mapping[str, Any] | None = None, batch: str | None = None,
           root: str | os.PathLike | None = None) -> list[RunRecord]:
    """The complete runs of ``notebook`` matching ``match``, in the order of the selection rule.

    The rule (module docstring): complete runs whose parameters contain ``match``, from ``batch``
    only when given; one copy per parameter set (``identity``); newest completion first, then
    folder path. Possibly empty.
    """
    check_name(notebook, "notebook name")
    hits = [r for r in scan(notebook, batch, root, match) if r.complete]
    hits.sort(key=lambda r: (-r.completed_at(), str(r.dir)))
    seen, out = set(), []
    for r in hits:
        key = identity(r.params)
        if key not in seen:
            seen.add(key)
            out.append(r)
    return out


def find_run(notebook: str, match: Mapping[str, Any] | None = None, batch: str | None = None,
             root: str | os.PathLike | None = None) -> Path:
    """The run of ``notebook`` that ``match`` selects (the first of ``select``), noted as upstream.

    Raises a ``MissingDataError`` that says what to run when none matches.
    """
    hits = select(notebook, match, batch, root)
    if not hits:
        root = Path(root) if root is not None else runs_root()
        raise MissingDataError(root / (batch or "*") / notebook,
                               f"no complete run of {notebook} with parameters {dict(match or {})}",
                               hint=f"run notebooks/{notebook}.ipynb with those parameters first")
    note_upstream(hits[0].dir)
    return hits[0].dir


def note_upstream(upstream_dir: str | os.PathLike) -> None:
    """Record that the run being executed read ``upstream_dir``'s results.

    Inside a batch run (``$NBKIT_RUN_DIR``, set by the runner) the upstream folder (relative to
    ``$NBKIT_RUNS`` when inside it) and its ``results.json`` SHA-256 are added to ``upstream.json``; the runner copies them into the
    completion record, and a later batch redoes the run when that upstream run changed. ``find_run``
    calls this; code that picks upstream runs another way (e.g. by globbing) should call it for each
    run it reads. Outside a batch it does nothing.
    """
    here = os.environ.get("NBKIT_RUN_DIR")
    rec = completion(upstream_dir)
    if not here or rec is None or not Path(here).is_dir():
        return
    f = Path(here) / UPSTREAM
    seen = []
    if f.is_file():
        try:
            seen = json.loads(f.read_text(encoding="utf-8"))
        except ValueError:
            seen = []
    up = Path(upstream_dir).resolve()
    root = os.environ.get("NBKIT_RUNS")
    try:  # relative to the runs root, so a moved or copied runs tree keeps its links
        run = up.relative_to(Path(root).resolve()).as_posix() if root else str(up)
    except ValueError:
        run = str(up)
    entry = {"run": run, "results_sha256": rec["results_sha256"]}
    if entry not in seen:
        write_json(f, seen + [entry])


#: the kit's notebooks (a batch file may name another folder: ``nbkit.batch``)
NOTEBOOK_DIR = Path(__file__).resolve().parents[1] / "notebooks"
#: set by the batch runner to the notebook file being executed
NOTEBOOK_ENV = "NBKIT_NOTEBOOK"


def notebook_parameters(path: str | os.PathLike) -> dict:
    """The parameters declared in a notebook's ``parameters`` cell (name → inferred type/default)."""
    import papermill

    try:
        return dict(papermill.inspect_notebook(str(path)))
    except Exception as e:  # noqa: BLE001 - papermill raises plain exceptions on odd notebooks
        raise DataError(path, f"cannot read the notebook's parameters cell: {e}",
                        "an nbformat-4 notebook with one cell tagged 'parameters'") from e


def _notebook_file(notebook: str) -> Path:
    """The ``.ipynb`` of ``notebook`` being run: ``$NBKIT_NOTEBOOK`` when the runner set it to a file of
    that name, else ``notebooks/<notebook>.ipynb`` of the kit."""
    check_name(notebook, "notebook name")
    env = os.environ.get(NOTEBOOK_ENV)
    if env and Path(env).stem == notebook and Path(env).is_file():
        return Path(env)
    p = NOTEBOOK_DIR / f"{notebook}.ipynb"
    if not p.is_file():
        raise MissingDataError(p, f"notebook {notebook!r} not found",
                               f"set ${NOTEBOOK_ENV} to its .ipynb or keep it in {NOTEBOOK_DIR}")
    return p


def start(notebook: str, namespace: Mapping[str, Any], run_dir: str | os.PathLike | None = None,
          batch: str = "interactive") -> Path:
    """Called by each notebook right after its ``parameters`` cell: ``runs.start("05_train", globals())``.

    The parameters are read once, from the notebook's own ``parameters`` cell: every name it declares
    (except ``run_dir``) is taken from ``namespace`` (the notebook's globals, after papermill's
    injected values) and written to ``params.json``; nothing is retyped in a dict. ``run_dir`` is
    ``namespace["run_dir"]`` unless given: the folder papermill passed (batches) or empty
    (interactive: ``<runs_root()>/interactive/<notebook>/<hash>``). Returns the folder.

    Raises ``DataError`` when a declared parameter is not in ``namespace``.
    """
    names = [k for k in notebook_parameters(_notebook_file(notebook)) if k != "run_dir"]
    missing = [k for k in names if k not in namespace]
    if missing:
        raise DataError(_notebook_file(notebook), f"parameters {missing} are declared but not set",
                        "run the parameters cell first")
    params = {k: namespace[k] for k in names}
    if run_dir is None:
        run_dir = namespace.get("run_dir") or None
    d = Path(run_dir) if run_dir else run_dir_for(notebook, params, batch=batch)
    return prepare(d, params)
