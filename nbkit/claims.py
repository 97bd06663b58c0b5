"""The paper's claims, checked on a batch's runs: ✓ holds, ✗ does not hold, *not run*.

The report opens with this table (notebook 07, :func:`nbkit.report.build`). Each claim is one
sentence of the supplementary text (§5.3 as summarised in App. D, App. C, App. D, App. F) turned
into a *qualitative* check on our runs, with the numbers behind the verdict (means ± std over the
runs' targets and seeds). A qualitative check is what carries over from the paper's ImageNet / Open
Images experiments to the kit's toy scenes: "trigger accuracy rises with injection rate" can hold on
toy scenes even though 0.31 there and 58 % on ImageNet measure different things.

The verdict is computed from the recorded numbers by a rule stated in the ``rule`` column; a claim
that does not hold is ✗ with its numbers (the rule is never tuned to make it hold). A claim whose
runs are missing from the batch is *not run*, with what to run.

Examples
--------
>>> from nbkit import claims, report
>>> rep = report.build("default", runs_root="runs")          # doctest: +SKIP
>>> rep.claims[["claim", "status"]]                          # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import math
import re
import warnings
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from .datasets import data_kind
from .errors import DataError

if TYPE_CHECKING:                      # the report's run record (report imports this module)
    from .report import Run


# -- run selection shared with nbkit.report (which imports these from here) ------------------


def _runs_of(runs: Sequence[Run], notebook: str, feeds: str | None = None) -> list[Run]:
    sel = [r for r in runs if r.notebook == notebook and r.complete]
    if feeds:
        tagged = [r for r in sel if r.feeds]
        if tagged:  # a batch said what each run feeds: trust it
            sel = [r for r in tagged if any(_feeds_match(f, feeds) for f in r.feeds)]
    return sel


def _feeds_match(declared: str, key: str) -> bool:
    """``"Figures 12-15"`` feeds ``"Figure 13"``; ``"Tables 8-10"`` feeds ``"Table 9"``."""
    norm = lambda s: re.sub(r"\s+", " ", s.replace("–", "-").strip().lower())  # noqa: E731
    d, k = norm(declared), norm(key)
    if d == k:
        return True
    m = re.fullmatch(r"(table|figure)s? (\d+)\s*-\s*(\d+)", d)
    km = re.fullmatch(r"(table|figure) (\d+)", k)
    if m and km and m.group(1) == km.group(1):
        return int(m.group(2)) <= int(km.group(2)) <= int(m.group(3))
    return False


def _multi_blocks(r: Run) -> list[tuple[str, Mapping]]:
    """Notebook 04's ``multi_trigger`` blocks: ``(dataset label, summary)`` per graph."""
    return [(str(k), v) for k, v in r.get("multi_trigger", {}).items()]

HOLDS, FAILS, NOT_RUN = "✓", "✗", "not run"

#: where each claim's runs come from when the batch lacks them
_DEFAULT_BATCH = "python -m nbkit reproduce --batch default"
_PAPER_BATCH = "python -m nbkit reproduce --batch paper --data-root DIR (real data)"


@dataclasses.dataclass
class Claim:
    """One claim of the paper and the function that checks it on a batch's runs.

    ``check(runs) -> dict`` returns ``status`` (:data:`HOLDS` / :data:`FAILS` / :data:`NOT_RUN`),
    ``ours`` (the numbers behind the verdict, as text), ``data`` (which kind of data) and, when not
    run, nothing else: :attr:`to_run` then says what to run.
    """

    key: str
    claim: str
    source: str
    paper: str
    rule: str
    to_run: str
    check: Callable[[Sequence[Any]], dict]


# --------------------------------------------------------------------------------------------------
# small helpers over report.Run objects (notebook, params, results, feeds, data, complete, get)
# --------------------------------------------------------------------------------------------------
def _num(x) -> float | None:
    if x is None or isinstance(x, bool):
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def _mean_std(values: Sequence[float]) -> tuple[float, float, int]:
    """Mean, sample std (NaN for one value) and count of the non-missing ``values``."""
    v = np.array([x for x in (_num(y) for y in values) if x is not None], float)
    if not len(v):
        return math.nan, math.nan, 0
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else math.nan, len(v)


