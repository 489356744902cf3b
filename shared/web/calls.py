"""What a view gets (`Call`) and may answer (`Reply`), and the helpers views use to answer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flask import Request

from shared.pagination import link_header

if TYPE_CHECKING:
    from shared.auth.principal import Principal
    from shared.platform.work import UnitOfWork


@dataclass
class Call:
    """What every view gets: the request, its id, the caller and the unit of work.

    The validated body and query are the view's own typed parameters (`body`, `query`).
    """

    request: Request
    request_id: str
    caller: Principal | None = None
    unit_of_work: UnitOfWork | None = None
    # The function's mount point (`/releases`), for `location`.
    mount: str = ""

    @property
    def principal(self) -> Principal:
        """The authenticated caller (routes with a role)."""
        if self.caller is None:
            raise RuntimeError("this route has no role, so no caller is authenticated")
        return self.caller

    def location(self, local_path: str) -> str:
        """The path a client GETs for `local_path` of this function, however the request reached it:
        mounted by `make dev` (`/releases` is the script root), behind the load balancer (the path
        keeps `/releases`), or at a URL that is the function's own root."""
        path = self.request.path
        kept = bool(self.mount) and (path == self.mount or path.startswith(self.mount + "/"))
        return self.request.script_root + (self.mount if kept else "") + local_path

    @property
    def work(self) -> UnitOfWork:
        """The request's unit of work (routes that use the database)."""
        if self.unit_of_work is None:
            raise RuntimeError("this route was declared with db=False")
        return self.unit_of_work


@dataclass
class Reply:
    """A view's answer when it needs more than a JSON body with the route's status."""

    body: Any = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None


def listing(call: Call, items: list[Any], next_cursor: str | None) -> Reply:
    """A list page: `{items, next_cursor}` and a `Link: rel="next"` header."""
    headers = link_header(call.request.base_url, call.request.args.to_dict(), next_cursor)
    return Reply(body={"items": items, "next_cursor": next_cursor}, headers=headers)


def if_match(request: Request) -> Callable[[str], bool] | None:
    """A test for the current ETag when the request sent If-Match, else None."""
    header = request.if_match
    return header.contains if header else None
