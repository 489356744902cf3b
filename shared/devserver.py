"""`make dev`: the four functions on one origin (the console at /console/, where / redirects),
each loaded as functions-framework loads it.
`python -m shared.devserver documents DIR` writes the three OpenAPI documents instead (`make lint-api`).

With no DATABASE_URL the embedded PostgreSQL under `.data/` is used; with no REDIS_URL an
in-process Redis stand-in (fakeredis speaking RESP over TCP) is served, so the cache code path is
the one that talks to Memorystore.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from flask import Request
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.serving import run_simple
from werkzeug.utils import redirect

from shared.platform.logs import configure_logging
from shared.platform.settings import ConfigError, get_settings

ROOT = Path(__file__).resolve().parent.parent
FUNCTIONS = ("auth", "releases", "health")  # the API's, each with its OpenAPI document
CONSOLE = "console"  # the people's pages, at /console/ (and / redirects there)
log = logging.getLogger("shared.devserver")


def function_source(name: str) -> Path:
    return ROOT / "functions" / name / "main.py"


def build_app() -> Any:
    """One WSGI app mounting each function at `/<name>`; anything else is a problem+json 404."""
    import functions_framework

    from shared.web import Api

    fallback = Api("", title="not found")
    mounts = {
        f"/{name}": _root_as_slash(functions_framework.create_app(name, str(function_source(name))))
        for name in (*FUNCTIONS, CONSOLE)
    }

    def not_found(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO", "/") in ("", "/"):
            return redirect(f"/{CONSOLE}/")(environ, start_response)
        return fallback(Request(environ))(environ, start_response)

    return DispatcherMiddleware(not_found, mounts)


def _root_as_slash(app: Any) -> Any:
    """`/health` reaches the function as `/`, as Cloud Functions delivers it (not as a redirect)."""

    def mounted(environ: dict[str, Any], start_response: Any) -> Any:
        environ["PATH_INFO"] = environ.get("PATH_INFO") or "/"
        return app(environ, start_response)

    return mounted


def prepare_local_services() -> None:
    """Fill in embedded stand-ins for whatever is not configured, then check every setting."""
    from shared import local

    if not os.environ.get("DATABASE_URL") and not os.environ.get("CLOUD_SQL_INSTANCE"):
        os.environ["DATABASE_URL"] = local.embedded_database_url()
        log.info("using the embedded PostgreSQL under %s", local.data_dir())
    if not os.environ.get("REDIS_URL"):
        os.environ["REDIS_URL"] = local.start_fake_redis()
        log.info("using an in-process Redis stand-in at %s", os.environ["REDIS_URL"])
    get_settings.cache_clear()
    get_settings()


def stop_on_termination() -> None:
    """SIGTERM (an IDE's stop button, a process manager, `kill`, make passing on its own) and SIGHUP
    stop the server as Ctrl-C does: the serve loop ends and the embedded PostgreSQL is stopped on the
    way out. Python's default for SIGTERM would end the process without that."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupt)


def write_documents(directory: Path) -> list[Path]:
    """Each function's OpenAPI document as it serves it, to `<directory>/<name>.json` (for linters)."""
    from werkzeug.test import Client

    client = Client(build_app())
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in FUNCTIONS:
        response = client.get(f"/{name}/openapi.json")
        if response.status_code != 200:
            raise RuntimeError(f"/{name}/openapi.json answered {response.status_code}")
        written.append(directory / f"{name}.json")
        written[-1].write_bytes(response.get_data())
    return written


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["documents"] and len(arguments) == 2:
        configure_logging("WARNING")
        for path in write_documents(Path(arguments[1])):
            print(path)
        return 0
    if arguments:
        print("usage: python -m shared.devserver [documents DIRECTORY]", file=sys.stderr)
        return 2
    stop_on_termination()
    configure_logging(os.environ.get("LOG_LEVEL", "INFO").upper())
    try:
        serve()
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass  # Ctrl-C, SIGTERM or SIGHUP, while starting or serving
    log.info("stopped")  # at exit the embedded PostgreSQL stops, unless another process still uses it
    return 0


def serve() -> None:
    prepare_local_services()
    from shared.manage import migrate

    migrate()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # our access log says it once, as JSON
    host, port = os.environ.get("HOST", "127.0.0.1"), int(os.environ.get("PORT", "8080"))
    log.info("serving /auth, /releases and /health on http://%s:%d", host, port)
    run_simple(host, port, build_app(), threaded=True, use_reloader=False)  # returns on KeyboardInterrupt


if __name__ == "__main__":
    sys.exit(main())
