"""`relman attestations verify DIGEST --env ENV --public-key FILE`: was this image released through
the gates into that environment? Checked here, offline, from each attestation's signature and the
attestor's public key (`gcloud kms keys versions get-public-key 1 --key ENV --keyring R --location L
--output-file key.pem`): the service is asked only for the attestations themselves, and a service
that lied about them could not forge a signature."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import click

from relman import output
from relman.commands import Group, client, env_option
from relman.errors import ENDED_BADLY, OK, RelmanError
from relman.output import say


@click.group(cls=Group)
def attestations() -> None:
    """Binary Authorization attestations the service signed for what passed its gates."""


@attestations.command()
@click.argument("digest", metavar="DIGEST")
@env_option("The environment it should have been released to.", required=True)
@click.option(
    "--public-key",
    "public_key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The attestor's public key (PEM), as `gcloud kms keys versions get-public-key` writes it.",
)
@click.pass_context
def verify(ctx: click.Context, digest: str, environment: str, public_key: Path) -> int:
    """Whether an image (sha256:...) was released through the gates into ENV: an attestation whose
    signature the key verifies and whose payload names that digest and environment. Exit 0 when one
    does, 4 when none does.

    \b
    Example:
      relman attestations verify sha256:9f86d08... --env production --public-key production.pem
    """
    from cryptography.hazmat.primitives import serialization

    try:
        key = serialization.load_pem_public_key(public_key.read_bytes())
    except ValueError as error:
        raise RelmanError(f"{public_key} is not a PEM public key: {error}") from None
    found = client(ctx).get("/releases/attestations", digest=digest, environment=environment, limit=100)["items"]
    checked = [check(item, key, digest=digest, environment=environment) for item in found]
    good = [c for c in checked if c["verified"]]
    verdict = {"digest": digest, "environment": environment, "verified": bool(good), "attestations": checked}
    output.result(verdict, render)
    if not good:
        say(f"relman: no attestation of {digest} for {environment} verifies with {public_key}.")
        return ENDED_BADLY
    return OK


def check(item: dict[str, Any], key: Any, *, digest: str, environment: str) -> dict[str, Any]:
    """One attestation, checked: the signature over the payload with `key`, and what the payload says."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    shown = {k: item.get(k) for k in ("deployment_id", "status", "occurrence", "attested_at")}
    if item.get("status") != "attested" or not item.get("payload") or not item.get("signature"):
        return shown | {"verified": False, "why": f"not signed ({item.get('status')})"}
    signed = base64.b64decode(item["payload"])
    try:
        key.verify(base64.b64decode(item["signature"]), signed, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, TypeError, ValueError):
        return shown | {"verified": False, "why": "the signature does not verify with this key"}
    document = json.loads(signed)
    named = document.get("critical", {}).get("image", {}).get("docker-manifest-digest")
    where = document.get("optional", {}).get("environment")
    if (named, where) != (digest, environment):
        return shown | {"verified": False, "why": f"the signed payload is for {named} in {where}"}
    release = document.get("optional", {}).get("release")
    return shown | {"verified": True, "why": f"signed for {release} in {environment}", "release": release}


def render(result: dict[str, Any]) -> str:
    verdict = "verified" if result["verified"] else "NOT verified"
    head = f"{result['digest']} in {result['environment']}: {verdict}"
    rows = [
        {"deployment": a["deployment_id"], "status": a["status"], "check": a["why"]} for a in result["attestations"]
    ]
    return head + ("\n" + output.table(rows, ["deployment", "status", "check"]) if rows else "\n(no attestations)")
