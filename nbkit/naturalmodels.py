"""The natural-backdoor models notebook 06 audits: notebook-05 runs, else models trained here.

``models_for_audit`` finds the trained models of notebook 05 (``select_model_runs`` when a trigger or
``model_match`` picks the runs, ``find_model_runs`` otherwise; both apply ``nbkit.runs``' one
selection rule to ``runs.select``) and, when there is none and nothing was asked for by name, trains
the natural backdoor here the way notebook 05 does (``curate.select_backdoor``,
``curate.make_manifest``, ``train.train``). It is training orchestration, so it lives apart from
GradCAM scoring (``nbkit.audit``).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

from . import runs
from .errors import DataError, MissingDataError


# --------------------------------------------------------------------------------- trained models
def find_trained_models(root: str | Path) -> list[Path]:
    """Folders under ``root`` (itself included) holding a model ``nbkit.train`` saved.

    A training folder has ``model.json`` and ``model.pt`` (``train.load_trained`` reads them);
    notebook 05 keeps one per trained model inside its run folder.

    Examples
    --------
    >>> find_trained_models("/nonexistent")
    []
    """
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted({p.parent for p in root.rglob("model.json") if (p.parent / "model.pt").is_file()})


def _model_runs(match: Mapping | None, notebook: str, batch: str | None, root,
                backdoor: bool = True) -> list[runs.RunRecord]:
    """``runs.select``'s runs of ``notebook`` that hold a trained model (with a backdoor: ``backdoor``)."""
    return [r for r in runs.select(notebook, match, batch, root) if find_trained_models(r.dir)
            and not (backdoor and r.params.get("injection_rate", 1) in (0, 0.0))]


def _groups(records: Sequence[runs.RunRecord], vary: Sequence[str]) -> dict[str, list[runs.RunRecord]]:
    """Runs grouped by their parameters outside ``vary`` (``runs.identity``), in the given order."""
    out: dict[str, list[runs.RunRecord]] = {}
    for r in records:
        out.setdefault(runs.identity(r.params, vary), []).append(r)
    return out


def find_model_runs(match: Mapping | None = None, notebook: str = "05_train", batch: str | None = None,
                    root: str | Path | None = None, vary: Sequence[str] = ("target",),
                    n: int | None = None) -> list[Path]:
    """Complete runs of ``notebook`` holding a trained model, for a per-trigger audit over models.

    The paper audits 3 models per trigger that differ only in the target class. Notebook 05 trains
    one model per run (``model.json`` + ``model.pt`` in its run folder), so the runs ``runs.select``
    gives for ``match`` that have a backdoor (``injection_rate`` > 0 when recorded) are grouped by
    all their parameters except ``vary``; the largest group wins, ties going to the group holding
    the run the selection rule puts first (the newest), and its runs come in that order.

    Parameters
    ----------
    match : mapping, optional
        Parameters the runs must have (``{"dataset": "toyscenes"}``).
    notebook, batch, root
        As in ``runs.select``.
    vary : sequence of str
        Parameters allowed to differ inside a group (default the target).
    n : int, optional
        At most this many runs.

    Returns
    -------
    list of Path
        Possibly empty.

    Examples
    --------
    >>> find_model_runs({"dataset": "toyscenes"}, root="/nonexistent")
    []
    """
    groups = list(_groups(_model_runs(match, notebook, batch, root), vary).values())
    if not groups:
        return []
    best = max(groups, key=len)   # max keeps the first of equal sizes: the rule's order
    return [r.dir for r in best][:n] if n else [r.dir for r in best]


