"""The conventions every function shares: problem+json errors, request ids, CORS, limits."""

import pytest

PROBLEM_FIELDS = {"type", "title", "status", "detail", "code", "errors"}


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body.keys() >= PROBLEM_FIELDS
    assert body["status"] == status
    assert body["code"] == code
    return body


def test_unknown_path_is_a_problem_404(auth):
    assert_problem(auth.get("/auth/no-such-thing"), 404, "not_found")


def test_wrong_verb_is_405_with_allow(auth):
    response = auth.delete("/auth/login")

    assert_problem(response, 405, "method_not_allowed")
    assert response.headers["Allow"] == "POST"


def test_malformed_json_is_400(auth):
    response = auth.post("/auth/login", data="{not json", content_type="application/json")

    body = assert_problem(response, 400, "malformed_json")
    assert "not valid JSON" in body["detail"]


def test_wrong_content_type_is_400(auth):
    response = auth.post("/auth/register", data="email=a", content_type="text/plain")

    assert_problem(response, 400, "unsupported_content_type")


def test_body_over_one_mebibyte_is_413(auth):
    response = auth.post("/auth/register", data=b"{" + b" " * (1024 * 1024) + b"}", content_type="application/json")

    assert_problem(response, 413, "payload_too_large")


def test_unknown_fields_are_rejected_field_by_field(auth):
    response = auth.post(
        "/auth/register",
        json={"email": "a@example.com", "password": "x" * 12, "display_name": "A", "is_admin": True},
    )

    body = assert_problem(response, 422, "validation_failed")
    assert {"field": "is_admin", "message": "unknown field"} in body["errors"]


def test_request_id_is_echoed_when_given(auth):
    response = auth.get("/auth/nothing", headers={"X-Request-ID": "ci-run-42.step-3"})

    assert response.headers["X-Request-ID"] == "ci-run-42.step-3"


@pytest.mark.parametrize("path", ["/auth/me", "/auth/nothing"])
def test_request_id_is_generated_otherwise(auth, path):
    assert len(auth.get(path).headers["X-Request-ID"]) == 32


def test_request_id_that_could_forge_log_lines_is_replaced(auth):
    response = auth.get("/auth/me", headers={"X-Request-ID": 'x" injected'})

    assert response.headers["X-Request-ID"] != 'x" injected'


def test_responses_forbid_content_sniffing(health):
    assert health.get("/health").headers["X-Content-Type-Options"] == "nosniff"


def test_every_log_line_of_a_request_carries_its_request_id(auth, caplog):
    with caplog.at_level("INFO"):
        auth.get("/auth/nothing", headers={"X-Request-ID": "trace-me-1"})

    from shared.platform.logs import CloudJsonFormatter

    lines = [CloudJsonFormatter().format(r) for r in caplog.records if r.name == "shared.web"]
    assert lines and all('"request_id": "trace-me-1"' in line for line in lines)


def test_cors_allows_only_configured_origins(auth, monkeypatch):
    from shared.platform.settings import get_settings

    monkeypatch.setattr(get_settings(), "cors_origins", ["https://console.example.com"])

    allowed = auth.options(
        "/auth/login",
        headers={"Origin": "https://console.example.com", "Access-Control-Request-Method": "POST"},
    )
    denied = auth.options(
        "/auth/login", headers={"Origin": "https://evil.example.com", "Access-Control-Request-Method": "POST"}
    )
    simple = auth.get("/auth/nothing", headers={"Origin": "https://console.example.com"})

    assert allowed.status_code == 204
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://console.example.com"
    assert "POST" in allowed.headers["Access-Control-Allow-Methods"]
    assert denied.status_code == 403
    assert "Access-Control-Allow-Origin" not in denied.headers
    assert simple.headers["Access-Control-Allow-Origin"] == "https://console.example.com"


