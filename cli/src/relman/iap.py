"""Signing in through Identity-Aware Proxy: the person's own Google credential, as gcloud holds it,
goes to IAP in `Proxy-Authorization` (IAP takes a Google-issued OAuth 2.0 access token with the
`openid` and `email` scopes, which `gcloud auth login` grants); IAP checks it and hands the service
its signed assertion of who this is. relman keeps nothing: `gcloud auth revoke` ends it.

RELMAN_IAP_TOKEN_COMMAND replaces the command (a service account's ID token for the IAP client,
say: `gcloud auth print-identity-token --audiences=CLIENT_ID`)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess

from relman.errors import NotSignedIn

DEFAULT_COMMAND = "gcloud auth print-access-token"


def google_token() -> str:
    """The credential gcloud (or RELMAN_IAP_TOKEN_COMMAND) prints now."""
    command = shlex.split(os.environ.get("RELMAN_IAP_TOKEN_COMMAND") or DEFAULT_COMMAND)
    if not command or shutil.which(command[0]) is None:
        raise NotSignedIn(f"{command[0] if command else 'the IAP token command'} is not installed: "
                          "install the Google Cloud CLI and run `gcloud auth login`")  # fmt: skip
    try:
        ran = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)  # noqa: S603
    except subprocess.TimeoutExpired:
        raise NotSignedIn(f"`{' '.join(command)}` did not answer within 30 s") from None
    token = ran.stdout.strip()
    if ran.returncode != 0 or not token:
        why = (ran.stderr.strip().splitlines() or ["no token printed"])[-1]
        raise NotSignedIn(f"`{' '.join(command)}` failed: {why}; run `gcloud auth login`")
    return token
