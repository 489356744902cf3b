"""What each function loads before its first request, kept as a list per function
(tests/unit/startup/<function>.txt): every module of `shared` and every third-party package its
`main.py` imports, in a fresh interpreter. A change that adds to a function's cold start, or takes
from it, shows here and is made on purpose: update the list in the same change (the cold start's
figures are `make bench`'s; #30's work is to make these lists shorter)."""

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

LISTS = ROOT / "tests" / "unit" / "startup"
FUNCTIONS = sorted(p.name for p in (ROOT / "functions").iterdir() if (p / "main.py").exists())
LOADED = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("main", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
names = set()
for name in sys.modules:
    top = name.split(".")[0]
    if top == "shared":
        names.add(name)
    elif top not in sys.stdlib_module_names and not top.startswith("_") and top != "main":
        names.add(top)
print(json.dumps(sorted(names)))
"""


def loaded_by(function: str) -> list[str]:
    main = ROOT / "functions" / function / "main.py"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "ENVIRONMENT": "test"}
    done = subprocess.run(
        [sys.executable, "-c", LOADED, str(main)], env=env, capture_output=True, text=True, check=True
    )
    return list(json.loads(done.stdout))


def listed(function: str) -> list[str]:
    lines = (LISTS / f"{function}.txt").read_text().splitlines()
    return [line for line in lines if line and not line.startswith("#")]


@pytest.mark.parametrize("function", FUNCTIONS)
def test_a_functions_start_up_set_changes_only_on_purpose(function):
    loaded, kept = set(loaded_by(function)), set(listed(function))

    added, gone = sorted(loaded - kept), sorted(kept - loaded)
    assert not added and not gone, (
        f"{function}'s start-up set changed: loads now {added or 'nothing new'}, no longer {gone or '-'}; "
        f"if that is meant, update tests/unit/startup/{function}.txt in the same change"
    )
