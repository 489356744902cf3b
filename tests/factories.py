"""Builders for test data: users with a role, their tokens, request headers."""

from __future__ import annotations

import uuid
from typing import Any

from shared.auth import service, tokens
from shared.clock import utcnow
from shared.db import unit_of_work
from shared.settings import get_settings

PASSWORD = "correct horse battery staple"


def make_user(role: str = "viewer", *, email: str | None = None, password: str = PASSWORD) -> dict[str, Any]:
    """A user with `role`, created the way the bootstrap command does."""
    with unit_of_work() as work:
        return service.register(
            work,
            email=email or f"{role}-{uuid.uuid4().hex[:8]}@example.com",
            password=password,
            display_name=role.replace("_", " ").title(),
            role=role,
            actor="system:test",
        )


def access_token(user: dict[str, Any], *, auth_version: int = 0) -> str:
    """A valid access token for `user`, as /auth/login would issue it."""
    token, _ = tokens.issue_access_token(
        get_settings(), user_id=user["id"], role=user["role"], auth_version=auth_version, now=utcnow()
    )
    return token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def as_role(role: str) -> tuple[dict[str, Any], dict[str, str]]:
    """A new user with `role` and the headers that authenticate as them."""
    user = make_user(role)
    return user, bearer(access_token(user))
