"""Local stand-ins for the Google services on the Cloud path: Cloud SQL, Secret Manager and Logging.

Nothing on our side of the wire is faked. The real `cloud-sql-python-connector`,
`google-cloud-secret-manager` and `google-cloud-logging` clients, with real `google-auth`
credentials, talk to:

- `GoogleApis`: one threaded HTTP server answering the OAuth token endpoint (the key file's
  `token_uri` points here), the Cloud SQL Admin API's `connectSettings` and `generateEphemeralCert`
  (the connector's `sqladmin_api_endpoint`, our CLOUD_SQL_ADMIN_ENDPOINT), Secret Manager's
  `:access` (our SECRET_MANAGER_ENDPOINT) and Cloud Logging's `entries:list` (our LOGGING_ENDPOINT)
  over the entries of log views: the filter our code sends (a message and a lower timestamp bound)
  applied as Logging applies it, oldest first, in pages. `route_stdout` plays Cloud Run and the log
  sink of terraform/audit.tf: the checkpoint lines a function printed become entries of the view.
- `ServerSideProxy`: the instance's server-side proxy on port 3307, which checks the client's
  ephemeral certificate against the instance CA over TLS 1.3, as Cloud SQL's does, and forwards the
  PostgreSQL protocol to the local server.

Why faked: there is no GCP project, credentials or Cloud SQL instance here. What differs from
Google: plain HTTP on loopback, and the proxy listens on a loopback address of its own (the
connector always dials port 3307, so each proxy takes its own 127.x.y.z).
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import os
import re
import socket
import ssl
import tempfile
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

SERVER_PROXY_PORT = 3307  # fixed by Cloud SQL; the connector dials it on the instance's address
_INSTANCE = re.compile(r"^/sql/v1beta4/projects/([^/]+)/instances/([^/:]+)(/connectSettings|:generateEphemeralCert)$")
_SECRET = re.compile(r"^/v1/(projects/[^/]+/secrets/[^/]+/versions/[^/:]+):access$")
# The one filter shape the checkpoint reader sends (shared/audit/checkpoints.py): anything else is a 400.
_LOG_FILTER = re.compile(r'^jsonPayload\.message="([^"]*)" AND timestamp>="([^"]+)"$')


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


class InstanceCa:
    """The instance's CA: signs the server certificate and each ephemeral client certificate."""

    def __init__(self, instance: str) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(_name(f"Google Cloud SQL Server CA {instance}"))
            .issuer_name(_name(f"Google Cloud SQL Server CA {instance}"))
            .public_key(self.key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    def issue(self, common_name: str, public_key: Any, *, hours: int = 1) -> x509.Certificate:
        now = datetime.datetime.now(datetime.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self.cert.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=hours))
            .sign(self.key, hashes.SHA256())
        )


