"""The modules of `shared/` import each other without cycles, so each can be read (and loaded) on its own.

Every import counts: at the top of a module, inside a function (a cycle hidden in a function is
still two modules that need each other) or under `if TYPE_CHECKING:` (the type checker reads it).
A module's own parent packages are left out: Python loads them before the module anyway.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(tree: ast.AST, module: str, is_package: bool, known: set[str]) -> set[str]:
    """The modules of `known` that `tree` imports (a package's `from p import m` names module p.m)."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if is_package else module.split(".")[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join([*package, base] if base else package)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    parents = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)}
    return {name for name in found if name in known and name != module and name not in parents}


def import_graph(*packages: str) -> dict[str, set[str]]:
    """Module name -> the modules of `packages` it imports."""
    paths = [path for package in packages for path in sorted((ROOT / package).rglob("*.py"))]
    known = {_module_name(path) for path in paths}
    return {
        _module_name(path): _imported(
            ast.parse(path.read_text(), str(path)), _module_name(path), path.name == "__init__.py", known
        )
        for path in paths
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(graph.get(node, ())):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_between_modules():
    graph = import_graph("shared", "functions")

    assert cycles(graph) == []


def test_the_cycle_check_sees_an_import_made_inside_a_function():
    graph = {"a": {"b"}, "b": {"a"}, "c": {"a"}}
    tree = ast.parse("def f():\n    from shared import settings\nif TYPE_CHECKING:\n    from shared.web import api\n")

    assert cycles(graph) == [["a", "b"]]
    known = {"shared", "shared.platform.settings", "shared.web", "shared.web.api"}
    assert _imported(tree, "shared.platform.secrets", False, known) == {
        "shared.platform.settings",
        "shared.web",
        "shared.web.api",
    }