def parse_model_match(text: str | Mapping | None, source: str = "parameter model_match") -> dict:
    """Parse notebook 06's ``model_match`` parameter: a JSON object of notebook-05 parameters.

    Parameters
    ----------
    text : str, mapping or None
        ``""`` / ``None`` (no constraint), a JSON object string such as
        ``'{"injection_rate": 0.185, "subset_mode": "mis"}'``, or an already parsed mapping.
    source : str
        What to name in an error.

    Returns
    -------
    dict
        Parameter name -> required value (compared with ``==`` against ``params.json``).

    Raises
    ------
    DataError
        Not valid JSON, or JSON that is not an object.

    Examples
    --------
    >>> parse_model_match('{"injection_rate": 0.185, "subset_mode": "mis"}')
    {'injection_rate': 0.185, 'subset_mode': 'mis'}
    >>> parse_model_match("")
    {}
    """
    if text is None or (isinstance(text, str) and not text.strip()):
        return {}
    if isinstance(text, Mapping):
        return dict(text)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(source, f"not valid JSON ({exc.msg} at character {exc.pos}): {text!r}",
                        expected='a JSON object of notebook-05 parameters, e.g. '
                                 '\'{"injection_rate": 0.185, "subset_mode": "mis"}\'') from None
    if not isinstance(value, dict):
        raise DataError(source, f"JSON {type(value).__name__} {text!r}, not an object",
                        expected='a JSON object of notebook-05 parameters, e.g. \'{"centrality": "betweenness"}\'')
    return value


def _trigger_names(r: runs.RunRecord) -> set[str]:
    """Every spelling under which a 05 run records its trigger (param, id, label, name)."""
    out = set()
    if str(r.params.get("trigger", "")).strip():
        out.add(str(r.params["trigger"]).strip())
    try:
        meta = json.loads((find_trained_models(r.dir)[0] / "model.json").read_text(encoding="utf-8"))
        recs = (r.results.get("trigger"), meta.get("trigger") if isinstance(meta, dict) else None)
    except (OSError, ValueError, IndexError, DataError):
        return out
    for rec in recs:
        if isinstance(rec, Mapping):
            out.update(str(rec[k]).strip() for k in ("id", "label", "name") if rec.get(k) is not None)
        elif rec is not None and str(rec).strip():
            out.add(str(rec).strip())
    return out


def _sort_value(v):
    return (0, float(v), "") if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, 0.0, str(v))


def select_model_runs(trigger: str | int = "", match: Mapping | None = None, notebook: str = "05_train",
                      batch: str | None = None, root: str | Path | None = None,
                      vary: Sequence[str] = ("target",), n: int | None = None) -> list[Path]:
    """The group of notebook-05 runs to audit, chosen by parameters only (notebook 06, per trigger).

    A candidate is a run ``runs.select`` gives for ``match`` holding a trained model
    (``find_trained_models``) with a backdoor (``injection_rate`` not 0) and, when ``trigger`` is
    given, which trained that trigger: ``trigger`` equals (as text, case-insensitively) the run's
    ``trigger`` parameter or the trigger ``id``, ``label`` or ``name`` recorded in its
    ``results.json`` / ``model.json``. So the paper's ``/m/083wq``, ``Wheel`` or a class id all work,
    also for runs whose ``trigger`` parameter was empty (the most central class).

    Candidates are grouped by all their parameters except ``vary`` (and ``runs.EXECUTION_PARAMS``).
    Exactly one group must remain; otherwise an error lists the groups and the parameters that tell
    them apart (add one to ``match``). Recency never decides: inside the group the runs are sorted
    by their ``vary`` values (target 0, 1, 2, ...); only copies of one run in several batches
    (``batch=None``) are reduced to the newest, as ``runs.select`` does.

    Parameters
    ----------
    trigger : str or int
        Trigger as notebook 05 records it (``""``: any).
    match : mapping, optional
        Notebook-05 parameters the runs must have, e.g. ``{"dataset": "toyscenes",
        "injection_rate": 0.185, "subset_mode": "mis"}`` (see ``parse_model_match``).
    notebook, batch, root
        As in ``runs.select``.
    vary : sequence of str
        Parameters that may differ inside the group (default the target).
    n : int, optional
        At most this many runs (the first ``n`` in ``vary`` order).

    Returns
    -------
    list of Path
        The run folders, sorted by their ``vary`` values; never empty.

    Raises
    ------
    MissingDataError
        No run matches; the message lists the runs that exist (trigger, target and the matched
        parameters of each).
    DataError
        Several groups match; the message names the parameters that differ between them.

    Examples
    --------
    >>> try:
    ...     select_model_runs("Wheel", {"dataset": "toyscenes"}, root="/nonexistent")
    ... except DataError as err:
    ...     print(type(err).__name__)
    MissingDataError
    """
    match = dict(match or {})
    want = str(trigger).strip().casefold()
    cands = [r for r in _model_runs(match, notebook, batch, root)
             if not want or want in {s.casefold() for s in _trigger_names(r)}]
    groups = _groups(cands, vary)
    root = Path(root) if root is not None else runs.runs_root()
    where = root / (batch or "*") / notebook
    if not groups:
        raise _no_match_error(where, root, trigger, match, vary, _model_runs({}, notebook, batch, root, backdoor=False))
    if len(groups) > 1:
        raise _several_groups_error(where, notebook, trigger, match, vary, groups)
    (group,) = groups.values()
    group = sorted(group, key=lambda r: ([_sort_value(r.params.get(k)) for k in vary], str(r.dir)))
    return [r.dir for r in group][:n] if n else [r.dir for r in group]