class ServerSideProxy:
    """TLS 1.3 with a required client certificate on `host:3307`, then bytes both ways to PostgreSQL."""

    def __init__(self, ca: InstanceCa, *, upstream: tuple[str, int], host: str | None = None) -> None:
        self.ca, self.upstream = ca, upstream
        self.host = host or _free_loopback_address()
        self.connections = 0
        key = ec.generate_private_key(ec.SECP256R1())
        cert = ca.issue("cloud-sql-instance", key.public_key(), hours=24)
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.minimum_version = ssl.TLSVersion.TLSv1_3
        self._context.verify_mode = ssl.CERT_REQUIRED
        with tempfile.TemporaryDirectory() as folder:
            chain, ca_file = Path(folder) / "server.pem", Path(folder) / "ca.pem"
            key_pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            chain.write_bytes(key_pem + _pem(cert).encode())
            ca_file.write_text(_pem(ca.cert))
            self._context.load_cert_chain(chain)
            self._context.load_verify_locations(ca_file)
        self._listener = socket.create_server((self.host, SERVER_PROXY_PORT))
        self._listener.settimeout(0.2)
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True, name="cloud-sql-proxy")

    def start(self) -> ServerSideProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                raw, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(raw,), daemon=True).start()

    def _serve(self, raw: socket.socket) -> None:
        try:
            raw.settimeout(10)
            client = self._context.wrap_socket(raw, server_side=True)
            client.settimeout(None)
        except (OSError, ssl.SSLError):
            raw.close()
            return
        self.connections += 1
        upstream = socket.create_connection(self.upstream)
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
        _pipe(client, upstream)

    def __enter__(self) -> ServerSideProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def _pipe(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (source, target):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def _free_loopback_address() -> str:
    """A 127.x.y.z on which port 3307 is free (Linux answers on all of 127.0.0.0/8)."""
    seed = os.getpid()
    for attempt in range(200):
        host = f"127.{(seed >> 8) % 250 + 1}.{(seed + attempt) % 250 + 1}.{attempt % 250 + 2}"
        with socket.socket() as probe:
            try:
                probe.bind((host, SERVER_PROXY_PORT))
                return host
            except OSError:
                continue
    raise RuntimeError("no loopback address with port 3307 free")


class GoogleApis:
    """OAuth tokens, the Cloud SQL Admin API for one instance, and Secret Manager's `:access`."""

    def __init__(
        self,
        *,
        project: str = "demo",
        region: str = "europe-west1",
        instance: str = "release-manager",
        proxy_host: str | None = None,
        ca: InstanceCa | None = None,
    ) -> None:
        """Without a `ca` (and the proxy's address) it serves tokens and secrets only: no instance."""
        self.project, self.region, self.instance = project, region, instance
        self.proxy_host, self.ca = proxy_host, ca
        self.secrets: dict[str, str] = {}
        self.requests: Counter[str] = Counter()
        self.secret_paths: list[str] = []  # every `:access` asked for, in order
        self.log_entries: dict[str, list[dict[str, Any]]] = {}  # each log view's entries
        self.entries_lists: list[dict[str, Any]] = []  # every `entries:list` body, in order
        self.entries_served = 0  # entries `entries:list` answered with, all pages counted
        self.logging_status = 200  # anything else: every `entries:list` fails with it
        apis = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                apis._answer(self, "GET")

            def do_POST(self) -> None:
                apis._answer(self, "POST")

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="google-apis")

    @property
    def connection_name(self) -> str:
        return f"{self.project}:{self.region}:{self.instance}"

    def start(self) -> GoogleApis:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> GoogleApis:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def service_account_key(self, folder: Path, email: str = "releases-fn@demo.iam.gserviceaccount.com") -> Path:
        """A service-account key file whose `token_uri` is this server (GOOGLE_APPLICATION_CREDENTIALS)."""
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        document = {
            "type": "service_account",
            "project_id": self.project,
            "private_key_id": "local",
            "private_key": pem.decode(),
            "client_email": email,
            "client_id": "1",
            "token_uri": f"{self.url}/token",
        }
        path = folder / "service-account.json"
        path.write_text(json.dumps(document))
        return path

    def log_entry(self, view: str, payload: dict[str, Any], *, at: datetime.datetime | None = None) -> None:
        """An entry in `view` with `payload` as its jsonPayload, timestamped `at` (now by default)."""
        moment = (at or datetime.datetime.now(datetime.UTC)).astimezone(datetime.UTC)
        self.log_entries.setdefault(view, []).append(
            {
                "logName": f"projects/{self.project}/logs/run.googleapis.com%2Fstdout",
                "resource": {"type": "cloud_run_revision", "labels": {"service_name": "rm-staging-releases"}},
                "insertId": f"{len(self.log_entries.get(view, []))}",
                "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "jsonPayload": payload,
            }
        )

    def route_stdout(self, view: str, printed: str, *, at: datetime.datetime | None = None) -> int:
        """The structured lines a function printed that the audit sink's filter matches, into `view`."""
        routed = 0
        for line in printed.splitlines():
            try:
                payload = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(payload, dict) and payload.get("message") == "audit checkpoint":
                self.log_entry(view, payload, at=at)
                routed += 1
        return routed

    def _entries_list(self, handler: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        self.entries_lists.append(body)
        if self.logging_status != 200:
            error = {"code": self.logging_status, "message": "unavailable", "status": "UNAVAILABLE"}
            return _send(handler, self.logging_status, {"error": error})
        match = _LOG_FILTER.match(body.get("filter", ""))
        if match is None:
            error = {"code": 400, "message": f"unsupported filter {body.get('filter')!r}", "status": "INVALID_ARGUMENT"}
            return _send(handler, 400, {"error": error})
        message, since = match[1], datetime.datetime.fromisoformat(match[2].replace("Z", "+00:00"))
        found = sorted(
            (
                entry
                for view in body.get("resourceNames", [])
                for entry in self.log_entries.get(view, [])
                if entry["jsonPayload"].get("message") == message
                and datetime.datetime.fromisoformat(entry["timestamp"].replace("Z", "+00:00")) >= since
            ),
            key=lambda entry: entry["timestamp"],
        )
        start, size = int(body.get("pageToken") or 0), int(body.get("pageSize") or 50)
        page = found[start : start + size]
        self.entries_served += len(page)
        answer: dict[str, Any] = {"entries": page}
        if start + size < len(found):
            answer["nextPageToken"] = str(start + size)
        _send(handler, 200, answer)

    def _answer(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        path = handler.path.split("?", 1)[0]
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        if method == "POST" and path == "/token":
            self.requests["token"] += 1
            return _send(handler, 200, {"access_token": "local-token", "expires_in": 3600, "token_type": "Bearer"})
        if method == "POST" and path == "/v2/entries:list":
            return self._entries_list(handler, json.loads(body))
        if (match := _INSTANCE.match(path)) is not None:
            return self._instance(handler, method, *match.groups(), body)
        if method == "GET" and (match := _SECRET.match(path)) is not None:
            self.requests["secret"] += 1
            self.secret_paths.append(path)
            name = match.group(1)
            if name not in self.secrets:
                error = {"code": 404, "message": f"Secret [{name}] not found", "status": "NOT_FOUND"}
                return _send(handler, 404, {"error": error})
            data = base64.b64encode(self.secrets[name].encode()).decode()
            return _send(handler, 200, {"name": name, "payload": {"data": data}})
        _send(handler, 404, {"error": {"code": 404, "message": f"no {method} {path} here", "status": "NOT_FOUND"}})

    def _instance(
        self, handler: BaseHTTPRequestHandler, method: str, project: str, instance: str, verb: str, body: bytes
    ) -> None:
        if self.ca is None or (project, instance) != (self.project, self.instance):
            return _send(handler, 404, {"error": {"code": 404, "message": "instance not found", "status": "NOT_FOUND"}})
        if verb == "/connectSettings" and method == "GET":
            self.requests["connectSettings"] += 1
            return _send(
                handler,
                200,
                {
                    "kind": "sql#connectSettings",
                    "region": self.region,
                    "databaseVersion": "POSTGRES_15",
                    "backendType": "SECOND_GEN",
                    "ipAddresses": [{"type": "PRIVATE", "ipAddress": self.proxy_host}],
                    "serverCaCert": {"cert": _pem(self.ca.cert)},
                },
            )
        if verb == ":generateEphemeralCert" and method == "POST":
            self.requests["generateEphemeralCert"] += 1
            public_key = serialization.load_pem_public_key(json.loads(body)["public_key"].encode())
            cert = self.ca.issue("ephemeral", public_key)
            return _send(handler, 200, {"ephemeralCert": {"kind": "sql#sslCert", "cert": _pem(cert)}})
        _send(handler, 405, {"error": {"code": 405, "message": "method not allowed", "status": "INVALID_ARGUMENT"}})


def _send(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
    raw = json.dumps(body).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(raw)))
    handler.end_headers()
    handler.wfile.write(raw)


class CloudSql:
    """One Cloud SQL instance in front of a local PostgreSQL: the APIs, the proxy, and a key file."""

    def __init__(self, folder: Path, *, upstream: tuple[str, int] = ("127.0.0.1", 5432), project: str = "demo") -> None:
        self.ca = InstanceCa("release-manager")
        self.proxy = ServerSideProxy(self.ca, upstream=upstream)
        self.apis = GoogleApis(
            project=project, region="europe-west1", instance="release-manager", proxy_host=self.proxy.host, ca=self.ca
        )
        self.key_file = self.apis.service_account_key(folder)

    def __enter__(self) -> CloudSql:
        self.proxy.start()
        self.apis.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.apis.stop()
        self.proxy.stop()

    def environment(self, *, db_user: str, db_name: str) -> dict[str, str]:
        """The settings of a function on the Cloud path, as terraform/functions.tf gives them."""
        return {
            "CLOUD_SQL_INSTANCE": self.apis.connection_name,
            "CLOUD_SQL_ADMIN_ENDPOINT": self.apis.url,
            "GOOGLE_APPLICATION_CREDENTIALS": str(self.key_file),
            "DB_USER": db_user,
            "DB_NAME": db_name,
            "DB_IAM_AUTH": "true",
            "DB_PRIVATE_IP": "true",
        }
