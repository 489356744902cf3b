"""`relman` for a person, installed as users install it and run against the dev server: a bare
`relman`, signing in once (and the session renewed past its access token's lifetime, kept in the OS
keyring or a private file), profiles and which setting wins, the approvals inbox, approving by
release and environment, cancelling, people's names, and failing fast on a service that is not there."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.cli.conftest import Relman
from tests.factories import PASSWORD, access_token, make_user
from tests.servers import call


def log_in(relman: Relman, user: dict, *extra: str, **env: str):
    return relman(
        "login", "--email", user["email"], "--password-stdin", *extra, input=PASSWORD + "\n", RELMAN_URL="", **env
    )


def stored(relman: Relman) -> dict:
    return json.loads((relman.config_home / "relman" / "credentials.json").read_text())


def test_a_bare_relman_prints_its_help_and_exits_0(relman):
    ran = relman()

    assert ran.returncode == 0, ran.stderr
    assert "Usage: relman" in ran.stdout and "login" in ran.stdout
    assert "Traceback" not in ran.stderr + ran.stdout


def test_login_keeps_the_session_in_a_private_file_and_the_url_in_the_profile(relman):
    person = make_user("release_manager")

    signed = log_in(relman, person, "--url", relman.url)
    me = relman("whoami", RELMAN_URL="")  # the URL from the profile, the token from the session
    shown = relman("config", "-o", "json", RELMAN_URL="")

    assert signed.returncode == 0, signed.stderr
    assert f"Signed in to {relman.url} as {person['email']} (release_manager)" in signed.stderr
    credentials = relman.config_home / "relman" / "credentials.json"
    assert stat.S_IMODE(credentials.stat().st_mode) == 0o600
    assert stat.S_IMODE(credentials.parent.stat().st_mode) == 0o700
    assert me.returncode == 0, me.stderr
    assert person["email"] in me.stdout
    settings = json.loads(shown.stdout)
    assert settings["settings"]["url"] == {
        "value": relman.url,
        "source": f"profile default ({credentials.parent / 'config.toml'})",
    }
    assert settings["signed_in"] == {"email": person["email"], "kept_in": str(credentials)}


def test_the_access_token_is_renewed_silently_once_spent(relman):
    person = make_user("developer")
    assert log_in(relman, person, "--url", relman.url).returncode == 0
    ((name, first),) = stored(relman).items()
    # Past the access token's lifetime: the kept one has expired (and the service says so).
    expired = _expired_token(person)
    spent = first | {"access_token": expired, "access_expires_at": 0}
    (relman.config_home / "relman" / "credentials.json").write_text(json.dumps({name: spent}))

    me = relman("whoami", RELMAN_URL="")
    renewed = stored(relman)[name]
    # A token the service refuses although it looked fresh (revoked, a clock off): renewed too.
    (relman.config_home / "relman" / "credentials.json").write_text(
        json.dumps({name: renewed | {"access_token": expired}})
    )
    again = relman("whoami", RELMAN_URL="")

    assert me.returncode == 0, me.stderr
    assert renewed["refresh_token"] != first["refresh_token"] and renewed["access_token"] != expired
    assert again.returncode == 0, again.stderr
    assert stored(relman)[name]["refresh_token"] != renewed["refresh_token"]


def _expired_token(user: dict) -> str:
    from shared.auth import tokens
    from shared.platform.settings import get_settings

    token, _ = tokens.issue_access_token(
        get_settings(),
        user_id=user["id"],
        role=user["role"],
        auth_version=0,
        now=datetime.now(UTC) - timedelta(hours=1),
    )
    return token


def test_logout_revokes_the_session_at_the_service_and_forgets_it(relman, dev_server):
    person = make_user("viewer")
    assert log_in(relman, person, "--url", relman.url).returncode == 0
    refresh = next(iter(stored(relman).values()))["refresh_token"]

    out = relman("logout", RELMAN_URL="")
    after = relman("whoami", RELMAN_URL="")
    status, _, _ = call(dev_server.base, "POST", "/auth/refresh", {"refresh_token": refresh}, {})

    assert out.returncode == 0, out.stderr
    assert stored(relman) == {}
    assert after.returncode == 2 and "relman login" in after.stderr
    assert status == 401


def test_the_session_may_live_in_the_os_keyring(relman, tmp_path):
    person = make_user("viewer")
    keyring_file = tmp_path / "keyring.json"
    env = {"PYTHON_KEYRING_BACKEND": "tests.cli.keyring_stand_in.FileKeyring", "RELMAN_TEST_KEYRING": str(keyring_file)}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])

    signed = log_in(relman, person, "--url", relman.url, **env)
    me = relman("whoami", RELMAN_URL="", **env)

    assert signed.returncode == 0, signed.stderr
    assert "the OS keyring (FileKeyring)" in signed.stderr
    assert me.returncode == 0, me.stderr
    entries = json.loads(keyring_file.read_text())
    assert (
        list(entries) == [f"relman/default|{relman.url}"] and "refresh_token" in entries[f"relman/default|{relman.url}"]
    )
    assert not (relman.config_home / "relman" / "credentials.json").exists()


def test_a_flag_beats_the_environment_which_beats_the_profile(relman):
    folder = relman.config_home / "relman"
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text(
        'default_profile = "broken"\n'
        '[profiles.broken]\nurl = "http://127.0.0.1:9"\n'
        f'[profiles.good]\nurl = "{relman.url}"\noutput = "json"\n'
    )
    token = access_token(make_user("viewer"))

    from_env = relman("config", "-o", "json", token=token)  # RELMAN_URL set: the environment wins
    by_profile = relman("--profile", "good", "whoami", token=token, RELMAN_URL="")
    by_env_profile = relman("whoami", token=token, RELMAN_URL="", RELMAN_PROFILE="good")
    by_flag = relman("--url", relman.url, "whoami", "-o", "text", token=token, RELMAN_URL="")

    shown = json.loads(from_env.stdout)
    assert shown["settings"]["url"] == {"value": relman.url, "source": "env RELMAN_URL"}
    assert shown["profile"]["value"] == "broken" and "default_profile" in shown["profile"]["source"]
    assert by_profile.returncode == 0 and json.loads(by_profile.stdout)["role"] == "viewer"  # the profile's json
    assert by_env_profile.returncode == 0 and json.loads(by_env_profile.stdout)["role"] == "viewer"
    assert by_flag.returncode == 0 and "viewer" in by_flag.stdout and not by_flag.stdout.startswith("{")


def test_a_person_fails_fast_on_a_service_that_is_not_there(relman):
    ran = relman("whoami", token="x", RELMAN_URL="http://127.0.0.1:9", RELMAN_RETRY_SECONDS="")
    told = relman("whoami", token="x", RELMAN_URL="http://127.0.0.1:9", RELMAN_RETRY_SECONDS="1")

    assert ran.returncode == 6 and "retrying" not in ran.stderr
    assert "cannot connect to http://127.0.0.1:9" in ran.stderr and "relman config" in ran.stderr
    assert ran.stderr.count("\n") == 1  # one line, no traceback
    assert told.returncode == 6 and "retrying" in told.stderr  # a wait asked for is kept


def test_a_broken_config_file_is_one_line_naming_it(relman):
    folder = relman.config_home / "relman"
    folder.mkdir(parents=True)
    (folder / "config.toml").write_text("[profiles.default\nurl = 1\n")

    ran = relman("whoami")

    assert ran.returncode == 1 and "config.toml is not valid TOML" in ran.stderr
    assert "Traceback" not in ran.stderr


def test_no_traceback_on_odd_input(relman):
    for args in (["approve"], ["approve", "nope"], ["approve", "x@1", "--env"], ["deployment"], ["config", "set"],
                 ["config", "set", "colour", "red"], ["--profile"], ["deploy", "checkout@1.0.0"]):  # fmt: skip
        ran = relman(*args, token="x")
        assert ran.returncode in (0, 1), (args, ran.returncode, ran.stderr)
        assert "Traceback" not in ran.stderr + ran.stdout, args
    for url in ("http://[", "http://127.0.0.1:port", "ftp://example.com", "http://"):
        ran = relman("whoami", token="x", RELMAN_URL=url)
        assert ran.returncode == 1 and "RELMAN_URL" in ran.stderr, (url, ran.stderr)
        assert "Traceback" not in ran.stderr, url


def test_yaml_is_the_same_document_as_json(relman):
    token = access_token(make_user("viewer"))

    as_json = relman("whoami", "-o", "json", token=token)
    as_yaml = relman("whoami", "-o", "yaml", token=token)
    refused = relman("whoami", "-o", "yaml", token="not-a-token")

    import yaml

    assert as_yaml.returncode == 0, as_yaml.stderr
    assert yaml.safe_load(as_yaml.stdout) == json.loads(as_json.stdout)
    assert refused.returncode == 2 and yaml.safe_load(refused.stdout)["status"] == 401


def test_behind_iap_a_person_signs_in_with_gcloud_and_relman_keeps_nothing(relman, tmp_path):
    """Identity-Aware Proxy cannot run here: the stand-in plays the service behind it (what reaches
    it is what IAP would check), and a `gcloud` script on PATH prints the Google token."""
    from tests.cli.stand_ins import stand_in

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    gcloud = bin_dir / "gcloud"
    gcloud.write_text('#!/bin/sh\n[ "$*" = "auth print-access-token" ] && echo ya29.person-token\n')
    gcloud.chmod(0o755)
    me = {"id": "5d0c6d4e-0000-4000-8000-000000000001", "email": "ana@example.com", "role": "viewer"}
    path = f"{bin_dir}:/usr/bin:/bin"
    with stand_in({("GET", "/auth/me"): lambda seen: (200, {}, me)}) as iap:
        signed = relman("login", "--url", iap.base, "--iap", RELMAN_URL="", PATH=path)
        again = relman("whoami", RELMAN_URL="", PATH=path)
        no_gcloud = relman("whoami", RELMAN_URL="", PATH="/nonexistent")

    assert signed.returncode == 0, signed.stderr
    assert "through Identity-Aware Proxy as ana@example.com" in signed.stderr
    assert again.returncode == 0, again.stderr
    for seen in iap.requests("/auth/me"):
        assert seen.headers["Proxy-Authorization"] == "Bearer ya29.person-token"
        assert "Authorization" not in seen.headers
    assert "iap = true" in (relman.config_home / "relman" / "config.toml").read_text()
    assert not (relman.config_home / "relman" / "credentials.json").exists()
    assert no_gcloud.returncode == 2 and "install the Google Cloud CLI" in no_gcloud.stderr
