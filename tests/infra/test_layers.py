"""The layers of `shared/` are import-linter's contract in pyproject.toml, run by `make lint`: here,
that the contract holds on the code and that it is not vacuous (an upward import, even one made
inside a function, breaks it)."""

import shutil
import subprocess
import sys
from pathlib import Path

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


def test_an_upward_import_inside_a_function_breaks_the_contract(tmp_path):
    tree = _copy_of_shared(tmp_path)
    clock = tree / "shared" / "platform" / "clock.py"
    clock.write_text(clock.read_text() + "\n\ndef _late():\n    from shared.releases import service  # noqa\n")

    result = _lint_imports(tree)

    assert result.returncode == 1, result.stdout[-3000:]
    assert "shared.platform is not allowed to import shared.releases" in result.stdout
    assert "shared.platform.clock -> shared.releases.service" in result.stdout


def test_releases_and_deployments_may_not_import_each_other_both_ways(tmp_path):
    tree = _copy_of_shared(tmp_path)
    rules = tree / "shared" / "releases" / "rules.py"
    rules.write_text(rules.read_text() + "\n\nfrom shared.deployments import rules as _deployment_rules  # noqa\n")

    result = _lint_imports(tree)

    assert result.returncode == 1
    assert "shared.releases is not allowed to import shared.deployments" in result.stdout


def test_only_the_functions_may_import_a_concepts_routes(tmp_path):
    tree = _copy_of_shared(tmp_path)
    catalog = tree / "shared" / "catalog.py"
    catalog.write_text(catalog.read_text() + "\n\nfrom shared.releases import views as _views  # noqa\n")

    result = _lint_imports(tree)

    assert result.returncode == 1
    assert "Only the functions import a concept's routes BROKEN" in result.stdout
    assert "shared.catalog -> shared.releases.views" in result.stdout