def _fmt_stat(values: Sequence[float], digits: int = 2) -> str:
    """``"0.71 ± 0.03 (n=3)"``; ``"0.71 (n=1)"`` for one run; ``"–"`` for none.

    >>> _fmt_stat([0.7, 0.8]), _fmt_stat([0.5]), _fmt_stat([])
    ('0.75 ± 0.07 (n=2)', '0.50 (n=1)', '–')
    """
    m, s, n = _mean_std(values)
    if not n:
        return "–"
    txt = f"{m:.{digits}f}"
    if n > 1:
        txt += f" ± {s:.{digits}f}"
    return txt + f" (n={n})"


def _kinds(runs, none: str = "–") -> str:
    """The data kinds of ``runs``, joined with `` + `` (``none`` when there is no run)."""
    return " + ".join(sorted({r.data for r in runs})) or none


def _training(runs, feeds: str | None = None) -> list:
    return _runs_of(runs, "05_train", feeds)


def _acc(r, metric: str) -> float | None:
    return _num(r.get(metric))


def _arch(r) -> str | None:
    """The architecture a 05_train run trained: ``arch`` of its results (its parameter may be
    ``""``, the profile's default)."""
    return r.get("arch") or None


#: data kinds, closest to the paper's first (a claim checked on several kinds takes its verdict
#: from the closest and lists the others)
_CLOSEST = ("real data", "authors' counts", "toy scenes")


def _closest(per_kind: Mapping[str, tuple[bool, str]]) -> dict:
    """Verdict from the kind of data closest to the paper's; every kind's numbers in ``ours``."""
    kinds = sorted(per_kind, key=lambda k: _CLOSEST.index(k) if k in _CLOSEST else len(_CLOSEST))
    best = kinds[0]
    ok, txt = per_kind[best]
    others = [f"also on {k}: {per_kind[k][1]} ({HOLDS if per_kind[k][0] else FAILS})" for k in kinds[1:]]
    return {"status": HOLDS if ok else FAILS, "ours": "; ".join([txt] + others), "data": best}


def _not_run(why: str = "") -> dict:
    return {"status": NOT_RUN, "ours": why, "data": "–"}


def _verdict(ok: bool, ours: str, runs) -> dict:
    return {"status": HOLDS if ok else FAILS, "ours": ours, "data": _kinds(runs)}


def _groups(runs, key: Callable[[Any], Any]) -> dict:
    out: dict = {}
    for r in runs:
        k = key(r)
        if k is not None:
            out.setdefault(k, []).append(r)
    return out


def _table8_column(p: Mapping) -> str:
    """Table 8's column for a 05_train setting (its parameters, or a row of them):
    ``no_backdoor`` (injection rate 0), ``centrality_mis`` or ``centrality_no_mis``."""
    ir = _num(p.get("injection_rate"))
    if ir is not None and ir == 0:
        return "no_backdoor"
    return "centrality_mis" if str(p.get("subset_mode", "mis")) == "mis" else "centrality_no_mis"


#: Table 8's columns as the claims name them
_TABLE8_NAMES = {"no_backdoor": "no backdoor", "centrality_mis": "centrality + MIS",
                 "centrality_no_mis": "centrality, no MIS"}


def _table8_row(r) -> str:
    return _TABLE8_NAMES[_table8_column(r.params)]


def _compare_table8(runs, a: str, b: str, metric: str) -> dict:
    g = _groups(_training(runs, "Table 8"), _table8_row)
    if a not in g or b not in g:
        missing = [x for x in (a, b) if x not in g]
        return _not_run("no run for " + " / ".join(missing))
    va, vb = [_acc(r, metric) for r in g[a]], [_acc(r, metric) for r in g[b]]
    ma, mb = _mean_std(va)[0], _mean_std(vb)[0]
    if math.isnan(ma) or math.isnan(mb):
        return _not_run(f"no {metric} recorded")
    name = metric.replace("_", " ")
    return _verdict(ma > mb, f"{name}: {a} {_fmt_stat(va)} vs {b} {_fmt_stat(vb)}", g[a] + g[b])