def test_database_outage_is_503_with_retry_after_and_no_internals(auth, monkeypatch):
    import sqlalchemy as sa

    from shared.platform import db

    dead = sa.create_engine("postgresql+pg8000://postgres@127.0.0.1:1/none", connect_args={"timeout": 1})
    monkeypatch.setattr(db, "get_engine", lambda: dead)

    response = auth.post("/auth/login", json={"email": "a@example.com", "password": "whatever-password"})

    body = assert_problem(response, 503, "database_unavailable")
    assert response.headers["Retry-After"]
    assert "127.0.0.1" not in response.get_data(as_text=True)
    assert "Traceback" not in body["detail"]


def test_paths_the_framework_itself_refuses_still_get_a_problem(releases):
    response = releases.delete("/releases/freezes/%0A")

    assert_problem(response, 404, "not_found")
    assert response.headers["X-Request-ID"]


def test_text_with_nul_characters_is_422_not_a_database_error(auth):
    response = auth.post(
        "/auth/register", json={"email": "a@example.com", "password": "pass\x00word-long", "display_name": "A\x00"}
    )

    body = assert_problem(response, 422, "validation_failed")
    assert {e["field"] for e in body["errors"]} == {"password", "display_name"}


def test_a_misconfigured_instance_answers_503_and_logs_one_line_naming_the_setting(auth, monkeypatch, caplog):
    from shared.platform.settings import ConfigError
    from tests.factories import as_role

    def broken():
        raise ConfigError("invalid setting JWT_SECRET: must be at least 32 bytes")

    _, headers = as_role("viewer")
    monkeypatch.setattr("shared.web.guard.get_settings", broken)

    with caplog.at_level("ERROR"):
        response = auth.get("/auth/me", headers=headers)

    assert_problem(response, 503, "misconfigured")
    errors = [r for r in caplog.records if r.levelname == "ERROR"]
    assert [r.getMessage() for r in errors] == ["invalid setting JWT_SECRET: must be at least 32 bytes"]
    assert errors[0].exc_info is None


def test_a_misconfigured_instance_still_answers_a_browser_with_a_problem(auth, monkeypatch):
    from shared.platform.settings import ConfigError

    def broken():
        raise ConfigError("invalid setting CORS_ORIGINS: unreadable")

    monkeypatch.setattr("shared.web.headers.get_settings", broken)

    response = auth.get(
        "/auth/nothing",
        headers={
            "Origin": "https://console.example.com",
            "X-Cloud-Trace-Context": "105445aa7843bc8bf206b12000100000/1",
        },
    )

    assert_problem(response, 404, "not_found")
    assert "Access-Control-Allow-Origin" not in response.headers


def _cursor(values) -> str:
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


# Each list with a cursor of the right length but the wrong types, of the wrong length, or not a cursor at all.
CRAFTED_CURSORS = [
    _cursor(["x", "y"]),
    _cursor(["x"]),
    _cursor([1, 2]),
    _cursor([{"a": 1}, "y"]),
    _cursor(["2026-01-01T00:00:00+00:00", "not-a-uuid"]),
    _cursor(["2026-01-01T00:00:00", "00000000-0000-0000-0000-000000000000"]),
    _cursor([10**30]),
    _cursor([True]),
    _cursor(["1.0\x00", "00000000-0000-0000-0000-000000000000"]),
    "not a cursor!",
]


def test_a_crafted_cursor_is_400_on_every_list_and_logs_no_error(apps, caplog):
    from tests.factories import as_role

    _, admin = as_role("admin")
    releases = apps["releases"].test_client()
    release = releases.post("/releases", json={"application": "a", "version": "1.0.0", "title": "t"}, headers=admin)
    lists = [
        ("auth", "/auth/users"),
        ("auth", "/auth/tokens"),
        ("releases", "/releases"),
        ("releases", "/releases?sort=-version"),
        ("releases", "/releases/environments"),
        ("releases", "/releases/deployments"),
        ("releases", "/releases/freezes"),
        ("releases", "/releases/audit"),
        ("releases", f"/releases/{release.get_json()['id']}/events"),
        ("releases", f"/releases/{release.get_json()['id']}/deployments"),
    ]

    with caplog.at_level("WARNING"):
        for name, path in lists:
            for cursor in CRAFTED_CURSORS:
                separator = "&" if "?" in path else "?"
                response = apps[name].test_client().get(f"{path}{separator}cursor={cursor}", headers=admin)

                assert response.status_code == 400, (path, cursor, response.get_json())
                assert response.get_json()["code"] == "invalid_cursor"
    assert [r.getMessage() for r in caplog.records if r.levelname in ("WARNING", "ERROR")] == []


