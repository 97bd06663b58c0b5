"""Dataset adapters: every source becomes a ``LabelIndex`` (or, for class-level counts, a ``Cooccurrence``).

One adapter per source, each reading the real upstream format:

===================== ============================================ =====================================
spec                  adapter                                      source format
===================== ============================================ =====================================
``toyscenes[:SEED]``  ``toyscenes.load_toyscenes``                 drawn on the fly (no files)
``voc:DIR_OR_CSV``    ``voc.load_voc``                             VOC ``ImageSets/Main`` lists, or the
                                                                   wide ``image_id`` + 20 columns CSV
``coco:FILE.json``    ``coco.load_coco``                           COCO instances JSON
``openimages:DIR``    ``openimages.load_openimages``               Open Images V6 CSVs + hierarchy JSON
``relabel:DIR``       ``relabel.load_relabel``                     ReLabel ``.pt`` maps (ImageNet)
``counts:FILE.npz``   ``counts.load_counts``                       co-occurrence matrix + class counts
``openimages-counts`` ``counts.load_openimages_counts``            the authors' embedded 486-class matrix
``longcsv:FILE``      ``tables.load_long_csv``                     ``image_id,label[,x0,y0,x1,y1][,split]``
``widecsv:FILE``      ``tables.load_wide_csv``                     ``image_id`` + one 0/1 column per class
===================== ============================================ =====================================

Relative paths in a spec are looked up in the current directory, then under ``$NBKIT_DATA_ROOT``, then
under the repository's ``data/`` folder (see ``data/README.md`` for where real datasets go).
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Iterable

import pandas as pd

from ..errors import DataError, MissingDataError

__all__ = ["load_dataset", "load_cooccurrence", "SPECS", "parse_spec", "data_path",
           "load_openimages", "valid_classes", "load_relabel", "imagenet_classes", "load_coco",
           "load_voc", "load_long_csv", "load_wide_csv", "load_counts", "load_openimages_counts",
           "load_toyscenes"]

#: spec prefix -> (module, loader function, whether the spec takes a path argument)
SPECS: dict[str, tuple[str, str, bool]] = {
    "toyscenes": ("toyscenes", "load_toyscenes", False),
    "voc": ("voc", "load_voc", True),
    "coco": ("coco", "load_coco", True),
    "openimages": ("openimages", "load_openimages", True),
    "relabel": ("relabel", "load_relabel", True),
    "counts": ("counts", "load_counts", True),
    "openimages-counts": ("counts", "load_openimages_counts", False),
    "longcsv": ("tables", "load_long_csv", True),
    "widecsv": ("tables", "load_wide_csv", True),
}

_LAZY = {"load_openimages": "openimages", "valid_classes": "openimages", "load_relabel": "relabel",
         "imagenet_classes": "relabel", "load_coco": "coco", "load_voc": "voc",
         "load_long_csv": "tables", "load_wide_csv": "tables", "load_counts": "counts",
         "load_openimages_counts": "counts", "load_toyscenes": "toyscenes"}

_VALID = ("toyscenes[:SEED], voc:DIR_OR_CSV, coco:FILE.json, openimages:DIR, relabel:DIR, "
          "counts:FILE.npz, openimages-counts, longcsv:FILE, widecsv:FILE")


def __getattr__(name):  # lazy re-exports, so `import nbkit.datasets` stays cheap (no torch)
    if name in _LAZY:
        import importlib

        mod = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        return getattr(mod, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ----------------------------------------------------------------------------- helpers (shared)
def packaged(name: str) -> Path:
    """Path of a file shipped in ``nbkit/data`` (``imagenet_classes.csv``, ...)."""
    p = Path(str(resources.files("nbkit") / "data" / name))
    if not p.exists():
        raise MissingDataError(p, "packaged data file is missing",
                               hint="reinstall nbkit (`make venv`); the file ships in nbkit/data")
    return p


def data_path(path: str | os.PathLike) -> Path:
    """Resolve a user-given dataset path.

    An absolute path, or a relative path that exists from the current directory, is returned as is;
    otherwise the path is looked up under ``$NBKIT_DATA_ROOT`` and then under the repository's
    ``data/`` folder. A path found nowhere is returned unchanged (the adapter then says what is
    missing and how to get it).

    Parameters
    ----------
    path : str or path-like

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> data_path("/tmp").as_posix()
    '/tmp'
    """
    p = Path(os.path.expanduser(str(path)))
    if p.is_absolute() or p.exists():
        return p
    roots = []
    if os.environ.get("NBKIT_DATA_ROOT"):
        roots.append(Path(os.environ["NBKIT_DATA_ROOT"]))
    roots.append(Path(__file__).resolve().parents[2] / "data")
    for r in roots:
        if (r / p).exists():
            return r / p
    return p


def require(path: str | os.PathLike, what: str, hint: str | None = None) -> Path:
    """``path`` as a Path, or a ``MissingDataError`` that says what the file is and how to get it."""
    p = Path(path)
    if not p.exists():
        raise MissingDataError(p, f"{what} not found", hint=hint)
    return p


def read_csv_checked(path: str | os.PathLike, required: Iterable[str], what: str = "CSV file",
                     **kwargs) -> pd.DataFrame:
    """``pandas.read_csv`` that names the file and the missing column instead of a bare KeyError."""
    path = require(path, what)
    try:
        df = pd.read_csv(path, **kwargs)
    except pd.errors.EmptyDataError as e:
        raise DataError(path, "file is empty", f"a header row with columns {list(required)}") from e
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as e:
        raise DataError(path, f"cannot parse as CSV ({e})") from e
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataError(path, f"missing column(s) {missing}; found {list(df.columns)[:12]}",
                        f"columns {list(required)}")
    return df


# ----------------------------------------------------------------------------- specs
def parse_spec(spec: str) -> tuple[str, str | None]:
    """Split a dataset spec into ``(kind, argument)``; a ``DataError`` listing valid specs if unknown.

    Examples
    --------
    >>> parse_spec("voc:data/VOC2007")
    ('voc', 'data/VOC2007')
    >>> parse_spec("toyscenes:3")
    ('toyscenes', '3')
    >>> parse_spec("openimages-counts")
    ('openimages-counts', None)
    """
    if not isinstance(spec, str) or not spec.strip():
        raise DataError("dataset spec", f"{spec!r} is not a dataset spec", f"one of {_VALID}")
    spec = spec.strip()
    kind, sep, arg = spec.partition(":")
    kind = kind.strip().lower()
    if kind not in SPECS:
        raise DataError("dataset spec", f"unknown dataset {spec!r}", f"one of {_VALID}")
    takes_path = SPECS[kind][2]
    if takes_path and not arg:
        raise DataError("dataset spec", f"{spec!r} needs a path after ':'",
                        f"{kind}:PATH (valid specs: {_VALID})")
    if kind == "openimages-counts" and arg:
        raise DataError("dataset spec", f"{spec!r} takes no argument",
                        "openimages-counts (choose the split with split=)")
    return kind, (arg if sep else None)


def load_dataset(spec: str, **options):
    """Load a dataset from a spec string.

    Parameters
    ----------
    spec : str
        ``toyscenes[:SEED]``, ``voc:DIR_OR_CSV``, ``coco:FILE.json``, ``openimages:DIR``,
        ``relabel:DIR``, ``counts:FILE.npz``, ``openimages-counts``, ``longcsv:FILE`` or
        ``widecsv:FILE``.
    **options
        Passed to the adapter (e.g. ``split="test"`` for VOC, ``threshold=0.99`` for ReLabel).

    Returns
    -------
    LabelIndex or Cooccurrence
        A ``Cooccurrence`` for the class-level specs (``counts:``, ``openimages-counts``), a
        ``LabelIndex`` for every other one.

    Examples
    --------
    >>> co = load_dataset("openimages-counts")
    >>> co.n_classes
    486
    """
    import importlib

    kind, arg = parse_spec(spec)
    modname, fname, takes_path = SPECS[kind]
    fn = getattr(importlib.import_module(f"{__name__}.{modname}"), fname)
    if kind == "toyscenes":
        if arg:
            try:
                options.setdefault("seed", int(arg))
            except ValueError:
                raise DataError("dataset spec", f"toyscenes seed {arg!r} is not an integer",
                                "toyscenes or toyscenes:SEED") from None
        return fn(**options)
    if takes_path:
        return fn(data_path(arg), **options)
    return fn(**options)


def load_cooccurrence(spec: str, split: str | None = None, **options):
    """Class co-occurrence counts of any dataset spec.

    Parameters
    ----------
    spec : str
        Any spec accepted by :func:`load_dataset`.
    split : str, optional
        For per-image datasets, restrict to images of this split (``None``: all images; for
        ``voc:`` the split's lists are read, default ``trainval``). For class-level counts
        (``openimages-counts``, the authors' ``counts:`` npz) the stored split (``"train"`` by
        default).
    **options
        Passed to the adapter.

    Returns
    -------
    nbkit.cooccurrence.Cooccurrence

    Examples
    --------
    >>> co = load_cooccurrence("openimages-counts", split="test")
    >>> int(co.M[0, 1]) == int(co.M[1, 0])
    True
    """
    from ..cooccurrence import Cooccurrence, from_labelindex

    kind, _ = parse_spec(spec)
    if kind in ("counts", "openimages-counts"):
        if split is not None:
            options["split"] = split
        return load_dataset(spec, **options)
    if kind == "voc" and split is not None and "split" not in options:
        options["split"] = split  # VOC files hold one split each: read the one asked for
    li = load_dataset(spec, **options)
    if isinstance(li, Cooccurrence):
        return li
    return from_labelindex(li, split)
