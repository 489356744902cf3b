"""terraform/ checked without terraform: structure, wiring between code and infrastructure, checkov."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import urllib.parse
from pathlib import Path

import pytest

from shared.platform.settings import Settings, load_settings
from tests.infra import provider_schema
from tests.infra.stack import ROOT, TERRAFORM, load, object_keys, stack

FOLDERS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/main.py"))
FUNCTION = ("google_cloudfunctions2_function", "main")
# What every function must be given in production for shared/platform/settings.py and the Cloud SQL /
# Memorystore paths to work; JWT_SECRET only the functions that handle tokens get.
REQUIRED_EVERYWHERE = {
    "ENVIRONMENT", "CLOUD_SQL_INSTANCE", "DB_USER", "DB_IAM_AUTH", "DB_PRIVATE_IP", "DB_NAME", "REDIS_URL",
    "REDIS_PASSWORD", "REDIS_CA_CERT", "GCP_PROJECT_ID", "GCP_REGION", "TRUST_FORWARDED_FOR", "APP_VERSION",
    "DB_POOL_SIZE", "DB_MAX_OVERFLOW", "THREADS",
}  # fmt: skip
TOKEN_FUNCTIONS = {"auth", "releases", "console"}  # the console signs people in
NOT_SETTINGS = {"THREADS", "WORKERS"}  # read by functions-framework's gunicorn, not by shared/platform/settings.py
# A plausible production value for each variable, to run the real settings validation over them.
SAMPLES = {
    "IAP_AUDIENCE": "/projects/123456789/global/backendServices/987654321",
    "ENVIRONMENT": "production",
    "APP_VERSION": "1a2b3c4",
    "LOG_LEVEL": "INFO",
    "GCP_PROJECT_ID": "acme-releases-prod",
    "GCP_REGION": "europe-west1",
    "PUBSUB_TOPIC": "projects/acme-releases-prod/topics/rm-production-events",
    "EVENTS_DISPATCHER": "scheduler",
    "ATTESTORS": "staging,production",
    "DRIFT_OBSERVER": "drift",
    "DRIFT_LOCKS": "false",
    "ATTESTATION_KEY_RING": "projects/acme-releases-prod/locations/europe-west1/keyRings/rm-production-attestations",
    "CLOUD_SQL_INSTANCE": "acme-releases-prod:europe-west1:rm-production",
    "DB_NAME": "release_manager",
    "DB_USER": "rm-production-auth@acme-releases-prod.iam",
    "DB_IAM_AUTH": "true",
    "DB_PRIVATE_IP": "true",
    "DB_POOL_SIZE": "8",
    "DB_MAX_OVERFLOW": "2",
    "THREADS": "8",
    "WORKERS": "1",
    "REDIS_URL": "rediss://10.20.0.3:6378/0",
    "REDIS_PASSWORD": "memorystore-generated-auth-string",
    "REDIS_CA_CERT": "/etc/secrets/redis-ca/server-ca.pem",
    "TRUST_FORWARDED_FOR": "true",
    "CORS_ORIGINS": "https://console.example.com",
    "REGISTRATION_OPEN": "false",
    "JWT_SECRET": "k" * 64,
    "AUDIT_KEY": "a" * 64,
    "AUDIT_CHECKPOINTS": "logging:projects/acme-releases-prod/locations/europe-west1/buckets/rm-production-audit"
    "-checkpoints/views/checkpoints",
}
AUDIT_WRITERS = {"auth", "releases", "console"}  # the functions that append audit events


def plain_env(name: str) -> set[str]:
    """Variables a function gets as plain values (one map for all three)."""
    service = stack().resource(*FUNCTION)["service_config"][0]
    return object_keys(service["environment_variables"])


def secret_env(name: str) -> set[str]:
    """Variables a function gets from Secret Manager."""
    env = stack().locals["secret_env"]
    return {env[s] for s in stack().locals["function_secrets"][name] if s in env}


def test_terraform_and_every_provider_are_pinned_to_a_bounded_range():
    terraform = stack().files["versions.tf"]["terraform"][0]

    assert re.fullmatch(r">= 1\.\d+, < 2\.0", terraform["required_version"])
    for name, provider in terraform["required_providers"][0].items():
        assert re.fullmatch(r">= \d+\.\d+, < \d+\.0", provider["version"]), name
        assert provider["source"] == f"hashicorp/{name}"


def test_every_variable_is_typed_and_described_and_every_output_is_described():
    for name, variable in stack().variables.items():
        assert variable.get("type"), f"variable {name} has no type"
        assert len(variable.get("description", "")) > 10, f"variable {name} has no description"
    for name, output in stack().outputs.items():
        assert len(output.get("description", "")) > 10, f"output {name} has no description"


def test_variables_that_are_easy_to_get_wrong_are_validated():
    for name in ["project_id", "region", "environment", "domain", "functions", "subnet_cidr", "database_tier"]:
        assert stack().variables[name].get("validation"), f"variable {name} accepts anything"


def test_the_outputs_give_the_load_balancer_address_each_function_url_and_the_instance_connection_name():
    assert {"load_balancer_ip", "function_urls", "instance_connection_name"} <= set(stack().outputs)


def test_every_function_folder_is_deployed_from_one_map_with_a_matching_entry_point():
    function = stack().resource(*FUNCTION)
    build = function["build_config"][0]

    assert len(stack().of_type(FUNCTION[0])) == 1
    assert function["for_each"] == "${var.functions}"
    assert sorted(stack().default("functions")) == FOLDERS
    assert sorted(stack().locals["function_secrets"]) == FOLDERS
    assert build["entry_point"] == "${each.key}"
    assert build["runtime"] == "python311"
    for name in FOLDERS:
        source = (ROOT / "functions" / name / "main.py").read_text()
        assert re.search(rf"@functions_framework\.http\ndef {name}\(", source), f"functions/{name} has no entry {name}"


def test_the_functions_are_reachable_only_through_the_load_balancer_and_reach_the_vpc_directly():
    service = stack().resource(*FUNCTION)["service_config"][0]

    assert service["ingress_settings"] == "ALLOW_INTERNAL_AND_GCLB"
    assert service["direct_vpc_network_interface"][0]["network"] == "${google_compute_network.main.name}"
    assert service["max_instance_request_concurrency"] == "${each.value.concurrency}"


def test_every_setting_the_code_requires_in_production_is_set_or_mounted():
    for name in FOLDERS:
        given = plain_env(name) | secret_env(name)
        required = REQUIRED_EVERYWHERE

        assert required <= given, f"{name} misses {sorted(required - given)}"
        assert not plain_env(name) & secret_env(name), f"{name} gets a variable twice"
        if name in TOKEN_FUNCTIONS:
            assert "JWT_SECRET" in secret_env(name), f"{name} must read the real JWT key from Secret Manager"
        else:
            assert "JWT_SECRET" not in given, f"{name} handles no tokens and must not see the JWT key"
    shared_env = stack().resource(*FUNCTION)["service_config"][0]["environment_variables"]
    assert not {"REDIS_PASSWORD", "JWT_SECRET"} & object_keys(shared_env)


def test_what_the_functions_are_given_passes_the_production_settings_validation(monkeypatch):
    for name in FOLDERS:
        given = plain_env(name) | secret_env(name)
        assert given <= set(SAMPLES), f"add a sample value for {sorted(given - set(SAMPLES))}"
        for key in {k.upper() for k in Settings.model_fields} | NOT_SETTINGS | {"DATABASE_URL"}:
            monkeypatch.delenv(key, raising=False)
        for key in given:
            monkeypatch.setenv(key, SAMPLES[key])

        settings = load_settings()

        assert settings.environment == "production"
        assert settings.db_iam_auth and settings.db_private_ip and settings.trust_forwarded_for
        assert settings.pool_size == int(SAMPLES["THREADS"])


def test_every_variable_the_functions_get_is_a_setting_the_code_reads():
    known = {k.upper() for k in Settings.model_fields} | NOT_SETTINGS
    for name in FOLDERS:
        unknown = (plain_env(name) | secret_env(name)) - known
        assert not unknown, f"{name} gets variables nothing reads: {sorted(unknown)}"


def test_every_secret_a_function_uses_exists_is_mounted_and_is_granted_only_to_the_functions_using_it():
    declared = set(stack().resource("google_secret_manager_secret", "main")["for_each"])
    mounted = set(stack().locals["secret_env"]) | set(stack().locals["secret_files"])
    grants = stack().resource("google_secret_manager_secret_iam_member", "functions")
    function = stack().resource(*FUNCTION)["service_config"][0]

    for name, secrets in stack().locals["function_secrets"].items():
        assert set(secrets) <= declared, f"{name} uses a secret that is not declared"
        assert set(secrets) <= mounted, f"{name} is granted a secret it never mounts"
    assert mounted <= {s for used in stack().locals["function_secrets"].values() for s in used}
    # The grants, the secret variables and the secret files all come from local.function_secrets.
    assert grants["for_each"] == "${local.secret_access}"
    assert "local.function_secrets" in stack().locals["secret_access"]
    for block in function["dynamic"]:
        ((kind, body),) = block.items()
        assert "local.function_secrets[each.key]" in body["for_each"], kind
    others = [n for n in stack().of_type("google_secret_manager_secret_iam_member") if n != "functions"]
    assert others == []  # the pipeline reads no secret: its smoke test signs in keyless
    assert set(stack().locals["secret_versions"]) == mounted


def test_the_jwt_key_never_enters_the_terraform_state():
    version = stack().resource("google_secret_manager_secret_version", "jwt_key")

    assert version["secret_data_wo"] == "${ephemeral.random_password.jwt_key.result}"
    assert "secret_data" not in version
    assert ("random_password", "jwt_key") in stack().ephemerals


def project_roles() -> set[str]:
    """Every role terraform/ grants on the project (google_project_iam_member), resolved."""
    roles: set[str] = set()
    for name, member in stack().of_type("google_project_iam_member").items():
        role = member["role"]
        if role.startswith("roles/"):
            roles.add(role)
            continue
        source = member["for_each"]
        (local,) = re.findall(r"local\.(\w+_project_roles)", source)
        assert role in ("${each.value}", "${each.value.role}"), name
        roles |= set(stack().locals[local])
    return roles


def test_no_service_account_holds_a_project_wide_owner_or_editor_role():
    assert not re.search(r"roles/(owner|editor|viewer)\b", stack().code)
    authoritative = {"google_project_iam_binding", "google_project_iam_policy"}
    assert not [t for (t, _) in stack().resources if t in authoritative]
    unconditioned = {
        m["role"] if m["role"].startswith("roles/") else "(locals)"
        for m in stack().of_type("google_project_iam_member").values()
        if "condition" not in m
    }
    # No run.invoker or artifactregistry.writer on the project: each is granted on its one resource.
    # Creating an occurrence is a project permission (they live in the project): the attesting
    # functions' only other project role (test_attestations_sign_with_one_key_each_...).
    assert project_roles() <= {
        "roles/cloudsql.client", "roles/cloudsql.instanceUser", "roles/logging.logWriter", "roles/storage.objectAdmin",
        "roles/containeranalysis.occurrences.editor",
    }  # fmt: skip
    # A storage role on the project only with a condition naming one bucket.
    assert not {r for r in unconditioned if r.startswith("roles/storage.")}
    # Acting as an account is granted on each account Terraform made, never on the project.
    assert "roles/iam.serviceAccountUser" not in project_roles()
    acts_as = stack().resource("google_service_account_iam_member", "deployer_acts_as")
    assert acts_as["role"] == "roles/iam.serviceAccountUser"
    assert acts_as["member"] == "serviceAccount:${var.deployer_service_account}"
    for account in ("google_service_account.functions", "google_service_account.build", "google_service_account.ci"):
        assert account in acts_as["for_each"], account


def test_the_function_builder_may_read_the_bucket_cloud_functions_copies_the_sources_into():
    function = stack().resource(*FUNCTION)
    grant = stack().resource("google_project_iam_member", "build_gcf_sources")
    (condition,) = grant["condition"]
    bucket = stack().locals["gcf_sources_bucket"]

    # The build runs as the build account, ...
    assert function["build_config"][0]["service_account"] == "${google_service_account.build.id}"
    assert grant["member"] == "${google_service_account.build.member}"
    # ... which may use the objects of gcf-v2-sources-<project number>-<region> (where Cloud
    # Functions copies the zip before building, terraform-provider-google#20571) and of no other
    # bucket: the grant is on the project because that bucket does not exist before the first deploy.
    assert grant["role"].startswith("roles/storage.object")
    assert bucket == "gcf-v2-sources-${data.google_project.main.number}-${var.region}"
    # The bucket by its exact name, its objects after a `/`: a bare prefix would also match
    # gcf-v2-sources-<number>-<region>-anything.
    bucket_name = '"projects/_/buckets/${local.gcf_sources_bucket}"'
    objects = '"projects/_/buckets/${local.gcf_sources_bucket}/"'
    assert condition["expression"] == f"resource.name == {bucket_name} || resource.name.startsWith({objects})"
    # Our own sources bucket, where the object is uploaded, stays readable too.
    own = stack().resource("google_storage_bucket_iam_member", "build")
    assert own["member"] == "${google_service_account.build.member}" and own["role"] == "roles/storage.objectViewer"


def test_the_functions_wait_for_their_grants_and_the_service_agents_to_settle():
    function = stack().resource(*FUNCTION)
    pause = stack().resource("time_sleep", "iam_propagation")
    agents = stack().resource("google_project_service_identity", "main")
    waited_for = pause["triggers"]["grants"]

    assert function["depends_on"] == ["${time_sleep.iam_propagation}"]
    assert int(pause["create_duration"].removesuffix("s")) >= 60
    for grants in (
        "google_project_iam_member.functions", "google_project_iam_member.build",
        "google_project_iam_member.build_gcf_sources", "google_storage_bucket_iam_member.build",
        "google_artifact_registry_repository_iam_member.build",
        "google_secret_manager_secret_iam_member.functions", "google_service_account_iam_member.deployer_acts_as",
        "google_project_service_identity.main",
    ):  # fmt: skip
        assert grants in waited_for, grants
    assert {"cloudfunctions.googleapis.com", "run.googleapis.com", "cloudbuild.googleapis.com"} <= set(
        re.findall(r'"([a-z]+\.googleapis\.com)"', agents["for_each"])
    )
    assert agents["provider"] == "google-beta"
    # Direct VPC egress needs run.invoker for each function's own account: on its own service only.
    assert "roles/run.invoker" not in stack().locals["function_project_roles"]
    itself = stack().resource("google_cloud_run_service_iam_member", "functions_invoke_themselves")
    assert itself["for_each"] == "${var.functions}" and itself["role"] == "roles/run.invoker"
    assert itself["service"] == "${google_cloudfunctions2_function.main[each.key].name}"
    assert itself["member"] == "${google_service_account.functions[each.key].member}"


def test_the_functions_cloud_sql_roles_reach_only_this_configurations_instance():
    grant = stack().resource("google_project_iam_member", "functions")
    (condition,) = grant["condition"]

    assert set(stack().locals["function_project_roles"]) == {"roles/cloudsql.client", "roles/cloudsql.instanceUser"}
    assert condition["expression"] == "${local.sql_instance_condition}"
    # Google's documented form for a Cloud SQL role on one instance.
    assert stack().locals["sql_instance_condition"] == (
        "resource.name == 'projects/${var.project_id}/instances/${google_sql_database_instance.main.name}'"
        " && resource.type == 'sqladmin.googleapis.com/Instance'"
    )


def test_the_build_pushes_images_to_the_functions_own_repository_and_may_write_to_no_other():
    build = stack().resource(*FUNCTION)["build_config"][0]
    repository = stack().resource("google_artifact_registry_repository", "functions")
    grant = stack().resource("google_artifact_registry_repository_iam_member", "build")

    assert build["docker_repository"] == "${google_artifact_registry_repository.functions.id}"
    assert repository["format"] == "DOCKER" and "mode" not in repository  # a standard repository
    assert grant["repository"] == "${google_artifact_registry_repository.functions.name}"
    assert grant["role"] == "roles/artifactregistry.writer"
    assert grant["member"] == "${google_service_account.build.member}"
    assert "roles/artifactregistry.writer" not in project_roles()
    writers = [
        name
        for kind in ("google_artifact_registry_repository_iam_member", "google_project_iam_member")
        for name, member in stack().of_type(kind).items()
        if "artifactregistry.writer" in json.dumps(member) or "artifactregistry.admin" in json.dumps(member)
    ]
    assert writers == ["build"]


def test_the_pipeline_administers_cloud_run_and_pub_sub_on_this_configurations_resources_only():
    run = stack().resource("google_cloud_run_service_iam_member", "deployer")
    topic = stack().resource("google_pubsub_topic_iam_member", "deployer")
    deployer = "serviceAccount:${var.deployer_service_account}"

    assert run["for_each"] == "${var.functions}" and run["role"] == "roles/run.admin" and run["member"] == deployer
    assert run["service"] == "${google_cloudfunctions2_function.main[each.key].name}"
    assert (topic["topic"], topic["role"], topic["member"]) == (
        "${google_pubsub_topic.events.id}", "roles/pubsub.admin", deployer,
    )  # fmt: skip
    # Terraform grants the deployer nothing on the project.
    assert not [n for n, m in stack().of_type("google_project_iam_member").items() if "deployer" in m["member"]]


def bootstrap(tmp_path: Path, *, held: str = "", exists: bool = False) -> list[str]:
    """.ci/bootstrap run against a stand-in gcloud that records every call; `held` is what it answers
    for the deployer's project bindings (role TAB condition title, one a line), `exists` whether the
    state bucket, the account and the custom role are there already (a re-run)."""
    calls = tmp_path / "calls"
    calls.write_text("")
    fake = tmp_path / "gcloud"
    (tmp_path / "held").write_text(held)
    fake.write_text(
        "#!/usr/bin/env bash\n"
        'printf "%s\\n" "$*" >> "$CALLS"\n'
        'for a in "$@"; do case $a in\n'
        '  --condition-from-file=*) cat "${a#*=}" >> "$CALLS"; echo >> "$CALLS";;\n'
        "esac; done\n"
        'case "$*" in *describe*) [ -n "$EXISTS" ] || exit 1;; esac\n'
        'case "$*" in "projects get-iam-policy "*) cat "$HELD";; esac\n'
    )
    fake.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "CALLS": str(calls), "HELD": str(tmp_path / "held"),
           "EXISTS": "1" if exists else ""}  # fmt: skip
    subprocess.run([str(ROOT / ".ci" / "bootstrap"), "acme-rm-staging", "europe-west1", "staging"], env=env, check=True,
                   capture_output=True, timeout=60)  # fmt: skip
    return calls.read_text().splitlines()


def granted_roles(log: list[str]) -> set[str]:
    return {re.search(r"--role=(\S+)", line)[1] for line in log if line.startswith("projects add-iam-policy-binding")}  # type: ignore[index]


# Roles that may change the project's IAM policy: with any of them the pipeline could grant itself more.
PROJECT_IAM_ROLES = {
    "roles/owner", "roles/resourcemanager.projectIamAdmin", "roles/iam.securityAdmin",
    "roles/resourcemanager.organizationAdmin", "roles/iam.organizationRoleAdmin",
}  # fmt: skip


def test_the_pipeline_holds_no_role_that_changes_the_projects_iam_policy_and_no_broad_role(tmp_path):
    log = bootstrap(tmp_path)
    project_grants = [line for line in log if line.startswith("projects add-iam-policy-binding")]
    granted = granted_roles(log)

    # Every project grant comes with an Owner apply: the pipeline may change no project binding, so
    # it can neither widen its own roles nor give itself one Terraform never grants.
    assert not granted & PROJECT_IAM_ROLES, granted & PROJECT_IAM_ROLES
    assert not any("condition-from-file" in line for line in log)
    assert all("--condition=None" in line for line in project_grants)
    # Nothing that reads every secret, writes every bucket, administers compute, Cloud Run or Pub/Sub
    # project-wide, changes log routing, or acts as anyone.
    broad = {
        "roles/editor", "roles/storage.admin", "roles/storage.objectAdmin", "roles/secretmanager.admin",
        "roles/secretmanager.secretAccessor", "roles/compute.admin", "roles/iam.serviceAccountAdmin",
        "roles/iam.serviceAccountUser", "roles/cloudfunctions.admin", "roles/cloudbuild.builds.builder",
        "roles/run.admin", "roles/pubsub.admin", "roles/logging.configWriter", "roles/logging.admin",
        "roles/artifactregistry.writer", "roles/artifactregistry.admin",
    }  # fmt: skip
    assert not granted & broad, granted & broad
    # Logging is read-only for it: the sink, its bucket and the alert on them are the Owner's apply.
    assert {"roles/logging.viewer", "roles/monitoring.viewer"} <= granted
    # The state bucket: made private and versioned, and the only storage grant is on it.
    (create,) = [line for line in log if line.startswith("storage buckets create gs://acme-rm-staging-tfstate ")]
    assert "--public-access-prevention" in create and "--uniform-bucket-level-access" in create
    assert "storage buckets update gs://acme-rm-staging-tfstate --versioning" in log
    assert any(line.startswith("storage buckets add-iam-policy-binding gs://acme-rm-staging-tfstate") for line in log)
    # What the pipeline then needs on resources Terraform makes, Terraform grants on those alone.
    sources = stack().resource("google_storage_bucket_iam_member", "deployer")
    assert sources["bucket"] == "${google_storage_bucket.main.name}"
    assert sources["member"] == "serviceAccount:${var.deployer_service_account}"


@pytest.mark.parametrize("exists", [False, True], ids=["created", "updated"])
def test_the_custom_secret_manager_role_manages_secrets_but_can_neither_read_them_nor_grant_itself_access(
    tmp_path, exists
):
    log = bootstrap(tmp_path, exists=exists)

    (role,) = [line for line in log if line.startswith("iam roles create" if not exists else "iam roles update")]
    permissions = set(re.search(r"--permissions=(\S+)", role)[1].split(","))  # type: ignore[index]
    assert "secretmanager.versions.add" in permissions and "secretmanager.secrets.getIamPolicy" in permissions
    assert not any(p.endswith(".access") for p in permissions)
    assert not any(p.endswith(".setIamPolicy") for p in permissions)
    assert "projects/acme-rm-staging/roles/releaseManagerSecretsDeployer" in granted_roles(log)


def test_a_re_run_removes_every_project_binding_of_the_deployer_not_on_its_list_before_granting(tmp_path):
    held = "\n".join([
        "roles/owner\t",
        "roles/resourcemanager.projectIamAdmin\tterraform-grants-only",  # the old conditional binding
        "roles/resourcemanager.projectIamAdmin\t",
        "roles/logging.configWriter\t",
        "roles/cloudsql.admin\t",  # on the list, as it is granted: kept
        "roles/cloudsql.instanceUser\tsome-condition",  # on the list, but conditioned: replaced
    ]) + "\n"  # fmt: skip

    log = bootstrap(tmp_path, held=held, exists=True)

    lookups = [line for line in log if line.startswith("projects get-iam-policy acme-rm-staging")]
    removals = [line for line in log if line.startswith("projects remove-iam-policy-binding")]
    removed = [re.search(r"--role=(\S+)", line)[1] for line in removals]  # type: ignore[index]
    assert len(lookups) == 1 and "serviceAccount:release-manager-deployer@acme-rm-staging" in lookups[0]
    assert sorted(removed) == [
        "roles/cloudsql.instanceUser", "roles/logging.configWriter", "roles/owner",
        "roles/resourcemanager.projectIamAdmin",
    ]  # fmt: skip
    assert all("--all" in line and "--member=serviceAccount:release-manager-deployer@" in line for line in removals)
    first_grant = next(i for i, line in enumerate(log) if line.startswith("projects add-iam-policy-binding"))
    assert max(log.index(line) for line in removals) < first_grant
    assert "roles/cloudsql.instanceUser" in granted_roles(log)  # granted again, unconditioned
    # Nothing to remove on a fresh project, and a deployer holding exactly its list keeps it all.
    exact = "".join(f"{role}\t\n" for role in granted_roles(log))
    assert not [line for line in bootstrap(tmp_path, held=exact) if "remove-iam-policy-binding" in line]


def _budget(functions: dict, max_connections: int, reserved: int) -> tuple[int, int]:
    demand = sum((f["concurrency"] + f["db_max_overflow"]) * f["max_instances"] for f in functions.values())
    return demand, max_connections - reserved


def environment_values(environment: str) -> dict:
    """Every variable's value in an environment: the defaults, then what its .tfvars sets."""
    values = {name: stack().default(name) for name in stack().variables}
    if environment != "defaults":
        values |= load(TERRAFORM / "environments" / f"{environment}.tfvars")
    return values


@pytest.mark.parametrize("environment", ["defaults", "staging", "production"])
def test_the_functions_worst_case_connections_fit_under_max_connections(environment):
    values = environment_values(environment)

    demand, budget = _budget(
        values["functions"], values["database_max_connections"], values["database_reserved_connections"]
    )

    assert demand <= budget, f"{environment}: {demand} connections wanted, {budget} available"


def test_the_plan_fails_when_the_connection_budget_is_exceeded_and_the_pools_follow_the_sizing():
    function = stack().resource(*FUNCTION)
    env = function["service_config"][0]["environment_variables"]
    preconditions = function["lifecycle"][0]["precondition"]

    assert any(p["condition"] == "${local.connection_demand <= local.connection_budget}" for p in preconditions)
    assert env["DB_POOL_SIZE"] == "${tostring(each.value.concurrency)}"
    assert env["THREADS"] == "${tostring(each.value.concurrency)}"
    assert env["DB_MAX_OVERFLOW"] == "${tostring(each.value.db_max_overflow)}"
    assert env["WORKERS"] == "1"  # one process, so one pool, per instance
    assert "local.connections_per_instance[name] * f.max_instances" in stack().locals["connection_demand"]


def test_cloud_sql_is_private_behind_the_connectors_with_backups_and_iam_logins():
    instance = stack().resource("google_sql_database_instance", "main")
    settings = instance["settings"][0]
    ip = settings["ip_configuration"][0]
    backups = settings["backup_configuration"][0]
    flags = {f["name"]: f["value"] for f in settings["database_flags"]}

    assert ip["ipv4_enabled"] is False and ip["ssl_mode"] == "TRUSTED_CLIENT_CERTIFICATE_REQUIRED"
    assert settings["connector_enforcement"] == "REQUIRED"
    assert backups["enabled"] and backups["point_in_time_recovery_enabled"]
    assert instance["deletion_protection"] and settings["deletion_protection_enabled"]
    assert settings["insights_config"][0]["query_insights_enabled"]
    assert flags["cloudsql.iam_authentication"] == "on"
    assert flags["max_connections"] == "${tostring(var.database_max_connections)}"
    assert "REGIONAL" in settings["availability_type"]
    for user in stack().of_type("google_sql_user").values():
        assert user["type"] == "CLOUD_IAM_SERVICE_ACCOUNT" and "password" not in user


