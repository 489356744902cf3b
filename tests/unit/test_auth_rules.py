"""The auth rules extracted from the services, without HTTP or a database."""

import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest

from shared.auth.accounts import change_action, loses_admin, user_changes
from shared.auth.exchange import check_request
from shared.auth.principal import Principal
from shared.auth.roles import Grant, grants_from
from shared.auth.schemas import ExchangeIn, UserPatch
from shared.errors import BadRequest
from shared.platform.namespaces import USERS_NAMESPACE

ADMIN = SimpleNamespace(role="admin", is_active=True, iap_link_pending=False, iap_subject=None)


def test_grants_are_the_org_role_and_each_binding_capped_at_a_tokens_role():
    bindings = [["admin", "shop", None], ["release_manager", None, ["production"]]]

    assert grants_from("viewer", bindings) == (
        Grant("viewer"),
        Grant("admin", "shop"),
        Grant("release_manager", None, ("production",)),
    )
    assert [g.role for g in grants_from("admin", bindings, cap="developer")] == ["developer"] * 3


def test_a_patch_changes_only_what_it_sent_with_a_value_that_differs():
    assert user_changes(ADMIN, UserPatch()) == {}
    assert user_changes(ADMIN, UserPatch(role=None, is_active=True)) == {}  # a null, or the same: nothing
    assert user_changes(ADMIN, UserPatch(role="viewer", iap_link=True)) == {"role": "viewer", "iap_link": True}
    assert user_changes(ADMIN, UserPatch(iap_link=False)) == {}  # not linked, and not pending


def test_an_admin_is_lost_by_a_demotion_or_a_deactivation_only():
    assert loses_admin({"role": "developer"}) and loses_admin({"is_active": False})
    assert not loses_admin({"iap_link": True}) and not loses_admin({"is_active": True})


def test_each_changed_field_has_its_audit_action():
    assert [change_action("role", "viewer"), change_action("is_active", False)] == [
        "user.role_changed",
        "user.deactivated",
    ]
    assert [change_action("iap_link", True), change_action("iap_link", False)] == [
        "user.iap_link_set",
        "user.iap_link_removed",
    ]


@pytest.mark.parametrize(
    ("field", "value", "code"),
    [
        ("grant_type", "password", "unsupported_grant_type"),
        ("subject_token_type", "urn:ietf:params:oauth:token-type:saml2", "invalid_request"),
        ("requested_token_type", "urn:ietf:params:oauth:token-type:refresh_token", "invalid_request"),
    ],
)
def test_only_a_token_exchange_of_an_id_token_for_an_access_token_is_asked_for(field, value, code):
    body = {
        "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange",
        "subject_token": "x",
        "subject_token_type": "urn:ietf:params:oauth:token-type:id_token",
    }
    check_request(ExchangeIn(**body))
    with pytest.raises(BadRequest) as refused:
        check_request(ExchangeIn(**body | {field: value}))
    assert refused.value.code == code


def test_the_callers_cached_account_is_kept_apart_per_credential_and_its_expiry():
    # `/auth/me` shows what the credential may do until when: two tokens of one account must never
    # share a cached answer (a service account's exchanged tokens have no id, only their expiry).
    account = uuid.uuid4()
    first = Principal(account, "ci@service-accounts", "viewer", credential="service_account",
                      token_expires_at=datetime(2026, 12, 8, 1, tzinfo=UTC))  # fmt: skip
    later = Principal(account, "ci@service-accounts", "viewer", credential="service_account",
                      token_expires_at=datetime(2026, 12, 8, 2, tzinfo=UTC))  # fmt: skip
    session = Principal(account, "ci@service-accounts", "viewer")
    token = Principal(account, "ci@service-accounts", "viewer", credential="api_token", token_id=uuid.uuid4())

    keys = {p.account_key for p in (first, later, session, token)}

    assert len(keys) == 4
    # Beside the callers' state, so every change the guard sees at once invalidates it too.
    assert {namespace for namespace, _ in keys} == {USERS_NAMESPACE}
