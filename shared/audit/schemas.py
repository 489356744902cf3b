"""What the audit endpoints answer."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import Field

from shared.models import Out


class AuditEventOut(Out):
    id: uuid.UUID
    occurred_at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    data: dict[str, Any]
    request_id: str | None
    hash: str


class CheckpointOut(Out):
    seq: int
    hash: str


class VerifyOut(Out):
    ok: bool
    checked: int = Field(description="Events read.")
    first_bad: uuid.UUID | None = Field(description="The first event found wrong, if one is.")
    problem: (
        Literal["link_broken", "hash_mismatch", "unkeyed_after_keyed", "checkpoint_mismatch", "events_removed"] | None
    ) = Field(description="What is wrong; null when `ok`.")
    detail: str | None = Field(description="The problem in a sentence.")
    unkeyed: int = Field(description="Events hashed with plain SHA-256 before the chain was keyed (they lead it).")
    checkpoints: int = Field(
        description="Checkpoints (seq, hash kept outside the database) read by this call and compared: those "
        "written since `anchor`, or every one when there is no anchor."
    )
    ignored_checkpoints: int = Field(
        description="Lines in the checkpoint sink whose MAC (HMAC with the audit key) does not verify: forged, "
        "torn or written before checkpoints carried a MAC. Ignored, so they cannot make verify fail."
    )
    anchor: CheckpointOut | None = Field(
        description="The newest checkpoint an earlier successful verify matched; checkpoints older than it were "
        "not read again (null: this call read every checkpoint)."
    )
    last_checkpoint: CheckpointOut | None = Field(description="The newest checkpoint (read now, or the anchor).")
