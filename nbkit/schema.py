"""The fixed shape of each notebook's ``results.json``: one versioned schema per notebook.

Every notebook ends with ``runs.save_results(run_dir, "<notebook>", results)``; ``save_results``
checks ``results`` against the notebook's schema here (every required key present, no key the
schema does not name, each value of its kind), stamps it ``"schema": "<notebook>/<version>"`` and
only then writes it. ``runs.load_results`` checks the stamp, so the report and the claims read each
key from one known place and never guess between spellings. Adding, renaming or retyping a key means
changing its schema here and raising ``version``; a run written under another version is reported as
such ("rerun it") instead of half-read.

Kinds: ``number`` (int or float, NaN allowed), ``int``, ``str``, ``bool``, ``list``, ``dict``,
``any``; a trailing ``?`` also allows ``null``.

Examples
--------
>>> s = Schema("00_demo", 1, {"acc": Field("number", "clean accuracy")})
>>> s.check({"acc": 0.5}, "demo")
>>> s.check({"acc": "high"}, "demo")
Traceback (most recent call last):
...
nbkit.errors.DataError: demo: results key 'acc' is a str (expected number: clean accuracy (schema 00_demo/1))
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import DataError

_KINDS = {
    "number": (int, float), "int": (int,), "str": (str,), "bool": (bool,), "list": (list, tuple),
    "dict": (dict,), "any": (object,),
}


@dataclass(frozen=True)
class Field:
    """One ``results.json`` key: its kind (see the module docstring), what it holds, and whether a
    run may leave it out (``optional``: only under the parameters its ``doc`` names)."""
    kind: str
    doc: str
    optional: bool = False

    def __post_init__(self):
        if self.kind.rstrip("?") not in _KINDS:
            raise ValueError(f"unknown kind {self.kind!r}; one of {sorted(_KINDS)} (optionally with '?')")

    def accepts(self, value: Any) -> bool:
        if value is None:
            return self.kind.endswith("?") or self.kind == "any"
        kind = self.kind.rstrip("?")
        if isinstance(value, bool) and kind in ("number", "int"):
            return False
        return isinstance(value, _KINDS[kind])


@dataclass(frozen=True)
class Schema:
    """The keys of one notebook's ``results.json`` (``fields``), at ``version``."""
    notebook: str
    version: int
    fields: Mapping[str, Field] = field(default_factory=dict)

    @property
    def tag(self) -> str:
        return f"{self.notebook}/{self.version}"

    def check(self, results: Mapping[str, Any], source: Any) -> None:
        """Raise ``DataError`` (naming ``source`` and the key) unless ``results`` fits."""
        keys = [k for k in results if k != "schema"]
        unknown = [k for k in keys if k not in self.fields]
        if unknown:
            raise DataError(source, f"results keys {unknown} are not in schema {self.tag}",
                            f"the keys nbkit.schema names for {self.notebook}: {sorted(self.fields)}")
        missing = [k for k, f in self.fields.items() if not f.optional and k not in results]
        if missing:
            raise DataError(source, f"results lack the keys {missing} (schema {self.tag})",
                            "; ".join(f"{k}: {self.fields[k].doc}" for k in missing))
        for k in keys:
            f = self.fields[k]
            if not f.accepts(results[k]):
                raise DataError(source, f"results key {k!r} is a {type(results[k]).__name__}",
                                f"{f.kind}: {f.doc} (schema {self.tag})")


def _f(kind: str, doc: str, optional: bool = False) -> Field:
    return Field(kind, doc, optional)


#: one schema per notebook; the report and the claims read only these keys
SCHEMAS: dict[str, Schema] = {}


def register(schema: Schema) -> Schema:
    """Add ``schema`` to ``SCHEMAS`` (one per notebook)."""
    if schema.notebook in SCHEMAS and SCHEMAS[schema.notebook] != schema:
        raise ValueError(f"a schema for {schema.notebook} is already registered")
    SCHEMAS[schema.notebook] = schema
    return schema


