"""`relman attestations verify`: whether an image was released through the gates, checked offline
from the attestation's signature and the attestor's public key (PEM, as `gcloud kms keys versions
get-public-key` writes it). The dev server attests production through the KMS and Container
Analysis stand-in (tests/binauthz_stand_in.py: no Google project here)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.binauthz_stand_in import BinauthzApis
from tests.cli.conftest import Relman
from tests.factories import access_token, make_user
from tests.servers import DevServer, call

KEY_RING = "projects/acme/locations/global/keyRings/release-manager"
PRODUCTION_KEY = f"{KEY_RING}/cryptoKeys/production/cryptoKeyVersions/1"
DIGEST = "sha256:" + "5e" * 32
OTHER = "sha256:" + "0f" * 32


@pytest.fixture(scope="module")
def attesting(services: dict[str, str]) -> Iterator[tuple[DevServer, BinauthzApis]]:
    with BinauthzApis() as apis:
        server = DevServer(
            ATTESTORS="production",
            ATTESTATION_KEY_RING=KEY_RING,
            GCP_PROJECT_ID="acme",
            KMS_ENDPOINT=apis.endpoint,
            CONTAINER_ANALYSIS_ENDPOINT=apis.endpoint,
        )
        yield server, apis
        server.stop()


def pem(key: ec.EllipticCurvePublicKey, path: Path) -> Path:
    path.write_bytes(key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return path


def test_an_image_released_to_production_verifies_and_others_do_not(relman_bin, attesting, tmp_path):
    server, apis = attesting
    admin, developer = access_token(make_user("admin")), access_token(make_user("developer"))
    path = {
        "name": "checkout",
        "display_name": "Checkout",
        "path": [{"environment": "dev"}, {"environment": "production"}],
    }
    assert call(server.base, "POST", "/releases/applications", path, {"Authorization": f"Bearer {admin}"})[0] == 201
    relman = Relman(relman_bin, server.base, tmp_path / "config")
    image = f"europe-docker.pkg.dev/acme/apps/checkout:1.0.0@{DIGEST}"
    created = relman(
        "release", "create", "-a", "checkout", "--version", "1.0.0", "--artifact", f"image={image}", "--ready",
        token=developer,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    for environment in ("dev", "production"):
        ran = relman("run", "checkout@1.0.0", "--env", environment, "--", "true", token=developer)
        assert ran.returncode == 0, ran.stderr
    key = pem(apis.public_key(PRODUCTION_KEY), tmp_path / "production.pem")
    stranger = pem(ec.generate_private_key(ec.SECP256R1()).public_key(), tmp_path / "stranger.pem")

    good = relman("attestations", "verify", DIGEST, "--env", "production", "--public-key", str(key), token=developer)
    as_json = relman(
        "attestations", "verify", DIGEST, "--env", "production", "--public-key", str(key), "-o", "json",
        token=developer,
    )  # fmt: skip
    forged = relman(
        "attestations", "verify", DIGEST, "--env", "production", "--public-key", str(stranger), token=developer
    )
    elsewhere = relman("attestations", "verify", DIGEST, "--env", "dev", "--public-key", str(key), token=developer)
    unknown = relman("attestations", "verify", OTHER, "--env", "production", "--public-key", str(key), token=developer)

    assert good.returncode == 0, good.stderr
    assert f"{DIGEST} in production: verified" in good.stdout and "signed for checkout@1.0.0" in good.stdout
    assert json.loads(as_json.stdout)["verified"] is True
    assert forged.returncode == 4 and "does not verify with this key" in forged.stdout
    assert elsewhere.returncode == 4 and "(no attestations)" in elsewhere.stdout
    assert unknown.returncode == 4 and "no attestation of" in unknown.stderr