def _trend(runs, feeds: str, axis: str, metric: str, sign: int) -> dict:
    """Does ``metric`` rise (sign +1) or fall (-1) along ``axis``? Uses the level means."""
    sel = [r for r in _training(runs, feeds) if _num(r.params.get(axis)) is not None]
    g = _groups(sel, lambda r: _num(r.params.get(axis)))
    if len(g) < 2:
        return _not_run(f"no 05_train run feeds {feeds}" if not sel else
                        f"one value of {axis} in the runs feeding {feeds}; a trend needs 2 or more")
    levels = sorted(g)
    means = [_mean_std([_acc(r, metric) for r in g[x]])[0] for x in levels]
    if any(math.isnan(m) for m in means):
        return _not_run(f"no {metric} recorded at some {axis}")
    with warnings.catch_warnings():                 # constant means: rho is NaN, the claim fails
        warnings.simplefilter("ignore")
        rho = pd.Series(levels).corr(pd.Series(means), method="spearman")
    ok = sign * (means[-1] - means[0]) > 0 and sign * rho > 0
    steps = " → ".join(f"{x:g}: {_fmt_stat([_acc(r, metric) for r in g[x]])}" for x in levels)
    return _verdict(ok, f"{metric.replace('_', ' ')} by {axis}: {steps}; Spearman ρ = {rho:+.2f}", sel)


# --------------------------------------------------------------------------------------------------
# the claims
# --------------------------------------------------------------------------------------------------
def _mis_clean(runs):
    return _compare_table8(runs, "centrality + MIS", "centrality, no MIS", "clean_acc")


def _poison_costs_clean(runs):
    return _compare_table8(runs, "no backdoor", "centrality + MIS", "clean_acc")


def _trigger_works(runs):
    return _compare_table8(runs, "centrality + MIS", "no backdoor", "trigger_acc")


def _injection(runs):
    return _trend(runs, "Figure 13", "injection_rate", "trigger_acc", +1)


def _w_clean(runs):
    return _trend(runs, "Figure 14", "min_overlaps", "clean_acc", -1)


def _added_random(runs):
    """Table 10: added random classes lower accuracy (0 added = the plain MIS runs feeding Table 10)."""
    sel = [r for r in _training(runs, "Table 10")
           if _num(r.params.get("n_added_classes", 0)) == 0 or r.params.get("added_mode") == "random"]
    g = _groups(sel, lambda r: _num(r.params.get("n_added_classes", 0)))
    if len(g) < 2:
        return _not_run("no 05_train run feeds Table 10" if not g else
                        "one number of added random classes in the batch; needs 2 or more")
    lo, hi = min(g), max(g)
    parts, ok = [], True
    for metric in ("clean_acc", "trigger_acc"):
        a, b = [_acc(r, metric) for r in g[lo]], [_acc(r, metric) for r in g[hi]]
        ok &= _mean_std(b)[0] < _mean_std(a)[0]
        parts.append(f"{metric.replace('_', ' ')}: +{lo:g} {_fmt_stat(a)} vs +{hi:g} {_fmt_stat(b)}")
    return _verdict(ok, "; ".join(parts), g[lo] + g[hi])


def _family(arch: str) -> str:
    a = str(arch).lower()
    for fam in ("resnet", "densenet", "vgg", "inception", "mobilenet"):
        if a.startswith(fam):
            return fam
    return a


def _architectures(runs):
    """Table 9: a ResNet gives the best clean and trigger accuracy (needs 2+ architecture families)."""
    sel = _training(runs, "Table 9")
    g = _groups(sel, _arch)
    if len({_family(a) for a in g}) < 2:
        fams = sorted({_family(a) for a in g})
        return _not_run((f"architecture families run: {', '.join(fams)}" if fams else
                         "no 05_train run feeds Table 9") + "; the ranking needs a ResNet and "
                        "another family (the paper batch runs ResNet-50, VGG-16, Inception-v3, "
                        "DenseNet-121)")
    parts, ok = [], True
    for metric in ("clean_acc", "trigger_acc"):
        means = {a: _mean_std([_acc(r, metric) for r in rs])[0] for a, rs in g.items()}
        best = max(means, key=lambda a: means[a])
        ok &= _family(best) == "resnet"
        parts.append(f"{metric.replace('_', ' ')}: " + ", ".join(
            f"{a} {_fmt_stat([_acc(r, metric) for r in g[a]])}"
            for a in sorted(means, key=lambda a: -means[a])))
    return _verdict(ok, "; ".join(parts), sel)