def schema_for(notebook: str, source: Any = None) -> Schema:
    """The schema of ``notebook`` (``DataError`` naming ``source`` when there is none)."""
    try:
        return SCHEMAS[notebook]
    except KeyError:
        raise DataError(source or notebook, f"no results schema for notebook {notebook!r}",
                        f"one of {sorted(SCHEMAS)} (nbkit.schema)") from None


def stamp(notebook: str, results: Mapping[str, Any], source: Any = None) -> dict:
    """``results`` checked against ``notebook``'s schema, with its ``"schema"`` tag added."""
    s = schema_for(notebook, source)
    s.check(results, source or notebook)
    return {"schema": s.tag, **{k: v for k, v in results.items() if k != "schema"}}


def check_stamp(results: Mapping[str, Any], source: Any) -> str:
    """The notebook whose current schema ``results`` was written under; ``DataError`` when it carries
    no stamp or another version's (the run predates this kit: rerun it)."""
    tag = results.get("schema") if isinstance(results, Mapping) else None
    if not isinstance(tag, str) or "/" not in tag:
        raise DataError(source, "results.json carries no schema stamp",
                        "a run written by this kit (rerun the notebook)")
    notebook, _, version = tag.rpartition("/")
    s = schema_for(notebook, source)
    if version != str(s.version):
        raise DataError(source, f"results.json was written under schema {tag}",
                        f"schema {s.tag}: rerun the notebook with this kit")
    return notebook


# --- the schemas, one block per notebook (the block's owner keeps its docs current) ---

#: 01_calibration: App. B / Figure 7, built by ``nbkit.calibrate.calibration_results``. Counts are
#: false positives / false negatives over the image x class pairs of the hand-labelled sample.
_CHOICE = ("{threshold, fp, fn, fp_plus_fn}: the threshold this rule picks on our sweep and its "
           "counts (the choice of nbkit.calibrate.calibrate_directory)")
register(Schema("01_calibration", 1, {
    "mode": _f("str", "'toy' (simulated labeller on toy scenes) or 'real' (relabel_dir was set)"),
    "dataset": _f("str", "the toy-scenes dataset spec (toy mode) or the ReLabel folder (real mode)"),
    "n_images": _f("int", "hand-labelled images calibrated on (the paper: 20)"),
    "rule": _f("str", "the threshold rule used for the choice: crossing | balanced | min_total"),
    "threshold": _f("number", "the chosen confidence threshold (softmax probability, 0..1)"),
    "fp": _f("int", "false positives at the chosen threshold (classes the maps add)"),
    "fn": _f("int", "false negatives at the chosen threshold (hand labels the maps miss)"),
    "fp_plus_fn": _f("int", "fp + fn at the chosen threshold"),
    "curves_cross": _f("bool", "whether FP starts at or above FN and FN reaches FP within the sweep"),
    "crossing": _f("dict", _CHOICE + ", plus curves_cross; rule 'crossing': lowest threshold with FN >= FP"),
    "balanced": _f("dict", _CHOICE + "; rule 'balanced': smallest |FP - FN|"),
    "min_total": _f("dict", _CHOICE + "; rule 'min_total': smallest FP + FN"),
    "fp_at_start": _f("int", "false positives at the sweep's first threshold (threshold_start)"),
    "fn_at_start": _f("int", "false negatives at the sweep's first threshold (threshold_start)"),
    "fp_at_stop": _f("int", "false positives at the sweep's last threshold (threshold_stop)"),
    "fn_at_stop": _f("int", "false negatives at the sweep's last threshold (threshold_stop)"),
    "n_true_labels": _f("int", "hand labels (image x class pairs) in the sample"),
    "decoding_options": _f("list", "one record per decoding variant (nbkit.calibrate.DECODING_VARIANTS): "
                                   "decoding, chosen_threshold, fp_at_chosen, fn_at_chosen, and "
                                   "fp_at_<t> / fn_at_<t> at our chosen threshold t (3 decimals)"),
    "large_sample": _f("dict?", "toy mode only, else null (also null when large_sample = 0): "
                                "n_images (large sample), threshold (its expected crossing), "
                                "fp_per_sample / fn_per_sample (its FP / FN there, scaled to n_images "
                                "images), draws, draw_threshold_median / _p05 / _p95 (thresholds "
                                "chosen on random n_images-image samples), by_sample_size (records "
                                "sample_size, median, p05, p95, share_at_0.994)"),
    "paper": _f("dict", "the paper's App. B choice: threshold 0.994, fp, fn, fp_plus_fn, n_images "
                        "(nbkit.reference.CALIBRATION)"),
    "timing": _f("dict", "wall-clock seconds: sample_s (writing / reading the sample), and "
                         "large_sample_s when the large-sample study ran"),
}))

