"""Progress bars that read well in a terminal, in JupyterLab and in an executed (papermill) notebook.

``tqdm.auto`` needs ipywidgets inside Jupyter; without them it warns (a red ``TqdmWarning`` in every
executed notebook) and falls back to a text bar on stderr whose redraws pile up as pink blocks. The
kit uses ``nbkit.progress.tqdm`` instead, which needs nothing extra:

- in a terminal (or any non-Jupyter process): the plain ``tqdm`` bar on stderr;
- in a Jupyter kernel (Lab, Notebook, papermill, nbclient): one ``text/plain`` output, updated in
  place through an IPython display handle (``update_display_data``), so JupyterLab shows a live
  bar and the saved notebook keeps exactly one line per bar, in its final state, with no stderr
  output and no warning. Bars made with ``leave=False`` are emptied when they close.

Use it exactly like ``tqdm``: ``for x in tqdm(items, desc="maps"): ...``; ``tqdm.write`` works too.
"""
from __future__ import annotations

import sys

from tqdm.std import tqdm as _terminal_tqdm

__all__ = ["tqdm"]


def _in_jupyter_kernel() -> bool:
    """True inside a Jupyter kernel (an IPython ``ZMQInteractiveShell``), without importing IPython
    when it is not already loaded."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except Exception:  # noqa: BLE001 - a half-initialised IPython is not a kernel
        return False
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class _Discard:
    """A file that swallows what tqdm writes (the display handle shows the bar instead)."""

    encoding = "utf-8"

    def write(self, s):  # noqa: D401 - file protocol
        return len(s)

    def flush(self):
        return None


class _NotebookTextTqdm(_terminal_tqdm):
    """``tqdm`` drawn as one ``text/plain`` output of a Jupyter kernel, updated in place."""

    def __init__(self, *args, **kwargs):
        kwargs["file"] = _Discard()
        kwargs.setdefault("mininterval", 0.5)  # update messages, not a flood of them
        self._handle = None
        super().__init__(*args, **kwargs)

    def display(self, msg=None, pos=None):  # noqa: D401 - tqdm's hook for drawing
        """Show ``msg`` (default: the bar as it is now) in this bar's output."""
        from IPython.display import display

        text = self.__str__() if msg is None else msg
        data = {"text/plain": text}
        if self._handle is None:
            if not text:
                return True
            self._handle = display(data, raw=True, display_id=True)
        else:
            self._handle.update(data, raw=True)
        return True


def tqdm(*args, **kwargs):
    """A progress bar: ``_NotebookTextTqdm`` inside a Jupyter kernel, else the terminal ``tqdm``."""
    cls = _NotebookTextTqdm if _in_jupyter_kernel() else _terminal_tqdm
    return cls(*args, **kwargs)


tqdm.write = _terminal_tqdm.write  # type: ignore[attr-defined]