def test_memorystore_requires_auth_and_tls():
    redis = stack().resource("google_redis_instance", "main")

    assert redis["auth_enabled"] is True
    assert redis["transit_encryption_mode"] == "SERVER_AUTHENTICATION"
    assert redis["connect_mode"] == "PRIVATE_SERVICE_ACCESS"


def test_one_domain_serves_each_function_under_its_own_path_like_make_dev():
    matcher = stack().resource("google_compute_url_map", "https")["path_matcher"][0]
    (rule,) = [d["path_rule"] for d in matcher["dynamic"]]
    backend = stack().resource("google_compute_backend_service", "main")
    neg = stack().resource("google_compute_region_network_endpoint_group", "main")

    assert rule["for_each"] == "${var.functions}"
    assert rule["content"][0]["paths"] == ["/${path_rule.key}", "/${path_rule.key}/*"]
    assert backend["security_policy"] == "${google_compute_security_policy.main.id}"
    assert neg["network_endpoint_type"] == "SERVERLESS" and neg["for_each"] == "${var.functions}"


def test_cloud_armor_limits_each_client_ip_and_applies_the_owasp_rules_before_allowing():
    policy = stack().resource("google_compute_security_policy", "main")
    throttles = [r for r in policy["rule"] if r["action"] == "throttle"]
    waf = stack().locals["waf_rules"]

    assert throttles and all(r["rate_limit_options"][0]["enforce_on_key"] == "IP" for r in throttles)
    assert {"sqli-v33-stable", "xss-v33-stable", "lfi-v33-stable", "rce-v33-stable"} <= {
        w["rule"] for w in waf.values()
    }
    # The first matching rule decides, and a conforming throttle allows: deny rules must come first.
    assert max(int(p) for p in waf) < min(int(r["priority"]) for r in throttles)
    denies = [r for r in policy_rules() if r["action"].startswith("deny")]
    assert max(int(r["priority"]) for r in denies) < min(int(r["priority"]) for r in throttles)


