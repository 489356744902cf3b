"""Operator commands: `python -m shared.manage migrate | create-user --email E --role R`.

The password comes from the PASSWORD environment variable or a prompt, never from an argument.
With no DATABASE_URL these use the same embedded database as `make dev`.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path

from shared.auth import roles

ROOT = Path(__file__).resolve().parent.parent


def alembic_config() -> object:
    from alembic.config import Config

    config = Config(str(ROOT / "alembic.ini"))
    config.attributes["configure_logging"] = False
    return config


def migrate(revision: str = "head") -> None:
    """Upgrade the configured database to `revision`."""
    from alembic import command

    command.upgrade(alembic_config(), revision)  # type: ignore[arg-type]


def create_user(email: str, role: str, password: str, display_name: str | None = None) -> str:
    """Create a user (any role) directly in the database; returns the new id."""
    from shared.auth import service
    from shared.platform.work import unit_of_work

    with unit_of_work() as work:
        user = service.create_account(
            work,
            service.NewAccount(
                email=email,
                password=password,
                display_name=display_name or email.split("@")[0],
                role=role,
                created_by="system:manage",
            ),
        )
    return str(user["id"])


def _read_password() -> str:
    password = os.environ.get("PASSWORD")
    if password:
        return password
    if not sys.stdin.isatty():
        raise SystemExit("set PASSWORD, or run in a terminal to be prompted")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise SystemExit("the passwords differ")
    return first


def main(argv: list[str] | None = None) -> int:
    from shared.errors import DomainError
    from shared.platform.logs import configure_logging
    from shared.platform.settings import ConfigError

    configure_logging("WARNING")
    parser = argparse.ArgumentParser(prog="python -m shared.manage")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="upgrade the database to the newest revision")
    create = commands.add_parser("create-user", help="create a user with any role (bootstrap the first admin)")
    create.add_argument("--email", required=True)
    create.add_argument("--role", default="admin", choices=roles.ORDER)
    create.add_argument("--display-name")
    args = parser.parse_args(argv)
    try:
        if args.command == "migrate":
            migrate()
            print("database at the newest revision")
        else:
            migrate()
            user_id = create_user(args.email, args.role, _read_password(), args.display_name)
            print(f"created {args.role} {args.email.lower()} ({user_id})")
    except (ConfigError, DomainError) as error:
        details = "; ".join(f"{e.field}: {e.message}" for e in getattr(error, "errors", []))
        print(f"error: {error}" + (f" ({details})" if details else ""), file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
