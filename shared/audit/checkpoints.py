"""Checkpoints: the audit log's head, (seq, hash), written outside the database to an append-only sink.

A database superuser can delete the newest events, or rewrite events and re-hash the chain after
them; neither shows inside the table. A checkpoint written after a commit that appended events
records how far the chain reached and what its hash was there, somewhere the database's owner
cannot edit, and `verify` compares the table against the checkpoints it reads.

Two sinks, chosen by AUDIT_CHECKPOINTS:
- `file:PATH`: one JSON line per checkpoint, appended (development, tests, a single host);
- `logging:projects/P/locations/L/buckets/B/views/V`: the checkpoint is one structured line on
  stdout, which Cloud Run hands to Cloud Logging; a log sink routes these lines into a log bucket
  whose retention is locked, so no one can delete or edit them before it expires (terraform/audit.tf).
  Writing costs no network call and no permission; `verify` reads them back through the view.

Each line carries a MAC (HMAC-SHA256 with AUDIT_KEY over its seq and hash): anyone who may write
logs in the project can put a line in the locked bucket, but not one that verifies, so a forged line
is ignored (and counted) rather than taken for the head. A read can start where an earlier one
ended (`Reading.cursor`), and at most one checkpoint is written per AUDIT_CHECKPOINT_INTERVAL.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from shared.errors import Unavailable
from shared.platform.cache import Cache, get_cache
from shared.platform.settings import Settings, get_settings

log = logging.getLogger(__name__)

# The line's `message`: the log sink's filter and the reader's filter both match on it.
CHECKPOINT_MESSAGE = "audit checkpoint"
# A full read's lower bound is explicit: without one the client reads only the last 24 hours.
EPOCH = "1970-01-01T00:00:00Z"
LOGGING_PAGE_SIZE = 1000
# Logging makes an entry readable seconds after it is written, not always in timestamp order: a read
# that follows an earlier one starts this long before the newest entry that one saw (the overlap is
# read twice, which changes nothing).
LOGGING_READ_OVERLAP = timedelta(minutes=5)
# Keys the MAC apart from the chain's own HMACs, made with the same key.
_MAC_CONTEXT = b"audit-checkpoint\n"


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str


def checkpoint_mac(key: bytes, checkpoint: Checkpoint) -> str:
    """HMAC-SHA256 with AUDIT_KEY over the checkpoint's seq and hash: what a line carries as `mac`."""
    message = _MAC_CONTEXT + f"{checkpoint.seq}\n{checkpoint.hash}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _fields(checkpoint: Checkpoint, key: bytes, *, seq: int | str) -> dict[str, Any]:
    return {"seq": seq, "hash": checkpoint.hash, "mac": checkpoint_mac(key, checkpoint)}


@dataclass
class Reading:
    """What one read of a sink found: the checkpoints whose MAC verifies, how many lines claimed to
    be checkpoints and did not verify (forged, torn or from before lines carried a MAC: ignored), and
    `cursor`, where a later read starts to see only what was written after these."""

    checkpoints: list[Checkpoint] = field(default_factory=list)
    ignored: int = 0
    cursor: str | None = None

    def add(self, fields: Any, key: bytes) -> None:
        found = _parse(fields)
        mac = fields.get("mac") if isinstance(fields, dict) else None
        if found is None or not isinstance(mac, str) or not hmac.compare_digest(mac, checkpoint_mac(key, found)):
            self.ignored += 1
            return
        self.checkpoints.append(found)


class CheckpointSink(Protocol):
    name: str  # AUDIT_CHECKPOINTS: a cursor belongs to the sink it was read from

    def write(self, checkpoint: Checkpoint) -> None: ...

    def read(self, after: str | None = None) -> Reading: ...


def _parse(fields: Any) -> Checkpoint | None:
    """A checkpoint from a decoded line or log payload; None for anything else."""
    try:
        seq, digest = int(fields["seq"]), str(fields["hash"])
    except (KeyError, TypeError, ValueError):
        return None
    return Checkpoint(seq, digest) if seq > 0 and len(digest) == 64 else None


class FileSink:
    """JSON lines appended to a file (O_APPEND, one write per line, so processes don't interleave).
    A cursor is the byte offset after the last whole line read."""

    def __init__(self, path: Path, *, key: bytes) -> None:
        self.path = path
        self.name = f"file:{path}"
        self._key = key

    def write(self, checkpoint: Checkpoint) -> None:
        line = json.dumps(_fields(checkpoint, self._key, seq=checkpoint.seq), separators=(",", ":")) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = "\n" + line  # after a line torn by a crash, start afresh
            os.write(fd, line.encode())
        finally:
            os.close(fd)

    def read(self, after: str | None = None) -> Reading:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return Reading()
        start = int(after) if after is not None and after.isdigit() else 0
        if start > len(data):
            start = 0  # not the file the cursor was taken from: read it all
        end = data.rfind(b"\n") + 1  # a line still being written is read next time
        reading = Reading(cursor=str(max(start, end)))
        for line in data[start:end].splitlines():
            if not line.strip():
                continue
            try:
                fields = json.loads(line)
            except json.JSONDecodeError:
                fields = None  # a line torn by a crash mid-write anchors nothing
            reading.add(fields, self._key)
        return reading


