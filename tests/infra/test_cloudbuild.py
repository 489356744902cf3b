"""cloudbuild.yaml checked statically, and its own scripts run against local stand-ins."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

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


TEST_BUILD = yaml.safe_load((ROOT / ".ci" / "test.cloudbuild.yaml").read_text())
TEST_STEPS = {step["id"]: step for step in TEST_BUILD["steps"]}


def expand(value: str, environment: str = "staging", project: str = "acme-releases") -> str:
    """A value of cloudbuild.yaml with its substitutions made, as Cloud Build would."""
    values = {**PIPELINE["substitutions"], "PROJECT_ID": project, "_ENVIRONMENT": environment}
    for _ in range(5):  # substitutions may refer to others
        value = re.sub(r"\$\{(\w+)\}", lambda m: values.get(m[1], m[0]), value)
    return value


def test_the_tests_run_as_their_own_build_under_the_ci_account_against_postgresql_and_redis():
    step = STEPS["lint-and-test"]
    args = words(step)
    flags = dict(a.split("=", 1) for a in args if a.startswith("--") and "=" in a)
    test = TEST_STEPS["lint-and-test"]

    # The deploy build only submits the test build and waits for it ...
    assert args[:3] == ["gcloud", "builds", "submit"] and "--async" not in args
    assert flags["--config"] == ".ci/test.cloudbuild.yaml"
    # ... which runs as the ci account Terraform makes, with the sources staged in the bucket that
    # account may read (terraform/iam.tf).
    ci = stack().resource("google_service_account", "ci")
    assert ci["account_id"] == "${local.name}-ci"
    assert (
        expand(flags["--service-account"])
        == "projects/acme-releases/serviceAccounts/rm-staging-ci@acme-releases.iam.gserviceaccount.com"
    )
    bucket = stack().resource("google_storage_bucket", "main")["name"]
    assert bucket == "${var.project_id}-${local.name}-sources"
    assert expand(flags["--gcs-source-staging-dir"]).startswith("gs://acme-releases-rm-staging-sources/")
    grant = stack().resource("google_storage_bucket_iam_member", "ci")
    assert grant["member"] == "${google_service_account.ci.member}" and grant["role"] == "roles/storage.objectViewer"
    assert set(stack().locals["ci_project_roles"]) == {"roles/logging.logWriter"}
    assert "ci" in stack().resource("google_service_account_iam_member", "deployer_acts_as")["for_each"]
    # The tests themselves: .ci/run against the containers, with nothing secret.
    assert ".ci/run" in words(test)
    assert {"start-postgres", "start-redis"} <= set(test["waitFor"])
    env = dict(item.split("=", 1) for item in test["env"])
    assert env["TEST_DATABASE_URL"].startswith("postgresql://") and "@postgres:" in env["TEST_DATABASE_URL"]
    assert env["TEST_REDIS_URL"].startswith("redis://redis:")
    assert "serviceAccount" not in TEST_BUILD and "availableSecrets" not in TEST_BUILD
    assert TEST_BUILD["options"]["logging"] == "CLOUD_LOGGING_ONLY"
    # What the test build uploads leaves out Terraform's working files.
    ignored = (ROOT / ".gcloudignore").read_text().split()
    assert {"#!include:.gitignore", "terraform/.terraform/", "terraform/tfplan", "terraform/tf-outputs.json"} <= set(
        ignored
    )


def test_the_build_runs_as_the_pipeline_account_whoever_submits_it():
    account = expand(PIPELINE["serviceAccount"])
    deployer = expand(PIPELINE["substitutions"]["_DEPLOYER_SA"])
    plan = " ".join(words(STEPS["terraform-plan"]))
    bootstrap = (ROOT / ".ci" / "bootstrap").read_text()

    # Without serviceAccount the build runs as the default Cloud Build account, whatever
    # --impersonate-service-account the caller used.
    assert account == f"projects/acme-releases/serviceAccounts/{deployer}"
    assert deployer == "release-manager-deployer@acme-releases.iam.gserviceaccount.com"
    # Terraform is told the same account (database login, smoke-token grant, act-as grants) ...
    assert "-var=deployer_service_account=${_DEPLOYER_SA}" in plan
    # ... which .ci/bootstrap creates, and a user-specified account logs to Cloud Logging only.
    assert "DEPLOYER_NAME=release-manager-deployer" in bootstrap
    assert PIPELINE["options"]["logging"] == "CLOUD_LOGGING_ONLY"


def terraform_version(image: str) -> tuple[int, int] | None:
    """The Terraform version an image name gives: Docker Hub's hashicorp/terraform, directly or
    through the Artifact Registry remote repository terraform/registry.tf declares. The version tag
    stays when an operator pins the digest too (NAME:TAG@sha256:DIGEST)."""
    version = re.fullmatch(rf"(?:{REGISTRY}|{DOCKER_HUB_REMOTE})hashicorp/terraform:(\d+)\.(\d+)\.(\d+){DIGEST}", image)
    return (int(version[1]), int(version[2])) if version else None


def test_terraform_runs_on_a_pinned_image_that_meets_the_required_version():
    version = terraform_version(PIPELINE["substitutions"]["_TERRAFORM_IMAGE"])
    required = re.match(r">= (\d+)\.(\d+)", stack().files["versions.tf"]["terraform"][0]["required_version"])

    assert version and required
    assert version >= (int(required[1]), int(required[2]))
    for step_id in ("terraform-init", "terraform-plan", "terraform-apply"):
        assert STEPS[step_id]["name"] == "${_TERRAFORM_IMAGE}"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_ci_images_may_come_through_the_docker_hub_remote_repository_terraform_declares(environment):
    remote = stack().resource("google_artifact_registry_repository", "docker_hub")
    (config,) = remote["remote_repository_config"]
    grants = stack().resource("google_artifact_registry_repository_iam_member", "readers")
    readers = grants["for_each"]
    name = remote["repository_id"].replace("${local.name}", f"rm-{environment}")
    digest = "@sha256:" + "0" * 64

    # Docker Hub upstream, created by the Owner's first apply, readable by the pipeline and the tests.
    assert remote["mode"] == "REMOTE_REPOSITORY" and remote["format"] == "DOCKER"
    assert config["docker_repository"][0]["public_repository"] == "DOCKER_HUB"
    assert readers["docker-hub/deployer"]["member"] == "serviceAccount:${var.deployer_service_account}"
    assert readers["docker-hub/ci"]["member"] == "${google_service_account.ci.member}"
    assert grants["role"] == "roles/artifactregistry.reader"
    assert readers["docker-hub/ci"]["repository"] == "${google_artifact_registry_repository.docker_hub.name}"
    # What `terraform output docker_hub_mirror` gives, in front of the Docker Hub names, pinned or not.
    mirror = f"europe-west1-docker.pkg.dev/acme-releases-{environment}/{name}"
    output = stack().outputs["docker_hub_mirror"]["value"]
    assert output.endswith("/${google_artifact_registry_repository.docker_hub.repository_id}")
    assert terraform_version(f"{mirror}/hashicorp/terraform:1.12.2") == (1, 12)
    assert terraform_version(f"{mirror}/hashicorp/terraform:1.12.2{digest}") == (1, 12)
    for image in ("library/python:3.11-bookworm", "library/postgres:18", "library/redis:7.2"):
        assert IMAGE.fullmatch(f"{mirror}/{image}{digest}"), image
    # Only that repository: any other path on Artifact Registry is not the Docker Hub image.
    assert terraform_version(f"europe-west1-docker.pkg.dev/acme/other/hashicorp/terraform:1.12.2{digest}") is None
    assert terraform_version(f"europe-west1-docker.pkg.dev/acme/{name}/someone/terraform:1.12.2") is None


# An image reference: an optional registry host, a path, then a tag, a digest, or both. Google's own
# registries (gcr.io, Artifact Registry) may be named directly in a build; Docker Hub images only
# through a substitution, so that an operator can pin their digest (docs/deploy.md, "The build images").
REGISTRY = r"(?:[a-z0-9.-]+\.[a-z]+(?::\d+)?/)?"
DIGEST = r"(?:@sha256:[0-9a-f]{64})?"
# Docker Hub through the remote repository of terraform/registry.tf: REGION-docker.pkg.dev/PROJECT/rm-ENV-docker-hub/.
DOCKER_HUB_REMOTE = r"[a-z0-9-]+-docker\.pkg\.dev/[a-z][a-z0-9-]{4,28}[a-z0-9]/rm-[a-z]+-docker-hub/"
IMAGE = re.compile(rf"{REGISTRY}[a-z0-9]+(?:[._/-]+[a-z0-9]+)*(?::[\w][\w.-]{{0,127}}{DIGEST}|@sha256:[0-9a-f]{{64}})")
GOOGLE_REGISTRY = re.compile(r"(?:[a-z]+\.)?gcr\.io/|[a-z0-9-]+-docker\.pkg\.dev/")
SUBSTITUTION = re.compile(r"\$\{(_[A-Z0-9_]+)\}")
BUILDS = {"cloudbuild.yaml": PIPELINE, ".ci/test.cloudbuild.yaml": TEST_BUILD}


def images(build: dict) -> list[tuple[str, str]]:
    """(step id, image) for every image a build pulls: each step's own, and what its docker steps run."""
    found = []
    for step in build["steps"]:
        found.append((step["id"], step["name"]))
        args = [str(arg) for arg in step.get("args", [])]
        if step["name"].startswith("gcr.io/cloud-builders/docker") and args[:1] in (["run"], ["pull"]):
            found.append((step["id"], next(arg for arg in args[1:] if not arg.startswith("-"))))
    return found


def test_every_image_either_build_pulls_is_a_substitution_or_from_a_google_registry():
    for file, build in BUILDS.items():
        for step_id, image in images(build):
            named = SUBSTITUTION.fullmatch(image)
            if not named:
                assert GOOGLE_REGISTRY.match(image), f"{file} {step_id}: {image} is pulled by a name no one can pin"
                continue
            default = build.get("substitutions", {}).get(named[1])
            assert default, f"{file} {step_id}: {image} has no default"
            assert IMAGE.fullmatch(default), f"{file}: {named[1]} = {default} is not NAME:TAG[@sha256:DIGEST]"
    # A pinned value is accepted as well as a tag.
    assert IMAGE.fullmatch("python:3.11-bookworm@sha256:" + "0" * 64)
    assert IMAGE.fullmatch("europe-west1-docker.pkg.dev/acme/hub/library/python@sha256:" + "0" * 64)
    assert not IMAGE.fullmatch("python") and not GOOGLE_REGISTRY.match("python:3.11-bookworm")


def test_the_test_build_runs_on_the_images_the_pipeline_names():
    passed = [a for a in words(STEPS["lint-and-test"]) if a.startswith("--substitutions=")]
    assert len(passed) == 1
    given = dict(item.split("=", 1) for item in passed[0].removeprefix("--substitutions=").split(","))
    used = {named[1] for _, image in images(TEST_BUILD) if (named := SUBSTITUTION.fullmatch(image))}

    assert used == {"_PYTHON_IMAGE", "_POSTGRES_IMAGE", "_REDIS_IMAGE"}
    assert set(given) == used
    for key in used:
        assert given[key] == f"${{{key}}}", f"lint-and-test passes {key} = {given[key]}"
        # Submitted by hand, the test build runs on the same images as the pipeline's.
        assert TEST_BUILD["substitutions"][key] == PIPELINE["substitutions"][key], key


