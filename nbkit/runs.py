"""Run folders: where a notebook writes what it produced, and how another notebook finds it.

A run folder is ``<runs_root>/<batch>/<notebook>/<params-hash>/`` and holds ``params.json``, the
executed notebook, ``results.json`` (every number the report needs), figures (PNG + PDF) and tables
(CSV). ``results.json`` is written last and atomically, so its presence marks a complete run; a run
folder without it is never trusted.

Notebooks get ``run_dir`` from their ``parameters`` cell (papermill injects it in batches; an
interactive session defaults to ``runs/interactive/<notebook>``). A notebook that needs another's
output (05 needs 04's subsets, 06 needs 05's model) calls ``find_run`` with the parameters that
identify it, never a hand-copied path.
"""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from .errors import MissingDataError
from .io import atomic_path, dumps_json, read_json, write_json

RESULTS = "results.json"
PARAMS = "params.json"


def params_hash(params: Mapping[str, Any]) -> str:
    """Stable 12-hex-digit hash of a parameter dict (keys sorted; ``run_dir`` / ``runs_root`` ignored)."""
    clean = {k: v for k, v in sorted(params.items()) if k not in ("run_dir", "runs_root")}
    return hashlib.sha256(dumps_json(clean, indent=None).encode()).hexdigest()[:12]


def runs_root() -> Path:
    """``$NBKIT_RUNS`` or ``./runs``."""
    return Path(os.environ.get("NBKIT_RUNS", "runs"))


def run_dir_for(notebook: str, params: Mapping[str, Any], batch: str = "interactive",
                root: str | os.PathLike | None = None) -> Path:
    """The run folder of ``notebook`` (stem, e.g. ``"05_train"``) with ``params`` in ``batch``."""
    root = Path(root) if root is not None else runs_root()
    return root / batch / notebook / params_hash(params)


def prepare(run_dir: str | os.PathLike, params: Mapping[str, Any]) -> Path:
    """Create ``run_dir``, write ``params.json``, and remove a stale ``results.json``."""
    d = Path(run_dir)
    d.mkdir(parents=True, exist_ok=True)
    (d / RESULTS).unlink(missing_ok=True)
    write_json(d / PARAMS, dict(params))
    return d


def is_complete(run_dir: str | os.PathLike) -> bool:
    return (Path(run_dir) / RESULTS).is_file()


def save_results(run_dir: str | os.PathLike, results: Mapping[str, Any]) -> Path:
    """Atomically write ``results.json``; call it last, it marks the run complete."""
    return write_json(Path(run_dir) / RESULTS, dict(results))


def load_results(run_dir: str | os.PathLike) -> dict:
    d = Path(run_dir)
    if not is_complete(d):
        raise MissingDataError(d, "run is not complete (no results.json)",
                               hint="run the notebook (or its batch) first")
    return read_json(d / RESULTS)


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


def find_run(notebook: str, match: Mapping[str, Any] | None = None, batch: str | None = None,
             root: str | os.PathLike | None = None) -> Path:
    """Find the newest complete run of ``notebook`` whose ``params.json`` contains ``match``.

    Searches ``<root>/<batch>/<notebook>/*`` (every batch when ``batch`` is None); raises a
    ``MissingDataError`` that says what to run when none matches.
    """
    root = Path(root) if root is not None else runs_root()
    match = dict(match or {})
    pattern = f"{batch}/{notebook}/*" if batch else f"*/{notebook}/*"
    hits = []
    for d in root.glob(pattern):
        if not is_complete(d) or not (d / PARAMS).is_file():
            continue
        try:
            p = json.loads((d / PARAMS).read_text())
        except json.JSONDecodeError:
            continue
        if all(p.get(k) == v for k, v in match.items()):
            hits.append(((d / RESULTS).stat().st_mtime, d))
    if not hits:
        raise MissingDataError(root / (batch or "*") / notebook,
                               f"no complete run of {notebook} with parameters {match}",
                               hint=f"run notebooks/{notebook}.ipynb with those parameters first")
    return max(hits)[1]


def start(notebook: str, params: Mapping[str, Any], run_dir: str | os.PathLike | None = None,
          batch: str = "interactive") -> Path:
    """Called by each notebook right after its ``parameters`` cell.

    ``run_dir`` is the folder papermill passed (batches) or empty (interactive: a folder under
    ``runs/interactive/<notebook>/<params-hash>`` is used). Writes ``params.json`` and returns the
    folder.
    """
    d = Path(run_dir) if run_dir else run_dir_for(notebook, params, batch=batch)
    return prepare(d, params)
