"""Small I/O helpers shared by every stage: atomic writes, fingerprints, JSON that numpy can't break.

Writes are atomic (temporary file in the same directory, fsync, then ``os.replace``), so an
interrupted run never leaves a half-written artifact that a later run would trust, and files get the
user's umask like any other file they write.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np


def _current_umask() -> int:
    """The process's umask, read without changing it where Linux allows (``/proc/self/status``)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)  # elsewhere: read it by setting it (and put it back at once)
    os.umask(mask)
    return mask


def _fsync_dir(d: Path) -> None:
    with contextlib.suppress(OSError):  # not every filesystem lets a folder be opened / synced
        fd = os.open(d, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success make it durable and rename it onto ``path``.

    The caller writes the temporary file however it likes. On success the file gets the mode a
    plain ``open()`` would give it (``0o666`` less the umask, not ``mkstemp``'s private ``0o600``),
    its bytes are ``fsync``-ed, it is renamed onto ``path`` and the folder is synced, so a crash
    leaves either the old file or the complete new one. On an exception the temporary file is removed
    and ``path`` is untouched. This is the one atomic-write helper of the kit.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or path.suffix or ".tmp",
                               dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_current_umask())
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _json_default(o: Any):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    raise TypeError(f"cannot write {type(o).__name__} to JSON")


def json_value(v: Any) -> Any:
    """One value ready for ``results.json``: numpy scalars become Python ones, NaN / inf ``None``.

    ``dumps_json`` already converts numpy scalars but writes NaN as ``NaN`` (not JSON); this maps
    every non-finite float to ``None`` (JSON ``null``). Other values pass unchanged.

    Examples
    --------
    >>> json_value(np.float32(0.5)), json_value(float("nan")), json_value(np.int64(3)), json_value("a")
    (0.5, None, 3, 'a')
    """
    if isinstance(v, (np.floating, np.integer)):
        v = v.item()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def json_records(frame, integral: bool = False) -> list[dict]:
    """A pandas table's rows as JSON-ready dicts (``json_value`` applied to every cell).

    ``integral=True`` also writes float columns whose values are all whole numbers as integers
    (pandas' ``convert_dtypes``) and floats at 15 significant digits (pandas' JSON writer): the form
    of count tables such as notebook 02's Table 5.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"a": [1.0, 2.0], "b": [0.5, float("nan")]})
    >>> json_records(df)
    [{'a': 1.0, 'b': 0.5}, {'a': 2.0, 'b': None}]
    >>> json_records(df, integral=True)
    [{'a': 1, 'b': 0.5}, {'a': 2, 'b': None}]
    """
    if integral:
        return json.loads(frame.convert_dtypes().to_json(orient="records", double_precision=15))
    return [{k: json_value(v) for k, v in r.items()} for r in frame.to_dict("records")]


def dumps_json(obj: Any, indent: int | None = 2) -> str:
    """JSON text with numpy scalars/arrays, paths and sets converted; keys keep insertion order."""
    return json.dumps(obj, indent=indent, default=_json_default, allow_nan=True)


def write_json(path: str | os.PathLike, obj: Any, indent: int | None = 2) -> Path:
    """Atomically write ``obj`` as JSON to ``path`` and return the path."""
    text = dumps_json(obj, indent=indent)
    with atomic_path(path) as tmp:
        tmp.write_text(text + "\n", encoding="utf-8")
    return Path(path)


def read_json(path: str | os.PathLike, expected: str | None = None) -> Any:
    """Read JSON, with an error naming the file when it is missing or malformed (``expected``:
    what the file should hold, for the message)."""
    from .errors import DataError, MissingDataError

    path = Path(path)
    if not path.exists():
        raise MissingDataError(path, "file not found")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise DataError(path, f"not valid JSON at line {e.lineno} column {e.colno}: {e.msg}",
                        expected) from e


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Atomically write a text file."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def save_npz(path: str | os.PathLike, **arrays) -> Path:
    """Atomically write a compressed, pickle-free ``.npz``."""
    for k, v in arrays.items():
        a = np.asarray(v)
        if a.dtype == object:
            raise TypeError(f"save_npz: array {k!r} has dtype object; convert strings to str dtype")
    with atomic_path(path, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)
    return Path(path)


#: Files up to this size are fingerprinted by their bytes as well as by path, size and mtime_ns ...
_CONTENT_LIMIT = 1 << 20
#: ... until this many bytes have been hashed in one fingerprint (the rest: path, size, mtime_ns).
_CONTENT_BUDGET = 64 << 20


def fingerprint(*parts: Any, files: Iterable[str | os.PathLike] | None = None,
                content: bool = False) -> str:
    """A short, stable hash of parameters and source files: the kit's one cache key.

    Every file contributes its absolute path, size and ``st_mtime_ns`` (cheap: one ``stat``
    each, for all files, however many); files of at most ``_CONTENT_LIMIT`` bytes also contribute
    their bytes, in sorted path order, until ``_CONTENT_BUDGET`` bytes have been read (so a small
    metadata file edited within the same second, with its size unchanged, still changes the
    key). ``content=True`` hashes every file's bytes, whatever its size. A missing file counts as
    ``<missing>``.

    Parameters
    ----------
    *parts
        JSON-able parameters (options, versions).
    files : iterable of path-like, optional
        Every input file the cached result was derived from.
    content : bool
        Hash all bytes of every file.

    Returns
    -------
    str
        16 hex digits.

    Examples
    --------
    >>> fingerprint("p", 1) == fingerprint("p", 1) != fingerprint("p", 2)
    True
    """
    h = hashlib.sha256()
    h.update(dumps_json(parts, indent=None).encode())
    budget = _CONTENT_BUDGET
    for f in sorted({os.path.abspath(os.fspath(f)) for f in (files or [])}):
        h.update(f.encode() + b"\0")
        try:
            st = os.stat(f)
        except OSError:
            h.update(b"<missing>")
            continue
        h.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
        if stat.S_ISREG(st.st_mode) and (content or (st.st_size <= _CONTENT_LIMIT
                                                     and st.st_size <= budget)):
            budget -= st.st_size
            with open(f, "rb") as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    h.update(chunk)
    return h.hexdigest()[:16]


def cache_dir() -> Path:
    """Where derived data is cached: ``$NBKIT_CACHE`` or ``~/.cache/nbkit``."""
    d = Path(os.environ.get("NBKIT_CACHE", Path.home() / ".cache" / "nbkit"))
    d.mkdir(parents=True, exist_ok=True)
    return d
