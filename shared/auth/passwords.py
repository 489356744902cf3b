"""Password hashing through passlib's CryptContext (the maintained `libpass` fork).

Argon2id at OWASP's minimum (19 MiB, 2 passes, 1 lane): about 19 MiB per login in flight, so a
256 MiB function serving 8 concurrent requests stays well inside its memory. bcrypt hashes from
older systems still verify and are replaced by Argon2id at the next successful login.
"""

from __future__ import annotations

import functools

from passlib.context import CryptContext

ARGON2_MEMORY_KIB = 19 * 1024
ARGON2_TIME_COST = 2
ARGON2_PARALLELISM = 1


@functools.cache
def context() -> CryptContext:
    return CryptContext(
        schemes=["argon2", "bcrypt"],
        deprecated=["bcrypt"],
        argon2__type="ID",
        argon2__memory_cost=ARGON2_MEMORY_KIB,
        argon2__rounds=ARGON2_TIME_COST,
        argon2__parallelism=ARGON2_PARALLELISM,
    )


def hash_password(password: str) -> str:
    """A new Argon2id hash."""
    return str(context().hash(password))


@functools.cache
def _dummy_hash() -> str:
    return hash_password("not-a-real-password: timing equaliser")


def verify(password: str, stored_hash: str | None) -> tuple[bool, str | None]:
    """Check `password`; returns (ok, replacement hash when the stored one is outdated).

    With no stored hash (unknown account) a dummy hash is verified instead, so the answer takes
    as long as a real one.
    """
    if stored_hash is None:
        context().verify(password, _dummy_hash())
        return False, None
    ok, new_hash = context().verify_and_update(password, stored_hash)
    return bool(ok), new_hash
