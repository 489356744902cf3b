"""Cold start: what each function's `main.py` loads before its first request, checked in a fresh
interpreter (the figures themselves are in `make bench`, never in a test)."""

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

LOADED = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("main", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps(sorted({name.split(".")[0] for name in sys.modules})))
"""


def loaded_by(function: str) -> set[str]:
    main = ROOT / "functions" / function / "main.py"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "ENVIRONMENT": "test"}
    done = subprocess.run(
        [sys.executable, "-c", LOADED, str(main)], env=env, capture_output=True, text=True, check=True
    )
    return set(json.loads(done.stdout))


def test_the_health_function_never_loads_sqlalchemy():
    assert "sqlalchemy" not in loaded_by("health")


@pytest.mark.parametrize("function", ["auth", "releases", "health"])
def test_no_function_loads_opentelemetry_or_the_cloud_only_clients_at_import(function):
    loaded = loaded_by(function)

    assert "opentelemetry" not in loaded  # redis-py would import it for metrics we never turn on
    assert "aiohttp" not in loaded and "grpc" not in loaded  # the Cloud SQL connector's, Secret Manager's
    assert "grafeas" not in loaded  # attestations load their clients when a deployment is attested


def test_redis_leaves_opentelemetry_importable_for_whoever_uses_it():
    code = "import shared, opentelemetry.sdk.metrics, redis.observability.providers as p; print(p.OTEL_AVAILABLE)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"  # redis's own metrics stay off; the SDK itself imported fine
