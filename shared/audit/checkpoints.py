"""Checkpoints: the audit log's head, (seq, hash), written outside the database to an append-only sink.

A database superuser can delete the newest events, or rewrite events and re-hash the chain after
them; neither shows inside the table. A checkpoint written after every commit that appended events
records how far the chain reached and what its hash was there, somewhere the database's owner
cannot edit, and `verify` compares the table against every checkpoint it can read.

Two sinks, chosen by AUDIT_CHECKPOINTS:
- `file:PATH`: one JSON line per checkpoint, appended (development, tests, a single host);
- `logging:projects/P/locations/L/buckets/B/views/V`: the checkpoint is one structured line on
  stdout, which Cloud Run hands to Cloud Logging; a log sink routes these lines into a log bucket
  whose retention is locked, so no one can delete or edit them before it expires (terraform/audit.tf).
  Writing costs no network call and no permission; `verify` reads them back through the view.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from shared.errors import Unavailable
from shared.settings import Settings

log = logging.getLogger(__name__)

# The line's `message`: the log sink's filter and the reader's filter both match on it.
CHECKPOINT_MESSAGE = "audit checkpoint"
# The timestamp bound is explicit: without one the client reads only the last 24 hours.
CHECKPOINT_FILTER = f'jsonPayload.message="{CHECKPOINT_MESSAGE}" AND timestamp>="1970-01-01T00:00:00Z"'
LOGGING_PAGE_SIZE = 1000


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str


class CheckpointSink(Protocol):
    def write(self, checkpoint: Checkpoint) -> None: ...

    def read(self) -> Iterator[Checkpoint]: ...


def _parse(fields: Any) -> Checkpoint | None:
    """A checkpoint from a decoded line or log payload; None for anything else."""
    try:
        seq, digest = int(fields["seq"]), str(fields["hash"])
    except (KeyError, TypeError, ValueError):
        return None
    return Checkpoint(seq, digest) if seq > 0 and len(digest) == 64 else None


class FileSink:
    """JSON lines appended to a file (O_APPEND, one write per line, so processes don't interleave)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, checkpoint: Checkpoint) -> None:
        line = json.dumps({"seq": checkpoint.seq, "hash": checkpoint.hash}, separators=(",", ":")) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = "\n" + line  # after a line torn by a crash, start afresh
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def read(self) -> Iterator[Checkpoint]:
        try:
            lines = self.path.read_text().splitlines()
        except FileNotFoundError:
            return
        for line in lines:
            try:
                found = _parse(json.loads(line))
            except json.JSONDecodeError:
                found = None  # a line torn by a crash mid-write anchors nothing
            if found is not None:
                yield found


class CloudLoggingSink:
    """Writes a structured line to stdout; reads the lines back from a locked log bucket's view."""

    def __init__(self, view: str, *, endpoint: str | None = None, client: Any = None) -> None:
        self.view = view
        self.endpoint = endpoint
        self._client = client

    def write(self, checkpoint: Checkpoint) -> None:
        # Straight to stdout, not through `logging`: LOG_LEVEL must never silence a checkpoint.
        entry = {
            "severity": "NOTICE",
            "message": CHECKPOINT_MESSAGE,
            "audit_checkpoint": {"seq": str(checkpoint.seq), "hash": checkpoint.hash},
        }
        sys.stdout.write(json.dumps(entry, separators=(",", ":")) + "\n")
        sys.stdout.flush()

    def _logging_client(self) -> Any:
        if self._client is not None:
            return self._client
        # Imported here: only `verify` in Cloud reads checkpoints. The JSON API (not gRPC), so a
        # local HTTP server can stand in for it in tests.
        from google.cloud.logging_v2.client import Client

        project = self.view.split("/")[1]
        if self.endpoint is None:
            return Client(project=project, _use_grpc=False)
        from google.auth.credentials import AnonymousCredentials

        return Client(
            project=project,
            credentials=AnonymousCredentials(),
            _use_grpc=False,
            client_options={"api_endpoint": self.endpoint},
        )

    def read(self) -> Iterator[Checkpoint]:
        from google.api_core.exceptions import GoogleAPICallError
        from google.auth.exceptions import GoogleAuthError

        try:
            entries = self._logging_client().list_entries(
                resource_names=[self.view],
                filter_=CHECKPOINT_FILTER,
                page_size=LOGGING_PAGE_SIZE,
            )
            for entry in entries:
                payload = entry.payload if isinstance(entry.payload, dict) else {}
                found = _parse(payload.get("audit_checkpoint"))
                if found is not None:
                    yield found
        except (GoogleAPICallError, GoogleAuthError, OSError) as error:  # OSError: requests' network errors
            log.warning("audit checkpoints unreadable", extra={"error": type(error).__name__})
            raise Unavailable(
                "The audit checkpoints cannot be read now; retry shortly.",
                code="checkpoints_unavailable",
                retry_after=5,
            ) from None


def sink_for(settings: Settings) -> CheckpointSink:
    """The sink AUDIT_CHECKPOINTS names (ConfigError, so 503 `misconfigured`, when it is missing)."""
    target = settings.audit_checkpoint_target()
    if target.startswith("file:"):
        return FileSink(Path(target.removeprefix("file:")))
    return CloudLoggingSink(target.removeprefix("logging:"), endpoint=settings.logging_endpoint)


def write_best_effort(sink: CheckpointSink, checkpoint: Checkpoint) -> None:
    """Write a checkpoint after a commit: the events are committed, so a failure here must not fail
    the request; it is logged, and the next commit's checkpoint covers these events too."""
    try:
        sink.write(checkpoint)
    except Exception:
        log.exception("audit checkpoint not written", extra={"seq": checkpoint.seq})
