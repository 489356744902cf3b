"""Promotion-path rules as plain functions over plain data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.errors import FieldError, Invalid


@dataclass(frozen=True)
class Stage:
    """One stage of a promotion path."""

    environment: str
    required_approvals: int = 0
    soak_minutes: int = 0
    approver_team: str | None = None


def locate(path: Sequence[Stage], environment: str, *, application: str) -> tuple[Stage, Stage | None]:
    """The stage for `environment` on the path and the one before it (None for the first); 422
    `environment_not_on_path` when the application's path does not go there."""
    for index, stage in enumerate(path):
        if stage.environment == environment:
            return stage, path[index - 1] if index > 0 else None
    stages = " → ".join(s.environment for s in path) or "no stages"
    raise Invalid(
        f"{environment!r} is not on {application}'s promotion path ({stages}).",
        code="environment_not_on_path",
        errors=[FieldError("environment", "not on the application's promotion path")],
    )


def check_path(environments: Sequence[str]) -> None:
    """A path visits each environment once (422 naming the repeated stage)."""
    seen: set[str] = set()
    for index, name in enumerate(environments):
        if name in seen:
            raise Invalid(
                f"{name!r} appears twice on the path.",
                errors=[FieldError(f"path.{index}.environment", "appears earlier on the path")],
            )
        seen.add(name)
