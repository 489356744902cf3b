"""Binary Authorization attestations, Google's side: an environment's attestor (a Cloud KMS EC P-256
key named after the environment, version 1, and a Container Analysis note `release-manager-<env>`),
the signing payload, a signature from KMS (`asymmetricSign` over the payload's SHA-256) and the
attestation occurrence in Container Analysis (Grafeas), which a Binary Authorization policy
requiring that attestor accepts.

The clients (google-cloud-kms, grafeas) are imported on first use: only a function that attests
loads them. They speak REST, so KMS_ENDPOINT and CONTAINER_ANALYSIS_ENDPOINT point them at a local
stand-in in tests. Any failure of Google's side is 503 `attestation_unavailable`: the deployment
stays not yet runnable, and dispatch tries again."""

from __future__ import annotations

import functools
import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from shared.errors import Unavailable
from shared.platform.settings import Settings

log = logging.getLogger(__name__)

# What `gcloud container binauthz create-signature-payload` writes, which Binary Authorization checks.
PAYLOAD_TYPE = "Google cloud binauthz container signature"
RETRY_AFTER_S = 30
# One try, briefly: the request that queues a deployment waits for it, and dispatch tries again.
TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Attestor:
    environment: str
    key_version: str  # projects/P/locations/L/keyRings/R/cryptoKeys/<environment>/cryptoKeyVersions/1
    note: str  # projects/P/notes/release-manager-<environment>

    @property
    def public_key_id(self) -> str:
        """The id Binary Authorization knows the attestor's key by (its KMS resource)."""
        return f"//cloudkms.googleapis.com/v1/{self.key_version}"

    @property
    def project(self) -> str:
        return self.note.split("/")[1]


def attestor_for(settings: Settings, environment: str) -> Attestor | None:
    """The environment's attestor, or None when its deployments are not attested."""
    if environment not in settings.attestors or not settings.attestation_key_ring:
        return None
    return Attestor(
        environment=environment,
        key_version=f"{settings.attestation_key_ring}/cryptoKeys/{environment}/cryptoKeyVersions/1",
        note=f"projects/{settings.gcp_project_id}/notes/release-manager-{environment}",
    )


def image_of(uri: str) -> str | None:
    """The repository an artifact's `uri` names when it is a container image (`HOST/PATH[:TAG]`,
    with or without `docker://`, the host a registry's), without its tag or digest; None otherwise
    (a file in a bucket, a URL)."""
    reference = uri.removeprefix("docker://")
    if "://" in reference or "/" not in reference:
        return None
    host, _, path = reference.partition("/")
    if "." not in host and ":" not in host and host != "localhost":
        return None
    path = path.split("@", 1)[0]
    if ":" in path.rsplit("/", 1)[-1]:
        path = path.rsplit(":", 1)[0]
    return f"{host}/{path}" if path else None


def payload(*, image: str, digest: str, environment: str, deployment_id: str, release: str) -> bytes:
    """The bytes signed: the image and digest Binary Authorization checks (`critical`), and what we
    attest it for (`optional`: the environment, our deployment, the release)."""
    document = {
        "critical": {
            "identity": {"docker-reference": image},
            "image": {"docker-manifest-digest": digest},
            "type": PAYLOAD_TYPE,
        },
        "optional": {"environment": environment, "deployment_id": deployment_id, "release": release},
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


@functools.cache
def _kms(endpoint: str | None) -> Any:
    from google.cloud import kms_v1

    if endpoint is None:
        return kms_v1.KeyManagementServiceClient(transport="rest")
    from google.auth.credentials import AnonymousCredentials

    return kms_v1.KeyManagementServiceClient(
        credentials=AnonymousCredentials(), transport="rest", client_options={"api_endpoint": endpoint}
    )


@functools.cache
def _grafeas(endpoint: str | None) -> Any:
    from grafeas.grafeas_v1 import GrafeasClient
    from grafeas.grafeas_v1.services.grafeas.transports.rest import GrafeasRestTransport

    if endpoint is None:
        return GrafeasClient(transport=GrafeasRestTransport(host="containeranalysis.googleapis.com"))
    from google.auth.credentials import AnonymousCredentials

    return GrafeasClient(transport=GrafeasRestTransport(host=endpoint, credentials=AnonymousCredentials()))


def sign(settings: Settings, attestor: Attestor, signed: bytes) -> bytes:
    """KMS's signature of `signed` with the attestor's key (ECDSA P-256 over SHA-256, DER)."""
    digest = hashlib.sha256(signed).digest()
    try:
        answer = _kms(settings.kms_endpoint).asymmetric_sign(
            request={"name": attestor.key_version, "digest": {"sha256": digest}}, retry=None, timeout=TIMEOUT_S
        )
    except Exception as error:  # any failure of the API or the way to it: not attested yet
        raise _unavailable("Cloud KMS did not sign", attestor, error) from error
    return bytes(answer.signature)


def attach(settings: Settings, attestor: Attestor, *, resource_uri: str, signed: bytes, signature: bytes) -> str:
    """Store the attestation as an occurrence of the attestor's note; its name."""
    occurrence = {
        "resource_uri": resource_uri,
        "note_name": attestor.note,
        "attestation": {
            "serialized_payload": signed,
            "signatures": [{"signature": signature, "public_key_id": attestor.public_key_id}],
        },
    }
    try:
        made = _grafeas(settings.container_analysis_endpoint).create_occurrence(
            parent=f"projects/{attestor.project}", occurrence=occurrence, retry=None, timeout=TIMEOUT_S
        )
    except Exception as error:
        raise _unavailable("Container Analysis did not take the attestation", attestor, error) from error
    return str(made.name)


def _unavailable(what: str, attestor: Attestor, error: Exception) -> Unavailable:
    log.warning("attestation failed", extra={"environment": attestor.environment, "error": repr(error)})
    return Unavailable(
        f"{what} for {attestor.environment}; the deployment may run once its images are attested "
        "(dispatch tries again every minute).",
        code="attestation_unavailable",
        retry_after=RETRY_AFTER_S,
    )