def test_project_region_and_environment_are_substitutions_and_names_match_terraform():
    substitutions = PIPELINE["substitutions"]
    plan = " ".join(words(STEPS["terraform-plan"]))

    assert {"_ENVIRONMENT", "_REGION"} <= set(substitutions)
    assert "-var=project_id=${PROJECT_ID}" in plan and "-var=region=${_REGION}" in plan
    # terraform names everything rm-<environment>: the pool, and the secrets rm-<environment>-<name>.
    assert stack().locals["name"] == "rm-${var.environment}"
    assert PIPELINE["options"]["pool"]["name"].endswith("/workerPools/rm-${_ENVIRONMENT}")
    assert "jwt-key" in stack().resource("google_secret_manager_secret", "main")["for_each"]


def test_the_smoke_step_signs_in_keyless_and_the_pipeline_holds_no_token():
    smoke_args = words(STEPS["smoke-test"])
    mints = stack().resource("google_service_account_iam_member", "deployer_mints_id_tokens")

    # No secret is read, at the build's start or in the step: the step exchanges the build's ID token.
    assert "availableSecrets" not in PIPELINE
    assert not any("secretEnv" in step for step in PIPELINE["steps"])
    assert not [a for a in smoke_args if a.startswith("--token-secret")]
    assert "--outputs=terraform/tf-outputs.json" in smoke_args and "smoke_service_account" in stack().outputs
    # No smoke token is stored, and the pipeline reads no secret at all.
    assert "smoke-token" not in stack().resource("google_secret_manager_secret", "main")["for_each"]
    assert list(stack().of_type("google_secret_manager_secret_iam_member")) == ["functions"]
    # It may mint ID tokens for itself alone: a grant on its own account, not on the project.
    assert mints["role"] == "roles/iam.serviceAccountOpenIdTokenCreator"
    assert mints["member"] == "serviceAccount:${var.deployer_service_account}"
    assert mints["service_account_id"] == "projects/${var.project_id}/serviceAccounts/${var.deployer_service_account}"
    assert "roles/iam.serviceAccountOpenIdTokenCreator" not in stack().code.split("deployer_mints_id_tokens")[0]


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

