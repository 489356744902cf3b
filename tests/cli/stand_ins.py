"""Local stand-ins for what a test cannot summon from the real service or the real cloud: a proxy that
drops a connection after the service answered, an HTTP server answering what the test says (503s with
Retry-After; GitHub's OIDC token endpoint; Google's metadata server; `/auth/exchange`, until the
server side of keyless sign-in lands on this branch)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


class DroppingProxy:
    """Forwards to `upstream_port`; the first connection's request reaches the service, whose answer is
    thrown away and the connection closed: the client saw no answer to a request that was done."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.connections = 0
        self.dropped_answer = b""
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            handler = self._drop if self.connections == 1 else self._pipe
            threading.Thread(target=handler, args=(client,), daemon=True).start()

    def _drop(self, client: socket.socket) -> None:
        request = _read_request(client)
        with socket.create_connection(("127.0.0.1", self.upstream_port)) as upstream:
            upstream.sendall(request)
            self.dropped_answer = upstream.recv(65536)  # the service has answered: the work is done
        client.close()

    def _pipe(self, client: socket.socket) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.upstream_port))

        def pump(source: socket.socket, target: socket.socket) -> None:
            try:
                while data := source.recv(65536):
                    target.sendall(data)
            except OSError:
                pass
            finally:
                for s in (source, target):
                    with suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)

        threading.Thread(target=pump, args=(upstream, client), daemon=True).start()
        pump(client, upstream)

    def close(self) -> None:
        self.listener.close()


def _read_request(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")), 0
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


Answer = tuple[int, dict[str, str], Any]
Route = Callable[["Seen"], Answer]


class Seen:
    """One request as the stand-in received it."""

    def __init__(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str], body: bytes):
        self.method, self.path, self.query, self.headers, self.body = method, path, query, headers, body

    def json(self) -> Any:
        return json.loads(self.body)


class StandIn:
    """An HTTP server: `routes[(method, path)]` answers (status, headers, body: dict → JSON, str → text)."""

    def __init__(self, routes: dict[tuple[str, str], Route]) -> None:
        self.routes = routes
        self.seen: list[Seen] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(
                    self.command, parts.path, parse_qs(parts.query), dict(self.headers), self.rfile.read(length)
                )
                stand_in.seen.append(seen)
                route = stand_in.routes.get((self.command, parts.path))
                status, headers, body = route(seen) if route else (404, {}, {"code": "not_found"})
                raw = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                content_type = "text/plain" if isinstance(body, str) else "application/json"
                for name, value in {"Content-Type": content_type, **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            do_GET = do_POST = do_PATCH = _answer

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.host = f"127.0.0.1:{self.server.server_address[1]}"

    def requests(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]


@contextmanager
def stand_in(routes: dict[tuple[str, str], Route]) -> Iterator[StandIn]:
    server = StandIn(routes)
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()
