"""The raw building blocks, served exactly as our functions are: data access and JSON, nothing else.

`pk` reads one release by primary key with SQLAlchemy Core, `redis` reads and decodes one cached
JSON value, `page` reads a page of 50 releases (keyset, optionally after a position). Each returns
the JSON it read. The pool is sized as ours is (THREADS), without our layers.
"""

import functools
import json
import os
import uuid

import functions_framework
import redis
import sqlalchemy as sa
from flask import Response
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = sa.MetaData()
releases = sa.Table(
    "releases",
    metadata,
    sa.Column("id", UUID(as_uuid=True), primary_key=True),
    sa.Column("application", sa.Text),
    sa.Column("version", sa.Text),
    sa.Column("title", sa.Text),
    sa.Column("notes", sa.Text),
    sa.Column("source", JSONB),
    sa.Column("artifacts", JSONB),
    sa.Column("status", sa.Text),
    sa.Column("cancel_reason", sa.Text),
    sa.Column("created_by", UUID(as_uuid=True)),
    sa.Column("created_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
)


@functools.cache
def engine() -> sa.Engine:
    url = os.environ["DATABASE_URL"].replace("postgresql://", "postgresql+pg8000://", 1)
    return sa.create_engine(url, pool_size=int(os.environ.get("THREADS", "4")), max_overflow=2)


@functools.cache
def client() -> redis.Redis:
    return redis.Redis.from_url(os.environ["REDIS_URL"])


def _json(value: object) -> Response:
    return Response(json.dumps(value, default=str), mimetype="application/json")


@functions_framework.http
def pk(request):
    release_id = uuid.UUID(request.path.rsplit("/", 1)[-1])
    with engine().connect() as conn:
        row = conn.execute(sa.select(releases).where(releases.c.id == release_id)).first()
    return _json(row._asdict()) if row is not None else ("not found", 404)


@functions_framework.http
def cached(request):
    key = f"{os.environ['CACHE_PREFIX']}:release:{request.path.rsplit('/', 1)[-1]}:v"
    raw = client().get(key)
    return _json(json.loads(raw)["v"]) if raw is not None else ("not found", 404)


@functions_framework.http
def page(request):
    query = sa.select(releases).order_by(releases.c.created_at.desc(), releases.c.id.desc()).limit(50)
    if "after" in request.args:
        position = (sa.cast(request.args["after"], sa.DateTime(timezone=True)), uuid.UUID(request.args["id"]))
        query = query.where(sa.tuple_(releases.c.created_at, releases.c.id) < sa.tuple_(*position))
    with engine().connect() as conn:
        rows = conn.execute(query).all()
    return _json([row._asdict() for row in rows])
