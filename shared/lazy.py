"""Modules imported on first use, not at import: what a cold start should not pay for.

`service = lazy.module("shared.catalog")` binds a name whose module is imported the first time one
of its attributes is read. A views module binds its services so: its routes are declared at
import (paths, roles, the request models), and a service's code, with the data layer beneath it,
is loaded by the first request that calls it. A request answered from the cache never loads it.
Python 3.15 says this in the language (PEP 810, `lazy import`).

Write it with the real import for the type checker, so a view's calls are checked as before:

    if TYPE_CHECKING:
        from shared import catalog as service
    else:
        service = lazy.module("shared.catalog")
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class _Deferred:
    """Stands for a module until one of its attributes is read; then imports it (once: the import
    system's own lock serialises two threads' first use) and reads from it."""

    __slots__ = ("_module", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attribute: str) -> Any:
        module = self._module
        if module is None:
            module = self._module = importlib.import_module(self._name)
        return getattr(module, attribute)

    def __repr__(self) -> str:
        return f"<module {self._name!r}, {'loaded' if self._module is not None else 'imported on first use'}>"


def module(name: str) -> Any:
    """`name`, imported when one of its attributes is first read."""
    return _Deferred(name)