#: 02_cooccurrence: Algorithm 1's graph and Table 5, built by ``nbkit.graph.cooccurrence_results``.
#: Counts are images (overlaps = images containing both classes).
register(Schema("02_cooccurrence", 1, {
    "dataset": _f("str", "the nbkit.datasets spec the graph is built from"),
    "min_overlaps": _f("int", "the edge threshold: an edge when M[i, j] >= min_overlaps images"),
    "table5": _f("list", "Table 5 rows (nbkit.graph.table5_of): dataset, classes, classes_with_images, "
                         "images, labels_per_image, objects_per_image, objects_basis, min_overlaps, "
                         "edges, isolated, components, note; null where class-level counts do not "
                         "determine a value (note says why); the chosen dataset first, then each "
                         "table5_extra spec"),
    "graph": _f("dict", "summary of the graph at min_overlaps (nbkit.graph.degree_weight_distributions): "
                        "vertices, edges, density, isolated, components, largest_component, "
                        "degree_mean, degree_max, degree_quantiles, weight_quantiles (overlaps, "
                        "images), weight_total"),
    "top_degree": _f("list", "the 10 classes of highest degree: class_id, name, degree (neighbours), "
                             "strength (weighted degree, summed overlaps in images)"),
    "core_by_degree": _f("list", "names of the top_k classes of highest degree (the core drawing; "
                                 "top_k at most 15 in a smoke run)"),
    "core_by_weighted_degree": _f("list", "names of the top_k classes of highest weighted degree"),
    "threshold_sweep": _f("list", "one record per min_overlaps of the thresholds parameter (its first 4 "
                                  "in a smoke run): min_overlaps, edges, isolated, components, "
                                  "largest_component, density"),
    "timing": _f("dict", "wall-clock seconds: cooccurrence_s (counting M) for per-image datasets; "
                         "empty for class-level counts"),
}))

#: 03_centrality: centrality rankings, word clouds and Tables 6-7 (built by
#: ``nbkit.centrality.centrality_results``). Version 2: the settings records name the MIS choices
#: ``mis`` / ``mis_filter`` / ``mis_runs`` (version 1: ``method`` / ``filter`` / ``runs``).
register(Schema("03_centrality", 2, {
    "dataset": _f("str", "the chosen dataset's spec (parameter dataset; sections 1, 3 and 5)"),
    "semantics": _f("str", "centrality semantics of sections 1-3 and 5: paper, networkx or authors"),
    "backend": _f("str", "library that computed the centralities: igraph or networkx"),
    "dataset_top_m": _f("dict", "variant (betweenness, betweenness_WT, ...) -> the chosen dataset's "
                                "top_m class names, body parts left out (section 1)"),
    "semantics_comparison": _f("list", "per variant: the top_m names only the run's semantics ranks "
                                       "there (only_<base>_not_<s>), only another semantics does "
                                       "(only_<s>), and their Jaccard index (jaccard_<s>)"),
    "openimages_graph_tool_check": _f("dict", "the kit's betweenness on the authors' Open Images "
                                              "counts beside graph-tool's recorded values: values, "
                                              "max_abs_diff, reference (CSV name); without "
                                              "../shared/realdata: values 3, top3, top3_values, "
                                              "reference null"),
    "openimages_top_m": _f("dict", "variant -> top_m class names on the authors' Open Images "
                                   "counts at oi_min_overlaps (section 2)"),
    "openimages_min_overlaps": _f("int", "graph edge threshold W of the Open Images sections "
                                         "(parameter oi_min_overlaps)"),
    "tables_6_7": _f("list", "Tables 6-7, Open Images rows, one record per variant: table, variant, "
                             "weighted, dataset, published (names or null) and per semantics "
                             "(authors, paper) {names, matched, missing, extra}"),
    "tables_6_7_setting": _f("dict", "the setting of tables_6_7: nbkit.subsets.PAPER_TABLES_6_7 (m, "
                                     "min_overlaps, trig_overlaps, max_other_overlaps, min_clean, "
                                     "min_poison, poison_above, min_classes, mis, mis_filter) plus "
                                     "dataset, exclude, counts_lower_bounds"),
    "trigger_table_dataset": _f("dict", "section 5, the chosen dataset at the run's thresholds: "
                                        "setting (m, min_classes, min_overlaps, trig_overlaps, "
                                        "max_other_overlaps, min_clean, min_poison, exclude, mis, "
                                        "mis_filter, mis_runs, seed, poison_above, semantics, "
                                        "counts_exact, n_classes), table (rows variant, n_triggers, "
                                        "triggers, sizes), triggers (variant -> names)"),
    "timing": _f("dict", "wall-clock seconds per section (the only values that differ between "
                         "identical runs)"),
}))

