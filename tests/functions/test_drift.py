"""The releases function: deploys around the gates (shared/deployments/drift.py). Pub/Sub pushes
Cloud Run's and GKE's admin activity audit log entries, in the shapes Google documents (an AuditLog
`protoPayload` with the method, the resource and the request body); each image is matched against
the deployments that passed the gates there, or recorded as drift. Pub/Sub and the log sink are
not here: the test sends the push as Pub/Sub's push subscription would, with the OIDC token of the
account DRIFT_OBSERVER names (checked as the exchange checks one, against a local issuer)."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
import sqlalchemy as sa

from shared.events.tables import events
from shared.platform.db import get_engine
from shared.platform.settings import get_settings
from tests.factories import audit_of, bearer, ready_release, register_application, ship
from tests.functions.test_exchange import google, google_entry, google_token, keyless, service_account  # noqa: F401
from tests.functions.test_locks import subscribed  # noqa: F401 - a fixture: events are stored

IMAGE = "europe-docker.pkg.dev/acme/apps/checkout"
SHIPPED = "sha256:" + "1a" * 32
AROUND = "sha256:" + "2b" * 32
LABELS = {"release-manager-application": "checkout", "release-manager-environment": "production"}


def cloud_run_entry(image: str, labels: dict | None = None, *, method: str = "ReplaceService") -> dict:
    """A Cloud Run (v1 Admin API) admin activity entry: `gcloud run deploy checkout --image IMAGE`."""
    return {
        "insertId": uuid.uuid4().hex[:12],
        "logName": "projects/acme/logs/cloudaudit.googleapis.com%2Factivity",
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "authenticationInfo": {"principalEmail": "mallory@example.com"},
            "methodName": f"google.cloud.run.v1.Services.{method}",
            "resourceName": "namespaces/acme/services/checkout",
            "serviceName": "run.googleapis.com",
            "status": {},
            "request": {
                "@type": "type.googleapis.com/google.cloud.run.v1.ReplaceServiceRequest",
                "name": "namespaces/acme/services/checkout",
                "service": {
                    "apiVersion": "serving.knative.dev/v1",
                    "kind": "Service",
                    "metadata": {
                        "name": "checkout",
                        "namespace": "acme",
                        "labels": LABELS if labels is None else labels,
                    },
                    "spec": {"template": {"spec": {"containers": [{"image": image}]}}},
                },
            },
        },
        "resource": {"type": "cloud_run_revision", "labels": {"service_name": "checkout", "location": "europe-west1"}},
        "severity": "NOTICE",
        "timestamp": "2026-12-07T14:02:11.123456Z",
    }


def gke_entry(image: str) -> dict:
    """A GKE admin activity entry: `kubectl apply` of a Deployment."""
    return {
        "insertId": uuid.uuid4().hex[:12],
        "logName": "projects/acme/logs/cloudaudit.googleapis.com%2Factivity",
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "authenticationInfo": {"principalEmail": "ci@acme.iam.gserviceaccount.com"},
            "methodName": "io.k8s.apps.v1.deployments.update",
            "resourceName": "apps/v1/namespaces/shop/deployments/checkout",
            "serviceName": "k8s.io",
            "request": {
                "@type": "apps.k8s.io/v1.Deployment",
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "checkout", "namespace": "shop", "labels": LABELS},
                "spec": {"template": {"spec": {"containers": [{"name": "app", "image": image}]}}},
            },
        },
        "resource": {"type": "k8s_cluster", "labels": {"cluster_name": "prod", "location": "europe-west1"}},
    }


def push(releases, headers, entry: dict, message_id: str | None = None):
    """As Pub/Sub's push sends it: each message field in both spellings, and the delivery attempt."""
    data = base64.b64encode(json.dumps(entry).encode()).decode()
    message_id = message_id or str(uuid.uuid4().int)[:16]
    published = "2026-12-07T14:02:12.123Z"
    body = {
        "message": {
            "attributes": {"logging.googleapis.com/timestamp": "2026-12-07T14:02:11.123456Z"},
            "data": data,
            "messageId": message_id,
            "message_id": message_id,
            "publishTime": published,
            "publish_time": published,
        },
        "subscription": "projects/acme/subscriptions/rm-production-drift",
        "deliveryAttempt": 1,
    }
    return releases.post("/releases/drift/observations", json=body, headers=headers)


@pytest.fixture
def live(releases, admin, developer):
    """checkout 1.0.0 (image SHIPPED) deployed to production through the gates."""
    register_application(releases, admin, "checkout", path=[{"environment": "dev"}, {"environment": "production"}])
    artifacts = [{"name": "image", "uri": IMAGE, "digest": SHIPPED}]
    release = ready_release(releases, developer, application="checkout", version="1.0.0", artifacts=artifacts)
    ship(releases, developer, release["id"], "dev")
    ship(releases, developer, release["id"], "production")
    return release


@pytest.fixture
def observer(auth, admin, google, monkeypatch):  # noqa: F811
    """Headers of the push: the Google-signed OIDC token of the account DRIFT_OBSERVER names."""
    monkeypatch.setenv("DRIFT_OBSERVER", "drift")
    get_settings.cache_clear()
    service_account(auth, admin, "drift", [google_entry(google)])
    yield bearer(google_token(google))
    monkeypatch.undo()
    get_settings.cache_clear()


