"""The releases function: Binary Authorization attestations (shared/deployments/attestations.py,
shared/platform/attestors.py). A deployment that may run (queued) in an attested environment has
each container image of its release signed with that environment's KMS key and stored as a
Container Analysis occurrence; until then its start is 503. Google's side is faked at its network
boundary (tests/binauthz_stand_in.py): the real KMS and Grafeas clients, real EC P-256 signatures,
verified here with the public key alone."""

from __future__ import annotations

import base64
import json
import threading

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from shared.platform.settings import get_settings
from tests.binauthz_stand_in import BinauthzApis
from tests.factories import as_role, cancel, deploy, ready_release, register_application, report, ship
from tests.functions.test_auto_promotion import wait_for_a_lock_wait

KEY_RING = "projects/acme/locations/global/keyRings/release-manager"
PRODUCTION_KEY = f"{KEY_RING}/cryptoKeys/production/cryptoKeyVersions/1"
IMAGE = "europe-docker.pkg.dev/acme/apps/checkout"
DIGEST = "sha256:" + "ab" * 32
ARTIFACTS = [
    {"name": "image", "uri": f"{IMAGE}:1.0.0", "digest": DIGEST},
    {"name": "sbom", "uri": "gs://acme-builds/checkout/1.0.0/sbom.json", "digest": "sha256:" + "cd" * 32},
]


@pytest.fixture
def google(monkeypatch):
    """Production is attested; the KMS and Container Analysis endpoints are the stand-in's."""
    with BinauthzApis() as apis:
        for name, value in {
            "ATTESTORS": "production",
            "ATTESTATION_KEY_RING": KEY_RING,
            "GCP_PROJECT_ID": "acme",
            "KMS_ENDPOINT": apis.endpoint,
            "CONTAINER_ANALYSIS_ENDPOINT": apis.endpoint,
        }.items():
            monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        yield apis
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.fixture
def staged(releases, admin, developer):
    """checkout 1.0.0 (an image and an SBOM), live in dev, on dev → production (no approvals)."""
    register_application(releases, admin, "checkout", path=[{"environment": "dev"}, {"environment": "production"}])
    release = ready_release(releases, developer, application="checkout", version="1.0.0", artifacts=ARTIFACTS)
    ship(releases, developer, release["id"], "dev")
    return release