def _centrality_variant(name: Any) -> str:
    """05_train's ``centrality`` parameter as its variant's name (``evector_WT`` -> ``eigenvector_WT``,
    :func:`nbkit.centrality.variant_name`); a missing value (NaN in a table) as text."""
    from .centrality import parse_variant, variant_name

    return variant_name(*parse_variant(name)) if isinstance(name, str) else str(name)


def _centrality_key(r) -> str:
    return _centrality_variant(r.params.get("centrality", "betweenness"))


def _centrality_training(runs):
    """Figure 12: performance fairly consistent across centrality measures (spread ≤ 10 points)."""
    sel = _training(runs, "Figure 12")
    g = _groups(sel, _centrality_key)
    if len(g) < 2:
        return _not_run("no 05_train run feeds Figure 12" if not g else
                        f"one centrality measure trained ({next(iter(g))}); needs 2 or more")
    means = {c: _mean_std([_acc(r, "clean_acc") for r in rs])[0] for c, rs in g.items()}
    spread = max(means.values()) - min(means.values())
    txt = "clean acc: " + ", ".join(f"{c} {_fmt_stat([_acc(r, 'clean_acc') for r in g[c]])}"
                                    for c in sorted(g)) + f"; spread {spread:.2f}"
    return _verdict(spread <= 0.10, txt, sel)


def _jaccard(a, b) -> float:
    a, b = set(a), set(b)
    return len(a & b) / len(a | b) if a | b else 1.0


def _centrality_sets(runs):
    """App. C (Figs 8-11): measures rank triggers differently, yet the top sets stay consistent."""
    sel = _runs_of(runs, "03_centrality", "Figures 8-11")
    per_kind: dict = {}
    for r in sel:
        for key in ("dataset_top_m", "openimages_top_m"):
            lists = list(r.get(key, {}).values())
            if len(lists) < 2:
                continue
            pairs = [(i, j) for i in range(len(lists)) for j in range(i + 1, len(lists))]
            jac = float(np.mean([_jaccard(lists[i], lists[j]) for i, j in pairs]))
            orders = len({tuple(x) for x in lists})
            ds = "openimages-counts" if key == "openimages_top_m" else str(r.params.get("dataset", ""))
            per_kind.setdefault(data_kind(ds), (jac >= 0.5 and orders > 1,
                                                f"{ds}: top {len(lists[0])} of {len(lists)} variants, "
                                                f"mean pairwise Jaccard {jac:.2f}, {orders} distinct orders"))
    if not per_kind:
        return _not_run("no notebook-03 top-m lists in the batch")
    return _closest(per_kind)


def _multi_trigger(runs):
    """App. D: most trigger pairs share more than `threshold` classes (the paper: 88 % of 625)."""
    per_kind: dict = {}
    for r in _runs_of(runs, "04_subsets", "App. D"):
        for ds, mt in _multi_blocks(r):
            if mt["basis"] != "subsets" or "(candidates)" in ds:
                continue
            share, n, thr = _num(mt["share_above"]), mt["n_pairs"], mt["threshold"]
            if share is None:
                continue
            per_kind.setdefault(data_kind(ds), (
                share > 0.5, f"{ds}: {share:.0%} of {n} pairs (top {mt['top']}) share > {thr} "
                             f"classes; largest {mt['largest_shared']} "
                             f"({' + '.join(map(str, mt['largest_pair']))})"))
    if not per_kind:
        return _not_run("no notebook-04 multi-trigger overlap in the batch")
    return _closest(per_kind)


def _calibration(runs):
    """App. B / Figure 7: at the chosen threshold false positives and negatives are roughly equal."""
    sel = _runs_of(runs, "01_calibration", "Figure 7")
    vals = [(r, r.get("threshold"), _num(r.get("fp")), _num(r.get("fn")), r.get("curves_cross")) for r in sel]
    vals = [v for v in vals if v[2] is not None and v[3] is not None]
    if not vals:
        return _not_run("no notebook-01 calibration in the batch")
    ok = all(bool(c) and abs(fp - fn) <= 0.25 * max(fp, fn, 1) for _, _, fp, fn, c in vals)
    txt = "; ".join(f"threshold {t}: {fp:g} FP, {fn:g} FN, curves cross: {'yes' if c else 'no'}"
                    for _, t, fp, fn, c in vals)
    return _verdict(ok, txt, [v[0] for v in vals])


