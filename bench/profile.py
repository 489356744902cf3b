"""Profile one request path in-process with pyinstrument: `python -m bench.profile hit|miss|list|health|login`.

Uses its own throwaway database and cache prefix like `bench.run`, loads the function through
functions-framework's `create_app`, and prints where the time of `--requests` requests goes.
"""

from __future__ import annotations

import argparse
import json
import sys

from bench.data import PASSWORD, BenchDatabase
from bench.servers import ROOT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("path", choices=["hit", "miss", "list", "health", "login"])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args(argv)
    db = BenchDatabase()
    try:
        db.create()
        import functions_framework
        import sqlalchemy as sa
        from pyinstrument import Profiler

        from shared.auth import tokens
        from shared.platform.clock import utcnow
        from shared.platform.db import transaction
        from shared.platform.settings import get_settings

        user = db.make_user("developer")
        db.fill(1000, user_id=str(user["id"]))
        token, _ = tokens.issue_access_token(
            get_settings(), user_id=user["id"], role=user["role"], auth_version=0, now=utcnow()
        )
        with transaction() as conn:
            ids = [str(r[0]) for r in conn.execute(sa.text("SELECT id FROM releases LIMIT 1000"))]
        name = {"health": "health", "login": "auth"}.get(args.path, "releases")
        client = functions_framework.create_app(name, str(ROOT / "functions" / name / "main.py")).test_client()
        auth = {"Authorization": f"Bearer {token}"}
        login = json.dumps({"email": user["email"], "password": PASSWORD})

        def one(n: int) -> None:
            if args.path == "hit":
                response = client.get(f"/releases/{ids[0]}", headers=auth)
            elif args.path == "miss":
                response = client.get(f"/releases/{ids[n % len(ids)]}", headers=auth)
            elif args.path == "list":
                response = client.get("/releases?limit=50", headers=auth)
            elif args.path == "health":
                response = client.get("/health")
            else:
                response = client.post("/auth/login", data=login, content_type="application/json")
            assert response.status_code == 200, response.get_data(as_text=True)

        for n in range(5):
            one(n)
        profiler = Profiler(interval=0.0005)
        with profiler:
            for n in range(5, 5 + min(args.requests, 900)):
                one(n)
        print(profiler.output_text(unicode=False, color=False, show_all=False, short_mode=False))
    finally:
        db.drop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
