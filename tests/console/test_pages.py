"""The console function over HTTP, as a browser without JavaScript uses it: signing in, the matrix,
the approvals inbox and its decisions, a release page; sessions, CSRF and the security headers.
(The same pages in a real browser, with htmx and axe-core, are in test_browser.py.)"""

from __future__ import annotations

import base64
import hashlib
import re
from html.parser import HTMLParser

import pytest

from shared.console import assets
from shared.console.app import HERE
from tests.factories import (
    PASSWORD,
    access_token,
    bearer,
    deploy,
    deployment_of,
    freeze_now,
    make_user,
    ready_release,
    ship,
)

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def sign_in(console, user) -> None:
    answer = console.post("/console/login", data={"email": user["email"], "password": PASSWORD, "next": "/console/"})
    assert answer.status_code == 302, answer.get_data(as_text=True)


def csrf_of(console, path="/console/approvals") -> str:
    return CSRF.search(console.get(path).get_data(as_text=True)).group(1)


@pytest.fixture
def waiting(releases):
    """checkout 1.0.0 live in staging and requested for production by its author: waiting for approval."""
    author = make_user("release_manager")
    headers = bearer(access_token(author))
    release = ready_release(releases, headers, application="checkout", notes="Faster **payment** page.\n\nMore.")
    ship(releases, headers, release["id"], "dev")
    ship(releases, headers, release["id"], "staging")
    deployment = deploy(releases, headers, release["id"], "production").get_json()
    return {"release": release, "deployment": deployment, "author": author, "headers": headers}


def test_a_page_sends_whoever_is_not_signed_in_to_the_login_form_and_back(console):
    answer = console.get("/console/approvals")

    assert answer.status_code == 302
    assert answer.headers["Location"].endswith("/console/login?next=/console/approvals")


def test_a_wrong_password_says_so_and_sets_no_cookie(console):
    user = make_user("viewer")

    answer = console.post("/console/login", data={"email": user["email"], "password": "not it"})

    assert answer.status_code == 401
    assert "The email or password is wrong." in answer.get_data(as_text=True)
    assert "Set-Cookie" not in answer.headers


def test_the_session_cookie_is_httponly_and_strict_and_logout_ends_the_session(console):
    user = make_user("viewer")
    answer = console.post("/console/login", data={"email": user["email"], "password": PASSWORD})
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert console.get("/console/").status_code == 200
    stolen = console.get_cookie("rm_console").value

    out = console.post("/console/logout", data={"csrf": csrf_of(console, "/console/")})

    assert out.status_code == 302
    console.set_cookie("rm_console", stolen)  # the old cookie, kept by someone: the session is over
    assert console.get("/console/").status_code == 302


def test_a_sign_in_or_a_form_posted_from_another_site_is_refused(console, waiting):
    user = make_user("release_manager")

    elsewhere = console.post(
        "/console/login",
        data={"email": user["email"], "password": PASSWORD},
        headers={"Origin": "https://evil.example"},
    )
    here = console.post(
        "/console/login", data={"email": user["email"], "password": PASSWORD}, headers={"Origin": "http://localhost"}
    )

    sandboxed = console.post(
        "/console/login", data={"email": user["email"], "password": PASSWORD}, headers={"Origin": "null"}
    )

    assert elsewhere.status_code == 403 and "Set-Cookie" not in elsewhere.headers
    assert sandboxed.status_code == 403
    assert here.status_code == 302


def test_every_page_carries_a_strict_content_security_policy(console):
    sign_in(console, make_user("viewer"))

    answer = console.get("/console/")

    policy = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert "<script>" not in answer.get_data(as_text=True)  # no inline script: only <script src=...>


def test_the_matrix_shows_what_the_api_says_is_live_and_the_waiting_attempt(console, releases, waiting):
    sign_in(console, make_user("viewer"))
    overview = releases.get("/releases/overview?application=checkout", headers=waiting["headers"]).get_json()

    page = console.get("/console/").get_data(as_text=True)

    staging = re.search(r'data-environment="staging" data-application="checkout">(.*?)</td>', page, re.S).group(1)
    production = re.search(r'data-environment="production" data-application="checkout">(.*?)</td>', page, re.S).group(1)
    assert overview["environments"]["staging"]["live"]["version"] in staging
    assert "nothing live" in production and "pending approval" in production


def test_a_frozen_environment_shows_its_banner_on_its_column(console, releases):
    freeze_now(releases, bearer(access_token(make_user("release_manager"))), environment="production")
    sign_in(console, make_user("viewer"))

    page = console.get("/console/").get_data(as_text=True)

    assert "frozen: Launch day" in page