def attestations_of(releases, headers, **query):
    answer = releases.get("/releases/attestations", query_string=query, headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["items"]


def dispatch(releases, headers):
    answer = releases.post("/releases/events/dispatch", headers=headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["attested"]


def test_a_queued_deployment_has_its_image_attested_and_the_signature_verifies(releases, developer, google, staged):
    queued = deploy(releases, developer, staged["id"], "production").get_json()

    (attestation,) = attestations_of(releases, developer, deployment_id=queued["id"])
    assert attestation["status"] == "attested" and attestation["digest"] == DIGEST  # the image only, not the SBOM
    signed = base64.b64decode(attestation["payload"])
    google.public_key(PRODUCTION_KEY).verify(
        base64.b64decode(attestation["signature"]), signed, ec.ECDSA(hashes.SHA256())
    )
    payload = json.loads(signed)
    assert payload["critical"] == {
        "identity": {"docker-reference": IMAGE},
        "image": {"docker-manifest-digest": DIGEST},
        "type": "Google cloud binauthz container signature",
    }
    assert payload["optional"] == {
        "environment": "production",
        "deployment_id": queued["id"],
        "release": "checkout@1.0.0",
    }
    (occurrence,) = google.occurrences
    assert occurrence["noteName"] == "projects/acme/notes/release-manager-production"
    assert occurrence["resourceUri"] == f"https://{IMAGE}@{DIGEST}"
    assert occurrence["attestation"]["signatures"][0]["publicKeyId"] == f"//cloudkms.googleapis.com/v1/{PRODUCTION_KEY}"
    assert attestation["occurrence"] == occurrence["name"]
    assert report(releases, developer, staged["id"], queued["id"], "in_progress").status_code == 200


def test_environments_without_an_attestor_and_waiting_deployments_get_none(releases, admin, developer, google):
    release = ready_release(releases, developer, application="shop", version="1.0.0", artifacts=ARTIFACTS)
    ship(releases, developer, release["id"], "dev")
    ship(releases, developer, release["id"], "staging")
    waiting = deploy(releases, developer, release["id"], "production").get_json()  # the default path: 1 approval

    assert waiting["status"] == "pending_approval"
    assert attestations_of(releases, developer, digest=DIGEST) == []  # dev and staging: no attestor
    _, approver = as_role("release_manager")
    decided = releases.post(
        f"/releases/{release['id']}/deployments/{waiting['id']}/approvals",
        json={"decision": "approve", "comment": "ok"},
        headers=approver,
    )
    assert decided.get_json()["deployment"]["status"] == "queued"
    assert [a["status"] for a in attestations_of(releases, developer, digest=DIGEST)] == ["attested"]


def test_kms_down_leaves_it_not_yet_runnable_until_a_dispatch_attests_it(releases, admin, developer, google, staged):
    google.down = True
    queued = deploy(releases, developer, staged["id"], "production")
    refused = report(releases, developer, staged["id"], queued.get_json()["id"], "in_progress")
    google.down = False
    attested = dispatch(releases, admin)
    started = report(releases, developer, staged["id"], queued.get_json()["id"], "in_progress")

    assert queued.status_code == 201 and queued.get_json()["status"] == "queued"
    assert refused.status_code == 503 and refused.get_json()["code"] == "attestation_pending"
    assert refused.headers["Retry-After"] == "30"
    assert attested == 1
    assert started.status_code == 200 and started.get_json()["status"] == "in_progress"


def test_a_cancelled_release_gets_no_new_attestation(releases, admin, developer, google, staged):
    google.down = True
    queued = deploy(releases, developer, staged["id"], "production").get_json()
    assert cancel(releases, admin, staged["id"]).status_code == 200
    google.down = False

    assert dispatch(releases, admin) == 0
    (attestation,) = attestations_of(releases, developer, deployment_id=queued["id"])
    assert attestation["status"] == "abandoned" and "cancelled" in attestation["error"]
    assert google.occurrences == []


def test_a_cancel_during_an_attestation_waits_for_it_and_the_order_is_kept(apps, admin, developer, google, staged):
    """The attestation holds the deployment and release FOR SHARE while KMS signs: the cancel waits,
    then cancels the deployment. What was attested was queued when it was."""
    client = apps["releases"].test_client()
    google.down = True
    queued = deploy(client, developer, staged["id"], "production").get_json()
    google.down, google.hold = False, threading.Event()
    answers = {}
    attesting = threading.Thread(
        target=lambda: answers.update(attested=dispatch(apps["releases"].test_client(), admin))
    )
    attesting.start()
    assert google.signing.wait(30), "the dispatch never asked KMS for the signature"  # it is held there now
    cancelling = threading.Thread(
        target=lambda: answers.update(cancel=cancel(apps["releases"].test_client(), admin, staged["id"]))
    )
    cancelling.start()

    assert wait_for_a_lock_wait(), "the cancel never waited for the attestation"
    google.hold.set()
    attesting.join(timeout=30)
    cancelling.join(timeout=30)

    assert answers["attested"] == 1 and answers["cancel"].status_code == 200
    assert client.get(f"/releases/deployments/{queued['id']}", headers=developer).get_json()["status"] == "cancelled"
    (attestation,) = attestations_of(client, developer, deployment_id=queued["id"])
    assert attestation["status"] == "attested"


def test_a_rollback_target_is_attested_when_its_rollback_is_queued(releases, admin, developer, google, staged):
    first = deploy(releases, developer, staged["id"], "production").get_json()
    for status in ("in_progress", "succeeded"):
        report(releases, developer, staged["id"], first["id"], status)
    newer = ready_release(releases, developer, application="checkout", version="1.1.0")  # no images
    ship(releases, developer, newer["id"], "dev")
    ship(releases, developer, newer["id"], "production")
    _, manager = as_role("release_manager")

    back = releases.post(
        "/releases/rollback",
        json={"application": "checkout", "environment": "production", "reason": "5xx"},
        headers=manager,
    ).get_json()

    assert back["status"] == "queued" and back["version"] == "1.0.0"
    (attestation,) = attestations_of(releases, developer, deployment_id=back["id"])
    assert attestation["status"] == "attested"
    assert json.loads(base64.b64decode(attestation["payload"]))["optional"]["deployment_id"] == back["id"]


def test_the_list_needs_a_real_digest(releases, developer):
    answer = releases.get("/releases/attestations?digest=latest", headers=developer)

    assert answer.status_code == 422 and answer.get_json()["errors"][0]["field"] == "digest"


def test_a_rollback_cancelled_before_its_attestation_leaves_it_abandoned(releases, admin, developer, google, staged):
    first = deploy(releases, developer, staged["id"], "production").get_json()
    for status in ("in_progress", "succeeded"):
        report(releases, developer, staged["id"], first["id"], status)
    newer = ready_release(releases, developer, application="checkout", version="1.1.0")
    ship(releases, developer, newer["id"], "dev")
    ship(releases, developer, newer["id"], "production")
    _, manager = as_role("release_manager")
    google.down = True
    back = releases.post(
        "/releases/rollback",
        json={"application": "checkout", "environment": "production", "reason": "5xx"},
        headers=manager,
    ).get_json()
    assert report(releases, developer, staged["id"], back["id"], "cancelled").status_code == 200
    google.down = False

    assert dispatch(releases, admin) == 0
    (attestation,) = attestations_of(releases, developer, deployment_id=back["id"])
    assert attestation["status"] == "abandoned"
    assert len(google.occurrences) == 1  # 1.0.0's first deployment's, none for its cancelled rollback
