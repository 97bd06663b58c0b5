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