def _no_match_error(where: Path, root: Path, trigger, match: dict, vary: Sequence[str],
                    seen: list[runs.RunRecord]) -> MissingDataError:
    """``MissingDataError`` listing the runs with a model that exist (trigger, vary and match)."""
    notebook = where.name
    what = f"trigger {str(trigger)!r} and parameters {match}" if str(trigger).strip() \
        else f"parameters {match}"
    if seen:
        shown = sorted(seen, key=lambda r: str(r.dir))[:30]
        lines = [f"  {r.dir.relative_to(root) if r.dir.is_relative_to(root) else r.dir}: trigger "
                 f"{sorted(_trigger_names(r)) or '?'}, "
                 + ", ".join(f"{k}={r.params.get(k)!r}" for k in list(vary) + [k for k in match if k not in vary])
                 for r in shown]
        more = f"\n  ... and {len(seen) - len(shown)} more" if len(seen) > len(shown) else ""
        existing = f"{len(seen)} complete run(s) with a model exist:\n" + "\n".join(lines) + more
    else:
        existing = "no complete run with a trained model exists there"
    return MissingDataError(where, f"no complete run of {notebook} with a trained model and a backdoor for "
                                   f"{what}; {existing}",
                            hint=f"check the trigger spelling and model_match, or run notebooks/{notebook}.ipynb "
                                 "with those parameters first")


def _several_groups_error(where: Path, notebook: str, trigger, match: dict, vary: Sequence[str],
                          groups: dict) -> DataError:
    """``DataError`` naming the parameters that tell the matching groups apart."""
    parsed = [json.loads(k) for k in groups]
    keys = sorted({k for p in parsed for k in p} - set(match))
    differ = [k for k in keys if len({json.dumps(p.get(k), default=str) for p in parsed}) > 1]
    lines = [f"  {len(g)} run(s): " + ", ".join(f"{k}={p[k]!r}" if k in p else f"{k} not set" for k in differ)
             for p, g in zip(parsed, groups.values())]
    return DataError(where, f"{len(groups)} groups of {notebook} runs match trigger {str(trigger)!r} and "
                            f"parameters {match}; they differ in {differ}:\n" + "\n".join(sorted(lines)),
                     expected="exactly one group of runs differing only in " + ", ".join(vary),
                     hint="add the parameter(s) that pick one group to model_match")


# --------------------------------------------------------------------------------- notebook 06's models
def _selected_runs(dataset: str, trigger, extra_match: dict, smoke: bool, n_models: int,
                   batch: str | None) -> list[Path]:
    """Notebook-05 runs chosen by ``trigger`` / ``model_match`` (``select_model_runs``)."""
    if extra_match.get("dataset", dataset) != dataset:
        raise DataError("parameter model_match", f"sets dataset {extra_match['dataset']!r}, the dataset "
                        f"parameter is {dataset!r}", expected="no dataset in model_match, or the same one")
    matches = _matches(dataset, smoke)
    for i, match in enumerate(matches):
        try:
            return select_model_runs(trigger, {**match, **extra_match}, batch=batch, n=n_models)
        except MissingDataError:
            if i == len(matches) - 1:
                raise
    return []


