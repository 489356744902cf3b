"""Smoke test through the load balancer: `/health` and one authenticated read must answer 200.

`python .ci/smoke.py --outputs terraform/tf-outputs.json` (or `--url https://HOST`), with the API
token in SMOKE_TOKEN. A new revision or certificate can take a few minutes to serve, so each check
is retried until `--wait` seconds have passed; anything but 200 after that fails the build.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import urllib.error
import urllib.request


def status_of(url: str, token: str | None = None, timeout: float = 10.0) -> int:
    """The HTTP status of GET `url` (0 when nothing answered)."""
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - the URL is ours
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (urllib.error.URLError, OSError):
        return 0


def check(name: str, url: str, token: str | None, wait_s: float, pause_s: float) -> bool:
    """Retry until 200 or the deadline; say how it went."""
    deadline = time.monotonic() + wait_s
    while True:
        status = status_of(url, token)
        if status == 200:
            print(f"ok    {name}: GET {url} -> 200")
            return True
        if time.monotonic() >= deadline:
            print(f"FAIL  {name}: GET {url} -> {status or 'no answer'}", file=sys.stderr)
            return False
        time.sleep(pause_s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python .ci/smoke.py", description=__doc__.split("\n")[0])
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="base URL of the load balancer, e.g. https://releases.example.com")
    where.add_argument("--outputs", help="`terraform output -json` file; its `url` output is used")
    parser.add_argument("--read-path", default="/auth/me", help="authenticated read (default /auth/me)")
    parser.add_argument("--wait", type=float, default=300, help="seconds to keep retrying each check")
    parser.add_argument("--pause", type=float, default=10, help="seconds between attempts")
    args = parser.parse_args(argv)
    token = os.environ.get("SMOKE_TOKEN")
    if not token:
        print("FAIL  SMOKE_TOKEN is not set (the pipeline reads it from Secret Manager)", file=sys.stderr)
        return 2
    base = args.url or json.load(open(args.outputs))["url"]["value"]  # noqa: SIM115 - read once
    base = base.rstrip("/")
    checks = [("health", f"{base}/health", None), ("authenticated read", f"{base}{args.read_path}", token)]
    results = [check(name, url, tok, args.wait, args.pause) for name, url, tok in checks]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