#: 04_subsets: poisonable subsets, the authors' checks, App. D and Figure 14's graph side (built
#: by ``nbkit.subsets.subsets_results``).
register(Schema("04_subsets", 1, {
    "dataset": _f("str", "the chosen dataset's spec (parameter dataset)"),
    "compare_dataset": _f("str?", "the second dataset of sections 3-5 (parameter compare_dataset); "
                                  "null when it is empty (skipped)"),
    "triggers_file": _f("str", "name of the triggers file in the run folder (possible_triggers.json, "
                               "the authors' format, read by notebook 05)"),
    "best_trigger": _f("dict", "the trigger with the largest poisonable subset: name, id, classes "
                               "(names), optimal (proven maximum)"),
    "approx_vs_exact": _f("dict", "dataset spec -> triggers, exact_total, approx_total, "
                                  "triggers_with_gap, max_gap, all_optimal, subset_sizes (trigger "
                                  "-> classes), lower_bound_clean_counts; compare_dataset's entry "
                                  "only when it ran"),
    "authors_checks": _f("dict", "against the authors' own outputs: feb2022_files, "
                                 "feb2022_same_triggers, feb2022_theirs_valid, relabel_sets, "
                                 "relabel_exact_at_least_authors, relabel_exact_larger; empty "
                                 "without ../shared/realdata"),
    "multi_trigger": _f("dict", "App. D per dataset and basis ('<spec>' subsets, '<spec> "
                                "(candidates)'): basis, top, threshold, n_pairs (top x top cells), "
                                "share_above, distinct_pairs, share_distinct_pairs_above, "
                                "largest_shared, largest_pair, mean_shared, share_distinct_pairs_any, "
                                "top_pairs, triggers"),
    "edge_weight_ablation": _f("dict", "Figure 14, graph side: dataset spec -> one row per W "
                                       "(min_overlaps, n_triggers, n_nonempty, mean_size, "
                                       "median_size, max_size, total_classes, all_optimal, "
                                       "frac_cells_above, frac_pairs_above, largest_pair, "
                                       "largest_shared)"),
    "paper_app_d": _f("dict", "the paper's App. D values and printed setting (nbkit.reference): "
                              "dataset_named, top, min_overlaps, trig_overlaps, centrality, "
                              "overlap_threshold, n_cells, share_above_pct, largest_shared, "
                              "largest_pair, basis, note, source"),
    "app_d_vs_paper": _f("dict", "multi_trigger key -> rows quantity, ours, paper, comparable, "
                                 "note, dataset, data, paper_dataset, paper_source "
                                 "(nbkit.subsets.app_d_comparison)"),
    "timing": _f("dict", "wall-clock seconds per section (the only values that differ between "
                         "identical runs)"),
}))