def checkpoint_filter(after: str | None) -> str:
    """The Logging filter for checkpoints: every one the bucket keeps, or those from a little before
    `after` (the newest entry's timestamp an earlier read saw) on."""
    since = EPOCH
    if after is not None:
        bound = datetime.fromisoformat(after.replace("Z", "+00:00")) - LOGGING_READ_OVERLAP
        since = bound.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f'jsonPayload.message="{CHECKPOINT_MESSAGE}" AND timestamp>="{since}"'


class CloudLoggingSink:
    """Writes a structured line to stdout; reads the lines back from a locked log bucket's view.
    A cursor is the timestamp of the newest entry read."""

    def __init__(self, view: str, *, key: bytes, endpoint: str | None = None, client: Any = None) -> None:
        self.view = view
        self.name = f"logging:{view}"
        self.endpoint = endpoint
        self._key = key
        self._client = client

    def write(self, checkpoint: Checkpoint) -> None:
        # Straight to stdout, not through `logging`: LOG_LEVEL must never silence a checkpoint.
        entry = {
            "severity": "NOTICE",
            "message": CHECKPOINT_MESSAGE,
            "audit_checkpoint": _fields(checkpoint, self._key, seq=str(checkpoint.seq)),
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

    def read(self, after: str | None = None) -> Reading:
        from google.api_core.exceptions import GoogleAPICallError
        from google.auth.exceptions import GoogleAuthError

        reading = Reading(cursor=after)
        try:
            entries = self._logging_client().list_entries(
                resource_names=[self.view],
                filter_=checkpoint_filter(after),
                page_size=LOGGING_PAGE_SIZE,
            )
            for entry in entries:
                payload = entry.payload if isinstance(entry.payload, dict) else {}
                reading.add(payload.get("audit_checkpoint"), self._key)
                if entry.timestamp is not None:
                    reading.cursor = entry.timestamp.astimezone(UTC).isoformat()  # entries come oldest first
        except (GoogleAPICallError, GoogleAuthError, OSError) as error:  # OSError: requests' network errors
            log.warning("audit checkpoints unreadable", extra={"error": type(error).__name__})
            raise Unavailable(
                "The audit checkpoints cannot be read now; retry shortly.",
                code="checkpoints_unavailable",
                retry_after=5,
            ) from None
        return reading


def sink_for(settings: Settings) -> CheckpointSink:
    """The sink AUDIT_CHECKPOINTS names, MACing with AUDIT_KEY (ConfigError, so 503 `misconfigured`,
    when either is missing)."""
    target = settings.audit_checkpoint_target()
    key = settings.audit_signing_key()
    if target.startswith("file:"):
        return FileSink(Path(target.removeprefix("file:")), key=key)
    return CloudLoggingSink(target.removeprefix("logging:"), key=key, endpoint=settings.logging_endpoint)


class Throttle:
    """At most one checkpoint per `interval_s`, whichever instance of whichever function writes it:
    the first commit of an interval claims it in Redis (SET NX with the interval as its lifetime) and
    writes; the others in that interval write nothing, and the next checkpoint written covers their
    events too (a checkpoint anchors the whole chain up to its seq). With Redis down or not
    configured, each instance keeps the interval on its own."""

    def __init__(self, interval_s: float, cache: Cache, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self.cache = cache
        self._clock = clock
        self._key = f"{cache.prefix}:audit:checkpoint"
        self._local_until = 0.0
        self._lock = threading.Lock()

    def claim(self) -> bool:
        """Whether this commit writes a checkpoint."""
        if self.interval_s <= 0:
            return True
        lifetime_ms = max(1, int(self.interval_s * 1000))
        claimed = self.cache.run(lambda c: bool(c.set(self._key, "1", nx=True, px=lifetime_ms)))
        if claimed is not None:
            return bool(claimed)
        with self._lock:  # Redis unusable: this instance's own interval
            now = self._clock()
            if now < self._local_until:
                return False
            self._local_until = now + self.interval_s
            return True


@functools.cache
def get_throttle() -> Throttle:
    """The instance's checkpoint throttle (AUDIT_CHECKPOINT_INTERVAL), built on first use."""
    return Throttle(get_settings().audit_checkpoint_interval, get_cache())


def write_best_effort(sink: CheckpointSink, checkpoint: Checkpoint, throttle: Throttle | None = None) -> None:
    """Write a checkpoint after a commit, unless the throttle says one was written this interval.
    The events are committed, so a failure here must not fail the request; it is logged, and the
    next commit's checkpoint covers these events too."""
    try:
        if throttle is not None and not throttle.claim():
            return
        sink.write(checkpoint)
    except Exception:
        log.exception("audit checkpoint not written", extra={"seq": checkpoint.seq})
