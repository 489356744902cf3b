"""Each function loads alone, as its own Cloud Function does, with nothing else imported."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROBE = """
import functions_framework
app = functions_framework.create_app({name!r}, {source!r})
client = app.test_client()
response = client.get({path!r})
assert response.status_code in (200, 401), (response.status_code, response.get_data())
print("loaded", {name!r}, response.status_code)
"""


@pytest.mark.parametrize(("name", "path"), [("health", "/"), ("auth", "/me"), ("releases", "/releases")])
def test_each_function_loads_and_answers_on_its_own(name, path, services):
    code = PROBE.format(name=name, source=str(ROOT / "functions" / name / "main.py"), path=path)
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )

    assert result.returncode == 0, result.stderr[-2000:]
    assert f"loaded {name}" in result.stdout
