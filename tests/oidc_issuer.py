"""A local OIDC issuer for tests: a small threaded HTTP server on 127.0.0.1.

It stands in for Google (`https://accounts.google.com`), GitHub Actions
(`https://token.actions.githubusercontent.com`) and Identity-Aware Proxy's key URL: it serves
`{issuer}/.well-known/openid-configuration` (pointing at `{issuer}/jwks`) and the JWK Set, and signs
tokens with keys the test makes (RS256 and ES256, through `cryptography` and PyJWT). The code under
test runs its production path; only the URLs differ (the issuer URL in the trust entries,
IAP_JWKS_URL, and OIDC_ALLOW_INSECURE_ISSUERS=true to admit `http://127.0.0.1`).

A test can rotate keys, publish a key or not, count the requests per path, make the issuer answer
garbage or errors, take it down (the port refuses connections) and bring it back on the same port.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

Mode = Literal["serve", "garbage", "error", "not_a_jwks"]
WELL_KNOWN = "/.well-known/openid-configuration"


@dataclass
class _Key:
    kid: str
    alg: str
    private: Any
    published: bool = True

    def jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        exported = (RSAAlgorithm if self.alg == "RS256" else ECAlgorithm).to_jwk(public, as_dict=True)
        return {**exported, "kid": self.kid, "alg": self.alg, "use": "sig"}


class LocalIssuer:
    """One issuer at `http://127.0.0.1:PORT` (plus `path`, to look like a multi-tenant issuer)."""

    def __init__(self, *, path: str = "") -> None:
        self.path = path.rstrip("/")
        self.keys: dict[str, _Key] = {}
        self.requests: Counter[str] = Counter()
        self.mode: Mode = "serve"
        self.discovery_overrides: dict[str, Any] = {}
        self.extra_jwks: list[dict[str, Any]] = []  # published as they are (say, an HMAC key)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> LocalIssuer:
        """Listen (on a free port the first time, on the same port after `down`)."""
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer._answer(self)

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self._server, self.port = server, server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.05,), name=f"oidc-issuer-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def down(self) -> None:
        """Stop listening: connections to the port are refused until `up`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def up(self) -> None:
        """Listen again on the same port, with the same keys."""
        self.start()

    stop = down

    def __enter__(self) -> LocalIssuer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.down()

    # -- URLs and counters -------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The issuer identifier (`iss`)."""
        return f"http://127.0.0.1:{self.port}{self.path}"

    @property
    def discovery_url(self) -> str:
        return self.url + WELL_KNOWN

    @property
    def jwks_url(self) -> str:
        return self.url + "/jwks"

    def count(self, what: Literal["discovery", "jwks", "all"] = "all") -> int:
        """Requests served so far (any answer, including garbage and errors)."""
        with self._lock:
            if what == "discovery":
                return self.requests[self.path + WELL_KNOWN]
            if what == "jwks":
                return self.requests[self.path + "/jwks"]
            return sum(self.requests.values())

    # -- keys and tokens ---------------------------------------------------------------------
    def add_key(self, alg: Literal["RS256", "ES256"] = "RS256", *, kid: str | None = None, publish: bool = True) -> str:
        """Make a key pair; publish its public half in the JWK Set unless told not to."""
        private = (
            rsa.generate_private_key(public_exponent=65537, key_size=2048)
            if alg == "RS256"
            else (ec.generate_private_key(ec.SECP256R1()))
        )
        key = _Key(kid=kid or uuid.uuid4().hex[:16], alg=alg, private=private, published=publish)
        with self._lock:
            self.keys[key.kid] = key
        return key.kid

    def rotate(self, alg: Literal["RS256", "ES256"] = "RS256") -> str:
        """Publish a new key and withdraw every other one (they can still sign, for tests)."""
        kid = self.add_key(alg)
        with self._lock:
            for key in self.keys.values():
                key.published = key.kid == kid
        return kid

    def public_pem(self, kid: str) -> bytes:
        from cryptography.hazmat.primitives import serialization

        return (
            self.keys[kid]
            .private.public_key()
            .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )

    def sign(self, claims: dict[str, Any], *, kid: str | None = None, headers: dict[str, Any] | None = None) -> str:
        """A token with `claims`, signed with key `kid` (default: the newest published key)."""
        with self._lock:
            key = self.keys[kid] if kid else [k for k in self.keys.values() if k.published][-1]
        return jwt.encode(claims, key.private, algorithm=key.alg, headers={"kid": key.kid, **(headers or {})})

    def token(self, *, kid: str | None = None, lifetime_s: int = 300, **claims: Any) -> str:
        """A token issued now by this issuer: `iss`, `iat`, `exp` filled in, `claims` on top."""
        now = int(time.time())
        return self.sign({"iss": self.url, "iat": now, "exp": now + lifetime_s, **claims}, kid=kid)

    # -- HTTP --------------------------------------------------------------------------------
    def _answer(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path.split("?", 1)[0]
        with self._lock:
            self.requests[path] += 1
            mode = self.mode
            jwks = {"keys": [k.jwk() for k in self.keys.values() if k.published] + self.extra_jwks}
        if path == self.path + WELL_KNOWN:
            body: Any = {
                "issuer": self.url,
                "jwks_uri": self.jwks_url,
                "id_token_signing_alg_values_supported": ["RS256", "ES256"],
                "response_types_supported": ["id_token"],
                "subject_types_supported": ["public"],
                **self.discovery_overrides,
            }
        elif path == self.path + "/jwks":
            body = {"keys": []} if mode == "not_a_jwks" else jwks
        else:
            self._send(request, 404, b'{"error": "not found"}')
            return
        if mode == "error":
            self._send(request, 503, b"upstream error")
        elif mode == "garbage":
            self._send(request, 200, b"<html>this is not json</html>")
        else:
            self._send(request, 200, json.dumps(body).encode())

    @staticmethod
    def _send(request: BaseHTTPRequestHandler, status: int, body: bytes) -> None:
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)
