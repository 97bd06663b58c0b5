"""The natural-backdoor models notebook 06 audits: notebook-05 runs, else models trained here.

``models_for_audit`` finds the trained models of notebook 05 with the run-selection functions of
``nbkit.audit`` (``select_model_runs`` when a trigger or ``model_match`` picks the runs,
``find_model_runs`` otherwise) and, when there is none and nothing was asked for by name, trains the
natural backdoor here the way notebook 05 does (``curate.select_backdoor``, ``curate.make_manifest``,
``train.train``). It is training orchestration, so it lives apart from GradCAM scoring.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

from . import audit, runs
from .errors import DataError, MissingDataError


def _selected_runs(dataset: str, trigger, extra_match: dict, smoke: bool, n_models: int,
                   batch: str | None) -> list[Path]:
    """Notebook-05 runs chosen by ``trigger`` / ``model_match`` (``audit.select_model_runs``)."""
    if extra_match.get("dataset", dataset) != dataset:
        raise DataError("parameter model_match", f"sets dataset {extra_match['dataset']!r}, the dataset "
                        f"parameter is {dataset!r}", expected="no dataset in model_match, or the same one")
    matches = _matches(dataset, smoke)
    for i, match in enumerate(matches):
        try:
            return audit.select_model_runs(trigger, {**match, **extra_match}, batch=batch, n=n_models)
        except MissingDataError:
            if i == len(matches) - 1:
                raise
    return []


def _matches(dataset: str, smoke: bool) -> list[dict]:
    """05 parameters searched in turn: full runs for a full run; smoke runs, then any, for smoke."""
    return [{"dataset": dataset, "smoke": bool(smoke)}] + ([{"dataset": dataset}] if smoke else [])


def _largest_group(dataset: str, smoke: bool, n_models: int, batch: str | None) -> list[Path]:
    """The largest, then newest group of 05 runs differing only in target (``audit.find_model_runs``)."""
    for match in _matches(dataset, smoke):
        runs = audit.find_model_runs(match, batch=batch, n=n_models)
        if runs:
            return runs
    return []


def _train_here(li, dataset: str, smoke: bool, n_models: int, train_profile: str, train_epochs: int,
                seed: int, threads: int | None, out_dir) -> list[Path]:
    """Build the natural backdoor as notebook 05 does and train one model per target under out_dir."""
    if out_dir is None:
        raise DataError("models_for_audit", "no notebook-05 model found and no out_dir to train one in",
                        expected="out_dir (e.g. run_dir / 'natural_models')")
    from . import curate
    from . import train as T
    from .cooccurrence import from_labelindex

    sel = curate.select_backdoor(li, from_labelindex(li), trigger="", subset_mode="mis",
                                 min_overlaps=15, centrality="betweenness",
                                 n_classes=3 if smoke else 10, max_other_overlaps=10,
                                 min_clean=250, min_poison=50, seed=seed)
    classes = list(sel["classes"])
    epochs = 1 if smoke else (int(train_epochs) or None)
    dirs = []
    for target in classes[:n_models]:
        spec = curate.BackdoorSpec(dataset, trigger=sel["trigger"], classes=classes, target=target,
                                   clean_per_class=40 if smoke else 250, seed=seed,
                                   max_poison_test=60 if smoke else 500)
        out = Path(out_dir) / f"target{target}"
        T.train(li, curate.make_manifest(li, spec), None, out, profile=train_profile, seed=seed,
                spec=spec, threads=threads, progress=False, epochs=epochs)
        dirs.append(out)
    return dirs


def models_for_audit(dataset: str, li=None, trigger: str | int = "", model_match: str | Mapping | None = "",
                     smoke: bool = False, n_models: int = 3, train_profile: str = "toy",
                     train_epochs: int = 0, seed: int = 0, threads: int | None = None,
                     out_dir: str | Path | None = None, batch: str | None = None) -> dict:
    """The natural-backdoor models notebook 06 audits (paper §6: 3 per trigger, one per target).

    - ``trigger`` or ``model_match`` given (*selected*): ``audit.select_model_runs`` picks the one
      group of 05 runs those parameters choose; nothing found is a ``MissingDataError``, never a
      silent fallback. ``model_match`` may not name another ``dataset`` (``DataError``).
    - neither given: ``audit.find_model_runs`` takes the largest (then newest) group.

    A full run (``smoke=False``) uses full 05 runs only; a smoke run prefers smoke runs, else any
    run of the dataset. At most ``n_models`` model folders (``audit.find_trained_models``) are kept,
    and only the runs holding them. When none is found (not selected), the natural backdoor is built
    here: the most central class by betweenness as trigger, its MIS poisonable subset (3 classes in
    smoke, else 10), one model per target for the first ``n_models`` classes, trained with
    ``train_profile`` (1 epoch in smoke, else ``train_epochs`` or the profile's) under
    ``out_dir / f"target{target}"``.

    Parameters
    ----------
    dataset : str
        Dataset spec, as notebook 05 records it.
    li : LabelIndex, optional
        The dataset's label index; ``None``: ``load_dataset(dataset)`` after the search.
    trigger, model_match
        Trigger of the 05 runs (``""``: any) and a JSON object of 05 parameters
        (``audit.parse_model_match``).
    smoke, n_models, train_profile, train_epochs, seed, threads
        Smoke run; models kept (paper: 3); the fallback's profile, epochs, seed and torch threads.
    out_dir : path, optional
        Folder of models trained in the fallback (required when it runs).
    batch : str, optional
        Batch whose 05 runs are searched (``None``: every batch).

    Returns
    -------
    dict
        ``source`` (``"05_train"`` or ``"trained here (no notebook-05 run found)"``),
        ``trained_here``, ``selected``, ``model_match`` (parsed), ``rule`` (the selection rule),
        ``model_runs`` (05 run folders audited), ``model_dirs`` (model folders) and ``li``.

    Examples
    --------
    >>> found = models_for_audit("toyscenes", smoke=True, n_models=1,
    ...                          out_dir="/tmp/run/natural_models")       # doctest: +SKIP
    """
    selected = bool(str(trigger).strip() or str(model_match or "").strip())
    extra_match = audit.parse_model_match(model_match)
    model_runs = _selected_runs(dataset, trigger, extra_match, smoke, n_models, batch) if selected \
        else _largest_group(dataset, smoke, n_models, batch)
    model_dirs = [d for r in model_runs for d in audit.find_trained_models(r)][:n_models]
    model_runs = [r for r in model_runs if any(d.is_relative_to(r) for d in model_dirs)]
    for r in model_runs:  # recorded as upstream runs: a batch redoes this run when one is redone
        runs.note_upstream(r)
    if li is None:
        from .datasets import load_dataset

        li = load_dataset(dataset)   # notebook 05 draws its manifests from the same LabelIndex
    source = "05_train"
    if not model_dirs:
        source = "trained here (no notebook-05 run found)"
        model_dirs = _train_here(li, dataset, smoke, n_models, train_profile, train_epochs, seed,
                                 threads, out_dir)
    return {"source": source, "trained_here": source != "05_train", "selected": selected,
            "model_match": extra_match,
            "rule": "parameters (audit.select_model_runs)" if selected
                    else "largest, then newest group (audit.find_model_runs)",
            "model_runs": model_runs, "model_dirs": model_dirs, "li": li}
