"""The console in a real browser: Debian's Chromium driven by Playwright (`executable_path`, no
browser download) against a `make dev`-style server, as the people who use it. Each screen is also
checked by axe-core (no serious or critical violation) and written as a screenshot under
`.artifacts/console/`.

Skipped, saying why, only where Chromium, Playwright or axe-core is missing: `.ci/run` installs
Chromium and `make test` installs axe-core, so CI runs these."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.factories import PASSWORD, access_token, bearer, make_user
from tests.servers import ROOT, DevServer, call

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
AXE = ROOT / ".tools" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
SHOTS = ROOT / ".artifacts" / "console"

if CHROMIUM is None:
    pytest.skip(
        "no chromium here: `apt-get install chromium` (.ci/run does) to run the browser tests", allow_module_level=True
    )
if not AXE.exists():
    pytest.skip("no axe-core under .tools/axe: `make test` installs it (needs node and npm)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in requirements-dev.txt")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


class Person:
    """One person's browser: a context of its own (its own cookies), signed in through the form."""

    def __init__(self, chromium: Any, server: DevServer, user: dict[str, Any]) -> None:
        self.context = chromium.new_context(base_url=server.base)
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []  # the console's errors: a CSP violation, a script failing
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        sign_in(self.page, user)

    def close(self) -> None:
        self.context.close()


def sign_in(page: Any, user: dict[str, Any]) -> None:
    """Through the login form, as a person does; back on the matrix after."""
    page.goto("/console/")
    page.fill("#email", user["email"])
    page.fill("#password", PASSWORD)
    page.click("form.login button")
    page.wait_for_url("**/console/")


def api(server: DevServer, method: str, path: str, headers: dict[str, str], body: Any = None) -> Any:
    status, _, answer = call(server.base, method, path, body, headers)
    assert status < 300, (method, path, status, answer)
    return answer


def shipped_and_waiting(server: DevServer) -> dict[str, Any]:
    """checkout 1.0.0 live in staging and 1.0.0 requested for production by its author."""
    author = make_user("release_manager")
    headers = bearer(access_token(author))
    notes = "Faster payment page.\n\n<script>alert('notes')</script> [x](javascript:alert('link'))"
    release = api(server, "POST", "/releases", headers,
                  {"application": "checkout", "version": "1.0.0", "title": "Faster payments", "status": "ready",
                   "notes": notes})  # fmt: skip
    for environment in ("dev", "staging"):
        made = api(server, "POST", f"/releases/{release['id']}/deployments", headers, {"environment": environment})
        for status in ("in_progress", "succeeded"):
            api(server, "PATCH", f"/releases/{release['id']}/deployments/{made['id']}", headers, {"status": status})
    waiting = api(server, "POST", f"/releases/{release['id']}/deployments", headers, {"environment": "production"})
    return {"release": release, "deployment": waiting, "author": author, "headers": headers}


def axe_violations(chromium: Any, server: DevServer, user: dict[str, Any], path: str) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on a page. axe is injected as a script, which the
    console's own policy forbids, so this one context bypasses the CSP (nothing else does)."""
    context = chromium.new_context(base_url=server.base, bypass_csp=True)
    try:
        page = context.new_page()
        sign_in(page, user)
        page.goto(path)
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("async () => (await axe.run(document)).violations")
        return [v for v in result if v["impact"] in ("serious", "critical")]
    finally:
        context.close()


def shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_people_use_the_console_as_the_api_allows_and_every_screen_passes_axe(chromium, dev_server, clean_state):
    server = dev_server
    case = shipped_and_waiting(server)
    team_a = make_user("release_manager")
    viewer = make_user("viewer")
    manager = api(server, "POST", "/releases/freezes", bearer(access_token(make_user("release_manager"))),
                  {"environment": "dev", "reason": "Office move", "starts_at": "2026-01-01T00:00:00Z",
                   "ends_at": "2099-01-01T00:00:00Z"})  # fmt: skip
    assert manager["reason"] == "Office move"

    # The matrix shows what the API says is live, the waiting attempt, and the freeze's banner.
    approver = Person(chromium, server, team_a)
    overview = api(server, "GET", "/releases/overview?application=checkout", case["headers"])
    staging = approver.page.locator('td[data-environment="staging"][data-application="checkout"]')
    production = approver.page.locator('td[data-environment="production"][data-application="checkout"]')
    assert overview["environments"]["staging"]["live"]["version"] in staging.inner_text()
    assert "pending approval" in production.inner_text()
    assert "frozen: Office move" in approver.page.locator("thead").inner_text()
    shoot(approver.page, "matrix")
    # htmx refreshes the table in place (what its 30-second trigger does), under the strict CSP.
    approver.page.evaluate("() => htmx.trigger('#matrix', 'refresh')")
    approver.page.evaluate(
        "() => htmx.ajax('GET', location.pathname, {target: '#matrix', select: '#matrix', swap: 'outerHTML'})"
    )
    approver.page.wait_for_load_state("networkidle")
    assert overview["environments"]["staging"]["live"]["version"] in staging.inner_text()

    # The requester sees why they may not decide; a viewer sees no action.
    author = Person(chromium, server, case["author"])
    author.page.goto("/console/approvals")
    assert author.page.locator('button[value="approve"]').is_disabled()
    assert "self_approval" in author.page.locator(".why").inner_text()
    shoot(author.page, "approvals-own-request")
    onlooker = Person(chromium, server, viewer)
    onlooker.page.goto("/console/approvals")
    assert onlooker.page.locator('button[value="approve"]').is_disabled()
    assert onlooker.page.locator("button:enabled", has_text="Approve").count() == 0

    # The release page renders its notes inert: no script runs, no javascript: link.
    onlooker.page.goto(f"/console/releases/{case['release']['id']}")
    assert "Faster payment page." in onlooker.page.locator(".notes").inner_text()
    assert onlooker.page.locator('.notes a[href^="javascript:"]').count() == 0
    assert onlooker.dialogs == []
    shoot(onlooker.page, "release")

    # Approving from the inbox queues the deployment; htmx sends the form in place and the decided
    # request replaces it. A second manager's page, opened before, shows the refusal in its form.
    late = Person(chromium, server, make_user("release_manager"))
    late.page.goto("/console/approvals")
    approver.page.goto("/console/approvals")
    shoot(approver.page, "approvals")
    request = f"#request-{case['deployment']['id']}"
    approver.page.fill(f"#comment-{case['deployment']['id']}", "CHG-7")
    approver.page.click('button[value="approve"]')
    approver.page.locator(f"{request} .notice").wait_for()
    assert "the deployment is queued now" in approver.page.locator(request).inner_text()
    assert approver.page.url.endswith("/console/approvals")  # in place: no reload
    shown = api(
        server, "GET", f"/releases/{case['release']['id']}/deployments/{case['deployment']['id']}", case["headers"]
    )
    assert shown["status"] == "queued" and shown["approvals"][0]["comment"] == "CHG-7"
    late.page.click('button[value="approve"]')
    late.page.locator(f"{request} .outcome .problem").wait_for()
    assert "not_pending_approval" in late.page.locator(f"{request} .outcome").inner_text()
    late.errors = [e for e in late.errors if "409" not in e]  # the browser logs the refused request

    # A POST without the session's CSRF token, from the signed-in browser itself, is refused.
    forged = approver.page.request.post(
        f"/console/approvals/{case['release']['id']}/{case['deployment']['id']}", form={"decision": "reject"}
    )
    assert forged.status == 403 and "csrf_token_invalid" in forged.text()

    for person in (approver, author, onlooker, late):
        assert person.dialogs == [] and person.errors == []
        person.close()

    screens = {
        "application": "/console/applications/checkout",
        "deployment": f"/console/deployments/{case['release']['id']}/{case['deployment']['id']}",
        "metrics": "/console/metrics?environment=staging",
        "timeline": "/console/timeline?environment=production",
    }
    viewer_again = Person(chromium, server, viewer)
    for name, path in screens.items():
        viewer_again.page.goto(path)
        shoot(viewer_again.page, name)
    viewer_again.close()
    for path in ("/console/", "/console/approvals", f"/console/releases/{case['release']['id']}", *screens.values()):
        assert axe_violations(chromium, server, team_a, path) == [], path
    login = chromium.new_context(base_url=server.base, bypass_csp=True)
    page = login.new_page()
    page.goto("/console/login")
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document)).violations")
    login.close()
    assert [json.dumps(v["id"]) for v in found if v["impact"] in ("serious", "critical")] == []
