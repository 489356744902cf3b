"""The type check follows a request from the HTTP edge to the service: a view's body is a typed
parameter that the view reads or hands, typed, to the service, so renaming a field of a request model without
updating the view fails `make typecheck` instead of answering 500 at run time."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _mypy(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tree / ".mypy_cache"), "shared", "functions"],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _copy_of_the_code(tmp_path: Path) -> Path:
    tree = tmp_path / "repo"
    ignore = shutil.ignore_patterns("__pycache__")
    for folder in ("shared", "functions"):
        shutil.copytree(ROOT / folder, tree / folder, ignore=ignore)
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    if (ROOT / ".mypy_cache").is_dir():  # the libraries' entries stay valid: a much faster first run
        shutil.copytree(ROOT / ".mypy_cache", tree / ".mypy_cache")
    return tree


def _rename_field(tree: Path, model: str, old: str, new: str) -> Path:
    """Rename `old` to `new` in the class body of `model`, wherever the schemas keep it."""
    for path in sorted((tree / "shared").rglob("*.py")):
        text = path.read_text()
        found = re.search(rf"^class {model}\(.*?(?=^\S|\Z)", text, flags=re.M | re.S)
        if found is None:
            continue
        body = re.sub(rf"^(\s+){old}:", rf"\1{new}:", found.group(0), count=1, flags=re.M)
        assert body != found.group(0), f"{model} has no field {old}"
        path.write_text(text[: found.start()] + body + text[found.end() :])
        return path
    raise AssertionError(f"no class {model} under shared/")


@pytest.mark.parametrize(
    ("model", "field", "where"),
    [
        # Each view hands its model to the service, which reads it (no dict in between).
        ("ApprovalIn", "comment", "shared/deployments/approvals.py"),
        ("ReleaseIn", "title", "shared/releases/service.py"),
    ],
)
def test_a_renamed_request_field_fails_the_type_check(tmp_path, model, field, where):
    tree = _copy_of_the_code(tmp_path)

    unchanged = _mypy(tree)
    _rename_field(tree, model, field, "renamed")
    renamed = _mypy(tree)

    assert unchanged.returncode == 0, unchanged.stdout
    assert renamed.returncode == 1, renamed.stdout
    assert re.search(rf'^{re.escape(where)}:\d+: error: "{model}" has no attribute "{field}"', renamed.stdout, re.M)
