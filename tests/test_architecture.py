"""The package's layout stays readable: layers flow one way, no import cycles, small modules.

The imports are read from the source with ``ast`` (every ``import``, also those inside
functions; not those under ``if TYPE_CHECKING:``), so a late import cannot hide a cycle.
Run as a script to print the report for another checkout::

    python tests/test_architecture.py [path/to/drive_lab]
"""
from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "drive_lab"

# Lower layers never import higher ones (README "What is where").
LAYERS = (
    ("version", "paths", "progress", "runtime"),
    ("data", "models", "masks", "scores", "sgd"),
    ("pruning", "training", "sanity"),
    ("methods", "config", "results", "phases", "imp", "pipeline"),
    ("store", "result_frames", "sweep", "executors", "study", "presets", "experiments"),
    ("analysis", "plots", "exercises", "literature", "term_contributions", "explorer", "browser", "widgets",
     "reproduction"),
    ("cli", "__main__"),
)
LAYER_OF = {name: rank for rank, names in enumerate(LAYERS) for name in names}
MAX_LINES = 400
# One concept each: the model zoo (seven architectures); masks with their exact nested top-k.
ONE_CONCEPT_EXCEPTIONS = {"container.py"}  # masks/container.py: the Masks class alone


def module_name(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                lines.update(range(child.lineno, (child.end_lineno or child.lineno) + 1))
    return lines


def imports_of(path: Path, package: Path, modules: set[str]) -> set[str]:
    """The drive_lab modules ``path`` imports (``drive_lab`` itself for the package ``__init__``)."""
    name = module_name(path, package)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skipped = _type_checking_lines(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", None) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.split(".")[0] == package.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != package.name:
                continue
            for alias in node.names:  # `from . import scores` imports the module drive_lab.scores
                candidate = f"{target}.{alias.name}"
                found.add(candidate if candidate in modules else target)
    found.discard(name)
    return found


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    files = sorted(package.rglob("*.py"))
    modules = {module_name(path, package) for path in files}
    graph = {}
    for path in files:
        targets = set()
        for target in imports_of(path, package, modules):
            while target not in modules and "." in target:  # `from .data.registry import X` -> the module
                target = target.rsplit(".", 1)[0]
            targets.add(target)
        graph[module_name(path, package)] = targets
    return graph


def component(module: str) -> str:
    """``drive_lab.data.cifar`` -> ``data``; ``drive_lab`` -> ``drive_lab``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    counter = [0]

    def visit(node: str) -> None:
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(groups)


def layer_violations(graph: dict[str, set[str]], package_name: str = "drive_lab") -> list[str]:
    """``"a -> b"`` for every import that goes up the layer order, or into the package ``__init__``."""
    problems = []
    for source, targets in sorted(graph.items()):
        if source == package_name:
            continue  # the façade: names every public module, loads them lazily
        for target in sorted(targets):
            if target == package_name:
                problems.append(f"{source} -> {target} (imports the package __init__; import the module instead)")
                continue
            a, b = component(source), component(target)
            if a == b:
                continue
            if a not in LAYER_OF or b not in LAYER_OF:
                problems.append(f"{source} -> {target} (module without a layer: add it to LAYERS)")
            elif LAYER_OF[b] > LAYER_OF[a]:
                problems.append(f"{source} -> {target} (layer {LAYER_OF[a]} imports layer {LAYER_OF[b]})")
    return problems


def report(package: Path = PACKAGE) -> str:
    graph = import_graph(package)
    lines = [f"cycle: {' <-> '.join(group)}" for group in cycles(graph)]
    # the same without the package __init__, which hides the finer cycles behind one big one
    inner = {source: targets - {package.name} for source, targets in graph.items() if source != package.name}
    lines += [f"cycle without the package __init__: {' <-> '.join(group)}" for group in cycles(inner)]
    lines += [f"upward: {problem}" for problem in layer_violations(graph, package.name)]
    return "\n".join(lines) or "no cycles, no upward imports"


# ----------------------------------------------------------------------------- the tests
def test_reader_sees_late_and_relative_imports(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from . import b\n")
    (package / "b.py").write_text("def f():\n    from .sub.c import g\n    return g\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "c.py").write_text("from ..a import x\nfrom typing import TYPE_CHECKING\n"
                                          "if TYPE_CHECKING:\n    from .. import b\n")
    graph = import_graph(package)
    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.b"] == {"pkg.sub.c"} and graph["pkg.sub.c"] == {"pkg.a"}
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.sub.c"]]


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(group) for group in found)


def test_layers_flow_one_way():
    problems = layer_violations(import_graph())
    assert not problems, "imports against the layer order:\n" + "\n".join(problems)


def test_every_module_has_a_layer_and_is_in_the_readme():
    readme = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## What is where", 1)[1].split("\n## ", 1)[0]
    names = {component(module_name(path, PACKAGE)) for path in PACKAGE.rglob("*.py")} - {"drive_lab"}
    assert names <= set(LAYER_OF), f"modules without a layer: {sorted(names - set(LAYER_OF))}"
    missing = [name for name in sorted(names - {"__main__"}) if not re.search(rf"`{name}/?`", section)]
    assert not missing, f"README's 'What is where' does not name: {missing}"


@pytest.mark.parametrize("path", sorted(PACKAGE.rglob("*.py")), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_modules_stay_small(path):
    if path.name in ONE_CONCEPT_EXCEPTIONS:
        return
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.name} has {lines} lines (> {MAX_LINES}): split it by concept"


if __name__ == "__main__":
    print(report(Path(sys.argv[1]).resolve() if len(sys.argv) > 1 else PACKAGE))