def test_a_failing_statement_is_logged_without_its_parameters(auth, monkeypatch, caplog):
    import sqlalchemy as sa

    from shared.auth import service
    from shared.platform.logs import CloudJsonFormatter
    from tests.factories import as_role

    _, admin = as_role("admin")
    secret = "hunter2-secret-value"  # not on the failing line: a traceback quotes source lines

    def failing(work, *_, **__):
        work.conn.execute(sa.text("SELECT CAST(:value AS integer)"), {"value": secret})

    monkeypatch.setattr(service, "list_users", failing)

    with caplog.at_level("INFO"):
        response = auth.get("/auth/users", headers=admin)

    assert_problem(response, 500, "internal_error")
    lines = [CloudJsonFormatter().format(r) for r in caplog.records]
    assert any("internal" in line or "unhandled" in line for line in lines)
    assert not [line for line in lines if "hunter2" in line]


def test_deeply_nested_json_is_400_not_a_crash(auth, caplog):
    deep = "[" * 100_000 + "]" * 100_000

    with caplog.at_level("ERROR"):
        response = auth.post("/auth/register", data=deep, content_type="application/json")

    body = assert_problem(response, 400, "malformed_json")
    assert "recursion limit" in body["detail"]
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_a_chunked_body_over_one_mebibyte_is_413(auth, content_type):
    import io

    body = b'{"email": "' + b"x" * (1024 * 1024) + b'"}'

    response = auth.post(
        "/auth/login",
        input_stream=io.BytesIO(body),
        content_type=content_type,
        headers={"Transfer-Encoding": "chunked"},
        # What a server that decodes chunked bodies (gunicorn, Werkzeug's) says about the stream.
        environ_overrides={"wsgi.input_terminated": True},
    )

    assert_problem(response, 413, "payload_too_large")


def test_a_chunked_body_of_exactly_one_mebibyte_is_read_whole(auth):
    import io

    padding = 1024 * 1024 - len(b'{"email": "a@example.com", "password": "correct horse battery"}')
    body = b'{"email": "a@example.com", "password": "correct horse battery"' + b" " * padding + b"}"
    assert len(body) == 1024 * 1024

    response = auth.post(
        "/auth/login",
        input_stream=io.BytesIO(body),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )

    assert_problem(response, 401, "invalid_credentials")


def test_an_empty_query_parameter_counts_as_absent(releases):
    from tests.factories import as_role

    _, viewer = as_role("viewer")

    metrics = releases.get("/releases/metrics?application=&environment=production", headers=viewer)
    listed = releases.get("/releases?application=&status=&q=&cursor=&limit=", headers=viewer)

    assert metrics.status_code == 200, metrics.get_json()
    assert metrics.get_json()["application"] is None
    assert listed.status_code == 200, listed.get_json()


@pytest.mark.parametrize(
    "sent", ["/auth/login/", "//auth/login", "/auth//login", "/auth/%6cogin", "/auth/./login", "/auth/x/../login"]
)
def test_a_path_spelled_other_than_its_one_canonical_way_is_404(auth, sent):
    from urllib.parse import unquote

    # As a server hands it over: PATH_INFO decoded, RAW_URI as the client wrote it.
    response = auth.post(
        "/auth/login",
        json={"email": "a@example.com", "password": "whatever-password"},
        environ_overrides={"PATH_INFO": unquote(sent), "RAW_URI": sent, "REQUEST_URI": sent},
    )

    assert_problem(response, 404, "not_found")


@pytest.mark.parametrize(("name", "path"), [("releases", "/releases/"), ("releases", "/"), ("health", "/health/")])
def test_a_function_root_answers_with_or_without_its_trailing_slash(apps, name, path):
    from tests.factories import as_role

    _, viewer = as_role("viewer")

    response = apps[name].test_client().get(path, headers=viewer)

    assert response.status_code == 200
