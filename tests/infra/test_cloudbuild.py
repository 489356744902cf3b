"""cloudbuild.yaml checked statically, and its own scripts run against local stand-ins."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa
import yaml

from tests.infra.stack import ROOT, TERRAFORM, stack

PIPELINE = yaml.safe_load((ROOT / "cloudbuild.yaml").read_text())
STEPS = {step["id"]: step for step in PIPELINE["steps"]}
ENVIRONMENTS = ("staging", "production")


def upstream(step_id: str) -> set[str]:
    """Every step `step_id` waits for, directly or not."""
    seen: set[str] = set()
    pending = [w for w in STEPS[step_id].get("waitFor", []) if w != "-"]
    while pending:
        current = pending.pop()
        if current not in seen:
            seen.add(current)
            pending += [w for w in STEPS[current].get("waitFor", []) if w != "-"]
    return seen


def words(step: dict) -> list[str]:
    return [str(step.get("entrypoint", ""))] + [w for a in step.get("args", []) for w in shlex.split(str(a))]


def test_every_step_has_a_unique_id_and_waits_only_for_steps_that_exist():
    ids = [step.get("id") for step in PIPELINE["steps"]]

    assert all(ids) and len(ids) == len(set(ids))
    for step in PIPELINE["steps"]:
        assert "waitFor" in step, f"{step['id']} would wait for every step before it implicitly"
        for other in step["waitFor"]:
            assert other == "-" or other in STEPS, f"{step['id']} waits for unknown step {other}"


def test_every_script_and_file_the_pipeline_calls_exists():
    for step in PIPELINE["steps"]:
        folder = ROOT / step.get("dir", "")
        assert folder.is_dir(), step["id"]
        for word in words(step):
            for path in re.findall(r"(?:^|=)(\.ci/[\w./-]+)", word):
                assert (ROOT / path).is_file(), f"{step['id']} calls missing {path}"
            if word.startswith("-var-file="):
                for environment in ENVIRONMENTS:
                    target = word.removeprefix("-var-file=").replace("${_ENVIRONMENT}", environment)
                    assert (folder / target).is_file(), f"{step['id']} needs {target}"
    for script in (ROOT / ".ci").iterdir():  # and the scripts those scripts call
        for path in re.findall(r"(?<![\w/])(\.ci/[\w.-]+)", script.read_text(errors="ignore")):
            assert (ROOT / path).is_file(), f"{script.name} calls missing {path}"


def test_nothing_is_deployed_before_the_tests_pass_and_the_smoke_test_runs_last():
    assert {"lint-and-test", "package", "terraform-plan"} <= upstream("terraform-apply")
    assert "terraform-apply" in upstream("migrate")
    assert "migrate" in upstream("smoke-test")
    assert upstream("smoke-test") | {"smoke-test"} == set(STEPS)


def test_the_tests_run_the_ci_script_against_postgresql_and_redis_containers():
    test = STEPS["lint-and-test"]

    assert ".ci/run" in words(test)
    assert {"start-postgres", "start-redis"} <= set(test["waitFor"])
    env = dict(item.split("=", 1) for item in test["env"])
    assert env["TEST_DATABASE_URL"].startswith("postgresql://") and "@postgres:" in env["TEST_DATABASE_URL"]
    assert env["TEST_REDIS_URL"].startswith("redis://redis:")


def test_terraform_runs_on_a_pinned_image_that_meets_the_required_version():
    image = PIPELINE["substitutions"]["_TERRAFORM_IMAGE"]
    version = re.fullmatch(r"hashicorp/terraform:(\d+)\.(\d+)\.(\d+)", image)
    required = re.match(r">= (\d+)\.(\d+)", stack().files["versions.tf"]["terraform"][0]["required_version"])

    assert version and required
    assert (int(version[1]), int(version[2])) >= (int(required[1]), int(required[2]))
    for step_id in ("terraform-init", "terraform-plan", "terraform-apply"):
        assert STEPS[step_id]["name"] == "${_TERRAFORM_IMAGE}"


def test_project_region_and_environment_are_substitutions_and_names_match_terraform():
    substitutions = PIPELINE["substitutions"]
    plan = " ".join(words(STEPS["terraform-plan"]))

    assert {"_ENVIRONMENT", "_REGION"} <= set(substitutions)
    assert "-var=project_id=${PROJECT_ID}" in plan and "-var=region=${_REGION}" in plan
    # terraform names everything rm-<environment>: the pool, and the secrets rm-<environment>-<name>.
    assert stack().locals["name"] == "rm-${var.environment}"
    assert PIPELINE["options"]["pool"]["name"].endswith("/workerPools/rm-${_ENVIRONMENT}")
    (secret,) = PIPELINE["availableSecrets"]["secretManager"]
    assert secret["versionName"].endswith("/secrets/rm-${_ENVIRONMENT}-smoke-token/versions/latest")
    assert "smoke-token" in stack().resource("google_secret_manager_secret", "main")["for_each"]


def test_nothing_secret_is_written_in_the_pipeline():
    text = (ROOT / "cloudbuild.yaml").read_text()

    assert not re.search(r"(?i)(password|secret|token|key)\s*[=:]\s*['\"]?[A-Za-z0-9+/_-]{16,}", text)
    for step in PIPELINE["steps"]:
        for item in step.get("env", []):
            assert not re.match(r"(?i).*(PASSWORD|SECRET|TOKEN)=", item), item


def test_the_scripts_read_only_outputs_terraform_declares():
    scripts = (ROOT / ".ci" / "cloudsql").read_text() + (ROOT / ".ci" / "migrate").read_text()
    names = re.findall(r"\$\(output (\w+)\)", scripts) + re.findall(r'\["(\w+)"\]\["value"\]', scripts)

    assert "function_database_users" in names
    for name in names:
        assert name in stack().outputs, name
    assert "url" in stack().outputs  # .ci/smoke.py --outputs
    assert "-out=tfplan" in words(STEPS["terraform-plan"])
    assert {"tfplan", "tf-outputs.json"} <= set((TERRAFORM / ".gitignore").read_text().split())


# -- the smoke test ---------------------------------------------------------------------------------


@pytest.fixture
def api() -> Iterator[tuple[str, dict[str, int]]]:
    """A local stand-in for the load balancer: answers each path with the status in `answers`."""
    answers: dict[str, int] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            authorised = self.headers.get("Authorization") == "Bearer rm_smoke"
            status = answers.get(self.path, 404)
            self.send_response(401 if status == 200 and self.path != "/health" and not authorised else status)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", answers
    server.shutdown()


def smoke(url: str, token: str | None = "rm_smoke") -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin"} | ({"SMOKE_TOKEN": token} if token else {})
    command = [sys.executable, str(ROOT / ".ci" / "smoke.py"), "--url", url, "--wait", "0", "--pause", "0"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=30, check=False)


def test_the_smoke_test_passes_when_health_and_the_authenticated_read_answer_200(api):
    url, answers = api
    answers.update({"/health": 200, "/auth/me": 200})

    assert smoke(url).returncode == 0


@pytest.mark.parametrize(("health", "me"), [(503, 200), (200, 401), (200, 500)])
def test_the_smoke_test_fails_the_build_on_anything_but_200(api, health, me):
    url, answers = api
    answers.update({"/health": health, "/auth/me": me})

    result = smoke(url)

    assert result.returncode == 1 and "FAIL" in result.stderr


def test_the_smoke_test_refuses_to_run_without_its_token(api):
    url, answers = api
    answers.update({"/health": 200, "/auth/me": 200})

    assert smoke(url, token=None).returncode == 2


# -- table grants after migrating --------------------------------------------------------------------


@pytest.fixture
def database_user(admin_url: str, services: dict[str, str]) -> Iterator[str]:
    """A login-less role standing in for a function's IAM database user (in this run's database)."""
    name = f"rm-test-fn-{uuid.uuid4().hex[:8]}@project.iam"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE ROLE "{name}" NOLOGIN'))
    yield name
    from shared.db import get_engine

    with get_engine().begin() as conn:
        conn.execute(sa.text(f'DROP OWNED BY "{name}"'))
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP ROLE "{name}"'))
    engine.dispose()


def test_after_migrating_each_function_user_may_use_the_tables_but_only_append_to_the_audit_log(database_user):
    sys.path.insert(0, str(ROOT / ".ci"))
    try:
        from grant_access import grant
    finally:
        sys.path.remove(str(ROOT / ".ci"))
    from shared.db import get_engine

    with get_engine().begin() as conn:
        tables = grant(conn, [database_user])
        can = lambda table, privilege: conn.scalar(  # noqa: E731
            sa.text("SELECT has_table_privilege(:u, :t, :p)"), {"u": database_user, "t": table, "p": privilege}
        )

        assert "users" in tables and "audit_events" in tables and "alembic_version" not in tables
        assert can("users", "UPDATE") and can("api_tokens", "DELETE")
        assert can("audit_events", "INSERT") and can("audit_events", "SELECT")
        assert not can("audit_events", "UPDATE") and not can("audit_events", "DELETE")
        assert not can("alembic_version", "SELECT")


@pytest.mark.parametrize("script", ["run", "migrate", "cloudsql"])
def test_the_shell_scripts_the_pipeline_runs_are_valid_bash(script):
    path = ROOT / ".ci" / script

    assert subprocess.run(["bash", "-n", str(path)], check=False).returncode == 0
    assert path.stat().st_mode & 0o111
