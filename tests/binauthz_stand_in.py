"""A local stand-in for the two Google APIs an attestation goes through: Cloud KMS's
`asymmetricSign` and Container Analysis's (Grafeas's) `occurrences.create`.

Why faked: there is no GCP project, key or Container Analysis here. The real google-cloud-kms and
grafeas clients (REST transport) talk to this server over HTTP, as they talk to Google over HTTPS.
The keys are real EC P-256 keys, one per key version named, and the signature is really made over
the SHA-256 digest the client sends (as KMS signs an `EC_SIGN_P256_SHA256` key's digest), so a test
verifies it with the public key alone, as Binary Authorization does. `down` makes every call a 503;
`hold` makes a signature wait until it is released (to race a cancel against an attestation)."""

from __future__ import annotations

import base64
import json
import re
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed

_SIGN = re.compile(
    r"^/v1/(projects/[^/]+/locations/[^/]+/keyRings/[^/]+/cryptoKeys/[^/]+/cryptoKeyVersions/[^/:]+):asymmetricSign$"
)
_OCCURRENCES = re.compile(r"^/v1/(projects/[^/]+)/occurrences$")


class BinauthzApis:
    def __init__(self) -> None:
        self.keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.occurrences: list[dict[str, Any]] = []
        self.signing = threading.Event()  # set when a signature is asked for (before `hold`)
        self.down = False
        self.hold: threading.Event | None = None
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def public_key(self, key_version: str) -> ec.EllipticCurvePublicKey:
        return self.key(key_version).public_key()

    def key(self, key_version: str) -> ec.EllipticCurvePrivateKey:
        if key_version not in self.keys:
            self.keys[key_version] = ec.generate_private_key(ec.SECP256R1())
        return self.keys[key_version]

    def __enter__(self) -> BinauthzApis:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        apis = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                path = self.path.split("?", 1)[0]
                if apis.down:
                    return self._send(503, {"error": {"code": 503, "message": "unavailable", "status": "UNAVAILABLE"}})
                if found := _SIGN.match(path):
                    return self._sign(found.group(1), body)
                if found := _OCCURRENCES.match(path):
                    return self._occurrence(found.group(1), body)
                self._send(404, {"error": {"code": 404, "message": f"no {path}", "status": "NOT_FOUND"}})

            def _sign(self, name: str, body: dict[str, Any]) -> None:
                apis.signing.set()
                if apis.hold is not None:
                    apis.hold.wait(timeout=30)
                digest = base64.b64decode(body["digest"]["sha256"])
                signature = apis.key(name).sign(digest, ec.ECDSA(Prehashed(hashes.SHA256())))
                self._send(200, {"name": name, "signature": base64.b64encode(signature).decode()})

            def _occurrence(self, parent: str, body: dict[str, Any]) -> None:
                made = body | {"name": f"{parent}/occurrences/{uuid.uuid4()}", "kind": "ATTESTATION"}
                apis.occurrences.append(made)
                self._send(200, made)

            def _send(self, status: int, document: dict[str, Any]) -> None:
                data = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler
