"""A small HTTP/1.1 load generator over keep-alive connections on loopback (asyncio, no deps).

Each connection sends one request, reads the whole response, and sends the next, until the time
or the request budget runs out. Requests come from a factory called with a running number, so a
run can vary the path or body per request (distinct ids, unique versions).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.stats import percentile

RequestFactory = Callable[[int], bytes]
HOST = "127.0.0.1"  # never anything but loopback


def http_request(method: str, path: str, *, headers: dict[str, str] | None = None, body: bytes = b"") -> bytes:
    """The bytes of one HTTP/1.1 request to the local server."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", "User-Agent: rm-bench"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


@dataclass
class LoadResult:
    requests: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    errors: int = 0

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, float | int | dict[int, int]]:
        return {
            "requests": self.requests,
            "seconds": round(self.seconds, 3),
            "rps": round(self.rps, 1),
            "p50_ms": round(percentile(self.latencies, 50) * 1000, 3),
            "p99_ms": round(percentile(self.latencies, 99) * 1000, 3),
            "statuses": self.statuses,
            "errors": self.errors,
        }


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    length, close = 0, False
    for line in header_lines:
        name, _, value = line.partition(":")
        name = name.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "connection" and value.strip().lower() == "close":
            close = True
        elif name == "transfer-encoding":
            raise RuntimeError("chunked responses are not supported by the bench client")
    if length:
        await reader.readexactly(length)
    return status, close


async def _connection(
    port: int,
    make: RequestFactory,
    counter: list[int],
    budget: int,
    deadline: float,
    result: LoadResult,
    expect: tuple[int, ...],
) -> None:
    reader = writer = None
    try:
        while time.perf_counter() < deadline and counter[0] < budget:
            if writer is None:
                reader, writer = await asyncio.open_connection(HOST, port)
            number = counter[0]
            counter[0] += 1
            request = make(number)
            started = time.perf_counter()
            writer.write(request)
            try:
                status, close = await asyncio.wait_for(_read_response(reader), timeout=30)
            except (TimeoutError, OSError, asyncio.IncompleteReadError):
                result.errors += 1
                writer.close()
                reader = writer = None
                continue
            result.latencies.append(time.perf_counter() - started)
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if status not in expect:
                result.errors += 1
            if close:
                writer.close()
                reader = writer = None
    finally:
        if writer is not None:
            writer.close()


def run_load(
    port: int,
    make: RequestFactory,
    *,
    seconds: float,
    connections: int,
    max_requests: int = 1_000_000,
    expect: tuple[int, ...] = (200,),
    start_at: int = 0,
) -> LoadResult:
    """Load `port` for at most `seconds` and at most `max_requests` requests; the latencies of each."""
    result = LoadResult()

    async def main() -> None:
        counter = [start_at]
        started = time.perf_counter()
        deadline = started + seconds
        tasks = [
            _connection(port, make, counter, start_at + max_requests, deadline, result, expect)
            for _ in range(connections)
        ]
        await asyncio.gather(*tasks)
        result.seconds = time.perf_counter() - started

    asyncio.run(main())
    result.requests = len(result.latencies)
    return result
