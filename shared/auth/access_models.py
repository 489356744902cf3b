"""The access review's query and answer (`GET /auth/access`), apart from its queries
(`shared.auth.access`), so that declaring the route loads no SQL."""

from __future__ import annotations

import uuid

from pydantic import Field

from shared.models import Out, Strict
from shared.names import SLUG_PATTERN


class AccessQuery(Strict):
    application: str = Field(pattern=SLUG_PATTERN)
    environment: str = Field(min_length=1, max_length=63)


class ViaOut(Out):
    role: str
    source: str = Field(description="`organisation` (the account's own role), `binding` or `team_binding`.")
    binding_id: uuid.UUID | None
    team: str | None = Field(description="The team whose binding it is (`team_binding`).")


class AccessEntryOut(Out):
    subject_type: str = Field(description="`user` or `service_account`.")
    subject_id: uuid.UUID
    name: str = Field(description="A person's email, a service account's name.")
    role: str = Field(description="The highest role they hold there.")
    may: list[str] = Field(description="What that role may do there: deploy, approve, override.")
    via: list[ViaOut] = Field(description="Every grant that reaches there, highest role first.")


class AccessOut(Out):
    application: str
    environment: str
    items: list[AccessEntryOut] = Field(description="Highest role first, then by name.")