PROBLEM = "application/problem+json"
HTML = "text/html; charset=UTF-8"
RELEASE_ID = "0b7e7f2c-6f6a-4d59-9d0e-0c8a5e0c9a11"


class StandIn:
    """A local stand-in for the load balancer and the API behind it, recording what it is sent.

    `answers` maps "METHOD /path" to (status, content type, body); anything else is a 404 problem.
    A request without the smoke token gets 401, as the API would answer it. `POST /auth/exchange`
    answers the smoke token for the metadata stand-in's ID token and records what it was sent.
    """

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, str, object]] = {}
        self.calls: list[str] = []
        self.exchanged: list[dict] = []
        self.degraded = False

    def healthy(self, cache: str = "ok") -> None:
        status = "ok" if cache == "ok" else "degraded"
        body = {"status": status, "checks": {"database": {"status": "ok"}, "cache": {"status": cache}}}
        self.answers["GET /health"] = (200, "application/json", body)
        self.answers["GET /auth/me"] = (200, "application/json", {"role": "developer"})
        self.answers["POST /releases"] = (201, "application/json", {"id": RELEASE_ID, "status": "draft"})
        self.answers[f"PATCH /releases/{RELEASE_ID}"] = (200, "application/json", {"id": RELEASE_ID})
        self.answers[f"DELETE /releases/{RELEASE_ID}"] = (204, "", None)
        self.answers["PUT /releases/environments/smoke-test"] = (403, PROBLEM, {"code": "forbidden"})

    def cloud_armor_denies(self, method: str) -> None:
        """What Cloud Armor's deny(403) looks like: an HTML page, whatever the path."""
        for key in list(self.answers):
            if key.startswith(method + " "):
                self.answers[key] = (403, HTML, "<html><body>403 Forbidden</body></html>")


@pytest.fixture
def api() -> Iterator[tuple[str, StandIn]]:
    stand_in = StandIn()

    class Handler(BaseHTTPRequestHandler):
        def handle_one(self) -> None:
            key = f"{self.command} {self.path}"
            stand_in.calls.append(key)
            length = int(self.headers.get("Content-Length") or 0)
            sent = self.rfile.read(length)
            status, content_type, body = stand_in.answers.get(key, (404, PROBLEM, {"code": "not_found"}))
            if key == "POST /auth/exchange":
                stand_in.exchanged.append(json.loads(sent))
                request = json.loads(sent)
                if request.get("subject_token") == ID_TOKEN and request.get("service_account") == "pipeline":
                    status, content_type, body = (
                        200,
                        "application/json",
                        {"access_token": "rm_smoke", "expires_in": 3600},
                    )
                else:
                    status, content_type, body = 401, PROBLEM, {"code": "invalid_grant"}
            elif self.path != "/health" and self.headers.get("Authorization") != "Bearer rm_smoke":
                status, content_type, body = 401, PROBLEM, {"code": "unauthenticated"}
            payload = body.encode() if isinstance(body, str) else (b"" if body is None else json.dumps(body).encode())
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_one

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}", stand_in
    server.shutdown()


def smoke(
    url: str, token: str | None = "rm_smoke", *extra: str, metadata: str = "127.0.0.1:9"
) -> subprocess.CompletedProcess:
    env = {"PATH": "/usr/bin:/bin", "GCE_METADATA_HOST": metadata} | ({"SMOKE_TOKEN": token} if token else {})
    command = [sys.executable, str(ROOT / ".ci" / "smoke.py"), "--url", url, "--wait", "0", "--pause", "0", *extra]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=30, check=False)


def test_the_smoke_test_passes_when_the_api_answers_reads_and_a_write_of_every_method(api):
    url, stand_in = api
    stand_in.healthy()

    result = smoke(url)

    assert result.returncode == 0, result.stderr
    methods = {call.split()[0] for call in stand_in.calls}
    assert {"GET", "POST", "PUT", "PATCH", "DELETE"} <= methods
    # The draft it made is deleted again.
    assert stand_in.calls.index("POST /releases") < stand_in.calls.index(f"DELETE /releases/{RELEASE_ID}")


@pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE", "POST"])
def test_the_smoke_test_fails_when_the_load_balancer_refuses_a_method_the_api_serves(api, method):
    url, stand_in = api
    stand_in.healthy()
    stand_in.cloud_armor_denies(method)

    result = smoke(url)

    assert result.returncode == 1 and f"FAIL  write {method}" in result.stderr


