"""Errors that services raise. Each kind maps to one HTTP status in `shared.web.problems`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    """One problem with one input field (or with one gate, for `code`-style lists)."""

    field: str | None
    message: str
    code: str | None = None
    # What a gate names (`deployment_id`, `release_id` for `deployment_in_progress`), as pairs.
    refers: tuple[tuple[str, str], ...] = ()

    def as_dict(self) -> dict[str, str]:
        item = {"message": self.message}
        if self.field is not None:
            item["field"] = self.field
        if self.code is not None:
            item["code"] = self.code
        item.update(self.refers)
        return item


class DomainError(Exception):
    """Base of every expected failure: a stable `code`, a human `detail`, optional item errors."""

    code = "error"
    title = "Request failed"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        errors: Sequence[FieldError] = (),
        retry_after: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.errors = list(errors)
        self.retry_after = retry_after


class BadRequest(DomainError):
    code, title = "bad_request", "Malformed request"


class Unauthorized(DomainError):
    code, title = "unauthorized", "Authentication required"


class Forbidden(DomainError):
    code, title = "forbidden", "Not allowed"


class NotFound(DomainError):
    code, title = "not_found", "Not found"


class Conflict(DomainError):
    code, title = "conflict", "Conflicts with the current state"


class PreconditionFailed(DomainError):
    code, title = "precondition_failed", "Precondition failed"


class Invalid(DomainError):
    code, title = "validation_failed", "Invalid fields"


class TooManyRequests(DomainError):
    code, title = "rate_limited", "Too many requests"


class Unavailable(DomainError):
    code, title = "service_unavailable", "A dependency is unavailable"
