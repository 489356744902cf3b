"""The `relman` CLI, installed as users install it (`pip install ./cli`; `make test` does it), run as a
subprocess against one `python -m shared.devserver` (what `make dev` runs) on the real PostgreSQL and
Redis of this run, emptied before each test."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.servers import DevServer, call

RELMAN = Path(sys.executable).with_name("relman")
CONFIG_HOMES = Path(tempfile.gettempdir()) / f"relman-test-config-{os.getpid()}"


@pytest.fixture(autouse=True)
def starts_clean(clean_state: None) -> None:
    """Make the shared `clean_state` (tests/services.py) apply to each test in this folder."""


@pytest.fixture(scope="session")
def relman_bin() -> str:
    if not RELMAN.exists():
        pytest.fail(f"{RELMAN} is missing: `make test` installs it (or: {sys.executable} -m pip install ./cli)")
    return str(RELMAN)


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any RELMAN_*, CI or OIDC setting leaking into the CLI under test."""
    leaks = ("RELMAN_", "ACTIONS_ID_TOKEN_", "GCE_METADATA_", "GITHUB_", "CI", "XDG_CONFIG_HOME", "PYTHON_KEYRING")
    env = {k: v for k, v in os.environ.items() if not k.startswith(leaks)}
    # No metadata server is reachable from a test unless one points GCE_METADATA_HOST at a stand-in.
    env["GCE_METADATA_HOST"] = "127.0.0.1:9"
    # Never the person's own config nor OS keyring: a folder of the test's own, and no keyring (so the
    # private file) unless a test puts the keyring stand-in in its place.
    env["XDG_CONFIG_HOME"] = str(CONFIG_HOMES / "unset")
    env["PYTHON_KEYRING_BACKEND"] = "keyring.backends.fail.Keyring"
    return env | extra


class Relman:
    """Runs the installed `relman` with RELMAN_URL (and RELMAN_TOKEN, when given) set, and a config
    folder of the test's own (`config_home`)."""

    def __init__(self, binary: str, url: str, config_home: Path | None = None) -> None:
        self.binary, self.url = binary, url
        self.config_home = config_home or CONFIG_HOMES / "unset"

    def env(self, token: str | None = None, **extra: str) -> dict[str, str]:
        base = {
            "RELMAN_URL": self.url,
            "RELMAN_POLL_MAX_SECONDS": "0.5",
            "RELMAN_RETRY_SECONDS": "10",
            "XDG_CONFIG_HOME": str(self.config_home),
        }
        if token:
            base["RELMAN_TOKEN"] = token
        return clean_env(**(base | extra))

    def __call__(
        self,
        *args: str,
        token: str | None = None,
        timeout: float = 60,
        cwd: str | Path | None = None,
        input: str | None = None,
        **extra: str,
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.binary, *args],
            env=self.env(token, **extra),
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=cwd,
            check=False,
        )

    def start(self, *args: str, token: str | None = None, **extra: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [self.binary, *args],
            env=self.env(token, **extra),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


@pytest.fixture
def relman(relman_bin: str, dev_server: DevServer, tmp_path: Path) -> Relman:
    return Relman(relman_bin, dev_server.base, tmp_path / "config")


def api_token(base: str, access: str, role: str = "developer") -> str:
    """An API token (`rm_...`), made over HTTP as a person makes one for a pipeline."""
    status, _, body = call(
        base,
        "POST",
        "/auth/tokens",
        {"name": f"ci-{role}", "role": role, "expires_in_days": 1},
        {"Authorization": f"Bearer {access}"},
    )
    assert status == 201, body
    return str(body["token"])


def git_checkout(path: Path) -> dict[str, Any]:
    """A working tree with one commit on `main` and an `origin` remote, as a CI checkout has."""
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    env = {
        **os.environ,
        "GIT_AUTHOR_DATE": "2026-11-25T16:20:00+01:00",
        "GIT_COMMITTER_DATE": "2026-11-25T16:20:00+01:00",
    }
    for args in (
        ["init", "-q", "-b", "main"],
        ["config", "user.email", "ci@example.com"],
        ["config", "user.name", "CI"],
        ["remote", "add", "origin", "git@github.com:acme/checkout.git"],
        ["commit", "-q", "--allow-empty", "-m", "Faster payment page"],
    ):
        subprocess.run([git, *args], cwd=path, env=env, check=True, capture_output=True)
    sha = subprocess.run(
        [git, "rev-parse", "HEAD"], cwd=path, check=True, capture_output=True, text=True
    ).stdout.strip()
    return {
        "repository": "github.com/acme/checkout",
        "commit_sha": sha,
        "branch": "main",
        "committed_at": "2026-11-25T15:20:00Z",
    }
