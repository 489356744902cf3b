"""Real servers on real sockets: `make dev`'s (in this process), and functions-framework's gunicorn
as Cloud Functions runs it. What a client and the access log see."""

import http.client
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator

import pytest
from werkzeug.serving import make_server

from tests.factories import as_role
from tests.servers import ROOT, free_port


@pytest.fixture(scope="module")
def server(services) -> Iterator[int]:
    from shared.devserver import build_app

    httpd = make_server("127.0.0.1", 0, build_app(), threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd.server_port
    httpd.shutdown()
    thread.join(timeout=10)


def send(port: int, method: str, target: str, *, body: bytes | None = None, headers: dict[str, str] | None = None):
    """The request line exactly as given (no client-side normalising of the path)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest(method, target, skip_accept_encoding=True)
        for name, value in {**(headers or {}), "Content-Length": str(len(body or b""))}.items():
            connection.putheader(name, value)
        connection.endheaders(body)
        response = connection.getresponse()
        response.read()
        return response
    finally:
        connection.close()


def test_a_response_with_an_etag_carries_exactly_one_date(server):
    # Werkzeug's server sent its Date and the application's; gunicorn (Cloud Functions) drops the latter.
    _, developer = as_role("developer")
    created = send(
        server,
        "POST",
        "/releases",
        body=b'{"application": "a", "version": "1.0.0", "title": "t"}',
        headers=developer | {"Content-Type": "application/json"},
    )
    location = created.getheader("Location")

    response = send(server, "GET", location, headers=developer)

    assert response.status == 200
    assert response.getheader("ETag")
    assert len(response.headers.get_all("Date")) == 1


@pytest.fixture(scope="module")
def cloud_function(services) -> Iterator[int]:
    """The auth function served by `functions-framework` (gunicorn), the server Cloud Functions runs."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "functions_framework",
            *("--target", "auth", "--source", "functions/auth/main.py"),
            *("--host", "127.0.0.1", "--port", str(port)),
        ],
        cwd=ROOT,
        env={**os.environ, "LOG_LEVEL": "WARNING"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            send(port, "GET", "/openapi.json")
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                raise
            time.sleep(0.2)
    yield port
    process.terminate()
    process.wait(timeout=10)


@pytest.mark.parametrize("target", ["/auth/login/", "//auth/login", "/auth//login", "/auth/%6cogin", "/login/"])
def test_the_login_path_is_reachable_only_as_spelled_in_the_rate_limit_rule(cloud_function, target):
    body = b'{"email": "a@example.com", "password": "whatever-password"}'
    json = {"Content-Type": "application/json"}

    response = send(cloud_function, "POST", target, body=body, headers=json)

    assert response.status == 404
    assert send(cloud_function, "POST", "/auth/login", body=body, headers=json).status == 401


def test_the_dev_server_refuses_other_spellings_of_the_login_path_too(server):
    # (`//auth/login` never reaches it as such: Python's http.server folds leading slashes.)
    body = b'{"email": "a@example.com", "password": "whatever-password"}'

    for target in ("/auth/login/", "/auth//login", "/auth/%6cogin"):
        assert send(server, "POST", target, body=body, headers={"Content-Type": "application/json"}).status == 404


@pytest.mark.parametrize(
    ("target", "logged"), [("/health", "GET /health 200"), ("/releases/docs", "GET /releases/docs 200")]
)
def test_the_access_log_names_the_path_as_the_client_sent_it(server, caplog, target, logged):
    with caplog.at_level("INFO", logger="shared.web"):
        send(server, "GET", target)

    assert logged in [r.getMessage() for r in caplog.records if r.name == "shared.web"]
