"""Settings that reference Secret Manager (`sm://...`) are resolved with the real client.

Boundary faked: the Secret Manager API itself (no GCP project or credentials here). The real
`google-cloud-secret-manager` client, on its REST transport with anonymous credentials, talks
HTTP to a local server that answers `:access` the way the API does; everything on our side of
the wire is real.
"""

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from shared.settings import ConfigError, load_settings

SECRETS = {
    "projects/demo/secrets/jwt-key/versions/latest": "a-jwt-signing-key-that-is-long-enough-0123456789",
    "projects/demo/secrets/short/versions/1": "too-short",
}


class FakeSecretManager(BaseHTTPRequestHandler):
    requests: list[str] = []

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        FakeSecretManager.requests.append(path)
        name = path.removeprefix("/v1/").removesuffix(":access")
        if name not in SECRETS:
            self._send(404, {"error": {"code": 404, "message": f"Secret [{name}] not found", "status": "NOT_FOUND"}})
            return
        data = base64.b64encode(SECRETS[name].encode()).decode()
        self._send(200, {"name": name, "payload": {"data": data}})

    def _send(self, status: int, body: dict) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def secret_manager() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), FakeSecretManager)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FakeSecretManager.requests = []
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_sm_reference_is_replaced_by_the_secret_value(secret_manager):
    settings = load_settings(
        environment="production",
        database_url="postgresql://u@db/x",
        secret_manager_endpoint=secret_manager,
        jwt_secret="sm://projects/demo/secrets/jwt-key/versions/latest",
    )

    assert settings.jwt_secret.get_secret_value() == SECRETS["projects/demo/secrets/jwt-key/versions/latest"]
    assert FakeSecretManager.requests == ["/v1/projects/demo/secrets/jwt-key/versions/latest:access"]


def test_a_resolved_secret_must_pass_the_same_checks_as_a_literal(secret_manager):
    with pytest.raises(ConfigError, match="JWT_SECRET: must be at least 32 bytes"):
        load_settings(
            environment="production",
            database_url="postgresql://u@db/x",
            secret_manager_endpoint=secret_manager,
            jwt_secret="sm://projects/demo/secrets/short/versions/1",
        )


def test_a_missing_secret_fails_at_start(secret_manager):
    with pytest.raises(Exception, match="not found"):
        load_settings(
            environment="production",
            database_url="postgresql://u@db/x",
            secret_manager_endpoint=secret_manager,
            jwt_secret="sm://projects/demo/secrets/absent/versions/1",
        )
