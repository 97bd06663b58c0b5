"""Poisonable subsets: for each trigger, the largest set of classes it can poison together.

Paper, App. E.3 (and Algorithm 1's last step): a trigger ``t`` can poison class ``c`` when the two
co-occur often enough (``M[t, c] > trig_overlaps``), and a *set* of classes can be poisoned together
when no two of them co-occur much themselves: otherwise an image labelled "c1" would contain "c2" and
the model could not learn one label per image. The largest such set is a maximum independent set
(MIS) of the conflict graph among the trigger's candidate classes. App. D then asks how much the
poisonable subsets of different triggers overlap (multi-trigger backdoors).

Definitions used throughout (``M`` is the ``Cooccurrence`` matrix, diagonal = images per class):

* **candidates** of ``t``: classes ``c != t`` with ``M[t, c] > trig_overlaps`` (and ``M[t, c] >=
  min_overlaps`` when a graph threshold is given, i.e. ``c`` is a neighbour of ``t`` in the graph).
* **conflict** between two candidates ``i, j``: ``M[i, j] > max_other_overlaps`` (the tolerance: an
  edge at or below it does not count) and ``M[i, j] >= min_overlaps`` (an edge of the graph at all).
* **clean** images of ``c``: ``n_c - M[t, c]`` (``c`` without the trigger); **poison** images:
  ``M[t, c]`` (``c`` with the trigger). Where ``counts_exact`` is False, ``n_c`` and so the clean
  count are lower bounds, reported per class as ``num_clean_is_lower_bound``.

The rule is one frozen ``SubsetRule`` (graph W, trig, tolerance, class filter ``mis_filter``, MIS
solver ``mis``, its random draws ``mis_runs``, seed, time limit) with one set of defaults. The solvers live in ``nbkit.mis`` (``mis="exact"``:
HiGHS over clique constraints, with an honest ``optimal`` flag and upper bound; ``"approx"``: the
authors' largest of ``mis_runs`` random maximal sets). Triggers come from ``nbkit.centrality``
rankings (``rank_triggers``, ``trigger_table``, ``tables_6_7`` combine the two).

Class filter (``min_clean`` / ``min_poison``; paper Tables 6-7 list classes with >= 200 clean and
>= 50 poison images). ``mis_filter="before"`` (default, what the tables mean: the subset is an
independent set of *eligible* classes) restricts the candidates first; ``mis_filter="after"`` is the
authors' Feb-2022 code, which drew each random maximal set over all candidates and then dropped the
ineligible classes from it (smaller sets). For the exact solver both give the same size, because the
best independent set counted on eligible classes only is the MIS of the eligible classes.
``mis_filter="none"`` keeps every candidate.

Examples
--------
>>> import numpy as np
>>> from nbkit.cooccurrence import Cooccurrence
>>> M = np.array([[90, 60, 60, 60], [60, 300, 40, 40], [60, 40, 300, 0], [60, 40, 0, 300]])
>>> co = Cooccurrence(M, list("tabc"), list("tabc"))
>>> candidates(co, "t", trig_overlaps=50).tolist()
[1, 2, 3]
>>> s = poisonable_subsets(co, "t", trig_overlaps=50, max_other_overlaps=10, min_clean=0,
...                        min_poison=0, progress=False)
>>> [c["name"] for c in s[0]["classes"]]
['b', 'c']
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from .progress import tqdm

from . import centrality as C
from . import reference as R
from .cooccurrence import Cooccurrence
from .datasets import data_kind, load_openimages_counts
from .errors import DataError, GraphError
from .io import read_json, write_json
from .mis import METHODS, solve

FILTERS = ("before", "after", "none")


@dataclasses.dataclass(frozen=True)
class SubsetRule:
    """The poisonable-subset rule: which classes a trigger can poison together, and how to solve it.

    One set of defaults, shared by ``poisonable_subsets``, ``nbkit.centrality.trigger_table`` and
    ``python -m nbkit triggers``: the authors' Open Images setting behind their recorded Tables 6-7
    triggers (select_trigs, Jun 2022: graph ``min_overlaps`` 10, candidates = every graph
    neighbour, ``max_other_overlaps`` 40, 20 random maximal sets) and the paper's class filter
    (Tables 6-7: >= 200 clean, >= 50 poison images), solved exactly.

    Parameters
    ----------
    min_overlaps : int or None
        Graph edge threshold W (``M >= W``); applies to candidates and conflicts. None: no graph.
    trig_overlaps : int or None
        Candidates co-occur with the trigger in more than this many images (None: every graph
        neighbour).
    max_other_overlaps : int
        Independence tolerance: candidates co-occurring in at most this many images do not
        conflict (-1: any shared image is a conflict).
    min_clean, min_poison : int
        Class filter: ``n_c - M[t, c] >= min_clean`` and ``M[t, c] >= min_poison``.
    mis_filter : {"before", "after", "none"}
        Where the class filter applies (module docstring).
    mis : {"exact", "approx"}
        The solver (``nbkit.mis.solve``).
    mis_runs, seed : int
        Random maximal sets of the approximation and their seed.
    time_limit : float
        Seconds for the exact solver per trigger.

    Raises
    ------
    GraphError
        When ``mis`` or ``mis_filter`` is not one of its choices.

    Examples
    --------
    >>> SubsetRule().mis, SubsetRule(mis="approx", mis_runs=5).mis_runs
    ('exact', 5)
    """

    min_overlaps: int | None = 10
    trig_overlaps: int | None = None
    max_other_overlaps: int = 40
    min_clean: int = 200
    min_poison: int = 50
    mis_filter: str = "before"
    mis: str = "exact"
    mis_runs: int = 20
    seed: int = 0
    time_limit: float = 10.0

    def __post_init__(self):
        if self.mis not in METHODS:
            raise GraphError(f"MIS method mis={self.mis!r}; expected one of {METHODS}")
        if self.mis_filter not in FILTERS:
            raise GraphError(f"mis_filter={self.mis_filter!r}; expected one of {FILTERS}")

    @classmethod
    def of(cls, rule: "SubsetRule | None" = None, **changes) -> "SubsetRule":
        """``rule`` (default ``SubsetRule()``) with ``changes`` (field names); an unknown key is a
        GraphError naming it and the fields."""
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(changes) - fields)
        if unknown:
            raise GraphError(f"unknown subset-rule setting {unknown}; expected keys of "
                             f"{sorted(fields)}")
        return dataclasses.replace(rule if rule is not None else cls(), **changes)


# ---------------------------------------------------------------------------------------------
# small helpers
def _resolve(co: Cooccurrence, key) -> int:
    """Class id of ``key`` (id, label or name) with a DataError naming the dataset when unknown."""
    if isinstance(key, (bool, np.bool_)):
        raise DataError(co.name, f"class key {key!r} is a boolean", "a class id, label or name")
    try:
        return co.class_id(int(key) if isinstance(key, np.integer) else key)
    except DataError as e:
        raise DataError(co.meta.get("source", co.name), f"trigger/class {key!r}: {e.problem}",
                        e.expected or "a class id, label or name of this dataset") from None


def conflict_matrix(co: Cooccurrence, classes: Sequence[int], max_other_overlaps: int,
                    min_overlaps: int | None = None) -> np.ndarray:
    """Boolean conflict adjacency among ``classes`` (``k x k``, zero diagonal).

    Parameters
    ----------
    co : Cooccurrence
    classes : sequence of int
        Class ids (rows of ``co.M``).
    max_other_overlaps : int
        Tolerance: two classes conflict only when they co-occur in more than this many images.
    min_overlaps : int, optional
        Graph threshold: pairs below it are not edges of the graph at all.

    Returns
    -------
    ndarray of bool, shape (k, k)

    Examples
    --------
    >>> import numpy as np
    >>> from nbkit.cooccurrence import Cooccurrence
    >>> co = Cooccurrence(np.array([[5, 3], [3, 5]]), ["a", "b"], ["a", "b"])
    >>> conflict_matrix(co, [0, 1], max_other_overlaps=2).astype(int).tolist()
    [[0, 1], [1, 0]]
    """
    idx = np.asarray(classes, dtype=np.int64)
    W = co.M[np.ix_(idx, idx)]
    A = W > max_other_overlaps
    if min_overlaps is not None:
        A &= W >= min_overlaps
    np.fill_diagonal(A, False)
    return A


def candidates(co: Cooccurrence, trigger, trig_overlaps: int | None,
               min_overlaps: int | None = None) -> np.ndarray:
    """Classes a trigger can poison: ``M[t, c] > trig_overlaps`` (and ``>= min_overlaps``).

    Parameters
    ----------
    co : Cooccurrence
    trigger : int or str
        Class id, label or name of the trigger.
    trig_overlaps : int or None
        A candidate co-occurs with the trigger in more than this many images. ``None``: every
        neighbour of the trigger in the graph (``M[t, c] >= min_overlaps``).
    min_overlaps : int, optional
        Graph threshold (edges ``M >= min_overlaps``); candidates must be neighbours in the graph.

    Returns
    -------
    ndarray of int
        Candidate class ids, by decreasing ``M[t, c]`` (ties by id). Empty when the trigger has no
        neighbour above the thresholds.

    Raises
    ------
    DataError
        When ``trigger`` is not a class of ``co``.

    Examples
    --------
    >>> import numpy as np
    >>> from nbkit.cooccurrence import Cooccurrence
    >>> M = np.array([[90, 60, 20], [60, 300, 0], [20, 0, 300]])
    >>> co = Cooccurrence(M, ["t", "a", "b"], ["t", "a", "b"])
    >>> candidates(co, "t", 50).tolist(), candidates(co, "t", 10).tolist()
    ([1], [1, 2])
    """
    t = _resolve(co, trigger)
    if trig_overlaps is None and min_overlaps is None:
        raise GraphError("candidates: give trig_overlaps or min_overlaps (or both)")
    w = co.M[t].copy()
    mask = np.ones(co.n_classes, dtype=bool)
    if trig_overlaps is not None:
        mask &= w > trig_overlaps
    if min_overlaps is not None:
        mask &= w >= min_overlaps
    mask &= w > 0
    mask[t] = False
    ids = np.flatnonzero(mask)
    order = np.lexsort((ids, -w[ids]))
    return ids[order]


# ---------------------------------------------------------------------------------------------
# on a Cooccurrence
def _independent_set(co: Cooccurrence, classes: Sequence, max_other_overlaps: int,
                    mis: str = "exact", mis_runs: int = 20, seed: int | Sequence[int] = 0,
                    time_limit: float = 10.0, min_overlaps: int | None = None,
                    keep: np.ndarray | None = None) -> dict:
    """The largest set of ``classes`` no two of which conflict.

    Parameters
    ----------
    co : Cooccurrence
    classes : sequence of int or str
        Class ids / labels / names (typically ``candidates(co, t, ...)``).
    max_other_overlaps : int
        Tolerance: pairs co-occurring in at most this many images do not conflict.
    mis : {"exact", "approx"}
        ``"exact"``: HiGHS integer program (``optimal`` says whether it was proven);
        ``"approx"``: the authors' largest of ``mis_runs`` random maximal independent sets.
    mis_runs : int
        Random maximal sets drawn by ``"approx"`` (authors: 20).
    seed : int or sequence of int
        Seed of the random draws (recorded by callers).
    time_limit : float
        Seconds allowed to the exact solver.
    min_overlaps : int, optional
        Graph threshold; pairs below it never conflict.
    keep : ndarray of bool, optional
        For ``"approx"``: mask over ``classes`` applied to every draw before comparing sizes (the
        authors' "filter after"); the exact solver solves the MIS of the kept classes instead,
        which is the same optimum.

    Returns
    -------
    dict
        ``classes`` (class ids, sorted), ``size``, ``optimal``, ``upper_bound``, ``method``,
        ``solve_s`` (and ``sizes`` for the approximation); ``method`` = ``mis``.

    Raises
    ------
    DataError
        When a class is unknown; ``GraphError`` when ``mis`` is not one of ``METHODS``.

    Examples
    --------
    >>> import numpy as np
    >>> from nbkit.cooccurrence import Cooccurrence
    >>> M = np.array([[300, 40, 0], [40, 300, 5], [0, 5, 300]])
    >>> co = Cooccurrence(M, list("abc"), list("abc"))
    >>> _independent_set(co, ["a", "b", "c"], max_other_overlaps=10)["classes"]
    [0, 2]
    """
    ids = np.asarray([_resolve(co, c) for c in classes], dtype=np.int64)
    if len(set(ids.tolist())) != len(ids):
        raise DataError(co.name, "_independent_set: classes are repeated", "distinct classes")
    A = conflict_matrix(co, ids, max_other_overlaps, min_overlaps)
    out = solve(A, mis, mis_runs=mis_runs, seed=seed, time_limit=time_limit, keep=keep)
    out["classes"] = sorted(int(c) for c in ids[out.pop("members")])
    out["method"] = mis
    return out


def _class_record(co: Cooccurrence, t: int, c: int, n: np.ndarray, exact: np.ndarray) -> dict:
    w = int(co.M[t, c])
    return {"id": int(c), "label": str(co.class_labels[c]), "name": str(co.class_names[c]),
            "weight": w, "num_clean": int(n[c] - w), "num_poison": w,
            "num_clean_is_lower_bound": bool(not exact[c])}


def _trigger_list(co: Cooccurrence, triggers) -> list[tuple[int, Any]]:
    """(trigger id, centrality or None) from a Series (index = ids), a mapping, or a sequence."""
    if isinstance(triggers, pd.Series):
        return [(_resolve(co, k), None if pd.isna(v) else float(v)) for k, v in triggers.items()]
    if isinstance(triggers, Mapping):
        return [(_resolve(co, k), None if v is None else float(v)) for k, v in triggers.items()]
    if isinstance(triggers, (str, int, np.integer)):
        triggers = [triggers]
    return [(_resolve(co, k), None) for k in triggers]


def poisonable_subsets(co: Cooccurrence, triggers, rule: SubsetRule | None = None, *,
                       include_trigger: bool = False, compare: bool = True, progress: bool = True,
                       **settings) -> list[dict]:
    """Poisonable subset of every trigger, in the authors' ``possible_triggers`` JSON shape.

    Parameters
    ----------
    co : Cooccurrence
    triggers : pandas.Series, mapping, or sequence
        A Series / mapping from class id (or label / name) to centrality (as ``top_m`` returns),
        or plain ids / labels / names (centrality then ``None``).
    rule : SubsetRule, optional
        The subset rule (candidates, tolerance, class filter, MIS solver; default
        ``SubsetRule()``). Per trigger the random draws are seeded with ``(rule.seed, trigger
        id)``, so a trigger's result does not depend on the others. Where ``n_c`` is only a lower
        bound the class filter uses the bound (a class is kept only when it provably has enough
        clean images).
    include_trigger : bool
        Also list the trigger itself first in ``classes`` (as the authors' relabel notebook
        counted it; ``weight`` = ``num_poison`` = ``n_t``, ``num_clean`` = 0, ``is_trigger``).
        Default False: only the poisonable classes.
    compare : bool
        Compute both solvers and report ``approx_size``, ``exact_size`` and ``gap``.
    progress : bool
        Show a tqdm bar over triggers.
    **settings
        Changes to ``rule`` by field name (``SubsetRule.of``), for callers that pass the rule's
        settings one by one.

    Returns
    -------
    list of dict
        Sorted by number of classes (descending; ties keep the trigger order). Each:
        ``{"trigger": {id, label, name}, "centrality", "classes": [{id, label, name, weight,
        num_clean, num_poison, num_clean_is_lower_bound}, ...]}`` (classes by decreasing weight),
        plus ``method`` (= ``rule.mis``), ``size``, ``optimal``, ``upper_bound``, ``approx_size``,
        ``exact_size``, ``gap`` (exact - approx), ``n_candidates``, ``n_eligible``, ``eligible_ids`` (the
        eligible candidates, for ``multi_trigger_overlap(basis="candidates")``), ``solve_s``.

    Raises
    ------
    DataError
        For an unknown trigger. A trigger without candidates gets an empty subset.

    Examples
    --------
    >>> import numpy as np
    >>> from nbkit.cooccurrence import Cooccurrence
    >>> M = np.array([[900, 60, 70, 80], [60, 300, 0, 40], [70, 0, 300, 0], [80, 40, 0, 300]])
    >>> co = Cooccurrence(M, list("tabc"), list("tabc"))
    >>> s = poisonable_subsets(co, ["t"], trig_overlaps=50, max_other_overlaps=10, progress=False)
    >>> [c["name"] for c in s[0]["classes"]], s[0]["classes"][0]["num_clean"]
    (['c', 'b'], 220)
    """
    rule = SubsetRule.of(rule, **settings)
    n, exact = co.class_sizes
    tl = _trigger_list(co, triggers)
    out = [_subset_entry(co, t, cent, rule, n, exact, include_trigger, compare)
           for t, cent in tqdm(tl, desc="poisonable subsets", disable=not progress, leave=False)]
    order = {id(e): k for k, e in enumerate(out)}
    return sorted(out, key=lambda e: (-e["size"], order[id(e)]))


def eligible(co: Cooccurrence, trigger, rule: SubsetRule | None = None, **settings):
    """A trigger's candidates and which of them pass the class filter (``min_clean`` / ``min_poison``).

    Returns
    -------
    (ndarray of int, ndarray of bool)
        ``candidates(co, trigger, rule.trig_overlaps, rule.min_overlaps)`` and, per candidate,
        ``n_c - M[t, c] >= min_clean and M[t, c] >= min_poison`` (all True under
        ``mis_filter="none"``). ``n_c`` is ``co``'s count, raised to a row's largest pair count where
        it cannot be an image count (flagged as a lower bound).

    Examples
    --------
    >>> import numpy as np
    >>> from nbkit.cooccurrence import Cooccurrence
    >>> M = np.array([[900, 60, 70], [60, 300, 0], [70, 0, 100]])
    >>> cand, ok = eligible(Cooccurrence(M, list("tab"), list("tab")), "t", trig_overlaps=50)
    >>> cand.tolist(), ok.tolist()
    ([2, 1], [False, True])
    """
    return _eligible(co, _resolve(co, trigger), SubsetRule.of(rule, **settings), co.class_sizes[0])


def _eligible(co: Cooccurrence, t: int, rule: SubsetRule, n: np.ndarray):
    cand = candidates(co, t, rule.trig_overlaps, rule.min_overlaps)
    w = co.M[t, cand]
    ok = ((n[cand] - w) >= rule.min_clean) & (w >= rule.min_poison)
    if rule.mis_filter == "none":
        ok[:] = True
    return cand, ok


def _subset_entry(co: Cooccurrence, t: int, cent, rule: SubsetRule, n: np.ndarray,
                  exact: np.ndarray, include_trigger: bool, compare: bool) -> dict:
    """One trigger's ``poisonable_subsets`` record."""
    cand, ok = _eligible(co, t, rule, n)
    pool = cand[ok] if rule.mis_filter == "before" else cand
    keep = ok if rule.mis_filter == "after" else None
    res = {m: _independent_set(co, pool, rule.max_other_overlaps, mis=m, mis_runs=rule.mis_runs,
                              seed=(int(rule.seed), int(t)), time_limit=rule.time_limit,
                              min_overlaps=rule.min_overlaps, keep=keep)
           for m in (METHODS if compare else (rule.mis,))}
    r = res[rule.mis]
    chosen = sorted(r["classes"], key=lambda c: (-int(co.M[t, c]), c))
    recs = [_class_record(co, t, c, n, exact) for c in chosen]
    if include_trigger:
        recs.insert(0, {"id": int(t), "label": str(co.class_labels[t]),
                        "name": str(co.class_names[t]), "weight": int(n[t]), "num_clean": 0,
                        "num_poison": int(n[t]), "num_clean_is_lower_bound": bool(not exact[t]),
                        "is_trigger": True})
    entry = {"trigger": {"id": int(t), "label": str(co.class_labels[t]),
                         "name": str(co.class_names[t])},
             "centrality": cent, "classes": recs, "method": rule.mis, "size": len(chosen),
             "optimal": bool(r["optimal"]), "upper_bound": int(r["upper_bound"]),
             "approx_size": res["approx"]["size"] if "approx" in res else None,
             "exact_size": res["exact"]["size"] if "exact" in res else None,
             "n_candidates": int(len(cand)), "n_eligible": int(ok.sum()),
             "eligible_ids": sorted(int(c) for c in cand[ok]),
             "solve_s": float(sum(x["solve_s"] for x in res.values()))}
    if "exact" in res:
        entry["optimal"] = bool(res["exact"]["optimal"]) if rule.mis == "exact" else \
            bool(r["size"] >= res["exact"]["upper_bound"])
        entry["upper_bound"] = int(min(r["upper_bound"], res["exact"]["upper_bound"]))
    entry["gap"] = entry["exact_size"] - entry["approx_size"] if compare else None
    return entry


# ---------------------------------------------------------------------------------------------
# triggers from a centrality ranking (nbkit.centrality), and the authors' Feb-2022 rule
def rank_triggers(co: Cooccurrence, measure: str = "betweenness", weighted: bool = False,
                  min_overlaps: int = 10, top: int = 25, exclude_body_parts: bool = False,
                  semantics: str = "paper", backend: str = "igraph") -> pd.Series:
    """The ``top`` classes by centrality (``nbkit.centrality``), as a Series id -> value.

    Parameters
    ----------
    co : Cooccurrence
    measure : str
        One of ``nbkit.centrality.MEASURES`` (betweenness, degree, closeness, eigenvector).
    weighted : bool
        Weighted variant of the measure (paper's 8 variants).
    min_overlaps : int
        Graph edge threshold.
    top : int
        How many triggers.
    exclude_body_parts : bool
        Leave out ``nbkit.centrality.BODY_PARTS`` (human body parts, as the paper does); under
        ``semantics="authors"`` they leave after the top ``top`` are taken, as the authors did,
        so fewer may remain (``nbkit.centrality.top_m``).
    semantics, backend : str
        Passed to ``nbkit.centrality.centrality`` (``"authors"``: the published Tables 6-7's
        ranking, quirk included).

    Returns
    -------
    pandas.Series
        Index class id, values centrality, in decreasing order.
    """
    s = C.centrality(co, measure, weighted, min_overlaps, semantics=semantics, backend=backend)
    exclude = tuple(C.BODY_PARTS) if exclude_body_parts else ()
    top_s = C.top_m(s, top, exclude=exclude)
    if not isinstance(top_s, pd.Series):
        ids = [_resolve(co, k) for k in top_s]
        top_s = s.loc[ids]
    return top_s


def _authors_feb2022_triggers(co: Cooccurrence, min_trig_overlap: int, max_other_overlap: int,
                             betweenness: pd.Series | None = None,
                             threshold: float = 1e-4) -> pd.Series:
    """Triggers of the authors' Feb-2022 rule: betweenness ``> 1e-4`` on the thresholded view.

    The graph has edges ``M >= max_other_overlap``; its view keeps those with ``M >
    min_trig_overlap``; betweenness is graph-tool's normalised one (``2 / ((n - 1)(n - 2))`` over
    all ``n`` classes, as ``nbkit.centrality`` computes with ``semantics="paper"``).

    Parameters
    ----------
    co : Cooccurrence
    min_trig_overlap, max_other_overlap : int
    betweenness : pandas.Series, optional
        Precomputed on the view (edges ``M >= max(max_other_overlap, min_trig_overlap + 1)``).
    threshold : float
        1e-4 in the authors' code.

    Returns
    -------
    pandas.Series
        Class id -> betweenness, for the classes above the threshold, in decreasing order.
    """
    if betweenness is None:
        view_min = max(int(max_other_overlap), int(min_trig_overlap) + 1)
        betweenness = C.centrality(co, "betweenness", False, view_min, semantics="paper")
    b = pd.Series(betweenness).astype(float)
    b = b[b > threshold]
    return b.sort_index(kind="mergesort").sort_values(ascending=False, kind="mergesort")


def _authors_feb2022_rule(co: Cooccurrence, min_trig_overlap: int, max_other_overlap: int,
                         mis_runs: int = 20, seed: int = 0, min_clean: int = 250,
                         min_poison: int = 49, mis: str = "approx",
                         betweenness: pd.Series | None = None, progress: bool = False) -> list[dict]:
    """The rule behind the authors' Feb-2022 ``possible_triggers_minTrigOverlap*_maxOtherOverlap*``.

    * graph: edges with ``M >= max_other_overlap``;
    * triggers: classes with (graph-tool normalised) betweenness ``> 1e-4`` on the view of that
      graph with edges ``M > min_trig_overlap``;
    * candidates: the trigger's neighbours in that view;
    * subset: largest of ``mis_runs`` random maximal independent sets of the candidates in the graph
      (every graph edge is a conflict), each filtered by ``n_c - M[t, c] >= min_clean`` and
      ``M[t, c] >= min_poison`` (``mis_filter="after"``). ``mis="exact"`` gives the true maximum.

    The authors' subgraph also held the trigger vertex itself, which never passed the clean
    filter (its clean count is 0); it only made some of their draws empty, so it is left out here.

    Parameters
    ----------
    co : Cooccurrence
    min_trig_overlap, max_other_overlap : int
        The file name's ``minTrigOverlap`` and ``maxOtherOverlap``.
    mis_runs, seed : int
    min_clean, min_poison : int
        250 and 49 in the Feb-2022 files.
    mis : {"approx", "exact"}
    betweenness : pandas.Series, optional
        Precomputed betweenness on the view (index class id); computed with ``nbkit.centrality``
        (graph-tool normalisation, ``2 / ((n - 1)(n - 2))``) when omitted.

    Returns
    -------
    list of dict
        As ``poisonable_subsets``; every trigger above the threshold is listed, also those whose
        subset is empty (the authors' files list them too).
    """
    trig = _authors_feb2022_triggers(co, min_trig_overlap, max_other_overlap, betweenness)
    rule = SubsetRule(min_overlaps=max_other_overlap, trig_overlaps=min_trig_overlap,
                      max_other_overlaps=max_other_overlap - 1, min_clean=min_clean,
                      min_poison=min_poison, mis_filter="after", mis=mis, mis_runs=mis_runs,
                      seed=seed)
    return poisonable_subsets(co, trig, rule, compare=False, progress=progress)


# ---------------------------------------------------------------------------------------------
# Tables 6-7: triggers of each centrality variant whose poisonable subsets are large
def trigger_table(co: Cooccurrence, variants: pd.DataFrame | None = None, m: int = 50,
                  min_classes: int = 5, rule: SubsetRule | None = None, *, exclude: Iterable = (),
                  semantics: str = "paper", backend: str = "igraph",
                  poison_above: int | None = None, progress: bool = True,
                  **settings) -> tuple[pd.DataFrame, dict]:
    """Tables 6-7: per centrality variant, the top-``m`` classes whose poisonable subset is large.

    For every variant, the ``m`` most central classes (``top_m``, minus ``exclude``) are the
    trigger candidates; each gets its poisonable subset (``nbkit.subsets.poisonable_subsets``:
    candidates, independence at ``max_other_overlaps``, class filter ``min_clean`` /
    ``min_poison``); a trigger enters the table when its subset holds at least ``min_classes``
    classes (with ``poison_above``: at least ``min_classes`` of its classes with more than that
    many poison images). Subsets are computed once per trigger and shared between variants.
    With ``semantics="authors"`` the candidates are the authors' top ``m`` (``top_m``'s
    ``"authors"`` order: their ranking quirk, ``exclude`` removed after the cut).

    Defaults (``SubsetRule()``, top 50, >= 5 classes) follow the authors' June-2022 Open Images
    setting and the paper's class filter. The authors' notebook filtered with strict inequalities (> 200, > 50): pass
    ``min_clean=201, min_poison=51`` for that. Where per-class counts are only lower bounds
    (``co.counts_exact`` False) the clean count ``n_c - M[t, c]`` is a lower bound too, so the
    clean filter can only wrongly *reject* a class, never wrongly accept one: a recomputed row can
    miss triggers, not invent them.

    Parameters
    ----------
    co : Cooccurrence
    variants : pandas.DataFrame, optional
        From ``nbkit.centrality.all_variants`` (computed here at ``rule.min_overlaps`` when
        omitted).
    m, min_classes : int
    rule : SubsetRule, optional
        Passed to ``poisonable_subsets`` (default ``SubsetRule()``).
    exclude : iterable
        Class names / ids to leave out of the candidates (e.g. ``BODY_PARTS``).
    semantics, backend : str
        For ``all_variants`` when ``variants`` is omitted (``variants.attrs["semantics"]``
        otherwise decides how ``top_m`` ranks).
    poison_above : int, optional
        Count only classes with more than this many poison images toward ``min_classes`` (the
        paper's "> 50" on top of a ``min_poison`` filter before the MIS); ``None``: every class.
    progress : bool
    **settings
        Changes to ``rule`` (``SubsetRule.of``).

    Returns
    -------
    table : pandas.DataFrame
        One row per variant: ``variant, n_triggers, triggers`` (names, in centrality order,
        ``"; "``-joined), ``sizes`` (subset sizes, same order).
    details : dict
        ``triggers`` per variant (list of names), ``subsets`` (trigger id -> subset record),
        ``parameters``.
    """
    rule = SubsetRule.of(rule, **settings)
    if variants is None:
        variants = C.all_variants(co, rule.min_overlaps, semantics=semantics, backend=backend)
    cand = {}
    for col in variants.columns:
        ranked = variants[col].copy()
        ranked.attrs = dict(variants.attrs)
        cand[col] = C.top_m(ranked, m, exclude=exclude)
    union = sorted({int(i) for ranked in cand.values() for i in ranked.index})
    recs = poisonable_subsets(co, union, rule, compare=False, progress=progress)
    by_id = {int(r["trigger"]["id"]): r for r in recs}
    rows, trig = _table_rows(co, cand, by_id, min_classes, poison_above)
    params = dict(m=m, min_classes=min_classes, min_overlaps=rule.min_overlaps,
                  trig_overlaps=rule.trig_overlaps, max_other_overlaps=rule.max_other_overlaps,
                  min_clean=rule.min_clean, min_poison=rule.min_poison,
                  exclude=list(map(str, exclude)), mis=rule.mis, mis_filter=rule.mis_filter,
                  mis_runs=rule.mis_runs, seed=rule.seed, poison_above=poison_above,
                  semantics=variants.attrs.get("semantics", semantics),
                  counts_exact=int(np.sum(co.counts_exact)), n_classes=co.n_classes)
    return pd.DataFrame(rows), {"triggers": trig, "subsets": by_id, "parameters": params}


def _table_rows(co: Cooccurrence, cand: Mapping[str, pd.Series], by_id: Mapping[int, dict],
                min_classes: int, poison_above: int | None) -> tuple[list[dict], dict]:
    """``trigger_table``'s rows and trigger names per variant."""
    def n_counted(i) -> int:
        cl = by_id[int(i)]["classes"]
        return len(cl) if poison_above is None else sum(c["num_poison"] > poison_above for c in cl)

    rows, trig = [], {}
    for col, ranked in cand.items():
        keep = [i for i in ranked.index if n_counted(i) >= int(min_classes)]
        names = [co.display(int(i)) for i in keep]
        trig[col] = names
        rows.append({"variant": col, "n_triggers": len(keep), "triggers": "; ".join(names),
                     "sizes": "; ".join(str(len(by_id[int(i)]["classes"])) for i in keep)})
    return rows, trig


#: The setting of the published Tables 6-7 (paper App. E.2-E.3): graph W = 15, every neighbour of
#: the trigger a candidate, independence tolerance -1 (any shared image is a conflict), the top 50
#: per variant, >= 200 clean and > 50 poison images per class (filtered at >= 50 before the MIS),
#: >= 5 classes, exact MIS, people and body parts (``BODY_PARTS``) excluded.
PAPER_TABLES_6_7 = dict(m=50, min_overlaps=15, trig_overlaps=0, max_other_overlaps=-1,
                        min_clean=200, min_poison=50, poison_above=50, min_classes=5,
                        mis="exact", mis_filter="before")


def _published_openimages() -> dict:
    """The paper's Open Images rows of Tables 6-7 from ``nbkit.reference`` (variant -> names)."""
    return C.load_paper_tables()["paper"].get("openimages") or {}


def tables_6_7(co: Cooccurrence | None = None, published: Mapping[str, Sequence[str] | None] | None = None,
               semantics: Sequence[str] = ("authors", "paper"), exclude: Iterable = C.BODY_PARTS,
               dataset: str | None = None, progress: bool = False, **setting) -> list[dict]:
    """Tables 6-7, Open Images rows: the published triggers beside ours, per column and semantics.

    For each semantics, ``trigger_table`` at the paper's setting (``PAPER_TABLES_6_7``, any key
    overridable through ``setting``) on the authors' own Open Images matrix, and per column the
    names matched / missing (published, not ours) / extra (ours, not published). On
    ``openimages-counts``, ``semantics="authors"`` recovers all 46 published names, in the paper's
    order; ``"paper"`` misses Sunglasses under weighted closeness (its true ranking does not put it
    in the top 50). The extras are triggers whose subsets pass the filter here but that the
    printed rows do not list: House and Window in the six non-closeness columns (the authors'
    ablation scripts train on both) and, with the exact MIS at tolerance -1, a few more per column
    (Shelf, Bottle, Desk, ...; Tower and Laptop under closeness); the published rows are a subset
    of ours.

    Parameters
    ----------
    co : Cooccurrence, optional
        Default: ``load_openimages_counts()`` (the authors' counts, whatever the user analyses).
    published : mapping variant -> list of names, optional
        Default: the paper's Open Images rows in ``nbkit.reference``. A variant without names
        (``None``) gets ``matched`` / ``missing`` / ``extra`` = ``None``.
    semantics : sequence of str
        From ``SEMANTICS``; each gives one block per record.
    exclude : iterable
        Triggers left out (default the authors' ``BODY_PARTS``).
    dataset : str, optional
        Recorded in each record; default ``"openimages-counts"`` when ``co`` is omitted, else
        ``co.name``.
    progress : bool
    **setting
        Overrides of ``PAPER_TABLES_6_7`` (e.g. ``mis="approx"``).

    Returns
    -------
    list of dict
        One per variant, in ``VARIANTS`` order: ``table`` ("Table 6" unweighted, "Table 7"
        weighted), ``variant``, ``weighted``, ``dataset``, ``published`` (names or None) and, per
        semantics, ``{names, matched, missing, extra}`` (lists of names; ``names`` in the order
        of the row, which is the authors' JSON order under ``"authors"``).

    Raises
    ------
    GraphError
        Unknown semantics or setting key.
    """
    if co is None:
        co, dataset = load_openimages_counts(), dataset or "openimages-counts"
    unknown = sorted(set(setting) - set(PAPER_TABLES_6_7))
    if unknown:
        raise GraphError(f"tables_6_7: unknown setting {unknown}; expected keys of PAPER_TABLES_6_7 "
                         f"{sorted(PAPER_TABLES_6_7)}")
    cfg = {**PAPER_TABLES_6_7, **setting}
    pub = _published_openimages() if published is None else dict(published)
    ours = {}
    for sem in semantics:
        df = C.all_variants(co, cfg["min_overlaps"], semantics=sem)
        ours[sem] = trigger_table(co, df, exclude=exclude, progress=progress, **cfg)[1]["triggers"]
    out = []
    for v in C.VARIANTS:
        ref = pub.get(v)
        rec = {"table": "Table 7" if v.endswith("_WT") else "Table 6", "variant": v,
               "weighted": v.endswith("_WT"), "dataset": dataset or co.name,
               "published": None if ref is None else [str(x) for x in ref]}
        for sem in semantics:
            names = list(ours[sem][v])
            c = C.compare_names(names, ref, dataset="openimages") if ref is not None else {}
            rec[sem] = {"names": names, **{k: c.get(k) for k in ("matched", "missing", "extra")}}
        out.append(rec)
    return out


def _compare_trigger_tables(ours: Mapping[str, Sequence[str]],
                           reference: Mapping[str, Sequence[str] | None]) -> pd.DataFrame:
    """Matched / missing / extra trigger names per variant (``compare_names`` for each column).

    Parameters
    ----------
    ours : mapping variant -> list of names
        From ``trigger_table(...)[1]["triggers"]``.
    reference : mapping variant -> list of names or None
        E.g. a dataset's entry of ``nbkit.centrality.load_paper_tables()``; ``None`` marks a column without
        reference values.

    Returns
    -------
    pandas.DataFrame
        ``variant, ours, reference, matched, missing, extra, jaccard`` (lists joined by ``"; "``).
    """
    rows = []
    for v in C.VARIANTS:
        o = list(ours.get(v, []))
        r = reference.get(v) if reference else None
        if r is None:
            rows.append({"variant": v, "ours": "; ".join(o), "reference": None, "matched": None,
                         "missing": None, "extra": None, "jaccard": np.nan})
            continue
        c = C.compare_names(o, r)
        rows.append({"variant": v, "ours": "; ".join(o), "reference": "; ".join(r),
                     "matched": "; ".join(c["matched"]), "missing": "; ".join(c["missing"]),
                     "extra": "; ".join(c["extra"]), "jaccard": c["jaccard"]})
    return pd.DataFrame(rows)


def tables_6_7_frame(records: Sequence[Mapping], wide: bool = False) -> pd.DataFrame:
    """``tables_6_7`` records as a table (for display, CSV and the report).

    Parameters
    ----------
    records : list of dict
        ``tables_6_7`` output (notebook 03's ``tables_6_7`` results).
    wide : bool
        False: one row per column and semantics. True: one row per published column, the paper's
        names then, per semantics (authors, paper, networkx), ``<semantics>: matched`` / ``missing`` /
        ``extra`` / ``ours`` (the report's layout; an unpublished column reads ``n/a``).

    Returns
    -------
    pandas.DataFrame
        Long: ``table, variant, semantics, matched`` ("k/n"), ``missing``, ``extra`` (``"; "``-joined),
        ``published``, ``ours``.
    """
    rows, wide_rows = [], []
    for r in records:
        pub = r.get("published")
        known = pub is not None
        per = {sem: {"matched": f"{len(r[sem]['matched'])}/{len(pub)}" if known else None,
                     "missing": "; ".join(r[sem]["missing"]) if known else None,
                     "extra": "; ".join(r[sem]["extra"]) if known else None,
                     "ours": "; ".join(map(str, r[sem]["names"]))}
               for sem in r if sem in C.SEMANTICS and isinstance(r[sem], Mapping)}
        head = {"table": r["table"], "variant": r["variant"]}
        rows += [{**head, "semantics": sem, **{k: v for k, v in c.items() if k != "ours"},
                  "published": "; ".join(pub) if known else None, "ours": c["ours"]} for sem, c in per.items()]
        wide_rows.append({**head, "published": "; ".join(pub) if known else "n/a",
                          **{f"{sem}: {k}": "" if v is None else v for sem in ("authors", "paper", "networkx")
                             if sem in per for k, v in per[sem].items()}})
    return pd.DataFrame(wide_rows if wide else rows)


# ---------------------------------------------------------------------------------------------
# App. D: multi-trigger overlap
def multi_trigger_overlap(subsets: Sequence[dict], top: int = 25, threshold: int = 30,
                          basis: str = "subsets") -> dict:
    """Classes shared by the poisonable subsets of each pair of the top triggers (paper App. D).

    Parameters
    ----------
    subsets : list of dict
        ``poisonable_subsets`` output (or a loaded triggers JSON).
    top : int
        The ``top`` triggers by centrality (entries without centrality keep their list order).
    threshold : int
        Report the fraction of pairs sharing more than this many classes (paper: 30).
    basis : {"subsets", "candidates"}
        ``"subsets"`` (default): the classes of each trigger's poisonable subset (its maximum
        independent set; where several maximum sets exist the solver picks one, so overlaps are
        one draw). ``"candidates"``: every eligible candidate of the trigger (``eligible_ids``),
        i.e. the classes each trigger could poison on its own, an upper bound that does not
        depend on that choice.

    Returns
    -------
    dict
        ``matrix`` (DataFrame ``top x top`` of shared-class counts, diagonal = subset sizes),
        ``pairs`` (DataFrame of distinct pairs: ``trigger_a, trigger_b, shared, classes``, by
        decreasing ``shared``), ``n_cells`` (top^2, the paper's "625 pairs"),
        ``frac_cells_above`` (fraction of cells > threshold, the paper's 88%), ``n_pairs``
        (distinct unordered pairs), ``frac_pairs_above``, ``largest`` (the distinct pair sharing
        most: ``trigger_a, trigger_b, shared``), ``threshold``, ``triggers``.

    Examples
    --------
    >>> s = [{"trigger": {"id": 0, "name": "t0"}, "centrality": 2.0, "classes": [{"id": 5}, {"id": 6}]},
    ...      {"trigger": {"id": 1, "name": "t1"}, "centrality": 1.0, "classes": [{"id": 6}]}]
    >>> r = multi_trigger_overlap(s, top=2, threshold=0)
    >>> r["largest"]["shared"], r["n_cells"]
    (1, 4)
    """
    ents = list(subsets)
    if any(e.get("centrality") is not None for e in ents):
        order = sorted(range(len(ents)), key=lambda i: (-(ents[i].get("centrality") or -np.inf), i))
        ents = [ents[i] for i in order]
    ents = ents[:top]
    names = [str(e["trigger"].get("name", e["trigger"]["id"])) for e in ents]
    if basis == "subsets":
        sets = [set(int(c["id"]) for c in e["classes"] if not c.get("is_trigger")) for e in ents]
    elif basis == "candidates":
        if any("eligible_ids" not in e for e in ents):
            raise DataError("multi_trigger_overlap", "entries lack 'eligible_ids'",
                            "poisonable_subsets output (basis='candidates')")
        sets = [set(int(c) for c in e["eligible_ids"]) for e in ents]
    else:
        raise GraphError(f"basis={basis!r}; expected 'subsets' or 'candidates'")
    k = len(ents)
    mat = np.zeros((k, k), dtype=np.int64)
    rows = []
    for i in range(k):
        for j in range(k):
            mat[i, j] = len(sets[i] & sets[j])
            if j > i:
                rows.append({"trigger_a": names[i], "trigger_b": names[j],
                             "trigger_a_id": int(ents[i]["trigger"]["id"]),
                             "trigger_b_id": int(ents[j]["trigger"]["id"]),
                             "shared": int(mat[i, j]),
                             "classes": sorted(sets[i] & sets[j])})
    pairs = pd.DataFrame(rows, columns=["trigger_a", "trigger_b", "trigger_a_id", "trigger_b_id",
                                        "shared", "classes"])
    pairs = pairs.sort_values("shared", ascending=False, kind="stable").reset_index(drop=True)
    largest = None
    if len(pairs):
        r0 = pairs.iloc[0]
        largest = {"trigger_a": r0.trigger_a, "trigger_b": r0.trigger_b, "shared": int(r0.shared)}
    return {"matrix": pd.DataFrame(mat, index=names, columns=names), "pairs": pairs,
            "n_cells": int(k * k), "frac_cells_above": float((mat > threshold).mean()) if k else 0.0,
            "n_pairs": int(len(pairs)),
            "frac_pairs_above": float((pairs["shared"] > threshold).mean()) if len(pairs) else 0.0,
            "largest": largest, "threshold": int(threshold), "triggers": names, "basis": basis}


def edge_weight_ablation(co: Cooccurrence, mins: Sequence[int] = (20, 30, 40, 50, 60),
                         measure: str = "betweenness", weighted: bool = False, top: int = 25,
                         rule: SubsetRule | None = None, *, threshold: int = 30,
                         progress: bool = True, **settings) -> pd.DataFrame:
    """Subset sizes and multi-trigger overlaps as the graph threshold ``min`` grows (Figure 14).

    For every ``W`` in ``mins`` the graph keeps edges ``M >= W``, the ``top`` triggers are ranked
    on it, and each gets its poisonable subset (candidates: ``M > trig_overlaps``, or every graph
    neighbour when ``trig_overlaps`` is None).

    Parameters
    ----------
    co : Cooccurrence
    mins : sequence of int
        Graph thresholds ``W``.
    measure, weighted : str, bool
        Centrality used for ranking.
    top : int
        Triggers per ``W``.
    rule : SubsetRule, optional
        The subset rule (default ``SubsetRule()``); its ``min_overlaps`` is replaced by each ``W``.
    threshold : int
        Pairs sharing more than this many classes are counted (App. D).
    **settings
        ``rank_triggers``'s ``semantics``, ``backend``, ``exclude_body_parts``; the rest are
        changes to ``rule`` (``SubsetRule.of``).

    Returns
    -------
    pandas.DataFrame
        One row per ``W``: ``min_overlaps, n_triggers, n_nonempty, mean_size, median_size,
        max_size, total_classes, all_optimal, frac_cells_above, frac_pairs_above,
        largest_pair, largest_shared``.
    """
    rk = {k: settings.pop(k) for k in ("semantics", "backend", "exclude_body_parts")
          if k in settings}
    rule = SubsetRule.of(rule, **settings)
    rows = []
    for W in tqdm(list(mins), desc="edge-weight ablation", disable=not progress, leave=False):
        trig = rank_triggers(co, measure, weighted, int(W), top, **rk)
        subs = poisonable_subsets(co, trig, rule, min_overlaps=int(W), progress=False)
        sizes = np.array([e["size"] for e in subs]) if subs else np.zeros(0)
        mt = multi_trigger_overlap(subs, top=top, threshold=threshold)
        lg = mt["largest"] or {}
        rows.append({"min_overlaps": int(W), "n_triggers": len(subs),
                     "n_nonempty": int((sizes > 0).sum()),
                     "mean_size": float(sizes.mean()) if len(sizes) else 0.0,
                     "median_size": float(np.median(sizes)) if len(sizes) else 0.0,
                     "max_size": int(sizes.max()) if len(sizes) else 0,
                     "total_classes": int(sizes.sum()),
                     "all_optimal": bool(all(e["optimal"] for e in subs)),
                     "frac_cells_above": mt["frac_cells_above"],
                     "frac_pairs_above": mt["frac_pairs_above"],
                     "largest_pair": f"{lg.get('trigger_a', '')} + {lg.get('trigger_b', '')}"
                     if lg else "", "largest_shared": int(lg.get("shared", 0))})
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# tables and files
def subsets_table(subsets: Sequence[dict], max_names: int | None = 8) -> pd.DataFrame:
    """One row per trigger: name, centrality, sizes (approx / exact / gap), optimal, classes.

    Parameters
    ----------
    subsets : list of dict
        ``poisonable_subsets`` output.
    max_names : int, optional
        Class names shown per row (the rest summarised as "+k more"); None shows all.

    Returns
    -------
    pandas.DataFrame
    """
    rows = []
    for e in subsets:
        names = [c["name"] for c in e["classes"] if not c.get("is_trigger")]
        shown = names if max_names is None or len(names) <= max_names else \
            names[:max_names] + [f"+{len(names) - max_names} more"]
        rows.append({"trigger": e["trigger"]["name"], "id": e["trigger"]["id"],
                     "centrality": e.get("centrality"), "candidates": e.get("n_candidates"),
                     "eligible": e.get("n_eligible"), "classes": len(names),
                     "approx": e.get("approx_size"), "exact": e.get("exact_size"),
                     "gap": e.get("gap"), "optimal": e.get("optimal"),
                     "names": ", ".join(shown)})
    return pd.DataFrame(rows, columns=["trigger", "id", "centrality", "candidates", "eligible",
                                       "classes", "approx", "exact", "gap", "optimal", "names"])


def save_triggers_json(path, subsets: Sequence[dict], params: Mapping[str, Any] | None = None):
    """Atomically write the triggers file (the authors' ``possible_triggers`` shape plus extras).

    The file is a JSON list, sorted by number of classes, each entry ``{"trigger": {id, label,
    name}, "centrality", "classes": [{id, label, name, weight, num_clean, num_poison,
    num_clean_is_lower_bound}, ...]}`` as the authors' files have it, plus our extras (``method``,
    ``optimal``, ``upper_bound``, ``approx_size``, ``exact_size``, ``gap``, ...; not the wall-clock
    ``solve_s``, so a repeated run writes the same file) and ``params``
    (the parameters that made it, identical in every entry, so any entry is self-describing and
    the authors' readers, which iterate a list, still work).

    Parameters
    ----------
    path : path-like
    subsets : list of dict
        ``poisonable_subsets`` output.
    params : mapping, optional
        Parameters to record (dataset, thresholds, seed, ...).

    Returns
    -------
    pathlib.Path
    """
    ents = sorted((dict(e) for e in subsets), key=lambda e: -len(e["classes"]))
    for e in ents:
        e.pop("solve_s", None)   # wall-clock: keeps the file identical when a run is repeated
    if params is not None:
        for e in ents:
            e["params"] = dict(params)
    return write_json(path, ents)


def load_triggers_json(path) -> list[dict]:
    """Read a triggers file (ours, or one of the authors' ``possible_triggers*.json``).

    Parameters
    ----------
    path : path-like

    Returns
    -------
    list of dict
        Entries with at least ``trigger`` (``id``, ``name``) and ``classes`` (each with ``id``).

    Raises
    ------
    DataError
        Naming the file, the entry and the field when the shape is wrong.
    """
    data = read_json(path)
    if not isinstance(data, list):
        raise DataError(path, f"top level is a {type(data).__name__}",
                        "a JSON list of {trigger, classes} entries (possible_triggers format)")
    for i, e in enumerate(data):
        if not isinstance(e, dict) or "trigger" not in e or "classes" not in e:
            raise DataError(path, f"entry {i} lacks 'trigger' or 'classes'",
                            "entries like {\"trigger\": {...}, \"classes\": [...]}")
        if not isinstance(e["trigger"], dict) or "id" not in e["trigger"]:
            raise DataError(path, f"entry {i}: field 'trigger' has no 'id'", "{id, label, name}")
        if not isinstance(e["classes"], list):
            raise DataError(path, f"entry {i}: field 'classes' is not a list", "a list of classes")
        for j, c in enumerate(e["classes"]):
            if not isinstance(c, dict) or "id" not in c:
                raise DataError(path, f"entry {i} (trigger {e['trigger'].get('name')}): class {j} "
                                      f"has no 'id'", "{id, label, name, ...}")
    return data


# ---------------------------------------------------------------------------------------------
# checks against the authors' files, summaries and figures (notebook 04)
def _compare_with_authors_json(co: Cooccurrence, path, mis_runs: int = 20, seed: int = 0,
                              exact: bool = True) -> dict:
    """Rerun the authors' Feb-2022 rule for one of their ``possible_triggers_minTrigOverlap{a}_
    maxOtherOverlap{b}.json`` files and compare.

    The trigger set must match exactly; class lists are random draws, so for those the check is
    validity: every class the authors listed is a candidate of its trigger (``M > minTrig``,
    ``>= maxOther``, ``>= 49``) and no two of a trigger's classes conflict (``M >= maxOther``).

    Parameters
    ----------
    co : Cooccurrence
        The authors' Open Images matrix (``openimages-counts``).
    path : path-like
        One of the 24 files (the thresholds are read from its name).
    mis_runs, seed : int
        Of our approximation.
    exact : bool
        Also compute the exact maximum under the same rule.

    Returns
    -------
    dict
        ``file, min_trig_overlap, max_other_overlap, triggers_theirs, triggers_ours,
        same_triggers, theirs_valid, classes_theirs, classes_ours_approx, classes_ours_exact``.
    """
    path = Path(path)
    nums = re.findall(r"minTrigOverlap(\d+)_maxOtherOverlap(\d+)", path.name)
    if not nums:
        raise DataError(path, "file name lacks minTrigOverlapN_maxOtherOverlapM",
                        "possible_triggers_minTrigOverlap{a}_maxOtherOverlap{b}.json")
    mt, mo = map(int, nums[0])
    theirs = load_triggers_json(path)
    ours = _authors_feb2022_rule(co, mt, mo, mis_runs=mis_runs, seed=seed)
    valid = True
    for e in theirs:
        t = int(e["trigger"]["id"])
        ids = [int(c["id"]) for c in e["classes"]]
        w = co.M[t, ids]
        if not ((w > mt).all() and (w >= mo).all() and (w >= 49).all()):
            valid = False
        if conflict_matrix(co, ids, mo - 1, mo).any():
            valid = False
    out = {"file": path.name, "min_trig_overlap": mt, "max_other_overlap": mo,
           "triggers_theirs": len(theirs), "triggers_ours": len(ours),
           "same_triggers": {int(e["trigger"]["id"]) for e in theirs}
           == {int(e["trigger"]["id"]) for e in ours},
           "theirs_valid": bool(valid),
           "classes_theirs": int(sum(len(e["classes"]) for e in theirs)),
           "classes_ours_approx": int(sum(len(e["classes"]) for e in ours))}
    if exact:
        ex = _authors_feb2022_rule(co, mt, mo, mis="exact")
        out["classes_ours_exact"] = int(sum(len(e["classes"]) for e in ex))
        out["all_optimal"] = bool(all(e["optimal"] for e in ex))
    return out


#: The authors' outputs notebook 04 checks against, under the shared real-data folder.
_AUTHORS_REFERENCE = "naturalbackdoors_reference"
_RELABEL_MIS_SETS = "notebook_outputs/oi_gt_mis_sets_minTrig50_maxOther15_relabel_ipynb.csv"


def authors_checks(co: Cooccurrence, seed: int = 0, n_golden: int | None = None,
                   exact: bool = True) -> tuple[dict, pd.DataFrame | None, pd.DataFrame | None]:
    """Notebook 04, section 3: the kit against the authors' Feb-2022 files and relabel MIS sizes.

    Both need ``naturalbackdoors_reference`` in the shared real-data folder
    (``nbkit.centrality.realdata_file``); without it nothing is checked.

    * ``_compare_with_authors_json`` for their ``possible_triggers_minTrig*.json`` files (all 24,
      or the first ``n_golden`` at ``minTrigOverlap50``): same trigger sets, their classes valid.
    * Their ``relabel.ipynb`` MIS sizes (graph >= 15, candidates > 50, every graph edge a conflict,
      no filter, trigger counted): the exact MIS must be at least as large as every set they
      printed.

    Parameters
    ----------
    co : Cooccurrence
        The authors' Open Images matrix (``openimages-counts``).
    seed : int
        Of our random draws.
    n_golden : int, optional
        How many Feb-2022 files (None: all).
    exact : bool
        Also solve the Feb-2022 rule exactly (``_compare_with_authors_json``).

    Returns
    -------
    (dict, DataFrame or None, DataFrame or None)
        ``checks`` (``feb2022_files``, ``feb2022_same_triggers``, ``feb2022_theirs_valid``,
        ``relabel_sets``, ``relabel_exact_at_least_authors``, ``relabel_exact_larger``; empty
        without the data), the Feb-2022 table and the relabel table (None without the data).
    """
    ref = C.realdata_file(_AUTHORS_REFERENCE)
    if ref is None:
        return {}, None, None
    files = sorted((ref / "possible_triggers" / "openimages").glob("possible_triggers_minTrig*.json"))
    pick = files if n_golden is None else [f for f in files if "minTrigOverlap50_" in f.name][:n_golden]
    golden = pd.DataFrame([_compare_with_authors_json(co, f, seed=seed, exact=exact) for f in pick])
    rel = pd.read_csv(ref / _RELABEL_MIS_SETS)
    rs = poisonable_subsets(co, rel["trigger_index"].tolist(), trig_overlaps=50, max_other_overlaps=14,
                            min_overlaps=15, mis_filter="none", include_trigger=True, seed=seed,
                            progress=False)
    by = {e["trigger"]["id"]: e for e in rs}
    ids = rel["trigger_index"]
    relcmp = pd.DataFrame({"trigger": rel["trigger_name"], "authors_incl_trigger": rel["set_size_incl_trigger"],
                           "exact_incl_trigger": [len(by[i]["classes"]) for i in ids],
                           "approx_incl_trigger": [by[i]["approx_size"] + 1 for i in ids],
                           "optimal": [by[i]["optimal"] for i in ids]})
    checks = {"feb2022_files": int(len(golden)),
              "feb2022_same_triggers": bool(golden["same_triggers"].all()),
              "feb2022_theirs_valid": bool(golden["theirs_valid"].all()),
              "relabel_sets": int(len(relcmp)),
              "relabel_exact_at_least_authors": bool((relcmp.exact_incl_trigger >= relcmp.authors_incl_trigger).all()),
              "relabel_exact_larger": int((relcmp.exact_incl_trigger > relcmp.authors_incl_trigger).sum())}
    return checks, golden, relcmp


def file_tag(text: str) -> str:
    """``text`` with every character that is not a letter or digit replaced by ``_`` (file names).

    >>> file_tag("openimages-counts (candidates)")
    'openimages_counts__candidates_'
    """
    return "".join(ch if ch.isalnum() else "_" for ch in str(text))


def app_d_overlaps(subsets_by_dataset: Sequence[tuple[str, Sequence[dict] | None]], top: int,
                   threshold: int = 30) -> tuple[list[dict], pd.DataFrame]:
    """Notebook 04, section 4: App. D's multi-trigger overlaps, per dataset and basis.

    For every dataset with subsets, the top ``k`` triggers (``top``, or fewer when fewer have a
    positive centrality) are compared on both bases of ``multi_trigger_overlap``: ``"subsets"``
    (the classes of each poisonable subset) and ``"candidates"`` (every eligible candidate).

    Parameters
    ----------
    subsets_by_dataset : sequence of (dataset spec, ``poisonable_subsets`` output or None)
        None (a dataset not run) is skipped.
    top : int
    threshold : int
        Pairs sharing more than this many classes (paper: 30).

    Returns
    -------
    records : list of dict
        Per dataset and basis: ``key`` (the spec, ``" (candidates)"`` appended for that basis),
        ``dataset``, ``basis``, ``top`` (k), ``overlap`` (``multi_trigger_overlap``), ``summary``
        (``multi_trigger_summary``), ``tag`` (for file names).
    table : pandas.DataFrame
        One row per record: data, its kind (``nbkit.datasets.data_kind``), triggers, pairs
        (k x k cells), the shares above ``threshold`` (cells, distinct pairs), the largest pair.
    """
    out = []
    for spec, ss in subsets_by_dataset:
        if ss is None:
            continue
        k = min(top, sum(1 for e in ss if (e["centrality"] or 0) > 0)) or min(top, len(ss))
        for basis in ("subsets", "candidates"):
            mt = multi_trigger_overlap(ss, top=k, threshold=threshold, basis=basis)
            cand = basis == "candidates"
            out.append({"key": f"{spec} (candidates)" if cand else spec, "dataset": spec,
                        "basis": basis, "top": k, "overlap": mt, "summary": multi_trigger_summary(mt),
                        "tag": file_tag(spec) + ("_candidates" if cand else "")})
    return out, _app_d_summary_table(out, threshold)


def _app_d_summary_table(overlaps: Sequence[Mapping[str, Any]], threshold: int) -> pd.DataFrame:
    """One row per ``app_d_overlaps`` record: data, its kind, pairs, shares, the largest pair."""
    rows = []
    for r in overlaps:
        summ = r["summary"]
        rows.append({"data": r["key"], "kind": data_kind(r["dataset"]), "triggers": r["top"],
                     "pairs (k x k)": summ["n_pairs"],
                     f"share > {threshold}": round(summ["share_above"], 3),
                     "distinct pairs": summ["distinct_pairs"],
                     f"share distinct > {threshold}": round(summ["share_distinct_pairs_above"], 3),
                     "largest shared": summ["largest_shared"],
                     "largest pair": " + ".join(summ["largest_pair"])})
    return pd.DataFrame(rows)


def _approx_vs_exact_summary(subsets: Sequence[dict]) -> dict:
    """Totals of ``poisonable_subsets(..., compare=True)``: exact against the approximation.

    Returns
    -------
    dict
        ``triggers``, ``exact_total``, ``approx_total`` (classes over all triggers),
        ``triggers_with_gap`` (where the approximation misses the maximum), ``max_gap``,
        ``all_optimal``, ``subset_sizes`` (trigger name -> classes), ``lower_bound_clean_counts``
        (classes whose clean count is a lower bound).

    Examples
    --------
    >>> e = {"trigger": {"name": "t"}, "size": 2, "exact_size": 2, "approx_size": 1, "gap": 1,
    ...      "optimal": True, "classes": [{"num_clean_is_lower_bound": False}] * 2}
    >>> _approx_vs_exact_summary([e])["triggers_with_gap"]
    1
    """
    ss = list(subsets)
    return {"triggers": len(ss), "exact_total": int(sum(e["exact_size"] for e in ss)),
            "approx_total": int(sum(e["approx_size"] for e in ss)),
            "triggers_with_gap": int(sum(e["gap"] > 0 for e in ss)),
            "max_gap": int(max([e["gap"] for e in ss] or [0])),
            "all_optimal": bool(all(e["optimal"] for e in ss)),
            "subset_sizes": {e["trigger"]["name"]: e["size"] for e in ss},
            "lower_bound_clean_counts": int(sum(c["num_clean_is_lower_bound"] for e in ss
                                                for c in e["classes"]))}


def approx_vs_exact_text(name: str, subsets: Sequence[dict]) -> str:
    """One line: classes found exactly and approximately, the triggers the approximation misses."""
    s = _approx_vs_exact_summary(subsets)
    n_opt = sum(bool(e["optimal"]) for e in subsets)
    return (f"{name}: exact {s['exact_total']} classes vs approx {s['approx_total']}; "
            f"{s['triggers_with_gap']} of {s['triggers']} triggers where the approximation misses "
            f"the maximum; {n_opt} proven optimal")


def notebook_settings(params: Mapping[str, Any]) -> dict:
    """Notebook 04's effective settings from its parameters (``runs.load_params``).

    ``smoke`` shrinks the expensive parts: at most 10 triggers, every other ablation threshold,
    at most 5 s per exact solve, 2 of the authors' Feb-2022 files, solved approximately only.

    Returns
    -------
    dict
        ``rule`` (``SubsetRule``: ``trig_overlaps`` -1 read as None, every graph neighbour),
        ``rank`` (``rank_triggers``'s settings but ``top``), ``ablation`` (``edge_weight_ablation``'s
        but ``mins`` and ``threshold``), ``top_m``, ``mins`` (the ablation's W, from
        ``ablation_mins``), ``n_golden`` (None: all of the authors' files), ``exact_golden``.

    Examples
    --------
    >>> p = {"trig_overlaps": -1, "max_other_overlaps": 40, "min_overlaps": 15, "mis": "exact",
    ...      "mis_runs": 20, "seed": 0, "time_limit": 10.0, "min_clean": 200, "min_poison": 50,
    ...      "mis_filter": "before", "centrality": "betweenness", "weighted": False,
    ...      "exclude_body_parts": False, "semantics": "paper", "top_m": 25,
    ...      "ablation_mins": "20,30,40,50,60", "smoke": True}
    >>> s = notebook_settings(p)
    >>> s["top_m"], s["mins"], s["rule"].time_limit, s["rule"].trig_overlaps, s["n_golden"]
    (10, [20, 40, 60], 5.0, None, 2)
    """
    smoke = bool(params.get("smoke", False))
    trig = int(params["trig_overlaps"])
    mins = [int(x) for x in str(params["ablation_mins"]).split(",") if x.strip()]
    time_limit = float(params["time_limit"])
    rule = SubsetRule(min_overlaps=int(params["min_overlaps"]), trig_overlaps=None if trig < 0 else trig,
                      max_other_overlaps=int(params["max_other_overlaps"]),
                      min_clean=int(params["min_clean"]), min_poison=int(params["min_poison"]),
                      mis_filter=params["mis_filter"], mis=params["mis"],
                      mis_runs=int(params["mis_runs"]), seed=int(params["seed"]),
                      time_limit=min(time_limit, 5.0) if smoke else time_limit)
    top = min(int(params["top_m"]), 10) if smoke else int(params["top_m"])
    rank = dict(measure=params["centrality"], weighted=bool(params["weighted"]),
                exclude_body_parts=bool(params["exclude_body_parts"]), semantics=params["semantics"])
    return {"rule": rule, "rank": dict(rank, min_overlaps=rule.min_overlaps), "top_m": top,
            "ablation": dict(rank, top=top, rule=rule), "mins": mins[::2] if smoke else mins,
            "n_golden": 2 if smoke else None, "exact_golden": not smoke}


def subsets_results(params: Mapping[str, Any], *, subsets: Sequence[dict],
                    compare_subsets: Sequence[dict] | None, checks: Mapping,
                    overlaps: Sequence[Mapping], ablation: Mapping[str, pd.DataFrame],
                    timing: Mapping) -> dict:
    """Notebook 04's ``results.json`` (schema ``04_subsets`` in ``nbkit.schema``).

    Parameters
    ----------
    params : mapping
        The run's parameters (``dataset``, ``compare_dataset``, and those ``app_d_comparison`` reads).
    subsets, compare_subsets
        ``poisonable_subsets(..., compare=True)`` on the dataset and on ``compare_dataset`` (None
        when it was skipped).
    checks : mapping
        ``authors_checks``'s first value.
    overlaps : sequence of dict
        ``app_d_overlaps``.
    ablation : mapping dataset -> DataFrame
        ``edge_weight_ablation`` per dataset.
    timing : mapping
        Wall-clock seconds.

    Returns
    -------
    dict
    """
    ds, cmp_ds = params["dataset"], params.get("compare_dataset") or None
    best = subsets[0]
    multi = {r["key"]: r["summary"] for r in overlaps}
    return {"dataset": ds, "compare_dataset": cmp_ds, "triggers_file": "possible_triggers.json",
            "best_trigger": {"name": best["trigger"]["name"], "id": best["trigger"]["id"],
                             "classes": [c["name"] for c in best["classes"]], "optimal": best["optimal"]},
            "approx_vs_exact": {ds: _approx_vs_exact_summary(subsets),
                                **({cmp_ds: _approx_vs_exact_summary(compare_subsets)}
                                   if compare_subsets else {})},
            "authors_checks": dict(checks), "multi_trigger": multi,
            "edge_weight_ablation": {k: v.to_dict("records") for k, v in ablation.items()},
            "paper_app_d": _app_d_paper(),
            "app_d_vs_paper": {k: app_d_comparison(v, params, k).to_dict("records")
                               for k, v in multi.items()},
            "timing": dict(timing)}


def multi_trigger_summary(mt: Mapping[str, Any], top_pairs: int = 10) -> dict:
    """JSON-able summary of ``multi_trigger_overlap`` for ``results.json`` (App. D).

    ``n_pairs`` and ``share_above`` count the ``top x top`` cells of the overlap matrix, diagonal
    included, as the paper's "625 pairs" of 25 triggers do; ``distinct_pairs`` and
    ``share_distinct_pairs_above`` count unordered pairs of different triggers.

    Parameters
    ----------
    mt : dict
        From ``multi_trigger_overlap``.
    top_pairs : int
        Pairs sharing most classes to list.

    Returns
    -------
    dict
    """
    pairs = mt["pairs"]
    lg = mt["largest"] or {}
    return {"basis": mt.get("basis", "subsets"), "top": len(mt["triggers"]),
            "threshold": mt["threshold"], "n_pairs": mt["n_cells"],
            "share_above": mt["frac_cells_above"], "distinct_pairs": mt["n_pairs"],
            "share_distinct_pairs_above": mt["frac_pairs_above"],
            "largest_shared": int(lg.get("shared", 0)),
            "largest_pair": [lg["trigger_a"], lg["trigger_b"]] if lg else [],
            "mean_shared": float(pairs["shared"].mean()) if len(pairs) else 0.0,
            "share_distinct_pairs_any": float((pairs["shared"] > 0).mean()) if len(pairs) else 0.0,
            "top_pairs": [{"a": r.trigger_a, "b": r.trigger_b, "shared": int(r.shared)}
                          for r in pairs.head(top_pairs).itertuples()],
            "triggers": list(mt["triggers"])}


def _app_d_paper() -> dict:
    """The paper's App. D numbers and its printed setting, as plain values (from ``nbkit.reference``).

    The setting is the one App. D prints: the top 25 poisonable subsets, 15 minimum class overlaps
    (graph ``W``), 40 minimum trigger overlaps (``trig``), betweenness centrality. The text names
    Open Images, but its largest pair (chain link fence + website) are ImageNet classes: the values
    are kept as printed and ``dataset_named`` says what the text says.

    Returns
    -------
    dict
        ``dataset_named``, ``top``, ``min_overlaps``, ``trig_overlaps``, ``centrality``,
        ``overlap_threshold``, ``n_cells`` (625), ``share_above_pct`` (88), ``largest_shared``
        (111), ``largest_pair`` (tuple of two names), ``basis`` (``"subsets"``: the text counts
        overlapping classes of the poisonable subsets), ``note``, ``source``.

    Examples
    --------
    >>> p = _app_d_paper()
    >>> p["top"], p["min_overlaps"], p["trig_overlaps"], p["centrality"], p["share_above_pct"]
    (25, 15, 40, 'betweenness', 88)
    """
    st = {k: r["value"] for k, r in R.SETTINGS["App. D multiple triggers"].items()}
    d = R.APP_D["Open Images"]
    return {"dataset_named": st["dataset_named"], "top": st["top"], "min_overlaps": st["min_overlaps"],
            "trig_overlaps": st["trig_overlaps"], "centrality": st["centrality"],
            "overlap_threshold": st["overlap_threshold"], "n_cells": st["n_combinations"],
            "share_above_pct": d["pairs_over_30_fraction"]["value"],
            "largest_shared": d["largest_overlap"]["value"],
            "largest_pair": tuple(d["largest_overlap_pair"]["value"]), "basis": "subsets",
            "note": d["largest_overlap_pair"]["note"], "source": d["largest_overlap"]["source"]}


def _app_d_setting(params: Mapping[str, Any], summary: Mapping[str, Any] | None = None) -> dict:
    """Our App. D setting in the paper's terms, from a run's parameters (and its summary).

    Parameters
    ----------
    params : mapping
        Notebook 04's parameters (``top_m``, ``min_overlaps``, ``trig_overlaps`` (-1 or None:
        every graph neighbour), ``centrality``, ``weighted``, ``overlap_threshold``) or the
        triggers CLI's names (``top``, ``threshold``).
    summary : mapping, optional
        ``multi_trigger_summary`` output; its ``top`` (triggers actually compared), ``threshold``
        and ``basis`` win over the parameters.

    Returns
    -------
    dict
        ``top``, ``min_overlaps``, ``trig_overlaps`` (None = every graph neighbour),
        ``centrality`` (``_WT`` when weighted), ``overlap_threshold``, ``basis``.
    """
    summary = summary or {}
    trig = params.get("trig_overlaps")
    trig = None if trig is None or str(trig).strip() in ("", "None", "none") or int(trig) < 0 else int(trig)
    cent = str(params.get("centrality", "betweenness"))
    if str(params.get("weighted", False)).lower() == "true" and not cent.endswith("_WT"):
        cent += "_WT"
    top = summary.get("top", params.get("top_m", params.get("top")))
    thr = summary.get("threshold", params.get("overlap_threshold", params.get("threshold")))
    return {"top": None if top is None else int(top),
            "min_overlaps": None if params.get("min_overlaps") is None else int(params["min_overlaps"]),
            "trig_overlaps": trig, "centrality": cent,
            "overlap_threshold": None if thr is None else int(thr),
            "basis": str(summary.get("basis", params.get("basis", "subsets")))}


_APP_D_SETTING_NAMES = {"top": "top", "min_overlaps": "W", "trig_overlaps": "trig",
                        "centrality": "centrality", "overlap_threshold": "shared-class threshold",
                        "basis": "counted on"}


def _setting_text(key: str, v: Any) -> str:
    if key == "trig_overlaps" and v is None:
        return "every graph neighbour"
    return str(v)


def _app_d_differences(setting: Mapping[str, Any]) -> list[str]:
    """Where ``setting`` (``_app_d_setting``) differs from the paper's printed App. D setting.

    Examples
    --------
    >>> _app_d_differences({"top": 25, "min_overlaps": 10, "trig_overlaps": None,
    ...                    "centrality": "betweenness", "overlap_threshold": 30, "basis": "subsets"})
    ['W 10 (paper 15)', 'trig every graph neighbour (paper 40)']
    """
    paper = _app_d_paper()
    return [f"{_APP_D_SETTING_NAMES[k]} {_setting_text(k, setting.get(k))} (paper {paper[k]})"
            for k in _APP_D_SETTING_NAMES if setting.get(k) != paper[k]]


def app_d_comparison(summary: Mapping[str, Any], params: Mapping[str, Any],
                     dataset: str | None = None) -> pd.DataFrame:
    """App. D side by side: our multi-trigger overlap and the paper's, setting first.

    Every row names our data (``dataset`` and its kind, ``nbkit.datasets.data_kind``: toy scenes,
    the authors' Open Images counts, or real data) and the paper's as printed (its text names Open
    Images, its pair are ImageNet classes). Shares are in percent. The share row counts pairs
    above *our* threshold (from the run's parameters); it is marked not comparable when that is
    not the paper's 30.

    Parameters
    ----------
    summary : mapping
        ``multi_trigger_summary`` output.
    params : mapping
        The run's parameters (see ``_app_d_setting``).
    dataset : str, optional
        Our dataset spec; default ``params["dataset"]``.

    Returns
    -------
    pandas.DataFrame
        ``quantity, ours, paper, comparable, note, dataset, data, paper_dataset, paper_source``
        (``comparable``: same setting, or None where App. D states none).
    """
    ds = str(dataset if dataset is not None else params.get("dataset", ""))
    kind = data_kind(ds)
    paper = _app_d_paper()
    ours_set = _app_d_setting(params, summary)
    differs = _app_d_differences(ours_set)
    same = not differs
    other = ("setting differs from the paper's: " + ", ".join(differs)) if differs else ""
    thr = ours_set["overlap_threshold"]
    pair = list(summary.get("largest_pair") or [])
    setting = [("top triggers compared", "top"), ("graph edge threshold W (min class overlaps)",
                                                   "min_overlaps"),
               ("trig (min trigger overlaps)", "trig_overlaps"), ("centrality", "centrality"),
               ("counted on", "basis")]
    rows = [{"quantity": q, "ours": "every graph neighbour" if k == "trig_overlaps" and
             ours_set[k] is None else ours_set[k], "paper": paper[k],
             "comparable": ours_set[k] == paper[k], "note": ""} for q, k in setting]
    rows.append({"quantity": "independence tolerance (max other overlaps)",
                 "ours": params.get("max_other_overlaps"), "paper": "not stated in App. D",
                 "comparable": None, "note": ""})
    values = [("trigger-pair cells (top x top)", summary.get("n_pairs"), paper["n_cells"], same,
               "cells of the overlap matrix, diagonal included, as the paper's "
               f"{paper['n_cells']} = {paper['top']} x {paper['top']}"),
              (f"share of cells with more than {thr} shared classes (%)",
               None if summary.get("share_above") is None else round(100 * float(summary["share_above"]), 2),
               paper["share_above_pct"], same,
               "" if thr == paper["overlap_threshold"] else
               f"ours counts more than {thr} shared classes, the paper more than "
               f"{paper['overlap_threshold']}"),
              ("largest shared classes (one trigger pair)", summary.get("largest_shared"),
               paper["largest_shared"], same, ""),
              ("that pair", " + ".join(map(str, pair)), " + ".join(paper["largest_pair"]), same, "")]
    rows += [{"quantity": q, "ours": o, "paper": p, "comparable": bool(c),
              "note": "; ".join(x for x in (n, "" if c else other) if x)} for q, o, p, c, n in values]
    out = pd.DataFrame(rows)
    out["dataset"], out["data"] = ds, kind
    out["paper_dataset"] = (f"{paper['dataset_named']} (as printed; its pair are ImageNet classes)")
    out["paper_source"] = paper["source"]
    return out


def app_d_text(summary: Mapping[str, Any], params: Mapping[str, Any],
               dataset: str | None = None) -> str:
    """One Markdown paragraph: our App. D result and the paper's, each with its setting and data.

    Every threshold in it is the run's own (``params`` / ``summary``) or the paper's printed one.

    Examples
    --------
    >>> summ = {"top": 4, "threshold": 2, "n_pairs": 16, "share_above": 0.25, "largest_shared": 5,
    ...         "largest_pair": ["a", "b"], "basis": "subsets"}
    >>> print(app_d_text(summ, {"dataset": "toyscenes", "top_m": 4, "min_overlaps": 10,
    ...                         "trig_overlaps": -1, "centrality": "betweenness"}))  # doctest: +ELLIPSIS
    **Ours** (toyscenes, toy scenes): the top 4 triggers by betweenness, W 10, trig every graph neighbour, ...
    """
    ds = str(dataset if dataset is not None else params.get("dataset", ""))
    st = _app_d_setting(params, summary)
    p = _app_d_paper()
    pair = " + ".join(map(str, summary.get("largest_pair") or [])) or "(no pair)"
    share = summary.get("share_above")
    share = "n/a" if share is None else f"{100 * float(share):.0f} %"
    differs = _app_d_differences(st)
    text = (f"**Ours** ({ds}, {data_kind(ds)}): the top {st['top']} triggers by {st['centrality']}, "
            f"W {st['min_overlaps']}, trig {_setting_text('trig_overlaps', st['trig_overlaps'])}, "
            f"counted on the {st['basis']}: {share} of the {summary.get('n_pairs')} trigger-pair cells "
            f"share more than {st['overlap_threshold']} classes; the largest pair, {pair}, shares "
            f"{summary.get('largest_shared')}. "
            f"**The paper** (App. D, printed setting: top {p['top']}, W {p['min_overlaps']}, "
            f"trig {p['trig_overlaps']}, {p['centrality']}; its text names {p['dataset_named']}, but "
            f"its largest pair, {' + '.join(p['largest_pair'])}, are ImageNet classes): "
            f"{p['share_above_pct']} % of the {p['n_cells']} cells share more than "
            f"{p['overlap_threshold']} classes; that pair shares {p['largest_shared']}. ")
    text += ("Same setting as the paper's." if not differs else
             "Our setting differs from the paper's: " + ", ".join(differs) + ".")
    if params.get("max_other_overlaps") is not None:
        text += (f" Our independence tolerance is {params['max_other_overlaps']} (App. D does not "
                 "state one).")
    return text


def plot_approx_vs_exact(subsets: Sequence[dict], title: str = "", max_triggers: int = 30):
    """Bars: subset size per trigger, the authors' approximation beside the exact maximum.

    Parameters
    ----------
    subsets : list of dict
        ``poisonable_subsets(..., compare=True)`` output.
    title : str
    max_triggers : int
        Show the first triggers by centrality.

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    ents = list(subsets)
    if any(e.get("centrality") is not None for e in ents):
        ents.sort(key=lambda e: -(e.get("centrality") or -np.inf))
    ents = ents[:max_triggers]
    names = [e["trigger"]["name"] for e in ents]
    y = np.arange(len(ents))
    fig, ax = plt.subplots(figsize=(7, 0.28 * len(ents) + 1.2))
    ax.barh(y - 0.2, [e.get("exact_size") or 0 for e in ents], 0.4, label="exact (ILP)")
    ax.barh(y + 0.2, [e.get("approx_size") or 0 for e in ents], 0.4,
            label="approx (best of random maximal sets)")
    for i, e in enumerate(ents):
        if e.get("method") == "exact" and not e.get("optimal"):
            ax.text(e.get("exact_size") or 0, i - 0.2, " not proven optimal", va="center",
                    fontsize=7)
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("classes in the poisonable subset")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title(title or "poisonable subset size per trigger")
    fig.tight_layout()
    return fig


def plot_multi_trigger(mt: Mapping[str, Any], title: str = ""):
    """App. D: the shared-class matrix of the top triggers and the histogram over trigger pairs.

    Parameters
    ----------
    mt : dict
        From ``multi_trigger_overlap``.
    title : str

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    mat = mt["matrix"]
    k = len(mat)
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(12, 5), gridspec_kw={"width_ratios": [1.2, 1]})
    im = a1.imshow(mat.to_numpy(), cmap="viridis")
    a1.set_xticks(range(k), mat.columns, rotation=90, fontsize=6)
    a1.set_yticks(range(k), mat.index, fontsize=6)
    fig.colorbar(im, ax=a1, shrink=0.8, label="shared classes")
    a1.set_title("classes shared by each pair's subsets")
    shared = mt["pairs"]["shared"].to_numpy()
    bins = np.arange(0, (shared.max() if len(shared) else 1) + 2) if len(shared) and \
        shared.max() < 60 else 30
    a2.hist(shared, bins=bins, color="tab:blue")
    a2.axvline(mt["threshold"] + 0.5, color="tab:red", ls="--",
               label=f"> {mt['threshold']} shared: {mt['frac_pairs_above']:.0%} of pairs")
    a2.set_xlabel("shared classes")
    a2.set_ylabel("trigger pairs")
    a2.legend(fontsize=8)
    a2.set_title(f"{mt['n_pairs']} pairs of the top {k} triggers")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_ablation(tables: Mapping[str, pd.DataFrame], threshold: int = 30):
    """Figure 14 (graph side): subset size and multi-trigger overlap as ``W`` grows.

    Parameters
    ----------
    tables : mapping name -> DataFrame
        ``edge_weight_ablation`` outputs, one per dataset.
    threshold : int

    Returns
    -------
    matplotlib.figure.Figure
    """
    import matplotlib.pyplot as plt

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.8))
    for i, (name, df) in enumerate(tables.items()):
        col = f"C{i}"
        a1.plot(df["min_overlaps"], df["mean_size"], "o-", color=col, label=f"{name} (mean)")
        a1.plot(df["min_overlaps"], df["max_size"], "x:", color=col, label=f"{name} (max)")
        a2.plot(df["min_overlaps"], df["frac_pairs_above"], "o-", color=col, label=name)
    a1.set_xlabel("graph edge threshold W (min overlaps)")
    a1.set_ylabel("classes per poisonable subset")
    a1.legend(fontsize=8)
    a2.set_xlabel("graph edge threshold W (min overlaps)")
    a2.set_ylabel(f"trigger pairs sharing > {threshold} classes")
    a2.set_ylim(-0.02, 1.02)
    a2.legend(fontsize=8)
    fig.tight_layout()
    return fig