def test_approving_from_the_inbox_queues_the_deployment(console, releases, waiting):
    sign_in(console, make_user("release_manager"))

    answer = console.post(
        f"/console/approvals/{waiting['release']['id']}/{waiting['deployment']['id']}",
        data={"csrf": csrf_of(console), "decision": "approve", "comment": "CHG-1"},
    )

    assert answer.status_code == 303
    shown = deployment_of(releases, waiting["headers"], waiting["release"]["id"], waiting["deployment"]["id"])
    assert shown["status"] == "queued" and shown["approvals"][0]["comment"] == "CHG-1"


def test_a_decision_sent_with_htmx_answers_the_decided_request_and_a_refusal_in_place(console, releases, waiting):
    sign_in(console, make_user("release_manager"))
    path = f"/console/approvals/{waiting['release']['id']}/{waiting['deployment']['id']}"
    token = csrf_of(console)
    htmx = {"HX-Request": "true"}

    decided = console.post(path, data={"csrf": token, "decision": "approve"}, headers=htmx)
    again = console.post(path, data={"csrf": token, "decision": "approve"}, headers=htmx)

    # The decided request replaces its article; the second decision's refusal is a fragment for the
    # form's outcome (no page around it), with the API's status and code.
    assert decided.status_code == 200
    assert decided.headers["HX-Retarget"] == f"#request-{waiting['deployment']['id']}"
    assert "the deployment is queued now" in decided.get_data(as_text=True)
    assert again.status_code == 409
    body = again.get_data(as_text=True)
    assert "<html" not in body and "<code>not_pending_approval</code>" in body
    shown = deployment_of(releases, waiting["headers"], waiting["release"]["id"], waiting["deployment"]["id"])
    assert shown["status"] == "queued" and len(shown["approvals"]) == 1


def test_the_requester_sees_why_they_cannot_decide_and_a_viewer_sees_no_action(console, waiting):
    sign_in(console, waiting["author"])
    own = console.get("/console/approvals").get_data(as_text=True)
    console.post("/console/logout", data={"csrf": csrf_of(console)})
    sign_in(console, make_user("viewer"))
    viewer = console.get("/console/approvals").get_data(as_text=True)

    assert "self_approval" in own and 'value="approve" disabled' in own
    assert "insufficient_role" in viewer and 'value="approve" disabled' in viewer
    assert "Faster **payment** page." in own  # the notes' first paragraph, as text


def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(console, releases, waiting):
    sign_in(console, make_user("release_manager"))
    path = f"/console/approvals/{waiting['release']['id']}/{waiting['deployment']['id']}"

    missing = console.post(path, data={"decision": "approve"})
    forged = console.post(path, data={"decision": "approve", "csrf": "0" * 64})

    assert missing.status_code == 403 and forged.status_code == 403
    shown = deployment_of(releases, waiting["headers"], waiting["release"]["id"], waiting["deployment"]["id"])
    assert shown["status"] == "pending_approval" and shown["approvals"] == []


def test_release_notes_with_script_and_javascript_links_render_inert(console, releases):
    headers = bearer(access_token(make_user("developer")))
    notes = '# Hi\n\n<script>alert(1)</script>\n\n[click](javascript:alert(2)) <img src=x onerror="alert(3)">'
    release = ready_release(releases, headers, application="shop", notes=notes)
    sign_in(console, make_user("viewer"))

    page = console.get(f"/console/releases/{release['id']}").get_data(as_text=True)

    tags = Tags()
    tags.feed(page)
    assert "<h1>Hi</h1>" in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown as text
    scripts = [dict(attrs).get("src") for tag, attrs in tags.seen if tag == "script"]
    assert scripts == [f"/console/assets/{assets.HTMX['file']}", "/console/assets/console.js"]  # ours only
    assert not [
        a for _, attrs in tags.seen for a, v in attrs if a.startswith("on") or (v or "").startswith("javascript:")
    ]
    assert not [tag for tag, _ in tags.seen if tag in ("img", "iframe", "object")]


class Tags(HTMLParser):
    """Every element of a page with its attributes, as a browser would parse them."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append((tag, attrs))


def test_assets_are_served_without_the_database(console, monkeypatch):
    from shared.console import app as console_app

    def no_database(*args, **kwargs):
        raise AssertionError("an asset opened a unit of work")

    monkeypatch.setattr(console_app, "unit_of_work", no_database)
    css = console.get("/console/assets/console.css")

    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    assert css.headers["X-Content-Type-Options"] == "nosniff"


def test_the_vendored_htmx_matches_its_integrity_hash():
    body = (HERE / "static" / assets.HTMX["file"]).read_bytes()

    digest = base64.b64encode(hashlib.sha384(body).digest()).decode()

    assert assets.HTMX["integrity"] == f"sha384-{digest}"
