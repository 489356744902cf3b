"""Each role includes the ones before it."""

import pytest

from shared.auth.roles import ORDER, at_least, lower_of


@pytest.mark.parametrize("role", ORDER)
def test_every_role_includes_viewer(role):
    assert at_least(role, "viewer")


def test_a_developer_is_not_a_release_manager():
    assert not at_least("developer", "release_manager")
    assert at_least("admin", "release_manager")


def test_a_token_never_exceeds_its_owner():
    assert lower_of("admin", "developer") == "developer"
    assert lower_of("viewer", "admin") == "viewer"