def _matches(dataset: str, smoke: bool) -> list[dict]:
    """05 parameters searched in turn: full runs for a full run; smoke runs, then any, for smoke."""
    return [{"dataset": dataset, "smoke": bool(smoke)}] + ([{"dataset": dataset}] if smoke else [])


def _largest_group(dataset: str, smoke: bool, n_models: int, batch: str | None) -> list[Path]:
    """The largest, then newest group of 05 runs differing only in target (``find_model_runs``)."""
    for match in _matches(dataset, smoke):
        found = find_model_runs(match, batch=batch, n=n_models)
        if found:
            return found
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

    - ``trigger`` or ``model_match`` given (*selected*): ``select_model_runs`` picks the one
      group of 05 runs those parameters choose; nothing found is a ``MissingDataError``, never a
      silent fallback. ``model_match`` may not name another ``dataset`` (``DataError``).
    - neither given: ``find_model_runs`` takes the largest (then newest) group.

    A full run (``smoke=False``) uses full 05 runs only; a smoke run prefers smoke runs, else any
    run of the dataset. At most ``n_models`` model folders (``find_trained_models``) are kept,
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
        (``parse_model_match``).
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
    extra_match = parse_model_match(model_match)
    model_runs = _selected_runs(dataset, trigger, extra_match, smoke, n_models, batch) if selected \
        else _largest_group(dataset, smoke, n_models, batch)
    model_dirs = [d for r in model_runs for d in find_trained_models(r)][:n_models]
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
            "rule": "parameters (naturalmodels.select_model_runs)" if selected
                    else "largest, then newest group (naturalmodels.find_model_runs)",
            "model_runs": model_runs, "model_dirs": model_dirs, "li": li}


# --------------------------------------------------------------------------------- loading and auditing them
def load_models(model_dirs) -> list[tuple]:
    """``(folder, model, meta, manifest)`` of each model folder (``train.load_trained`` /
    ``train.load_manifest``); ``DataError`` when they trained different triggers (one audit, one trigger)."""
    from . import train as T

    models = [(Path(d), *T.load_trained(d), T.load_manifest(d)) for d in model_dirs]
    ids = {m["trigger"]["id"] for _, _, m, _ in models}
    if len(ids) > 1:
        raise DataError(str(models[0][0].parent), f"models of different triggers {sorted(ids)}",
                        "models of one trigger (one per target)")
    return models


def model_rows(models: Sequence[tuple]) -> list[dict]:
    """One row per model of ``load_models``: its folder (``runs.relative_path``), architecture,
    profile, trigger and target names, clean and trigger accuracy."""
    return [{"dir": runs.relative_path(d), "arch": m["arch"], "profile": m.get("profile"),
             "trigger": m["trigger"].get("name"), "target": m["classes"][m["target_index"]].get("name"),
             "clean_acc": m["metrics"]["clean_acc"], "trigger_acc": m["metrics"]["trigger_acc"]}
            for d, _, m, _ in models]


def audit_models(models: Sequence[tuple], li, **kw) -> list:
    """``audit.audit_model`` of each model of ``load_models`` (``kw``: its keywords), quietly, each
    result's ``info`` naming the model folder and, on toy scenes, the paper trigger its hub stands for."""
    from . import audit
    from .datasets import toyscenes

    out = []
    for d, model, meta, manifest in models:
        label = str(li.class_labels[meta["trigger"]["id"]])
        info = {"model": runs.relative_path(d), "paper_trigger": toyscenes.HUBS.get(label)}
        out.append(audit.audit_model(model, meta, manifest, li, progress=False, info=info, **kw))
    return out