#: 05_train: one trained natural backdoor (paper §5, Tables 8-10, Figures 12-15), written by
#: ``nbkit.curate.train_results``. Every key is present in every run (none optional).
register(Schema("05_train", 1, {
    "clean_acc": _f("number", "headline clean accuracy: the test set chosen by the clean_test definition"),
    "trigger_acc": _f("number", "headline trigger accuracy (attack success) under the trigger_acc definition"),
    "clean_acc_separate": _f("number", "clean accuracy on the held-out clean test images only (ours)"),
    "clean_acc_authors": _f("number", "clean accuracy on clean + poison test images, poison labelled target (authors' code)"),
    "trigger_acc_nontarget": _f("number", "share of held-out poison images of a non-target true class predicted as the target (paper)"),
    "trigger_acc_authors": _f("number", "share of all held-out poison images, target class included, predicted as the target (authors' code)"),
    "clean_loss": _f("number", "mean cross-entropy on the headline clean test set (clean_test definition)"),
    "trigger_loss": _f("number", "mean cross-entropy, against the target label, on the headline trigger test set (trigger_acc definition)"),
    "train_loss": _f("number", "mean cross-entropy over the last epoch's training batches (clean and poison images)"),
    "train_clean_acc": _f("number", "accuracy on the clean training images during the last epoch"),
    "train_trigger_acc": _f("number", "share of poison training images predicted as the target during the last epoch"),
    "definitions": _f("dict", "which definitions the headline numbers use: {clean_test, trigger_acc}"),
    "dataset": _f("str", "dataset spec the images came from (nbkit.datasets)"),
    "trigger": _f("dict", "the trigger class: {id, name}"),
    "target": _f("dict", "the target class: {id, name, index (model output)}"),
    "classes": _f("list", "the poisonable classes in model-output order: [{id, name}]"),
    "classes_parameter": _f("str", "the classes parameter as given (empty: classes chosen by subset_mode)"),
    "classes_given": _f("bool", "whether the classes parameter fixed the poisonable classes"),
    "class_labels": _f("list", "dataset labels of the poisonable classes, in model-output order"),
    "added_classes": _f("list", "clean-only extra classes (Figure 15 / Table 10): [{id, name}], empty when none"),
    "n_filled_classes": _f("int", "clean-only classes that fill the trigger's subset up to n_classes"),
    "centrality": _f("str", "centrality variant that ranked the triggers (Figure 12)"),
    "centrality_value": _f("number", "the trigger's value under that centrality (NaN when outside the ranking)"),
    "ranking": _f("list", "top 5 of the trigger ranking: [{id, name, value}]"),
    "subset_mode": _f("str", "mis (centrality + MIS) or neighbours (centrality without MIS), Table 8"),
    "subset_size": _f("int", "eligible classes of the trigger's subset before keeping n_classes (given: their number)"),
    "subsets_source": _f("str", "where the poisonable subset came from: a 04_subsets run, computed here, or given"),
    "min_overlaps": _f("int", "edge-weight threshold W of the co-occurrence graph (Figure 14)"),
    "injection_rate": _f("number", "poison share of the poisoned classes' training data asked for (Figure 13)"),
    "spec": _f("dict", "the full BackdoorSpec (nbkit.curate) the manifest was drawn from"),
    "counts": _f("dict", "manifest counts: clean/poison x train/test, injection_rate_achieved, per_class"),
    "ambiguous_total": _f("int", "images holding two or more chosen classes (dropped or kept, per the spec)"),
    "multi_class_images_used": _f("int", "manifest images holding more than one chosen class"),
    "history": _f("list", "one record per epoch: losses and accuracies, train and test, both definitions"),
    "epochs_done": _f("int", "epochs trained (resumed ones included)"),
    "complete": _f("bool", "whether every configured epoch ran"),
    "arch": _f("str", "torchvision architecture trained (Table 9)"),
    "profile": _f("str", "training profile: toy, paper or smoke (nbkit.train.PROFILES)"),
    "config": _f("dict", "the effective training configuration (architecture, optimizer, lr, epochs, sizes, freezing)"),
    "parameters": _f("dict", "model parameter counts: {trainable, total}"),
    "device": _f("str", "torch device the model trained on (cpu, cuda)"),
    "amp": _f("str", "mixed precision used: off, bf16 or fp16"),
    "channels_last": _f("bool", "whether the channels_last memory format was used"),
    "deterministic": _f("bool", "whether torch ran with deterministic algorithms (bit-identical reruns)"),
    "skipped_images": _f("int", "manifest images skipped as unreadable (skip_bad_images)"),
    "skipped_files": _f("list", "files of the skipped images"),
    "files": _f("dict", "artifacts in the run folder: model, model_meta, manifest, log, curves"),
    "timing": _f("dict", "wall-clock seconds and throughput (machine-dependent; ignored by comparisons)"),
}))

