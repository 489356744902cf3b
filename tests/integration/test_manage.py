"""The bootstrap command creates the first admin, taking the password only from the environment."""

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from shared.auth.tables import users
from shared.platform.db import get_engine

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shared.manage", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def test_create_user_makes_an_admin_who_can_log_in(apps):
    env = {**os.environ, "PASSWORD": "bootstrap passphrase 1"}

    result = manage("create-user", "--email", "Root@Example.com", "--role", "admin", env=env)

    assert result.returncode == 0, result.stderr
    assert "created admin root@example.com" in result.stdout
    login = (
        apps["auth"]
        .test_client()
        .post("/auth/login", json={"email": "root@example.com", "password": "bootstrap passphrase 1"})
    )
    assert login.status_code == 200


def test_the_password_is_never_an_argument():
    result = manage("create-user", "--email", "a@example.com", "--password", "visible-in-ps", env=dict(os.environ))

    assert result.returncode != 0
    assert "unrecognized arguments" in result.stderr


def test_without_a_password_and_without_a_terminal_it_refuses(services):
    env = {k: v for k, v in os.environ.items() if k != "PASSWORD"}

    result = manage("create-user", "--email", "a@example.com", env=env)

    assert result.returncode != 0
    assert "set PASSWORD" in result.stderr
    with get_engine().connect() as conn:
        assert conn.scalar(sa.select(sa.func.count()).select_from(users)) == 0


def test_a_weak_password_is_refused_with_the_reason():
    result = manage("create-user", "--email", "a@example.com", env={**os.environ, "PASSWORD": "a@example.com"})

    assert result.returncode == 2
    assert "password" in result.stderr


def test_with_no_database_url_it_uses_the_embedded_database(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"RM_DATA_DIR": str(tmp_path), "PASSWORD": "bootstrap passphrase 1", "ENVIRONMENT": "development"}

    created = manage("create-user", "--email", "dev@example.com", env=env)
    again = manage("create-user", "--email", "dev@example.com", env=env)

    assert created.returncode == 0, created.stderr
    assert (tmp_path / "pg" / "PG_VERSION").exists()
    # The second run found the same embedded database, and the same user in it.
    assert again.returncode == 2
    assert "exists" in again.stderr


def test_the_embedded_database_starts_without_a_runtime_dir_warning(tmp_path):
    # As in a container or CI job, where no login session sets XDG_RUNTIME_DIR.
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "XDG_RUNTIME_DIR")}
    env |= {"RM_DATA_DIR": str(tmp_path), "ENVIRONMENT": "development"}

    result = manage("migrate", env=env)

    assert result.returncode == 0, result.stderr
    assert "RuntimeDirWarning" not in result.stderr
    assert "XDG_RUNTIME_DIR" not in result.stderr
