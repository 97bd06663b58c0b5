"""Notebooks are committed without outputs and keep their papermill ``parameters`` cell."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


def _tracked(path: Path) -> bool:
    r = subprocess.run(["git", "ls-files", "--error-unmatch", str(path)], cwd=REPO,
                       capture_output=True)
    return r.returncode == 0


def test_there_are_notebooks():
    stems = [p.stem for p in NOTEBOOKS]
    for prefix in ["01_", "02_", "03_", "04_", "05_", "06_", "07_"]:
        assert any(s.startswith(prefix) for s in stems), f"no notebooks/{prefix}*.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_clean_and_parameterised(path):
    nb = json.loads(path.read_text())
    assert nb.get("nbformat") == 4, f"{path.name}: not an nbformat-4 notebook"
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    dirty = [i for i, c in enumerate(code) if c.get("outputs") or c.get("execution_count") is not None]
    assert not dirty, f"{path.name}: code cells {dirty} carry outputs or execution counts; clear them"
    tagged = [c for c in code if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, f"{path.name}: expected exactly one cell tagged 'parameters', found {len(tagged)}"
    src = "".join(tagged[0]["source"])
    assert "run_dir" in src and "seed" in src, f"{path.name}: parameters cell lacks run_dir / seed"
    assert nb["cells"][0]["cell_type"] == "markdown", f"{path.name}: first cell should narrate (markdown)"
    assert nb.get("metadata", {}).get("kernelspec", {}).get("name") == "nbkit", \
        f"{path.name}: kernelspec should be 'nbkit' (the kernel make registers)"


# --- thin notebooks: logic lives in nbkit ----------------------------------------------------------
#: most lines of logic a code cell may hold (the parameters cell excepted)
MAX_CELL_LINES = 10


def logic_lines(source: str) -> list[str]:
    """The lines of a cell that are logic: not blank, not a comment, not an import, not a magic."""
    out = []
    for line in source.splitlines():
        s = line.strip()
        if not s or s.startswith(("#", "%", "!", "import ", "from ")) or s in (")", "]", "}"):
            continue
        out.append(line)
    return out


def test_logic_lines_counts_what_it_should():
    src = "import os\nfrom x import y\n\n# a comment\n%matplotlib inline\na = 1\nf(a,\n  b\n)\n"
    assert logic_lines(src) == ["a = 1", "f(a,", "  b"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_cells_are_thin(path):
    nb = json.loads(path.read_text())
    long = [(i, len(logic_lines("".join(c["source"])))) for i, c in enumerate(nb["cells"])
            if c["cell_type"] == "code" and "parameters" not in c.get("metadata", {}).get("tags", [])
            and len(logic_lines("".join(c["source"]))) > MAX_CELL_LINES]
    assert not long, (f"{path.name}: cells (index, logic lines) {long} hold more than "
                      f"{MAX_CELL_LINES} lines of logic; move it into nbkit")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_reads_its_parameters_once_and_saves_by_schema(path):
    src = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                    if c["cell_type"] == "code")
    assert "PARAMS = dict(" not in src, f"{path.name}: parameters retyped into a dict"
    assert f'.start("{path.stem}", globals()' in src, \
        f'{path.name}: should call runs.start("{path.stem}", globals()) after its parameters cell'
    assert f'save_results(run_dir, "{path.stem}", ' in src, \
        f'{path.name}: should end with runs.save_results(run_dir, "{path.stem}", ...)'
