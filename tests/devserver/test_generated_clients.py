"""The documents are good enough to build on: each is valid OpenAPI 3.1, a Python client generated
from it (openapi-python-client) imports, and a pipeline's flow through those clients works against
a running `make dev` server. The generated code lives in a temporary directory only."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openapi_spec_validator
import pytest

from tests.factories import PASSWORD, make_user
from tests.servers import DevServer, call

FUNCTIONS = ("auth", "releases", "health")
BIN = Path(sys.executable).parent
DIGEST = "sha256:" + "a" * 64


@pytest.fixture(scope="module")
def documents(dev_server: DevServer) -> dict[str, Any]:
    found = {}
    for name in FUNCTIONS:
        status, _, document = call(dev_server.base, "GET", f"/{name}/openapi.json")
        assert status == 200
        found[name] = document
    return found


@pytest.mark.parametrize("name", FUNCTIONS)
def test_each_document_is_valid_openapi_3_1(documents, name):
    openapi_spec_validator.validate(documents[name])  # raises, naming the offending part


@pytest.fixture(scope="module")
def generated(documents: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """`openapi-python-client generate` for each document; the packages are importable meanwhile."""
    out = tmp_path_factory.mktemp("clients")
    logs = {}
    for name, document in documents.items():
        source = out / f"{name}.json"
        source.write_text(json.dumps(document))
        result = subprocess.run(
            [
                *(str(BIN / "openapi-python-client"), "generate", "--path", str(source), "--meta", "none"),
                *("--output-path", str(out / f"{name}_client")),
            ],
            env={**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"},  # it formats with ruff
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        logs[name] = result.stdout + result.stderr
    sys.path.insert(0, str(out))
    yield logs
    sys.path.remove(str(out))
    for module in [m for m in sys.modules if m.split(".")[0] in {f"{n}_client" for n in FUNCTIONS}]:
        del sys.modules[module]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_the_client_generated_from_each_document_imports_whole(generated, name):
    assert "Warning" not in generated[name], generated[name]  # nothing the generator had to skip
    package = importlib.import_module(f"{name}_client")
    failures = {}
    for module in pkgutil.walk_packages(package.__path__, f"{name}_client."):
        try:
            importlib.import_module(module.name)
        except Exception as error:  # noqa: BLE001 - every broken module is reported, not just the first
            failures[module.name] = repr(error)
    assert failures == {}


def test_a_pipeline_flow_through_the_generated_clients(dev_server, generated):
    """Login, create and finalize a release, deploy it to dev and report it done, all typed."""
    from auth_client import Client
    from auth_client.api.auth import login
    from auth_client.models import LoginIn, TokenPairOut
    from releases_client import AuthenticatedClient
    from releases_client.api.releases import (
        create_release,
        finalize_release,
        get_deployment,
        get_release,
        report_status,
        request_deployment,
    )
    from releases_client.models import (
        Artifact,
        DeploymentIn,
        DeploymentOut,
        DeploymentOutStatus,
        ReleaseDetailOut,
        ReleaseIn,
        Source,
        StatusIn,
        StatusInStatus,
    )

    user = make_user("developer")
    tokens = login.sync(client=Client(base_url=dev_server.base), body=LoginIn(email=user["email"], password=PASSWORD))
    assert isinstance(tokens, TokenPairOut), tokens
    client = AuthenticatedClient(base_url=dev_server.base, token=tokens.access_token)

    body = ReleaseIn(
        application="checkout",
        version="2.0.0",
        title="Generated client",
        source=Source(repository="github.com/acme/checkout", commit_sha="9fceb02"),
        artifacts=[Artifact(name="image", uri="europe-docker.pkg.dev/acme/apps/checkout:2.0.0", digest=DIGEST)],
    )
    created = create_release.sync_detailed(client=client, body=body, idempotency_key="generated-1")
    assert created.status_code == 201 and isinstance(created.parsed, ReleaseDetailOut), created.content
    release = created.parsed
    assert created.headers["Location"].endswith(f"/releases/{release.id}")
    assert isinstance(get_release.sync(release.id, client=client), ReleaseDetailOut)

    ready = finalize_release.sync(release.id, client=client)
    assert isinstance(ready, ReleaseDetailOut) and ready.status == "ready"

    requested = request_deployment.sync_detailed(release.id, client=client, body=DeploymentIn(environment="dev"))
    deployment = requested.parsed
    assert requested.status_code == 201 and isinstance(deployment, DeploymentOut), requested.content
    assert deployment.status == DeploymentOutStatus.QUEUED
    for status in (StatusInStatus.IN_PROGRESS, StatusInStatus.SUCCEEDED):
        reported = report_status.sync(release.id, deployment.id, client=client, body=StatusIn(status=status))
        assert isinstance(reported, DeploymentOut), reported
    done = get_deployment.sync(release.id, deployment.id, client=client)
    assert isinstance(done, DeploymentOut) and done.status == DeploymentOutStatus.SUCCEEDED
