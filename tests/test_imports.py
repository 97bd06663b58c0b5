"""nbkit's module import graph has no cycle (issue #12, "no circles anywhere").

The graph is read with ``ast`` from every ``nbkit/**/*.py``, imports inside functions included (a
function-level import is how a cycle hides), imports under ``if TYPE_CHECKING:`` excluded (they never
run). An edge ``a -> b`` means module ``a`` imports module ``b``; ``from .pkg import name`` is an edge
to ``pkg.name`` when that is a module, else to ``pkg``. Importing ``nbkit.pkg.mod`` also runs
``nbkit.pkg``'s ``__init__``, so that edge is added too.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "nbkit"


def _module_names(root: Path = ROOT) -> dict[str, Path]:
    """``{dotted module name: file}`` for every module of the package."""
    out = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """Every Import / ImportFrom node, at any depth, outside ``if TYPE_CHECKING:`` blocks."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        stack.extend(ast.iter_child_nodes(node))


def _targets(module: str, is_package: bool, node, modules) -> set[str]:
    """The package modules one import statement in ``module`` loads."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        if node.level:
            base = module.split(".") if is_package else module.split(".")[:-1]
            base = base[: len(base) - (node.level - 1)]
            prefix = ".".join(base + ([node.module] if node.module else []))
        else:
            prefix = node.module or ""
        names = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in modules else prefix
                 for a in node.names]
    out = set()
    for name in names:
        parts = name.split(".")
        # importing a.b.c loads a, a.b and a.b.c
        out.update(".".join(parts[:i]) for i in range(1, len(parts) + 1)
                   if ".".join(parts[:i]) in modules)
    return out


def import_graph(root: Path = ROOT) -> nx.DiGraph:
    """nbkit's module import graph; edge attribute ``lines`` = where each import is written."""
    modules = _module_names(root)
    graph = nx.DiGraph()
    graph.add_nodes_from(modules)
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in _imports(tree):
            for target in _targets(module, path.name == "__init__.py", node, modules):
                if target == module or module.startswith(target + "."):
                    continue  # a module's own package is already loaded
                graph.add_edge(module, target)
                graph.edges[module, target].setdefault("lines", []).append(
                    f"{path.relative_to(root)}:{node.lineno}")
    return graph


def cycles(graph: nx.DiGraph) -> list[list[str]]:
    """The modules of each import cycle (strongly connected component of more than one module)."""
    return sorted(sorted(scc) for scc in nx.strongly_connected_components(graph) if len(scc) > 1)


def describe(graph: nx.DiGraph, component: list[str]) -> str:
    """Every import edge inside one cycle, with the file:line of each import statement."""
    sub = graph.subgraph(component)
    return "\n".join(f"  {a} -> {b}  ({', '.join(sorted(sub.edges[a, b]['lines']))})"
                     for a, b in sorted(sub.edges))


def test_graph_reads_function_level_and_relative_imports(tmp_path):
    pkg = tmp_path / PACKAGE
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import f\n")
    (pkg / "b.py").write_text("def f():\n    from . import a\n    from .sub import c\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..a import x\n"
        "from .. import b\n")
    graph = import_graph(tmp_path)
    assert set(graph.edges) == {("nbkit.a", "nbkit.b"), ("nbkit.b", "nbkit.a"),
                                ("nbkit.b", "nbkit.sub"), ("nbkit.b", "nbkit.sub.c"),
                                ("nbkit.sub.c", "nbkit.b")}
    found = cycles(graph)
    assert found == [["nbkit.a", "nbkit.b", "nbkit.sub.c"]]
    assert "nbkit/b.py:2" in describe(graph, found[0])


def test_no_import_cycle():
    graph = import_graph()
    assert graph.number_of_edges() > 20  # the package really was read
    found = cycles(graph)
    assert not found, "import cycles in nbkit:\n" + "\n\n".join(
        describe(graph, c) for c in found)


# --- docs/architecture.md says what each module may import; the code keeps to it ------------------
ARCHITECTURE = ROOT / "docs" / "architecture.md"


def documented_imports(text: str) -> dict[str, set[str]]:
    """``{module: allowed nbkit modules}`` from the page's paragraphs: a paragraph opens with the bold
    module file name(s) and holds one ``May import: `a`, `b`.`` line (``nothing`` for none)."""
    out = {}
    for para in re.split(r"\n\s*\n", text):
        head = re.match(r"\*\*(.+?)\*\*", para.strip())
        may = re.search(r"^May import: (.*)$", para, re.M)
        if not head or not may:
            continue
        heads = re.match(r"(\*\*.+?\*\*(?:,? (?:and )?)?)+", para.strip()).group(0)
        files = re.findall(r"`([\w/]+\.py)`", heads)
        folder = ""
        for f in files:
            if "/" in f:
                folder = f.rsplit("/", 1)[0] + "/"
            path = f if "/" in f or not folder else folder + f
            mod = "nbkit." + path[:-3].replace("/", ".").replace(".__init__", "")
            mod = "nbkit" if mod == "nbkit.__init__" else mod
            allowed = set(re.findall(r"`([\w.]+?)(?:\.\*)?`", may.group(1)))
            out[mod] = {"nbkit." + a for a in allowed}
    return out


def test_documented_imports_parses_the_page_format():
    page = ("**`io.py`** owns files.\nMay import: `errors`.\n\n"
            "**`datasets/coco.py`, `voc.py`** own formats.\nMay import: `errors`, `datasets`.\n\n"
            "**`errors.py`** owns errors.\nMay import: nothing.\n")
    assert documented_imports(page) == {"nbkit.io": {"nbkit.errors"},
                                        "nbkit.datasets.coco": {"nbkit.errors", "nbkit.datasets"},
                                        "nbkit.datasets.voc": {"nbkit.errors", "nbkit.datasets"},
                                        "nbkit.errors": set()}


def test_every_module_imports_only_what_the_architecture_page_allows():
    doc = documented_imports(ARCHITECTURE.read_text(encoding="utf-8"))
    graph = import_graph()
    undocumented = sorted(m for m in graph.nodes if m not in doc)
    assert not undocumented, f"{ARCHITECTURE.name} has no paragraph (owns / May import) for {undocumented}"
    stray = {}
    for m in graph.nodes:
        bad = sorted(t for t in graph.successors(m)
                     if t != m and not any(t == a or t.startswith(a + ".") for a in doc[m]))
        if bad:
            stray[m] = bad
    assert not stray, f"imports that {ARCHITECTURE.name} does not allow (fix the code or the page): {stray}"
