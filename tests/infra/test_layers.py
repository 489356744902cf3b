"""The layers of `shared/` are import-linter's contract in pyproject.toml, run by `make lint`: here,
that the contract holds on the code and that it is not vacuous (an upward import, even one made
inside a function, breaks it)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).parent / "lint-imports"


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"],
        cwd=tree,
        env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def _copy_of_shared(tmp_path: Path) -> Path:
    tree = tmp_path / "repo"
    shutil.copytree(ROOT / "shared", tree / "shared", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    return tree


def test_the_layers_contract_holds_on_the_code(tmp_path):
    result = _lint_imports(_copy_of_shared(tmp_path))

    assert result.returncode == 0, result.stdout[-3000:]
    assert "2 kept, 0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "added", "broken"),
    [
        # An upward import made inside a function counts.
        (
            "platform/clock.py",
            "def _late():\n    from shared.releases import service  # noqa",
            [
                "shared.platform is not allowed to import shared.releases",
                "shared.platform.clock -> shared.releases.service",
            ],
        ),
        # Siblings of one layer may not import each other, either way.
        (
            "releases/rules.py",
            "from shared.deployments import rules as _deployment_rules  # noqa",
            ["shared.releases is not allowed to import shared.deployments"],
        ),
        # A concept's routes are the edge: only the functions import them.
        (
            "catalog.py",
            "from shared.releases import views as _views  # noqa",
            ["Only the functions import a concept's routes BROKEN", "shared.catalog -> shared.releases.views"],
        ),
    ],
    ids=["upward-inside-a-function", "between-siblings", "importing-routes"],
)
def test_an_import_against_the_layers_breaks_the_contract(tmp_path, module, added, broken):
    tree = _copy_of_shared(tmp_path)
    path = tree / "shared" / module
    path.write_text(path.read_text() + "\n\n" + added + "\n")

    result = _lint_imports(tree)

    assert result.returncode == 1, result.stdout[-3000:]
    for message in broken:
        assert message in result.stdout