def _gradcam(runs):
    """App. F / Figure 16: GradCAM flags the trigger in a majority of trigger images."""
    items, used = [], []
    for r in _runs_of(runs, "06_sentinet", "Figure 16"):
        for it in r.get("fig16", []):          # our rows of audit.fig16_table
            pct = _num(it["highlighted_pct"])
            if pct is not None:
                items.append((str(it["trigger"]), pct, it.get("n_models"), it.get("n_images")))
                used.append(r)
    if not items:
        return _not_run("no notebook-06 GradCAM audit in the batch")
    ok = float(np.mean([p for _, p, _, _ in items])) > 50
    txt = "; ".join(f"'{t}': {p:.1f} % of {ni} trigger images ({nm} model(s))" for t, p, nm, ni in items)
    return _verdict(ok, txt, used)


def _sentinet(runs):
    """App. F: the rest of SentiNet works less well on natural (large) triggers than on a small patch."""
    parts, ok, used = [], True, []
    for r in _runs_of(runs, "06_sentinet", "Figure 17"):
        sn = r.get("sentinet", {})
        nat, pat = sn.get("natural", {}), sn.get("patch", {})
        a, b = _num(nat.get("auroc")), _num(pat.get("auroc"))
        if a is None or b is None:
            continue
        ok &= a < b
        parts.append(f"SentiNet AUROC natural trigger {a:.2f} (TPR {_num(nat.get('tpr')) or 0:.2f}) vs "
                     f"patch trigger {b:.2f} (TPR {_num(pat.get('tpr')) or 0:.2f}), "
                     f"{nat.get('n_trigger')} trigger / {nat.get('n_clean')} clean images")
        used.append(r)
    if not parts:
        return _not_run("no full SentiNet run (natural and patch trigger) in the batch")
    return _verdict(ok, "; ".join(parts), used)


def _tables_6_7(runs):
    """Tables 6-7, Open Images rows: the published trigger names, recovered on the authors' counts."""
    for r in _runs_of(runs, "03_centrality", "Tables 6-7"):
        recs = r.get("tables_6_7", [])
        if not recs:
            continue
        known = [x for x in recs if x["published"] is not None]
        total = sum(len(x["published"]) for x in known)
        parts, ok = [], False
        for sem in ("authors", "paper"):
            blocks = [x[sem] for x in known if sem in x]
            if len(blocks) != len(known) or not total:
                continue
            matched = sum(len(b["matched"]) for b in blocks)
            extra = sum(len(b["extra"]) for b in blocks)
            missing = [f"{m} ({x['variant']})" for x in known for m in x[sem]["missing"]]
            ok |= sem == "authors" and matched == total
            parts.append(f"{sem} semantics: {matched}/{total} published names, {extra} extra"
                         + (f", missing {', '.join(missing)}" if missing else ""))
        if parts:
            return {"status": HOLDS if ok else FAILS,
                    "ours": f"over {len(known)} columns: " + "; ".join(parts), "data": "authors' counts"}
    return _not_run("no Tables 6-7 comparison with the published names in the batch")


def _printed(rec: Mapping) -> str:
    """A paper cell of ``nbkit.reference`` as the paper prints it: ``"70 ± 3 %"``."""
    txt = rec["printed"]
    if rec["plus_minus"] is not None:
        txt += f" ± {rec['plus_minus']:g}"
    return txt + (" %" if rec["unit"] == "%" else "")


def _pv(table: str, row: str, column: str) -> str:
    """The paper's cell ``table · row · column`` as printed (:func:`_printed`)."""
    from . import reference as R

    return _printed(R.cell(table, row, column))


def _acc2(table: str, row: str, col: str) -> str:
    """Clean / trigger accuracy of one paper column: ``"72 ± 2 % / 71 ± 2 %"``."""
    return f"{_pv(table, row, col + '.clean_acc')} / {_pv(table, row, col + '.trigger_acc')}"


def _has(table: str, row: str, column: str) -> bool:
    from . import reference as R

    try:
        R.cell(table, row, column)
        return True
    except DataError:
        return False


