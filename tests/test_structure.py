"""The package stays one a reader can hold in their head: no function body over 80 lines, and every
results key of every notebook described in ``nbkit.schema``."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from nbkit import schema

ROOT = Path(__file__).resolve().parents[1] / "nbkit"
MODULES = sorted(ROOT.rglob("*.py"))
#: most lines a function body may have (its docstring not counted)
MAX_FUNCTION_LINES = 80


def body_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    """Lines of a function's body, from its first statement after the docstring to its end."""
    body = node.body
    if (isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)):
        body = body[1:]
    return 0 if not body else node.end_lineno - body[0].lineno + 1


def long_functions(path: Path, limit: int = MAX_FUNCTION_LINES) -> list[tuple[str, int]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [(n.name, body_lines(n)) for n in ast.walk(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and body_lines(n) > limit]


def test_body_lines_skips_the_docstring(tmp_path):
    f = tmp_path / "m.py"
    f.write_text('def f():\n    """doc\n    more"""\n    a = 1\n    return a\n')
    assert long_functions(f, limit=1) == [("f", 2)] and long_functions(f, limit=2) == []


@pytest.mark.parametrize("path", MODULES, ids=[str(p.relative_to(ROOT)) for p in MODULES])
def test_no_function_over_80_lines(path):
    long = long_functions(path)
    assert not long, f"{path.relative_to(ROOT.parent)}: functions over {MAX_FUNCTION_LINES} lines: {long}"


KIT_NOTEBOOKS = sorted(p.stem for p in (ROOT.parent / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("notebook", KIT_NOTEBOOKS)
def test_every_results_key_is_described(notebook):
    s = schema.schema_for(notebook)
    assert s.version >= 1 and s.fields
    bare = [k for k, f in s.fields.items() if len(f.doc.split()) < 2]
    assert not bare, f"schema {s.tag}: keys {bare} need a doc saying what they hold"
