"""Roles, each including the ones before it."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, get_args

from shared.errors import Forbidden

Role = Literal["viewer", "developer", "release_manager", "admin"]
ORDER: tuple[Role, ...] = get_args(Role)


def rank(role: str) -> int:
    """Position of `role` in the hierarchy (higher may do more)."""
    return ORDER.index(role)


def at_least(role: str, required: str) -> bool:
    """True when `role` includes everything `required` may do."""
    return rank(role) >= rank(required)


def lower_of(a: str, b: str) -> str:
    """The less powerful of two roles."""
    return a if rank(a) <= rank(b) else b


# -- scoped roles ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """A role on a scope: one application (None: all) and some environments (None: all).

    A user's org-wide role is a Grant with both scopes None; bindings (direct, through a team, or of
    a service account) are the others.
    """

    role: str
    application: str | None = None
    environments: tuple[str, ...] | None = None

    def covers(self, application: str | None, environment: str | None) -> bool:
        """Does this grant reach an action on `application` in `environment`?

        An action that names no application (or no environment) is covered only by a grant that is
        not limited in that dimension: a binding on one application gives nothing org-wide.
        """
        if self.application is not None and self.application != application:
            return False
        return self.environments is None or (environment is not None and environment in self.environments)


def role_on(grants: Iterable[Grant], *, application: str | None = None, environment: str | None = None) -> str | None:
    """The highest role any grant gives for an action on `application` in `environment` (None: no role)."""
    best: str | None = None
    for grant in grants:
        if grant.covers(application, environment) and (best is None or rank(grant.role) > rank(best)):
            best = grant.role
    return best


def highest(grants: Iterable[Grant]) -> str | None:
    """The highest role of any grant, whatever its scope: what a route's coarse check may admit."""
    return max((g.role for g in grants), key=rank, default=None)


def require(
    grants: Iterable[Grant],
    role: str,
    *,
    application: str | None = None,
    environment: str | None = None,
    code: str = "insufficient_role",
) -> None:
    """403 unless some grant gives at least `role` on `application` in `environment` (None: org-wide,
    every environment): the one check every scoped write makes."""
    held = role_on(grants, application=application, environment=environment)
    if held is not None and at_least(held, role):
        return
    scope = " in ".join(
        part
        for part in (application and f"application {application}", environment and f"environment {environment}")
        if part
    )
    where = f" on {scope}" if scope else " organisation-wide"
    raise Forbidden(f"This needs the {role} role{where}; you have {held or 'none'} there.", code=code)


def require_admin_or_named(
    grants: Iterable[Grant], *, service_account: str | None, named: str | None, code: str = "insufficient_role"
) -> None:
    """An organisation-wide admin, or the one service account `named` for the job (say, the
    scheduler that dispatches events), which needs no role for it."""
    if named is not None and service_account == named:
        return
    require(grants, "admin", code=code)


def grants_from(org_role: str, bindings: Iterable[Sequence[Any]] = (), *, cap: str | None = None) -> tuple[Grant, ...]:
    """The one way role bindings become grants: the org-wide role (a grant with no scope) and each
    binding, direct or through a team (`[role, application, environments]`, as the guard caches
    them), none above `cap` (an API token's role)."""
    found = [Grant(org_role)]
    for role, application, environments in bindings:
        found.append(Grant(role, application, tuple(environments) if environments is not None else None))
    if cap is None:
        return tuple(found)
    return tuple(Grant(lower_of(g.role, cap), g.application, g.environments) for g in found)


def cached_scope(binding: Any) -> list[Any]:
    """A binding row's scope as the guard caches it: `[role, application, environments]`."""
    environments = list(binding.environments) if binding.environments is not None else None
    return [binding.role, binding.application, environments]


# -- service accounts (pure: the guard reads them on every request) ---------------------------------

# The kind of credential a service account calls with, its baseline role everywhere, and the
# domain of the "email" `/auth/me` shows for it (NAME@service-accounts).
SERVICE_ACCOUNT = "service_account"
SERVICE_ACCOUNT_BASELINE = "viewer"
SERVICE_ACCOUNT_DOMAIN = "service-accounts"


def service_account_grants(state: Mapping[str, Any]) -> tuple[Grant, ...]:
    """A service account's grants: the organisation-wide viewer baseline and each of its bindings."""
    return grants_from(SERVICE_ACCOUNT_BASELINE, state.get("bindings", ()))


def service_account_role(grants: Iterable[Grant]) -> str:
    """A service account's organisation-wide role: the highest of its grants that cover everything."""
    return role_on(grants) or SERVICE_ACCOUNT_BASELINE