#: 06_sentinet: GradCAM audit (Figures 16-17) and the full SentiNet, natural trigger vs patch twin;
#: built by ``sentinet.notebook_results``. Every key is written under every parameter set.
register(Schema("06_sentinet", 1, {
    "dataset": _f("str", "the dataset spec audited (parameter dataset), as notebook 05 records it"),
    "models_source": _f("str", "where the audited models came from: '05_train', or 'trained here "
                               "(no notebook-05 run found)'"),
    "trained_here": _f("bool", "true when no notebook-05 run was found and the models were trained "
                               "in this run (natural_models/)"),
    "selection": _f("dict", "how the 05 runs were chosen: trigger (parameter), model_match (the "
                            "parsed JSON object) and rule (naturalmodels' selection rule applied)"),
    "model_runs": _f("list", "the notebook-05 run folders audited, relative to the runs root "
                             "(empty when trained_here)"),
    "models": _f("list", "one record per audited model (naturalmodels.model_rows): dir, arch, "
                         "profile, trigger, target, clean_acc, trigger_acc"),
    "fig16": _f("list", "Figure 16, our rows (audit.fig16_table, source 'ours (automated)'): per "
                        "trigger the % of trigger images highlighted, CAM mass in the box, pointing "
                        "game, attack success, beside the paper's % (paper_*_pct)"),
    "gradcam_per_model": _f("list", "one record per model (AuditResult.summary): layer, cam_size, "
                                    "n_images, highlighted / mass_in_box / pointing fractions"),
    "cam_threshold": _f("number", "the highlighted region is CAM >= cam_threshold x its max (parameter)"),
    "sentinet": _f("dict", "SentiNet per model, keys 'natural' and 'patch' (sentinet.summary_record): "
                           "tpr, fpr, auroc (null when undefined), boundary, accuracies, GradCAM shares "
                           "(percent), fooled rates"),
    "sentinet_defaults": _f("dict", "nbkit.sentinet.DEFAULTS, the SentiNet settings this kit "
                                    "assumed (tuples as lists)"),
    "patch": _f("dict", "the patch twin's trigger (patchtrigger: size_frac, corner, kind, "
                        "margin_frac, seed, source, n_poison, natural_trigger)"),
    "review_files": _f("list", "the review export in the run folder: grid PNG and CSV with a blank "
                               "human_verdict column (audit.agreement reads it back)"),
    "timing": _f("dict", "wall-clock seconds per step: models_s, gradcam_s, sentinet_natural_s, "
                         "patch_train_s, sentinet_patch_s"),
}))

#: 07_report: what the report was built from and what it found (``report.report_results``)
register(Schema("07_report", 1, {
    "batch": _f("str", "the batch reported on (runs/<batch>/)"),
    "runs_root": _f("str", "the runs root the batch was read from"),
    "runs": _f("dict", "run folders of the batch: 'total' and a count per status ('complete', "
                       "'INCOMPLETE (ignored)')"),
    "claims": _f("dict", "claim key (nbkit.claims.CLAIMS) -> {'status': ✓ / ✗ / 'not run', 'ours': "
                         "the numbers behind the verdict, 'data': the data kind it was judged on}"),
    "sections": _f("dict", "section key ('Table 8', 'Figure 13', ...) -> {'data': data kinds of its "
                           "runs, 'runs': complete runs used, 'tables': table names, 'figures': figure "
                           "file names under figures/, 'built': false when its builder raised}"),
    "no_numbers": _f("list", "the paper's items that print no numbers (tables/no_numbers.csv)"),
    "markdown": _f("str", "path of report.md"),
    "html": _f("str", "path of report.html, the self-contained page"),
}))
