"""A person's session and settings: `relman login`, `relman logout` and `relman config`."""

from __future__ import annotations

import sys
from typing import Any

import click

from relman import config as profiles
from relman import output
from relman.commands import Group, client
from relman.errors import OK, ApiError, RelmanError
from relman.output import say


def _where(ctx: click.Context) -> tuple[dict[str, Any], str]:
    """The root settings, and the key of this profile's sign-in to this service."""
    from relman import logins

    obj: dict[str, Any] = ctx.find_root().obj
    if not obj["url"]:
        raise RelmanError("no service URL: give it once with `relman login --url https://...` (kept in the profile)")
    return obj, logins.key(obj["profile"], obj["url"])


@click.command()
@click.option("--url", help="The service's origin; kept in the profile for the next commands.")
@click.option("--email", "-u", help="Your account's email [default: asked].")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin (a script); else it is asked.")
@click.option(
    "--iap", is_flag=True, help="The service is behind IAP: your Google account (gcloud's); kept in the profile."
)
@click.pass_context
def login(ctx: click.Context, url: str | None, email: str | None, password_stdin: bool, iap: bool) -> int:
    """Sign in as a person, once: relman keeps the session (the OS keyring, else a file only you can
    read) and renews its access token when it runs out; `relman logout` ends it. Behind
    Identity-Aware Proxy (--iap), your Google account as gcloud holds it signs you in instead.

    \b
    Examples:
      relman login --url https://releases.example.com --email ana@example.com
      relman login --url https://releases.example.com --iap
    """
    from relman import logins

    obj = ctx.find_root().obj
    if url:
        obj["url"], obj["sources"]["url"] = url, "flag"
    obj, name = _where(ctx)
    if iap or obj["iap"]:
        obj["iap"] = True
        return _through_iap(ctx, obj, url)
    email = email or click.prompt("Email")
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else click.prompt("Password", hide_input=True)
    if not password:
        raise RelmanError("no password given")
    api = client(ctx)
    answer = api.send("POST", "/auth/login", json_body={"email": email, "password": password}, authenticate=False)
    store = logins.store()
    store.save(name, logins.from_answer(answer.json(), email))
    if url:
        profiles.save(obj["profile"], "url", url)
    me = api.get("/auth/me")
    say(f"Signed in to {obj['url']} as {me['email']} ({me['role']}); the session is kept in {store.where}.")
    output.result(me, output.render_me)
    return OK


def _through_iap(ctx: click.Context, obj: dict[str, Any], url: str | None) -> int:
    me = client(ctx).get("/auth/me")  # IAP vouches for the person; the service names their account
    for key, value in (("url", url), ("iap", True)):
        if value:
            profiles.save(obj["profile"], key, value)
    say(f"Signed in to {obj['url']} through Identity-Aware Proxy as {me['email']} ({me['role']}); gcloud holds it.")
    output.result(me, output.render_me)
    return OK


@click.command()
@click.pass_context
def logout(ctx: click.Context) -> int:
    """End this profile's session: revoked at the service and forgotten here.

    \b
    Example:
      relman logout
    """
    from relman import logins

    obj, name = _where(ctx)
    if obj["iap"]:
        profiles.save(obj["profile"], "iap", None)
        say("Signed out here (the profile no longer uses IAP); `gcloud auth revoke` ends the Google sign-in.")
        return OK
    store = logins.store()
    kept = store.load(name)
    if kept is None:
        say(f"Not signed in to {obj['url']} (profile {obj['profile']}).")
        return OK
    try:
        client(ctx).send(
            "POST", "/auth/logout", json_body={"refresh_token": kept.get("refresh_token")}, authenticate=False
        )
    except ApiError as error:
        if error.status not in (400, 401, 422):  # already ended: nothing left to revoke
            raise
    finally:
        store.save(name, None)
    say(f"Signed out of {obj['url']}: the session is revoked and forgotten here.")
    return OK


@click.group(cls=Group, invoke_without_command=True)
@click.pass_context
def config(ctx: click.Context) -> None:
    """Where each setting comes from (flag, environment, profile or default), and who is signed in;
    `relman config set KEY VALUE` keeps a setting in the profile.

    \b
    Examples:
      relman config
      relman --profile staging config set url https://releases-staging.example.com
    """
    if ctx.invoked_subcommand is None:
        output.result(_shown(ctx.find_root().obj), _render)


config.params.append(output.option())  # `relman config -o json`


@config.command("set")
@click.argument("key", type=click.Choice(sorted(profiles.KEYS)))
@click.argument("value")
@click.pass_context
def set_value(ctx: click.Context, key: str, value: str) -> int:
    """Keep KEY = VALUE in the profile's table of config.toml.

    \b
    Example:
      relman --profile staging config set url https://releases-staging.example.com
    """
    profile = ctx.find_root().obj["profile"]
    kept: Any = value
    if key == "retry_seconds":
        kept = click.FloatRange(0).convert(value, None, ctx)  # type: ignore[arg-type]  # click converts text
    if key == "output":
        kept = click.Choice(output.FORMATS).convert(value, None, ctx)
    if key == "iap":
        kept = click.BOOL.convert(value, None, ctx)
    profiles.save(profile, key, kept)
    say(f"{key} = {kept!r} in profile {profile} ({profiles.path()}).")
    return OK


@config.command("unset")
@click.argument("key", type=click.Choice(sorted(profiles.KEYS)))
@click.pass_context
def unset_value(ctx: click.Context, key: str) -> int:
    """Remove KEY from the profile.

    \b
    Example:
      relman config unset retry_seconds
    """
    profile = ctx.find_root().obj["profile"]
    profiles.save(profile, key, None)
    say(f"{key} removed from profile {profile}.")
    return OK


def _shown(obj: dict[str, Any]) -> dict[str, Any]:
    from relman import logins

    sources = obj["sources"]
    settings = {
        name: {"value": "(hidden)" if name == "token" and obj.get(name) else obj.get(name), "source": sources[name]}
        for name in ("url", "token", "service_account", "audience", "retry_seconds", "iap")
    }
    settings["output"] = {"value": output.MODE["output"], "source": sources["output"]}
    signed_in = None
    if obj.get("url"):
        store = logins.store()
        kept = store.load(logins.key(obj["profile"], obj["url"]))
        if kept is not None:
            signed_in = {"email": kept.get("email"), "kept_in": store.where}
    return {
        "profile": {"value": obj["profile"], "source": sources["profile"]},
        "config_file": str(profiles.path()),
        "settings": settings,
        "signed_in": signed_in,
    }


def _render(shown: dict[str, Any]) -> str:
    rows = [{"setting": "profile", **shown["profile"]}]
    rows += [{"setting": name, **entry} for name, entry in shown["settings"].items()]
    who = shown["signed_in"]
    login = f"signed in as {who['email']} (kept in {who['kept_in']})" if who else "not signed in (relman login)"
    return (
        output.table(rows, ["setting", "value", "source"])
        + f"\n\nConfig file: {shown['config_file']}\nSession: {login}"
    )