def test_the_smoke_test_deletes_its_draft_even_when_editing_it_fails(api):
    url, stand_in = api
    stand_in.healthy()
    stand_in.answers[f"PATCH /releases/{RELEASE_ID}"] = (500, PROBLEM, {"code": "internal"})

    result = smoke(url)

    assert result.returncode == 1
    assert f"DELETE /releases/{RELEASE_ID}" in stand_in.calls


def test_the_smoke_test_fails_in_cloud_when_the_cache_is_degraded(api):
    url, stand_in = api
    stand_in.healthy(cache="unavailable")

    assert smoke(url).returncode == 1
    assert smoke(url, "rm_smoke", "--allow-degraded").returncode == 0


@pytest.mark.parametrize(("health", "me"), [(503, 200), (200, 401), (200, 500)])
def test_the_smoke_test_fails_the_build_on_anything_but_200(api, health, me):
    url, stand_in = api
    stand_in.healthy()
    stand_in.answers["GET /health"] = (health, *stand_in.answers["GET /health"][1:])
    stand_in.answers["GET /auth/me"] = (me, "application/json", {})

    result = smoke(url)

    assert result.returncode == 1 and "FAIL" in result.stderr


def test_the_smoke_test_refuses_to_run_without_its_token(api):
    url, stand_in = api
    stand_in.healthy()

    assert smoke(url, token=None).returncode == 2


ID_TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxMTM5NDg2OTIzOTc4NjcwMjE0MTQifQ.c2lnbmF0dXJl"


@pytest.fixture
def metadata() -> Iterator[tuple[str, dict[str, list]]]:
    """Cloud Build's metadata server stand-in: the build account's ID token for the audience asked."""
    state: dict[str, list] = {"audiences": []}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            if path == "/computeMetadata/v1/instance/service-accounts/default/identity" and (
                self.headers.get("Metadata-Flavor") == "Google"
            ):
                state["audiences"].append(parse_qs(query))
                status, data = 200, ID_TOKEN.encode()
            else:
                status, data = 404, b"not found"
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_port}", state
    server.shutdown()


def test_the_smoke_test_signs_in_with_the_builds_id_token(api, metadata, tmp_path):
    url, stand_in = api
    stand_in.healthy()
    host, state = metadata
    outputs = tmp_path / "tf-outputs.json"
    outputs.write_text(json.dumps({"url": {"value": url}, "smoke_service_account": {"value": "pipeline"}}))

    result = subprocess.run(
        [sys.executable, str(ROOT / ".ci" / "smoke.py"), "--outputs", str(outputs), "--wait", "0", "--pause", "0"],
        env={"PATH": "/usr/bin:/bin", "GCE_METADATA_HOST": host},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert state["audiences"] == [{"audience": [url], "format": ["full"]}]
    assert stand_in.exchanged == [
        {
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
            "subject_token": ID_TOKEN,
            "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
            "service_account": "pipeline",
        }
    ]


def test_a_build_the_api_does_not_trust_fails_saying_what_to_do(api, metadata):
    url, stand_in = api
    stand_in.healthy()
    host, _ = metadata

    result = smoke(url, None, "--service-account=not-trusted", metadata=host)

    assert result.returncode == 2
    assert "trust entry" in result.stderr and "docs/deploy.md" in result.stderr
    assert "GET /auth/me" not in stand_in.calls


def test_without_an_id_token_the_smoke_test_tries_nothing_against_the_api(api):
    url, stand_in = api
    stand_in.healthy()

    result = smoke(url, None, "--service-account=pipeline")  # no metadata server answers

    assert result.returncode == 2 and "metadata server" in result.stderr
    assert stand_in.calls == []


# -- table grants after migrating --------------------------------------------------------------------


@pytest.fixture
def database_user(admin_url: str, services: dict[str, str]) -> Iterator[str]:
    """A login-less role standing in for a function's IAM database user (in this run's database)."""
    name = f"rm-test-fn-{uuid.uuid4().hex[:8]}@project.iam"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with engine.connect() as conn:
        conn.execute(sa.text(f'CREATE ROLE "{name}" NOLOGIN'))
    yield name
    from shared.platform.db import get_engine

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
    from shared.platform.db import get_engine

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


@pytest.mark.parametrize("script", ["run", "migrate", "cloudsql", "bootstrap"])
def test_the_shell_scripts_the_pipeline_runs_are_valid_bash(script):
    path = ROOT / ".ci" / script

    assert subprocess.run(["bash", "-n", str(path)], check=False).returncode == 0
    assert path.stat().st_mode & 0o111