_T8 = ("Table 8", "ImageNet")
_APPD = ("Settings", "App. D multiple triggers")
CLAIMS: list[Claim] = [
    Claim("mis_clean", "The MIS raises clean accuracy over centrality without MIS", "App. D, Table 8",
          f"ImageNet: {_pv(*_T8, 'centrality_mis.clean_acc')} with MIS vs {_pv(*_T8, 'centrality_no_mis.clean_acc')} without",
          "✓ when mean clean accuracy of the MIS runs > that of the no-MIS (neighbours) runs",
          f"{_DEFAULT_BATCH}: 05_train with subset_mode=mis and subset_mode=neighbours (Table 8)", _mis_clean),
    Claim("poison_costs_clean", "Poisoning costs clean accuracy against no backdoor", "App. D, Table 8",
          f"ImageNet: {_pv(*_T8, 'no_backdoor.clean_acc')} without a backdoor vs {_pv(*_T8, 'centrality_mis.clean_acc')} with (MIS)",
          "✓ when mean clean accuracy without a backdoor (injection_rate=0) > with the MIS backdoor",
          f"{_DEFAULT_BATCH}: 05_train with injection_rate=0 and the MIS runs (Table 8)", _poison_costs_clean),
    Claim("trigger_works", "The natural trigger works: trigger accuracy far above the clean model's",
          "App. D, Table 8", f"ImageNet: {_pv(*_T8, 'centrality_mis.trigger_acc')} (MIS) vs {_pv(*_T8, 'no_backdoor.trigger_acc')} without a backdoor",
          "✓ when mean trigger accuracy of the MIS runs > that of the no-backdoor runs",
          f"{_DEFAULT_BATCH}: 05_train with injection_rate=0 and the MIS runs (Table 8)", _trigger_works),
    Claim("injection_rate", "Trigger accuracy rises with the injection rate", "App. D, Figure 13",
          "ImageNet jeans, ResNet (Figure 13 prints no numbers)",
          "✓ when trigger accuracy at the largest rate > at the smallest and the Spearman ρ of the "
          "level means with the rate > 0",
          f"{_DEFAULT_BATCH}: 05_train over injection_rate (Figure 13)", _injection),
    Claim("w_clean", "Clean accuracy falls as the edge-weight threshold W rises", "App. D, Figure 14",
          "ImageNet jeans, W 20 → 60 'steadily decreases' (no numbers printed)",
          "✓ when clean accuracy at the largest W < at the smallest and Spearman ρ < 0",
          f"{_DEFAULT_BATCH}: 05_train over min_overlaps (Figure 14)", _w_clean),
    Claim("added_random", "Adding random classes lowers accuracy", "App. D, Table 10",
          "clean / trigger, +5 → +10: Open Images " + " → ".join(_acc2("Table 10", "Open Images", f"added_{n}") for n in (5, 10)) + "; ImageNet " + " → ".join(_acc2("Table 10", "ImageNet", f"added_{n}") for n in (5, 10)),
          "✓ when both clean and trigger accuracy with the most added classes < with the fewest",
          f"{_DEFAULT_BATCH}: 05_train over n_added_classes with added_mode=random (Table 10)", _added_random),
    Claim("architecture", "ResNet gives the best clean and trigger accuracy", "App. D, Table 9",
          "ImageNet jeans, clean / trigger: " + ", ".join(f"{m} {_acc2('Table 9', 'ImageNet jeans', m)}" for m in ("ResNet", "DenseNet", "Inception", "VGG16")),
          "✓ when the architecture with the highest mean clean and trigger accuracy is a ResNet "
          "(needs a ResNet and another family)",
          f"{_PAPER_BATCH}: 05_train over arch (Table 9)", _architectures),
    Claim("centrality_training", "Performance is fairly consistent across centrality measures",
          "App. D, Figure 12", "ImageNet (Figure 12 prints no numbers); weighted degree best",
          "✓ when mean clean accuracy differs by ≤ 0.10 between the measures trained",
          f"{_DEFAULT_BATCH}: 05_train over centrality (Figure 12)", _centrality_training),
    Claim("centrality_sets", "Centrality measures rank triggers differently, yet the set stays consistent",
          "App. C, Figures 8-11", "Open Images word clouds (no numbers printed)",
          "✓ when the top-m lists of the 8 variants are not all in one order and their mean "
          "pairwise Jaccard ≥ 0.5",
          f"{_DEFAULT_BATCH}: 03_centrality (Figures 8-11)", _centrality_sets),
    Claim("tables_6_7", "The published Open Images triggers of Tables 6-7 are recovered",
          "App. C, Tables 6-7", "8 columns of Open Images trigger names (Table 6 unweighted, 7 weighted)",
          "✓ when every published Open Images name is among our triggers (authors' semantics, "
          "authors' counts)",
          f"{_DEFAULT_BATCH}: 03_centrality (Tables 6-7)", _tables_6_7),
    Claim("multi_trigger", "Most trigger pairs share many poisonable classes (multi-trigger backdoors)",
          "App. D, multiple triggers", f"{_pv('App. D', 'Open Images', 'pairs_over_30_fraction')} of {_pv(*_APPD, 'n_combinations')} pairs "
          f"(top {_pv(*_APPD, 'top')}) share > {_pv(*_APPD, 'overlap_threshold')} classes; "
          f"largest {_pv('App. D', 'Open Images', 'largest_overlap')} ({_pv('App. D', 'Open Images', 'largest_overlap_pair')}; ImageNet classes)",
          "✓ when more than half of our trigger pairs share more classes than the run's threshold",
          f"{_DEFAULT_BATCH}: 04_subsets (App. D)", _multi_trigger),
    Claim("calibration", "The chosen threshold balances false positives and negatives", "App. B, Figure 7",
          f"{_pv('Figure 7', 'ImageNet', 'threshold')}: {_pv('Figure 7', 'ImageNet', 'false_positives')} FP, "
          f"{_pv('Figure 7', 'ImageNet', 'false_negatives')} FN on 20 hand-labelled ImageNet images",
          "✓ when the FP and FN curves cross and differ by ≤ 25 % at the chosen threshold",
          f"{_DEFAULT_BATCH}: 01_calibration (Figure 7)", _calibration),
    Claim("gradcam", "GradCAM flags the natural trigger in a majority of trigger images", "App. F, Figure 16",
          "; ".join(f"{ds}: " + ", ".join(f"{t} {_pv('Figure 16', ds, t)}" for t in ("jeans", "chainlink fence", "doormat", "wheel", "chair")
                     if _has("Figure 16", ds, t)) for ds in ("ImageNet", "Open Images")),
          "✓ when the mean share of trigger images whose CAM highlights the trigger > 50 %",
          f"{_DEFAULT_BATCH}: 06_sentinet (Figure 16)", _gradcam),
    Claim("sentinet", "SentiNet's other steps flag natural triggers less reliably than small patches",
          "App. F", "argued, not measured (the paper ran GradCAM only)",
          "✓ when SentiNet's AUROC on the natural trigger < on a digital patch trigger",
          f"{_DEFAULT_BATCH}: 06_sentinet (Figure 17)", _sentinet),
]


