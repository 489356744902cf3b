"""What changes between two releases, as plain rules: the compare link a repository's host offers."""

from __future__ import annotations

import pytest

from shared.releases.changes import compare_link


@pytest.mark.parametrize(
    ("repository", "link"),
    [
        ("github.com/acme/checkout", "https://github.com/acme/checkout/compare/a1...b2"),
        ("https://github.com/acme/checkout.git", "https://github.com/acme/checkout/compare/a1...b2"),
        ("https://gitlab.com/acme/shop/checkout", "https://gitlab.com/acme/shop/checkout/-/compare/a1...b2"),
        ("bitbucket.org/acme/checkout", "https://bitbucket.org/acme/checkout/branches/compare/b2..a1"),
        ("source.developers.google.com/p/acme/r/checkout", None),
        ("not a url", None),
    ],
)
def test_the_compare_link_follows_the_hosts_own_form(repository, link):
    assert compare_link(repository, "a1", "b2") == link


def test_no_link_without_both_commits():
    assert compare_link("github.com/acme/checkout", None, "b2") is None
