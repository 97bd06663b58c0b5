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
``relabel:DIR``       ``relabel.load_relabel``                     ReLabel ``.pt`` maps (ImageNet); the
                                                                   images via ``?images=DIR``
``counts:FILE.npz``   ``counts.load_counts``                       co-occurrence matrix + class counts
``openimages-counts`` ``counts.load_openimages_counts``            the authors' embedded 486-class matrix
``longcsv:FILE``      ``tables.load_long_csv``                     ``image_id,label[,x0,y0,x1,y1][,split]``
``widecsv:FILE``      ``tables.load_wide_csv``                     ``image_id`` + one 0/1 column per class
===================== ============================================ =====================================

Relative paths in a spec are looked up in the current directory, then under ``$NBKIT_DATA_ROOT``, then
under the repository's ``data/`` folder (see ``data/README.md`` for where real datasets go).

**Options in a spec.** Any adapter keyword can be written into the spec itself, URL-query style:
``KIND[:ARG]?key=value[&key=value...]``, e.g.
``relabel:relabel_imagenet/imagenet_efficientnet_l2_sz475_top5?images=imagenet/train&threshold=0.994``
or ``toyscenes:3?n_images=2000``. Values are converted to the type of the keyword's default (or
annotation): ``float``, ``int``, ``bool`` (``true/false/1/0/yes/no``), else ``str``; the path
options ``images`` and ``image_root`` are resolved like the spec's own path. A list option
(annotated ``Sequence[...]``) takes comma-separated items: ``relabel:DIR?classes=cat,dog`` gives
``["cat", "dog"]``; where a plain string is also accepted (VOC's ``split``), only a value with a
comma is split. A keyword given both in the spec and as a Python keyword must agree. Paths inside
a spec cannot contain ``?`` or ``&``.
"""
from __future__ import annotations

import inspect
import os
import re
from importlib import resources
from pathlib import Path
from typing import Iterable, Mapping

import pandas as pd

from ..errors import DataError, MissingDataError

__all__ = ["load_dataset", "load_cooccurrence", "SPECS", "data_kind",
           "load_openimages", "load_relabel", "imagenet_classes", "load_coco", "load_voc",
           "load_long_csv", "load_wide_csv", "load_counts", "load_openimages_counts", "load_toyscenes"]

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

_LAZY = {"load_openimages": "openimages", "load_relabel": "relabel", "imagenet_classes": "relabel",
         "load_coco": "coco", "load_voc": "voc", "load_long_csv": "tables", "load_wide_csv": "tables",
         "load_counts": "counts", "load_openimages_counts": "counts", "load_toyscenes": "toyscenes"}

_VALID = ("toyscenes[:SEED], voc:DIR_OR_CSV, coco:FILE.json, openimages:DIR, "
          "relabel:MAPS_DIR[?images=IMAGES_DIR&threshold=0.994], counts:FILE.npz, openimages-counts, "
          "longcsv:FILE, widecsv:FILE; any spec takes adapter options as ?key=value[&key=value]")

#: spec options that name a path (resolved with :func:`data_path`, like the spec's own path)
_PATH_OPTIONS = ("images", "image_root")


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


def _data_path(path: str | os.PathLike) -> Path:
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
    >>> _data_path("/tmp").as_posix()
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


def require(path: str | os.PathLike, what: str, hint: str | None = None,
            folder: bool = False) -> Path:
    """``path`` as a Path, or a ``MissingDataError`` that says what the file (a folder, with
    ``folder``) is and how to get it."""
    p = Path(path)
    if not (p.is_dir() if folder else p.exists()):
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
    header = _raw_header(path)  # pandas renames a repeated column 'cat' to 'cat.1': refuse it
    dups = sorted({h for h in header if header.count(h) > 1})
    if dups:
        raise DataError(path, f"header repeats column(s) {dups}", "each column name once")
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise DataError(path, f"missing column(s) {missing}; found {list(df.columns)[:12]}",
                        f"columns {list(required)}")
    return df


def _raw_header(path: Path) -> list[str]:
    """The header row's fields as written (BOM dropped, surrounding spaces kept as pandas does)."""
    import csv

    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            return next(csv.reader(fh), [])
    except (UnicodeDecodeError, csv.Error):
        return []


def read_wide_csv_checked(path: str | os.PathLike, what: str, reserved: Iterable[str],
                          values: str, dup_hint: str = "each image_id once",
                          label_values: Iterable = ()):
    """Read a wide label table (``image_id`` plus one column per class) and check its shape.

    Shared by the wide-CSV and VOC-CSV adapters. Returns ``(df, class_columns)`` with every cell as
    a string; raises a ``DataError`` naming the file when there are no class columns, no rows, or
    duplicate image ids. A ``reserved`` column (``split``, ``file``, ...) whose every cell is one
    of ``label_values`` is a class that happens to bear that name, not the reserved column.
    """
    df = read_csv_checked(path, ["image_id"], what, dtype=str, keep_default_na=False)
    labels = {str(v) for v in label_values}
    reserved = {c for c in reserved if c == "image_id" or c not in df.columns or not labels
                or len(df) == 0 or not df[c].str.strip().isin(labels).all()}
    class_cols = [c for c in df.columns if c not in reserved]
    if not class_cols:
        raise DataError(path, "no class columns", f"image_id plus one {values} column per class")
    if len(df) == 0:
        raise DataError(path, "no rows", "at least one image")
    dup = df["image_id"].duplicated()
    if dup.any():
        raise DataError(path, f"{int(dup.sum())} duplicate image ids, e.g. "
                              f"{df.loc[dup, 'image_id'].iloc[:3].tolist()}", dup_hint)
    return df, class_cols


# ----------------------------------------------------------------------------- specs
def _spec_options(spec: str) -> tuple[str, dict[str, str]]:
    """Split the ``?key=value[&key=value...]`` options off a dataset spec.

    Parameters
    ----------
    spec : str
        A dataset spec, with or without options.

    Returns
    -------
    base : str
        The spec without its options (``KIND[:ARG]``).
    options : dict of str to str
        The raw option strings, in the order written (converted to the adapter's types by
        :func:`load_dataset`).

    Raises
    ------
    DataError
        An option that is not ``key=value``, an empty key or value, or a key given twice.

    Examples
    --------
    >>> _spec_options("relabel:maps?images=imagenet/train&threshold=0.99")
    ('relabel:maps', {'images': 'imagenet/train', 'threshold': '0.99'})
    >>> _spec_options("toyscenes:3")
    ('toyscenes:3', {})
    """
    if not isinstance(spec, str) or not spec.strip():
        raise DataError("dataset spec", f"{spec!r} is not a dataset spec", f"one of {_VALID}")
    base, sep, query = spec.strip().partition("?")
    options: dict[str, str] = {}
    if not sep:
        return base, options
    for item in query.split("&"):
        key, eq, value = item.partition("=")
        key, value = key.strip(), value.strip()
        if not eq or not key or not value:
            raise DataError("dataset spec", f"option {item!r} in {spec!r} is not key=value",
                            "KIND[:ARG]?key=value[&key=value...], e.g. "
                            "relabel:MAPS_DIR?images=IMAGES_DIR&threshold=0.994")
        if key in options:
            raise DataError("dataset spec", f"option {key!r} is given twice in {spec!r}",
                            "each option once")
        options[key] = value
    return base.strip(), options


def _parse_spec(spec: str) -> tuple[str, str | None]:
    """Split a dataset spec into ``(kind, argument)``; a ``DataError`` listing valid specs if unknown.

    Options after ``?`` are checked for syntax and left out of the result (see :func:`spec_options`).

    Examples
    --------
    >>> _parse_spec("voc:data/VOC2007")
    ('voc', 'data/VOC2007')
    >>> _parse_spec("toyscenes:3")
    ('toyscenes', '3')
    >>> _parse_spec("openimages-counts")
    ('openimages-counts', None)
    >>> _parse_spec("relabel:maps?images=imagenet/train")
    ('relabel', 'maps')
    """
    spec, _ = _spec_options(spec)
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


#: the three honest kinds of data a number of ours can come from (``data_kind``)
#: the three kinds of data a number of ours can come from (``data_kind``), closest to the paper last
TOY, AUTHORS, REAL = "toy scenes", "authors' counts", "real data"
DATA_KINDS = (TOY, AUTHORS, REAL)


def data_kind(spec) -> str:
    """Which kind of data a dataset spec, or a run, reads: ``"toy scenes"``, ``"authors' counts"`` or
    ``"real data"``.

    ``toyscenes[...]`` is the kit's synthetic scenes; ``openimages-counts`` is the real Open Images
    co-occurrence matrix the authors released (shipped with the kit: class-level counts, no
    images); every other spec reads a dataset the user pointed the kit at, and so does a label no
    adapter knows (a Table 5 row the user named).

    Parameters
    ----------
    spec : str or mapping
        A dataset spec (options after ``?`` and a trailing annotation in parentheses, as in
        ``"openimages-counts (candidates)"``, are ignored), or a run's parameters: their
        ``dataset``, except notebook 01 with ``relabel_dir`` set, which reads ImageNet's ReLabel
        maps through that parameter. No spec (``""``, ``None``, no ``dataset``) is the toy scenes,
        every notebook's default.

    Examples
    --------
    >>> data_kind("toyscenes:3?n_images=2000"), data_kind("openimages-counts (candidates)")
    ('toy scenes', "authors' counts")
    >>> data_kind({"dataset": "relabel:maps?images=imagenet/train"}), data_kind({"relabel_dir": "/d/maps"})
    ('real data', 'real data')
    >>> data_kind({"seed": 0})
    'toy scenes'
    """
    if isinstance(spec, Mapping):
        if spec.get("relabel_dir"):
            return REAL
        spec = spec.get("dataset")
    text = re.sub(r"\s*\([^()]*\)\s*$", "", str(spec or "")).strip()
    if not text:
        return TOY
    try:
        kind, _ = _parse_spec(text)
    except DataError:
        return REAL
    return {"toyscenes": TOY, "openimages-counts": AUTHORS}.get(kind, REAL)


def _alternatives(annotation: str) -> list[str]:
    """The top-level ``|`` alternatives of a type annotation string (brackets respected).

    Examples
    --------
    >>> _alternatives("Sequence[str] | pd.DataFrame | None")
    ['Sequence[str]', 'pd.DataFrame', 'None']
    >>> _alternatives("str | Sequence[str | int]")
    ['str', 'Sequence[str | int]']
    """
    out, depth, cur = [], 0, ""
    for ch in annotation:
        depth += ch == "["
        depth -= ch == "]"
        if ch == "|" and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    return out + [cur.strip()] if cur.strip() else out


def _coerce(spec: str, fn, key: str, raw: str):
    """A spec option's string converted to the type of ``fn``'s keyword ``key``."""
    params = inspect.signature(fn).parameters
    if key not in params or params[key].kind in (inspect.Parameter.VAR_POSITIONAL,
                                                 inspect.Parameter.VAR_KEYWORD):
        if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            return raw
        accepted = [k for k, p in params.items() if p.default is not inspect.Parameter.empty]
        raise DataError("dataset spec", f"unknown option {key!r} in {spec!r}",
                        f"one of {accepted} ({fn.__module__}.{fn.__name__})")
    if key in _PATH_OPTIONS:
        return str(_data_path(raw))
    default, ann = params[key].default, str(params[key].annotation)
    alts = _alternatives(ann)
    seqs = [a for a in alts if re.match(r"(typing\.)?(Sequence|list|tuple|Iterable)\b", a)]
    if seqs and ("str" not in alts or "," in raw):  # a list option: comma-separated items
        items = [x.strip() for x in raw.split(",")]
        if not all(items):
            raise DataError("dataset spec", f"option {key}={raw!r} in {spec!r} has an empty item",
                            f"{key}=A,B,C (comma-separated, no empty items)")
        inner = re.findall(r"\[(\w+)", seqs[0])
        if inner and inner[0] in ("int", "float"):
            try:
                return [{"int": int, "float": float}[inner[0]](x) for x in items]
            except ValueError:
                raise DataError("dataset spec", f"option {key}={raw!r} in {spec!r} is not a list "
                                f"of {inner[0]}s", f"{key}=1,2,3") from None
        return items
    types = set(re.findall(r"\b(bool|int|float|str)\b", " ".join(a for a in alts if a not in seqs)))
    if default is not None and default is not inspect.Parameter.empty:
        types.add(type(default).__name__)
    low = raw.lower()
    if "bool" in types and low in ("true", "1", "yes", "false", "0", "no"):
        return low in ("true", "1", "yes")
    if "int" in types:
        try:
            return int(raw)
        except ValueError:
            pass
    if "float" in types:
        try:
            return float(raw)
        except ValueError:
            pass
    if "str" in types or not types & {"bool", "int", "float"}:
        return raw
    wanted = ("true/false, 1/0 or yes/no" if types == {"bool"} else
              " or ".join(f"{'an' if t == 'int' else 'a'} {t}" for t in ("int", "float") if t in types))
    raise DataError("dataset spec", f"option {key}={raw!r} in {spec!r} is not {wanted}",
                    f"{key}=<{'|'.join(sorted(types))}>")


def load_dataset(spec: str, **options):
    """Load a dataset from a spec string.

    Parameters
    ----------
    spec : str
        ``toyscenes[:SEED]``, ``voc:DIR_OR_CSV``, ``coco:FILE.json``, ``openimages:DIR``,
        ``relabel:MAPS_DIR``, ``counts:FILE.npz``, ``openimages-counts``, ``longcsv:FILE`` or
        ``widecsv:FILE``, each optionally followed by adapter options
        ``?key=value[&key=value...]`` (e.g. ``relabel:MAPS_DIR?images=IMAGES_DIR&threshold=0.994``;
        see the module docstring for how values are typed).
    **options
        Passed to the adapter (e.g. ``split="test"`` for VOC, ``threshold=0.99`` for ReLabel). A
        keyword also given in the spec must have the same value.

    Returns
    -------
    LabelIndex or Cooccurrence
        A ``Cooccurrence`` for the class-level specs (``counts:``, ``openimages-counts``), a
        ``LabelIndex`` for every other one.

    Raises
    ------
    DataError
        An unknown spec or option, an option value of the wrong type, or an option given in the
        spec and as a keyword with different values.

    Examples
    --------
    >>> co = load_dataset("openimages-counts")
    >>> co.n_classes
    486
    >>> load_dataset("openimages-counts?split=test").meta["split"]
    'test'
    """
    import importlib

    kind, arg = _parse_spec(spec)
    modname, fname, takes_path = SPECS[kind]
    fn = getattr(importlib.import_module(f"{__name__}.{modname}"), fname)
    for key, raw in _spec_options(spec)[1].items():
        value = _coerce(spec, fn, key, raw)
        given = options.get(key)
        if isinstance(given, tuple) and isinstance(value, list):
            given = list(given)
        if key in options and given != value and str(given) != str(value):
            raise DataError("dataset spec", f"option {key!r} is {value!r} in {spec!r} but "
                            f"{options[key]!r} as a keyword", "one value (give it in one place)")
        options[key] = value
    if kind == "toyscenes":
        if arg:
            try:
                options.setdefault("seed", int(arg))
            except ValueError:
                raise DataError("dataset spec", f"toyscenes seed {arg!r} is not an integer",
                                "toyscenes or toyscenes:SEED") from None
        return fn(**options)
    if takes_path:
        return fn(_data_path(arg), **options)
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

    kind, _ = _parse_spec(spec)
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
