"""Exit codes (API.md, "Command-line client") and the errors that end a command with one of them."""

from __future__ import annotations

from typing import Any

OK, USAGE, AUTH, BLOCKED, ENDED_BADLY, TIMED_OUT, UNAVAILABLE = 0, 1, 2, 3, 4, 5, 6

GATES = frozenset(
    {
        "release_not_ready",
        "promotion_required",
        "soak_time_pending",
        "older_than_live",
        "below_environment_policy",
        "outside_deploy_window",
        "environment_frozen",
        "environment_locked",
        "deployment_in_progress",
    }
)
"""Problem codes of a deployment gate: a 409 carrying one is "blocked by a gate" (exit 3)."""


def problem(code: str, title: str, detail: str, status: int | None = None) -> dict[str, Any]:
    """A problem document (RFC 9457) for an error the client itself found: same shape as the server's."""
    document: dict[str, Any] = {"type": f"urn:relman:problem:{code}", "title": title, "detail": detail, "code": code}
    if status is not None:
        document["status"] = status
    document["errors"] = []
    return document


class RelmanError(Exception):
    """Ends the command: `message` on stderr, `document` on stdout with `--output json`, then `exit_code`."""

    exit_code = USAGE

    def __init__(self, message: str, *, document: dict[str, Any] | None = None, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.document = document if document is not None else problem("invalid_input", "Invalid input", message)
        if exit_code is not None:
            self.exit_code = exit_code


class ApiError(RelmanError):
    """The service answered a problem."""

    def __init__(self, status: int, document: dict[str, Any]) -> None:
        self.status = status
        self.code = str(document.get("code") or "")
        detail = document.get("detail") or document.get("title") or f"HTTP {status}"
        super().__init__(
            f"{detail} ({status} {self.code or 'error'})", document=document, exit_code=exit_for(status, self.code)
        )

    @property
    def gates(self) -> list[dict[str, str]]:
        """Every blocking gate as `{code, detail}` (the problem's `errors`, else its own code)."""
        listed = [e for e in self.document.get("errors") or [] if isinstance(e, dict) and e.get("code") in GATES]
        if listed:
            return [{"code": str(e["code"]), "detail": str(e.get("message") or e.get("detail") or "")} for e in listed]
        return [{"code": self.code, "detail": str(self.document.get("detail") or "")}] if self.code in GATES else []


def exit_for(status: int, code: str) -> int:
    if status in (401, 403):
        return AUTH
    if status == 409 and code in GATES:
        return BLOCKED
    if status == 429 or status >= 500:
        return UNAVAILABLE
    return USAGE


class Unreachable(RelmanError):
    exit_code = UNAVAILABLE

    def __init__(self, message: str) -> None:
        super().__init__(message, document=problem("service_unreachable", "Service unreachable", message))


class NotSignedIn(RelmanError):
    exit_code = AUTH

    def __init__(self, message: str) -> None:
        super().__init__(message, document=problem("not_signed_in", "Not signed in", message, 401))
