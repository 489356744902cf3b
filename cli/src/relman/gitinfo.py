"""`release create --from-git`: repository, commit, branch and commit time of the working tree.

Where the checkout has no `.git` (some CI sources) or is detached, the CI's own variables fill in:
GitHub Actions (GITHUB_SHA, GITHUB_HEAD_REF/GITHUB_REF_NAME, GITHUB_SERVER_URL/GITHUB_REPOSITORY),
Cloud Build (COMMIT_SHA, BRANCH_NAME, REPO_NAME: pass them to the step's `env`), GitLab (CI_*).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import UTC, datetime
from typing import Any

from relman.errors import RelmanError

_SCP_LIKE = re.compile(r"^(?:[^@/]+@)?([^:/]+):(.+)$")  # git@github.com:acme/checkout.git


def _git(*args: str, cwd: str | None) -> str | None:
    git = shutil.which("git")
    if git is None:
        return None
    # safe.directory: a container's root user reading a checkout another user owns (read-only commands).
    run = subprocess.run(  # noqa: S603 (a fixed git command, no shell)
        [git, "-c", "safe.directory=*", *args], cwd=cwd, capture_output=True, text=True, check=False
    )
    return run.stdout.strip() or None if run.returncode == 0 else None


def normalize_repository(url: str) -> str:
    """`host/owner/name`: no scheme, credentials or `.git` (what the README's releases record)."""
    url = url.strip()
    if "://" in url:
        rest = url.split("://", 1)[1]
        rest = rest.rsplit("@", 1)[-1] if "@" in rest.split("/", 1)[0] else rest
    elif match := _SCP_LIKE.match(url):
        rest = f"{match.group(1)}/{match.group(2)}"
    else:
        rest = url
    return rest.removesuffix("/").removesuffix(".git")


def source(cwd: str | None = None) -> dict[str, Any]:
    env = os.environ
    commit = (
        _git("rev-parse", "HEAD", cwd=cwd) or env.get("GITHUB_SHA") or env.get("COMMIT_SHA") or env.get("CI_COMMIT_SHA")
    )
    if not commit:
        raise RelmanError("--from-git: no git working tree here (and no CI commit variable); pass --commit")
    branch = (
        _git("symbolic-ref", "--short", "-q", "HEAD", cwd=cwd)
        or env.get("GITHUB_HEAD_REF")
        or env.get("GITHUB_REF_NAME")
        or env.get("BRANCH_NAME")
        or env.get("CI_COMMIT_REF_NAME")
    )
    remote = _git("remote", "get-url", "origin", cwd=cwd)
    if remote:
        repository = normalize_repository(remote)
    elif env.get("GITHUB_REPOSITORY"):
        repository = normalize_repository(
            f"{env.get('GITHUB_SERVER_URL', 'https://github.com')}/{env['GITHUB_REPOSITORY']}"
        )
    else:
        repository = env.get("REPO_NAME") or env.get("CI_PROJECT_PATH") or ""
    if not repository:
        raise RelmanError("--from-git: the working tree has no `origin` remote; pass --repository")
    found: dict[str, Any] = {"repository": repository, "commit_sha": commit.lower(), "branch": branch or None}
    if when := _git("show", "-s", "--format=%cI", "HEAD", cwd=cwd):
        found["committed_at"] = datetime.fromisoformat(when).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return found
