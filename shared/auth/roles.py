"""Roles, each including the ones before it."""

from typing import Literal, get_args

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