def test_the_image_that_passed_the_gates_matches_its_deployment(releases, observer, live):
    answer = push(releases, observer, cloud_run_entry(f"{IMAGE}@{SHIPPED}"))

    assert answer.status_code == 200, answer.get_json()
    (seen,) = answer.get_json()["observations"]
    assert (seen["verdict"], seen["digest"]) == ("matched", SHIPPED)
    assert seen["deployment_id"] is not None
    assert answer.get_json()["resource"] == "namespaces/acme/services/checkout"


def test_an_image_deployed_around_the_gates_is_drift_audited_evented_timed_and_counted(
    releases,
    admin,
    developer,
    observer,
    live,
    subscribed,  # noqa: F811
):
    answer = push(releases, observer, gke_entry(f"{IMAGE}@{AROUND}"))

    (seen,) = answer.get_json()["observations"]
    assert seen == {"image": f"{IMAGE}@{AROUND}", "digest": AROUND, "verdict": "drift", "deployment_id": None}
    with get_engine().connect() as conn:
        (event,) = conn.execute(sa.select(events.c.body).where(events.c.type == "drift.detected")).scalars()
    assert event["data"]["environment"] == "production" and event["data"]["drift"]["deployed_by"].startswith("ci@")
    timeline = releases.get("/releases/timeline?environment=production", headers=developer).get_json()["items"]
    assert timeline[0]["kind"] == "drift" and timeline[0]["data"]["digest"] == AROUND
    metrics = releases.get("/releases/metrics?environment=production", headers=developer).get_json()
    assert metrics["drift"] == {"detected": 1}
    assert audit_of(releases, event["data"]["drift"]["id"])[0]["actor"] == "system:drift"


def test_a_redelivered_message_is_recorded_once(releases, developer, observer, live):
    entry = cloud_run_entry(f"{IMAGE}@{AROUND}")

    first = push(releases, observer, entry, message_id="4711")
    again = push(releases, observer, entry, message_id="4711")

    assert first.status_code == again.status_code == 200
    metrics = releases.get("/releases/metrics?environment=production", headers=developer).get_json()
    assert metrics["drift"] == {"detected": 1}


def test_an_image_named_by_a_tag_cannot_be_vouched_for(releases, observer, live):
    (seen,) = push(releases, observer, cloud_run_entry(f"{IMAGE}:1.0.0")).get_json()["observations"]

    assert (seen["verdict"], seen["digest"]) == ("drift", None)


def test_the_same_digest_released_to_another_environment_only_is_drift_here(releases, admin, developer, observer):
    register_application(releases, admin, "checkout", path=[{"environment": "dev"}, {"environment": "production"}])
    artifacts = [{"name": "image", "uri": IMAGE, "digest": SHIPPED}]
    release = ready_release(releases, developer, application="checkout", version="1.0.0", artifacts=artifacts)
    ship(releases, developer, release["id"], "dev")

    (seen,) = push(releases, observer, cloud_run_entry(f"{IMAGE}@{SHIPPED}")).get_json()["observations"]

    assert seen["verdict"] == "drift"


def test_with_drift_locks_the_environment_is_locked_for_the_application(releases, admin, observer, live, monkeypatch):
    monkeypatch.setenv("DRIFT_LOCKS", "true")
    get_settings.cache_clear()

    push(releases, observer, cloud_run_entry(f"{IMAGE}@{AROUND}"))

    (lock,) = releases.get("/releases/locks?environment=production", headers=admin).get_json()["items"]
    assert lock["application"] == "checkout" and AROUND in lock["reason"]


@pytest.mark.parametrize(
    "entry",
    [
        cloud_run_entry(f"{IMAGE}@{AROUND}", labels={}),  # not labelled: not ours to judge
        cloud_run_entry(f"{IMAGE}@{AROUND}", method="GetService"),  # not a deploy
        {"protoPayload": {"methodName": "io.k8s.core.v1.pods.create"}},
        [1, 2, 3],
    ],
    ids=["unlabelled", "a-read", "a-pod", "not-an-entry"],
)
def test_what_is_not_a_deploy_of_a_labelled_resource_is_ignored(releases, developer, observer, live, entry):
    answer = push(releases, observer, entry)

    assert answer.status_code == 200 and answer.get_json()["observations"] == []


def test_a_push_that_is_not_base64_json_is_refused(releases, observer):
    body = {"message": {"data": "not base64!", "messageId": "1"}, "subscription": "projects/acme/subscriptions/s"}

    answer = releases.post("/releases/drift/observations", json=body, headers=observer)

    assert (answer.status_code, answer.get_json()["code"]) == (422, "invalid_log_entry")


def test_only_the_observer_and_admins_may_push_and_its_token_does_nothing_else(releases, developer, observer):
    refused = push(releases, developer, cloud_run_entry(f"{IMAGE}@{AROUND}"))
    elsewhere = releases.post("/releases/events/dispatch", headers=observer)

    assert (refused.status_code, refused.get_json()["code"]) == (403, "insufficient_role")
    assert (elsewhere.status_code, elsewhere.get_json()["code"]) == (401, "oidc_bearer_not_accepted")
