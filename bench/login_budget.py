"""Login hashing: the Argon2id parameters against OWASP's minimum and the auth function's memory."""

from __future__ import annotations

from typing import Any

from bench.servers import terraform_sizing


def login_budget() -> dict[str, Any]:
    """Whether the hash parameters meet OWASP and `concurrency` hashes at once fit in half the memory."""
    from shared.auth import passwords

    sizing = terraform_sizing()["auth"]
    memory_mib = (
        int(sizing["memory"].removesuffix("Mi"))
        if sizing["memory"].endswith("Mi")
        else int(sizing["memory"].removesuffix("Gi")) * 1024
    )
    peak = passwords.ARGON2_MEMORY_KIB / 1024 * int(sizing["concurrency"])
    owasp = (
        passwords.ARGON2_MEMORY_KIB >= 19 * 1024
        and passwords.ARGON2_TIME_COST >= 2
        and passwords.ARGON2_PARALLELISM >= 1
    )
    return {
        "memory_kib": passwords.ARGON2_MEMORY_KIB,
        "time_cost": passwords.ARGON2_TIME_COST,
        "parallelism": passwords.ARGON2_PARALLELISM,
        "owasp": "met" if owasp else "MISSED",
        "concurrency": int(sizing["concurrency"]),
        "peak_hash_mib": peak,
        "function_memory": sizing["memory"],
        "fits": "met" if peak <= memory_mib / 2 else "MISSED",
    }
