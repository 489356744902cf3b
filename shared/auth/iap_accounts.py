"""People behind Identity-Aware Proxy: attaching an IAP identity seen for the first time to its
account (or provisioning one), the service the guard calls when no account has the identity yet."""

from __future__ import annotations

import sqlalchemy as sa

from shared.audit import service as audit
from shared.auth.accounts import NewAccount, create_account
from shared.auth.tables import users
from shared.errors import Conflict, Unauthorized
from shared.platform.namespaces import USERS_NAMESPACE
from shared.platform.work import UnitOfWork, unit_of_work


def attach_on_first_sight(*, email: str, subject: str, provision: bool) -> bool:
    """Attach an IAP identity no account has yet, in a unit of work of its own; whether one has it now."""
    with unit_of_work() as work:
        return attach_iap_identity(work, email=email, subject=subject, provision=provision)


def attach_iap_identity(work: UnitOfWork, *, email: str, subject: str, provision: bool) -> bool:
    """Attach an IAP identity seen for the first time to its account; whether there is one now.

    An email is proven before an identity attaches: IAP provisions an account of its own (no password)
    when `provision` is on, and attaches to an existing account only when an admin linked it
    (`iap_link_pending`). Anyone can register a colleague's email with a password before her first
    IAP request; that account stays theirs, never hers (401 `iap_identity_not_linked`)."""
    email = email.strip().lower()
    row = work.conn.execute(
        sa.select(users.c.id, users.c.iap_subject, users.c.iap_link_pending)
        .where(users.c.email == email)
        .with_for_update()
    ).first()
    if row is None:
        if not provision:
            return False
        try:
            with work.conn.begin_nested():
                create_account(
                    work,
                    NewAccount(
                        email=email,
                        password=None,
                        display_name=email.split("@", 1)[0][:100] or email[:100],
                        iap_subject=subject,
                        created_by="system:iap",
                    ),
                )
        except Conflict:  # another request provisioned them first
            pass
        work.invalidate(USERS_NAMESPACE)
        return True
    if row.iap_subject == subject:
        return True
    if not row.iap_link_pending:
        raise Unauthorized(
            "An account with this email exists, but it is not linked to this Identity-Aware Proxy identity; "
            "an admin links it (PATCH /auth/users/{id} with iap_link: true).",
            code="iap_identity_not_linked",
        )
    work.conn.execute(
        sa.update(users)
        .where(users.c.id == row.id)
        .values(iap_subject=subject, iap_link_pending=False, updated_at=work.now)
    )
    audit.record(
        work,
        actor="system:iap",
        action="user.iap_linked",
        entity_type="user",
        entity_id=row.id,
        data={"email": email, "iap_subject": subject},
    )
    work.invalidate(USERS_NAMESPACE)
    return True
