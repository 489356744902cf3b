"""Sizes a reader can hold in mind: no module under shared/, functions/ or cli/ over 350 lines and
no function over 60 (a longer one is a sign that a rule or a step wants a name of its own)."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FOLDERS = ("shared", "functions", "cli/src")
MAX_MODULE_LINES = 350
MAX_FUNCTION_LINES = 60


def oversized(path: Path, name: str) -> list[str]:
    """What in one module (`name` in messages) is over its size: the module, and each function from
    `def` to its last line."""
    source = path.read_text()
    found = []
    if source.count("\n") > MAX_MODULE_LINES:
        found.append(f"{name}: {source.count(chr(10))} lines")
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            length = (node.end_lineno or node.lineno) - node.lineno + 1
            if length > MAX_FUNCTION_LINES:
                found.append(f"{name}:{node.lineno} {node.name}(): {length} lines")
    return found


def _short(tmp_path: Path) -> Path:
    module = tmp_path / "short.py"
    module.write_text("def short():\n    return 1\n")
    return module


def test_the_size_check_sees_a_long_function_and_a_long_module(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    module = tmp_path / "long.py"
    module.write_text(f"def long():\n{body}\n" + "\n" * MAX_MODULE_LINES)

    assert oversized(module, "long.py") == [
        f"long.py: {MAX_MODULE_LINES + MAX_FUNCTION_LINES + 1} lines",
        f"long.py:1 long(): {MAX_FUNCTION_LINES + 1} lines",
    ]
    assert oversized(_short(tmp_path), "short.py") == []


def test_no_module_is_over_350_lines_and_no_function_over_60():
    modules = [path for folder in FOLDERS for path in sorted((ROOT / folder).rglob("*.py"))]

    assert len(modules) > 100
    assert [found for path in modules for found in oversized(path, str(path.relative_to(ROOT)))] == []
