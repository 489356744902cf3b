"""Modules bound with `shared.lazy.module` (imported on first use, so a cold start skips them)."""

from __future__ import annotations

import ast
import subprocess
import sys
import threading

import pytest

from shared import lazy
from tests.conftest import ROOT


def _bindings(tree: ast.Module) -> tuple[dict[str, str], dict[str, str]]:
    """What a module binds lazily (`name = lazy.module("x")`) and what its TYPE_CHECKING block imports."""
    deferred: dict[str, str] = {}
    checked: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
            call = node.value
            if ast.unparse(call.func) == "lazy.module" and isinstance(node.targets[0], ast.Name):
                deferred[node.targets[0].id] = ast.literal_eval(call.args[0])
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for statement in node.body:
                if isinstance(statement, ast.ImportFrom):
                    for alias in statement.names:
                        checked[alias.asname or alias.name] = f"{statement.module}.{alias.name}"
                elif isinstance(statement, ast.Import):
                    for alias in statement.names:
                        checked[alias.asname or alias.name] = alias.name
    return deferred, checked


DEFERRING = [
    path
    for path in sorted((ROOT / "shared").rglob("*.py"))
    if "lazy.module(" in path.read_text() and path.name != "lazy.py"
]


@pytest.mark.parametrize("path", DEFERRING, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_lazy_binding_is_the_import_the_type_checker_and_the_layers_see(path):
    # mypy and the import-linter contract read the TYPE_CHECKING import; the binding must name the same module.
    deferred, checked = _bindings(ast.parse(path.read_text()))

    assert deferred, "no lazy binding found"
    for name, module in deferred.items():
        assert checked.get(name) == module, f"{name} = lazy.module({module!r}) has no matching TYPE_CHECKING import"


def test_a_lazy_module_is_imported_when_an_attribute_is_first_read():
    code = (
        "import sys; from shared import lazy\n"
        "tomllib = lazy.module('tomllib'); before = 'tomllib' in sys.modules\n"
        "print(before, tomllib.loads('a = 1'), 'tomllib' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)

    assert done.stdout.split() == ["False", "{'a':", "1}", "True"]


def test_a_missing_attribute_is_the_modules_own_error():
    with pytest.raises(AttributeError, match="no_such_thing"):
        _ = lazy.module("json").no_such_thing


def test_threads_reading_a_lazy_module_at_once_all_get_the_one_module():
    sys.modules.pop("colorsys", None)  # not imported yet: the eight threads race its first import
    deferred = lazy.module("colorsys")
    barrier = threading.Barrier(8)
    found: list[object] = []

    def read() -> None:
        barrier.wait()
        found.append(deferred.rgb_to_hsv)

    threads = [threading.Thread(target=read) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    import colorsys

    assert found == [colorsys.rgb_to_hsv] * 8
