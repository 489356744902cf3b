"""Which role a caller holds for an action on an application in an environment."""

import pytest

from shared.auth.roles import Grant, highest, role_on

ORG_VIEWER = Grant("viewer")
DEV_ON_CHECKOUT = Grant("developer", application="checkout")
RM_ON_CHECKOUT_PROD = Grant("release_manager", application="checkout", environments=("production",))
ADMIN_IN_STAGING = Grant("admin", environments=("staging",))


@pytest.mark.parametrize(
    ("application", "environment", "expected"),
    [
        ("checkout", "dev", "developer"),  # the application binding applies in every environment
        ("checkout", "production", "release_manager"),  # the highest covering grant wins
        ("payments", "production", "viewer"),  # another team's application: only the org-wide role
        ("payments", "staging", "admin"),  # an environment binding on every application
        ("checkout", None, "developer"),  # an action with no environment: env-limited grants don't reach it
        (None, None, "viewer"),  # an org-wide action: application bindings don't reach it
    ],
)
def test_the_highest_grant_that_covers_the_action_is_the_callers_role(application, environment, expected):
    grants = [ORG_VIEWER, DEV_ON_CHECKOUT, RM_ON_CHECKOUT_PROD, ADMIN_IN_STAGING]
    assert role_on(grants, application=application, environment=environment) == expected


def test_an_environment_binding_does_not_leak_to_other_environments():
    assert role_on([RM_ON_CHECKOUT_PROD], application="checkout", environment="staging") is None


def test_no_grant_means_no_role_and_the_coarse_check_sees_the_highest_anywhere():
    assert role_on([], application="checkout", environment="dev") is None
    assert highest([ORG_VIEWER, RM_ON_CHECKOUT_PROD]) == "release_manager"
    assert highest([]) is None
