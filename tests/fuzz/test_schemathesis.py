"""Property-based fuzzing of every operation, as each role, against a running `make dev` server.

Schemathesis reads each function's own /openapi.json and generates requests from it; a run
fails on any 5xx, any status code, content type, header or body the document does not declare,
and any response slower than 2 s. `FUZZ_EXAMPLES` bounds the examples per operation (small in
`make test`, larger in `make fuzz`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.factories import as_role
from tests.servers import DevServer

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "8"))
PHASES = os.environ.get("FUZZ_PHASES", "examples,coverage,fuzzing")
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    ]
)
REPORT = ROOT / ".data" / "fuzz-summary.json"


@pytest.fixture(scope="module")
def dev_server(services) -> Iterator[str]:
    server = DevServer()
    yield server.base
    server.stop()


def fuzz(base: str, function: str, headers: dict[str, str]) -> tuple[int, str]:
    command = [
        str(Path(sys.executable).with_name("st")),
        "run",
        f"{base}/{function}/openapi.json",
        "--checks",
        CHECKS,
        "--max-response-time",
        "2",
        "--max-examples",
        str(EXAMPLES),
        "--phases",
        PHASES,
        "--no-color",
    ]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)
    return result.returncode, result.stdout + result.stderr


def _record(function: str, role: str, output: str) -> None:
    generated = re.search(r"(\d+) generated", output)
    summary = json.loads(REPORT.read_text()) if REPORT.exists() else {}
    summary[f"{function}/{role}"] = int(generated.group(1)) if generated else 0
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps(summary, indent=1, sort_keys=True))


@pytest.mark.parametrize("role", ["anonymous", "viewer", "developer", "release_manager", "admin"])
@pytest.mark.parametrize("function", ["auth", "releases"])
def test_no_operation_fails_or_strays_from_its_document(dev_server, function, role):
    headers = {} if role == "anonymous" else as_role(role)[1]

    code, output = fuzz(dev_server, function, headers)

    _record(function, role, output)
    assert code == 0, output[-6000:]


def test_health_never_fails_or_strays_from_its_document(dev_server):
    code, output = fuzz(dev_server, "health", {})

    _record("health", "anonymous", output)
    assert code == 0, output[-6000:]
