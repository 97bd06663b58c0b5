"""Error types that speak the user's language.

Every error raised on bad input names the file (or object), the field, and what was expected, so a
user can fix the input without reading a traceback.
"""
from __future__ import annotations


class NbkitError(Exception):
    """Base class of every error nbkit raises on purpose."""


class DataError(NbkitError, ValueError):
    """Bad or missing input data.

    Parameters
    ----------
    source : str or path-like
        The file, directory or object that is wrong.
    problem : str
        What is wrong, in a sentence.
    expected : str, optional
        What was expected instead.
    hint : str, optional
        How to fix it (where to download, which option to pass).
    """

    def __init__(self, source, problem: str, expected: str | None = None, hint: str | None = None):
        self.source = str(source)
        self.problem = problem
        self.expected = expected
        self.hint = hint
        msg = f"{self.source}: {problem}"
        if expected:
            msg += f" (expected {expected})"
        if hint:
            msg += f". {hint}"
        super().__init__(msg)


class MissingDataError(DataError, FileNotFoundError):
    """A dataset or file is not where it should be; the message says how to get it."""


class GraphError(NbkitError, ValueError):
    """A graph-analysis input that cannot be analysed (empty graph, NaN counts, ...)."""


class CurationError(NbkitError, ValueError):
    """A backdoor specification that the data cannot satisfy."""