_METHODS = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("main", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
if hasattr(module, "api"):  # an API function: its route table
    methods = {route.method for route in module.api.routes}
else:  # the console: its Flask app's rules
    methods = {m for rule in module.app.app.url_map.iter_rules() for m in rule.methods}
print(json.dumps(sorted(methods)))
"""


def api_methods() -> set[str]:
    """Every method the functions serve (each API function's `api.routes`, its concepts' tables
    included, and the console's Flask rules, read in a fresh interpreter: a function's main.py sets
    up its Flask app once), plus the CORS preflight and HEAD."""
    methods = set()
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "ENVIRONMENT": "test"}
    for name in FOLDERS:
        main = str(ROOT / "functions" / name / "main.py")
        done = subprocess.run(
            [sys.executable, "-c", _METHODS, main], env=env, capture_output=True, text=True, check=True
        )
        methods |= set(json.loads(done.stdout))
    return methods | {"OPTIONS", "HEAD"}


def policy_rules() -> list[dict]:
    """Every rule of the Cloud Armor policy, the dynamic ones expanded from local.waf_rules."""
    policy = stack().resource("google_compute_security_policy", "main")
    rules = [dict(rule) for rule in policy["rule"]]  # copies: the parsed stack is shared
    for block in policy.get("dynamic", []):
        (template,) = block["rule"]["content"]
        assert block["rule"]["for_each"] == "${local.waf_rules}"
        for priority, waf in stack().locals["waf_rules"].items():
            expression = template["match"][0]["expr"][0]["expression"].replace("${rule.value.rule}", waf["rule"])
            rules.append(template | {"priority": int(priority), "preview": waf["preview"], "expression": expression})
    for rule in rules:
        rule.setdefault("expression", (rule["match"][0].get("expr") or [{}])[0].get("expression", ""))
    return rules


def test_cloud_armor_lets_through_every_method_the_api_serves():
    rules = policy_rules()
    methods = api_methods()
    method_rules = [r for r in rules if "request.method" in r["expression"] and r["action"].startswith("deny")]

    assert {"GET", "POST", "PUT", "PATCH", "DELETE"} <= methods
    # methodenforcement at sensitivity 1 is CRS 911100: only GET, HEAD, POST and OPTIONS pass.
    for rule in rules:
        if "methodenforcement" in rule["expression"]:
            assert "owasp-crs-v030301-id911100-methodenforcement" in rule["expression"], "opt out of 911100"
    # Our own method rule denies only what is not in the API's list.
    (rule,) = method_rules
    listed = stack().locals["api_methods"]
    assert rule["expression"] == "!request.method.matches('^(${join(\"|\", local.api_methods)})$')"
    assert set(listed) == methods, f"api_methods should be exactly {sorted(methods)}"
    pattern = re.compile("^(" + "|".join(listed) + ")$")
    assert all(pattern.match(m) for m in methods) and not pattern.match("TRACE") and not pattern.match("CONNECT")


def test_new_deny_rules_roll_out_in_preview_first():
    rules = policy_rules()
    method_rule = next(r for r in rules if "request.method.matches" in r["expression"])

    assert method_rule["preview"] is True  # the newest rule: logged, not enforced, until reviewed
    assert all(isinstance(w["preview"], bool) for w in stack().locals["waf_rules"].values())
    template = stack().resource("google_compute_security_policy", "main")["dynamic"][0]["rule"]["content"][0]
    assert template["preview"] == "${rule.value.preview}"


@pytest.mark.parametrize(
    ("path", "limited"),
    [
        ("/auth/login", True), ("/auth/login/", True), ("//auth/login", True), ("/auth//login", True),
        ("/auth/%6cogin", True), ("/AUTH/Login", True), ("/auth/%6C%6Fgin/", True),
        ("/auth/register", True), ("/auth/refresh", True), ("/auth/tokens", True), ("/auth/me/password", True),
        ("/auth/me//password/", True),
        ("/auth/me", False), ("/auth/logins", False), ("/releases/auth/login", False), ("/auth/login/x", False),
    ],
)  # fmt: skip
def test_the_strict_rate_limit_matches_credential_endpoints_however_the_path_is_spelled(path, limited):
    (rule,) = [r for r in policy_rules() if r["action"] == "throttle" and "request.path" in r["expression"]]
    expression = rule["expression"]
    regex = stack().locals["credential_paths"]

    # The path is percent-decoded and lowercased before the match, as Cloud Armor's urlDecode() and
    # lower() do (re2 and Python agree on this pattern).
    assert expression == (
        "request.method == 'POST' && request.path.urlDecode().lower().matches('${local.credential_paths}')"
    )
    assert bool(re.match(regex, urllib.parse.unquote(path).lower())) is limited


def test_the_migrator_database_role_is_managed_by_terraform_and_logging_is_not_noise():
    migrator = stack().resource("google_sql_user", "migrator")
    flags = {
        f["name"]: f["value"]
        for f in stack().resource("google_sql_database_instance", "main")["settings"][0]["database_flags"]
    }
    subnet = stack().resource("google_compute_subnetwork", "main")["log_config"][0]

    assert migrator["database_roles"] == ["cloudsqlsuperuser"] and migrator["type"] == "CLOUD_IAM_SERVICE_ACCOUNT"
    assert "log_duration" not in flags and "log_hostname" not in flags
    assert flags["cloudsql.enable_pgaudit"] == "on" and flags["pgaudit.log"]  # enabled and told what to log
    assert subnet["flow_sampling"] <= 0.1


def test_every_reference_names_something_declared():
    code = stack().code
    declared_types = {t for (t, _) in stack().resources}
    for name in set(re.findall(r"\bvar\.([a-z_0-9]+)", code)):
        assert name in stack().variables, f"var.{name} is not declared"
    for name in set(re.findall(r"\blocal\.([a-z_0-9]+)", code)):
        assert name in stack().locals, f"local.{name} is not defined"
    for type_, name in set(re.findall(r"(?<!ephemeral\.)\b((?:google|random)_[a-z0-9_]+)\.([a-z_0-9]+)\b", code)):
        if type_ in declared_types:
            assert (type_, name) in stack().resources, f"{type_}.{name} is not declared"
    for type_, name in set(re.findall(r"\bephemeral\.([a-z0-9_]+)\.([a-z_0-9]+)", code)):
        assert (type_, name) in stack().ephemerals, f"ephemeral.{type_}.{name} is not declared"


def test_each_environment_file_sets_only_declared_variables_and_production_is_regional():
    for path in sorted((TERRAFORM / "environments").glob("*.tfvars")):
        values = load(path)
        assert set(values) <= set(stack().variables), path.name
        assert values["environment"] == path.stem
    production = load(TERRAFORM / "environments" / "production.tfvars")
    assert production["database_high_availability"] is True and production["redis_tier"] == "STANDARD_HA"


# The functions a person or a pipeline waits on: production keeps one instance of each warm, so the
# first request after a quiet spell never pays a cold start. /health may start cold (probes retry).
KEPT_WARM_IN_PRODUCTION = {"auth", "releases"}


@pytest.mark.parametrize("environment", ["staging", "production"])
def test_production_keeps_auth_and_releases_warm_and_staging_scales_everything_to_zero(environment):
    functions = environment_values(environment)["functions"]
    service = stack().resource(*FUNCTION)["service_config"][0]

    assert service["min_instance_count"] == "${each.value.min_instances}"
    assert sorted(functions) == FOLDERS
    for name, sizing in functions.items():
        if environment == "production" and name in KEPT_WARM_IN_PRODUCTION:
            assert sizing["min_instances"] >= 1, f"production {name} would start cold after a quiet spell"
        else:
            assert sizing["min_instances"] == 0, f"{environment} {name} pays for an idle instance"


# Resources of other providers than hashicorp/google, whose schema the check below does not have.
NOT_IN_GOOGLE_SCHEMA = {"google_project_service_identity": "google-beta", "time_sleep": "time"}


def google_schema() -> dict:
    """The provider's schema; skipped where PyPI is out of reach, never in CI."""
    try:
        return provider_schema.load()
    except provider_schema.SchemaUnavailable as error:
        if os.environ.get("CI"):
            raise  # CI has PyPI access: the check must run there
        pytest.skip(f"the provider schema could not be fetched ({error}); CI runs this check")


def test_every_argument_and_block_is_one_the_google_provider_accepts():
    schema = google_schema()
    constraint = stack().files["versions.tf"]["terraform"][0]["required_providers"][0]["google"]["version"]
    bounds = re.fullmatch(r">= (\d+)\.(\d+), < (\d+)\.0", constraint)
    assert bounds, constraint
    version = tuple(int(part) for part in provider_schema.PROVIDER_VERSION.split(".")[:2])
    assert (int(bounds[1]), int(bounds[2])) <= version < (int(bounds[3]), 0), (
        f"the schema ({provider_schema.PROVIDER_VERSION}) is outside {constraint}: update PACKAGE_VERSION"
    )

    problems: list[str] = []
    checked = 0
    blocks = [("", t, n, body) for (t, n), body in stack().resources.items()]
    for data in (d for f in stack().files.values() for d in f.get("data", [])):
        blocks += [("data.", t, n, body) for t, named in data.items() for n, body in named.items()]
    for prefix, type_, name, body in blocks:
        if type_ in NOT_IN_GOOGLE_SCHEMA:
            assert type_.startswith(NOT_IN_GOOGLE_SCHEMA[type_]) or body["provider"] == NOT_IN_GOOGLE_SCHEMA[type_]
            continue
        assert prefix + type_ in schema, (
            f"{prefix}{type_} is not a resource of hashicorp/google {provider_schema.PROVIDER_VERSION}"
        )
        own = {k: v for k, v in body.items() if k not in provider_schema.META_ARGUMENTS}
        problems += provider_schema.unknown_names(own, schema[prefix + type_], f"{prefix}{type_}.{name}")
        checked += 1

    assert not problems, "not in the provider's schema: " + ", ".join(problems)
    assert checked >= 30


def _argument_names(block: provider_schema.Block) -> set[str]:
    names = set(block["arguments"]) | set(block["blocks"])
    for nested in block["blocks"].values():
        names |= _argument_names(nested)
    return names


def test_the_evidence_behind_staying_on_cloud_functions_still_holds():
    # docs/deploy.md, "Cloud Functions, not Cloud Run services": the decision rests on these facts of
    # hashicorp/google 7.46.1. The day one stops holding, this fails: read the decision again.
    schema = google_schema()
    function = schema[FUNCTION[0]]
    run = schema["google_cloud_run_v2_service"]
    container = run["blocks"]["template"]["blocks"]["containers"]

    # Cloud Run's own service resource has both switches the functions lack ...
    assert "invoker_iam_disabled" in run["arguments"]
    assert "startup_cpu_boost" in container["blocks"]["resources"]["arguments"]
    # ... and a build_config that records how the source is built (the function's settings), while
    # the service still runs an image: Terraform starts no build from it (provider issues 22263 and
    # 23057), so a Cloud Run service from our sources needs an image built before the apply.
    assert {"source_location", "function_target", "base_image", "image_uri"} <= set(
        run["blocks"]["build_config"]["arguments"]
    )
    assert "image" in container["arguments"]
    # The Cloud Functions resource has neither switch: no way to drop the allUsers invoker binding
    # (terraform/iam.tf) and no startup CPU boost. The day it offers one, turn it on: for the boost,
    # for auth and releases in production (a variable per function, like min_instances, off in
    # staging), and update docs/deploy.md, "Cold starts in production".
    offered = sorted(n for n in _argument_names(function) if "boost" in n or "invoker_iam" in n)
    assert not offered, f"{FUNCTION[0]} now offers {offered}: turn it on, and revisit the decision in docs/deploy.md"
    assert "invoker_iam_disabled" not in function["blocks"]["service_config"]["arguments"]
    assert "build_config" in function["blocks"]  # it builds the source itself, which is why we use it


def test_checkov_finds_nothing_and_every_skip_is_inline_with_its_reason():
    checkov = os.environ.get("CHECKOV") or str(ROOT / ".venv-checkov" / "bin" / "checkov")
    assert Path(checkov).exists(), "checkov is missing: `make test` installs it into .venv-checkov"
    result = subprocess.run(
        [checkov, "--directory", str(TERRAFORM), "--framework", "terraform", "--skip-download", "--output", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env={**os.environ, "PYTHONPATH": "", "BC_SKIP_MAPPING": "TRUE"},
    )
    report = json.loads(result.stdout)
    failed = report["results"]["failed_checks"]

    assert report["summary"]["parsing_errors"] == 0
    assert not failed, "\n".join(f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in failed)
    for skipped in report["results"]["skipped_checks"]:
        assert len(skipped["check_result"].get("suppress_comment", "")) > 40, skipped["check_id"]
    assert report["summary"]["passed"] > 50


def test_the_functions_that_append_audit_events_get_the_audit_key_and_health_does_not():
    for name in FOLDERS:
        given = plain_env(name) | secret_env(name)
        if name in AUDIT_WRITERS:
            assert "AUDIT_KEY" in secret_env(name), f"{name} must read the audit key from Secret Manager"
            assert "AUDIT_CHECKPOINTS" in given
        else:
            assert "AUDIT_KEY" not in given, f"{name} writes no audit event and must not see the audit key"
    assert stack().resource(*FUNCTION)["service_config"][0]["environment_variables"]["AUDIT_CHECKPOINTS"] == (
        "logging:${google_logging_log_view.audit_checkpoints.id}"
    )


def test_the_audit_key_never_enters_the_terraform_state_and_is_never_replaced():
    version = stack().resource("google_secret_manager_secret_version", "audit_key")

    assert version["secret_data_wo"] == "${ephemeral.random_password.audit_key.result}"
    assert "secret_data" not in version
    assert version["lifecycle"][0]["prevent_destroy"] is True


def hcl_quoted(text: str) -> str:
    """`text` in double quotes as it stands inside an HCL string (`\\"text\\"`)."""
    return f'\\"{text}\\"'


def test_audit_checkpoints_go_to_a_locked_bucket_only_from_the_writers_and_only_releases_reads_them():
    bucket = stack().resource("google_logging_project_bucket_config", "audit")
    sink = stack().resource("google_logging_project_sink", "audit_checkpoints")
    view = stack().resource("google_logging_log_view", "audit_checkpoints")
    readers = stack().of_type("google_logging_log_view_iam_member")

    assert bucket["locked"] is True
    assert stack().variables["audit_checkpoint_retention_days"]["validation"]
    assert sink["destination"] == "logging.googleapis.com/${google_logging_project_bucket_config.audit.id}"
    assert f"resource.type = {hcl_quoted('cloud_run_revision')}" in sink["filter"]
    assert "(${local.audit_writer_filter})" in sink["filter"]
    assert set(stack().locals["audit_writers"]) == AUDIT_WRITERS
    assert view["bucket"] == "${google_logging_project_bucket_config.audit.id}"
    assert list(readers) == ["audit_checkpoints"]
    assert readers["audit_checkpoints"]["role"] == "roles/logging.viewAccessor"
    assert readers["audit_checkpoints"]["member"] == '${google_service_account.functions["releases"].member}'
    # Nobody else is granted anything on logs through Terraform.
    assert not re.search(r"roles/logging\.(viewer|privateLogViewer|admin|bucketWriter|configWriter)", stack().code)


def test_the_checkpoint_line_the_code_prints_is_what_the_sink_matches():
    from shared.audit.checkpoints import CHECKPOINT_MESSAGE

    sink = stack().resource("google_logging_project_sink", "audit_checkpoints")

    assert f"jsonPayload.message = {hcl_quoted(CHECKPOINT_MESSAGE)}" in sink["filter"]


def test_identity_aware_proxy_is_opt_in_and_wired_to_the_backends_the_agent_and_the_api():
    backend = stack().resource("google_compute_backend_service", "main")
    (iap,) = [d["iap"] for d in backend["dynamic"] if "iap" in d]
    neg = stack().resource("google_compute_region_network_endpoint_group", "main")
    env = stack().resource(*FUNCTION)["service_config"][0]["environment_variables"]
    invoker = stack().resource("google_cloud_run_service_iam_member", "iap")
    access = stack().resource("google_iap_web_backend_service_iam_member", "access")

    assert stack().default("iap_enabled") is False
    assert iap["for_each"] == "${var.iap_enabled ? [true] : []}" and iap["content"][0]["enabled"] is True
    # Each function learns its own backend's audience, only when IAP is on (unset: IAP sign-in off).
    assert env["IAP_AUDIENCE"].startswith("${var.iap_enabled ? ") and env["IAP_AUDIENCE"].endswith(' : ""}')
    assert "google_compute_backend_service.main[each.key].generated_id" in env["IAP_AUDIENCE"]
    # The NEG names its function rather than referencing it, or that would be a dependency cycle.
    assert "google_cloudfunctions2_function" not in json.dumps(neg)
    # IAP's service agent invokes the functions; the members IAP admits may access the backends.
    assert invoker["role"] == "roles/run.invoker" and "google_project_service_identity.iap" in invoker["member"]
    assert "var.iap_enabled" in invoker["for_each"] and "var.iap_enabled" in access["for_each"]
    assert access["role"] == "roles/iap.httpsResourceAccessor"
    # On the apply that turns IAP on, the bindings wait for the API they need.
    for binding in (invoker, access):
        assert "${google_project_service.iap}" in binding.get("depends_on", [])


def test_only_releases_publishes_events_and_the_scheduler_calls_dispatch_every_minute_with_its_oidc_token():
    grants = {
        name: g
        for name, g in stack().of_type("google_pubsub_topic_iam_member").items()
        if g["topic"] == "${google_pubsub_topic.events.id}"
    }
    job = stack().resource("google_cloud_scheduler_job", "dispatch_events")
    target = job["http_target"][0]

    # Of the functions, only releases may publish; the pipeline manages the topic (its own test).
    assert [(g["role"], g["member"]) for g in grants.values() if "functions" in g["member"]] == [
        ("roles/pubsub.publisher", '${google_service_account.functions["releases"].member}')
    ]
    assert [g["role"] for g in grants.values() if "functions" not in g["member"]] == ["roles/pubsub.admin"]
    assert "PUBSUB_TOPIC" in plain_env("releases")
    # The scheduler's token speaks for the API service account the releases function lets dispatch.
    environment = stack().resource(*FUNCTION)["service_config"][0]["environment_variables"]
    assert environment["EVENTS_DISPATCHER"] == "${var.events_dispatcher}"
    assert job["schedule"] == "* * * * *"
    assert target["http_method"] == "POST" and target["uri"].endswith("/releases/events/dispatch")
    assert target["oidc_token"][0]["service_account_email"] == "${google_service_account.scheduler.email}"
    assert (
        "google_service_account.scheduler"
        in stack().resource("google_service_account_iam_member", "deployer_acts_as")["for_each"]
    )


def test_every_change_to_log_routing_raises_an_alert_declared_in_terraform():
    policy = stack().resource("google_monitoring_alert_policy", "logging_config_changed")
    (condition,) = policy["conditions"]
    log_filter = condition["condition_matched_log"][0]["filter"]
    methods = re.search(r"methodName=~\\\"(.+?)\\\"", log_filter)

    # From the Admin Activity audit log (always written, cannot be excluded) of Cloud Logging.
    assert "cloudaudit.googleapis.com%2Factivity" in log_filter
    assert f"protoPayload.serviceName={hcl_quoted('logging.googleapis.com')}" in log_filter
    assert methods, log_filter
    pattern = re.compile(methods[1])
    for kind in ("Sink", "Bucket", "Exclusion", "View"):
        for verb in ("Create", "Update", "Delete"):
            assert pattern.search(f"google.logging.v2.ConfigServiceV2.{verb}{kind}"), f"{verb}{kind}"
    assert pattern.search("google.logging.v2.ConfigServiceV2.UndeleteBucket")
    assert not pattern.search("google.logging.v2.ConfigServiceV2.GetSink")
    assert not pattern.search("google.logging.v2.LoggingServiceV2.WriteLogEntries")
    assert policy["notification_channels"] == "${var.alert_notification_channels}"
    assert policy["alert_strategy"][0]["notification_rate_limit"][0]["period"]  # required for log-match alerts
    assert "monitoring.googleapis.com" in stack().resource("google_project_service", "main")["for_each"]


def test_attestations_sign_with_one_key_each_and_the_pipeline_cannot_grant_itself_the_signer():
    """Binary Authorization (attestations.tf): per attested environment a KMS key (EC P-256, HSM,
    never destroyed), a note and an attestor naming both; releases and console may sign with each key
    and attach to each note, on those alone; the example policy is opt-in and requires an attestor."""
    key = stack().resource("google_kms_crypto_key", "attestations")
    attestor = stack().resource("google_binary_authorization_attestor", "attestations")
    signer = stack().resource("google_kms_crypto_key_iam_member", "attestations")
    attacher = stack().resource("google_container_analysis_note_iam_member", "attestations")
    occurrences = stack().resource("google_project_iam_member", "attestation_occurrences")
    policy = stack().resource("google_binary_authorization_policy", "example")

    assert key["purpose"] == "ASYMMETRIC_SIGN" and key["name"] == "${each.value}"  # settings.py's naming
    assert key["version_template"][0] == {"algorithm": "EC_SIGN_P256_SHA256", "protection_level": "HSM"}
    assert key["lifecycle"][0]["prevent_destroy"] is True
    public_key = attestor["attestation_authority_note"][0]["public_keys"][0]
    assert public_key["pkix_public_key"][0]["signature_algorithm"] == "ECDSA_P256_SHA256"
    assert public_key["id"].startswith("//cloudkms.googleapis.com/v1/")  # the public_key_id the code signs with
    assert stack().resource("google_container_analysis_note", "attestations")["name"] == "release-manager-${each.value}"
    assert (signer["role"], attacher["role"]) == ("roles/cloudkms.signer", "roles/containeranalysis.notes.attacher")
    for grant in (signer, attacher):
        assert grant["for_each"] == "${local.attestor_grants}"
        assert grant["member"] == "${google_service_account.functions[each.value.function].member}"
    assert occurrences["role"] == "roles/containeranalysis.occurrences.editor"
    assert occurrences["member"] == "${google_service_account.functions[each.value].member}"
    assert stack().locals["attesting_functions"].startswith('${toset([for name in ["releases", "console"]')
    assert policy["count"] == '${var.binauthz_enforcement == "off" ? 0 : 1}'
    assert policy["default_admission_rule"][0]["evaluation_mode"] == "REQUIRE_ATTESTATION"
    # The pipeline sees these resources and changes none of them: viewer roles, never cloudkms.admin.
    roles = deployer_roles()
    assert {"roles/cloudkms.viewer", "roles/containeranalysis.notes.viewer"} <= roles
    assert {"roles/binaryauthorization.attestorsViewer", "roles/binaryauthorization.policyViewer"} <= roles
    assert not roles & {"roles/cloudkms.admin", "roles/cloudkms.signer", "roles/containeranalysis.admin"}


def deployer_roles() -> set[str]:
    """The deployer's project roles, as .ci/bootstrap grants them (DEPLOYER_ROLES)."""
    found = re.search(r"DEPLOYER_ROLES=\((.*?)\)", (ROOT / ".ci" / "bootstrap").read_text(), re.S)
    assert found is not None
    return set(re.findall(r"roles/[\w.]+", found[1]))


def test_drift_reaches_the_api_from_cloud_run_and_gke_deploys_through_a_push_with_its_own_token():
    """drift.tf: a sink of Cloud Run's and GKE's deploy methods (the ones drift.py reads) to a topic
    only the sink publishes to, pushed to the observations route with the drift identity's OIDC
    token, which Pub/Sub's agent alone mints; all opt-in."""
    sink = stack().resource("google_logging_project_sink", "drift")
    publisher = stack().resource("google_pubsub_topic_iam_member", "drift_sink")
    subscription = stack().resource("google_pubsub_subscription", "drift")
    tokens = stack().resource("google_service_account_iam_member", "drift_push_tokens")
    environment = stack().resource(*FUNCTION)["service_config"][0]["environment_variables"]

    assert "cloudaudit.googleapis.com%2Factivity" in sink["filter"]
    from shared.deployments import drift

    for method in ("google.cloud.run.v1.Services.ReplaceService", "google.cloud.run.v2.Services.UpdateService",
                   "io.k8s.apps.v1.deployments.patch"):  # fmt: skip
        assert drift.CLOUD_RUN.match(method) or drift.GKE.match(method)
        # Terraform's text keeps HCL's escapes: a backslash of the regex is four there.
        patterns = [p.replace("\\" * 4, "\\") for p in re.findall(r'methodName =~ \\"(.+?)\\"', sink["filter"])]
        assert any(re.search(p, method) for p in patterns), (method, patterns)
    assert publisher["member"] == "${google_logging_project_sink.drift[0].writer_identity}"
    assert publisher["role"] == "roles/pubsub.publisher"
    push = subscription["push_config"][0]
    assert push["push_endpoint"].endswith("/releases/drift/observations")
    assert push["oidc_token"][0]["service_account_email"] == "${google_service_account.drift[0].email}"
    assert tokens["role"] == "roles/iam.serviceAccountTokenCreator" and "gcp-sa-pubsub" in tokens["member"]
    assert environment["DRIFT_OBSERVER"] == "${var.drift_observer}"
    for name in ("google_pubsub_topic", "google_logging_project_sink", "google_pubsub_subscription"):
        assert stack().resource(name, "drift")["count"] == "${var.drift_detection ? 1 : 0}"
