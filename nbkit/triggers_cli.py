"""``python -m nbkit triggers``: notebooks 02-04 without a notebook.

Loads a dataset's co-occurrence counts (02), ranks classes by a centrality measure (03), and finds
each top trigger's poisonable subset (04, ``nbkit.subsets``), then prints a short table and, with
``--out``, writes the triggers JSON (the authors' ``possible_triggers`` shape plus our extras).

Examples
--------
``python -m nbkit triggers --dataset openimages-counts --top 10 --out /tmp/oi_triggers.json``

``python -m nbkit triggers --dataset counts:coco_adj.npz --centrality degree --weighted``
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import pandas as pd

from . import __version__
from . import subsets as S
from .centrality import BACKENDS, MEASURES, SEMANTICS
from .datasets import load_cooccurrence
from .mis import METHODS


def _int_at_least(low: int, what: str):
    """An argparse type: an integer >= ``low``, refused with a message saying what it counts."""
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if v < low:
            raise argparse.ArgumentTypeError(f"{v} is not a valid {what}; expected an integer "
                                             f">= {low}")
        return v
    return parse


_count = _int_at_least(0, "number of images")
_top = _int_at_least(1, "number of triggers")
_top_runs = _int_at_least(1, "number of random maximal sets")
_tolerance = _int_at_least(-1, "tolerance (-1: any shared image is a conflict)")


def _int_or_none(text: str):
    """``--trig-overlaps``: 'none' (every graph neighbour) or a count of images >= 0."""
    if str(text).lower() in ("none", "neighbours", "neighbors", ""):
        return None
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer or 'none', got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"{v} is not a valid number of images; expected an "
                                         "integer >= 0, or 'none' for every graph neighbour")
    return v


def _out_file(text: str) -> str:
    """``--out``: a file to write; an existing directory is refused before any work is done."""
    if Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is a directory; expected the path of a JSON "
                                         f"file to write, e.g. {str(Path(text) / 'triggers.json')!r}")
    return text


def add_parser(subparsers) -> None:
    """Register ``python -m nbkit triggers`` on an ``argparse`` subparsers object.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        From ``ArgumentParser.add_subparsers``.
    """
    d = S.SubsetRule()
    p = subparsers.add_parser(
        "triggers", help="find triggers and their poisonable class subsets (notebooks 02-04)",
        description="Rank the classes of a dataset's co-occurrence graph by centrality and find, for "
                    "each of the top triggers, the largest set of classes it can poison together "
                    "(a maximum independent set of the classes that co-occur with it; paper App. "
                    "E.3). Prints a table; --out writes the triggers JSON.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    g = p.add_argument_group("data and graph")
    g.add_argument("--dataset", default="toyscenes", metavar="SPEC",
                   help="dataset spec: toyscenes[:SEED], voc:DIR, coco:FILE.json, openimages:DIR, "
                        "relabel:DIR, counts:FILE.npz, openimages-counts, longcsv:FILE, widecsv:FILE")
    g.add_argument("--split", default=None,
                   help="only images of this split (per-image datasets) or the stored split of "
                        "class-level counts; None: all images / the train counts")
    g.add_argument("--min-overlaps", type=int, default=d.min_overlaps, metavar="N",
                   help="graph edge threshold W: classes co-occurring in >= N images are joined")
    g = p.add_argument_group("triggers (centrality)")
    g.add_argument("--centrality", choices=MEASURES, default="betweenness",
                   help="centrality measure ranking the trigger candidates")
    g.add_argument("--weighted", action="store_true",
                   help="weighted variant of the measure (edge weight = co-occurrences)")
    g.add_argument("--semantics", choices=SEMANTICS, default="paper",
                   help="paper: graph-tool's definitions as the paper's text gives them, true "
                        "ranking; networkx: the authors' later code; authors: the computation "
                        "behind the published Tables 6-7, including its ranking quirk (Python's "
                        "sorted over a list holding NaN closeness; body parts removed after the "
                        "top M are taken, so fewer may remain)")
    g.add_argument("--backend", choices=BACKENDS, default="igraph",
                   help="library computing the centrality (same values)")
    g.add_argument("--top", type=_top, default=25, metavar="M", help="number of triggers (>= 1)")
    g.add_argument("--exclude-body-parts", action="store_true",
                   help="leave people and human body parts (the authors' list: Man, Woman, Human "
                        "face, Human mouth, ...) out of the triggers")
    g = p.add_argument_group("poisonable subsets")
    g.add_argument("--trig-overlaps", type=_int_or_none, default=d.trig_overlaps, metavar="N",
                   help="a class is a candidate when it co-occurs with the trigger in more than N "
                        "images, N >= 0 ('none': every neighbour in the graph)")
    g.add_argument("--max-other-overlaps", type=_tolerance, default=d.max_other_overlaps,
                   metavar="N",
                   help="independence tolerance: two candidates co-occurring in at most N images "
                        "do not conflict; -1 (the paper's Tables 6-7): any shared image is a "
                        "conflict")
    g.add_argument("--mis", choices=METHODS, default=d.mis,
                   help="exact: maximum independent set by integer programming (HiGHS), proven "
                        "optimal or flagged; approx: the authors' largest of --mis-runs random maximal "
                        "independent sets")
    g.add_argument("--mis-runs", type=_top_runs, default=d.mis_runs, metavar="N",
                   help="random maximal sets drawn by the approximation (>= 1)")
    g.add_argument("--seed", type=int, default=d.seed, help="seed of the random draws")
    g.add_argument("--time-limit", type=float, default=d.time_limit, metavar="S",
                   help="seconds for the exact solver per trigger")
    g.add_argument("--min-clean", type=_count, default=d.min_clean, metavar="N",
                   help="keep classes with >= N clean images (class without trigger; paper: 200)")
    g.add_argument("--min-poison", type=_count, default=d.min_poison, metavar="N",
                   help="keep classes with >= N poison images (class with trigger; paper: 50)")
    g.add_argument("--mis-filter", choices=S.FILTERS, default=d.mis_filter,
                   help="apply the class filter before the MIS (paper's tables), after it (the "
                        "authors' Feb-2022 code, approx only differs), or not at all")
    g.add_argument("--include-trigger", action="store_true",
                   help="also list the trigger itself in each set (as the authors' relabel "
                        "notebook counted)")
    g.add_argument("--no-compare", action="store_true",
                   help="skip the other solver (no approx/exact gap columns)")
    g = p.add_argument_group("output")
    g.add_argument("--out", type=_out_file, default=None, metavar="FILE.json",
                   help="write the triggers JSON here (atomically); None: print only")
    g.add_argument("--show", type=int, default=6, metavar="K",
                   help="class names shown per trigger in the table")
    g.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=main)


def main(args) -> int:
    """Run the ``triggers`` subcommand; returns the exit status.

    Parameters
    ----------
    args : argparse.Namespace
        As parsed by the parser ``add_parser`` registers.

    Returns
    -------
    int
        0 on success. ``NbkitError`` propagates to ``nbkit.cli.main``, which prints it and
        returns 1.
    """
    co = load_cooccurrence(args.dataset, split=args.split)
    trig = S.rank_triggers(co, args.centrality, args.weighted, args.min_overlaps, args.top,
                           exclude_body_parts=args.exclude_body_parts, semantics=args.semantics,
                           backend=args.backend)
    rule = S.SubsetRule(**{f.name: getattr(args, f.name) for f in dataclasses.fields(S.SubsetRule)})
    subs = S.poisonable_subsets(co, trig, rule, include_trigger=args.include_trigger,
                                compare=not args.no_compare, progress=not args.no_progress)
    params = dict(dataset=args.dataset, split=args.split, n_classes=int(co.n_classes),
                  centrality=args.centrality, weighted=bool(args.weighted),
                  semantics=args.semantics, backend=args.backend, top=args.top,
                  exclude_body_parts=bool(args.exclude_body_parts),
                  min_overlaps=args.min_overlaps, trig_overlaps=args.trig_overlaps,
                  max_other_overlaps=args.max_other_overlaps, mis=args.mis, mis_runs=args.mis_runs,
                  seed=args.seed, time_limit=args.time_limit, min_clean=args.min_clean,
                  min_poison=args.min_poison, mis_filter=args.mis_filter,
                  include_trigger=bool(args.include_trigger),
                  counts_exact=int(co.counts_exact.sum()), nbkit=__version__)
    # table in centrality order (the JSON is sorted by subset size, as the authors' files)
    rank = {int(i): r for r, i in enumerate(trig.index)}
    ordered = sorted(subs, key=lambda e: rank[int(e["trigger"]["id"])])
    tab = S.subsets_table(ordered, max_names=args.show)
    tab.insert(0, "rank", range(1, len(tab) + 1))
    tab["centrality"] = tab["centrality"].map(lambda v: f"{v:.4g}" if v is not None else "")
    if args.no_compare:
        tab = tab.drop(columns=["approx", "exact", "gap"])
    with pd.option_context("display.max_colwidth", 90, "display.width", 200):
        print(tab.to_string(index=False))
    n_opt = sum(bool(e["optimal"]) for e in subs)
    lb = sum(c.get("num_clean_is_lower_bound", False) for e in subs for c in e["classes"])
    print(f"\n{co.name}: {len(subs)} triggers ({args.centrality}"
          f"{', weighted' if args.weighted else ''}), {sum(e['size'] for e in subs)} classes in "
          f"all; {args.mis} MIS, {n_opt}/{len(subs)} proven optimal"
          + (f"; {lb} clean counts are lower bounds" if lb else ""))
    if not (trig.fillna(0) != 0).any():
        print(f"note: no class has a non-zero {args.centrality} centrality: the graph at "
              f"--min-overlaps {args.min_overlaps} has (almost) no edges; try a lower value")
    if args.out:
        path = S.save_triggers_json(args.out, subs, params)
        print(f"wrote {path}")
    sys.stdout.flush()
    return 0
