"""Waiting on a deployment: polls with backoff, shows progress, ends on a verdict or the timeout.

Progress: on a terminal, one live line rewritten in place; elsewhere (CI logs) a line at each change of
status and every 30 s, so a log shows the wait without drowning in it.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from typing import Any

from relman.errors import ENDED_BADLY, TIMED_OUT, RelmanError
from relman.output import printable

RUNNABLE = frozenset({"queued", "in_progress", "succeeded"})  # approved: the pipeline may run it
LANDED = frozenset({"succeeded"})
ENDED = frozenset({"failed", "rejected", "cancelled", "rolled_back", "expired"})
CI_LINE_EVERY = 30.0


class Ended(RelmanError):
    exit_code = ENDED_BADLY


class TimedOut(RelmanError):
    exit_code = TIMED_OUT


def describe(deployment: dict[str, Any]) -> str:
    return f"{deployment.get('application')} {deployment.get('version')} → {deployment.get('environment')}"


def wait(
    fetch: Callable[[], dict[str, Any]],
    first: dict[str, Any],
    *,
    until: frozenset[str],
    timeout: float | None,
) -> dict[str, Any]:
    """Poll `fetch` until the status is in `until` (return it), the deployment ends (Ended) or time is up (TimedOut)."""
    started = time.monotonic()
    cap = float(os.environ.get("RELMAN_POLL_MAX_SECONDS", "10"))
    pause = min(1.0, cap)
    progress = Progress(describe(first))
    deployment = first
    try:
        while True:
            status = str(deployment.get("status"))
            elapsed = time.monotonic() - started
            progress.show(status, elapsed, _why(deployment))
            if status in until:
                return deployment
            if status in ENDED:
                raise Ended(_ended(deployment), document=deployment)
            if timeout is not None and elapsed >= timeout:
                raise TimedOut(
                    f"timed out after {timeout:g} s: {describe(deployment)} is still {status} "
                    f"(deployment {deployment.get('release_id')}/{deployment.get('id')})",
                    document=deployment,
                )
            sleep = pause if timeout is None else max(0.0, min(pause, timeout - elapsed))
            time.sleep(sleep)
            pause = min(cap, pause * 1.6)
            deployment = fetch()
    finally:
        progress.close()


def _why(deployment: dict[str, Any]) -> str:
    if deployment.get("status") == "pending_approval":
        given = len(deployment.get("approvals") or [])
        return f"waiting for approval ({given} given)"
    return ""


def _ended(deployment: dict[str, Any]) -> str:
    text = f"{describe(deployment)} ended {deployment.get('status')}"
    decisions = [a for a in deployment.get("approvals") or [] if a.get("decision") == "reject"]
    if decisions:
        first = decisions[0]
        text += f": rejected by {first.get('user_name') or first.get('user_id') or 'an approver'}"
        if first.get("comment"):
            text += f" ({first['comment']})"
    elif deployment.get("message"):
        text += f": {deployment['message']}"
    return text


class Progress:
    def __init__(self, subject: str) -> None:
        self.subject = subject
        self.live = sys.stderr.isatty() and not os.environ.get("CI")
        self.last_status: str | None = None
        self.last_line = -CI_LINE_EVERY
        self.drawn = False

    def show(self, status: str, elapsed: float, why: str) -> None:
        line = printable(f"{self.subject}: {status}" + (f", {why}" if why else "") + f" [{_clock(elapsed)}]")
        if self.live:
            sys.stderr.write("\r\x1b[K" + line)
            sys.stderr.flush()
            self.drawn = True
        elif status != self.last_status or elapsed - self.last_line >= CI_LINE_EVERY:
            print(line, file=sys.stderr, flush=True)
            self.last_line = elapsed
        self.last_status = status

    def close(self) -> None:
        if self.drawn:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _clock(seconds: float) -> str:
    minutes, rest = divmod(int(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"
