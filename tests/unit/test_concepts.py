"""The shape of `shared/`: the concept packages depend on each other one way only, and every
resource has one shape (the response model) that its public dict is derived from."""

from __future__ import annotations

import ast
import uuid
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

from shared.models import Out, Shape

SHARED = Path(__file__).resolve().parents[2] / "shared"
CONCEPTS = sorted(p.name for p in SHARED.iterdir() if p.is_dir() and (p / "__init__.py").exists() and p.name != "web")


def _imported_concepts(path: Path) -> set[str]:
    """The concept packages a module imports, wherever the import stands (in a function too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        for name in names:
            parts = name.split(".")
            if len(parts) > 1 and parts[0] == "shared" and parts[1] in CONCEPTS:
                found.add(parts[1])
    return found


def concept_graph() -> dict[str, set[str]]:
    """Which concept package imports which other."""
    graph: dict[str, set[str]] = {concept: set() for concept in CONCEPTS}
    for concept in CONCEPTS:
        for path in (SHARED / concept).rglob("*.py"):
            graph[concept] |= _imported_concepts(path) - {concept}
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle in `graph`, as the path that closes it, or None."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                return [*path[path.index(nxt) :], nxt] if nxt in path else [*path, nxt]
            if nxt not in state and (found := visit(nxt, [*path, nxt])) is not None:
                return found
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node, [node])) is not None:
            return found
    return None


def test_the_cycle_finder_finds_a_cycle_and_passes_a_line():
    assert cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_concept_packages_depend_on_each_other_one_way_only():
    graph = concept_graph()
    assert {"auth", "audit", "releases", "deployments"} <= set(graph)
    assert cycle(graph) is None, f"import cycle between concepts: {' -> '.join(cycle(graph) or [])}"


class _Resource(Out):
    id: uuid.UUID
    name: str
    children: list[str]
    created_at: datetime


def test_a_shape_picks_the_models_fields_in_order_and_takes_what_the_row_lacks():
    row = SimpleNamespace(id=uuid.uuid4(), name="n", created_at=datetime(2026, 1, 1, tzinfo=UTC), secret="x")
    shown = Shape(_Resource, given=("children",))(row, children=["a"])
    assert list(shown) == ["id", "name", "children", "created_at"]
    assert shown == {"id": row.id, "name": "n", "children": ["a"], "created_at": row.created_at}


def test_a_shape_refuses_fields_its_model_does_not_have():
    with pytest.raises(ValueError, match="no fields"):
        Shape(_Resource, given=("nope",))
