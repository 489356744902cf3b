"""Where the audit log's head is anchored: a JSON-lines file locally, Cloud Logging in Cloud.

Boundary faked: the Cloud Logging API (no GCP project or credentials here). The real
`google-cloud-logging` client, on its JSON API with anonymous credentials, talks HTTP to a local
server that answers `entries:list` the way the API does, in pages; everything on our side of the
wire is real. The write side needs no fake: it is one line on stdout, which Cloud Run hands to
Cloud Logging, where the log sink in terraform/audit.tf matches it.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from shared.audit.checkpoints import CHECKPOINT_MESSAGE, Checkpoint, CloudLoggingSink, FileSink, sink_for
from shared.errors import Unavailable
from shared.settings import ConfigError, load_settings

VIEW = "projects/demo/locations/europe-west1/buckets/rm-staging-audit/views/checkpoints"
HASHES = ["a" * 64, "b" * 64, "c" * 64]


class FakeLogging(BaseHTTPRequestHandler):
    requests: list[dict] = []
    status = 200

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeLogging.requests.append({"path": self.path.split("?", 1)[0], **body})
        if FakeLogging.status != 200:
            self._send(FakeLogging.status, {"error": {"code": FakeLogging.status, "message": "unavailable"}})
            return
        entries = [
            {
                "logName": "projects/demo/logs/run.googleapis.com%2Fstdout",
                "resource": {"type": "cloud_run_revision", "labels": {"service_name": "rm-staging-releases"}},
                "jsonPayload": {"message": CHECKPOINT_MESSAGE, "audit_checkpoint": {"seq": str(n + 1), "hash": h}},
            }
            for n, h in enumerate(HASHES)
        ]
        entries.append({"logName": "projects/demo/logs/x", "jsonPayload": {"message": "something else"}})
        if body.get("pageToken") == "2":
            self._send(200, {"entries": entries[2:]})
        else:
            self._send(200, {"entries": entries[:2], "nextPageToken": "2"})

    def _send(self, status: int, body: dict) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def cloud_logging() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), FakeLogging)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    FakeLogging.requests, FakeLogging.status = [], 200
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_cloud_checkpoints_are_read_back_through_the_locked_buckets_view_page_by_page(cloud_logging):
    sink = sink_for(load_settings(audit_checkpoints=f"logging:{VIEW}", logging_endpoint=cloud_logging))

    found = list(sink.read())

    assert found == [Checkpoint(n + 1, h) for n, h in enumerate(HASHES)]
    assert [r["path"] for r in FakeLogging.requests] == ["/v2/entries:list"] * 2
    assert FakeLogging.requests[0]["resourceNames"] == [VIEW]
    # Every checkpoint the bucket keeps, not only the last day's (the client's default).
    assert (
        FakeLogging.requests[0]["filter"]
        == f'jsonPayload.message="{CHECKPOINT_MESSAGE}" AND timestamp>="1970-01-01T00:00:00Z"'
    )


def test_unreadable_cloud_checkpoints_are_a_503_not_an_error(cloud_logging):
    FakeLogging.status = 503
    sink = CloudLoggingSink(VIEW, endpoint=cloud_logging)

    with pytest.raises(Unavailable) as raised:
        list(sink.read())

    assert raised.value.code == "checkpoints_unavailable" and raised.value.retry_after


def test_a_cloud_checkpoint_is_one_structured_stdout_line_that_the_log_sink_matches(capsys, monkeypatch):
    monkeypatch.setenv("LOG_LEVEL", "ERROR")  # the line must not depend on the log level

    CloudLoggingSink(VIEW).write(Checkpoint(42, HASHES[0]))

    (line,) = capsys.readouterr().out.splitlines()
    entry = json.loads(line)
    assert entry["message"] == CHECKPOINT_MESSAGE  # terraform/audit.tf's sink filter
    assert entry["audit_checkpoint"] == {"seq": "42", "hash": HASHES[0]}


def test_the_file_sink_appends_and_skips_a_torn_line(tmp_path):
    sink = FileSink(tmp_path / "deep" / "checkpoints.jsonl")
    sink.write(Checkpoint(1, HASHES[0]))
    with sink.path.open("a") as handle:
        handle.write('{"seq": 2, "ha')  # a crash mid-write
    sink.write(Checkpoint(3, HASHES[2]))

    assert list(sink.read()) == [Checkpoint(1, HASHES[0]), Checkpoint(3, HASHES[2])]


def test_outside_development_the_checkpoint_sink_must_be_configured():
    staging = load_settings(environment="staging", database_url="postgresql://u@db/x")

    with pytest.raises(ConfigError, match="AUDIT_CHECKPOINTS"):
        sink_for(staging.model_copy(update={"audit_checkpoints": None}))
