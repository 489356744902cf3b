"""The console's release page: what a release changes where, and its timeline (shared/console/release_page.py)."""

from __future__ import annotations

from tests.console.test_pages import sign_in
from tests.factories import access_token, bearer, make_user, ready_release, ship


def source(sha: str) -> dict[str, str]:
    return {"repository": "github.com/acme/shop", "commit_sha": sha}


def test_a_release_says_what_it_brings_where_with_the_commit_range(console, releases):
    headers = bearer(access_token(make_user("developer")))
    first = ready_release(releases, headers, application="shop", version="1.0.0", source=source("a" * 40))
    ship(releases, headers, first["id"], "dev")
    ready_release(releases, headers, application="shop", version="1.1.0", title="Basket", source=source("b" * 40))
    newest = ready_release(
        releases, headers, application="shop", version="1.2.0", title="Search", source=source("c" * 40)
    )
    sign_in(console, make_user("viewer"))

    page = console.get(f"/console/releases/{newest['id']}").get_data(as_text=True)
    older = console.get(f"/console/releases/{first['id']}").get_data(as_text=True)

    dev = page[page.index("<strong>dev</strong>") : page.index("<strong>staging</strong>")]
    assert "from 1.0.0, it brings" in " ".join(dev.split())
    assert dev.index(">1.2.0</a> (Search)") < dev.index(">1.1.0</a> (Basket)")
    assert "https://github.com/acme/shop/compare/" + "a" * 40 + "..." + "c" * 40 in dev
    assert "nothing live yet" in page  # staging and production
    assert "live there." in older and "release.created" in older  # its timeline
    assert "<title>shop 1.2.0 · Release Manager</title>" in page
