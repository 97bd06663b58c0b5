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
nbkit.errors.DataError: demo: results key 'acc' is a str; expected number (clean accuracy) (schema 00_demo/1)
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
                                f"{f.kind} ({f.doc}) (schema {self.tag})")


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

#: 01_calibration: (draft from the smoke batch; owner fills docs)
register(Schema("01_calibration", 1, {
    "mode": _f("str", ""),
    "dataset": _f("str", ""),
    "n_images": _f("int", ""),
    "rule": _f("str", ""),
    "threshold": _f("number", ""),
    "fp": _f("int", ""),
    "fn": _f("int", ""),
    "fp_plus_fn": _f("int", ""),
    "curves_cross": _f("bool", ""),
    "crossing": _f("dict", ""),
    "balanced": _f("dict", ""),
    "min_total": _f("dict", ""),
    "fp_at_start": _f("int", ""),
    "fn_at_start": _f("int", ""),
    "fp_at_stop": _f("int", ""),
    "fn_at_stop": _f("int", ""),
    "n_true_labels": _f("int", ""),
    "decoding_options": _f("list", ""),
    "large_sample": _f("dict", ""),
    "paper": _f("dict", ""),
    "timing": _f("dict", ""),
}))

#: 02_cooccurrence: (draft from the smoke batch; owner fills docs)
register(Schema("02_cooccurrence", 1, {
    "dataset": _f("str", ""),
    "min_overlaps": _f("int", ""),
    "table5": _f("list", ""),
    "graph": _f("dict", ""),
    "top_degree": _f("list", ""),
    "core_by_degree": _f("list", ""),
    "core_by_weighted_degree": _f("list", ""),
    "threshold_sweep": _f("list", ""),
    "timing": _f("dict", ""),
}))

#: 03_centrality: (draft from the smoke batch; owner fills docs)
register(Schema("03_centrality", 1, {
    "dataset": _f("str", ""),
    "semantics": _f("str", ""),
    "backend": _f("str", ""),
    "dataset_top_m": _f("dict", ""),
    "semantics_comparison": _f("list", ""),
    "openimages_graph_tool_check": _f("dict", ""),
    "openimages_top_m": _f("dict", ""),
    "openimages_min_overlaps": _f("int", ""),
    "tables_6_7": _f("list", ""),
    "tables_6_7_setting": _f("dict", ""),
    "trigger_table_dataset": _f("dict", ""),
    "timing": _f("dict", ""),
}))

#: 04_subsets: (draft from the smoke batch; owner fills docs)
register(Schema("04_subsets", 1, {
    "dataset": _f("str", ""),
    "compare_dataset": _f("str", ""),
    "triggers_file": _f("str", ""),
    "best_trigger": _f("dict", ""),
    "approx_vs_exact": _f("dict", ""),
    "authors_checks": _f("dict", ""),
    "multi_trigger": _f("dict", ""),
    "edge_weight_ablation": _f("dict", ""),
    "paper_app_d": _f("dict", ""),
    "app_d_vs_paper": _f("dict", ""),
    "timing": _f("dict", ""),
}))

#: 05_train: (draft from the smoke batch; owner fills docs)
register(Schema("05_train", 1, {
    "clean_acc": _f("number", ""),
    "trigger_acc": _f("number", ""),
    "clean_acc_separate": _f("number", ""),
    "clean_acc_authors": _f("number", ""),
    "trigger_acc_nontarget": _f("number", ""),
    "trigger_acc_authors": _f("number", ""),
    "clean_loss": _f("number", ""),
    "trigger_loss": _f("number", ""),
    "train_loss": _f("number", ""),
    "train_clean_acc": _f("number", ""),
    "train_trigger_acc": _f("number", ""),
    "definitions": _f("dict", ""),
    "dataset": _f("str", ""),
    "trigger": _f("dict", ""),
    "target": _f("dict", ""),
    "classes": _f("list", ""),
    "classes_parameter": _f("str", ""),
    "classes_given": _f("bool", ""),
    "class_labels": _f("list", ""),
    "added_classes": _f("list", ""),
    "n_filled_classes": _f("int", ""),
    "centrality": _f("str", ""),
    "centrality_value": _f("number", ""),
    "ranking": _f("list", ""),
    "subset_mode": _f("str", ""),
    "subset_size": _f("int", ""),
    "subsets_source": _f("str", ""),
    "min_overlaps": _f("int", ""),
    "injection_rate": _f("number", ""),
    "spec": _f("dict", ""),
    "counts": _f("dict", ""),
    "ambiguous_total": _f("int", ""),
    "multi_class_images_used": _f("int", ""),
    "history": _f("list", ""),
    "epochs_done": _f("int", ""),
    "complete": _f("bool", ""),
    "arch": _f("str", ""),
    "profile": _f("str", ""),
    "config": _f("dict", ""),
    "parameters": _f("dict", ""),
    "device": _f("str", ""),
    "amp": _f("str", ""),
    "channels_last": _f("bool", ""),
    "deterministic": _f("bool", ""),
    "skipped_images": _f("int", ""),
    "skipped_files": _f("list", ""),
    "files": _f("dict", ""),
    "timing": _f("dict", ""),
}))

#: 06_sentinet: (draft from the smoke batch; owner fills docs)
register(Schema("06_sentinet", 1, {
    "dataset": _f("str", ""),
    "models_source": _f("str", ""),
    "trained_here": _f("bool", ""),
    "selection": _f("dict", ""),
    "model_runs": _f("list", ""),
    "models": _f("list", ""),
    "fig16": _f("list", ""),
    "gradcam_per_model": _f("list", ""),
    "cam_threshold": _f("number", ""),
    "sentinet": _f("dict", ""),
    "sentinet_defaults": _f("dict", ""),
    "patch": _f("dict", ""),
    "review_files": _f("list", ""),
    "timing": _f("dict", ""),
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