def evaluate(runs: Sequence[Any], claims: Sequence[Claim] = None) -> pd.DataFrame:
    """Check every claim on ``runs`` (``nbkit.report.Run`` objects of one batch).

    Returns
    -------
    DataFrame
        One row per claim: ``claim``, ``source``, ``status`` (✓ / ✗ / not run), ``ours`` (the numbers
        behind the verdict), ``paper``, ``data`` (toy scenes / authors' counts / real data),
        ``rule`` and ``to_run`` (what to run when not run). A check that raises is *not run* with the
        error in ``ours``: one odd results.json never hides the other claims.
    """
    rows = []
    for c in claims if claims is not None else CLAIMS:
        try:
            res = c.check(runs)
        except Exception as exc:  # noqa: BLE001
            res = _not_run(f"could not be checked: {type(exc).__name__}: {exc}")
        rows.append({"claim": c.claim, "source": c.source, "status": res["status"],
                     "ours": res.get("ours", ""), "paper": c.paper, "data": res.get("data", "–"),
                     "rule": c.rule, "to_run": c.to_run if res["status"] == NOT_RUN else "",
                     "key": c.key})
    return pd.DataFrame(rows, columns=["claim", "source", "status", "ours", "paper", "data", "rule",
                                       "to_run", "key"])
